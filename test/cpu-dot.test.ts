/**
 * int8 dot products on the cpu target: THE blocked conv2d on (1, 4, lanes) blocks, its register
 * tiles tensorized with GEMM_TILE, becomes vpdpbusd (avx512vnni, 16 lanes; avxvnni, 8 lanes) where
 * the target has it, bit-exact against the plain reference (signed data through the +128 offset and
 * its per-channel correction; grouped, depthwise, batch 2, channel counts that are not whole blocks),
 * and plain loops on a target without it (`cpu -mattr=+avx2` never emits VNNI).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execaSync } from 'execa';
import { loadConfig } from '../src/config/load.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { buildCpuOp, runCpuOp } from '../compiler/cpu/op.ts';
import { cCompiler } from '../compiler/cpu/build.ts';
import { dotIsaOf, emitC } from '../compiler/cpu/codegen.ts';
import { lower } from '../compiler/te/lower.ts';
import { detectHost } from '../compiler/target/host.ts';
import { parseTarget, type CpuTargetSpec } from '../compiler/target/target.ts';

const d = loadConfig('default');
const hasCompiler = execaSync(cCompiler(), ['--version'], { reject: false }).exitCode === 0;
const host = detectHost();
const P = (o: Partial<OpParams>): OpParams => ({ batch: 1, groups: 1, bias: true, clip: [0, 127], ...o });
const conv = findOperator('conv2d');

function skip(name: string, feature?: string): boolean {
  if (!hasCompiler) {
    console.log(`SKIP ${name}: no C compiler (${cCompiler()}); apt-get install -y build-essential`);
    return true;
  }
  if (feature && !host.features.includes(feature)) {
    console.log(`SKIP ${name}: this ${host.arch} host has no ${feature}`);
    return true;
  }
  return false;
}

async function checkConv(t: CpuTargetSpec, shape: number[], params: OpParams, knobs: Record<string, number>) {
  const def = conv.define(shape, params, d);
  const op = await buildCpuOp(def, conv.strategies.cpu, t, knobs);
  for (const seed of [1, 5]) {
    const run = runCpuOp(op, { seed, check: true });
    assert.ok(run.match, `${shape.join(',')} seed ${seed}: ${run.mismatch}`);
  }
  return op;
}

// H, W, CI, CO, K, PAD, STRIDE: channel tails (CI 3, 6, 17; CO 10, 20, 24, 33), stride 2, 1x1, no
// padding, batch 2, no clip, grouped and depthwise, register tiles and task sizes.
const SHAPES: [number[], OpParams, Record<string, number>][] = [
  [[7, 5, 12, 20, 3, 1, 2], P({ batch: 2 }), { threads: 1 }],
  [[9, 19, 8, 16, 3, 1, 1], P({ clip: undefined, bias: false }), { threads: 2, col_block: 19 }],
  [[6, 37, 17, 33, 1, 0, 1], P({ shift: 2, clip: [-60, 50] }), { threads: 1, rows: 2 }],
  [[10, 10, 3, 12, 5, 2, 2], P({}), { threads: 2, order: 1 }],
  [[8, 7, 16, 64, 3, 1, 1], P({ batch: 3 }), { threads: 2, co_task: 2, co_block: 2, col_block: 7, rows: 4 }],
  [[8, 7, 16, 24, 3, 1, 1], P({ groups: 4 }), { threads: 1 }],
  [[11, 9, 24, 24, 3, 1, 1], P({ groups: 24, bias: false }), { threads: 2 }],
];

test('avx512vnni: conv2d defaults to dot products (vpdpbusd), bit-exact on odd shapes; dot=0 gives the same output', async () => {
  if (skip('avx512vnni dot products', 'avx512vnni')) return;
  const t = parseTarget('cpu', d) as CpuTargetSpec;
  for (const [shape, params, knobs] of SHAPES) {
    const op = await checkConv(t, shape, params, { ...knobs, dot: 1 });
    assert.is(op.knobs.dot, 1);
    assert.match(op.source.text, /_mm512_dpbusd_epi32/, shape.join(','));
    const plain = await checkConv(t, shape, params, { threads: knobs.threads, dot: 0 });
    assert.not.match(plain.source.text, /dpbusd/);
    assert.equal(runCpuOp(op, { seed: 9 }).output, runCpuOp(plain, { seed: 9 }).output);
  }
});

test('the default: dot products for ungrouped convolutions (any width: the lanes are output channels), the plain nest for grouped ones', () => {
  if (!host.features.includes('avx512vnni')) {
    console.log('SKIP dot default: this host has no avx512vnni');
    return;
  }
  const t = parseTarget('cpu', d) as CpuTargetSpec;
  const dflt = (w: number, groups = 1) => conv.strategies.cpu.defaultKnobs(conv.define([8, w, 16, 16, 3, 1, 1], P({ groups }), d), t);
  assert.is(dflt(16).dot, 1);
  assert.is(dflt(3).dot, 1);
  assert.is(dflt(16, 4).dot, 0);
  // The register tile fits the 32 zmm registers: columns x channel blocks accumulators.
  const k = conv.strategies.cpu.defaultKnobs(conv.define([56, 56, 64, 64, 3, 1, 1], P({}), d), t);
  assert.ok(k.col_block * k.co_block <= 28 && k.col_block * k.co_block >= 16, JSON.stringify(k));
});

test('avxvnni (256-bit): cpu -mattr=+avx2,+avxvnni emits _mm256_dpbusd_avx_epi32, bit-exact', async () => {
  if (skip('avxvnni dot products', 'avxvnni')) return;
  const t = parseTarget('cpu -mattr=+avx2,+avxvnni', d) as CpuTargetSpec;
  for (const [shape, params, knobs] of SHAPES.slice(0, 4)) {
    const op = await checkConv(t, shape, params, { threads: knobs.threads, dot: 1 });
    assert.match(op.source.text, /_mm256_dpbusd_avx_epi32/);
    assert.not.match(op.source.text, /_mm512/);
  }
});

test('cpu -mattr=+avx2: no dot knob, no VNNI in the C, bit-exact', async () => {
  if (skip('avx2 without VNNI', 'avx2')) return;
  const t = parseTarget('cpu -mattr=+avx2', d) as CpuTargetSpec;
  const def = conv.define(SHAPES[0][0], SHAPES[0][1], d);
  assert.not.ok('dot' in conv.strategies.cpu.knobSpace(def, t));
  for (const [shape, params, knobs] of SHAPES.slice(0, 3)) {
    const op = await checkConv(t, shape, params, { threads: knobs.threads });
    assert.not.match(op.source.text, /dpbusd|immintrin/);
    assert.not.ok(op.shared.flags.some((f) => /vnni|march=native/.test(f)), op.shared.flags.join(' '));
  }
});

test('weights are bound once: the kernel takes them packed [CO/16][CI/4][K][K][16][4] with the offset correction', async () => {
  if (skip('bound weights', 'avx512vnni')) return;
  const t = parseTarget('cpu', d) as CpuTargetSpec;
  const op = await checkConv(t, [6, 6, 8, 32, 3, 1, 1], P({}), { dot: 1 });
  assert.equal(op.def.inputs.map((x) => `${x.name}:${x.shape.join('x')}:${x.dtype}`), ['data:1x8x6x6:int8', 'weight:2x2x3x3x16x4:int8', 'offset_correction:32:int32', 'bias:32:int32']);
  assert.match(op.source.text, /b_data_pack/);
});

test('no dot knob where it cannot apply: a target without a dot-product instruction, a 16-bit accumulator', () => {
  const t = parseTarget('cpu -mattr=+avx2', d) as CpuTargetSpec;
  assert.not.ok('dot' in conv.strategies.cpu.knobSpace(conv.define([8, 8, 16, 16, 3, 1, 1], P({}), d), t));
  const wide = loadConfig('hx8k-1x2'); // 16-bit accumulators: vpdpbusd's int32 sums would not wrap like them
  const tn = parseTarget('cpu', d) as CpuTargetSpec;
  assert.not.ok('dot' in conv.strategies.cpu.knobSpace(conv.define([8, 8, 16, 16, 3, 1, 1], P({}), wide), tn));
});


test('the tuner\'s conv2d candidates: one knob layout, each branch varies only what its schedule reads, no two generate the same C', () => {
  // Code generation only (no compiler, no VNNI host needed): the candidates of a VNNI target.
  const t: CpuTargetSpec = { kind: 'cpu', arch: 'x86_64', features: ['avx2', 'avx512f', 'avx512bw', 'avx512vnni'], explicit: true };
  const strategy = conv.strategies.cpu;
  const def = conv.define([14, 14, 64, 64, 3, 1, 1], P({}), d);
  const cands = strategy.candidates!(def, t);
  const product = Object.values(strategy.knobSpace(def, t)).reduce((a, c) => a * c.length, 1);
  assert.ok(cands.length > 20 && cands.length < product / 10, `${cands.length} candidates of a product of ${product}`);
  const names = JSON.stringify(Object.keys(cands[0]).sort());
  assert.ok(cands.every((k) => JSON.stringify(Object.keys(k).sort()) === names));
  assert.ok(cands.some((k) => k.dot === 0) && cands.some((k) => k.dot === 1));
  // A deterministic sample across the list: distinct settings must lower to distinct C sources.
  const sample = cands.filter((_, i) => i % Math.max(1, Math.floor(cands.length / 40)) === 0);
  const sources = new Set<string>();
  for (const k of sample) {
    const blocks = strategy.blocks?.(def, t, k);
    const dk = blocks && def.withBlocks ? def.withBlocks(blocks.block, blocks.dataOffset) : def;
    sources.add(emitC(lower(strategy.schedule(dk, k), dk.op), k.threads, { dot: dotIsaOf(t.features) }).text);
  }
  assert.is(sources.size, sample.length);
});
test.run();
