/**
 * The plain TypeScript kernels of the host executor: one function per operator of the graph IR
 * (canonical forms, docs/models.md), on row-major typed arrays. Floating-point operators compute in
 * double precision and round to float32 when they store; integer and quantized operators are exact
 * (int32 accumulation, ONNX's round-half-to-even requantization), so they match ONNX's conformance
 * data bit for bit. Constant folding (compiler/graph/passes.ts) runs these same kernels.
 */
import { CompileError } from '../errors.ts';
import type { Attr, Node } from '../graph/ir.ts';
import { flattenAxis } from '../graph/ops.ts';
import {
  allocData, castTensor, intRange, isFloat, roundHalfEven, sizeOf, stridesOf, tensor, toInts, type DType, type Tensor,
} from '../graph/tensor.ts';
import { convGeometry, poolGeometry, resizeOutputShape, broadcastShapes, reshapeTarget, sliceParams, normAxis } from '../graph/shapes.ts';

/** One operator's kernel: the node (for its attributes) and its inputs (undefined: omitted optional input). */
export type Kernel = (node: Node, inputs: (Tensor | undefined)[]) => Tensor[];

// ---- attribute helpers ----

export function attrInt(n: Node, name: string, dflt: number): number {
  const a = n.attrs[name];
  return typeof a === 'number' ? a : dflt;
}

export function attrFloat(n: Node, name: string, dflt: number): number {
  return attrInt(n, name, dflt);
}

export function attrInts(n: Node, name: string): number[] | undefined {
  const a: Attr | undefined = n.attrs[name];
  return Array.isArray(a) ? (a as number[]) : undefined;
}

export function attrString(n: Node, name: string, dflt: string): string {
  const a = n.attrs[name];
  return typeof a === 'string' ? a : dflt;
}

function need(t: Tensor | undefined, n: Node, i: number): Tensor {
  if (!t) throw new CompileError(`${n.op} node ${n.name}: input ${i} is missing`);
  return t;
}

// ---- element-wise ----

function unary(f: (x: number) => number): Kernel {
  return (n, [x]) => {
    const a = need(x, n, 0);
    const out = allocData(a.dtype, a.data.length);
    for (let i = 0; i < out.length; i++) out[i] = f(a.data[i]);
    return [{ dtype: a.dtype, shape: [...a.shape], data: out }];
  };
}

/** Element-wise binary operation with numpy broadcasting; result dtype = the first input's. */
export function broadcastBinary(a: Tensor, b: Tensor, f: (x: number, y: number) => number, dtype: DType = a.dtype): Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const n = sizeOf(shape);
  const out = allocData(dtype, n);
  const ad = a.data;
  const bd = b.data;
  if (ad.length === n && bd.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(ad[i], bd[i]);
  } else if (bd.length === 1 && ad.length === n) {
    const y = bd[0];
    for (let i = 0; i < n; i++) out[i] = f(ad[i], y);
  } else if (ad.length === 1 && bd.length === n) {
    const x = ad[0];
    for (let i = 0; i < n; i++) out[i] = f(x, bd[i]);
  } else {
    const rank = shape.length;
    const sa = broadcastStrides(a.shape, shape);
    const sb = broadcastStrides(b.shape, shape);
    const idx = new Array<number>(rank).fill(0);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < n; i++) {
      out[i] = f(ad[ia], bd[ib]);
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]++;
        ia += sa[d];
        ib += sb[d];
        if (idx[d] < shape[d]) break;
        ia -= sa[d] * shape[d];
        ib -= sb[d] * shape[d];
        idx[d] = 0;
      }
    }
  }
  return { dtype, shape, data: out };
}

/** Strides of `shape` read as `target` (0 along broadcast dimensions). */
function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const s = stridesOf(shape);
  const off = target.length - shape.length;
  return target.map((_, d) => (d < off || shape[d - off] === 1 ? 0 : s[d - off]));
}

