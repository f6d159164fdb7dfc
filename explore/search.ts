/**
 * A budgeted evolutionary search for spaces too large for the grid (docs/explore.md, search
 * strategy "evolve"): an elitist multi-objective search over grid indices. It starts from a random
 * sample; then each round breeds the next batch from the points no measured point dominates (the
 * archive of the front so far, then the next non-dominated layers when the front's neighbourhood
 * is used up): mutation moves one varied key to a neighbouring value (the values of a vary entry
 * are ordered, so neighbours are similar designs), uniform crossover mixes two parents key by key,
 * and a share of each batch is drawn at random so the search keeps looking elsewhere. Infeasible
 * points cost a visit but are never parents.
 *
 * `EvolveSearch` knows only the grid's shape and the objectives, so tests drive it with synthetic
 * objective functions; `evolveExplore` runs it on a space through explore/run.ts, one sweep per
 * round over every point visited so far (the cache answers the earlier ones).
 */
import { Rng } from '../src/util/rng.ts';
import { paretoFront, type Objective } from './pareto.ts';
import { explore, type ExploreOptions, type ExploreSummary, type PointRecord } from './run.ts';
import type { Space } from './space.ts';

export interface EvolveOptions {
  /** Grid points to visit in all (infeasible ones included). */
  budget: number;
  seed: number;
  /** Points per round (default 8). */
  batch?: number;
  /** Points of the random first round (default a quarter of the budget, at least one batch). */
  initial?: number;
  /** Share of each later round drawn at random (default 0.2). */
  explore?: number;
}

/** What is known of a visited point: its objective values, or null (infeasible or failed). */
export type Known = ReadonlyMap<number, Readonly<Record<string, number>> | null>;

export class EvolveSearch {
  readonly size: number;
  private readonly rng: Rng;
  private readonly visited = new Set<number>();
  private readonly batch: number;
  private readonly initial: number;
  private readonly randomShare: number;
  private rounds = 0;

  /** `dims`: the number of values of each varied key, in order (the last changes fastest, as in explore/points.ts). */
  constructor(private readonly dims: readonly number[], private readonly objectives: readonly Objective[], private readonly opts: EvolveOptions) {
    this.size = dims.reduce((a, b) => a * b, 1);
    this.rng = new Rng(opts.seed);
    this.batch = Math.max(1, opts.batch ?? 8);
    this.initial = Math.max(this.batch, opts.initial ?? Math.ceil(opts.budget / 4));
    this.randomShare = opts.explore ?? 0.2;
  }

  private decode(i: number): number[] {
    const g = new Array<number>(this.dims.length);
    for (let k = this.dims.length - 1; k >= 0; k--) {
      g[k] = i % this.dims[k];
      i = Math.floor(i / this.dims[k]);
    }
    return g;
  }

  private encode(g: readonly number[]): number {
    return g.reduce((i, v, k) => i * this.dims[k] + v, 0);
  }

  /** Mark points as visited outside the search (e.g. a reference point evaluated anyway). */
  visit(ids: Iterable<number>): void {
    for (const i of ids) this.visited.add(i);
  }

  get visitedCount(): number {
    return this.visited.size;
  }

  /** An unvisited grid point drawn uniformly, or undefined when every point was visited. */
  private randomUnvisited(): number | undefined {
    if (this.visited.size >= this.size) return undefined;
    for (let t = 0; t < 64; t++) {
      const i = this.rng.int(0, this.size - 1);
      if (!this.visited.has(i)) return i;
    }
    // a nearly exhausted grid: scan from a random start
    const start = this.rng.int(0, this.size - 1);
    for (let d = 0; d < this.size; d++) {
      const i = (start + d) % this.size;
      if (!this.visited.has(i)) return i;
    }
    return undefined;
  }

  /** Offspring of the parents: every one-key neighbour (±1 value), then uniform crossovers of parent pairs; shuffled within each kind. */
  private offspring(parents: readonly number[]): number[] {
    const mutants: number[] = [];
    for (const p of parents) {
      const g = this.decode(p);
      for (let k = 0; k < g.length; k++) {
        for (const d of [-1, 1]) {
          const v = g[k] + d;
          if (v < 0 || v >= this.dims[k]) continue;
          const c = g.slice();
          c[k] = v;
          mutants.push(this.encode(c));
        }
      }
    }
    const children: number[] = [];
    if (parents.length > 1) {
      for (let t = 0; t < parents.length * 2; t++) {
        const a = this.decode(parents[this.rng.int(0, parents.length - 1)]);
        const b = this.decode(parents[this.rng.int(0, parents.length - 1)]);
        children.push(this.encode(a.map((v, k) => (this.rng.bool() ? v : b[k]))));
      }
    }
    return [...this.shuffle(mutants), ...this.shuffle(children)];
  }

