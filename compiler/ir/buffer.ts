/**
 * Buffers of the loop-level IR: a name, a shape, a dtype and a memory scope. `global` is DRAM; the
 * other scopes are the accelerator's on-chip SRAMs (a target registers what they mean — for VTA the
 * input, weight and accumulator buffers of vta-reference Part B §5.1).
 */
import { add, int, mul, simplify, type DType, type Expr } from './expr.ts';

export type Scope = 'global' | 'inp' | 'wgt' | 'acc' | 'shared' | 'local';

/** How the printer spells a scope (VTA's names). */
export const SCOPE_NAMES: Record<Scope, string> = {
  global: 'global',
  inp: 'local.inp_buffer',
  wgt: 'local.wgt_buffer',
  acc: 'local.acc_buffer',
  // GPU scopes (compiler/gpu): on-chip memory of a thread block / work-group, and a thread's registers.
  shared: 'shared',
  local: 'local',
};

let nextBufferId = 0;

export class Buffer {
  readonly id = nextBufferId++;
  readonly strides: readonly number[];
  readonly size: number;
  constructor(
    readonly name: string,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly scope: Scope = 'global',
  ) {
    const strides: number[] = new Array(shape.length);
    let s = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      strides[i] = s;
      s *= shape[i];
    }
    this.strides = strides;
    this.size = s;
  }

  /** A copy with another name / scope / shape (used when a pass duplicates or re-homes a buffer). */
  clone(name = this.name, scope: Scope = this.scope, shape: readonly number[] = this.shape): Buffer {
    return new Buffer(name, shape, this.dtype, scope);
  }
}

/** Row-major flat index of a multi-dimensional access. */
export function flatIndex(buf: Buffer, idx: readonly Expr[]): Expr {
  let e: Expr = int(0);
  idx.forEach((i, d) => {
    e = add(e, mul(i, buf.strides[d]));
  });
  return simplify(e);
}