function binary(f: (x: number, y: number) => number, intF?: (x: number, y: number) => number): Kernel {
  return (n, [x, y]) => {
    const a = need(x, n, 0);
    const b = need(y, n, 1);
    return [broadcastBinary(a, b, isFloat(a.dtype) || !intF ? f : intF)];
  };
}

function clip(n: Node, [x, lo, hi]: (Tensor | undefined)[]): Tensor[] {
  const a = need(x, n, 0);
  const min = lo ? lo.data[0] : -Infinity;
  const max = hi ? hi.data[0] : Infinity;
  return unary((v) => (v < min ? min : v > max ? max : v))(n, [a]);
}

// ---- convolution, pooling ----

/** Input as [N, C, H, W]: 1-D spatial data gets H = 1 (the attributes are widened the same way). */
function as4d(shape: readonly number[]): [number, number, number, number] {
  if (shape.length === 4) return shape as [number, number, number, number];
  if (shape.length === 3) return [shape[0], shape[1], 1, shape[2]];
  throw new CompileError(`expected a 3-D or 4-D tensor, got rank ${shape.length}`);
}

/**
 * The convolution core on values already offset by their zero points: out[n][m][oy][ox] =
 * Σ x·w, accumulated in double precision (exact for the integer operators).
 */
function convCore(n: Node, x: Tensor, w: Tensor, xv: ArrayLike<number>, wv: (m: number, i: number) => number): { acc: Float64Array; shape: number[]; M: number; OH: number; OW: number } {
  const geo = convGeometry(n, x.shape, w.shape);
  const [N, C, H, W] = as4d(x.shape);
  const { M, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW } = geo;
  const CG = C / G;
  const MG = M / G;
  const acc = new Float64Array(N * M * OH * OW);
  const wRow = CG * KH * KW;
  // per kernel column, the output columns whose input column is inside the row (no test in the inner loop)
  const oxLo = new Int32Array(KW);
  const oxHi = new Int32Array(KW);
  for (let kx = 0; kx < KW; kx++) {
    const x0 = kx * DW - PL;
    oxLo[kx] = Math.min(OW, Math.max(0, Math.ceil(-x0 / SW)));
    oxHi[kx] = Math.max(oxLo[kx], Math.min(OW, Math.floor((W - 1 - x0) / SW) + 1));
  }
  for (let b = 0; b < N; b++) {
    for (let m = 0; m < M; m++) {
      const g = Math.floor(m / MG);
      const outBase = (b * M + m) * OH * OW;
      for (let c = 0; c < CG; c++) {
        const inBase = (b * C + g * CG + c) * H * W;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const wk = wv(m, m * wRow + (c * KH + ky) * KW + kx);
            if (wk === 0) continue;
            const lo = oxLo[kx];
            const hi = oxHi[kx];
            const x0 = kx * DW - PL;
            for (let oy = 0; oy < OH; oy++) {
              const iy = oy * SH - PT + ky * DH;
              if (iy < 0 || iy >= H) continue;
              const rowIn = inBase + iy * W + x0;
              const rowOut = outBase + oy * OW;
              if (SW === 1) {
                for (let ox = lo; ox < hi; ox++) acc[rowOut + ox] += xv[rowIn + ox] * wk;
              } else {
                for (let ox = lo; ox < hi; ox++) acc[rowOut + ox] += xv[rowIn + ox * SW] * wk;
              }
            }
          }
        }
      }
    }
  }
  return { acc, shape: geo.outShape, M, OH, OW };
}

function conv(n: Node, [x, w, bias]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const Wt = need(w, n, 1);
  const { acc, shape, M, OH, OW } = convCore(n, X, Wt, X.data, (_m, i) => Wt.data[i]);
  if (bias) for (let i = 0; i < acc.length; i++) acc[i] += bias.data[Math.floor(i / (OH * OW)) % M];
  return [{ dtype: X.dtype, shape, data: Float32Array.from(acc) }];
}

