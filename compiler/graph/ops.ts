/**
 * The operators of the graph IR, one table: per operator its shape and dtype inference and its
 * multiply-accumulate count. An operator is supported when it has an entry here and a kernel in
 * compiler/host/kernels.ts (test/graph-import.test.ts checks the two tables agree). The importer
 * refuses any other op type in one line.
 *
 * The quantized operators (compiler/graph/quantized.ts) have their own table, QUANTIZED_OP_DEFS:
 * the quantizer makes them, no ONNX file may name them, so they are not in OPS / SUPPORTED_OPS;
 * `opDef` looks an operator up in either table (inference and MAC counts of quantized graphs).
 */
import { CompileError } from '../errors.ts';
import type { Node } from './ir.ts';
import { broadcastShapes, convGeometry, normAxis, poolGeometry, reshapeTarget, resizeOutputShape, sliceParams } from './shapes.ts';
import type { QuantizedOp } from './quantized.ts';
import { sizeOf, toInts, type DType, type Tensor } from './tensor.ts';

/** What inference knows of an input: its type and static shape, and its tensor when constant. */
export interface ValueInfo {
  dtype: DType;
  shape: number[];
  const?: Tensor;
}

export interface OutInfo {
  dtype: DType;
  shape: number[];
}

export interface OpDef {
  /** Output types and shapes; throws a CompileError for inputs the operator cannot take. */
  infer(n: Node, ins: (ValueInfo | undefined)[]): OutInfo[];
  /** Multiply-accumulates of one run (0 for operators without products). */
  macs?(n: Node, ins: (ValueInfo | undefined)[], outs: OutInfo[]): number;
  /** Inputs that decide output shapes (Reshape's shape, Slice's bounds...): they must be constants once the graph is bound. */
  shapeInputs?: readonly number[];
}

function req(n: Node, ins: (ValueInfo | undefined)[], i: number): ValueInfo {
  const v = ins[i];
  if (!v) throw new CompileError(`${n.op} node ${n.name}: input ${i} is missing`);
  return v;
}

/** A constant input's integer values (shape-like inputs must be known once the graph is bound). */
function constInts(n: Node, ins: (ValueInfo | undefined)[], i: number, what: string): number[] | undefined {
  const v = ins[i];
  if (!v) return undefined;
  if (!v.const) throw new CompileError(`${n.op} node ${n.name}: its ${what} is computed at run time; vtw needs it constant once the inputs are bound (bind every dynamic dimension with --input NAME=DIMS)`);
  return toInts(v.const);
}

function constFloats(n: Node, ins: (ValueInfo | undefined)[], i: number, what: string): number[] | undefined {
  const v = ins[i];
  if (!v) return undefined;
  if (!v.const) throw new CompileError(`${n.op} node ${n.name}: its ${what} is computed at run time; vtw needs it constant once the inputs are bound`);
  return Array.from(v.const.data);
}

const same: OpDef = { infer: (n, ins) => [{ ...req(n, ins, 0) }] };

function sameFloat(n: Node, ins: (ValueInfo | undefined)[]): OutInfo[] {
  const x = req(n, ins, 0);
  if (x.dtype !== 'float32' && x.dtype !== 'float16' && x.dtype !== 'float64') throw new CompileError(`${n.op} node ${n.name}: input type ${x.dtype} is not supported (float only)`);
  return [{ dtype: x.dtype, shape: [...x.shape] }];
}

const floatUnary: OpDef = { infer: sameFloat };

const broadcast: OpDef = {
  infer: (n, ins) => {
    const a = req(n, ins, 0);
    const b = req(n, ins, 1);
    if (n.op !== 'Pow' && a.dtype !== b.dtype) throw new CompileError(`${n.op} node ${n.name}: input types ${a.dtype} and ${b.dtype} differ`);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape) }];
  },
};

function matmulShape(n: Node, a: number[], b: number[]): number[] {
  const A = a.length === 1 ? [1, a[0]] : a;
  const B = b.length === 1 ? [b[0], 1] : b;
  if (A[A.length - 1] !== B[B.length - 2]) throw new CompileError(`${n.op} node ${n.name}: shapes [${a.join(',')}] and [${b.join(',')}] do not multiply`);
  const batch = broadcastShapes(A.slice(0, -2), B.slice(0, -2));
  const out = [...batch];
  if (a.length > 1) out.push(A[A.length - 2]);
  if (b.length > 1) out.push(B[B.length - 1]);
  return out;
}

/** MACs of a matrix product: every output element takes K products. */
function matmulMacs(a: ValueInfo | undefined, outs: OutInfo[]): number {
  return a ? sizeOf(outs[0].shape) * a.shape[a.shape.length - 1] : 0;
}

