/**
 * Channel scaling before quantization (docs/models.md, "PaddleOCR int8"): after BatchNorm folding
 * the output channels of one conv can have weights of very different size (a channel with a tiny
 * variance gets huge weights), and one per-tensor power-of-two scale then rounds the small channels'
 * weights to a few levels or to zero. Where a conv's result is read only by operators that run in
 * float on the host anyway (hard-swish, sigmoid, global pooling, ...), the graph can carry a
 * per-channel power-of-two factor there for free:
 *
 *   Conv(x, W, b) -> y   becomes   Conv(x, W·2^k, b·2^k) -> y'; Mul(y', 2^-k) -> y
 *
 * with k per output channel, chosen so every channel's max |w| comes as close to the tensor's as a
 * power of two allows, without any channel's |bias| or (given calibration samples) max |output|
 * passing the largest channel's (so the output range does not grow), at most 2^MAX_SHIFT. The float graph computes the same values (up to float rounding: powers of
 * two are exact); the int8 conv on VTA still has one per-tensor scale, and the Mul is a host op
 * beside the float activation that follows. A fused clip must be a relu ([0, ∞)), which commutes
 * with a positive factor; other clips keep the conv as it is.
 */
import { consumers, freshName, staticShape, type Graph, type Node } from '../graph/ir.ts';
import { inferShapes } from '../graph/passes.ts';
import { runGraph, type HostTarget } from '../graph/executor.ts';
import type { Tensor } from '../graph/tensor.ts';
import { TS_HOST } from '../host/ts.ts';
import { tapTarget } from './calibrate.ts';

/** Operators the quantizer may run on int8 data: a conv feeding one of them keeps its int8 output. */
/** Largest per-channel factor 2^k applied (beyond it a channel is so small it is better left alone). */
const MAX_SHIFT = 6;

const INT8_READERS = new Set(['Conv', 'Gemm', 'MatMul', 'MaxPool', 'Add', 'Flatten', 'Reshape']);

export interface ChannelScaling {
  /** Convs rescaled. */
  convs: number;
  /** Output channels that got a factor other than 1. */
  channels: number;
}

/** Max |x| per channel (dimension 1) of the 4-D float values `wanted` names (default: every conv output) over the samples, run on `host`. */
function channelRanges(g: Graph, samples: readonly Tensor[], host: HostTarget, wanted?: ReadonlySet<string>): Map<string, Float64Array> {
  const ranges = new Map<string, Float64Array>();
  const tap = tapTarget(host, (n, outs) => {
    n.outputs.forEach((name, k) => {
      const t = outs[k];
      if (!t || t.shape.length !== 4 || !(wanted ? wanted.has(name) : n.op === 'Conv' && k === 0)) return;
      const [, C, H, W] = t.shape;
      let r = ranges.get(name);
      if (!r) ranges.set(name, (r = new Float64Array(C)));
      for (let i = 0; i < t.data.length; i++) {
        const c = Math.floor(i / (H * W)) % C;
        r[c] = Math.max(r[c], Math.abs(t.data[i] as number));
      }
    });
  });
  for (const x of samples) runGraph(g, new Map([[g.inputs[0], x]]), tap);
  return ranges;
}

/**
 * Rescale the output channels of the convs whose result only float operators read (in place; the
 * graph stays inferred). With calibration `samples` (run on `host`, prepared by the caller if it
 * compiles), no channel's max |y| is raised past the largest channel's, so the per-tensor output
 * range does not grow.
 */
