/** Pareto fronts: the points no other point dominates (at least as good everywhere, better somewhere). */

export interface Objective {
  metric: string;
  goal: 'min' | 'max';
}

/** a dominates b under the objectives (values read by `get`). */
export function dominates<T>(a: T, b: T, objectives: readonly Objective[], get: (p: T, metric: string) => number): boolean {
  let better = false;
  for (const o of objectives) {
    const x = get(a, o.metric);
    const y = get(b, o.metric);
    const cmp = o.goal === 'min' ? y - x : x - y; // > 0: a better
    if (cmp < 0) return false;
    if (cmp > 0) better = true;
  }
  return better;
}

/**
 * The non-dominated points, in input order: sorted by the first objective, then each point is
 * checked only against the front so far (points tied on everything all stay).
 */
export function paretoFront<T>(points: readonly T[], objectives: readonly Objective[], get: (p: T, metric: string) => number): T[] {
  if (!objectives.length) return [...points];
  const o0 = objectives[0];
  const sign = o0.goal === 'min' ? 1 : -1;
  const order = points.map((p, i) => ({ p, i })).sort((a, b) => sign * (get(a.p, o0.metric) - get(b.p, o0.metric)) || a.i - b.i);
  const front: { p: T; i: number }[] = [];
  for (const c of order) {
    if (!front.some((f) => dominates(f.p, c.p, objectives, get))) {
      // a later point can dominate an earlier one only when tied on the first objective
      for (let k = front.length - 1; k >= 0; k--) if (dominates(c.p, front[k].p, objectives, get)) front.splice(k, 1);
      front.push(c);
    }
  }
  return front.sort((a, b) => a.i - b.i).map((f) => f.p);
}
