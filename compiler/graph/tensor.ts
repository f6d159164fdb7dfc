/**
 * Tensors of the graph level: a dtype, a shape and a typed array in row-major order.
 *
 * Element storage per dtype: float32 and float16 in Float32Array (float16 values are decoded at
 * import and stay exactly representable), float64 in Float64Array, int8/uint8/int16/uint16/int32/
 * uint32 in their own arrays, bool in Uint8Array, int64/uint64 in Float64Array holding integers
 * (exact up to 2^53; int64 in a model is shapes, indices and slice bounds, and bounds beyond 2^53
 * such as INT64_MAX mean "to the end", which clamping keeps).
 */
import { CompileError } from '../errors.ts';

export type DType = 'float32' | 'float16' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

/** onnx.TensorProto.DataType numbers of the dtypes above. */
export const ONNX_DTYPES: Record<number, DType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
const ONNX_TYPE_NAMES: Record<number, string> = { 0: 'undefined', 8: 'string', 14: 'complex64', 15: 'complex128', 16: 'bfloat16' };

/** The dtype of an ONNX data type number, or a one-line error naming it. */
export function dtypeOfOnnx(code: number, where: string): DType {
  const t = ONNX_DTYPES[code];
  if (!t) throw new CompileError(`${where}: element type ${ONNX_TYPE_NAMES[code] ?? code} is not supported (float, float16, double and the integer types are)`);
  return t;
}

export function isFloat(t: DType): boolean {
  return t === 'float32' || t === 'float16' || t === 'float64';
}

/** Integer range of an integer dtype (int64/uint64 clamp to the exactly representable range). */
export function intRange(t: DType): [number, number] {
  switch (t) {
    case 'int8': return [-128, 127];
    case 'uint8': return [0, 255];
    case 'int16': return [-32768, 32767];
    case 'uint16': return [0, 65535];
    case 'int32': return [-2147483648, 2147483647];
    case 'uint32': return [0, 4294967295];
    case 'int64': return [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    case 'uint64': return [0, Number.MAX_SAFE_INTEGER];
    case 'bool': return [0, 1];
    default: return [-Infinity, Infinity];
  }
}

export function allocData(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': case 'float16': return new Float32Array(n);
    case 'float64': case 'int64': case 'uint64': return new Float64Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8': case 'bool': return new Uint8Array(n);
    case 'int16': return new Int16Array(n);
    case 'uint16': return new Uint16Array(n);
    case 'int32': return new Int32Array(n);
    case 'uint32': return new Uint32Array(n);
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensor(dtype: DType, shape: number[], data?: ArrayLike<number>): Tensor {
  const n = sizeOf(shape);
  const out = allocData(dtype, n);
  if (data) {
    if (data.length !== n) throw new Error(`tensor data has ${data.length} elements, shape [${shape}] needs ${n}`);
    out.set(data);
  }
  return { dtype, shape: [...shape], data: out };
}

/** Strides (in elements) of a row-major shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Round half to even (ONNX's rounding for QuantizeLinear, Cast is truncation). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Convert a value to a dtype as ONNX Cast does: floats truncate towards zero into integers, integers wrap. */
export function castValue(x: number, to: DType): number {
  if (isFloat(to)) return x;
  if (to === 'bool') return x !== 0 ? 1 : 0;
  if (Number.isNaN(x)) return 0;
  const t = Math.trunc(x);
  if (to === 'int64' || to === 'uint64') return t;
  return t; // the typed array wraps modulo 2^bits
}

export function castTensor(t: Tensor, to: DType): Tensor {
  const out = allocData(to, t.data.length);
  if (to === 'float16') {
    for (let i = 0; i < out.length; i++) out[i] = roundToFloat16(t.data[i]);
  } else if (isFloat(to)) {
    out.set(t.data);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = castValue(t.data[i], to);
  }
  return { dtype: to, shape: [...t.shape], data: out };
}

/** IEEE half-precision bits → number. */
export function float16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Nearest float16 value (round to nearest even), as a number. */
export function roundToFloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const q = 2 ** (e - 10);
  return Math.sign(x) * roundHalfEven(a / q) * q;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Integer values of a small (shape, axes, index) tensor as plain numbers. */
export function toInts(t: Tensor): number[] {
  return Array.from(t.data, (v) => Number(v));
}
