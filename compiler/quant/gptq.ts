/**
 * GPTQ weight rounding (Frantar et al. 2022, "GPTQ: accurate post-training quantization for
 * generative pre-trained transformers", after OBQ / Optimal Brain Surgeon): instead of rounding every
 * weight to its nearest grid point, quantize one input column at a time and move the rounding error
 * onto the columns not yet quantized, weighted by the inverse Hessian H = Σ x xᵀ of the layer's
 * inputs over calibration data, so the layer's OUTPUT error ‖(W - Ŵ) X‖² is small rather than the
 * weights' own. The grid stays the quantizer's (one per-tensor scale 2^-frac, int8 [-128, 127]):
 * nothing VTA runs changes form (docs/models.md, "GPTQ weight rounding").
 *
 * A conv's "input column" is an im2col entry: for output channels of group g, the input vector at
 * one output position is the window (C/G channels × KH × KW, zero where it pads) of the group's
 * input channels, in the weight's own order [ci, kh, kw]. A dense layer's input vector is one row
 * of its [M, K] data. Each group has its own d × d Hessian (d = C/G · KH · KW, or K).
 */
import { CompileError } from '../errors.ts';
import { runGraph, type HostTarget } from '../graph/executor.ts';
import { consumers, staticShape, type Graph, type Node } from '../graph/ir.ts';
import { convGeometry } from '../graph/shapes.ts';
import { roundHalfEven, type Tensor } from '../graph/tensor.ts';
import { tapTarget } from './calibrate.ts';

/** The input second moments of one conv / dense layer: one symmetric d × d matrix per group (row-major), summed over `count` input vectors. */
export interface LayerHessian {
  d: number;
  /** One Σ x xᵀ per group (a dense layer: one). */
  h: Float64Array[];
  /** Input vectors summed (per group). */
  count: number;
}

/** What the Hessian of a node's input needs: the window geometry of a conv, or nothing for a dense layer. */
interface Geometry {
  conv: boolean;
  G: number; C: number; H: number; W: number;
  KH: number; KW: number; SH: number; SW: number; PT: number; PL: number; OH: number; OW: number;
}

function geometryOf(g: Graph, n: Node): Geometry | undefined {
  const x = staticShape(g.values.get(n.inputs[0])!);
  const w = g.values.get(n.inputs[1])?.const?.shape;
  if (!x || !w) return undefined;
  if (n.op === 'Conv') {
    if (x.length !== 4) return undefined;
    const geo = convGeometry(n, x, w);
    if (geo.DH !== 1 || geo.DW !== 1) return undefined;
    return { conv: true, G: geo.G, C: x[1], H: x[2], W: x[3], KH: geo.KH, KW: geo.KW, SH: geo.SH, SW: geo.SW, PT: geo.PT, PL: geo.PL, OH: geo.OH, OW: geo.OW };
  }
  if ((n.op === 'Gemm' || n.op === 'MatMul') && x.length === 2 && n.attrs.transA !== 1) {
    return { conv: false, G: 1, C: x[1], H: 1, W: 1, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH: 1, OW: 1 };
  }
  return undefined;
}

/** Add one input tensor's vectors to the layer's Hessians (upper triangle only; `symmetrize` fills the rest). */
function accumulate(hs: LayerHessian, geo: Geometry, x: Tensor): void {
  const data = x.data as Float32Array;
  const { d } = hs;
  const v = new Float64Array(d);
  const addOuter = (h: Float64Array) => {
    for (let i = 0; i < d; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) h[row + j] += vi * v[j];
    }
  };
  if (!geo.conv) {
    const rows = data.length / geo.C;
    for (let m = 0; m < rows; m++) {
      for (let k = 0; k < d; k++) v[k] = data[m * d + k];
      addOuter(hs.h[0]);
    }
    hs.count += rows;
    return;
  }
  const { G, C, H, W, KH, KW, SH, SW, PT, PL, OH, OW } = geo;
  const cg = C / G;
  const batch = data.length / (C * H * W);
  for (let b = 0; b < batch; b++) {
    for (let grp = 0; grp < G; grp++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let k = 0;
          for (let ci = 0; ci < cg; ci++) {
            const plane = ((b * C + grp * cg + ci) * H) * W;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * SH - PT + kh;
              for (let kw = 0; kw < KW; kw++, k++) {
                const iw = ow * SW - PL + kw;
                v[k] = ih >= 0 && ih < H && iw >= 0 && iw < W ? data[plane + ih * W + iw] : 0;
              }
            }
          }
          addOuter(hs.h[grp]);
        }
      }
    }
  }
  hs.count += batch * OH * OW;
}

/**
 * The input Hessians Σ x xᵀ of the named conv / dense nodes of the float graph `g` over the
 * calibration tensors, computed from the values the fp32 graph gives each layer's input on `host`
 * (prepared for `g` by the caller if it compiles). Nodes whose geometry does not fit (dilated,
 * transposed, not 2-D data) are left out.
 */
