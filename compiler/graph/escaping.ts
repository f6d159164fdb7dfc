/**
 * Which values of a graph outlive one run of it: a host target may reuse the output arrays of the
 * others between runs (compiler/target/graph-host.ts, compiler/gpu/graph-host.ts).
 */
import type { Graph } from './ir.ts';

/** Views: operators whose result shares its input's array (the reference kernels relabel the shape). */
const VIEWS = new Set(['Reshape', 'Flatten', 'Identity', 'Squeeze', 'Unsqueeze']);

const escapingOf = new WeakMap<Graph, (name: string) => boolean>();

/** Whether a value outlives a run of `g`: a graph output or a value a view of one shares its array with. */
export function escaping(g: Graph): (name: string) => boolean {
  const have = escapingOf.get(g);
  if (have) return have;
  const out = new Set(g.outputs);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (VIEWS.has(n.op) && n.inputs[0] && n.outputs.some((o) => out.has(o))) out.add(n.inputs[0]);
  }
  const f = (name: string) => out.has(name);
  escapingOf.set(g, f);
  return f;
}
