/**
 * Statements of the loop-level IR. The generic part (loops, sequences, allocations, stores,
 * conditionals, attributes) is target-neutral; the VTA passes add intrinsic statements (GEMM and
 * ALU micro-ops, 2-D DMA, micro-op kernels with their hardware loops, tasks on the three queues,
 * dependency tokens), which the emitter turns into runtime calls.
 */
import type { AluOpName } from '../../src/isa/alu.ts';
import type { Buffer } from './buffer.ts';
import { mapExpr, substitute, visitExpr, type Expr, type Var } from './expr.ts';

export type LoopKind = 'serial' | 'vthread';

export interface For {
  k: 'for';
  v: Var;
  ext: number;
  kind: LoopKind;
  body: Stmt;
}
export interface Seq {
  k: 'seq';
  body: Stmt[];
}
export interface Alloc {
  k: 'alloc';
  buf: Buffer;
  body: Stmt;
}
export interface Store {
  k: 'store';
  buf: Buffer;
  idx: Expr[];
  value: Expr;
}
export interface If {
  k: 'if';
  c: Expr;
  then: Stmt;
  else?: Stmt;
}
/**
 * An annotation on the statement below: `pragma` (dma_copy, alu), `tensorize` (an intrinsic name) or
 * `bind` (a GPU thread index the loop below runs over: blockIdx.x, threadIdx.x; compiler/gpu) or
 * `double_buffer` (the allocation below, made in each iteration of the enclosing loop and filled by
 * the first statement of its body, alternates between two copies so the next fill overlaps this use).
 */
export interface Attr {
  k: 'attr';
  key: 'pragma' | 'tensorize' | 'bind' | 'double_buffer';
  value: string;
  body: Stmt;
}
/** One GEMM micro-op (reset: zero the accumulator element). Indices are SRAM element offsets in the buffers. */
export interface Gemm {
  k: 'gemm';
  reset: boolean;
  acc: Buffer;
  accElem: Expr;
  inp?: Buffer;
  inpElem?: Expr;
  wgt?: Buffer;
  wgtElem?: Expr;
}
/** One ALU micro-op on accumulator elements: dst = op(dst, src or imm). */
export interface Alu {
  k: 'alu';
  op: AluOpName;
  dst: Buffer;
  dstElem: Expr;
  src?: Buffer;
  srcElem?: Expr;
  imm: number;
}
export type DmaMem = 'INP' | 'WGT' | 'ACC' | 'OUT';
/** A 2-D DMA between DRAM and an SRAM (VTALoadBuffer2D / VTAStoreBuffer2D). Element units. */
export interface Dma {
  k: 'dma';
  dir: 'load' | 'store';
  mem: DmaMem;
  sram: Buffer;
  sramElem: Expr;
  dram: Buffer;
  dramElem: Expr;
  xSize: Expr;
  ySize: Expr;
  xStride: Expr;
  xPad0: Expr;
  yPad0: Expr;
  xPad1: Expr;
  yPad1: Expr;
}
/** A hardware loop of a micro-op kernel, with the index increments per iteration. */
export interface UopLoop {
  v: Var;
  ext: number;
  dst: number;
  src: number;
  wgt: number;
}
/** A micro-op kernel: up to two hardware loops around a body that enumerates the micro-ops. */
export interface UopScope {
  k: 'uop';
  mode: 'GEMM' | 'ALU';
  loops: UopLoop[];
  body: Stmt;
}
export type Queue = 1 | 2 | 3;
/** Work of one module (1 load, 2 compute, 3 store): a unit for virtual threading and dependency tokens. */
export interface Task {
  k: 'task';
  queue: Queue;
  body: Stmt;
}
/** A dependency token between adjacent stages (VTADepPush / VTADepPop). */
export interface Dep {
  k: 'dep';
  op: 'push' | 'pop';
  from: Queue;
  to: Queue;
  /**
   * A compute -> store push: the SRAM buffers whose OUT part the store task it serves reads (with
   * GEMM_REQUANT the emitter may issue the push as soon as no later kernel writes them).
   */
  reads?: Buffer[];
}

export type Stmt = For | Seq | Alloc | Store | If | Attr | Gemm | Alu | Dma | UopScope | Task | Dep;

export const NOP: Seq = { k: 'seq', body: [] };

export function seq(...xs: Stmt[]): Stmt {
  const body: Stmt[] = [];
  for (const x of xs) {
    if (x.k === 'seq') body.push(...x.body);
    else body.push(x);
  }
  return body.length === 1 ? body[0] : { k: 'seq', body };
}

export function loop(v: Var, ext: number, body: Stmt, kind: LoopKind = 'serial'): For {
  return { k: 'for', v, ext, kind, body };
}

/** Children of a statement, in order. */
export function children(s: Stmt): Stmt[] {
  switch (s.k) {
    case 'for':
    case 'alloc':
    case 'attr':
    case 'uop':
    case 'task':
      return [s.body];
    case 'seq':
      return s.body;
    case 'if':
      return s.else ? [s.then, s.else] : [s.then];
    default:
      return [];
  }
}

/** Expressions held directly by a statement (not by its children). */
export function stmtExprs(s: Stmt): Expr[] {
  switch (s.k) {
    case 'store':
      return [...s.idx, s.value];
    case 'if':
      return [s.c];
    case 'gemm':
      return [s.accElem, ...(s.inpElem ? [s.inpElem] : []), ...(s.wgtElem ? [s.wgtElem] : [])];
    case 'alu':
      return [s.dstElem, ...(s.srcElem ? [s.srcElem] : [])];
    case 'dma':
      return [s.sramElem, s.dramElem, s.xSize, s.ySize, s.xStride, s.xPad0, s.yPad0, s.xPad1, s.yPad1];
    default:
      return [];
  }
}

