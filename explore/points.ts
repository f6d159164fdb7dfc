/**
 * The points a search visits: the whole grid in order, or a budgeted random sample of distinct
 * grid points (seeded, so a repeated or extended sweep visits the same points first).
 */
import { Rng } from '../src/util/rng.ts';
import type { Space } from './space.ts';

/** Grid index `i` as varied key values (the last vary key changes fastest). */
export function pointAt(space: Space, i: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let k = space.vary.length - 1; k >= 0; k--) {
    const { key, values } = space.vary[k];
    out[key] = values[i % values.length];
    i = Math.floor(i / values.length);
  }
  return Object.fromEntries(space.vary.map(({ key }) => [key, out[key]]));
}

/** The configuration of a point: the fixed keys, the varied ones, and the keys of each varied group. */
export function configOf(space: Space, point: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = { ...space.fixed };
  for (const { key, group } of space.vary) Object.assign(config, group ? (point[key] as object) : { [key]: point[key] });
  return config;
}

/**
 * Grid indices the search evaluates, in order; the reference point first when the sample lacks it.
 * An adaptive search (explore/search.ts) names its points itself in `search.visit`.
 */
export function searchIndices(space: Space): number[] {
  if (space.search.visit) return space.search.visit;
  const order = sample(space);
  const ref = space.reference;
  return ref === null || order.includes(ref) ? order : [ref, ...order];
}

function sample(space: Space): number[] {
  const all = space.size;
  if (space.search.strategy === 'grid' || space.search.budget === null || space.search.budget >= all) {
    return Array.from({ length: all }, (_, i) => i);
  }
  const rng = new Rng(space.search.seed);
  const budget = space.search.budget;
  const chosen = new Set<number>();
  const order: number[] = [];
  while (order.length < budget) {
    const i = rng.int(0, all - 1);
    if (!chosen.has(i)) {
      chosen.add(i);
      order.push(i);
    }
  }
  return order;
}