/** x - zero point as doubles; `zp` per element of axis `axis` (size `perAxis`) or one value. */
function offset(t: Tensor, zp: Tensor | undefined): Float64Array {
  const out = new Float64Array(t.data.length);
  const z = zp ? zp.data[0] : 0;
  for (let i = 0; i < out.length; i++) out[i] = t.data[i] - z;
  return out;
}

/** A per-output-channel (or scalar) quantity of a weight. */
function perChannel(t: Tensor | undefined, m: number, dflt = 0): number {
  if (!t) return dflt;
  return t.data.length === 1 ? t.data[0] : t.data[m];
}

function convInteger(n: Node, [x, w, xzp, wzp]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const Wt = need(w, n, 1);
  const { acc, shape } = convCore(n, X, Wt, offset(X, xzp), (m, i) => Wt.data[i] - perChannel(wzp, m));
  return [{ dtype: 'int32', shape, data: Int32Array.from(acc) }];
}

/** Requantize an int32 accumulator as ORT and ONNX's reference do: round(acc · scale) + zp, saturated. */
function requantize(acc: number, scale: number, zp: number, lo: number, hi: number): number {
  const v = roundHalfEven(Math.fround(acc * scale)) + zp;
  return v < lo ? lo : v > hi ? hi : v;
}

function qlinearConv(n: Node, ins: (Tensor | undefined)[]): Tensor[] {
  const [x, xs, xzp, w, ws, wzp, ys, yzp, bias] = ins;
  const X = need(x, n, 0);
  const Wt = need(w, n, 3);
  const { acc, shape, M, OH, OW } = convCore(n, X, Wt, offset(X, xzp), (m, i) => Wt.data[i] - perChannel(wzp, m));
  const outType: DType = yzp?.dtype ?? X.dtype;
  const [lo, hi] = intRange(outType);
  const out = allocData(outType, acc.length);
  const yScale = need(ys, n, 6).data[0];
  const z = yzp ? yzp.data[0] : 0;
  for (let i = 0; i < acc.length; i++) {
    const m = Math.floor(i / (OH * OW)) % M;
    const a = acc[i] + (bias ? bias.data[m] : 0);
    const scale = Math.fround(Math.fround(need(xs, n, 1).data[0] * perChannel(ws, m, 1)) / yScale);
    out[i] = requantize(a, scale, z, lo, hi);
  }
  return [{ dtype: outType, shape, data: out }];
}

function pool(kind: 'max' | 'avg'): Kernel {
  return (n, [x]) => {
    const X = need(x, n, 0);
    const [N, C, H, W] = as4d(X.shape);
    const { KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, OH, OW, outShape } = poolGeometry(n, X.shape);
    const includePad = attrInt(n, 'count_include_pad', 0) === 1;
    const out = allocData(X.dtype, N * C * OH * OW);
    for (let p = 0; p < N * C; p++) {
      const inBase = p * H * W;
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let best = -Infinity;
          let sum = 0;
          let count = 0;
          let padCount = 0;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * SH - PT + ky * DH;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * SW - PL + kx * DW;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                // count_include_pad counts the explicit padding, not the ceil_mode overhang
                if (iy >= -PT && iy < H + PB && ix >= -PL && ix < W + PR) padCount++;
                continue;
              }
              const v = X.data[inBase + iy * W + ix];
              if (v > best) best = v;
              sum += v;
              count++;
            }
          }
          out[(p * OH + oy) * OW + ox] = kind === 'max' ? best : sum / (includePad ? count + padCount : count);
        }
      }
    }
    return [{ dtype: X.dtype, shape: outShape, data: out }];
  };
}

function globalAveragePool(n: Node, [x]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const [N, C] = X.shape;
  const S = sizeOf(X.shape.slice(2));
  const out = allocData(X.dtype, N * C);
  for (let p = 0; p < N * C; p++) {
    let s = 0;
    for (let i = 0; i < S; i++) s += X.data[p * S + i];
    out[p] = s / S;
  }
  return [{ dtype: X.dtype, shape: [N, C, ...X.shape.slice(2).map(() => 1)], data: out }];
}

