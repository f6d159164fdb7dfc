/**
 * Expressions of the target-neutral IR, shared by the tensor-expression front end (which adds
 * tensor reads and reductions) and the loop-level IR (which reads buffers). Integer only: every
 * value has a dtype and arithmetic wraps to it (`index` is the unbounded type of loop indices).
 *
 * Also here: canonical linear forms (`toLinear`), a simplifier that folds constants, normalizes
 * affine sums and removes floordiv/floormod where the ranges allow, and interval arithmetic used by
 * bound inference.
 */
import { CompileError } from '../errors.ts';
import type { Buffer } from './buffer.ts';

export type DType = 'int2' | 'int4' | 'int8' | 'int16' | 'int32' | 'uint8' | 'bool' | 'index';

export function dtypeBits(dt: DType): number {
  switch (dt) {
    case 'int2':
      return 2;
    case 'int4':
      return 4;
    case 'int8':
    case 'uint8':
      return 8;
    case 'int16':
      return 16;
    case 'int32':
      return 32;
    case 'bool':
      return 1;
    case 'index':
      return 53;
  }
}

export function intDtype(bits: number): DType {
  const m: Record<number, DType> = { 2: 'int2', 4: 'int4', 8: 'int8', 16: 'int16', 32: 'int32' };
  const dt = m[bits];
  if (!dt) throw new CompileError(`no integer dtype of ${bits} bits`);
  return dt;
}

/** Wrap a value to a dtype (two's complement for intN). */
export function wrapTo(v: number, dt: DType): number {
  switch (dt) {
    case 'index':
      return v;
    case 'bool':
      return v ? 1 : 0;
    case 'uint8':
      return ((v % 256) + 256) % 256;
    case 'int32':
      return v | 0;
    default: {
      const bits = dtypeBits(dt);
      const m = 2 ** bits;
      let r = v % m;
      if (r < 0) r += m;
      return r >= m / 2 ? r - m : r;
    }
  }
}

export function dtypeMin(dt: DType): number {
  if (dt === 'uint8' || dt === 'bool') return 0;
  if (dt === 'index') return -(2 ** 52);
  return -(2 ** (dtypeBits(dt) - 1));
}

export function dtypeMax(dt: DType): number {
  if (dt === 'uint8') return 255;
  if (dt === 'bool') return 1;
  if (dt === 'index') return 2 ** 52;
  return 2 ** (dtypeBits(dt) - 1) - 1;
}

let nextVarId = 0;

/** A variable: a loop index or a symbolic quantity. Identity is the object. */
export class Var {
  readonly id = nextVarId++;
  constructor(readonly name: string) {}
  toString(): string {
    return this.name;
  }
}

export type BinOp = 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'min' | 'max' | 'shr' | 'shl';
export type CmpOp = 'lt' | 'le' | 'eq' | 'ne' | 'gt' | 'ge';
export type ReduceOp = 'sum' | 'max' | 'min';

export interface IntImm {
  k: 'int';
  value: number;
  dtype: DType;
}
export interface VarRef {
  k: 'var';
  v: Var;
  dtype: 'index';
}
export interface Bin {
  k: 'bin';
  op: BinOp;
  a: Expr;
  b: Expr;
  dtype: DType;
}
export interface Cmp {
  k: 'cmp';
  op: CmpOp;
  a: Expr;
  b: Expr;
  dtype: 'bool';
}
export interface Logic {
  k: 'and' | 'or';
  a: Expr;
  b: Expr;
  dtype: 'bool';
}
export interface Not {
  k: 'not';
  a: Expr;
  dtype: 'bool';
}
export interface Select {
  k: 'select';
  c: Expr;
  t: Expr;
  f: Expr;
  dtype: DType;
}
export interface Cast {
  k: 'cast';
  a: Expr;
  dtype: DType;
}
/** A read of a buffer of the loop IR, one index per dimension. */
export interface Load {
  k: 'load';
  buf: Buffer;
  idx: Expr[];
  dtype: DType;
}
/** A read of a tensor (tensor-expression level only; lowering turns it into a Load). */
export interface Read {
  k: 'read';
  tensor: TensorLike;
  idx: Expr[];
  dtype: DType;
}
/** A reduction (only as the whole body of a compute). */
export interface Reduce {
  k: 'reduce';
  op: ReduceOp;
  body: Expr;
  axes: IterVarLike[];
  dtype: DType;
}

