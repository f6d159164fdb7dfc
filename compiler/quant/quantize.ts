/**
 * int8 post-training quantization: a float graph and its calibration statistics in, a quantized
 * graph (the contract of compiler/graph/quantized.ts) and a per-layer accuracy report out
 * (docs/models.md, "Quantization").
 *
 * The scheme is VTA's own (vta-reference Part B §5.8): every quantized value is int8 with a
 * per-tensor power-of-two scale, real = q · 2^-frac, so every requantization is an arithmetic shift.
 *
 *   Conv / Gemm / MatMul with constant weights (+ constant bias, + fused Relu/Clip) -> QConv / QDense:
 *       weight frac per tensor ('max': the largest frac that does not clip; 'mse': the frac of least
 *       squared error, which may clip a few outliers), shift = in_frac + w_frac - out_frac,
 *       bias rounded (to nearest) to the output scale, fused clip bounds at the output scale.
 *   MaxPool on an int8 value -> QMaxPool;  Add of two int8 values -> QAdd (+ its fused relu/clip);
 *   Flatten / Reshape of an int8 value stay themselves, on int8 data (they only relabel the shape).
 *   Anything else stays float32: a DequantizeP2 feeds it, a QuantizeP2 leaves it.
 *
 * Choosing fracs: a value's own frac is the largest with range · 2^frac <= 127.5, range being the
 * calibration's max |x| or a percentile of |x| (compiler/quant/calibrate.ts). Values that must share
 * a scale (a QAdd's inputs and output, a QMaxPool's or Flatten's input and output) form one class
 * whose frac is the smallest of its members' (no member clips by more than its own choice would).
 * A shift must be 0..31: where in_frac + w_frac < out_frac the output class takes the coarser frac.
 *
 * Scales 'ratio' (an option; 'pow2' is the default and VTA's scheme): fracs need not be integers,
 * only every requantization must still be a shift, i.e. in_frac + w_frac - out_frac an integer.
 * Every activation then takes its own real frac (range · 2^frac = 127.5 exactly: no scale is up to
 * 2x coarser than its range needs), and each layer's weight frac is the largest that makes the
 * shift an integer without clipping the weights (up to 1 bit below the weights' own, as in 'pow2',
 * where the weights' own frac is rounded down too). The host's quantize / dequantize multiply by
 * 2^±frac whatever frac is; VTA only ever sees the integer shifts and clip bounds.
 */
import { CompileError } from '../errors.ts';
import { runGraph, type HostTarget } from '../graph/executor.ts';
import { consumers, staticShape, type Attr, type Graph, type Node, type Value } from '../graph/ir.ts';
import { inferShapes } from '../graph/passes.ts';
import { convGeometry, poolGeometry } from '../graph/shapes.ts';
import { roundHalfEven, type Tensor } from '../graph/tensor.ts';
import { TS_HOST } from '../host/ts.ts';
import { DEFAULT_PERCENTILE, rangeOf, tapTarget, type CalibrationMethod, type CalibrationStats } from './calibrate.ts';
import { gptqRound, type GptqOptions, type LayerHessian } from './gptq.ts';

export type WeightMethod = 'max' | 'mse';
/** 'pow2': every scale a power of two (VTA's scheme); 'ratio': any scales whose ratios at each requantization are powers of two. */
export type ScaleMethod = 'pow2' | 'ratio';
export const SCALE_METHODS: readonly ScaleMethod[] = ['pow2', 'ratio'];