export interface StmtMapper {
  /** Applied to every expression (post-order within the expression). */
  expr?: (e: Expr) => Expr | undefined;
  /** Applied to every buffer reference. */
  buffer?: (b: Buffer) => Buffer | undefined;
  /** Applied to every statement after its children were rebuilt. */
  stmt?: (s: Stmt) => Stmt | undefined;
}

/** Rebuild a statement tree bottom-up. */
export function mapStmt(s: Stmt, m: StmtMapper): Stmt {
  const E = (e: Expr): Expr => {
    let out = m.expr ? mapExpr(e, m.expr) : e;
    if (m.buffer) {
      out = mapExpr(out, (x) => {
        if (x.k !== 'load') return undefined;
        const b = m.buffer!(x.buf);
        return b && b !== x.buf ? { ...x, buf: b } : undefined;
      });
    }
    return out;
  };
  const B = (b: Buffer): Buffer => (m.buffer ? m.buffer(b) ?? b : b);
  const S = (x: Stmt): Stmt => mapStmt(x, m);
  let out: Stmt;
  switch (s.k) {
    case 'for':
      out = { ...s, body: S(s.body) };
      break;
    case 'seq':
      out = { k: 'seq', body: s.body.map(S) };
      break;
    case 'alloc':
      out = { k: 'alloc', buf: B(s.buf), body: S(s.body) };
      break;
    case 'store':
      out = { k: 'store', buf: B(s.buf), idx: s.idx.map(E), value: E(s.value) };
      break;
    case 'if':
      out = { k: 'if', c: E(s.c), then: S(s.then), ...(s.else ? { else: S(s.else) } : {}) };
      break;
    case 'attr':
      out = { ...s, body: S(s.body) };
      break;
    case 'gemm':
      out = {
        ...s, acc: B(s.acc), accElem: E(s.accElem),
        ...(s.inp ? { inp: B(s.inp), inpElem: E(s.inpElem!) } : {}),
        ...(s.wgt ? { wgt: B(s.wgt), wgtElem: E(s.wgtElem!) } : {}),
      };
      break;
    case 'alu':
      out = { ...s, dst: B(s.dst), dstElem: E(s.dstElem), ...(s.src ? { src: B(s.src), srcElem: E(s.srcElem!) } : {}) };
      break;
    case 'dma':
      out = {
        ...s, sram: B(s.sram), dram: B(s.dram), sramElem: E(s.sramElem), dramElem: E(s.dramElem), xSize: E(s.xSize),
        ySize: E(s.ySize), xStride: E(s.xStride), xPad0: E(s.xPad0), yPad0: E(s.yPad0), xPad1: E(s.xPad1), yPad1: E(s.yPad1),
      };
      break;
    case 'uop':
      out = { ...s, body: S(s.body) };
      break;
    case 'task':
      out = { ...s, body: S(s.body) };
      break;
    case 'dep':
      out = s;
      break;
  }
  return m.stmt ? m.stmt(out) ?? out : out;
}

/** Visit every statement (pre-order). Return false from `f` to skip a subtree. */
export function visitStmt(s: Stmt, f: (s: Stmt) => boolean | void): void {
  if (f(s) === false) return;
  for (const c of children(s)) visitStmt(c, f);
}

/** Visit every expression of a tree. */
export function visitStmtExprs(s: Stmt, f: (e: Expr) => void): void {
  visitStmt(s, (x) => {
    for (const e of stmtExprs(x)) visitExpr(e, f);
  });
}

/** Substitute variables in every expression of a tree. */
export function substituteStmt(s: Stmt, m: ReadonlyMap<Var, Expr>): Stmt {
  if (!m.size) return s;
  return mapStmt(s, { expr: (e) => (e.k === 'var' ? m.get(e.v) : undefined) });
}

/** Substitute in one expression (re-exported for passes). */
export { substitute };

/** Buffers a statement tree reads or writes, and the buffers it allocates. */
export function buffersOf(s: Stmt): Set<Buffer> {
  const out = new Set<Buffer>();
  visitStmt(s, (x) => {
    switch (x.k) {
      case 'alloc':
      case 'store':
        out.add(x.buf);
        break;
      case 'gemm':
        out.add(x.acc);
        if (x.inp) out.add(x.inp);
        if (x.wgt) out.add(x.wgt);
        break;
      case 'alu':
        out.add(x.dst);
        if (x.src) out.add(x.src);
        break;
      case 'dma':
        out.add(x.sram);
        out.add(x.dram);
        break;
    }
    for (const e of stmtExprs(x)) visitExpr(e, (y) => {
      if (y.k === 'load') out.add(y.buf);
    });
  });
  return out;
}

/** Variables used by a tree but not bound by one of its loops. */
export function freeVarsOf(s: Stmt): Set<Var> {
  const bound = new Set<Var>();
  const used = new Set<Var>();
  visitStmt(s, (x) => {
    if (x.k === 'for') bound.add(x.v);
    if (x.k === 'uop') for (const l of x.loops) bound.add(l.v);
    for (const e of stmtExprs(x)) visitExpr(e, (y) => {
      if (y.k === 'var') used.add(y.v);
    });
  });
  for (const v of bound) used.delete(v);
  return used;
}
