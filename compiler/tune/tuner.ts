/**
 * The tuner: a search over a task's candidate knob settings, measuring each trial (compiler/tune/task.ts).
 *
 * - `model` (as AutoTVM's XGBTuner): a first batch of candidates (half the best by the task's
 *   analytical prior where it has one; the rest the best a model trained on the history predicts
 *   when there is history, else random); then each round fits a
 *   random-forest regressor (ml-random-forest) on the log of every cost measured so far, predicts
 *   the cost of every unmeasured candidate (a seeded sample of MAX_SCORED if there are more), and
 *   measures the best-predicted few plus one random candidate in four (exploration).
 *   History (AutoTVM's transfer learning): measured trials of *other* tasks of the same operator on
 *   the same target, as (features, log cost per unit of work); the model trains on them beside the
 *   task's own trials, so it starts from what the target taught it before (compiler/tune/history.ts).
 * - `random`: candidates in a seeded random order (the baseline).
 *
 * Both are deterministic for a seed (with deterministic measurements, as the simulator's are). The
 * default chooser's setting is not a trial: the caller measures it for reference.
 */
import { RandomForestRegression } from 'ml-random-forest';
import { CompileError } from '../errors.ts';
import type { Strategy } from './log.ts';
import type { KnobSetting, TuneTask } from './task.ts';

export interface Trial {
  /** 1-based. */
  index: number;
  knobs: KnobSetting;
  /** Infinity when the setting failed to build or run (see `error`). */
  cost: number;
  error?: string;
}

export interface TuneOptions {
  trials: number;
  strategy: Strategy;
  seed: number;
  /**
   * Model strategy: the first batch is half the candidates the task's analytical prior ranks best
   * and half random (default true; false: all random, as AutoTVM starts).
   */
  usePrior?: boolean;
  /** Candidates measured per round of the model strategy (default: trials / 6, between 2 and 8). */
  batch?: number;
  /**
   * Model strategy: earlier measurements of other tasks (same operator, same target), as features
   * and log(cost / work). Points whose feature count differs from this task's are ignored.
   */
  history?: readonly HistoryPoint[];
  /** Called after each trial with the best trial so far. */
  onTrial?: (t: Trial, best: Trial | undefined) => void;
}

/** One measured setting of some task, as the cost model learns from it. */
export interface HistoryPoint {
  features: number[];
  /** log(cost / work): comparable across tasks of different sizes. */
  y: number;
}

/** History points needed before the model ranks the first batch (fewer: the first batch is random). */
export const MIN_HISTORY = 8;

export interface TuneResult {
  trials: Trial[];
  best: Trial | undefined;
  /** How many candidates the space has. */
  spaceSize: number;
}

/** Candidates the model scores per round at most. */
export const MAX_SCORED = 4096;

/** mulberry32: a small seeded generator, so a seed gives the same search everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

export async function tune(task: TuneTask, opts: TuneOptions): Promise<TuneResult> {
  if (!Number.isInteger(opts.trials) || opts.trials < 1) throw new CompileError(`trials must be a positive integer (got ${opts.trials})`);
  const n = task.candidates.length;
  if (!n) throw new CompileError('the knob space is empty: no setting fits this operator on this target');
  const rand = rng(opts.seed);
  const total = Math.min(opts.trials, n);
  const batch = opts.batch ?? Math.max(2, Math.min(8, Math.round(opts.trials / 6)));
  const features = task.candidates.map((k) => task.features(k));
  const measured = new Set<number>();
  const trials: Trial[] = [];
  let best: Trial | undefined;

  const measure = async (i: number) => {
    measured.add(i);
    const t: Trial = { index: trials.length + 1, knobs: task.candidates[i], cost: Infinity };
    try {
      t.cost = await task.measure(t.knobs);
    } catch (e) {
      t.error = e instanceof Error ? e.message : String(e);
    }
    trials.push(t);
    if (t.cost < (best?.cost ?? Infinity)) best = t;
    opts.onTrial?.(t, best);
  };
  const unmeasured = () => shuffle([...Array(n).keys()].filter((i) => !measured.has(i)), rand);

  if (opts.strategy === 'random') {
    for (const i of unmeasured().slice(0, total)) await measure(i);
    return { trials, best, spaceSize: n };
  }

  const measuredIndex: number[] = [];
  const measureAll = async (idx: number[]) => {
    for (const i of idx) {
      if (trials.length >= total) return;
      await measure(i);
      measuredIndex.push(i);
    }
  };
  const work = task.work ?? 1;
  const width = features[0].length;
  const history = (opts.history ?? []).filter((h) => h.features.length === width && Number.isFinite(h.y));
  /**
   * Fit the random forest on the history and every trial so far, and rank `pool` by predicted
   * cost; `want` of them are taken, one in four (when at least 4) at random from the rest.
   */
  const pickByModel = (pool: number[], want: number): number[] => {
    const ok = trials.filter((t) => Number.isFinite(t.cost));
    // Failed settings train as twice the worst cost, so the model steers away from them.
    const worst = ok.length ? Math.max(...ok.map((t) => t.cost)) : work;
    const x = [...history.map((h) => h.features), ...measuredIndex.map((i) => features[i])];
    const y = [...history.map((h) => h.y), ...trials.map((t) => Math.log((Number.isFinite(t.cost) ? t.cost : 2 * worst) / work))];
    const model = new RandomForestRegression({
      nEstimators: 32, maxFeatures: 0.8, replacement: true, useSampleBagging: true, noOOB: true,
      seed: Math.floor(rand() * 2 ** 31), treeOptions: { minNumSamples: 2 },
    });
    model.train(x, y);
    const score = model.predict(pool.map((i) => features[i]));
    // The pool is shuffled, so equal predictions are taken in a random order (a stable sort).
    const ranked = pool.map((i, j) => ({ i, s: score[j] })).sort((a, b) => a.s - b.s).map((r) => r.i);
    const explore = want >= 4 ? Math.floor(want / 4) : 0;
    const pick = ranked.slice(0, want - explore);
    const rest = ranked.slice(want - explore);
    for (let e = 0; e < explore && rest.length; e++) pick.push(rest.splice(Math.floor(rand() * rest.length), 1)[0]);
    return pick;
  };

  const first = unmeasured();
  let top: number[] = [];
  if (task.prior && opts.usePrior !== false) {
    const prior = task.prior;
    const ranked = first.map((i) => ({ i, p: prior(task.candidates[i]) })).sort((a, b) => a.p - b.p).map((r) => r.i);
    top = ranked.slice(0, Math.ceil(batch / 2));
  }
  const others = first.filter((i) => !top.includes(i));
  const fill = batch - top.length;
  await measureAll([...top, ...(history.length >= MIN_HISTORY ? pickByModel(others.slice(0, MAX_SCORED), fill) : others.slice(0, fill))]);
  while (trials.length < total) {
    const pool = unmeasured().slice(0, MAX_SCORED);
    const want = Math.min(batch, total - trials.length);
    const ok = trials.filter((t) => Number.isFinite(t.cost)).length;
    const pick = ok < 2 && history.length < MIN_HISTORY ? pool.slice(0, want) : pickByModel(pool, want);
    if (!pick.length) break;
    await measureAll(pick);
  }
  return { trials, best, spaceSize: n };
}

/** The 1-based trial at which the running best first reached `target` or better (undefined: never). */
export function trialsToReach(trials: readonly Trial[], target: number): number | undefined {
  const t = trials.find((x) => x.cost <= target);
  return t?.index;
}