export interface QuantizeOptions {
  method: CalibrationMethod;
  /** Percentile of |x| kept by method 'percentile' (default 99.99). */
  percentile?: number;
  /** Keep the first conv/dense layer in float (as TVM's qconfig skip_conv_layers=[0]). */
  skipFirst?: boolean;
  /** Keep the last conv/dense layer in float (as TVM's qconfig skip_dense_layer). */
  skipLast?: boolean;
  /** How weight fracs are chosen (default 'mse'). */
  weights?: WeightMethod;
  /** Power-of-two scales (default) or only power-of-two ratios (see the file comment). */
  scales?: ScaleMethod;
  /**
   * Center the shift's rounding (default false): VTA's shift right floors, which lowers every output
   * by (1 - 2^-shift) / 2 of a step on average; the bias, added after the shift, gains that much
   * before it is rounded, so each layer's outputs are unbiased. Nothing on VTA changes.
   */
  centerShifts?: boolean;
  /** Conv / dense nodes (by name) to keep in float32, e.g. the tiny SE-block convs whose int8 error costs more than VTA saves. */
  keepFloat?: readonly string[];
  /**
   * Input Hessians of conv / dense nodes (by name; compiler/quant/gptq.ts collectHessians): those
   * layers' weights are GPTQ-rounded on their usual grid instead of rounded to nearest.
   */
  hessians?: ReadonlyMap<string, LayerHessian>;
  /** GPTQ's dampening and column order (with `hessians`). */
  gptq?: GptqOptions;
  /** The host target the report runs both graphs on (default TS_HOST). */
  host?: HostTarget;
  /** How many of the calibration samples kept in the statistics the report runs (default all of them). */
  reportSamples?: number;
}

/** fp32 vs int8 at one quantized node's output, over the report samples. */
export interface LayerReport {
  node: string;
  op: string;
  /** The fp32 graph's value this node computes. */
  value: string;
  frac: number;
  weightFrac?: number;
  shift?: number;
  /** max |x| of the fp32 value over the report samples. */
  range: number;
  /** Cosine similarity of the dequantized int8 output and the fp32 output (1 = same direction). */
  cosine: number;
  maxAbsError: number;
  /** Fraction of int8 outputs at -128 or 127 (clipped by the scale, not by a relu). */
  saturated: number;
}

export interface QuantReport {
  method: CalibrationMethod;
  percentile?: number;
  weights: WeightMethod;
  /** Input tensors the report ran. */
  samples: number;
  layers: LayerReport[];
  /** Conv / dense nodes left in float, and why. */
  float: { node: string; op: string; reason: string }[];
}

/** Largest frac with range · 2^frac <= 127.5 (Infinity for an all-zero value: it takes any scale). */
export function fracFor(range: number): number {
  if (!(range > 0)) return Infinity;
  let f = Math.floor(Math.log2(127.5 / range));
  // log2 may round across the boundary: settle it exactly
  while (range * 2 ** (f + 1) <= 127.5) f++;
  while (range * 2 ** f > 127.5) f--;
  return f;
}

function maxAbs(w: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(w[i]));
  return m;
}

const quantizeValue = (x: number, frac: number) => Math.max(-128, Math.min(127, roundHalfEven(x * 2 ** frac)));

/** The real frac that maps `range` exactly onto 127.5 (Infinity for an all-zero value). */
function realFracFor(range: number): number {
  return range > 0 ? Math.log2(127.5 / range) : Infinity;
}

/**
 * The frac of a weight tensor: 'max' never clips; 'mse' also tries up to 3 finer fracs and keeps
 * the least squared error. With `offset` the fracs tried are offset + an integer (scales 'ratio').
 */
export function weightFrac(w: ArrayLike<number>, method: WeightMethod, offset = 0): number {
  let absMax = 0;
  for (let i = 0; i < w.length; i++) absMax = Math.max(absMax, Math.abs(w[i]));
  if (!(absMax > 0)) return offset;
  let base = offset + fracFor(absMax * 2 ** offset);
  // fracFor settled the integer part exactly for the scaled range; guard the float sum once more
  while (!(absMax * 2 ** base <= 127.5)) base--;
  if (method === 'max') return base;
  let best = base;
  let bestErr = Infinity;
  for (let f = base; f <= base + 3; f++) {
    let err = 0;
    for (let i = 0; i < w.length; i++) {
      const e = quantizeValue(w[i], f) * 2 ** -f - w[i];
      err += e * e;
    }
    if (err < bestErr) [best, bestErr] = [f, err];
  }
  return best;
}

