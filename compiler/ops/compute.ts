/**
 * The operators' computations in their natural (unpacked) layouts — NCHW activations, [CO][CI/G][K][K]
 * weights, [M][K] x [N][K] matrices — as tensor expressions, for the host targets (cpu; wasm later).
 * They compute exactly what the plain references (reference.ts) compute; a target's strategy
 * schedules them (compiler/target/strategy.ts). The VTA strategy keeps its packed, blocked
 * definitions (conv2d.ts, dense.ts, elementwise.ts), which share the requantization steps
 * (requant.ts) and the seeded operand values (`operandValues` here) with these.
 */
import type { Derived } from '../../src/config/derive.ts';
import { CompileError } from '../errors.ts';
import { add, and, cast, div, dtypeMin, ge, int, intDtype, lt, min, max, mul, select, sub, type DType, type Expr } from '../ir/expr.ts';
import { compute, placeholder, reduceAxis, reduceMax, sum, type Tensor } from '../te/tensor.ts';
import { checkDim, checkOperatorBytes, defaultBiasRange, randomInts, rangeOf } from './common.ts';
import { blockGeom, checkConvSpec, conv2dDef, outDims, type Conv2dSpec, type ConvDef, type ConvGeom } from './conv2d.ts';
import { NATURAL_BLOCKS, type BlockSpec } from './layout.ts';
import { packConvKernel } from '../vta/pack.ts';
import { createSchedule } from '../te/schedule.ts';
import { denseDef, type DenseSpec } from './dense.ts';
import type { AddSpec, MaxPoolSpec } from './elementwise.ts';
import { requantExpr, type RequantTypes } from './requant.ts';
import { addRef, conv2dRef, denseRef, maxPoolRef, type Requant } from './reference.ts';

/** Value types of the operators, from the configuration's widths. */
export interface OpTypes extends RequantTypes {
  inpDtype: DType;
  wgtDtype: DType;
}

export function opTypes(d: Derived): OpTypes {
  return { inpDtype: intDtype(d.inpWidth), wgtDtype: intDtype(d.wgtWidth), accDtype: intDtype(d.accWidth), outDtype: intDtype(d.outWidth) };
}

/** Seeded operand values in natural layout (in call order) and the reference result. */
export interface OperandValues {
  inputs: Int32Array[];
  expected: () => Int32Array;
}

/** A natural-layout definition: placeholders in call order, the output, and the stages a schedule names. */
export interface OpDefinition {
  /** Operator name as `vtw op` reports it (conv2d, group_conv2d, dense, add, maxpool). */
  op: string;
  shape: Record<string, number>;
  inputs: Tensor[];
  output: Tensor;
  /** The stages the strategies schedule, by role (pad, reduce). */
  stages: { pad?: Tensor; reduce?: Tensor };
  /** Useful multiply-accumulates (0 for element-wise operators). */
  macs: number;
  values: (seed: number) => OperandValues;
  /**
   * The kernel's arguments (in `inputs` order) from the natural operand values (`values().inputs`):
   * constants such as weights are packed here, once, outside the timed call. Absent: the same arrays.
   */
  bind?: (natural: Int32Array[]) => Int32Array[];
  /** Operators with a blocked definition: its block spec, geometry and tensors. */
  blocked?: { block: BlockSpec; geom: ConvGeom; def: ConvDef; dataOffset: number };
  /** The same operator on another block spec (and data offset): what a strategy picks for its target. */
  withBlocks?: (block: BlockSpec, dataOffset?: number) => OpDefinition;
}

const inRange = (e: Expr, n: number): Expr => and(ge(e, 0), lt(e, n));

/** Operand values of conv2d (seed: data, seed+1: weight, seed+2: bias), shared with the VTA definition. */
export function conv2dValues(s: Conv2dSpec, d: Derived, seed: number): { data: Int32Array; weight: Int32Array; bias?: Int32Array; requant: Requant } {
  const [ilo, ihi] = rangeOf(d.inpWidth);
  const [wlo, whi] = rangeOf(d.wgtWidth);
  const data = randomInts(s.batch * s.cin * s.h * s.w, ilo, ihi, seed);
  const weight = randomInts(s.cout * (s.cin / s.groups) * s.k * s.k, wlo, whi, seed + 1);
  const [blo, bhi] = defaultBiasRange(d);
  const bias = s.bias ? randomInts(s.cout, blo, bhi, seed + 2) : undefined;
  return { data, weight, bias, requant: { shift: s.shift, bias, clip: s.clip, accBits: d.accWidth, outBits: d.outWidth } };
}

/** Per-output-channel constant removing a data offset: offset × the sum of the channel's weights (wrap-around int32). */
export function offsetCorrection(s: Conv2dSpec, weight: ArrayLike<number>, offset: number): Int32Array {
  const per = (s.cin / s.groups) * s.k * s.k;
  const out = new Int32Array(s.cout);
  for (let c = 0; c < s.cout; c++) {
    let sum = 0;
    for (let j = 0; j < per; j++) sum = (sum + weight[c * per + j]) | 0;
    out[c] = Math.imul(sum, offset);
  }
  return out;
}

