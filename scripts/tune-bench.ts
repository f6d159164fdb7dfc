/**
 * Tuning benchmark (`npm run tune-bench [-- --trials N --seed S --target vta|cpu]`): ResNet-18's
 * offloaded convolutions C2-C11 (compiler/bench/layers.ts, vta-reference Part B §6.4), requantized
 * `>> 8, clip [0, 127]` as the compiler benchmark (its 7.07 M cycles). The target is the default VTA
 * configuration (cost: cycles of the cycle-exact TypeScript simulator) or the host CPU (cost: the
 * median of warm runs of the built function, milliseconds). Per layer:
 *   - the default chooser's cost;
 *   - the model tuner's best after N trials (seed S) and random search's best after N trials (seed S + 1000);
 *   - the trial at which the model tuner first reached random search's best.
 * With history (the default; `--no-history` leaves it out), the model tuner of each layer learns
 * also from the earlier layers' model trials and default measurements (compiler/tune/history.ts:
 * AutoTVM's transfer learning, as `vtw tune --history LOG` does across a network); random search
 * has nothing to learn from. The tuned sum takes, per layer, the better of the default and the model tuner's best (what
 * `vtw op --tuned` compiles from a log, where the default is trial 0), each counted as often as the
 * network uses the layer. Writes build/bench/tune.json and build/bench/tune.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { loadConfig } from '../src/config/index.ts';
import { RESNET18_LAYERS } from '../compiler/bench/layers.ts';
import { median } from '../compiler/cpu/op.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { parseTarget, targetString } from '../compiler/target/target.ts';
import { makeTask } from '../compiler/tune/task.ts';
import { historyOf } from '../compiler/tune/history.ts';
import { trialsToReach, tune, type HistoryPoint } from '../compiler/tune/tuner.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

const trials = arg('trials', 24);
const seed = arg('seed', 0);
const d = loadConfig('default');
const targetText = (() => {
  const i = process.argv.indexOf('--target');
  return i < 0 ? 'vta' : process.argv[i + 1] ?? 'vta';
})();
const target = parseTarget(targetText, d);
if (target.kind !== 'vta' && target.kind !== 'cpu') throw new Error(`--target: tuning measures vta or cpu targets, not ${targetText}`);
const unit = target.kind === 'vta' ? 'cycles' : 'ms';
const useHistory = !process.argv.includes('--no-history');
const history: HistoryPoint[] = [];
const conv = findOperator('conv2d');
const params: OpParams = { batch: 1, groups: 1, shift: 8, bias: false, clip: [0, 127] };

interface Row {
  layer: string;
  count: number;
  space: number;
  default: number;
  model: number;
  random: number;
  tuned: number;
  model_trials_to_random_best: number | null;
  seconds_per_trial: number;
  /** Each trial's cost in order (null: failed), and the model's best setting. */
  model_costs: (number | null)[];
  random_costs: (number | null)[];
  model_best_knobs: Record<string, number> | null;
}

const rows: Row[] = [];
const load0 = loadavg()[0];
const t0 = performance.now();
for (const l of RESNET18_LAYERS) {
  const s = l.spec;
  const shape = [s.h, s.w, s.cin, s.cout, s.k, s.pad, s.stride];
  const task = await makeTask(conv, shape, params, target, d);
  const tl = performance.now();
  const dflt = await task.measure(task.defaultKnobs);
  const m = await tune(task, { trials, strategy: 'model', seed, history: useHistory ? history : [] });
  history.push(...historyOf(task, [{ knobs: task.defaultKnobs, cost: dflt }, ...m.trials]));
  // Its own seed, so the two searches do not share the model's first (random) batch.
  const r = await tune(task, { trials, strategy: 'random', seed: seed + 1000 });
  const perTrial = (performance.now() - tl) / 1000 / (1 + m.trials.length + r.trials.length);
  const model = m.best?.cost ?? Infinity;
  const random = r.best?.cost ?? Infinity;
  const row: Row = {
    layer: l.name, count: l.count, space: m.spaceSize, default: dflt, model, random, tuned: Math.min(dflt, model),
    model_trials_to_random_best: trialsToReach(m.trials, random) ?? null, seconds_per_trial: +perTrial.toFixed(3),
    model_costs: m.trials.map((t) => (Number.isFinite(t.cost) ? t.cost : null)), random_costs: r.trials.map((t) => (Number.isFinite(t.cost) ? t.cost : null)),
    model_best_knobs: m.best?.knobs ?? null,
  };
  rows.push(row);
  console.error(`${l.name}: default ${dflt}, model ${model}, random ${random}, model reached random's best at ${row.model_trials_to_random_best ?? `never (>${trials})`} (${perTrial.toFixed(2)} s a trial)`);
}
const seconds = (performance.now() - t0) / 1000;

