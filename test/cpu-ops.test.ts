/**
 * The cpu target: every operator, compiled from its natural-layout definition through the loop IR
 * to C, bit-exact against the plain references on seeded random data — odd shapes, grouped and
 * depthwise convolutions, stride 2, padding 0/1/2, with and without bias / shift / clip, batch > 1,
 * one and two threads.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execaSync } from 'execa';
import { loadConfig } from '../src/config/load.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { buildCpuOp, runCpuOp } from '../compiler/cpu/op.ts';
import { parseTarget, type CpuTargetSpec } from '../compiler/target/target.ts';
import { cCompiler } from '../compiler/cpu/build.ts';

const d = loadConfig('default');
const target = parseTarget('cpu', d) as CpuTargetSpec;
const hasCompiler = execaSync(cCompiler(), ['--version'], { reject: false }).exitCode === 0;

const P = (o: Partial<OpParams>): OpParams => ({ batch: 1, groups: 1, bias: true, clip: [0, 127], ...o });

const CASES: [string, number[], OpParams, Record<string, number>?][] = [
  // conv2d: H, W, CI, CO, K, PAD, STRIDE
  ['conv2d', [7, 5, 12, 20, 3, 1, 2], P({ batch: 2 })],
  ['conv2d', [9, 7, 3, 10, 5, 2, 1], P({ bias: false, clip: undefined })],
  ['conv2d', [6, 6, 17, 33, 1, 0, 2], P({ shift: 0, clip: [-30, 40] })],
  ['conv2d', [8, 7, 16, 24, 3, 1, 1], P({ groups: 4 }), { threads: 1, tile_co: 3 }],
  ['conv2d', [11, 9, 24, 24, 3, 1, 1], P({ groups: 24, bias: false })], // depthwise
  ['conv2d', [10, 10, 32, 16, 3, 0, 2], P({ groups: 2, clip: undefined, shift: 3 }), { threads: 2, tile_co: 8, tile_h: 2 }],
  // dense: M, K, N
  ['dense', [5, 37, 19], P({})],
  ['dense', [1, 100, 7], P({ bias: false, clip: undefined })],
  ['dense', [16, 64, 48], P({ shift: 5 }), { tile_n: 16, threads: 1 }],
  // add: H, W, C
  ['add', [7, 5, 19], P({ batch: 2 })],
  ['add', [3, 3, 5], P({ clip: undefined })],
  // maxpool: H, W, C, K, PAD, STRIDE
  ['maxpool', [7, 5, 19, 3, 1, 2], P({ batch: 2 })],
  ['maxpool', [8, 8, 5, 2, 0, 2], P({})],
  ['maxpool', [9, 6, 3, 3, 2, 1], P({}), { threads: 1 }],
];

for (const [name, shape, params, knobs] of CASES) {
  const label = `cpu ${name} ${shape.join(',')} groups=${params.groups} batch=${params.batch} bias=${params.bias} clip=${params.clip ?? 'none'}${knobs ? ` knobs=${JSON.stringify(knobs)}` : ''}`;
  test(label, async () => {
    if (!hasCompiler) {
      console.log(`SKIP ${label}: no C compiler (${cCompiler()}); apt-get install -y build-essential`);
      return;
    }
    const entry = findOperator(name);
    const def = entry.define(shape, params, d);
    const op = await buildCpuOp(def, entry.strategies.cpu, target, knobs);
    if (knobs) for (const [k, v] of Object.entries(knobs)) assert.is(op.knobs[k], v, k);
    for (const seed of [1, 7]) {
      const run = runCpuOp(op, { seed, check: true });
      assert.ok(run.match, `seed ${seed}: ${run.mismatch}`);
    }
    // The data is not trivial: the output is not constant.
    const out = runCpuOp(op, { seed: 3 }).output;
    assert.ok(new Set(out).size > 1, 'output is constant');
  });
}

test('16-bit accumulators (hx8k-1x2): int16 wrap-around of products, sums, shift and bias as the references do', async () => {
  if (!hasCompiler) {
    console.log(`SKIP cpu int16 accumulators: no C compiler (${cCompiler()})`);
    return;
  }
  const d16 = loadConfig('hx8k-1x2');
  for (const [name, shape, params] of [
    ['conv2d', [7, 6, 20, 12, 3, 1, 1], P({ shift: 0, clip: undefined })],
    ['conv2d', [6, 6, 8, 8, 3, 2, 2], P({ groups: 8, shift: 1 })],
    ['dense', [3, 300, 9], P({ shift: 0, clip: undefined })],
    ['add', [4, 3, 7], P({ clip: undefined })],
  ] as [string, number[], OpParams][]) {
    const entry = findOperator(name);
    const def = entry.define(shape, params, d16);
    assert.is(def.inputs[0].dtype, name === 'add' ? 'int16' : 'int8');
    const run = runCpuOp(await buildCpuOp(def, entry.strategies.cpu, target), { seed: 2, check: true });
    assert.ok(run.match, `${name} ${shape}: ${run.mismatch}`);
  }
});

test('the cpu operands are the VTA operator\'s operands: same seeds, same reference result', async () => {
  const entry = findOperator('conv2d');
  const params = P({ groups: 2 });
  const shape = [6, 5, 32, 32, 3, 1, 1];
  const vta = entry.strategies.vta.build(shape, params, d, {}).operands(5).expected();
  assert.equal(entry.define(shape, params, d).values(5).expected(), vta);
});

test('knobs outside the space are refused with one line', async () => {
  const entry = findOperator('conv2d');
  const def = entry.define([6, 6, 16, 16, 3, 1, 1], P({}), d);
  const refused = async (knobs: Record<string, number>): Promise<string> => {
    try {
      await buildCpuOp(def, entry.strategies.cpu, target, knobs);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  assert.match(await refused({ tile_co: 5 }), /^knob tile_co = 5 is not one of 1, 2, 4, 8, 16$/);
  assert.match(await refused({ tile_b: 1 }), /^unknown knob tile_b for this target; knobs: tile_co, tile_h, threads(, dot, co_task, rows, col_block, co_block, order)?$/);
});

test.run();
