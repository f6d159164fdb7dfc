/**
 * The partition of a quantized graph between VTA and the host for one configuration: the offload
 * rule (offload.ts) decides per node; every node it does not send to VTA runs on the host target.
 * VTA computes in integers, so only the quantized operators (QConv, QDense, QAdd, QMaxPool) can go
 * there: a float operator the rule would offload (a layer the quantizer kept in float, e.g. with
 * --skip-first) stays on the host and says so. The partition carries what the run report needs:
 * MACs per node and the fraction of MACs offloaded.
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
  const nodes = g.nodes.map((node): PartNode => {
    let rule = offloadRule(g, node, d);
    if (rule.as && !isQuantizedOp(node.op)) rule = { as: null, reason: 'kept in float (VTA runs the quantized operators)' };
    const m = nodeMacs(g, node);
    macs += m;
    if (rule.as) offloadedMacs += m;
    return { node, where: rule.as ? 'vta' : 'host', as: rule.as, reason: rule.reason, macs: m };
  });
  return { nodes, macs, offloadedMacs, offloadedMacsFraction: macs ? offloadedMacs / macs : 0 };
}