function convMacs(x: ValueInfo | undefined, w: ValueInfo | undefined, outs: OutInfo[]): number {
  return x && w ? sizeOf(outs[0].shape) * sizeOf(w.shape.slice(1)) : 0;
}

function convInfer(outType: (x: ValueInfo, n: Node, ins: (ValueInfo | undefined)[]) => DType, xi: number, wi: number): OpDef['infer'] {
  return (n, ins) => {
    const x = req(n, ins, xi);
    const w = req(n, ins, wi);
    return [{ dtype: outType(x, n, ins), shape: convGeometry(n, x.shape, w.shape).outShape }];
  };
}

/** Flatten's axis: 0..rank, negative counts from the rank. */
export function flattenAxis(n: Node, rank: number): number {
  const a = typeof n.attrs.axis === 'number' ? n.attrs.axis : 1;
  const v = a < 0 ? a + rank : a;
  if (v < 0 || v > rank) throw new CompileError(`Flatten node ${n.name}: axis ${a} is outside a rank-${rank} tensor`);
  return v;
}

export const OPS: Record<string, OpDef> = {
  Conv: { infer: convInfer((x) => x.dtype, 0, 1), macs: (_n, ins, outs) => convMacs(ins[0], ins[1], outs) },
  ConvInteger: { infer: convInfer(() => 'int32', 0, 1), macs: (_n, ins, outs) => convMacs(ins[0], ins[1], outs) },
  QLinearConv: { infer: convInfer((x, _n, ins) => ins[7]?.dtype ?? x.dtype, 0, 3), macs: (_n, ins, outs) => convMacs(ins[0], ins[3], outs) },
  BatchNormalization: {
    infer: (n, ins) => {
      if (n.outputs.filter(Boolean).length > 1 || n.attrs.training_mode === 1) throw new CompileError(`BatchNormalization node ${n.name}: training mode is not supported (inference only)`);
      return sameFloat(n, ins);
    },
  },
  Relu: same,
  LeakyRelu: floatUnary,
  Sigmoid: floatUnary,
  HardSigmoid: floatUnary,
  HardSwish: floatUnary,
  Sqrt: floatUnary,
  Identity: same,
  Clip: same,
  Add: broadcast,
  Sub: broadcast,
  Mul: broadcast,
  Div: broadcast,
  Pow: broadcast,
  MatMul: { infer: (n, ins) => [{ dtype: req(n, ins, 0).dtype, shape: matmulShape(n, req(n, ins, 0).shape, req(n, ins, 1).shape) }], macs: (_n, ins, outs) => matmulMacs(ins[0], outs) },
  MatMulInteger: { infer: (n, ins) => [{ dtype: 'int32', shape: matmulShape(n, req(n, ins, 0).shape, req(n, ins, 1).shape) }], macs: (_n, ins, outs) => matmulMacs(ins[0], outs) },
  QLinearMatMul: { infer: (n, ins) => [{ dtype: ins[7]?.dtype ?? req(n, ins, 0).dtype, shape: matmulShape(n, req(n, ins, 0).shape, req(n, ins, 3).shape) }], macs: (_n, ins, outs) => matmulMacs(ins[0], outs) },
  Gemm: {
    infer: (n, ins) => {
      const a = req(n, ins, 0).shape;
      const b = req(n, ins, 1).shape;
      if (a.length !== 2 || b.length !== 2) throw new CompileError(`Gemm node ${n.name}: inputs must be 2-D, got [${a.join(',')}] and [${b.join(',')}]`);
      const [M, K] = n.attrs.transA === 1 ? [a[1], a[0]] : a;
      const [K2, N] = n.attrs.transB === 1 ? [b[1], b[0]] : b;
      if (K !== K2) throw new CompileError(`Gemm node ${n.name}: inner dimensions ${K} and ${K2} differ`);
      const c = ins[2];
      if (c) broadcastShapes([M, N], c.shape);
      return [{ dtype: req(n, ins, 0).dtype, shape: [M, N] }];
    },
    macs: (n, ins, outs) => sizeOf(outs[0].shape) * (n.attrs.transA === 1 ? req(n, ins, 0).shape[0] : req(n, ins, 0).shape[1]),
  },
  GlobalAveragePool: { infer: (n, ins) => { const x = req(n, ins, 0); return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }]; } },
  AveragePool: { infer: (n, ins) => [{ dtype: req(n, ins, 0).dtype, shape: poolGeometry(n, req(n, ins, 0).shape).outShape }] },
  MaxPool: {
    infer: (n, ins) => {
      if (n.outputs.filter(Boolean).length > 1) throw new CompileError(`MaxPool node ${n.name}: the Indices output is not supported`);
      if (n.attrs.storage_order === 1) throw new CompileError(`MaxPool node ${n.name}: storage_order 1 is not supported`);
      return [{ dtype: req(n, ins, 0).dtype, shape: poolGeometry(n, req(n, ins, 0).shape).outShape }];
    },
  },
  Flatten: {
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const axis = flattenAxis(n, x.shape.length);
      return [{ dtype: x.dtype, shape: [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))] }];
    },
  },
  Reshape: { shapeInputs: [1], infer: (n, ins) => [{ dtype: req(n, ins, 0).dtype, shape: reshapeTarget(req(n, ins, 0).shape, constInts(n, ins, 1, 'target shape')!, n.attrs.allowzero === 1) }] },
  Transpose: {
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const perm = (n.attrs.perm as number[] | undefined) ?? [...x.shape.keys()].reverse();
      if (perm.length !== x.shape.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new CompileError(`Transpose node ${n.name}: perm [${perm.join(',')}] is not a permutation of ${x.shape.length} axes`);
      return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
    },
  },
  Concat: {
    infer: (n, ins) => {
      const xs = ins.filter((v): v is ValueInfo => v !== undefined);
      const r = xs[0].shape.length;
      const axis = normAxis(typeof n.attrs.axis === 'number' ? n.attrs.axis : 0, r);
      const shape = [...xs[0].shape];
      shape[axis] = 0;
      for (const v of xs) {
        if (v.shape.length !== r || v.shape.some((d, i) => i !== axis && d !== xs[0].shape[i]) || v.dtype !== xs[0].dtype) {
          throw new CompileError(`Concat node ${n.name}: inputs ${xs.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(', ')} do not concatenate on axis ${axis}`);
        }
        shape[axis] += v.shape[axis];
      }
      return [{ dtype: xs[0].dtype, shape }];
    },
  },
  Softmax: { infer: sameFloat },
  ReduceMean: {
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const r = x.shape.length;
      const axes = ((n.attrs.axes as number[] | undefined) ?? [...Array(r).keys()]).map((a) => normAxis(a, r));
      const keep = (n.attrs.keepdims ?? 1) === 1;
      return [{ dtype: x.dtype, shape: keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i)) }];
    },
  },
  Resize: {
    shapeInputs: [1, 2, 3],
    infer: (n, ins) => {
      const mode = typeof n.attrs.mode === 'string' ? n.attrs.mode : 'nearest';
      if (mode !== 'nearest') throw new CompileError(`Resize node ${n.name}: mode ${mode} is not supported (nearest only)`);
      const ctm = n.attrs.coordinate_transformation_mode;
      if (ctm === 'tf_crop_and_resize') throw new CompileError(`Resize node ${n.name}: coordinate_transformation_mode tf_crop_and_resize is not supported`);
      const x = req(n, ins, 0);
      const scales = constFloats(n, ins, 2, 'scales');
      const sizes = constInts(n, ins, 3, 'sizes');
      return [{ dtype: x.dtype, shape: resizeOutputShape(n, x.shape, scales?.length ? scales : undefined, sizes?.length ? sizes : undefined) }];
    },
  },
  Pad: {
    shapeInputs: [1],
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const mode = typeof n.attrs.mode === 'string' ? n.attrs.mode : 'constant';
      if (!['constant', 'edge', 'reflect'].includes(mode)) throw new CompileError(`Pad node ${n.name}: mode ${mode} is not supported (constant, edge, reflect)`);
      if (ins[3]) throw new CompileError(`Pad node ${n.name}: the axes input is not supported`);
      const p = constInts(n, ins, 1, 'pads')!;
      const r = x.shape.length;
      if (p.length !== 2 * r) throw new CompileError(`Pad node ${n.name}: ${p.length} pads for a rank-${r} input`);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => d + p[i] + p[i + r]) }];
    },
  },
  Shape: {
    infer: (n, ins) => {
      const r = req(n, ins, 0).shape.length;
      const clamp = (a: number) => Math.min(Math.max(a < 0 ? a + r : a, 0), r);
      const start = clamp(typeof n.attrs.start === 'number' ? n.attrs.start : 0);
      const end = clamp(typeof n.attrs.end === 'number' ? n.attrs.end : r);
      return [{ dtype: 'int64', shape: [Math.max(0, end - start)] }];
    },
  },
  Slice: {
    shapeInputs: [1, 2, 3, 4],
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const p = sliceParams(x.shape, constInts(n, ins, 1, 'starts')!, constInts(n, ins, 2, 'ends')!, constInts(n, ins, 3, 'axes'), constInts(n, ins, 4, 'steps'));
      return [{ dtype: x.dtype, shape: p.outShape }];
    },
  },
  Gather: {
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const idx = req(n, ins, 1);
      const axis = normAxis(typeof n.attrs.axis === 'number' ? n.attrs.axis : 0, x.shape.length);
      return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
    },
  },
  Cast: { infer: (n, ins) => [{ dtype: n.attrs.to as DType, shape: [...req(n, ins, 0).shape] }] },
  Squeeze: {
    shapeInputs: [1],
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const axes = constInts(n, ins, 1, 'axes')?.map((a) => normAxis(a, x.shape.length)) ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
      for (const a of axes) if (x.shape[a] !== 1) throw new CompileError(`Squeeze node ${n.name}: dimension ${a} of [${x.shape.join(',')}] is not 1`);
      return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
    },
  },
  Unsqueeze: {
    shapeInputs: [1],
    infer: (n, ins) => {
      const x = req(n, ins, 0);
      const raw = constInts(n, ins, 1, 'axes')!;
      const r = x.shape.length + raw.length;
      const axes = raw.map((a) => normAxis(a, r));
      const shape: number[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) shape.push(axes.includes(i) ? 1 : x.shape[k++]);
      return [{ dtype: x.dtype, shape }];
    },
  },
  QuantizeLinear: { infer: (n, ins) => [{ dtype: ins[2]?.dtype ?? 'uint8', shape: [...req(n, ins, 0).shape] }] },
  DequantizeLinear: { infer: (n, ins) => [{ dtype: 'float32', shape: [...req(n, ins, 0).shape] }] },
};