function batchNorm(n: Node, [x, scale, bias, mean, variance]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const eps = attrFloat(n, 'epsilon', 1e-5);
  const C = X.shape[1];
  const S = sizeOf(X.shape.slice(2));
  const out = allocData(X.dtype, X.data.length);
  for (let c = 0; c < C; c++) {
    const k = need(scale, n, 1).data[c] / Math.sqrt(need(variance, n, 4).data[c] + eps);
    const b = need(bias, n, 2).data[c] - need(mean, n, 3).data[c] * k;
    for (let p = 0; p < X.shape[0]; p++) {
      const base = (p * C + c) * S;
      for (let i = 0; i < S; i++) out[base + i] = X.data[base + i] * k + b;
    }
  }
  return [{ dtype: X.dtype, shape: [...X.shape], data: out }];
}

// ---- matrix products ----

/** numpy matmul on values (already offset by zero points); returns the double accumulators. */
function matmulCore(A: Tensor, B: Tensor, av: ArrayLike<number>, bv: (i: number, col: number) => number): { acc: Float64Array; shape: number[] } {
  const aShape = A.shape.length === 1 ? [1, A.shape[0]] : A.shape;
  const bShape = B.shape.length === 1 ? [B.shape[0], 1] : B.shape;
  const M = aShape[aShape.length - 2];
  const K = aShape[aShape.length - 1];
  const N = bShape[bShape.length - 1];
  if (bShape[bShape.length - 2] !== K) throw new CompileError(`MatMul: inner dimensions ${K} and ${bShape[bShape.length - 2]} differ`);
  const batch = broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2));
  const nb = sizeOf(batch);
  const aStr = broadcastStrides(aShape.slice(0, -2), batch);
  const bStr = broadcastStrides(bShape.slice(0, -2), batch);
  const acc = new Float64Array(nb * M * N);
  const bIdx = stridesOf(batch);
  for (let p = 0; p < nb; p++) {
    let ao = 0;
    let bo = 0;
    for (let d = 0; d < batch.length; d++) {
      const i = Math.floor(p / bIdx[d]) % batch[d];
      ao += i * aStr[d];
      bo += i * bStr[d];
    }
    const aBase = ao * M * K;
    const bBase = bo * K * N;
    const oBase = p * M * N;
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) {
        const a = av[aBase + i * K + k];
        if (a === 0) continue;
        const bRow = bBase + k * N;
        const oRow = oBase + i * N;
        for (let j = 0; j < N; j++) acc[oRow + j] += a * bv(bRow + j, j);
      }
    }
  }
  let shape = [...batch, M, N];
  if (A.shape.length === 1) shape = [...batch, N];
  if (B.shape.length === 1) shape = A.shape.length === 1 ? [...batch] : [...batch, M];
  return { acc, shape };
}

function matmul(n: Node, [a, b]: (Tensor | undefined)[]): Tensor[] {
  const A = need(a, n, 0);
  const B = need(b, n, 1);
  const { acc, shape } = matmulCore(A, B, A.data, (i) => B.data[i]);
  const out = allocData(A.dtype, acc.length);
  out.set(acc);
  return [{ dtype: A.dtype, shape, data: out }];
}

function matmulInteger(n: Node, [a, b, azp, bzp]: (Tensor | undefined)[]): Tensor[] {
  const A = need(a, n, 0);
  const B = need(b, n, 1);
  const { acc, shape } = matmulCore(A, B, offset(A, azp), (i, col) => B.data[i] - perChannel(bzp, col));
  return [{ dtype: 'int32', shape, data: Int32Array.from(acc) }];
}