/** What expressions need to know of a tensor and an iteration variable (defined in te/). */
export interface TensorLike {
  name: string;
  shape: readonly number[];
  dtype: DType;
}
export interface IterVarLike {
  var: Var;
  extent: number;
}

export type Expr = IntImm | VarRef | Bin | Cmp | Logic | Not | Select | Cast | Load | Read | Reduce;
export type ExprLike = Expr | number | Var;

// ---- construction ----

export function int(value: number, dtype: DType = 'index'): IntImm {
  if (!Number.isInteger(value)) throw new CompileError(`integer constant expected, got ${value}`);
  return { k: 'int', value, dtype };
}

export function ref(v: Var): VarRef {
  return { k: 'var', v, dtype: 'index' };
}

export function toExpr(e: ExprLike, dtype: DType = 'index'): Expr {
  if (typeof e === 'number') return int(e, dtype);
  if (e instanceof Var) return ref(e);
  return e;
}

/** Result dtype of a binary operation: an `index` operand adopts the other's type. */
function joinType(a: Expr, b: Expr): DType {
  if (a.dtype === 'index') return b.dtype;
  if (b.dtype === 'index') return a.dtype;
  if (a.dtype !== b.dtype) throw new CompileError(`operands of types ${a.dtype} and ${b.dtype} need an explicit cast`);
  return a.dtype;
}

function bin(op: BinOp, x: ExprLike, y: ExprLike): Bin {
  const a = toExpr(x, typeof y === 'object' && !(y instanceof Var) ? y.dtype : 'index');
  const b = toExpr(y, a.dtype);
  const ai = a.k === 'int' && a.dtype === 'index' ? { ...a, dtype: b.dtype } : a;
  return { k: 'bin', op, a: ai, b, dtype: joinType(ai, b) };
}

export const add = (a: ExprLike, b: ExprLike): Expr => bin('add', a, b);
export const sub = (a: ExprLike, b: ExprLike): Expr => bin('sub', a, b);
export const mul = (a: ExprLike, b: ExprLike): Expr => bin('mul', a, b);
/** Floor division (rounds toward minus infinity). */
export const div = (a: ExprLike, b: ExprLike): Expr => bin('div', a, b);
/** Floor modulo (result has the sign of the divisor). */
export const mod = (a: ExprLike, b: ExprLike): Expr => bin('mod', a, b);
export const min = (a: ExprLike, b: ExprLike): Expr => bin('min', a, b);
export const max = (a: ExprLike, b: ExprLike): Expr => bin('max', a, b);
/** Arithmetic shift right by min(b, bits - 1) (a negative amount shifts left). */
export const shr = (a: ExprLike, b: ExprLike): Expr => bin('shr', a, b);
export const shl = (a: ExprLike, b: ExprLike): Expr => bin('shl', a, b);

function cmp(op: CmpOp, x: ExprLike, y: ExprLike): Cmp {
  return { k: 'cmp', op, a: toExpr(x), b: toExpr(y), dtype: 'bool' };
}
export const lt = (a: ExprLike, b: ExprLike): Expr => cmp('lt', a, b);
export const le = (a: ExprLike, b: ExprLike): Expr => cmp('le', a, b);
export const ge = (a: ExprLike, b: ExprLike): Expr => cmp('ge', a, b);
export const gt = (a: ExprLike, b: ExprLike): Expr => cmp('gt', a, b);
export const eq = (a: ExprLike, b: ExprLike): Expr => cmp('eq', a, b);
export const ne = (a: ExprLike, b: ExprLike): Expr => cmp('ne', a, b);

export function and(...xs: Expr[]): Expr {
  if (!xs.length) return int(1, 'bool');
  return xs.reduce((acc, x) => ({ k: 'and', a: acc, b: x, dtype: 'bool' }) as Expr);
}
export function or(a: Expr, b: Expr): Expr {
  return { k: 'or', a, b, dtype: 'bool' };
}
export function not(a: Expr): Expr {
  return { k: 'not', a, dtype: 'bool' };
}

export function select(c: Expr, t: ExprLike, f: ExprLike): Expr {
  const te = toExpr(t, typeof f === 'object' && !(f instanceof Var) ? f.dtype : 'index');
  const fe = toExpr(f, te.dtype);
  return { k: 'select', c, t: te, f: fe, dtype: joinType(te, fe) };
}

