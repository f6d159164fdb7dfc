/**
 * The quantized graph: the contract between the int8 quantizer (compiler/quant/) and what runs its
 * result (the host executor, the VTA partition). docs/models.md, "Quantized graphs"; the quantizer
 * that makes them is described under "Quantization".
 *
 * Number format (VTA's own scheme, vta-reference Part B §5.8): every quantized value is int8 with a
 * per-tensor power-of-two scale, real = q * 2^-frac; `frac` is an attribute of the node that makes
 * the value. Every requantization is therefore an arithmetic shift right, which the ALU does.
 *
 * Operators (ordinary graph-IR nodes; shapes and attribute names as the canonical float forms):
 *
 *   QuantizeP2    [x: float32]                              {frac}
 *                 -> int8 = clamp(roundHalfEven(x * 2^frac), -128, 127)
 *   DequantizeP2  [q: int8]                                 {frac}
 *                 -> float32 = q * 2^-frac
 *   QConv         [x: int8 NCHW, w: int8 [CO][CI/group][K][K] const, b: int32 [CO] const or '']
 *                 {strides:[s,s], pads:[p,p,p,p], group, shift, clip:[lo,hi], frac}
 *                 -> int8 NCHW: per output value, acc = Σ x·w (int32), then
 *                    clip((acc >> shift) + b[co]) (compiler/ops/reference.ts `requantize`)
 *   QDense        [x: int8 [M,K], w: int8 [N,K] const, b: int32 [N] const or '']
 *                 {shift, clip:[lo,hi], frac}      -> int8 [M,N], the same tail
 *   QAdd          [a: int8, b: int8] (same shape, same frac) {clip:[lo,hi], frac}
 *                 -> int8 = clip(a + b)
 *   QMaxPool      [x: int8 NCHW] {kernel_shape:[k,k], strides:[s,s], pads:[p,p,p,p], frac}
 *                 -> int8 (padding never wins: -infinity)
 *
 * `clip` is within [-128, 127] ([0, 127] for a fused Relu). The shift is 0..31; the bias is at the
 * output's scale (it is added after the shift, as VTA's tail does). `frac` may be negative (ranges
 * above 127.5). Flatten and Reshape may run on int8 values: they only relabel the shape, and the
 * quantizer gives them their input's `frac`. These are exactly the operators
 * VTA can run (conv2d incl. group/depthwise, dense, add, max-pool with the shift/clip/relu tail);
 * everything else in a quantized graph stays float32 on the host between DequantizeP2 and
 * QuantizeP2. The kernels below are the plain reference for them: the host runs them, and VTA's
 * results are checked against them bit for bit.
 */
import { CompileError } from '../errors.ts';
import type { Kernel } from '../host/kernels.ts';
import { addRef, conv2dRef, denseRef, maxPoolRef, type Requant } from '../ops/reference.ts';
import type { Node } from './ir.ts';
import { roundHalfEven, type Tensor } from './tensor.ts';

export const QUANTIZED_OPS = ['QuantizeP2', 'DequantizeP2', 'QConv', 'QDense', 'QAdd', 'QMaxPool'] as const;
export type QuantizedOp = (typeof QUANTIZED_OPS)[number];

export function isQuantizedOp(op: string): op is QuantizedOp {
  return (QUANTIZED_OPS as readonly string[]).includes(op);
}

function num(n: Node, name: string): number {
  const a = n.attrs[name];
  if (typeof a !== 'number') throw new CompileError(`${n.op} node ${n.name} has no numeric attribute ${name}`);
  return a;
}

function ints(n: Node, name: string, len: number): number[] {
  const a = n.attrs[name];
  if (!Array.isArray(a) || a.length !== len || !a.every((x) => typeof x === 'number')) {
    throw new CompileError(`${n.op} node ${n.name}: attribute ${name} must be ${len} integers`);
  }
  return a as number[];
}

/** The requantization tail of a QConv / QDense node. */
export function requantOf(n: Node, bias: Tensor | undefined): Requant {
  const clip = ints(n, 'clip', 2) as [number, number];
  return { shift: num(n, 'shift'), bias: bias?.data, clip, accBits: 32, outBits: 8 };
}

