/**
 * The requantization chain VTA fuses after a GEMM reduction (vta-reference Part B §5.8):
 * `>> shift`, `+ bias`, clip to [lo, hi] (as two ALU stages, min then max), cast to the output type.
 * Shared by conv2d and dense so both lower the same ALU stages.
 */
import { add, cast, int, max, min, shr, type Expr } from '../ir/expr.ts';
import { compute, placeholder, type Tensor } from '../te/tensor.ts';
import type { VtaTarget } from '../vta/env.ts';

export interface RequantSpec {
  shift?: number;
  bias?: boolean;
  clip?: [number, number];
}

export interface Requantized {
  /** The element-wise ALU stages, in order. */
  alu: Tensor[];
  bias?: Tensor;
  biasAdd?: Tensor;
  out: Tensor;
}

/**
 * Build the stages over `res` (shape `shape`, axis names `names`). The bias placeholder has
 * `biasShape`; `biasIndex` maps an output index to the bias index.
 */
export function requantize(
  res: Tensor, shape: number[], names: string[], s: RequantSpec, t: VtaTarget,
  biasShape: number[], biasIndex: (i: Expr[]) => Expr[],
): Requantized {
  const acc = t.accDtype;
  const alu: Tensor[] = [];
  let cur = res;
  const stage = (name: string, f: (v: Expr, i: Expr[]) => Expr): Tensor => {
    const prev = cur;
    cur = compute(shape, (...i) => f(prev.at(...i), i), name, names.map((a) => `${name}.${a}`));
    alu.push(cur);
    return cur;
  };
  if (s.shift) stage('shr', (v) => shr(v, int(s.shift!, acc)));
  let bias: Tensor | undefined;
  let biasAdd: Tensor | undefined;
  if (s.bias) {
    const bt = placeholder(biasShape, acc, 'bias');
    bias = bt;
    biasAdd = stage('bias_add', (v, i) => add(v, bt.at(...biasIndex(i))));
  }
  if (s.clip) {
    const [lo, hi] = s.clip;
    stage('clip_hi', (v) => min(v, int(hi, acc)));
    stage('clip_lo', (v) => max(v, int(lo, acc)));
  }
  const last = cur;
  const out = compute(shape, (...i) => cast(t.outDtype, last.at(...i)), 'out', names.map((a) => `out.${a}`));
  return { alu, bias, biasAdd, out };
}
