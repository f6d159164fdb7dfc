/**
 * Tensor-expression front end: placeholders (inputs), computes over named axes, reductions. A
 * compute's body is an expression of its axis variables that reads other tensors; a reduction
 * (sum / max / min over reduce axes) may only be the whole body. Nothing is executed here: a
 * schedule (schedule.ts) and lowering (lower.ts) turn the definition into loops.
 */
import { CompileError } from '../errors.ts';
import { ref, toExpr, Var, visitExpr, type DType, type Expr, type ExprLike, type Read, type Reduce, type ReduceOp } from '../ir/expr.ts';

export class IterVar {
  readonly var: Var;
  constructor(
    readonly name: string,
    readonly extent: number,
    readonly kind: 'spatial' | 'reduce',
  ) {
    if (!Number.isInteger(extent) || extent < 1) throw new CompileError(`axis ${name} needs a positive integer extent, got ${extent}`);
    this.var = new Var(name);
  }
  /** The axis as an expression. */
  get e(): Expr {
    return ref(this.var);
  }
}

export interface PlaceholderOp {
  k: 'placeholder';
}

export interface ComputeOp {
  k: 'compute';
  axes: IterVar[];
  reduceAxes: IterVar[];
  body: Expr;
}

export type Operation = PlaceholderOp | ComputeOp;

export class Tensor {
  constructor(
    readonly name: string,
    readonly shape: readonly number[],
    readonly dtype: DType,
    public op: Operation,
  ) {}

  /** Read this tensor at an index (one expression per dimension). */
  at(...idx: ExprLike[]): Expr {
    if (idx.length !== this.shape.length) throw new CompileError(`${this.name} has ${this.shape.length} dimensions, indexed with ${idx.length}`);
    const r: Read = { k: 'read', tensor: this, idx: idx.map((i) => toExpr(i)), dtype: this.dtype };
    return r;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The compute op (throws for a placeholder). */
  get compute(): ComputeOp {
    if (this.op.k !== 'compute') throw new CompileError(`${this.name} is a placeholder, not a compute`);
    return this.op;
  }
}

export function placeholder(shape: readonly number[], dtype: DType, name: string): Tensor {
  for (const s of shape) if (!Number.isInteger(s) || s < 1) throw new CompileError(`placeholder ${name}: shape ${shape.join('x')} must be positive integers`);
  return new Tensor(name, [...shape], dtype, { k: 'placeholder' });
}

export function reduceAxis(extent: number, name: string): IterVar {
  return new IterVar(name, extent, 'reduce');
}

function reduce(op: ReduceOp, body: Expr, axes: IterVar[]): Expr {
  for (const a of axes) if (a.kind !== 'reduce') throw new CompileError(`${a.name} is not a reduce axis`);
  const r: Reduce = { k: 'reduce', op, body, axes, dtype: body.dtype };
  return r;
}

export const sum = (body: Expr, axes: IterVar[]): Expr => reduce('sum', body, axes);
export const reduceMax = (body: Expr, axes: IterVar[]): Expr => reduce('max', body, axes);
export const reduceMin = (body: Expr, axes: IterVar[]): Expr => reduce('min', body, axes);

/**
 * Define a tensor by an expression of its axes: `compute([n, m], (i, j) => ..., 'C')`. Axis names
 * default to i0, i1, ...
 */
export function compute(shape: readonly number[], fn: (...axes: Expr[]) => ExprLike, name: string, axisNames?: string[]): Tensor {
  const axes = shape.map((s, i) => new IterVar(axisNames?.[i] ?? `${name}.i${i}`, s, 'spatial'));
  const body = toExpr(fn(...axes.map((a) => a.e)));
  if (body.dtype === 'index' || body.dtype === 'bool') throw new CompileError(`compute ${name}: the body needs a value type (cast it), not ${body.dtype}`);
  let reduceAxes: IterVar[] = [];
  if (body.k === 'reduce') reduceAxes = body.axes as IterVar[];
  checkNoNestedReduce(body, name);
  return new Tensor(name, [...shape], body.dtype, { k: 'compute', axes, reduceAxes, body });
}

function checkNoNestedReduce(e: Expr, name: string): void {
  const inner = e.k === 'reduce' ? e.body : e;
  let bad = false;
  visitExpr(inner, (x) => {
    if (x.k === 'reduce') bad = true;
  });
  if (bad) throw new CompileError(`compute ${name}: a reduction may only be the whole body`);
}

/** Tensors read by an expression. */
export function tensorsRead(e: Expr, out = new Set<Tensor>()): Set<Tensor> {
  const walk = (x: Expr): void => {
    switch (x.k) {
      case 'read':
        out.add(x.tensor as Tensor);
        x.idx.forEach(walk);
        break;
      case 'bin':
      case 'cmp':
      case 'and':
      case 'or':
        walk(x.a);
        walk(x.b);
        break;
      case 'not':
      case 'cast':
        walk(x.a);
        break;
      case 'select':
        walk(x.c);
        walk(x.t);
        walk(x.f);
        break;
      case 'reduce':
        walk(x.body);
        break;
      case 'load':
        x.idx.forEach(walk);
        break;
    }
  };
  walk(e);
  return out;
}
