/**
 * The wasm target: every operator, compiled from its natural-layout definition through the loop IR
 * to WebAssembly (wabt, SIMD) and run in Node's engine, bit-exact against the plain references on
 * two seeds — odd shapes, grouped and depthwise convolutions, stride 2, padding 0/1/2, with and
 * without bias / shift / clip, batch > 1, 16-bit accumulators — with both the SIMD and the scalar
 * paths exercised, and one-line refusals of what the printer cannot handle. int8 conv2d runs on the
 * blocked definition with register-blocked i32x4.dot_i16x8_s (compiler/wasm/strategies.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { loadConfig } from '../src/config/load.ts';
import { deriveConfig } from '../src/config/derive.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { runCpuOp } from '../compiler/cpu/op.ts';
import { buildWasmOp } from '../compiler/wasm/op.ts';
import { parseTarget, type WasmTargetSpec } from '../compiler/target/target.ts';
import { hostCpuPath, type ToolStatus } from '../src/prereq.ts';

const d = loadConfig('default');
const target = parseTarget('wasm', d) as WasmTargetSpec;

const P = (o: Partial<OpParams>): OpParams => ({ batch: 1, groups: 1, bias: true, clip: [0, 127], ...o });

// The last field: how many loops must run in SIMD (element-wise map loops, dot-product reductions,
// register-blocked WASM_DOT_I16X8 nests). Each seed binds new weight arrays: the resident copy is replaced.
const CASES: [string, number[], OpParams, Record<string, number> | undefined, { map: number; dot: number; blocks: number }][] = [
  // conv2d (int8: the (1, 2, 4) blocked definition, one register-blocked WASM_DOT_I16X8 nest): H, W, CI, CO, K, PAD, STRIDE
  ['conv2d', [7, 5, 12, 20, 3, 1, 2], P({ batch: 2 }), undefined, { map: 0, dot: 0, blocks: 1 }], // rows of 3 outputs: scalar requantize
  ['conv2d', [9, 7, 3, 10, 5, 2, 1], P({ bias: false, clip: undefined }), undefined, { map: 1, dot: 0, blocks: 1 }], // 3 channels: a padded pair
  ['conv2d', [6, 6, 17, 33, 1, 0, 2], P({ shift: 0, clip: [-30, 40] }), undefined, { map: 0, dot: 0, blocks: 1 }],
  ['conv2d', [8, 7, 16, 24, 3, 1, 1], P({ groups: 4 }), { reg_co: 2, reg_w: 1 }, { map: 1, dot: 0, blocks: 1 }],
  ['conv2d', [11, 9, 24, 24, 3, 1, 1], P({ groups: 24, bias: false }), undefined, { map: 1, dot: 0, blocks: 1 }], // depthwise: 2 groups per block
  ['conv2d', [10, 10, 32, 16, 3, 0, 2], P({ groups: 2, clip: undefined, shift: 3 }), { reg_co: 2, reg_w: 2 }, { map: 1, dot: 0, blocks: 1 }], // stride 2
  ['conv2d', [12, 16, 40, 64, 3, 1, 1], P({}), { reg_co: 4, reg_w: 2, unroll_k: 2 }, { map: 1, dot: 0, blocks: 1 }],
  ['conv2d', [9, 6, 10, 8, 3, 1, 2], P({ batch: 2 }), { reg_co: 1, reg_w: 1, unroll_k: 0 }, { map: 0, dot: 0, blocks: 1 }],
  // several output rows per register block (reg_h), with a stride of 2 and the kernel unrolled
  ['conv2d', [12, 12, 20, 16, 3, 1, 2], P({ batch: 2 }), { reg_co: 2, reg_h: 2, reg_w: 2, unroll_k: 2 }, { map: 1, dot: 0, blocks: 1 }],
  ['conv2d', [14, 14, 16, 16, 3, 1, 1], P({ groups: 2 }), { reg_h: 2, reg_w: 2, unroll_k: 0 }, { map: 1, dot: 0, blocks: 1 }],
  // dense: M, K, N
  ['dense', [5, 37, 19], P({}), undefined, { map: 1, dot: 1, blocks: 0 }],
  ['dense', [1, 100, 7], P({ bias: false, clip: undefined }), undefined, { map: 1, dot: 1, blocks: 0 }],
  ['dense', [3, 5, 6], P({}), undefined, { map: 1, dot: 0, blocks: 0 }], // K < 8: scalar reduction
  // add: H, W, C
  ['add', [7, 5, 19], P({ batch: 2 }), undefined, { map: 1, dot: 0, blocks: 0 }],
  ['add', [3, 1, 5], P({ clip: undefined }), undefined, { map: 0, dot: 0, blocks: 0 }], // 3 elements per channel: scalar
  // maxpool: H, W, C, K, PAD, STRIDE
  ['maxpool', [7, 5, 19, 3, 1, 2], P({ batch: 2 }), undefined, { map: 0, dot: 0, blocks: 0 }],
  ['maxpool', [8, 8, 5, 2, 0, 2], P({}), undefined, { map: 3, dot: 0, blocks: 0 }], // no padding: no select, strided lanes
];

for (const [name, shape, params, knobs, simd] of CASES) {
  const label = `wasm ${name} ${shape.join(',')} groups=${params.groups} batch=${params.batch} bias=${params.bias} clip=${params.clip ?? 'none'}${knobs ? ` knobs=${JSON.stringify(knobs)}` : ''}`;
  test(label, async () => {
    const entry = findOperator(name);
    const op = await buildWasmOp(entry.define(shape, params, d), entry.strategies.cpu, target, knobs);
    if (knobs) for (const [k, v] of Object.entries(knobs)) assert.is(op.knobs[k], v, k);
    assert.equal(op.source.simdLoops, simd, 'SIMD loops');
    for (const seed of [1, 7]) {
      const run = runCpuOp(op, { seed, check: true });
      assert.ok(run.match, `seed ${seed}: ${run.mismatch}`);
    }
    assert.ok(new Set(runCpuOp(op, { seed: 3 }).output).size > 1, 'output is constant');
  });
}

test('16-bit accumulators (hx8k-1x2): int16 wrap-around in scalar and SIMD lanes, as the references', async () => {
  const d16 = loadConfig('hx8k-1x2');
  for (const [name, shape, params] of [
    ['conv2d', [7, 6, 20, 12, 3, 1, 1], P({ shift: 0, clip: undefined })],
    ['conv2d', [6, 6, 8, 8, 3, 2, 2], P({ groups: 8, shift: 1 })],
    ['dense', [3, 300, 9], P({ shift: 0, clip: undefined })],
    ['add', [4, 3, 7], P({ clip: undefined })],
  ] as [string, number[], OpParams][]) {
    const entry = findOperator(name);
    const def = entry.define(shape, params, d16);
    const op = await buildWasmOp(def, entry.strategies.cpu, target);
    for (const seed of [2, 9]) {
      const run = runCpuOp(op, { seed, check: true });
      assert.ok(run.match, `${name} ${shape} seed ${seed}: ${run.mismatch}`);
    }
  }
});

test('the wasm module: i32x4 lanes and i32x4.dot_i16x8_s where the schedule allows, scalar loops elsewhere', async () => {
  const dense = findOperator('dense');
  const op = await buildWasmOp(dense.define([2, 64, 16], P({}), d), dense.strategies.cpu, target);
  assert.match(op.source.text, /i32x4\.dot_i16x8_s \(v128\.load8x8_s/);
  const conv = findOperator('conv2d');
  // The default: the largest spill-free block (8 accumulators + 4 input pairs + 2 weight blocks).
  const c0 = await buildWasmOp(conv.define([8, 8, 16, 16, 3, 1, 1], P({}), d), conv.strategies.cpu, target);
  assert.equal(c0.knobs, { reg_co: 2, reg_w: 4, unroll_k: 0, reg_h: 1 });
  const c14 = await buildWasmOp(conv.define([14, 14, 16, 16, 3, 1, 1], P({}), d), conv.strategies.cpu, target);
  assert.equal(c14.knobs, { reg_co: 2, reg_w: 2, unroll_k: 0, reg_h: 2 }, 'rows of 14: two rows of two columns');
  const c = await buildWasmOp(conv.define([8, 8, 16, 16, 3, 1, 1], P({}), d), conv.strategies.cpu, target, { unroll_k: 1 });
  // conv2d: accumulators in v128 locals; the packed data and the bound weights are stored widened to
  // int16, so an input pair is one 32-bit splat and a weight block (4 x 2) one v128 load.
  // 2 channel vectors x 4 columns x 3 kernel columns (unrolled) per iteration of (ric, ry).
  assert.equal(c.knobs, { reg_co: 2, reg_w: 4, unroll_k: 1, reg_h: 1 });
  assert.is(c.source.text.match(/i32x4\.dot_i16x8_s \(local\.get/g)?.length, 24);
  assert.is(c.source.text.match(/v128\.load32_splat/g)?.length, 6, 'input pairs shared by adjacent kernel columns');
  assert.is(c.source.text.match(/\(local\.set \$t\d+ \(v128\.load offset=/g)?.length, 6 + 8, 'a weight block per channel vector and kernel column, the accumulators');
  assert.equal(c.source.widened, [false, true, false, false], 'the weights are widened as they are copied in');
  assert.not.match(c.source.text, /v128\.load8x8_s/);
  assert.match(c.source.text, /\(i32x4\.splat \(i32\.const 0\)\)\)/); // the reduction init: one v128 store per accumulator
  assert.match(c.source.text, /v128\.store32_lane/); // int8 output narrowed by a shuffle
  assert.match(c.source.text, /\(if \(result i32\)/); // the padding's select is a branch
  const add = findOperator('add');
  const a = await buildWasmOp(add.define([4, 4, 3], P({}), d), add.strategies.cpu, target);
  assert.is(a.knobs.threads, 1);
});

test('bad input: a dtype the printer cannot handle, a thread count, target options: one line each', async () => {
  const d4 = deriveConfig({ TARGET: 'sim', LOG_INP_WIDTH: 2, LOG_WGT_WIDTH: 2, LOG_ACC_BUFF_SIZE: 15 });
  const conv = findOperator('conv2d');
  const refused = async (f: () => Promise<unknown>): Promise<string> => {
    try {
      await f();
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  const int4 = await refused(() => buildWasmOp(conv.define([6, 6, 16, 16, 3, 1, 1], P({ clip: [0, 7] }), d4), conv.strategies.cpu, target));
  assert.match(int4, /^the wasm target cannot store int4 values \(it handles int8, uint8, int16 and int32\)/);
  assert.not.match(int4, /\n/);
  const def = conv.define([6, 6, 16, 16, 3, 1, 1], P({}), d);
  assert.match(await refused(() => buildWasmOp(def, conv.strategies.cpu, target, { threads: 2 })), /^the wasm target runs on one thread \(knob threads = 2\); use --target cpu for threads$/);
  assert.match(await refused(() => buildWasmOp(def, conv.strategies.cpu, target, { reg_co: 5 })), /^knob reg_co = 5 is not one of 1, 2, 4$/);
  assert.throws(() => parseTarget('wasm -mattr=+simd', d), /^target wasm takes no options/);
});

test('vtw op --target wasm --check --json as a child process', async () => {
  const r = await execa('npx', ['tsx', 'src/cli/main.ts', 'op', 'conv2d', '--shape', '9,7,8,12,3,1,1', '--target', 'wasm', '--check', '--json'], { reject: false });
  assert.is(r.exitCode, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.is(j.target, 'wasm');
  assert.is(j.match, true);
  assert.is(j.threads, 1);
  assert.ok((j.runs as number) >= 20);
  assert.ok((j.time_ms as number) > 0);
});

test('doctor\'s host CPU path: cpu with a C compiler, wasm without one', () => {
  const row = (id: string, ok: boolean): ToolStatus => ({
    id, name: id, found: ok, version: ok ? '1.0' : null, ok, problem: ok ? null : 'not found', enables: '', neededByTests: false, install: 'x', note: null,
  });
  assert.is(hostCpuPath([row('cc', true), row('wabt', true)]).target, 'cpu');
  const none = hostCpuPath([row('cc', false), row('wabt', true)]);
  assert.is(none.target, 'wasm');
  assert.match(none.why, /no C compiler/);
  assert.is(hostCpuPath([row('cc', false), row('wabt', false)]).target, null);
});

test.run();