function int8(shape: number[], values: ArrayLike<number>): Tensor {
  return { dtype: 'int8', shape, data: Int8Array.from(values) };
}

function need(t: Tensor | undefined, n: Node, i: number, dtype: string): Tensor {
  if (!t) throw new CompileError(`${n.op} node ${n.name}: input ${i} is missing`);
  if (t.dtype !== dtype) throw new CompileError(`${n.op} node ${n.name}: input ${i} is ${t.dtype}, expected ${dtype}`);
  return t;
}

/** The plain reference kernels of the quantized operators (the host executor merges them with KERNELS). */
export const QUANTIZED_KERNELS: Record<QuantizedOp, Kernel> = {
  QuantizeP2: (n, [x]) => {
    const t = need(x, n, 0, 'float32');
    const m = 2 ** num(n, 'frac');
    const out = new Int8Array(t.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(-128, Math.min(127, roundHalfEven((t.data[i] as number) * m)));
    return [{ dtype: 'int8', shape: [...t.shape], data: out }];
  },
  DequantizeP2: (n, [q]) => {
    const t = need(q, n, 0, 'int8');
    const m = 2 ** -num(n, 'frac');
    return [{ dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.data, (v) => v * m) }];
  },
  QConv: (n, [x, w, b]) => {
    const d = need(x, n, 0, 'int8');
    const k = need(w, n, 1, 'int8');
    const [N, C, H, W] = d.shape;
    const [CO, , K, K2] = k.shape;
    const [s, s2] = ints(n, 'strides', 2);
    const [p, ...ps] = ints(n, 'pads', 4);
    if (K !== K2 || s !== s2 || ps.some((v) => v !== p)) throw new CompileError(`QConv node ${n.name}: square kernels, equal strides and equal pads only`);
    const groups = num(n, 'group');
    const out = conv2dRef({ n: N, cin: C, h: H, w: W, cout: CO, k: K, pad: p, stride: s, groups }, d.data, k.data, requantOf(n, b && need(b, n, 2, 'int32')));
    const oh = Math.floor((H + 2 * p - K) / s) + 1;
    const ow = Math.floor((W + 2 * p - K) / s) + 1;
    return [int8([N, CO, oh, ow], out)];
  },
  QDense: (n, [x, w, b]) => {
    const d = need(x, n, 0, 'int8');
    const k = need(w, n, 1, 'int8');
    const [M, K] = d.shape;
    const [N] = k.shape;
    if (k.shape[1] !== K) throw new CompileError(`QDense node ${n.name}: weight is [${k.shape}], data has K = ${K}`);
    return [int8([M, N], denseRef(M, K, N, d.data, k.data, requantOf(n, b && need(b, n, 2, 'int32'))))];
  },
  QAdd: (n, [a, b]) => {
    const x = need(a, n, 0, 'int8');
    const y = need(b, n, 1, 'int8');
    if (x.shape.join() !== y.shape.join()) throw new CompileError(`QAdd node ${n.name}: shapes [${x.shape}] and [${y.shape}] differ`);
    return [int8([...x.shape], addRef(x.data, y.data, ints(n, 'clip', 2) as [number, number], 32, 8))];
  },
  QMaxPool: (n, [x]) => {
    const d = need(x, n, 0, 'int8');
    const [N, C, H, W] = d.shape;
    const [k, k2] = ints(n, 'kernel_shape', 2);
    const [s, s2] = ints(n, 'strides', 2);
    const [p, ...ps] = ints(n, 'pads', 4);
    if (k !== k2 || s !== s2 || ps.some((v) => v !== p)) throw new CompileError(`QMaxPool node ${n.name}: square windows, equal strides and equal pads only`);
    const out = maxPoolRef({ n: N, c: C, h: H, w: W, k, pad: p, stride: s }, d.data, 8);
    return [int8([N, C, Math.floor((H + 2 * p - k) / s) + 1, Math.floor((W + 2 * p - k) / s) + 1], out)];
  },
};
