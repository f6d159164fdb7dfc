/**
 * Plain references the compiled operators are checked against, written directly from the
 * definitions (NCHW layout, no tiling, no packing): integer convolution / matrix product wrapping at
 * the accumulator width, then the requantization of vta-reference Part B §5.8 / §6.4
 * (>> shift, + bias, clip, cast to the output width).
 */
import { shiftRight, wrapTo, intDtype, type DType } from '../ir/expr.ts';

export interface Requant {
  shift: number;
  /** Per output channel, or undefined. */
  bias?: ArrayLike<number>;
  clip?: [number, number];
  accBits: number;
  outBits: number;
}

export function requantize(acc: number, channel: number, q: Requant): number {
  const accDt: DType = intDtype(q.accBits);
  let v = wrapTo(acc, accDt);
  if (q.shift) v = shiftRight(v, q.shift, accDt);
  if (q.bias) v = wrapTo(v + q.bias[channel], accDt);
  if (q.clip) v = Math.max(Math.min(v, q.clip[1]), q.clip[0]);
  return wrapTo(v, intDtype(q.outBits));
}

export interface ConvRefShape {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  pad: number;
  stride: number;
  groups: number;
}

/** NCHW grouped convolution: data [n][cin][h][w], weight [cout][cin/groups][k][k] -> [n][cout][oh][ow]. */
export function conv2dRef(s: ConvRefShape, data: ArrayLike<number>, weight: ArrayLike<number>, q: Requant): Int32Array {
  const oh = Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1;
  const ow = Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1;
  const cinG = s.cin / s.groups;
  const coutG = s.cout / s.groups;
  const out = new Int32Array(s.n * s.cout * oh * ow);
  for (let n = 0; n < s.n; n++) {
    for (let co = 0; co < s.cout; co++) {
      const g = Math.floor(co / coutG);
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          let acc = 0;
          for (let c = 0; c < cinG; c++) {
            const ci = g * cinG + c;
            for (let ky = 0; ky < s.k; ky++) {
              const iy = y * s.stride - s.pad + ky;
              if (iy < 0 || iy >= s.h) continue;
              for (let kx = 0; kx < s.k; kx++) {
                const ix = x * s.stride - s.pad + kx;
                if (ix < 0 || ix >= s.w) continue;
                acc += data[((n * s.cin + ci) * s.h + iy) * s.w + ix] * weight[((co * cinG + c) * s.k + ky) * s.k + kx];
              }
            }
            acc = wrapTo(acc, intDtype(q.accBits));
          }
          out[((n * s.cout + co) * oh + y) * ow + x] = requantize(acc, co, q);
        }
      }
    }
  }
  return out;
}

/** data [m][k] x weight [n][k] -> [m][n]. */
export function denseRef(m: number, k: number, n: number, data: ArrayLike<number>, weight: ArrayLike<number>, q: Requant): Int32Array {
  const out = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let c = 0; c < k; c++) acc += data[i * k + c] * weight[j * k + c];
      out[i * n + j] = requantize(acc, j, q);
    }
  }
  return out;
}

/** Element-wise a + b (NCHW, accumulator values), clipped, cast to the output width. */
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>, clip: [number, number] | undefined, accBits: number, outBits: number): Int32Array {
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    let v = wrapTo(a[i] + b[i], intDtype(accBits));
    if (clip) v = Math.max(Math.min(v, clip[1]), clip[0]);
    out[i] = wrapTo(v, intDtype(outBits));
  }
  return out;
}

/** NCHW max-pool with implicit -infinity padding, cast to the output width. */
export function maxPoolRef(s: { n: number; c: number; h: number; w: number; k: number; pad: number; stride: number }, data: ArrayLike<number>, outBits: number): Int32Array {
  const oh = Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1;
  const ow = Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1;
  const out = new Int32Array(s.n * s.c * oh * ow);
  for (let n = 0; n < s.n; n++)
    for (let c = 0; c < s.c; c++)
      for (let y = 0; y < oh; y++)
        for (let x = 0; x < ow; x++) {
          let m = -Infinity;
          for (let ky = 0; ky < s.k; ky++) {
            const iy = y * s.stride - s.pad + ky;
            if (iy < 0 || iy >= s.h) continue;
            for (let kx = 0; kx < s.k; kx++) {
              const ix = x * s.stride - s.pad + kx;
              if (ix < 0 || ix >= s.w) continue;
              m = Math.max(m, data[((n * s.c + c) * s.h + iy) * s.w + ix]);
            }
          }
          out[((n * s.c + c) * oh + y) * ow + x] = wrapTo(m, intDtype(outBits));
        }
  return out;
}