/** A conv / dense node as the quantizer sees it: float weight [CO, ...] or [N, K], bias per output channel. */
interface Layer {
  node: Node;
  op: 'QConv' | 'QDense';
  weight: Tensor;
  bias?: Float64Array;
  /** QConv attributes (strides, pads, group). */
  attrs: Record<string, Attr>;
}

const constOf = (g: Graph, name: string | undefined) => (name ? g.values.get(name)?.const : undefined);

/** The node as a QConv / QDense layer, or why it stays float. */
function asLayer(g: Graph, n: Node): Layer | string {
  const x = g.values.get(n.inputs[0]);
  const shape = x && staticShape(x);
  if (!x || !shape || x.const || x.dtype !== 'float32') return 'its data is not a computed float32 tensor';
  const wt = constOf(g, n.inputs[1]);
  if (!wt || wt.dtype !== 'float32') return 'its weight is not a float32 constant';
  const biasT = constOf(g, n.inputs[2]);
  if (n.inputs[2] && !biasT) return 'its bias is computed';
  if (n.op === 'Conv') {
    if (shape.length !== 4) return 'not 2-D';
    const geo = convGeometry(n, shape, wt.shape);
    if (geo.KH !== geo.KW || geo.SH !== geo.SW || geo.DH !== 1 || geo.DW !== 1 || new Set([geo.PT, geo.PL, geo.PB, geo.PR]).size !== 1) {
      return 'not a square, undilated kernel with equal strides and padding';
    }
    const bias = biasT && Float64Array.from(biasT.data as ArrayLike<number>);
    return { node: n, op: 'QConv', weight: wt, bias, attrs: { strides: [geo.SH, geo.SW], pads: [geo.PT, geo.PL, geo.PB, geo.PR], group: geo.G } };
  }
  if (shape.length !== 2 || wt.shape.length !== 2) return 'data or weight is not 2-D';
  const [K, N] = n.op === 'Gemm' && n.attrs.transB === 1 ? [wt.shape[1], wt.shape[0]] : wt.shape;
  if (n.op === 'Gemm' && n.attrs.transA === 1) return 'transA';
  const alpha = typeof n.attrs.alpha === 'number' ? n.attrs.alpha : 1;
  const beta = typeof n.attrs.beta === 'number' ? n.attrs.beta : 1;
  // QDense takes the weight as [N, K]
  const w = new Float32Array(N * K);
  const transposed = n.op === 'Gemm' && n.attrs.transB === 1;
  for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) w[j * K + k] = alpha * (transposed ? wt.data[j * K + k] : wt.data[k * N + j]);
  let bias: Float64Array | undefined;
  if (biasT && beta !== 0) {
    const len = biasT.data.length;
    if (len !== N && len !== 1) return `its bias [${biasT.shape.join(',')}] is not one value per output`;
    bias = Float64Array.from({ length: N }, (_, j) => beta * (biasT.data[len === 1 ? 0 : j] as number));
  }
  return { node: n, op: 'QDense', weight: { dtype: 'float32', shape: [N, K], data: w }, bias, attrs: {} };
}

/** Whether a MaxPool can be a QMaxPool (square, undilated, floor-sized, the same padding everywhere, smaller than the window). */
function poolFits(g: Graph, n: Node): boolean {
  const shape = staticShape(g.values.get(n.inputs[0])!);
  if (!shape || shape.length !== 4 || n.attrs.ceil_mode === 1) return false;
  const p = poolGeometry(n, shape);
  return p.KH === p.KW && p.SH === p.SW && p.DH === 1 && p.DW === 1 && new Set([p.PT, p.PL, p.PB, p.PR]).size === 1 && p.PT < p.KH;
}