function qlinearMatmul(n: Node, ins: (Tensor | undefined)[]): Tensor[] {
  const [a, as, azp, b, bs, bzp, ys, yzp] = ins;
  const A = need(a, n, 0);
  const B = need(b, n, 3);
  const { acc, shape } = matmulCore(A, B, offset(A, azp), (i, col) => B.data[i] - perChannel(bzp, col));
  const outType: DType = yzp?.dtype ?? A.dtype;
  const [lo, hi] = intRange(outType);
  const N = shape[shape.length - 1];
  const out = allocData(outType, acc.length);
  for (let i = 0; i < acc.length; i++) {
    const scale = Math.fround(Math.fround(need(as, n, 1).data[0] * perChannel(bs, i % N, 1)) / need(ys, n, 6).data[0]);
    out[i] = requantize(acc[i], scale, yzp ? yzp.data[0] : 0, lo, hi);
  }
  return [{ dtype: outType, shape, data: out }];
}

function gemm(n: Node, [a, b, c]: (Tensor | undefined)[]): Tensor[] {
  const A = need(a, n, 0);
  const B = need(b, n, 1);
  const tA = attrInt(n, 'transA', 0) === 1;
  const tB = attrInt(n, 'transB', 0) === 1;
  const alpha = attrFloat(n, 'alpha', 1);
  const beta = attrFloat(n, 'beta', 1);
  const M = tA ? A.shape[1] : A.shape[0];
  const K = tA ? A.shape[0] : A.shape[1];
  const N = tB ? B.shape[0] : B.shape[1];
  const acc = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const av = tA ? A.data[k * M + i] : A.data[i * K + k];
      if (av === 0) continue;
      for (let j = 0; j < N; j++) acc[i * N + j] += av * (tB ? B.data[j * K + k] : B.data[k * N + j]);
    }
  }
  const out = allocData(A.dtype, M * N);
  for (let i = 0; i < out.length; i++) out[i] = alpha * acc[i];
  const y: Tensor = { dtype: A.dtype, shape: [M, N], data: out };
  if (!c || beta === 0) return [y];
  return [broadcastBinary(y, c, (p, q) => p + beta * q)];
}

// ---- quantization ----

/** Per-axis parameter: the index along `axis` of flat element i of a tensor of `shape`. */
function axisIndex(shape: readonly number[], axis: number): (i: number) => number {
  const inner = sizeOf(shape.slice(axis + 1));
  const dim = shape[axis];
  return (i) => Math.floor(i / inner) % dim;
}

function quantizeLinear(n: Node, [x, s, zp]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const S = need(s, n, 1);
  const outType: DType = zp?.dtype ?? 'uint8';
  const [lo, hi] = intRange(outType);
  const at = S.data.length === 1 ? () => 0 : axisIndex(X.shape, normAxis(attrInt(n, 'axis', 1), X.shape.length));
  const out = allocData(outType, X.data.length);
  for (let i = 0; i < out.length; i++) {
    const k = at(i);
    const v = roundHalfEven(Math.fround(X.data[i] / S.data[k])) + (zp ? zp.data[k] : 0);
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return [{ dtype: outType, shape: [...X.shape], data: out }];
}

function dequantizeLinear(n: Node, [x, s, zp]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const S = need(s, n, 1);
  const at = S.data.length === 1 ? () => 0 : axisIndex(X.shape, normAxis(attrInt(n, 'axis', 1), X.shape.length));
  const out = new Float32Array(X.data.length);
  for (let i = 0; i < out.length; i++) {
    const k = at(i);
    out[i] = (X.data[i] - (zp ? zp.data[k] : 0)) * S.data[k];
  }
  return [{ dtype: 'float32', shape: [...X.shape], data: out }];
}

// ---- shape manipulation ----

function reshapeTo(t: Tensor, shape: number[]): Tensor {
  return { dtype: t.dtype, shape, data: t.data };
}

function transpose(n: Node, [x]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const r = X.shape.length;
  const perm = attrInts(n, 'perm') ?? [...Array(r).keys()].reverse();
  const shape = perm.map((p) => X.shape[p]);
  const inStr = stridesOf(X.shape);
  const str = perm.map((p) => inStr[p]);
  const out = allocData(X.dtype, X.data.length);
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = X.data[src];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      src += str[d];
      if (idx[d] < shape[d]) break;
      src -= str[d] * shape[d];
      idx[d] = 0;
    }
  }
  return [{ dtype: X.dtype, shape, data: out }];
}

