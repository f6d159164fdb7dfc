/**
 * `vtw op --check`'s default operands exercise the requantization: outputs spread over the output
 * range instead of saturating at the clip bounds (the default shift follows the accumulation
 * depth, biases are small in output units). And compiler errors quote the statement at fault.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/index.ts';
import { compileFromCli } from '../src/cli/commands/op.ts';
import { runCli } from './helpers/cli.ts';
import { Buffer } from '../compiler/ir/buffer.ts';
import { add, int, load, ref, Var } from '../compiler/ir/expr.ts';
import { loop, type Stmt } from '../compiler/ir/stmt.ts';
import { lowerAlu } from '../compiler/vta/alu.ts';
import { vtaTarget } from '../compiler/vta/env.ts';
import { defaultShift } from '../compiler/ops/common.ts';
import { findEngine } from '../sim/engines.ts';

const base = { batch: 1, groups: 1, engine: findEngine('ts'), latencyHiding: true, bias: true, seed: 1 };

/** Share of outputs at the clip bounds and number of distinct values, from the reference of the default operands. */
function spread(kind: string, shape: string, config = 'default') {
  const d = loadConfig(config);
  const inst = compileFromCli(kind, { ...base, config: d, shape }, d);
  const out = inst.operands(1).expected();
  const [lo, hi] = [0, 2 ** (d.outWidth - 1) - 1];
  let clipped = 0;
  const distinct = new Set<number>();
  for (const v of out) {
    if (v === lo || v === hi) clipped++;
    distinct.add(v);
  }
  return { clipped: clipped / out.length, distinct: distinct.size, n: out.length };
}

for (const [kind, shape, config] of [
  ['conv2d', '14,14,64,64,3,1,1', 'default'],
  ['conv2d', '7,7,256,64,1,0,1', 'default'],
  ['dense', '4,512,64', 'default'],
  ['dense', '1,2048,128', 'block32'],
  ['conv2d', '8,8,16,16,3,1,1', 'ice40-small'],
] as const) {
  test(`default ${kind} ${shape} on ${config}: outputs spread over the range`, () => {
    const s = spread(kind, shape, config);
    console.log(`  ${kind} ${shape} ${config}: ${(s.clipped * 100).toFixed(1)} % clipped, ${s.distinct} distinct of ${s.n}`);
    assert.ok(s.clipped < 0.1, `${(s.clipped * 100).toFixed(1)} % of ${s.n} outputs at a clip bound`);
    const d = loadConfig(config);
    const { hi } = { hi: 2 ** (d.outWidth - 1) - 1 };
    assert.ok(s.distinct >= Math.min(hi / 2, s.n / 5), `only ${s.distinct} distinct values of ${s.n}`);
  });
}

test('default shift: from the accumulation depth (deeper sums shift further)', () => {
  const d = loadConfig('default');
  assert.ok(defaultShift(64 * 9, d) > defaultShift(16, d));
  // four times the depth doubles the standard deviation of the sum: one more bit of shift
  for (const depth of [16, 144, 576, 2304]) assert.is(defaultShift(4 * depth, d), defaultShift(depth, d) + 1);
});

test('vtw op --check with the defaults: matches, and under a tenth of the outputs at a clip bound', async () => {
  const r = await runCli('op', 'conv2d', '--shape', '8,8,32,32,3,1,1', '--check', '--json');
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).match, true);
  const d = loadConfig('default');
  const inst = compileFromCli('conv2d', { ...base, config: d, shape: '8,8,32,32,3,1,1' }, d);
  const out = inst.operands(1).expected();
  const clipped = [...out].filter((v) => v === 0 || v === 127).length / out.length;
  assert.ok(clipped < 0.1, `${(clipped * 100).toFixed(1)} % at 0 or 127`);
});

test('ALU lowering errors quote the offending store, not a closing brace', () => {
  const t = vtaTarget(loadConfig('default'));
  const A = new Buffer('A', [1, 16], 'int32', 'acc');
  const B = new Buffer('B', [1, 16], 'int32', 'acc');
  const [bv, ov] = [new Var('b'), new Var('o')];
  const nest: Stmt = { k: 'attr', key: 'pragma', value: 'alu', body: loop(bv, 1, loop(ov, 16, { k: 'store', buf: A, idx: [ref(bv), ref(ov)], value: add(load(B, [bv, ov]), int(1, 'int32')) })) };
  try {
    lowerAlu(nest, t);
    assert.unreachable('lowering should fail');
  } catch (e) {
    const msg = (e as Error).message;
    assert.not.match(msg, '(})');
    assert.match(msg, /A\[b, o\] = /);
    assert.not.match(msg, '\n');
  }
});

test.run();