/**
 * conv2d for the host targets: THE blocked definition (conv2d.ts `conv2dDef`) on a block spec
 * (blocks of 1 by default: plain NCHW loops) with natural input and output, the data packed (and
 * offset) inside the function, the weights packed once when bound (`bind`).
 */
export function conv2dDefinition(s: Conv2dSpec, d: Derived, block: BlockSpec = NATURAL_BLOCKS, dataOffset = 0): OpDefinition {
  checkConvSpec(s);
  const t = opTypes(d);
  const { oh, ow } = outDims(s);
  checkOperatorBytes('conv2d', [
    ['input', s.batch * s.h * s.w * s.cin, d.inpWidth], ['weight', s.cout * (s.cin / s.groups) * s.k * s.k, d.wgtWidth],
    ['bias', s.bias ? s.cout : 0, d.accWidth], ['output', s.batch * oh * ow * s.cout, d.outWidth],
  ], d);
  const g = blockGeom(s, block);
  const cd = conv2dDef(g, t, { io: 'natural', dataOffset });
  const inputs = createSchedule(cd.out).stages.filter((st) => st.isPlaceholder).map((st) => st.tensor);
  return {
    op: s.groups > 1 ? 'group_conv2d' : 'conv2d',
    shape: { batch: s.batch, h: s.h, w: s.w, cin: s.cin, cout: s.cout, k: s.k, pad: s.pad, stride: s.stride, groups: s.groups },
    inputs,
    output: cd.out,
    stages: { pad: cd.inp !== cd.data ? cd.inp : undefined, reduce: cd.conv },
    macs: s.batch * s.cout * oh * ow * (s.cin / s.groups) * s.k * s.k,
    values: (seed) => {
      const v = conv2dValues(s, d, seed);
      return {
        inputs: v.bias ? [v.data, v.weight, v.bias] : [v.data, v.weight],
        expected: () => conv2dRef({ n: s.batch, cin: s.cin, h: s.h, w: s.w, cout: s.cout, k: s.k, pad: s.pad, stride: s.stride, groups: s.groups }, v.data, v.weight, v.requant),
      };
    },
    bind: ([data, weight, bias]) => {
      const args = new Map<Tensor, Int32Array>([[cd.data, data], [cd.kernel, block.BI * block.BO > 1 || s.groups > 1 ? packConvKernel(g, weight) : weight]]);
      if (cd.bias) args.set(cd.bias, bias);
      if (cd.offsetCorrection) args.set(cd.offsetCorrection, offsetCorrection(s, weight, dataOffset));
      return inputs.map((x) => args.get(x)!);
    },
    blocked: { block, geom: g, def: cd, dataOffset },
    withBlocks: (b, offset) => conv2dDefinition(s, d, b, offset),
  };
}

/** Operand values of dense (seed: data, seed+1: weight, seed+2: bias), shared with the VTA definition. */
export function denseValues(s: DenseSpec, d: Derived, seed: number): { data: Int32Array; weight: Int32Array; bias?: Int32Array; requant: Requant } {
  const [ilo, ihi] = rangeOf(d.inpWidth);
  const [wlo, whi] = rangeOf(d.wgtWidth);
  const data = randomInts(s.m * s.k, ilo, ihi, seed);
  const weight = randomInts(s.n * s.k, wlo, whi, seed + 1);
  const [blo, bhi] = defaultBiasRange(d);
  const bias = s.bias ? randomInts(s.n, blo, bhi, seed + 2) : undefined;
  return { data, weight, bias, requant: { shift: s.shift, bias, clip: s.clip, accBits: d.accWidth, outBits: d.outWidth } };
}

/** dense for the host targets: THE blocked definition (dense.ts `denseDef`), natural io, blocks of 1. */
export function denseDefinition(s: DenseSpec, d: Derived): OpDefinition {
  for (const [n, v] of [['M', s.m], ['K', s.k], ['N', s.n]] as const) checkDim('dense', n, v);
  checkOperatorBytes('dense', [['data', s.m * s.k, d.inpWidth], ['weight', s.n * s.k, d.wgtWidth], ['bias', s.bias ? s.n : 0, d.accWidth], ['output', s.m * s.n, d.outWidth]], d);
  const def = denseDef(s, NATURAL_BLOCKS, opTypes(d), 'natural');
  return {
    op: 'dense',
    shape: { m: s.m, k: s.k, n: s.n },
    inputs: createSchedule(def.out).stages.filter((st) => st.isPlaceholder).map((st) => st.tensor),
    output: def.out,
    stages: { reduce: def.res },
    macs: s.m * s.k * s.n,
    values: (seed) => {
      const v = denseValues(s, d, seed);
      return { inputs: v.bias ? [v.data, v.weight, v.bias] : [v.data, v.weight], expected: () => denseRef(s.m, s.k, s.n, v.data, v.weight, v.requant) };
    },
  };
}