function concat(n: Node, ins: (Tensor | undefined)[]): Tensor[] {
  const ts = ins.filter((t): t is Tensor => t !== undefined);
  const r = ts[0].shape.length;
  const axis = normAxis(attrInt(n, 'axis', 0), r);
  const outer = sizeOf(ts[0].shape.slice(0, axis));
  const shape = [...ts[0].shape];
  shape[axis] = ts.reduce((s, t) => s + t.shape[axis], 0);
  const out = allocData(ts[0].dtype, sizeOf(shape));
  let pos = 0;
  const rowOut = sizeOf(shape.slice(axis));
  for (const t of ts) {
    const row = sizeOf(t.shape.slice(axis));
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * row, (o + 1) * row), o * rowOut + pos);
    pos += row;
  }
  return [{ dtype: ts[0].dtype, shape, data: out }];
}

function slice(n: Node, [x, starts, ends, axes, steps]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const p = sliceParams(X.shape, toInts(need(starts, n, 1)), toInts(need(ends, n, 2)), axes && toInts(axes), steps && toInts(steps));
  const out = allocData(X.dtype, sizeOf(p.outShape));
  const r = X.shape.length;
  const inStr = stridesOf(X.shape);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let d = 0; d < r; d++) src += (p.start[d] + idx[d] * p.step[d]) * inStr[d];
    out[i] = X.data[src];
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < p.outShape[d]) break;
      idx[d] = 0;
    }
  }
  return [{ dtype: X.dtype, shape: p.outShape, data: out }];
}

function gather(n: Node, [x, indices]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const I = need(indices, n, 1);
  const axis = normAxis(attrInt(n, 'axis', 0), X.shape.length);
  const outer = sizeOf(X.shape.slice(0, axis));
  const dim = X.shape[axis];
  const inner = sizeOf(X.shape.slice(axis + 1));
  const shape = [...X.shape.slice(0, axis), ...I.shape, ...X.shape.slice(axis + 1)];
  const out = allocData(X.dtype, sizeOf(shape));
  const ni = I.data.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < ni; j++) {
      let k = I.data[j];
      if (k < 0) k += dim;
      if (k < 0 || k >= dim) throw new CompileError(`Gather node ${n.name}: index ${I.data[j]} is outside [${-dim}, ${dim - 1}]`);
      out.set(X.data.subarray((o * dim + k) * inner, (o * dim + k + 1) * inner), (o * ni + j) * inner);
    }
  }
  return [{ dtype: X.dtype, shape, data: out }];
}

function pad(n: Node, [x, pads, value]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const r = X.shape.length;
  const p = toInts(need(pads, n, 1));
  const mode = attrString(n, 'mode', 'constant');
  const fill = value ? value.data[0] : 0;
  const shape = X.shape.map((d, i) => d + p[i] + p[i + r]);
  const out = allocData(X.dtype, sizeOf(shape));
  const inStr = stridesOf(X.shape);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    let inside = true;
    for (let d = 0; d < r; d++) {
      let k = idx[d] - p[d];
      const D = X.shape[d];
      if (k < 0 || k >= D) {
        if (mode === 'constant') inside = false;
        else if (mode === 'edge') k = k < 0 ? 0 : D - 1;
        else k = reflectIndex(k, D);
      }
      src += k * inStr[d];
    }
    out[i] = inside ? X.data[src] : fill;
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return [{ dtype: X.dtype, shape, data: out }];
}

function reflectIndex(k: number, D: number): number {
  if (D === 1) return 0;
  const period = 2 * (D - 1);
  let m = ((k % period) + period) % period;
  if (m >= D) m = period - m;
  return m;
}