const sum = (f: (r: Row) => number) => rows.reduce((a, r) => a + f(r) * r.count, 0);
const M = (n: number) => (unit === 'cycles' ? `${(n / 1e6).toFixed(3)} M` : `${n.toFixed(2)} ms`);
const fmt = (n: number) => (unit === 'cycles' ? String(n) : n.toFixed(3));
// Per-layer speed-up of the tuned schedule over the default chooser's (>= 1: never slower).
const speedups = rows.map((r) => r.default / r.tuned);
// A layer where the model never reached random's best counts as needing more than all the trials.
const fractions = rows.map((r) => (r.model_trials_to_random_best ?? trials + 1) / trials);
const medianFraction = median(fractions);
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores (shared)`;
const md = [
  target.kind === 'vta'
    ? `## Tuning: ResNet-18 C2-C11 on VTA (${new Date().toISOString().slice(0, 10)}, ${d.variant}, TypeScript simulator)`
    : `## Tuning: ResNet-18 C2-C11 on the CPU (${new Date().toISOString().slice(0, 10)}, \`${targetString(target)}\`)`,
  '',
  `Measured in one run of \`npm run tune-bench -- --trials ${trials} --seed ${seed} --target ${targetText}${useHistory ? '' : ' --no-history'}\` on ${machine}, ${seconds.toFixed(0)} s in all; 1-minute load average ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end.`,
  useHistory ? 'The model tuner learns also from the earlier layers\' trials (history); random search starts afresh on each layer.' : 'No history: each layer\'s model tuner starts afresh.',
  `${trials} trials per strategy per layer; cost = ${unit === 'cycles' ? 'simulator cycles' : 'median of warm runs of the built function, ms (each setting checked bit-exact first)'}; requantization \`>> 8, clip [0, 127]\` as the compiler benchmark.`,
  `Tuned vs default, per layer: median ${median(speedups).toFixed(2)}x, lowest ${Math.min(...speedups).toFixed(2)}x.`,
  '"tuned" = the better of the default and the model tuner\'s best (the default is trial 0 of a log, so `vtw op --tuned` never compiles a slower schedule).',
  '',
  `| layer | count | knob space | default ${unit} | model best | random best | tuned | default / tuned | model trials to reach random\'s best | s / trial |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) =>
    `| ${r.layer} | ${r.count} | ${r.space} | ${fmt(r.default)} | ${fmt(r.model)} | ${fmt(r.random)} | ${fmt(r.tuned)} | ${(r.default / r.tuned).toFixed(3)} | ${r.model_trials_to_random_best ?? `> ${trials}`} | ${r.seconds_per_trial} |`),
  `| **sum** (x count) | | | **${M(sum((r) => r.default))}** | ${M(sum((r) => r.model))} | ${M(sum((r) => r.random))} | **${M(sum((r) => r.tuned))}** | ${(sum((r) => r.default) / sum((r) => r.tuned)).toFixed(3)} | median ${(medianFraction * trials).toFixed(1)} of ${trials} (${(medianFraction * 100).toFixed(0)} %) | |`,
  '',
].join('\n');
const base = target.kind === 'vta' ? 'build/bench/tune' : 'build/bench/tune-cpu';
mkdirSync('build/bench', { recursive: true });
writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), target: targetString(target), unit, config: d.variant, machine, trials, seed, seconds, history: useHistory, load: [load0, loadavg()[0]], rows,
  sums: { default: sum((r) => r.default), model: sum((r) => r.model), random: sum((r) => r.random), tuned: sum((r) => r.tuned) }, median_fraction_to_random_best: medianFraction,
  speedup_median: median(speedups), speedup_min: Math.min(...speedups) }, null, 2));
writeFileSync(`${base}.md`, md);
console.log(md);
console.log(`wrote ${base}.json and ${base}.md`);