export function collectHessians(g: Graph, samples: readonly Tensor[], host: HostTarget, names: readonly string[], onProgress?: (done: number, total: number) => void): Map<string, LayerHessian> {
  const want = new Set(names);
  const byInput = new Map<string, { name: string; geo: Geometry }[]>();
  const out = new Map<string, LayerHessian>();
  for (const n of g.nodes) {
    if (!want.has(n.name)) continue;
    const geo = geometryOf(g, n);
    if (!geo) continue;
    const d = (geo.C / geo.G) * geo.KH * geo.KW;
    out.set(n.name, { d, h: Array.from({ length: geo.G }, () => new Float64Array(d * d)), count: 0 });
    const list = byInput.get(n.inputs[0]) ?? [];
    list.push({ name: n.name, geo });
    byInput.set(n.inputs[0], list);
  }
  const see = (v: string, t: Tensor) => {
    for (const { name, geo } of byInput.get(v) ?? []) accumulate(out.get(name)!, geo, t);
  };
  const target = tapTarget(host, (n, outs) => n.outputs.forEach((o, k) => o && outs[k] && see(o, outs[k])));
  samples.forEach((x, i) => {
    see(g.inputs[0], x);
    runGraph(g, new Map([[g.inputs[0], x]]), target);
    onProgress?.(i + 1, samples.length);
  });
  for (const hs of out.values()) for (const h of hs.h) symmetrize(h, hs.d);
  return out;
}

function symmetrize(h: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) h[i * d + j] = h[j * d + i];
}

/** In-place lower Cholesky factor of a symmetric positive definite d × d matrix (row-major); false if it is not positive definite. */
function cholesky(a: Float64Array, d: number): boolean {
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let k = 0; k < j; k++) s -= a[j * d + k] * a[j * d + k];
    if (!(s > 0)) return false;
    const l = Math.sqrt(s);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let k = 0; k < j; k++) t -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = t / l;
    }
    for (let k = j + 1; k < d; k++) a[j * d + k] = 0;
  }
  return true;
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U) for a damped H: the quantities GPTQ reads. Row i
 * of U, divided by U[i][i], is how the error of column i spreads over the later columns.
 */
function inverseCholeskyUpper(h: Float64Array, d: number): Float64Array {
  // L Lᵀ = H, then H⁻¹ = L⁻ᵀ L⁻¹; its Cholesky factor is found directly below
  const l = Float64Array.from(h);
  if (!cholesky(l, d)) throw new CompileError('gptq: the damped input Hessian is not positive definite');
  // inverse of L (lower triangular)
  const li = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    li[i * d + i] = 1 / l[i * d + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * d + k] * li[k * d + j];
      li[i * d + j] = -s / l[i * d + i];
    }
  }
  // H⁻¹ = Liᵀ Li
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let s = 0;
      for (let k = Math.max(i, j); k < d; k++) s += li[k * d + i] * li[k * d + j];
      inv[i * d + j] = s;
      inv[j * d + i] = s;
    }
  }
  // H⁻¹ = Uᵀ U with U upper: U = (lower Cholesky of H⁻¹)ᵀ
  if (!cholesky(inv, d)) throw new CompileError('gptq: the inverse input Hessian is not positive definite');
  const u = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) u[i * d + j] = inv[j * d + i];
  return u;
}

export interface GptqOptions {
  /** Dampening: λ = damp · mean(diag H) added to the diagonal (default 0.01, the paper's). */
  damp?: number;
  /** Quantize the columns in order of decreasing H[i][i] (the paper's "act order"; default true). */
  actOrder?: boolean;
}

/**
 * GPTQ-round a weight tensor [CO, ...] (CO rows; each group of CO / G rows reads the group's d
 * inputs) to int8 at `frac` (real = q · 2^-frac), given its layer's input Hessians.
 */
export function gptqRound(weight: Tensor, hs: LayerHessian, frac: number, opts: GptqOptions = {}): Int8Array {
  const w = weight.data as Float32Array;
  const rowsAll = weight.shape[0];
  const { d } = hs;
  const G = hs.h.length;
  if (rowsAll * d !== w.length || rowsAll % G) throw new CompileError(`gptq: a weight [${weight.shape.join(',')}] does not fit Hessians of ${G} group(s) of ${d} inputs`);
  const rows = rowsAll / G;
  const scale = 2 ** frac;
  const step = 2 ** -frac;
  const q = new Int8Array(w.length);
  const damp = opts.damp ?? 0.01;
  for (let grp = 0; grp < G; grp++) {
    const h0 = hs.h[grp];
    // column order: decreasing H[i][i] (act order) or as stored; dead inputs (H[i][i] = 0) round to nearest and spread nothing
    let mean = 0;
    for (let i = 0; i < d; i++) mean += h0[i * d + i];
    mean /= d;
    const order = Array.from({ length: d }, (_, i) => i);
    if (opts.actOrder ?? true) order.sort((a, b) => h0[b * d + b] - h0[a * d + a]);
    const h = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) h[i * d + j] = h0[order[i] * d + order[j]];
    const lambda = damp * (mean > 0 ? mean : 1);
    for (let i = 0; i < d; i++) {
      if (h[i * d + i] === 0) {
        h[i * d + i] = 1;
        for (let j = 0; j < d; j++) if (j !== i) h[i * d + j] = h[j * d + i] = 0;
      }
      h[i * d + i] += lambda;
    }
    const u = inverseCholeskyUpper(h, d);
    const row = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      const base = (grp * rows + r) * d;
      for (let i = 0; i < d; i++) row[i] = w[base + order[i]];
      for (let i = 0; i < d; i++) {
        const v = Math.max(-128, Math.min(127, roundHalfEven(row[i] * scale)));
        q[base + order[i]] = v;
        const err = (row[i] - v * step) / u[i * d + i];
        for (let j = i + 1; j < d; j++) row[j] -= err * u[i * d + j];
      }
    }
  }
  return q;
}