function resize(n: Node, [x, , scales, sizes]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const r = X.shape.length;
  const shape = resizeOutputShape(n, X.shape, scales && scales.data.length ? Array.from(scales.data) : undefined, sizes && sizes.data.length ? toInts(sizes) : undefined);
  const scaleOf = (d: number) => (scales && scales.data.length ? scales.data[d] : shape[d] / X.shape[d]);
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = attrString(n, 'nearest_mode', 'round_prefer_floor');
  const maps = shape.map((O, d) => {
    const I = X.shape[d];
    const s = scaleOf(d);
    return Int32Array.from({ length: O }, (_, o) => {
      let c: number;
      switch (ctm) {
        case 'asymmetric': c = o / s; break;
        case 'align_corners': c = O === 1 ? 0 : (o * (I - 1)) / (O - 1); break;
        case 'pytorch_half_pixel': c = O > 1 ? (o + 0.5) / s - 0.5 : 0; break;
        case 'tf_half_pixel_for_nn': c = (o + 0.5) / s; break;
        default: c = (o + 0.5) / s - 0.5;
      }
      let k: number;
      switch (nearest) {
        case 'floor': k = Math.floor(c); break;
        case 'ceil': k = Math.ceil(c); break;
        case 'round_prefer_ceil': k = Math.floor(c + 0.5); break;
        default: k = c - Math.floor(c) === 0.5 ? Math.floor(c) : Math.round(c);
      }
      return Math.min(Math.max(k, 0), I - 1);
    });
  });
  const out = allocData(X.dtype, sizeOf(shape));
  const inStr = stridesOf(X.shape);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let d = 0; d < r; d++) src += maps[d][idx[d]] * inStr[d];
    out[i] = X.data[src];
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return [{ dtype: X.dtype, shape, data: out }];
}

// ---- reductions, softmax ----

function reduceMean(n: Node, [x]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const r = X.shape.length;
  const axes = (attrInts(n, 'axes') ?? [...Array(r).keys()]).map((a) => normAxis(a, r));
  const keep = attrInt(n, 'keepdims', 1) === 1;
  const kept = X.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(sizeOf(kept));
  const outStr = stridesOf(kept);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < X.data.length; i++) {
    let dst = 0;
    for (let d = 0; d < r; d++) if (!axes.includes(d)) dst += idx[d] * outStr[d];
    out[dst] += X.data[i];
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < X.shape[d]) break;
      idx[d] = 0;
    }
  }
  const count = X.data.length / out.length;
  const res = allocData(X.dtype, out.length);
  for (let i = 0; i < out.length; i++) res[i] = out[i] / count;
  return [{ dtype: X.dtype, shape: keep ? kept : X.shape.filter((_, i) => !axes.includes(i)), data: res }];
}

function softmax(n: Node, [x]: (Tensor | undefined)[]): Tensor[] {
  const X = need(x, n, 0);
  const r = X.shape.length;
  const axis = normAxis(attrInt(n, 'axis', -1), r);
  // legacy (opset < 13): the input is seen as 2-D [outer, everything from axis on]
  const legacy = attrInt(n, 'coerce_2d', 0) === 1;
  const len = legacy ? sizeOf(X.shape.slice(axis)) : X.shape[axis];
  const inner = legacy ? 1 : sizeOf(X.shape.slice(axis + 1));
  const outer = X.data.length / (len * inner);
  const out = allocData(X.dtype, X.data.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * len * inner + j;
      let max = -Infinity;
      for (let k = 0; k < len; k++) max = Math.max(max, X.data[base + k * inner]);
      let sum = 0;
      for (let k = 0; k < len; k++) sum += Math.exp(X.data[base + k * inner] - max);
      for (let k = 0; k < len; k++) out[base + k * inner] = Math.exp(X.data[base + k * inner] - max) / sum;
    }
  }
  return [{ dtype: X.dtype, shape: [...X.shape], data: out }];
}

// ---- the table ----