export function cast(dtype: DType, a: Expr): Expr {
  if (a.dtype === dtype) return a;
  return { k: 'cast', a, dtype };
}

export function load(buf: Buffer, idx: ExprLike[]): Load {
  return { k: 'load', buf, idx: idx.map((i) => toExpr(i)), dtype: buf.dtype };
}

// ---- traversal ----

/** Rebuild an expression bottom-up; `f` may return a replacement for each (already rebuilt) node. */
export function mapExpr(e: Expr, f: (e: Expr) => Expr | undefined): Expr {
  let out: Expr;
  switch (e.k) {
    case 'int':
    case 'var':
      out = e;
      break;
    case 'bin':
    case 'cmp':
    case 'and':
    case 'or': {
      const a = mapExpr(e.a, f);
      const b = mapExpr(e.b, f);
      out = a === e.a && b === e.b ? e : ({ ...e, a, b } as Expr);
      break;
    }
    case 'not':
    case 'cast': {
      const a = mapExpr(e.a, f);
      out = a === e.a ? e : ({ ...e, a } as Expr);
      break;
    }
    case 'select': {
      const c = mapExpr(e.c, f);
      const t = mapExpr(e.t, f);
      const fl = mapExpr(e.f, f);
      out = c === e.c && t === e.t && fl === e.f ? e : { ...e, c, t, f: fl };
      break;
    }
    case 'load':
    case 'read': {
      const idx = e.idx.map((i) => mapExpr(i, f));
      out = idx.every((x, i) => x === e.idx[i]) ? e : ({ ...e, idx } as Expr);
      break;
    }
    case 'reduce': {
      const body = mapExpr(e.body, f);
      out = body === e.body ? e : { ...e, body };
      break;
    }
  }
  return f(out) ?? out;
}

export function visitExpr(e: Expr, f: (e: Expr) => void): void {
  f(e);
  switch (e.k) {
    case 'bin':
    case 'cmp':
    case 'and':
    case 'or':
      visitExpr(e.a, f);
      visitExpr(e.b, f);
      break;
    case 'not':
    case 'cast':
      visitExpr(e.a, f);
      break;
    case 'select':
      visitExpr(e.c, f);
      visitExpr(e.t, f);
      visitExpr(e.f, f);
      break;
    case 'load':
    case 'read':
      e.idx.forEach((i) => visitExpr(i, f));
      break;
    case 'reduce':
      visitExpr(e.body, f);
      break;
  }
}

/** Replace variables by expressions. */
export function substitute(e: Expr, m: ReadonlyMap<Var, Expr>): Expr {
  if (!m.size) return e;
  return mapExpr(e, (x) => (x.k === 'var' ? m.get(x.v) : undefined));
}

export function usesVar(e: Expr, v: Var | ((v: Var) => boolean)): boolean {
  let found = false;
  const test = typeof v === 'function' ? v : (x: Var) => x === v;
  visitExpr(e, (x) => {
    if (x.k === 'var' && test(x.v)) found = true;
  });
  return found;
}

export function freeVars(e: Expr, out = new Set<Var>()): Set<Var> {
  visitExpr(e, (x) => {
    if (x.k === 'var') out.add(x.v);
  });
  return out;
}

// ---- evaluation ----

export function floorDiv(a: number, b: number): number {
  if (b === 0) throw new CompileError('division by zero');
  return Math.floor(a / b);
}

export function floorMod(a: number, b: number): number {
  if (b === 0) throw new CompileError('modulo by zero');
  return a - Math.floor(a / b) * b;
}

/** Shift right by min(b, bits-1) (left for negative b), then wrap to the dtype. */
export function shiftRight(a: number, b: number, dt: DType): number {
  const bits = dt === 'index' ? 52 : dtypeBits(dt);
  if (b >= 0) return Math.floor(a / 2 ** Math.min(b, bits - 1));
  return wrapTo(a * 2 ** Math.min(-b, bits - 1), dt);
}

export function evalBin(op: BinOp, a: number, b: number, dt: DType): number {
  let r: number;
  switch (op) {
    case 'add':
      r = a + b;
      break;
    case 'sub':
      r = a - b;
      break;
    case 'mul':
      r = dt === 'int32' ? Math.imul(a, b) : a * b;
      break;
    case 'div':
      r = floorDiv(a, b);
      break;
    case 'mod':
      r = floorMod(a, b);
      break;
    case 'min':
      r = Math.min(a, b);
      break;
    case 'max':
      r = Math.max(a, b);
      break;
    case 'shr':
      r = shiftRight(a, b, dt);
      break;
    case 'shl':
      r = shiftRight(a, -b, dt);
      break;
  }
  return wrapTo(r, dt);
}