/** Union-find over value names: values that must share one frac. */
class FracClasses {
  private parent = new Map<string, string>();
  find(v: string): string {
    let r = v;
    while (this.parent.has(r) && this.parent.get(r) !== r) r = this.parent.get(r)!;
    if (r !== v) this.parent.set(v, r);
    return r;
  }
  join(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

/** The int clip bounds of a fused real clip [lo, hi] at `frac` (no clip: the int8 range). */
function intClip(clip: Attr | undefined, frac: number): [number, number] {
  if (!Array.isArray(clip)) return [-128, 127];
  const [lo, hi] = clip as number[];
  const q = (v: number) => (Number.isFinite(v) ? roundHalfEven(v * 2 ** frac) : v);
  return [Math.max(-128, Math.min(127, q(lo))), Math.min(127, Math.max(-128, q(hi)))];
}

/** Quantize a bound, inferred float graph (the output of runPasses: BatchNorm folded, activations fused). */
export function quantizeGraph(g: Graph, stats: CalibrationStats, opts: QuantizeOptions): { graph: Graph; report: QuantReport } {
  const weights = opts.weights ?? 'mse';
  const ratio = (opts.scales ?? 'pow2') === 'ratio';
  const percentile = opts.percentile ?? DEFAULT_PERCENTILE;
  if (opts.method === 'percentile' && !(percentile > 0 && percentile <= 100)) throw new CompileError(`--percentile ${percentile}: must be above 0 and at most 100`);
  for (const n of g.nodes) for (const o of n.outputs) if (o && !staticShape(g.values.get(o)!)) throw new CompileError(`quantize: value ${o} has no static shape; bind and infer the graph first`);

  // 1. Which conv / dense nodes become QConv / QDense
  const layers = new Map<Node, Layer>();
  const float: QuantReport['float'] = [];
  const candidates = g.nodes.filter((n) => n.op === 'Conv' || n.op === 'Gemm' || n.op === 'MatMul');
  const unknown = (opts.keepFloat ?? []).filter((name) => !candidates.some((n) => n.name === name));
  if (unknown.length) throw new CompileError(`keepFloat: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a Conv, Gemm or MatMul node of ${g.name || 'the graph'}; name conv/dense nodes (vtw model inspect lists them)`);
  candidates.forEach((n, i) => {
    const l = asLayer(g, n);
    if (typeof l === 'string') float.push({ node: n.name, op: n.op, reason: l });
    else if (opts.skipFirst && i === 0) float.push({ node: n.name, op: n.op, reason: 'skipFirst' });
    else if (opts.skipLast && i === candidates.length - 1) float.push({ node: n.name, op: n.op, reason: 'skipLast' });
    else if (opts.keepFloat?.includes(n.name)) float.push({ node: n.name, op: n.op, reason: 'keepFloat' });
    else layers.set(n, l);
  });

  // 2. Which other nodes run on int8 data (a value is int8 when a quantized node makes it)
  const int8 = new Set<string>();
  const qop = new Map<Node, string>();
  const classes = new FracClasses();
  for (const n of g.nodes) {
    const [a, b] = n.inputs;
    let op: string | undefined;
    if (layers.has(n)) op = layers.get(n)!.op;
    else if (n.op === 'MaxPool' && int8.has(a) && poolFits(g, n)) op = 'QMaxPool';
    else if (n.op === 'Add' && int8.has(a) && int8.has(b) && staticShape(g.values.get(a)!)!.join() === staticShape(g.values.get(b)!)!.join()) op = 'QAdd';
    else if ((n.op === 'Flatten' || (n.op === 'Reshape' && constOf(g, b))) && int8.has(a)) op = n.op;
    if (!op) continue;
    qop.set(n, op);
    int8.add(n.outputs[0]);
    if (op !== 'QConv' && op !== 'QDense') classes.join(n.outputs[0], a);
    if (op === 'QAdd') classes.join(b, a);
  }

  // 3. Fracs: per class the smallest of its members' own; float values quantized for a layer get their own
  const own = (v: string): number => {
    const s = stats.values.get(v);
    if (!s) throw new CompileError(`quantize: the calibration statistics have no range for value ${v} (collect them on this graph)`);
    const range = rangeOf(s, opts.method, percentile);
    return ratio ? realFracFor(range) : fracFor(range);
  };
  const classFrac = new Map<string, number>();
  const fracOf = (v: string) => {
    const f = classFrac.get(classes.find(v));
    return f === undefined || !Number.isFinite(f) ? 0 : f;
  };
  const lower = (v: string, f: number) => {
    const r = classes.find(v);
    classFrac.set(r, Math.min(classFrac.get(r) ?? Infinity, f));
  };
  for (const v of int8) lower(v, own(v));
  const layerInputs = new Set([...layers.keys()].map((n) => n.inputs[0]).filter((v) => !int8.has(v)));
  for (const v of layerInputs) lower(v, own(v));
  // the weights' own frac (real with 'ratio', where the final one also depends on the activations' fracs below)
  const wFrac = new Map<Node, number>([...layers].map(([n, l]) => [n, ratio ? realFracFor(maxAbs(l.weight.data as Float32Array)) : weightFrac(l.weight.data as Float32Array, weights)]));
  for (const [n, f] of wFrac) if (!Number.isFinite(f)) wFrac.set(n, 0);
  // shifts must be 0..31; lowering an output frac may lower a later layer's input frac: repeat until settled
  for (let round = 0, changed = true; changed; round++) {
    if (round > g.nodes.length + 2) throw new CompileError('quantize: the fracs of the graph do not settle (a residual loop whose weights need a negative frac)');
    changed = false;
    for (const n of layers.keys()) {
      const acc = fracOf(n.inputs[0]) + wFrac.get(n)!;
      if (fracOf(n.outputs[0]) > acc) {
        lower(n.outputs[0], acc);
        changed = true;
      }
    }
  }
  if (ratio) {
    // the largest weight frac at or below the weights' own that makes the shift an integer
    for (const [n, l] of layers) {
      const offset = fracOf(n.outputs[0]) - fracOf(n.inputs[0]);
      wFrac.set(n, weightFrac(l.weight.data as Float32Array, weights, offset - Math.floor(offset)));
    }
  }
  for (const n of layers.keys()) {
    const shift = Math.round(fracOf(n.inputs[0]) + wFrac.get(n)! - fracOf(n.outputs[0]));
    if (shift > 31) throw new CompileError(`quantize: node ${n.name} would need a shift of ${shift} (more than 31); its output range is far below its inputs' — check the calibration set`);
  }

  // 4. Rewrite
  const out: Graph = { name: g.name, opset: g.opset, values: new Map(), nodes: [], inputs: [...g.inputs], outputs: [...g.outputs] };
  for (const [k, v] of g.values) if (v.const || g.inputs.includes(k)) out.values.set(k, { ...v, shape: v.shape && [...v.shape] });
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; out.values.has(name) || g.values.has(name); i++) name = `${base}_${i}`;
    return name;
  };
  const addValue = (name: string, dtype: Value['dtype'], shape: number[], data?: Tensor['data']) =>
    out.values.set(name, { name, dtype, shape: [...shape], ...(data ? { const: { dtype: dtype!, shape: [...shape], data } } : {}) });
  const shapeOf = (v: string) => staticShape(g.values.get(v)!)!;
  /** int8 name of an int8 value (graph outputs get a distinct int8 name; their float name stays the output) */
  const int8Name = new Map<string, string>();
  const floatName = new Map<string, string>();
  // node names stay unique: a quantized node keeps its float node's name, an added one is named after its output
  const nodeNames = new Set(g.nodes.map((n) => n.name));
  const emit = (op: string, inputs: string[], output: string, attrs: Record<string, Attr>, name?: string) => {
    let unique = name ?? output;
    if (!name) for (let i = 1; nodeNames.has(unique); i++) unique = `${output}_${i}`;
    nodeNames.add(unique);
    out.nodes.push({ name: unique, op, inputs, outputs: [output], attrs });
  };
  const asInt8 = (v: string): string => {
    if (int8.has(v)) return int8Name.get(v)!;
    if (!int8Name.has(v)) {
      const q = fresh(`${v}.q`);
      addValue(q, 'int8', shapeOf(v));
      emit('QuantizeP2', [v], q, { frac: fracOf(v) });
      int8Name.set(v, q);
    }
    return int8Name.get(v)!;
  };
  const asFloat = (v: string): string => {
    if (!v || !int8.has(v)) return v;
    if (!floatName.has(v)) {
      const f = fresh(`${v}.dq`);
      addValue(f, 'float32', shapeOf(v));
      emit('DequantizeP2', [int8Name.get(v)!], f, { frac: fracOf(v) });
      floatName.set(v, f);
    }
    return floatName.get(v)!;
  };
  const layerInfo = new Map<string, { weightFrac: number; shift: number }>();
  for (const n of g.nodes) {
    const op = qop.get(n);
    if (!op) {
      // a float node: every int8 input is dequantized first
      for (const o of n.outputs) if (o) out.values.set(o, { ...g.values.get(o)!, shape: [...shapeOf(o)] });
      out.nodes.push({ ...n, inputs: n.inputs.map(asFloat), outputs: [...n.outputs], attrs: { ...n.attrs } });
      continue;
    }
    const y = n.outputs[0];
    const frac = fracOf(y);
    const yName = g.outputs.includes(y) ? fresh(`${y}.int8`) : y;
    int8Name.set(y, yName);
    addValue(yName, 'int8', shapeOf(y));
    const l = layers.get(n);
    if (l) {
      const x = asInt8(n.inputs[0]);
      const wf = wFrac.get(n)!;
      // an integer by construction ('ratio': up to the float sum's rounding)
      const shift = Math.round(fracOf(n.inputs[0]) + wf - frac);
      const wName = fresh(`${n.inputs[1]}.int8`);
      const hs = opts.hessians?.get(n.name);
      addValue(wName, 'int8', l.weight.shape, hs ? gptqRound(l.weight, hs, wf, opts.gptq) : Int8Array.from(l.weight.data as Float32Array, (v) => quantizeValue(v, wf)));
      let bName = '';
      if (l.bias) {
        bName = fresh(`${n.name}.bias.int32`);
        const center = opts.centerShifts ? (1 - 2 ** -shift) / 2 : 0;
        addValue(bName, 'int32', [l.bias.length], Int32Array.from(l.bias, (v) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v * 2 ** frac + center)))));
      }
      emit(l.op, [x, wName, bName], yName, { ...l.attrs, shift, clip: intClip(n.attrs.clip, frac), frac }, n.name);
      layerInfo.set(n.name, { weightFrac: wf, shift });
    } else if (op === 'QMaxPool') {
      const p = poolGeometry(n, shapeOf(n.inputs[0]));
      emit(op, [int8Name.get(n.inputs[0])!], yName, { kernel_shape: [p.KH, p.KW], strides: [p.SH, p.SW], pads: [p.PT, p.PL, p.PB, p.PR], frac }, n.name);
    } else if (op === 'QAdd') {
      emit(op, [int8Name.get(n.inputs[0])!, int8Name.get(n.inputs[1])!], yName, { clip: intClip(n.attrs.clip, frac), frac }, n.name);
    } else {
      emit(op, [int8Name.get(n.inputs[0])!, ...n.inputs.slice(1)], yName, { ...n.attrs, frac }, n.name);
    }
    if (yName !== y) {
      emit('DequantizeP2', [yName], y, { frac });
      addValue(y, 'float32', shapeOf(y));
    }
  }
  const unused = consumers(out);
  for (const [k, v] of [...out.values]) if (v.const && !unused.has(k)) out.values.delete(k);
  inferShapes(out);

  const report: QuantReport = {
    method: opts.method,
    ...(opts.method === 'percentile' ? { percentile } : {}),
    weights,
    samples: 0,
    layers: [],
    float,
  };
  compareLayers(g, out, stats, opts, report, layerInfo);
  return { graph: out, report };
}