  private shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /**
   * The next round's grid indices (distinct, unvisited), given what is known of the visited
   * points; empty when the budget or the grid is used up. The returned points count as visited.
   */
  next(known: Known): number[] {
    const left = Math.min(this.opts.budget, this.size) - this.visited.size;
    if (left <= 0) return [];
    const out: number[] = [];
    const take = (i: number | undefined) => {
      if (i !== undefined && !this.visited.has(i) && out.length < left) {
        this.visited.add(i);
        out.push(i);
      }
    };
    const measured = [...known].filter((e): e is [number, Readonly<Record<string, number>>] => e[1] !== null);
    this.rounds++;
    if (!measured.length) {
      // the first round, or nothing feasible measured yet: a random sample
      const n = Math.min(left, this.rounds === 1 ? this.initial : this.batch);
      while (out.length < n && this.visited.size < this.size) take(this.randomUnvisited());
      return out;
    }
    const n = Math.min(left, this.batch);
    const bred = n - Math.floor(n * this.randomShare);
    // parents: the non-dominated layers of the measured points, peeled until their offspring fill the round
    let rest = measured;
    while (out.length < bred && rest.length) {
      const layer = paretoFront(rest, this.objectives, (e, m) => e[1][m]);
      for (const c of this.offspring(layer.map((e) => e[0]))) {
        if (out.length >= bred) break;
        take(c);
      }
      const inLayer = new Set(layer);
      rest = rest.filter((e) => !inLayer.has(e));
    }
    while (out.length < n && this.visited.size < this.size) take(this.randomUnvisited());
    return out;
  }
}

/** Objective values of a record, or null when it has none (infeasible, failed). */
export function objectiveValues(r: PointRecord, objectives: readonly Objective[]): Record<string, number> | null {
  if (r.status !== 'ok' || !objectives.every((o) => Number.isFinite(r.metrics[o.metric]))) return null;
  return Object.fromEntries(objectives.map((o) => [o.metric, r.metrics[o.metric]]));
}

/**
 * `search.strategy: "evolve"`: round after round, the search picks points and explore/run.ts
 * sweeps every point visited so far (measuring only the new ones; the rest come from the cache),
 * rewriting the output folder each round, so an interrupted search keeps its results. The
 * summary's `cached` counts the points whose measurements were all cached before this run.
 */
export async function evolveExplore(space: Space, opts: ExploreOptions, log: (line: string) => void = () => {}): Promise<{ summary: ExploreSummary; records: PointRecord[] }> {
  const t0 = performance.now();
  const s = space.search;
  const search = new EvolveSearch(space.vary.map((v) => v.values.length), space.objectives, { budget: s.budget ?? space.size, seed: s.seed, batch: s.batch ?? Math.max(8, opts.workers) });
  const order: number[] = [];
  if (space.reference !== null) {
    order.push(space.reference);
    search.visit([space.reference]);
  }
  const known = new Map<number, Record<string, number> | null>();
  const wasCached = new Map<number, boolean>();
  let result: { summary: ExploreSummary; records: PointRecord[] } | undefined;
  for (let round = 1; ; round++) {
    const batch = search.next(known);
    if (!batch.length && result) break;
    order.push(...batch);
    result = await explore({ ...space, search: { ...s, visit: order } }, opts);
    for (const r of result.records) {
      known.set(r.id, objectiveValues(r, space.objectives));
      if (!wasCached.has(r.id)) wasCached.set(r.id, r.cached);
    }
    log(`evolve: round ${round}, ${order.length} of ${Math.min(s.budget ?? space.size, space.size)} points visited, Pareto front of ${result.summary.pareto}`);
  }
  const { summary, records } = result;
  const cached = records.filter((r) => r.status !== 'infeasible' && wasCached.get(r.id)).length;
  return { summary: { ...summary, cached, seconds: +((performance.now() - t0) / 1000).toFixed(2) }, records };
}