export function evalCmp(op: CmpOp, a: number, b: number): number {
  switch (op) {
    case 'lt':
      return a < b ? 1 : 0;
    case 'le':
      return a <= b ? 1 : 0;
    case 'eq':
      return a === b ? 1 : 0;
    case 'ne':
      return a !== b ? 1 : 0;
    case 'gt':
      return a > b ? 1 : 0;
    case 'ge':
      return a >= b ? 1 : 0;
  }
}

/** Evaluate an expression with variable values and a buffer reader. */
export function evaluate(e: Expr, env: ReadonlyMap<Var, number>, read?: (buf: Buffer, idx: number[]) => number): number {
  switch (e.k) {
    case 'int':
      return e.value;
    case 'var': {
      const v = env.get(e.v);
      if (v === undefined) throw new CompileError(`variable ${e.v.name} has no value here`);
      return v;
    }
    case 'bin':
      return evalBin(e.op, evaluate(e.a, env, read), evaluate(e.b, env, read), e.dtype);
    case 'cmp':
      return evalCmp(e.op, evaluate(e.a, env, read), evaluate(e.b, env, read));
    case 'and':
      return evaluate(e.a, env, read) && evaluate(e.b, env, read) ? 1 : 0;
    case 'or':
      return evaluate(e.a, env, read) || evaluate(e.b, env, read) ? 1 : 0;
    case 'not':
      return evaluate(e.a, env, read) ? 0 : 1;
    case 'select':
      return evaluate(e.c, env, read) ? evaluate(e.t, env, read) : evaluate(e.f, env, read);
    case 'cast':
      return wrapTo(evaluate(e.a, env, read), e.dtype);
    case 'load': {
      if (!read) throw new CompileError(`cannot read buffer ${e.buf.name} here`);
      return read(e.buf, e.idx.map((i) => evaluate(i, env, read)));
    }
    case 'read':
      throw new CompileError(`tensor read ${e.tensor.name}[...] must be lowered before evaluation`);
    case 'reduce':
      throw new CompileError('a reduction must be lowered before evaluation');
  }
}

/** Value of an expression without variables or loads, or undefined. */
export function constValue(e: Expr): number | undefined {
  const s = simplify(e);
  return s.k === 'int' ? s.value : undefined;
}

// ---- linear forms ----

/** An affine combination: sum of coef * term plus a constant. Terms are vars or opaque subexpressions. */
export interface Linear {
  terms: Map<string, { coef: number; e: Expr }>;
  c: number;
}

const termKeyCache = new WeakMap<object, string>();

/** A structural key for an expression (used to compare terms). */
export function exprKey(e: Expr): string {
  const cached = termKeyCache.get(e);
  if (cached) return cached;
  let s: string;
  switch (e.k) {
    case 'int':
      s = `${e.value}`;
      break;
    case 'var':
      s = `v${e.v.id}`;
      break;
    case 'bin':
    case 'cmp':
      s = `(${e.op} ${exprKey(e.a)} ${exprKey(e.b)}:${e.dtype})`;
      break;
    case 'and':
    case 'or':
      s = `(${e.k} ${exprKey(e.a)} ${exprKey(e.b)})`;
      break;
    case 'not':
      s = `(not ${exprKey(e.a)})`;
      break;
    case 'cast':
      s = `(cast ${e.dtype} ${exprKey(e.a)})`;
      break;
    case 'select':
      s = `(sel ${exprKey(e.c)} ${exprKey(e.t)} ${exprKey(e.f)})`;
      break;
    case 'load':
      s = `(load b${e.buf.id} ${e.idx.map(exprKey).join(' ')})`;
      break;
    case 'read':
      s = `(read ${e.tensor.name} ${e.idx.map(exprKey).join(' ')})`;
      break;
    case 'reduce':
      s = `(reduce ${e.op} ${exprKey(e.body)})`;
      break;
  }
  termKeyCache.set(e, s);
  return s;
}

function linAddTerm(l: Linear, key: string, coef: number, e: Expr): void {
  if (!coef) return;
  const t = l.terms.get(key);
  if (t) {
    t.coef += coef;
    if (!t.coef) l.terms.delete(key);
  } else {
    l.terms.set(key, { coef, e });
  }
}