export function scaleConvChannels(g: Graph, samples: readonly Tensor[] = [], host: HostTarget = TS_HOST): ChannelScaling {
  const readers = consumers(g);
  const outRange = channelRanges(g, samples, host);
  const result: ChannelScaling = { convs: 0, channels: 0 };
  const added: { after: Node; mul: Node }[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'Conv') continue;
    const y = n.outputs[0];
    const w = g.values.get(n.inputs[1])?.const;
    const b = n.inputs[2] ? g.values.get(n.inputs[2])?.const : undefined;
    const shape = staticShape(g.values.get(y)!);
    const clip = n.attrs.clip as number[] | undefined;
    if (!w || w.dtype !== 'float32' || (n.inputs[2] && (!b || b.dtype !== 'float32')) || !shape) continue;
    if (clip && !(clip[0] === 0 && (clip[1] === null || clip[1] === Infinity))) continue;
    // an Add with a constant operand (hard-swish's x + 3) stays float: only an Add of two computed values is a QAdd
    const int8Reader = (r: Node) => INT8_READERS.has(r.op) && !(r.op === 'Add' && r.inputs.some((i) => g.values.get(i)?.const));
    if (g.outputs.includes(y) || (readers.get(y) ?? []).some(int8Reader)) continue;
    const CO = w.shape[0];
    const per = w.data.length / CO;
    const chanMax = Array.from({ length: CO }, (_, c) => {
      let m = 0;
      for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(w.data[i] as number));
      return m;
    });
    const top = Math.max(...chanMax);
    const biasTop = b ? Math.max(...Array.from(b.data as Float32Array, Math.abs)) : 0;
    // the largest k with max_c · 2^k <= top that keeps |b_c| · 2^k <= max |b| too (a channel whose
    // weights are nearly zero but whose bias is not must not blow up the output's range), at most MAX_SHIFT
    const k = chanMax.map((m, c) => {
      if (!(m > 0)) return 0;
      let kc = Math.min(MAX_SHIFT, Math.floor(Math.log2(top / m)));
      const bc = b ? Math.abs(b.data[c] as number) : 0;
      if (bc > 0) kc = Math.min(kc, Math.floor(Math.log2(biasTop / bc)));
      const r = outRange.get(y);
      if (r && r[c] > 0) kc = Math.min(kc, Math.floor(Math.log2(Math.max(...r) / r[c])));
      return Math.max(0, kc);
    });
    if (k.every((v) => v === 0)) continue;
    const wData = Float32Array.from(w.data as Float32Array, (v, i) => v * 2 ** k[Math.floor(i / per)]);
    const wName = freshName(g, `${n.inputs[1]}.scaled`);
    g.values.set(wName, { name: wName, dtype: 'float32', shape: [...w.shape], const: { dtype: 'float32', shape: [...w.shape], data: wData } });
    const inputs = [n.inputs[0], wName];
    if (b) {
      const bName = freshName(g, `${n.inputs[2]}.scaled`);
      const bData = Float32Array.from(b.data as Float32Array, (v, c) => v * 2 ** k[c]);
      g.values.set(bName, { name: bName, dtype: 'float32', shape: [...b.shape], const: { dtype: 'float32', shape: [...b.shape], data: bData } });
      inputs.push(bName);
    }
    const scaledOut = freshName(g, `${y}.scaled`);
    g.values.set(scaledOut, { name: scaledOut, dtype: 'float32', shape: [...shape] });
    const factorShape = [1, CO, ...shape.slice(2).map(() => 1)];
    const factor = freshName(g, `${y}.factor`);
    g.values.set(factor, { name: factor, dtype: 'float32', shape: factorShape, const: { dtype: 'float32', shape: factorShape, data: Float32Array.from(k, (v) => 2 ** -v) } });
    n.inputs = inputs;
    n.outputs = [scaledOut];
    added.push({ after: n, mul: { name: freshNode(g, `${n.name}.unscale`), op: 'Mul', inputs: [scaledOut, factor], outputs: [y], attrs: {} } });
    result.convs++;
    result.channels += k.filter((v) => v !== 0).length;
  }
  for (const { after, mul } of added) g.nodes.splice(g.nodes.indexOf(after) + 1, 0, mul);
  const read = consumers(g);
  for (const [name, v] of [...g.values]) if (v.const && !read.has(name) && !g.outputs.includes(name)) g.values.delete(name);
  inferShapes(g);
  return result;
}

function freshNode(g: Graph, base: string): string {
  const names = new Set(g.nodes.map((n) => n.name));
  let name = base;
  for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
  return name;
}

/** How scaleConvInputs picks each input channel's factor 2^k (see there). */
export type InputScalingMode = 'inputs' | 'balanced';
export const INPUT_SCALING_MODES: readonly InputScalingMode[] = ['balanced', 'inputs'];

/** Operators whose output may be int8 after quantization: a conv reading one of them is left alone by scaleConvInputs. */
const INT8_PRODUCERS = new Set(['Conv', 'Gemm', 'MatMul', 'MaxPool', 'Add', 'Flatten', 'Reshape', 'QuantizeP2']);

export interface InputScaling {
  /** Convs whose input channels were rescaled. */
  convs: number;
  /** Input channels that got a factor other than 1. */
  channels: number;
}

/**
 * Per-channel input equalization (cross-layer equalization, Nagel et al. 2019, with the float host
 * operator before the conv as the first layer): where a conv reads a float value the host computes
 * (hard-swish, an SE block's product, ...), the quantizer puts one per-tensor int8 scale on that
 * value, and a channel whose range is far below the tensor's keeps only a few int8 levels. The pass
 * rewrites
 *
 *   Conv(x, W, b)   into   Conv(Mul(x, 2^k), W·2^-k, b)
 *
 * with one power of two per input channel c (k_c on x's channel c, 2^-k_c on the weight columns that
 * read it), so the float graph computes the same values (powers of two are exact) and the int8 conv
 * on VTA is unchanged in form; the Mul is one more host op beside the float activation that makes x.
 *
 *   'inputs':   k_c = floor(log2(R / r_c)), r_c channel c's max |x| over the samples, R the largest:
 *               every channel's range as close to the tensor's as a power of two allows (the weight
 *               columns of small channels shrink by as much).
 *   'balanced': k_c = round(½ log2((R / r_c) · (w_c / W))), w_c channel c's max |weight|, W the
 *               largest: Nagel's balance between the input's and the weights' per-tensor scales,
 *               clamped so that neither r_c·2^k passes R nor w_c·2^-k passes W.
 *
 * 'balanced' is the default: on the PaddleOCR recognizer 'inputs' makes the depthwise convs' weights
 * too coarse (docs/models.md, "PaddleOCR int8"). |k_c| is at most `maxShift` (default 8). Run it before scaleConvChannels (which then evens out the
 * weight rows that this pass shrank, where the conv's output is read in float) and before
 * calibration; the graph stays inferred.
 */