/** Run both graphs on the kept samples and compare every quantized node's output with the fp32 value. */
function compareLayers(g: Graph, q: Graph, stats: CalibrationStats, opts: QuantizeOptions, report: QuantReport, info: Map<string, { weightFrac: number; shift: number }>): void {
  const host = opts.host ?? TS_HOST;
  const samples = stats.samples.slice(0, opts.reportSamples ?? stats.samples.length);
  const compared = q.nodes.filter((n) => n.op === 'QConv' || n.op === 'QDense' || n.op === 'QAdd' || n.op === 'QMaxPool');
  const isCompared = new Set(compared);
  // the fp32 value of each compared node: the float graph's node of the same name writes it
  const fpValue = new Map(g.nodes.map((n) => [n.name, n.outputs[0]]));
  const acc = new Map(compared.map((n) => [n.name, { dot: 0, nf: 0, nq: 0, maxErr: 0, range: 0, sat: 0, count: 0 }]));
  for (const x of samples) {
    const fp = new Map<string, Tensor>();
    const wanted = new Set(compared.map((n) => fpValue.get(n.name)));
    runGraph(g, new Map([[g.inputs[0], x]]), tapTarget(host, (n, outs) => n.outputs.forEach((o, k) => wanted.has(o) && fp.set(o, outs[k]))));
    runGraph(q, new Map([[q.inputs[0], x]]), tapTarget(host, (n, outs) => {
      if (!isCompared.has(n)) return;
      const a = acc.get(n.name)!;
      const ref = fp.get(fpValue.get(n.name)!)!;
      const scale = 2 ** -(n.attrs.frac as number);
      const d = outs[0].data;
      for (let i = 0; i < d.length; i++) {
        const r = ref.data[i] as number;
        const v = (d[i] as number) * scale;
        a.dot += r * v;
        a.nf += r * r;
        a.nq += v * v;
        a.maxErr = Math.max(a.maxErr, Math.abs(v - r));
        a.range = Math.max(a.range, Math.abs(r));
        if (d[i] === 127 || d[i] === -128) a.sat++;
      }
      a.count += d.length;
    }));
  }
  report.samples = samples.length;
  report.layers = compared.map((n) => {
    const a = acc.get(n.name)!;
    const cosine = a.nf === 0 && a.nq === 0 ? 1 : a.dot / Math.sqrt(a.nf * a.nq || 1);
    return {
      node: n.name,
      op: n.op,
      value: fpValue.get(n.name)!,
      frac: n.attrs.frac as number,
      ...info.get(n.name),
      range: a.range,
      cosine,
      maxAbsError: a.maxErr,
      saturated: a.count ? a.sat / a.count : 0,
    };
  });
}

