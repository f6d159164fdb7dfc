/**
 * The partition of a graph between VTA and the host for one configuration: the offload rule
 * (offload.ts) decides per node; every node it does not send to VTA runs on the host target. The
 * partition carries what the run report needs: MACs per node and the fraction of MACs offloaded.
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Graph, Node } from './ir.ts';
import { nodeMacs, offloadRule, type VtaOp } from './offload.ts';
import { isQuantizedOp } from './quantized.ts';

export interface PartNode {
  node: Node;
  where: 'vta' | 'host';
  /** The VTA operator (where = 'vta'). */
  as: VtaOp | null;
  /** Why an operator VTA has a form of stays on the host (null otherwise). */
  reason: string | null;
  macs: number;
}

export interface Partition {
  nodes: PartNode[];
  macs: number;
  offloadedMacs: number;
  /** offloadedMacs / macs (0 for a graph without MACs). */
  offloadedMacsFraction: number;
}

export function partitionGraph(g: Graph, d: Derived): Partition {
  let macs = 0;
  let offloadedMacs = 0;
  // In a quantized graph VTA runs only the int8 operators: a float Conv or MaxPool there is one the
  // quantizer kept in float (skipFirst/skipLast, or a form it does not quantize), so it stays on the host.
  const quantized = g.nodes.some((n) => isQuantizedOp(n.op));
  const keptFloat = { as: null, reason: 'kept in float by the quantizer' };
  const nodes = g.nodes.map((node): PartNode => {
    const float = quantized && !isQuantizedOp(node.op);
    const rule = float ? (offloadRule(g, node, d).as ? keptFloat : { as: null, reason: null }) : offloadRule(g, node, d);
    const m = nodeMacs(g, node);
    macs += m;
    if (rule.as) offloadedMacs += m;
    return { node, where: rule.as ? 'vta' : 'host', as: rule.as, reason: rule.reason, macs: m };
  });
  return { nodes, macs, offloadedMacs, offloadedMacsFraction: macs ? offloadedMacs / macs : 0 };
}