/** Operand values of add: two accumulator-typed tensors with values in the output range (seed, seed+1). */
export function addValues(s: AddSpec, d: Derived, seed: number): [Int32Array, Int32Array] {
  const [lo, hi] = rangeOf(d.outWidth);
  const n = s.batch * s.c * s.h * s.w;
  return [randomInts(n, lo, hi, seed), randomInts(n, lo, hi, seed + 1)];
}

export function addDefinition(s: AddSpec, d: Derived): OpDefinition {
  for (const [n, v] of [['batch', s.batch], ['H', s.h], ['W', s.w], ['C', s.c]] as const) checkDim('add', n, v);
  const elems = s.batch * s.h * s.w * s.c;
  checkOperatorBytes('add', [['a', elems, d.accWidth], ['b', elems, d.accWidth], ['output', elems, d.outWidth]], d);
  const t = opTypes(d);
  const shape = [s.batch, s.c, s.h, s.w];
  const a = placeholder(shape, t.accDtype, 'a');
  const b = placeholder(shape, t.accDtype, 'b');
  const out = compute(shape, (...i) => {
    let v = add(a.at(...i), b.at(...i));
    if (s.clip) v = max(min(v, int(s.clip[1], t.accDtype)), int(s.clip[0], t.accDtype));
    return cast(t.outDtype, v);
  }, 'out', ['n', 'c', 'y', 'x'].map((x) => `out.${x}`));
  return {
    op: 'add',
    shape: { batch: s.batch, h: s.h, w: s.w, c: s.c },
    inputs: [a, b],
    output: out,
    stages: {},
    macs: 0,
    values: (seed) => {
      const [va, vb] = addValues(s, d, seed);
      return { inputs: [va, vb], expected: () => addRef(va, vb, s.clip, d.accWidth, d.outWidth) };
    },
  };
}

/** Operand values of maxpool: accumulator-typed values in the output range. */
export function maxPoolValues(s: MaxPoolSpec, d: Derived, seed: number): Int32Array {
  const [lo, hi] = rangeOf(d.outWidth);
  return randomInts(s.batch * s.c * s.h * s.w, lo, hi, seed);
}

export function maxPoolDefinition(s: MaxPoolSpec, d: Derived): OpDefinition {
  for (const [n, v] of [['batch', s.batch], ['H', s.h], ['W', s.w], ['C', s.c], ['K', s.k], ['STRIDE', s.stride]] as const) checkDim('maxpool', n, v);
  checkDim('maxpool', 'PAD', s.pad, 0);
  const { oh, ow } = outDims(s);
  if (s.pad >= s.k) throw new CompileError(`maxpool: padding ${s.pad} must be smaller than the window ${s.k} (a window would hold only padding)`);
  if (oh < 1 || ow < 1) throw new CompileError(`maxpool: a ${s.k}x${s.k} window does not fit ${s.h}x${s.w}`);
  checkOperatorBytes('maxpool', [['input', s.batch * s.h * s.w * s.c, d.accWidth], ['output', s.batch * oh * ow * s.c, d.outWidth]], d);
  const t = opTypes(d);
  const acc = t.accDtype;
  const p = s.pad;
  const data = placeholder([s.batch, s.c, s.h, s.w], acc, 'data');
  const ry = reduceAxis(s.k, 'ry');
  const rx = reduceAxis(s.k, 'rx');
  const pool = compute([s.batch, s.c, oh, ow], (n, c, y, x) => {
    const r = sub(add(mul(y, s.stride), ry.e), p);
    const col = sub(add(mul(x, s.stride), rx.e), p);
    const v = data.at(n, c, r, col);
    // Padding never wins: out-of-range window positions read the type's minimum.
    return reduceMax(p ? select(and(inRange(r, s.h), inRange(col, s.w)), v, int(dtypeMin(acc), acc)) : v, [ry, rx]);
  }, 'pool', ['n', 'c', 'y', 'x'].map((a) => `pool.${a}`));
  const out = compute([s.batch, s.c, oh, ow], (...i) => cast(t.outDtype, pool.at(...i)), 'out', ['n', 'c', 'y', 'x'].map((a) => `out.${a}`));
  return {
    op: 'maxpool',
    shape: { batch: s.batch, h: s.h, w: s.w, c: s.c, k: s.k, pad: s.pad, stride: s.stride },
    inputs: [data],
    output: out,
    stages: { reduce: pool },
    macs: 0,
    values: (seed) => {
      const v = maxPoolValues(s, d, seed);
      return { inputs: [v], expected: () => maxPoolRef({ n: s.batch, c: s.c, h: s.h, w: s.w, k: s.k, pad: s.pad, stride: s.stride }, v, d.outWidth) };
    },
  };
}
