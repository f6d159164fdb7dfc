/**
 * The requantization chain after a reduction (vta-reference Part B §5.8): `>> shift`, `+ bias`,
 * clip to [lo, hi] (min then max), cast to the output type. Written once, as a list of element-wise
 * steps: the VTA definitions make each step its own ALU stage (`requantize`), the natural-layout
 * definitions of the host targets (compute.ts) fold them into one expression (`requantExpr`).
 */
import { add, cast, int, max, min, shr, type DType, type Expr } from '../ir/expr.ts';
import { compute, placeholder, type Tensor } from '../te/tensor.ts';

export interface RequantSpec {
  shift?: number;
  bias?: boolean;
  clip?: [number, number];
}

/** The value types of the chain: accumulator and output (a VtaTarget has both). */
export interface RequantTypes {
  accDtype: DType;
  outDtype: DType;
}

/** One element-wise step: its stage name and what it does to an accumulator value (bias: the bias read). */
export interface RequantStep {
  name: 'shr' | 'bias_add' | 'clip_hi' | 'clip_lo';
  apply: (v: Expr, bias: Expr | undefined) => Expr;
}

/** The steps of a spec, in order (the cast to the output type follows them). */
export function requantSteps(s: RequantSpec, acc: DType): RequantStep[] {
  const steps: RequantStep[] = [];
  if (s.shift) steps.push({ name: 'shr', apply: (v) => shr(v, int(s.shift!, acc)) });
  if (s.bias) steps.push({ name: 'bias_add', apply: (v, b) => add(v, b!) });
  if (s.clip) {
    const [lo, hi] = s.clip;
    steps.push({ name: 'clip_hi', apply: (v) => min(v, int(hi, acc)) });
    steps.push({ name: 'clip_lo', apply: (v) => max(v, int(lo, acc)) });
  }
  return steps;
}

/** The whole chain as one expression: requantized and cast accumulator value `v`. */
export function requantExpr(v: Expr, s: RequantSpec, t: RequantTypes, bias: Expr | undefined): Expr {
  let cur = v;
  for (const step of requantSteps(s, t.accDtype)) cur = step.apply(cur, bias);
  return cast(t.outDtype, cur);
}

export interface Requantized {
  /** The element-wise ALU stages, in order. */
  alu: Tensor[];
  bias?: Tensor;
  biasAdd?: Tensor;
  out: Tensor;
}

/**
 * Build the chain as separate stages over `res` (shape `shape`, axis names `names`), one per step.
 * The bias placeholder has `biasShape`; `biasIndex` maps an output index to the bias index.
 */
export function requantize(
  res: Tensor, shape: number[], names: string[], s: RequantSpec, t: RequantTypes,
  biasShape: number[], biasIndex: (i: Expr[]) => Expr[],
): Requantized {
  const alu: Tensor[] = [];
  const bias = s.bias ? placeholder(biasShape, t.accDtype, 'bias') : undefined;
  let biasAdd: Tensor | undefined;
  let cur = res;
  for (const step of requantSteps(s, t.accDtype)) {
    const prev = cur;
    cur = compute(shape, (...i) => step.apply(prev.at(...i), bias?.at(...biasIndex(i))), step.name, names.map((a) => `${step.name}.${a}`));
    alu.push(cur);
    if (step.name === 'bias_add') biasAdd = cur;
  }
  const last = cur;
  const out = compute(shape, (...i) => cast(t.outDtype, last.at(...i)), 'out', names.map((a) => `out.${a}`));
  return { alu, bias, biasAdd, out };
}