export function scaleConvInputs(g: Graph, samples: readonly Tensor[], host: HostTarget = TS_HOST, opts: { mode?: InputScalingMode; maxShift?: number } = {}): InputScaling {
  const mode = opts.mode ?? 'balanced';
  const maxShift = opts.maxShift ?? 8;
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const convs = g.nodes.filter((n) => {
    if (n.op !== 'Conv') return false;
    const x = n.inputs[0];
    const p = producer.get(x);
    const w = g.values.get(n.inputs[1])?.const;
    const shape = staticShape(g.values.get(x)!);
    // an Add with a constant operand (a learnable affine block's shift, hard-swish's x + 3) stays float: only an Add of two computed values is a QAdd
    const int8Producer = !!p && INT8_PRODUCERS.has(p.op) && !(p.op === 'Add' && p.inputs.some((i) => g.values.get(i)?.const));
    return !!p && !int8Producer && !!w && w.dtype === 'float32' && w.shape.length === 4 && !!shape && shape.length === 4;
  });
  const ranges = channelRanges(g, samples, host, new Set(convs.map((n) => n.inputs[0])));
  const result: InputScaling = { convs: 0, channels: 0 };
  const added: { before: Node; mul: Node }[] = [];
  for (const n of convs) {
    const x = n.inputs[0];
    const r = ranges.get(x);
    const w = g.values.get(n.inputs[1])!.const!;
    const shape = staticShape(g.values.get(x)!)!;
    if (!r) continue;
    const [CO, CIG, KH, KW] = w.shape;
    const C = shape[1];
    const G = C / CIG;
    const coPerGroup = CO / G;
    // weight index of (output o, input channel c): c's group holds outputs [gi·CO/G, (gi+1)·CO/G)
    const colMax = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const gi = Math.floor(c / CIG);
      for (let o = gi * coPerGroup; o < (gi + 1) * coPerGroup; o++) {
        const base = (o * CIG + (c % CIG)) * KH * KW;
        for (let i = 0; i < KH * KW; i++) colMax[c] = Math.max(colMax[c], Math.abs(w.data[base + i] as number));
      }
    }
    const R = Math.max(...r);
    const W = Math.max(...colMax);
    if (!(R > 0) || !(W > 0)) continue;
    const k = Array.from(r, (rc, c) => {
      if (!(rc > 0) || !(colMax[c] > 0)) return 0;
      const up = Math.floor(Math.log2(R / rc)); // r_c·2^k <= R
      if (mode === 'inputs') return Math.min(maxShift, up);
      const down = Math.ceil(Math.log2(colMax[c] / W)); // w_c·2^-k <= W
      return Math.max(-maxShift, Math.min(maxShift, up, Math.max(down, Math.round(0.5 * Math.log2((R / rc) * (colMax[c] / W))))));
    });
    if (k.every((v) => v === 0)) continue;
    const wData = Float32Array.from(w.data as Float32Array, (v, i) => {
      const o = Math.floor(i / (CIG * KH * KW));
      const c = Math.floor(o / coPerGroup) * CIG + (Math.floor(i / (KH * KW)) % CIG);
      return v * 2 ** -k[c];
    });
    const wName = freshName(g, `${n.inputs[1]}.inscaled`);
    g.values.set(wName, { name: wName, dtype: 'float32', shape: [...w.shape], const: { dtype: 'float32', shape: [...w.shape], data: wData } });
    const factorShape = [1, C, 1, 1];
    const factor = freshName(g, `${x}.infactor.${n.name}`);
    g.values.set(factor, { name: factor, dtype: 'float32', shape: factorShape, const: { dtype: 'float32', shape: factorShape, data: Float32Array.from(k, (v) => 2 ** v) } });
    const scaled = freshName(g, `${x}.inscaled.${n.name}`);
    g.values.set(scaled, { name: scaled, dtype: 'float32', shape: [...shape] });
    added.push({ before: n, mul: { name: freshNode(g, `${n.name}.inscale`), op: 'Mul', inputs: [x, factor], outputs: [scaled], attrs: {} } });
    n.inputs = [scaled, wName, ...n.inputs.slice(2)];
    result.convs++;
    result.channels += k.filter((v) => v !== 0).length;
  }
  for (const { before, mul } of added) g.nodes.splice(g.nodes.indexOf(before), 0, mul);
  const read = consumers(g);
  for (const [name, v] of [...g.values]) if (v.const && !read.has(name) && !g.outputs.includes(name)) g.values.delete(name);
  inferShapes(g);
  return result;
}