function linScale(l: Linear, k: number): Linear {
  const out: Linear = { terms: new Map(), c: l.c * k };
  if (k) for (const [key, t] of l.terms) out.terms.set(key, { coef: t.coef * k, e: t.e });
  return out;
}

function linAdd(a: Linear, b: Linear, sign = 1): Linear {
  const out: Linear = { terms: new Map(), c: a.c + sign * b.c };
  for (const [key, t] of a.terms) out.terms.set(key, { ...t });
  for (const [key, t] of b.terms) linAddTerm(out, key, sign * t.coef, t.e);
  return out;
}

/** The linear form of an index expression (non-affine parts become opaque terms). */
export function toLinear(e: Expr): Linear {
  if (e.k === 'int') return { terms: new Map(), c: e.value };
  if (e.k === 'var') return { terms: new Map([[exprKey(e), { coef: 1, e }]]), c: 0 };
  if (e.k === 'bin' && e.dtype === 'index') {
    if (e.op === 'add') return linAdd(toLinear(e.a), toLinear(e.b));
    if (e.op === 'sub') return linAdd(toLinear(e.a), toLinear(e.b), -1);
    if (e.op === 'mul') {
      const a = toLinear(e.a);
      const b = toLinear(e.b);
      if (!a.terms.size) return linScale(b, a.c);
      if (!b.terms.size) return linScale(a, b.c);
    }
  }
  return { terms: new Map([[exprKey(e), { coef: 1, e }]]), c: 0 };
}

export function fromLinear(l: Linear, dtype: DType = 'index'): Expr {
  const sorted = [...l.terms.entries()].sort((x, y) => termOrder(x[1].e) - termOrder(y[1].e) || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let acc: Expr | undefined;
  for (const [, t] of sorted) {
    const mag = Math.abs(t.coef);
    const term = mag === 1 ? t.e : mulRaw(int(mag, dtype), t.e);
    if (!acc) acc = t.coef > 0 ? term : mulRaw(int(t.coef, dtype), t.e);
    else acc = t.coef > 0 ? addRaw(acc, term) : subRaw(acc, term);
  }
  if (!acc) return int(l.c, dtype);
  if (l.c > 0) return addRaw(acc, int(l.c, dtype));
  if (l.c < 0) return subRaw(acc, int(-l.c, dtype));
  return acc;
}

function termOrder(e: Expr): number {
  return e.k === 'var' ? e.v.id : 1e9;
}

const addRaw = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'add', a, b, dtype: a.dtype === 'index' ? b.dtype : a.dtype });
const subRaw = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'sub', a, b, dtype: a.dtype === 'index' ? b.dtype : a.dtype });
const mulRaw = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'mul', a, b, dtype: a.dtype === 'index' ? b.dtype : a.dtype });

/** Coefficient of a variable in an expression's linear form (undefined if it appears non-linearly). */
export function coefOf(e: Expr, v: Var): number | undefined {
  const l = toLinear(simplify(e));
  let coef = 0;
  for (const t of l.terms.values()) {
    if (t.e.k === 'var' && t.e.v === v) coef = t.coef;
    else if (usesVar(t.e, v)) return undefined;
  }
  return coef;
}

// ---- simplification ----

/** Known value ranges of variables, [lo, hi] inclusive. */
export type Ranges = ReadonlyMap<Var, readonly [number, number]>;

/** Constant bounds of a linear form under variable ranges (undefined if a term is unbounded). */
function linBounds(l: Linear, ranges?: Ranges): [number, number] | undefined {
  let lo = l.c;
  let hi = l.c;
  for (const t of l.terms.values()) {
    const r = t.e.k === 'var' ? ranges?.get(t.e.v) : constBounds(t.e, ranges);
    if (!r) return undefined;
    if (t.coef >= 0) {
      lo += t.coef * r[0];
      hi += t.coef * r[1];
    } else {
      lo += t.coef * r[1];
      hi += t.coef * r[0];
    }
  }
  return [lo, hi];
}