/** The report as a text table (one line per quantized layer, then the float ones). */
export function formatReport(r: QuantReport): string {
  const head = `method ${r.method}${r.percentile !== undefined ? ` (${r.percentile} %)` : ''}, weights ${r.weights}, fp32 vs int8 on ${r.samples} calibration input${r.samples === 1 ? '' : 's'}`;
  const rows = r.layers.map((l) =>
    [l.node.padEnd(24), l.op.padEnd(9), String(l.frac).padStart(5), (l.weightFrac ?? '').toString().padStart(6), (l.shift ?? '').toString().padStart(6),
      l.range.toPrecision(4).padStart(10), l.cosine.toFixed(5).padStart(9), l.maxAbsError.toPrecision(3).padStart(10), `${(l.saturated * 100).toFixed(2)} %`.padStart(9)].join(' '));
  const title = ['node'.padEnd(24), 'op'.padEnd(9), 'frac'.padStart(5), 'w_frac'.padStart(6), 'shift'.padStart(6), 'max|fp32|'.padStart(10), 'cosine'.padStart(9), 'max|err|'.padStart(10), 'saturated'.padStart(9)].join(' ');
  const floats = r.float.map((f) => `  float: ${f.node} (${f.op}): ${f.reason}`);
  return [head, title, ...rows, ...floats].join('\n') + '\n';
}
