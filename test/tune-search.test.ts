/**
 * The tuner's search on real measurements (VTA's cycle-exact simulator): the model strategy finds
 * a setting at least as good as the default chooser's on a small convolution within a few trials,
 * every trial is a distinct member of the knob space with the cycles a plain compile-and-run gives,
 * and a seed fixes the search.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { runSync } from '../sim/ts/engine.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { buildProgram } from '../compiler/ops/op.ts';
import type { Knobs } from '../compiler/ops/common.ts';
import { makeTask, knobProduct } from '../compiler/tune/task.ts';
import { tune, trialsToReach, MIN_HISTORY } from '../compiler/tune/tuner.ts';
import { historyOf } from '../compiler/tune/history.ts';

const d = loadConfig('default');
const target = { kind: 'vta' as const, config: d };
const conv = findOperator('conv2d');
const params: OpParams = { batch: 1, groups: 1, bias: true, clip: [0, 127] };
const SHAPE = [14, 14, 32, 32, 3, 1, 1];

test('model strategy, without the analytical prior: at least as good as the default chooser on a small conv within 16 trials', async () => {
  const task = await makeTask(conv, SHAPE, params, target, d);
  const dflt = await task.measure(task.defaultKnobs);
  const r = await tune(task, { trials: 16, strategy: 'model', seed: 1, usePrior: false });
  assert.is(r.trials.length, 16);
  assert.ok(r.best && r.best.cost <= dflt, `best ${r.best?.cost} vs default ${dflt}`);
  assert.ok(trialsToReach(r.trials, dflt)! <= 16);
  // The best trial's cycles are those of an independent compile and run with its knobs.
  const inst = conv.strategies.vta.build(SHAPE, params, d, { knobs: r.best!.knobs as unknown as Knobs });
  assert.is(runSync(buildProgram(inst).program, { insnTiming: false }).counters.cycles, r.best!.cost);
  // Distinct members of the knob space.
  const keys = r.trials.map((t) => JSON.stringify(t.knobs));
  assert.is(new Set(keys).size, keys.length);
  const space = new Set(task.candidates.map((k) => JSON.stringify(k)));
  assert.ok(keys.every((k) => space.has(k)));
});

test('a seed fixes the search (both strategies); another seed gives another', async () => {
  const task = await makeTask(conv, [8, 8, 32, 32, 3, 1, 2], params, target, d);
  for (const strategy of ['model', 'random'] as const) {
    const a = await tune(task, { trials: 8, strategy, seed: 7 });
    const b = await tune(task, { trials: 8, strategy, seed: 7 });
    const c = await tune(task, { trials: 8, strategy, seed: 8 });
    const seq = (r: typeof a) => r.trials.map((t) => `${JSON.stringify(t.knobs)}=${t.cost}`);
    assert.equal(seq(a), seq(b), strategy);
    assert.not.equal(seq(a), seq(c), strategy);
  }
});

test('history (transfer learning): trials of another shape steer the first batch to settings at least as good as without', async () => {
  // Without the analytical prior, so only the history can guide the first batch.
  const a = await makeTask(conv, [8, 8, 32, 32, 3, 1, 1], params, target, d);
  const b = await makeTask(conv, [16, 16, 32, 32, 3, 1, 1], params, target, d);
  const learned = await tune(a, { trials: 16, strategy: 'random', seed: 3 });
  const history = historyOf(a, learned.trials);
  assert.ok(history.length >= MIN_HISTORY);
  // log(cost / work) of the other task's measurements (its cycles per MAC).
  assert.ok(Math.abs(history[0].y - Math.log(learned.trials[0].cost / a.work!)) < 1e-12);
  const batch = 3;
  const firstBest = (r: Awaited<ReturnType<typeof tune>>) => Math.min(...r.trials.slice(0, batch).map((t) => t.cost));
  let withH = 0;
  let without = 0;
  for (const seed of [1, 2, 3]) {
    withH += firstBest(await tune(b, { trials: batch, batch, strategy: 'model', seed, usePrior: false, history }));
    without += firstBest(await tune(b, { trials: batch, batch, strategy: 'model', seed, usePrior: false }));
  }
  assert.ok(withH < without, `first batches with history ${withH} cycles vs ${without} without (sum over 3 seeds)`);
  // Points of another feature width (another operator) are ignored, not an error.
  const r = await tune(b, { trials: 2, strategy: 'model', seed: 1, usePrior: false, history: [{ features: [1, 2], y: 0 }] });
  assert.is(r.trials.length, 2);
});

test('trials stop at the size of the space; the cpu knob product covers every combination', async () => {
  const task = await makeTask(findOperator('add'), [4, 4, 32], { ...params, bias: false }, target, d);
  const r = await tune(task, { trials: 50, strategy: 'model', seed: 0 });
  assert.is(r.trials.length, task.candidates.length);
  assert.equal(knobProduct({ a: [1, 2], b: [3, 4, 5] }).length, 6);
  assert.equal(knobProduct({ a: [1, 2], b: [3] }), [{ a: 1, b: 3 }, { a: 2, b: 3 }]);
});

test.run();