/** A fused activation (attribute `clip` = [lo, hi], set by the `fuse` pass) applied to the kernel's result. */
function withClip(k: Kernel): Kernel {
  return (n, ins) => {
    const outs = k(n, ins);
    const c = n.attrs.clip;
    if (!Array.isArray(c)) return outs;
    const [lo, hi] = c as number[];
    const d = outs[0].data;
    for (let i = 0; i < d.length; i++) d[i] = d[i] < lo ? lo : d[i] > hi ? hi : d[i];
    return outs;
  };
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export const KERNELS: Record<string, Kernel> = {
  Conv: withClip(conv),
  ConvInteger: convInteger,
  QLinearConv: qlinearConv,
  BatchNormalization: batchNorm,
  Relu: unary((v) => (v > 0 ? v : 0)),
  LeakyRelu: (n, ins) => unary((v) => (v >= 0 ? v : v * attrFloat(n, 'alpha', 0.01)))(n, ins),
  Sigmoid: unary(sigmoid),
  HardSigmoid: (n, ins) => {
    const alpha = attrFloat(n, 'alpha', 0.2);
    const beta = attrFloat(n, 'beta', 0.5);
    return unary((v) => Math.max(0, Math.min(1, alpha * v + beta)))(n, ins);
  },
  HardSwish: unary((v) => v * Math.max(0, Math.min(1, v / 6 + 0.5))),
  Sqrt: unary(Math.sqrt),
  Identity: (n, [x]) => [need(x, n, 0)],
  Clip: clip,
  Add: withClip(binary((a, b) => a + b)),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary((a, b) => a / b, (a, b) => Math.trunc(a / b)),
  Pow: (n, [x, y]) => [broadcastBinary(need(x, n, 0), need(y, n, 1), (a, b) => (isFloat(need(x, n, 0).dtype) ? Math.pow(a, b) : Math.trunc(Math.pow(a, b))))],
  MatMul: withClip(matmul),
  MatMulInteger: matmulInteger,
  QLinearMatMul: qlinearMatmul,
  Gemm: withClip(gemm),
  GlobalAveragePool: globalAveragePool,
  AveragePool: pool('avg'),
  MaxPool: pool('max'),
  Flatten: (n, [x]) => {
    const X = need(x, n, 0);
    const axis = flattenAxis(n, X.shape.length);
    return [reshapeTo(X, [sizeOf(X.shape.slice(0, axis)), sizeOf(X.shape.slice(axis))])];
  },
  Reshape: (n, [x, s]) => {
    const X = need(x, n, 0);
    return [reshapeTo(X, reshapeTarget(X.shape, toInts(need(s, n, 1)), attrInt(n, 'allowzero', 0) === 1))];
  },
  Transpose: transpose,
  Concat: concat,
  Softmax: softmax,
  ReduceMean: reduceMean,
  Resize: resize,
  Pad: pad,
  Shape: (n, [x]) => {
    const X = need(x, n, 0);
    const r = X.shape.length;
    const start = normClamp(attrInt(n, 'start', 0), r);
    const end = normClamp(attrInt(n, 'end', r), r);
    const dims = X.shape.slice(start, Math.max(start, end));
    return [tensor('int64', [dims.length], dims)];
  },
  Slice: slice,
  Gather: gather,
  Cast: (n, [x]) => [castTensor(need(x, n, 0), attrString(n, 'to', 'float32') as DType)],
  Squeeze: (n, [x, axes]) => {
    const X = need(x, n, 0);
    const ax = axes ? toInts(axes).map((a) => normAxis(a, X.shape.length)) : X.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    return [reshapeTo(X, X.shape.filter((_, i) => !ax.includes(i)))];
  },
  Unsqueeze: (n, [x, axes]) => {
    const X = need(x, n, 0);
    const r = X.shape.length + toInts(need(axes, n, 1)).length;
    const ax = toInts(need(axes, n, 1)).map((a) => normAxis(a, r));
    const shape: number[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) shape.push(ax.includes(i) ? 1 : X.shape[k++]);
    return [reshapeTo(X, shape)];
  },
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
};

function normClamp(a: number, r: number): number {
  const v = a < 0 ? a + r : a;
  return Math.min(Math.max(v, 0), r);
}