export const SUPPORTED_OPS: readonly string[] = Object.keys(OPS).sort();

/** An input that must have one dtype (the quantized operators are strict about int8 / int32 / float32). */
function typed(n: Node, ins: (ValueInfo | undefined)[], i: number, dtype: DType): ValueInfo {
  const v = req(n, ins, i);
  if (v.dtype !== dtype) throw new CompileError(`${n.op} node ${n.name}: input ${i} is ${v.dtype}, expected ${dtype}`);
  return v;
}

/** A QConv / QDense bias: absent, or int32 with one value per output channel. */
function checkBias(n: Node, ins: (ValueInfo | undefined)[], channels: number): void {
  if (!ins[2]) return;
  const b = typed(n, ins, 2, 'int32');
  if (b.shape.length !== 1 || b.shape[0] !== channels) throw new CompileError(`${n.op} node ${n.name}: bias is [${b.shape.join(',')}], expected [${channels}]`);
}

/** Shape and dtype inference of the quantized operators (the contract in compiler/graph/quantized.ts). */
export const QUANTIZED_OP_DEFS: Record<QuantizedOp, OpDef> = {
  QuantizeP2: { infer: (n, ins) => [{ dtype: 'int8', shape: [...typed(n, ins, 0, 'float32').shape] }] },
  DequantizeP2: { infer: (n, ins) => [{ dtype: 'float32', shape: [...typed(n, ins, 0, 'int8').shape] }] },
  QConv: {
    infer: (n, ins) => {
      const x = typed(n, ins, 0, 'int8');
      const w = typed(n, ins, 1, 'int8');
      if (x.shape.length !== 4 || w.shape.length !== 4) throw new CompileError(`QConv node ${n.name}: data [${x.shape.join(',')}] and weight [${w.shape.join(',')}] must be 4-D`);
      checkBias(n, ins, w.shape[0]);
      return [{ dtype: 'int8', shape: convGeometry(n, x.shape, w.shape).outShape }];
    },
    macs: (_n, ins, outs) => convMacs(ins[0], ins[1], outs),
  },
  QDense: {
    infer: (n, ins) => {
      const x = typed(n, ins, 0, 'int8');
      const w = typed(n, ins, 1, 'int8');
      if (x.shape.length !== 2 || w.shape.length !== 2 || x.shape[1] !== w.shape[1]) {
        throw new CompileError(`QDense node ${n.name}: data [${x.shape.join(',')}] and weight [${w.shape.join(',')}] must be [M,K] and [N,K]`);
      }
      checkBias(n, ins, w.shape[0]);
      return [{ dtype: 'int8', shape: [x.shape[0], w.shape[0]] }];
    },
    macs: (_n, ins, outs) => matmulMacs(ins[0], outs),
  },
  QAdd: {
    infer: (n, ins) => {
      const a = typed(n, ins, 0, 'int8');
      const b = typed(n, ins, 1, 'int8');
      if (a.shape.join() !== b.shape.join()) throw new CompileError(`QAdd node ${n.name}: shapes [${a.shape.join(',')}] and [${b.shape.join(',')}] differ`);
      return [{ dtype: 'int8', shape: [...a.shape] }];
    },
  },
  QMaxPool: { infer: (n, ins) => [{ dtype: 'int8', shape: poolGeometry(n, typed(n, ins, 0, 'int8').shape).outShape }] },
};

/** The definition of an operator of either table (undefined for an unknown operator). */
export function opDef(op: string): OpDef | undefined {
  return OPS[op] ?? (QUANTIZED_OP_DEFS as Record<string, OpDef>)[op];
}
