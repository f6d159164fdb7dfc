/**
 * What a graph asks of the hardware: multiply-accumulates per node, and which nodes VTA would run
 * on a configuration. The offload rule is a function of one node (its operator, attributes, static
 * shapes, which inputs are constants) and the configuration (`Derived`), nothing else:
 *
 *   conv2d   Conv / ConvInteger / QLinearConv on 4-D data with a constant weight, a square kernel,
 *            equal strides, no dilation, the same padding on every side, any groups (depthwise
 *            included), whose smallest tile (one output row pixel, one channel block per chunk,
 *            one kernel window) fits the configuration's SRAMs and micro-op buffer;
 *   dense    MatMul / MatMulInteger / QLinearMatMul / Gemm (transA = 0) with a constant 2-D weight
 *            (leading dimensions of the data fold into rows), whose smallest tile fits;
 *   add      Add of two computed 4-D tensors of the same shape (the residual add; an Add with a
 *            constant is a bias, fused into the producer by the quantization passes);
 *   maxpool  MaxPool on 4-D data with a square window, equal strides, no dilation, no ceil_mode
 *            and the same padding on every side, smaller than the window.
 *
 * The quantized graph's operators (quantized.ts) follow the same rules: QConv as Conv, QDense as
 * a MatMul with its [N,K] weight, QAdd as Add, QMaxPool as MaxPool; they also need a configuration
 * whose data widths are the graph's (int8 inputs and weights, int32 accumulator, int8 outputs).
 *
 * Everything else runs on the host. The partitioner of issue 13 item 4 uses the same rule.
 */
import type { Derived } from '../../src/config/derive.ts';
import { VtwError } from '../../src/errors.ts';
import { convGeom } from '../ops/conv2d.ts';
import { convKnobError } from '../ops/conv_knobs.ts';
import { denseGeom } from '../ops/dense.ts';
import type { Knobs } from '../ops/common.ts';
import { staticShape, type Graph, type Node } from './ir.ts';
import { opDef, type ValueInfo } from './ops.ts';
import { isQuantizedOp } from './quantized.ts';
import { convGeometry, poolGeometry } from './shapes.ts';
import { sizeOf } from './tensor.ts';

export type VtaOp = 'conv2d' | 'dense' | 'add' | 'maxpool';

export interface Offload {
  /** The VTA operator the node maps to, or null when it stays on the host. */
  as: VtaOp | null;
  /** Why it stays on the host (null when offloaded; also null for operators VTA has no form of). */
  reason: string | null;
}

export interface NodeReport {
  name: string;
  op: string;
  inputs: { name: string; dtype: string; shape: number[]; const: boolean }[];
  outputs: { name: string; dtype: string; shape: number[] }[];
  macs: number;
  /** The fused activation (`fuse` pass): clip bounds, relu = [0, Infinity]. */
  clip?: number[];
  offload: Offload;
}

export interface GraphReport {
  nodes: NodeReport[];
  /** Maximal connected groups of offloaded nodes (producer and consumer both on VTA): node names. */
  regions: string[][];
  /**
   * Computed values that cross between host and VTA, each converted once: `toVta` into VTA's
   * packed layout (host-made or graph inputs read by VTA nodes), `toHost` back (VTA-made values read
   * on the host or graph outputs). Constants are packed at compile time and not counted.
   */
  layoutTransforms: { toVta: string[]; toHost: string[] };
  ops: Record<string, number>;
  macs: number;
  offloadedMacs: number;
  offloadedFraction: number;
}

function infos(g: Graph, n: Node): (ValueInfo | undefined)[] {
  return n.inputs.map((i) => {
    if (!i) return undefined;
    const v = g.values.get(i)!;
    return { dtype: v.dtype!, shape: staticShape(v)!, const: v.const };
  });
}

export function nodeMacs(g: Graph, n: Node): number {
  const def = opDef(n.op);
  if (!def?.macs) return 0;
  const outs = n.outputs.map((o) => ({ dtype: g.values.get(o)!.dtype!, shape: staticShape(g.values.get(o)!)! }));
  return def.macs(n, infos(g, n), outs);
}

/** The smallest tile of every knob: fits when anything fits. */
const SMALLEST: Knobs = { tile_b: 1, tile_h: 1, tile_w: 1, tile_ci: 1, tile_co: 1, oc_nthread: 1, h_nthread: 1 };

const host = (reason: string | null): Offload => ({ as: null, reason });

function fits(what: () => string | undefined): string | null {
  try {
    return what() ?? null;
  } catch (e) {
    if (e instanceof VtwError) return e.message;
    throw e;
  }
}

/** Why a configuration cannot run the quantized graph's int8 x int8 -> int32 -> int8 operators (undefined: it can). */
export function quantizedWidthsError(d: Derived): string | undefined {
  if (d.inpWidth === 8 && d.wgtWidth === 8 && d.accWidth === 32 && d.outWidth === 8) return undefined;
  return `the quantized graph is int8 x int8 -> int32 -> int8; ${d.variant} has ${d.inpWidth}-bit inputs, ${d.wgtWidth}-bit weights, a ${d.accWidth}-bit accumulator and ${d.outWidth}-bit outputs`;
}

