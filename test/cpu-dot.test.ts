/**
 * int8 dot products on the cpu target: conv2d's reduction tensorized with DOT_I8X4 becomes
 * vpdpbusd (avx512vnni, 16 lanes; avxvnni, 8 lanes) where the target has it, bit-exact against the
 * plain reference (signed data through the +128 offset and its correction), and plain loops on a
 * target without it (`cpu -mattr=+avx2` never emits VNNI).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execaSync } from 'execa';
import { loadConfig } from '../src/config/load.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { buildCpuOp, runCpuOp } from '../compiler/cpu/op.ts';
import { cCompiler } from '../compiler/cpu/build.ts';
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

// H, W, CI, CO, K, PAD, STRIDE: lane tails (W 5, 19, 37), stride 2, 1x1, no padding, batch 2, no clip.
const SHAPES: [number[], OpParams, Record<string, number>][] = [
  [[7, 5, 12, 20, 3, 1, 2], P({ batch: 2 }), { threads: 1 }],
  [[9, 19, 8, 16, 3, 1, 1], P({ clip: undefined, bias: false }), { threads: 2, tile_co: 4 }],
  [[6, 37, 16, 24, 1, 0, 1], P({ shift: 2, clip: [-60, 50] }), { threads: 1, tile_h: 2 }],
  [[10, 10, 4, 12, 5, 2, 2], P({}), { threads: 2 }],
];

test('avx512vnni: conv2d defaults to dot products (vpdpbusd), bit-exact on odd shapes; dot=0 gives the same output', async () => {
  if (skip('avx512vnni dot products', 'avx512vnni')) return;
  const t = parseTarget('cpu', d) as CpuTargetSpec;
  for (const [shape, params, knobs] of SHAPES) {
    const op = await checkConv(t, shape, params, { ...knobs, dot: 1 });
    assert.is(op.knobs.dot, 1);
    assert.match(op.source.text, /_mm512_dpbusd_epi32/);
    const plain = await checkConv(t, shape, params, { ...knobs, dot: 0 });
    assert.not.match(plain.source.text, /dpbusd/);
    assert.equal(runCpuOp(op, { seed: 9 }).output, runCpuOp(plain, { seed: 9 }).output);
  }
});

test('the default: dot products on rows at least one instruction wide, the plain nest on narrower ones', () => {
  if (!host.features.includes('avx512vnni')) {
    console.log('SKIP dot default: this host has no avx512vnni');
    return;
  }
  const t = parseTarget('cpu', d) as CpuTargetSpec;
  const dflt = (w: number) => conv.strategies.cpu.defaultKnobs(conv.define([8, w, 16, 16, 3, 1, 1], P({}), d), t).dot;
  assert.is(dflt(16), 1);
  assert.is(dflt(15), 0);
});

test('avxvnni (256-bit): cpu -mattr=+avx2,+avxvnni emits _mm256_dpbusd_avx_epi32, bit-exact', async () => {
  if (skip('avxvnni dot products', 'avxvnni')) return;
  const t = parseTarget('cpu -mattr=+avx2,+avxvnni', d) as CpuTargetSpec;
  for (const [shape, params, knobs] of SHAPES) {
    const op = await checkConv(t, shape, params, { ...knobs, dot: 1 });
    assert.match(op.source.text, /_mm256_dpbusd_avx_epi32/);
    assert.not.match(op.source.text, /_mm512/);
  }
});

test('cpu -mattr=+avx2: no dot knob, no VNNI in the C, bit-exact', async () => {
  if (skip('avx2 without VNNI', 'avx2')) return;
  const t = parseTarget('cpu -mattr=+avx2', d) as CpuTargetSpec;
  const def = conv.define(SHAPES[0][0], SHAPES[0][1], d);
  assert.not.ok('dot' in conv.strategies.cpu.knobSpace(def, t));
  for (const [shape, params, knobs] of SHAPES) {
    const op = await checkConv(t, shape, params, knobs);
    assert.not.match(op.source.text, /dpbusd|immintrin/);
    assert.not.ok(op.shared.flags.some((f) => /vnni|march=native/.test(f)), op.shared.flags.join(' '));
  }
});

test('no dot knob where it cannot apply: grouped convolution, input channels not a multiple of 4', () => {
  const t = parseTarget('cpu', d) as CpuTargetSpec;
  assert.not.ok('dot' in conv.strategies.cpu.knobSpace(conv.define([8, 8, 16, 16, 3, 1, 1], P({ groups: 4 }), d), t));
  assert.not.ok('dot' in conv.strategies.cpu.knobSpace(conv.define([8, 8, 6, 16, 3, 1, 1], P({}), d), t));
});

test.run();