/** ‖(W - Ŵ) Xᵀ‖² of int8 weights `q` at `frac` against the float `weight`, from the Hessians: Σ_rows eᵀ H e. */
export function outputError(weight: Tensor, q: ArrayLike<number>, frac: number, hs: LayerHessian): number {
  const w = weight.data as Float32Array;
  const { d } = hs;
  const G = hs.h.length;
  const rows = weight.shape[0] / G;
  const step = 2 ** -frac;
  const e = new Float64Array(d);
  let total = 0;
  for (let grp = 0; grp < G; grp++) {
    const h = hs.h[grp];
    for (let r = 0; r < rows; r++) {
      const base = (grp * rows + r) * d;
      for (let i = 0; i < d; i++) e[i] = w[base + i] - q[base + i] * step;
      for (let i = 0; i < d; i++) {
        if (e[i] === 0) continue;
        let s = 0;
        for (let j = 0; j < d; j++) s += h[i * d + j] * e[j];
        total += e[i] * s;
      }
    }
  }
  return total;
}

/**
 * Sequential GPTQ (the paper's own order): walk the quantized graph `q` (from `g` by quantizeGraph;
 * changed in place) node by node over the calibration tensors, and at each QConv re-round its
 * weights by GPTQ against the Hessian of the inputs it really reads in the int8 graph (dequantized),
 * so a deep layer's rounding fits the error its upstream already carries. The float weights are
 * `g`'s node of the same name; the grid (weight frac = shift + out frac - in frac) is kept.
 * `qHost` as in correctBiases (an observable compiled host, prepared for `q`, or TS_HOST).
 * Returns the layers re-rounded.
 */
export function gptqSequential(g: Graph, q: Graph, samples: readonly Tensor[], qHost: HostTarget, opts: GptqOptions = {}): number {
  const producer = new Map(q.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const fpNode = new Map(g.nodes.map((n) => [n.name, n]));
  const envs = samples.map((x) => {
    const env = new Map<string, Tensor>([[q.inputs[0], x]]);
    for (const v of q.values.values()) if (v.const) env.set(v.name, v.const);
    return env;
  });
  const remaining = new Map([...consumers(q)].map(([k, ns]) => [k, ns.length]));
  let layers = 0;
  for (const n of q.nodes) {
    const f = fpNode.get(n.name);
    const wq = q.values.get(n.inputs[1])?.const;
    const inFrac = producer.get(n.inputs[0])?.attrs.frac;
    if (n.op === 'QConv' && f?.op === 'Conv' && wq && typeof inFrac === 'number') {
      const wf = g.values.get(f.inputs[1])!.const!;
      const x0 = envs[0].get(n.inputs[0])!;
      const [KH, KW] = wq.shape.slice(2);
      const [SH, SW] = n.attrs.strides as number[];
      const [PT, PL, PB, PR] = n.attrs.pads as number[];
      const G = n.attrs.group as number;
      const [, C, H, W] = x0.shape;
      const geo: Geometry = { conv: true, G, C, H, W, KH, KW, SH, SW, PT, PL, OH: Math.floor((H + PT + PB - KH) / SH) + 1, OW: Math.floor((W + PL + PR - KW) / SW) + 1 };
      const d = (C / G) * KH * KW;
      const hs: LayerHessian = { d, h: Array.from({ length: G }, () => new Float64Array(d * d)), count: 0 };
      const scale = 2 ** -inFrac;
      for (const env of envs) {
        const t = env.get(n.inputs[0])!;
        accumulate(hs, geo, { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data as Int8Array, (v) => v * scale) });
      }
      for (const h of hs.h) symmetrize(h, d);
      const frac = (n.attrs.shift as number) + (n.attrs.frac as number) - inFrac;
      (wq.data as Int8Array).set(gptqRound(wf, hs, frac, opts));
      layers++;
    }
    const kernel = qHost.kernelFor(n, q)!;
    envs.forEach((env) => kernel(n, n.inputs.map((i) => (i ? env.get(i) : undefined))).forEach((t, k) => n.outputs[k] && env.set(n.outputs[k], t)));
    // a value no later node reads is dropped
    for (const i of new Set(n.inputs)) {
      if (!i || q.values.get(i)?.const) continue;
      const left = (remaining.get(i) ?? 1) - 1;
      remaining.set(i, left);
      if (left === 0) for (const env of envs) env.delete(i);
    }
  }
  return layers;
}
