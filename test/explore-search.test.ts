/**
 * The evolutionary search of `vtw explore` (explore/search.ts, search strategy "evolve"): on a
 * synthetic 4096-point space with an area/latency trade-off and an infeasible corner, whose true
 * Pareto front is known by brute force, it finds the whole front in far fewer evaluations than the
 * random search of explore/points.ts with the same seed; it visits distinct points within its
 * budget; and on the tiny example space, end to end through `vtw explore`, it gives the grid's results.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvolveSearch } from '../explore/search.ts';
import { paretoFront, type Objective } from '../explore/pareto.ts';
import { searchIndices } from '../explore/points.ts';
import { checkSpace, type Space } from '../explore/space.ts';
import { main } from '../src/cli/main.ts';

const DIMS = [8, 8, 8, 8];
const SIZE = 8 ** 4;
const objectives: Objective[] = [{ metric: 'area', goal: 'min' }, { metric: 'latency', goal: 'min' }];

/** Grid index → its four value positions (the last changes fastest, as in explore/points.ts). */
const decode = (i: number) => [Math.floor(i / 512) % 8, Math.floor(i / 64) % 8, Math.floor(i / 8) % 8, i % 8];

/**
 * A synthetic design space: two array dimensions that cost area and save latency, a buffer that
 * does both linearly, a queue depth whose latency has an optimum at 3; the two largest arrays
 * together do not fit (infeasible).
 */
function measure(i: number): Record<string, number> | null {
  const [a, b, c, d] = decode(i);
  if (a + b > 12) return null;
  return { area: 2 ** a + 2 ** b + 3 * c + d, latency: 1000 / 2 ** a + 500 / 2 ** b + 20 * (7 - c) + 10 * (d - 3) ** 2 };
}

const all = Array.from({ length: SIZE }, (_, i) => ({ i, m: measure(i) }));
const front = new Set(paretoFront(all.filter((p) => p.m !== null), objectives, (p, k) => p.m![k]).map((p) => p.i));

/** How many visits until every front point was seen (Infinity: never), in visiting order. */
function visitsToFront(order: readonly number[]): number {
  let found = 0;
  for (let n = 0; n < order.length; n++) if (front.has(order[n]) && ++found === front.size) return n + 1;
  return Infinity;
}

function evolveOrder(seed: number, budget: number, batch = 16): number[] {
  const s = new EvolveSearch(DIMS, objectives, { budget, seed, batch });
  const known = new Map<number, Record<string, number> | null>();
  const order: number[] = [];
  for (let round = 0; round < 10_000; round++) {
    const next = s.next(known);
    if (!next.length) break;
    for (const i of next) known.set(i, measure(i));
    order.push(...next);
  }
  return order;
}

const randomOrder = (seed: number, budget: number) =>
  searchIndices({ size: SIZE, reference: null, search: { strategy: 'random', budget, seed, batch: null } } as unknown as Space);

test('evolve finds the whole front of a synthetic 4096-point space in fewer evaluations than random (same seeds)', () => {
  assert.ok(front.size >= 10, `a front of ${front.size} points`);
  const budget = 1024;
  for (const seed of [1, 2, 3]) {
    const evo = evolveOrder(seed, budget);
    const rnd = randomOrder(seed, SIZE - 1); // all but one point, in random order (a budget of the whole grid is the grid in order)
    assert.is(evo.length, budget);
    assert.is(new Set(evo).size, budget, 'distinct points');
    assert.ok(evo.every((i) => i >= 0 && i < SIZE));
    const e = visitsToFront(evo);
    const r = visitsToFront(rnd);
    const foundByRandomAtE = rnd.slice(0, Math.min(e, rnd.length)).filter((i) => front.has(i)).length;
    console.log(`  seed ${seed}: front of ${front.size}; evolve saw all of it after ${e} evaluations, random after ${r}; random had ${foundByRandomAtE} of it after ${e}`);
    assert.ok(e <= budget, `evolve found the front within its budget of ${budget} (seed ${seed})`);
    assert.ok(e * 3 < r, `evolve (${e}) needs under a third of random's evaluations (${r})`);
  }
  // the same seed gives the same search
  assert.equal(evolveOrder(7, 200), evolveOrder(7, 200));
});

test('evolve stops at the budget and at the grid size', () => {
  assert.is(evolveOrder(1, 50, 16).length, 50);
  const small = new EvolveSearch([2, 3], objectives, { budget: 100, seed: 1, batch: 4 });
  const seen: number[] = [];
  const known = new Map<number, Record<string, number> | null>();
  for (let next = small.next(known); next.length; next = small.next(known)) {
    for (const i of next) known.set(i, { area: i, latency: 6 - i });
    seen.push(...next);
  }
  assert.equal([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], 'every point of a 6-point grid once');
});

test('vtw explore with search "evolve" on the tiny space: the grid\'s results; a bad search: one line', async () => {
  const root = join(import.meta.dirname, '..');
  const scratch = mkdtempSync(join(tmpdir(), 'vtw-explore-search-'));
  const tiny = JSON.parse(readFileSync(join(root, 'examples/space-tiny.json'), 'utf8'));
  const space = join(scratch, 'evolve.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(space, JSON.stringify({ ...tiny, search: { strategy: 'evolve', budget: 4, seed: 3, batch: 2 } }));
  const log = console.log;
  let out = '';
  console.log = (...a: unknown[]) => void (out += a.join(' ') + '\n');
  let code: number;
  try {
    code = await main(['explore', space, '--out', join(scratch, 'out'), '--workers', '1', '--json']);
  } finally {
    console.log = log;
  }
  assert.is(code, 0);
  const summary = JSON.parse(out);
  assert.equal({ points: summary.points, evaluated: summary.evaluated, infeasible: summary.infeasible, frontIds: summary.frontIds, cached: summary.cached },
    { points: 4, evaluated: 3, infeasible: 1, frontIds: [1, 3], cached: 0 });
  const ids = readFileSync(join(scratch, 'out', 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id);
  assert.is(ids[0], 1, 'the reference point first');
  assert.equal([...ids].sort(), [0, 1, 2, 3]);
  assert.throws(() => checkSpace({ ...tiny, search: { strategy: 'evolve' } }), /search\.strategy "evolve" needs search\.budget/);
  assert.throws(() => checkSpace({ ...tiny, search: { strategy: 'genetic', budget: 3 } }), /search\.strategy must be one of "grid", "random", "evolve"/);
  assert.throws(() => checkSpace({ ...tiny, search: { budget: 3, batch: 2 } }), /search\.batch is for strategy "evolve"/);
});

test.run();