/** Constant bounds of an expression under variable ranges, when they can be derived. */
export function constBounds(e: Expr, ranges?: Ranges): [number, number] | undefined {
  switch (e.k) {
    case 'int':
      return [e.value, e.value];
    case 'var': {
      const r = ranges?.get(e.v);
      return r ? [r[0], r[1]] : undefined;
    }
    case 'bin': {
      if (e.op === 'add' || e.op === 'sub' || e.op === 'mul') {
        const l = toLinear(e);
        if (l.terms.size === 1 && [...l.terms.values()][0].e === e) {
          // a non-linear product
          const a = constBounds(e.a, ranges);
          const b = constBounds(e.b, ranges);
          if (!a || !b) return undefined;
          const p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
          return [Math.min(...p), Math.max(...p)];
        }
        return linBounds(l, ranges);
      }
      const a = constBounds(e.a, ranges);
      const b = constBounds(e.b, ranges);
      if (!a || !b) return undefined;
      if (e.op === 'min') return [Math.min(a[0], b[0]), Math.min(a[1], b[1])];
      if (e.op === 'max') return [Math.max(a[0], b[0]), Math.max(a[1], b[1])];
      if (e.op === 'div' && b[0] === b[1] && b[0] > 0) return [floorDiv(a[0], b[0]), floorDiv(a[1], b[0])];
      if (e.op === 'mod' && b[0] === b[1] && b[0] > 0) {
        if (floorDiv(a[0], b[0]) === floorDiv(a[1], b[0])) return [floorMod(a[0], b[0]), floorMod(a[1], b[0])];
        return [0, b[0] - 1];
      }
      return undefined;
    }
    case 'select': {
      const t = constBounds(e.t, ranges);
      const f = constBounds(e.f, ranges);
      return t && f ? [Math.min(t[0], f[0]), Math.max(t[1], f[1])] : undefined;
    }
    case 'cmp':
    case 'and':
    case 'or':
    case 'not':
      return [0, 1];
    default:
      return undefined;
  }
}

/**
 * Simplify: fold constants, canonicalize affine index arithmetic, and remove floordiv / floormod by
 * a constant where the dividend's linear form allows it (given variable ranges).
 */
export function simplify(e: Expr, ranges?: Ranges): Expr {
  return mapExpr(e, (x) => simplifyNode(x, ranges));
}

function simplifyNode(e: Expr, ranges?: Ranges): Expr | undefined {
  switch (e.k) {
    case 'bin': {
      const { a, b } = e;
      if (a.k === 'int' && b.k === 'int') {
        if ((e.op === 'div' || e.op === 'mod') && b.value === 0) return undefined;
        return int(evalBin(e.op, a.value, b.value, e.dtype), e.dtype);
      }
      if (e.dtype === 'index' && (e.op === 'add' || e.op === 'sub' || e.op === 'mul')) {
        const l = toLinear(e);
        if (l.terms.size === 1 && !l.c && [...l.terms.values()][0].e === e) return undefined; // an opaque product
        return fromLinear(l);
      }
      if (e.op === 'div' && b.k === 'int' && b.value > 0 && e.dtype === 'index') return simplifyDivMod(e, a, b.value, ranges);
      if (e.op === 'mod' && b.k === 'int' && b.value > 0 && e.dtype === 'index') return simplifyDivMod(e, a, b.value, ranges);
      if ((e.op === 'min' || e.op === 'max') && e.dtype === 'index') {
        const d = toLinear(simplify({ k: 'bin', op: 'sub', a, b, dtype: 'index' }));
        const r = linBounds(d, ranges);
        if (r) {
          if (e.op === 'min') return r[1] <= 0 ? a : r[0] >= 0 ? b : undefined;
          return r[0] >= 0 ? a : r[1] <= 0 ? b : undefined;
        }
      }
      if ((e.op === 'add' || e.op === 'sub') && b.k === 'int' && b.value === 0) return a;
      if (e.op === 'add' && a.k === 'int' && a.value === 0) return b;
      if (e.op === 'mul' && ((a.k === 'int' && a.value === 0) || (b.k === 'int' && b.value === 0))) return int(0, e.dtype);
      if (e.op === 'mul' && b.k === 'int' && b.value === 1) return a;
      if (e.op === 'mul' && a.k === 'int' && a.value === 1) return b;
      if ((e.op === 'shr' || e.op === 'shl') && b.k === 'int' && b.value === 0) return a;
      return undefined;
    }
    case 'cmp': {
      const d = simplify({ k: 'bin', op: 'sub', a: e.a, b: e.b, dtype: 'index' }, ranges);
      if (e.a.dtype !== 'index' || e.b.dtype !== 'index') {
        if (e.a.k === 'int' && e.b.k === 'int') return int(evalCmp(e.op, e.a.value, e.b.value), 'bool');
        return undefined;
      }
      const r = constBounds(d, ranges);
      if (!r) return undefined;
      const [lo, hi] = r;
      const verdict = (op: CmpOp): number | undefined => {
        switch (op) {
          case 'lt':
            return hi < 0 ? 1 : lo >= 0 ? 0 : undefined;
          case 'le':
            return hi <= 0 ? 1 : lo > 0 ? 0 : undefined;
          case 'gt':
            return lo > 0 ? 1 : hi <= 0 ? 0 : undefined;
          case 'ge':
            return lo >= 0 ? 1 : hi < 0 ? 0 : undefined;
          case 'eq':
            return lo === 0 && hi === 0 ? 1 : lo > 0 || hi < 0 ? 0 : undefined;
          case 'ne':
            return lo === 0 && hi === 0 ? 0 : lo > 0 || hi < 0 ? 1 : undefined;
        }
      };
      const v = verdict(e.op);
      return v === undefined ? undefined : int(v, 'bool');
    }
    case 'and':
      if (e.a.k === 'int') return e.a.value ? e.b : int(0, 'bool');
      if (e.b.k === 'int') return e.b.value ? e.a : int(0, 'bool');
      return undefined;
    case 'or':
      if (e.a.k === 'int') return e.a.value ? int(1, 'bool') : e.b;
      if (e.b.k === 'int') return e.b.value ? int(1, 'bool') : e.a;
      return undefined;
    case 'not':
      return e.a.k === 'int' ? int(e.a.value ? 0 : 1, 'bool') : undefined;
    case 'select':
      if (e.c.k === 'int') return e.c.value ? e.t : e.f;
      return undefined;
    case 'cast':
      if (e.a.k === 'int') return int(wrapTo(e.a.value, e.dtype), e.dtype);
      if (e.a.dtype === e.dtype) return e.a;
      return undefined;
    default:
      return undefined;
  }
}