export function offloadRule(g: Graph, n: Node, d: Derived): Offload {
  const ins = infos(g, n);
  if (isQuantizedOp(n.op) && n.op !== 'QuantizeP2' && n.op !== 'DequantizeP2') {
    const why = quantizedWidthsError(d);
    if (why) return host(why);
  }
  switch (n.op) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv':
    case 'QConv': {
      const x = ins[0]!;
      const w = ins[n.op === 'QLinearConv' ? 3 : 1]!;
      if (x.shape.length !== 4) return host('not 2-D');
      if (!w.const) return host('its weight is computed');
      const geo = convGeometry(n, x.shape, w.shape);
      if (geo.KH !== geo.KW) return host(`${geo.KH}x${geo.KW} kernel (VTA's conv2d takes square kernels)`);
      if (geo.SH !== geo.SW) return host(`strides ${geo.SH},${geo.SW} differ`);
      if (geo.DH !== 1 || geo.DW !== 1) return host('dilated');
      if (new Set([geo.PT, geo.PL, geo.PB, geo.PR]).size !== 1) return host(`padding ${geo.PT},${geo.PL},${geo.PB},${geo.PR} is not the same on every side`);
      const why = fits(() => {
        const cg = convGeom({ batch: x.shape[0], h: x.shape[2], w: x.shape[3], cin: x.shape[1], cout: w.shape[0], k: geo.KH, pad: geo.PT, stride: geo.SH, groups: geo.G, shift: 0, bias: true }, d);
        return convKnobError(cg, d, SMALLEST);
      });
      return why ? host(why) : { as: 'conv2d', reason: null };
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul':
    case 'Gemm':
    case 'QDense': {
      const a = ins[0]!;
      const b = ins[n.op === 'QLinearMatMul' ? 3 : 1]!;
      if (!b.const) return host('its weight is computed');
      if (b.shape.length !== 2) return host('its weight is not 2-D');
      if (n.op === 'Gemm' && n.attrs.transA === 1) return host('transA');
      const k = a.shape[a.shape.length - 1];
      const m = sizeOf(a.shape) / k;
      const nOut = (n.op === 'Gemm' && n.attrs.transB === 1) || n.op === 'QDense' ? b.shape[0] : b.shape[1];
      const why = fits(() => convKnobError(denseGeom({ m, k, n: nOut, shift: 0, bias: true }, d), d, SMALLEST));
      return why ? host(why) : { as: 'dense', reason: null };
    }
    case 'Add':
    case 'QAdd': {
      const [a, b] = ins;
      if (!a || !b || a.const || b.const) return host(null);
      if (a.shape.length !== 4 || a.shape.join(',') !== b.shape.join(',')) return host('not two 4-D tensors of one shape');
      return { as: 'add', reason: null };
    }
    case 'MaxPool':
    case 'QMaxPool': {
      const x = ins[0]!;
      if (x.shape.length !== 4) return host('not 2-D');
      const p = poolGeometry(n, x.shape);
      if (p.KH !== p.KW || p.SH !== p.SW || p.DH !== 1 || p.DW !== 1) return host('not a square, undilated window with equal strides');
      if (n.attrs.ceil_mode === 1) return host('ceil_mode');
      if (new Set([p.PT, p.PL, p.PB, p.PR]).size !== 1) return host('padding is not the same on every side');
      if (p.PT >= p.KH) return host('padding not smaller than the window');
      return { as: 'maxpool', reason: null };
    }
    default:
      return host(null);
  }
}

/** Per node: shapes, MACs and (with a configuration) where it would run; per graph: totals. */
export function analyzeGraph(g: Graph, d?: Derived): GraphReport {
  const ops: Record<string, number> = {};
  let macs = 0;
  let offloadedMacs = 0;
  const nodes = g.nodes.map((n): NodeReport => {
    ops[n.op] = (ops[n.op] ?? 0) + 1;
    const m = nodeMacs(g, n);
    const offload = d ? offloadRule(g, n, d) : host(null);
    macs += m;
    if (offload.as) offloadedMacs += m;
    return {
      name: n.name,
      op: n.op,
      inputs: n.inputs.filter(Boolean).map((i) => {
        const v = g.values.get(i)!;
        return { name: i, dtype: v.dtype ?? '?', shape: staticShape(v) ?? [], const: v.const !== undefined };
      }),
      outputs: n.outputs.map((o) => ({ name: o, dtype: g.values.get(o)?.dtype ?? '?', shape: staticShape(g.values.get(o)!) ?? [] })),
      macs: m,
      clip: Array.isArray(n.attrs.clip) ? (n.attrs.clip as number[]) : undefined,
      offload,
    };
  });
  return { nodes, ops, macs, offloadedMacs, offloadedFraction: macs ? offloadedMacs / macs : 0, ...boundaries(g, nodes) };
}

/** The VTA regions and the layout transforms at their boundaries, from the per-node decisions. */
function boundaries(g: Graph, nodes: NodeReport[]): Pick<GraphReport, 'regions' | 'layoutTransforms'> {
  const onVta = new Map(g.nodes.map((n, i) => [n, nodes[i].offload.as !== null]));
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  // union-find over offloaded nodes joined by a value one writes and the other reads
  const parent = new Map<Node, Node>();
  const find = (n: Node): Node => {
    let r = n;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(n, r);
    return r;
  };
  for (const n of g.nodes) if (onVta.get(n)) parent.set(n, n);
  const toVta = new Set<string>();
  const toHost = new Set<string>();
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (!i || g.values.get(i)?.const) continue;
      const p = producer.get(i);
      const pVta = p ? onVta.get(p)! : false;
      if (onVta.get(n) && pVta) parent.set(find(n), find(p!));
      else if (onVta.get(n)) toVta.add(i);
      else if (pVta) toHost.add(i);
    }
  }
  for (const o of g.outputs) {
    const p = producer.get(o);
    if (p && onVta.get(p)) toHost.add(o);
  }
  const groups = new Map<Node, string[]>();
  for (const n of g.nodes) if (onVta.get(n)) groups.set(find(n), [...(groups.get(find(n)) ?? []), n.name]);
  return { regions: [...groups.values()], layoutTransforms: { toVta: [...toVta], toHost: [...toHost] } };
}
