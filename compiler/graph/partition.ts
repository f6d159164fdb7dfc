/**
 * The partition of a graph between VTA and the host for one configuration: the offload rule
 * (offload.ts) decides per node; every node it does not send to VTA runs on the host target. The
 * partition carries what the run report needs: MACs per node and the fraction of MACs offloaded.
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Graph, Node } from './ir.ts';
import { nodeMacs, offloadRule, type VtaOp } from './offload.ts';

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
  const nodes = g.nodes.map((node): PartNode => {
    const rule = offloadRule(g, node, d);
    const m = nodeMacs(g, node);
    macs += m;
    if (rule.as) offloadedMacs += m;
    return { node, where: rule.as ? 'vta' : 'host', as: rule.as, reason: rule.reason, macs: m };
  });
  return { nodes, macs, offloadedMacs, offloadedMacsFraction: macs ? offloadedMacs / macs : 0 };
}