function gcd(a: number, b: number): number {
  return b ? gcd(b, a % b) : a;
}

/** floordiv / floormod of a linear form by a positive constant. */
function simplifyDivMod(e: Bin, a: Expr, c: number, ranges?: Ranges): Expr | undefined {
  const l = toLinear(a);
  // Split into a part divisible by c and a remainder.
  const q: Linear = { terms: new Map(), c: floorDiv(l.c, c) };
  const r: Linear = { terms: new Map(), c: floorMod(l.c, c) };
  for (const [key, t] of l.terms) {
    if (t.coef % c === 0) q.terms.set(key, { coef: t.coef / c, e: t.e });
    else r.terms.set(key, t);
  }
  const rb = linBounds(r, ranges);
  if (rb && rb[0] >= 0 && rb[1] < c) {
    return e.op === 'div' ? fromLinear(q) : fromLinear(r);
  }
  // floordiv(k*X + y, c) with k | c, X a sum of terms and 0 <= y < k: floordiv(X, c/k). Each
  // common factor k = gcd(coef, c) of a term is tried; X holds every term with a multiple of k
  // (e.g. floordiv(6a + 3b + i, 12) with 0 <= i < 3 is floordiv(2a + b, 4): a tile index split
  // further by a virtual thread).
  if (r.terms.size >= 1 && e.op === 'div') {
    const factors = [...new Set([...r.terms.values()].map((t) => gcd(Math.abs(t.coef), c)))].filter((k) => k > 1).sort((x, y) => y - x);
    for (const k of factors) {
      const scaled: Linear = { terms: new Map(), c: 0 };
      const rest: Linear = { terms: new Map(), c: r.c };
      for (const [key, t] of r.terms) {
        if (t.coef % k === 0) scaled.terms.set(key, { coef: t.coef / k, e: t.e });
        else rest.terms.set(key, t);
      }
      const restB = linBounds(rest, ranges);
      if (restB && restB[0] >= 0 && restB[1] < k) {
        const inner = { k: 'bin', op: 'div', a: fromLinear(scaled), b: int(c / k), dtype: 'index' } as Expr;
        return simplify({ k: 'bin', op: 'add', a: fromLinear(q), b: inner, dtype: 'index' }, ranges);
      }
    }
  }
  if (!q.terms.size && !q.c) return undefined;
  if (e.op === 'div' && q.terms.size) {
    // floordiv(c*q + r, c) = q + floordiv(r, c) exactly.
    const rest = { k: 'bin', op: 'div', a: fromLinear(r), b: int(c), dtype: 'index' } as Expr;
    return { k: 'bin', op: 'add', a: fromLinear(q), b: rest, dtype: 'index' };
  }
  if (e.op === 'mod' && q.terms.size) {
    return { k: 'bin', op: 'mod', a: fromLinear(r), b: int(c), dtype: 'index' };
  }
  return undefined;
}

/** Whether two index expressions are provably equal. */
export function provablyEqual(a: Expr, b: Expr, ranges?: Ranges): boolean {
  const d = simplify(sub(a, b), ranges);
  return d.k === 'int' && d.value === 0;
}

// ---- intervals ----

/** A closed interval with symbolic bounds. */
export interface Interval {
  lo: Expr;
  hi: Expr;
}

/**
 * Interval of an index expression when some variables range over intervals (the others are
 * fixed). Throws CompileError for expressions outside affine + floordiv/mod/min/max/select.
 */
export function intervalOf(e: Expr, env: ReadonlyMap<Var, Interval>): Interval {
  switch (e.k) {
    case 'int':
      return { lo: e, hi: e };
    case 'var':
      return env.get(e.v) ?? { lo: e, hi: e };
    case 'cast':
      return intervalOf(e.a, env);
    case 'select': {
      const t = intervalOf(e.t, env);
      const f = intervalOf(e.f, env);
      return { lo: simplify(min(t.lo, f.lo)), hi: simplify(max(t.hi, f.hi)) };
    }
    case 'bin': {
      const a = intervalOf(e.a, env);
      const b = intervalOf(e.b, env);
      switch (e.op) {
        case 'add':
          return { lo: simplify(add(a.lo, b.lo)), hi: simplify(add(a.hi, b.hi)) };
        case 'sub':
          return { lo: simplify(sub(a.lo, b.hi)), hi: simplify(sub(a.hi, b.lo)) };
        case 'mul': {
          const kb = constValue(b.lo);
          const ka = constValue(a.lo);
          if (kb !== undefined && constValue(b.hi) === kb) {
            return kb >= 0 ? { lo: simplify(mul(a.lo, kb)), hi: simplify(mul(a.hi, kb)) } : { lo: simplify(mul(a.hi, kb)), hi: simplify(mul(a.lo, kb)) };
          }
          if (ka !== undefined && constValue(a.hi) === ka) {
            return ka >= 0 ? { lo: simplify(mul(b.lo, ka)), hi: simplify(mul(b.hi, ka)) } : { lo: simplify(mul(b.hi, ka)), hi: simplify(mul(b.lo, ka)) };
          }
          if (exprKey(a.lo) === exprKey(a.hi) && exprKey(b.lo) === exprKey(b.hi)) return { lo: e, hi: e };
          throw new CompileError(`cannot bound the product ${exprKey(e)}`);
        }
        case 'div': {
          const c = constValue(b.lo);
          if (c === undefined || c <= 0 || constValue(b.hi) !== c) throw new CompileError('bound inference needs division by a positive constant');
          return { lo: simplify(div(a.lo, c)), hi: simplify(div(a.hi, c)) };
        }
        case 'mod': {
          const c = constValue(b.lo);
          if (c === undefined || c <= 0 || constValue(b.hi) !== c) throw new CompileError('bound inference needs modulo by a positive constant');
          if (exprKey(a.lo) === exprKey(a.hi)) return { lo: simplify(mod(a.lo, c)), hi: simplify(mod(a.lo, c)) };
          const qlo = simplify(div(a.lo, c));
          const qhi = simplify(div(a.hi, c));
          if (exprKey(qlo) === exprKey(qhi)) return { lo: simplify(mod(a.lo, c)), hi: simplify(mod(a.hi, c)) };
          return { lo: int(0), hi: int(c - 1) };
        }
        case 'min':
          return { lo: simplify(min(a.lo, b.lo)), hi: simplify(min(a.hi, b.hi)) };
        case 'max':
          return { lo: simplify(max(a.lo, b.lo)), hi: simplify(max(a.hi, b.hi)) };
        default:
          throw new CompileError(`cannot bound ${e.op} in an index`);
      }
    }
    default:
      throw new CompileError(`cannot bound a ${e.k} in an index`);
  }
}
