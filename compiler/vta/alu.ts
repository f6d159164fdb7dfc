/**
 * ALU lowering (vta-reference Part B §5.7, §5.8). Element-wise stages in the accumulator scope,
 * annotated `pragma = alu`, become ALU micro-ops: bias add (ADD with a vector operand), shift
 * (SHR with an immediate, SHL as SHR by a negative amount), clip (MIN then MAX), relu (MAX 0),
 * residual add (vector ADD), max (vector MAX, also conditional, for pooling), MUL where the
 * configuration has it. A stored constant is materialized (GEMM reset, then ADD / SHL steps).
 *
 * VTA's ALU works in place (dst = op(dst, src)), so first the accumulator buffers of a chain of
 * element-wise stages are merged: a stage that reads another buffer at exactly its own index, when
 * that buffer is dead afterwards, writes into it instead (TVM gets this from StorageRewrite).
 */
import { ALU_OPS, aluOpUnavailable, type AluOpName } from '../../src/isa/alu.ts';
import { CompileError } from '../errors.ts';
import { flatIndex, type Buffer } from '../ir/buffer.ts';
import {
  coefOf, dtypeMax, dtypeMin, int, provablyEqual, simplify, substitute, usesVar, visitExpr, wrapTo,
  type Expr, type Var,
} from '../ir/expr.ts';
import { buffersOf, mapStmt, seq, type For, type Stmt, type Store } from '../ir/stmt.ts';
import { printStmt } from '../ir/printer.ts';
import type { VtaTarget } from './env.ts';
import { exactDiv } from './tensorize.ts';

type Load = Extract<Expr, { k: 'load' }>;

function nestStore(s: Stmt): { loops: For[]; store: Store } | undefined {
  const loops: For[] = [];
  let x = s;
  while (x.k === 'for' || x.k === 'attr') {
    if (x.k === 'for') loops.push(x);
    x = x.body;
  }
  return x.k === 'store' ? { loops, store: x } : undefined;
}

/** Reads of a buffer in an expression. */
function loadsOf(e: Expr, buf: Buffer): Load[] {
  const out: Load[] = [];
  visitExpr(e, (x) => {
    if (x.k === 'load' && x.buf === buf) out.push(x);
  });
  return out;
}

/** Rebuild a statement with `f` applied to each direct child. */
function mapChildren(s: Stmt, f: (x: Stmt) => Stmt): Stmt {
  switch (s.k) {
    case 'seq':
      return { k: 'seq', body: s.body.map(f) };
    case 'for':
    case 'alloc':
    case 'attr':
    case 'task':
    case 'uop':
      return { ...s, body: f(s.body) } as Stmt;
    case 'if':
      return { ...s, then: f(s.then), ...(s.else ? { else: f(s.else) } : {}) };
    default:
      return s;
  }
}

/**
 * Merge accumulator buffers along element-wise chains. Within a chain of allocations around a
 * statement list, a stage that writes X and reads Y (same shape) at exactly its own index, with Y
 * unused after it, is redirected to write Y, and X disappears.
 */
export function coalesceInplace(s: Stmt): Stmt {
  if (s.k !== 'alloc') return mapChildren(s, coalesceInplace);
  const chain: Buffer[] = [];
  let body: Stmt = s;
  while (body.k === 'alloc') {
    chain.push(body.buf);
    body = body.body;
  }
  let merged = true;
  while (merged && body.k === 'seq') {
    merged = false;
    const list: Stmt[] = body.body;
    for (const X of chain) {
      if (X.scope !== 'acc') continue;
      const writers = list.map((st, i) => [st, i] as const).filter(([st]) => writesBuf(st, X));
      if (writers.length !== 1) continue;
      const [w, wi] = writers[0];
      const ns = nestStore(w);
      if (!ns || ns.store.buf !== X) continue;
      const Y = chain.find((y) => y !== X && y.scope === 'acc' && y.dtype === X.dtype && sameShape(y, X) &&
        loadsOf(ns.store.value, y).some((l) => l.idx.every((q, d) => provablyEqual(q, ns.store.idx[d]))) &&
        !list.slice(wi + 1).some((st) => buffersOf(st).has(y)));
      if (!Y) continue;
      body = mapStmt(body, { buffer: (b) => (b === X ? Y : undefined) });
      chain.splice(chain.indexOf(X), 1);
      merged = true;
      break;
    }
  }
  let out = coalesceInplace(body);
  for (let i = chain.length - 1; i >= 0; i--) out = { k: 'alloc', buf: chain[i], body: out };
  return out;
}

function sameShape(a: Buffer, b: Buffer): boolean {
  return a.shape.length === b.shape.length && a.shape.every((v, i) => v === b.shape[i]);
}

function writesBuf(s: Stmt, b: Buffer): boolean {
  let w = false;
  mapStmt(s, {
    stmt: (x) => {
      if (x.k === 'store' && x.buf === b) w = true;
      if ((x.k === 'gemm' && x.acc === b) || (x.k === 'alu' && x.dst === b) || (x.k === 'dma' && x.dir === 'load' && x.sram === b)) w = true;
      return undefined;
    },
  });
  return w;
}

interface AluParts {
  op: AluOpName;
  src?: Load;
  imm: number;
  cond?: Expr;
}

/** Tensor-expression operators the ALU implements, from the opcode table (src/isa/alu.ts). */
const COMMUTATIVE = new Set<string>(ALU_OPS.filter((o) => o.commutative).map((o) => o.irOp));
const OPNAME = new Map<string, AluOpName>(ALU_OPS.map((o) => [o.irOp, o.name]));

function stripCast(e: Expr, dt: string): Expr {
  return e.k === 'cast' && e.a.dtype !== 'index' && e.dtype === dt ? e.a : e;
}

function identity(op: string, dt: Buffer['dtype']): number | undefined {
  const spec = ALU_OPS.find((o) => o.irOp === op);
  const id = spec && 'identity' in spec ? spec.identity : undefined;
  return id === 'zero' ? 0 : id === 'dtypeMin' ? dtypeMin(dt) : id === 'dtypeMax' ? dtypeMax(dt) : undefined;
}

/** Decompose `dst = value` (value reads dst at the same index) into one ALU operation. */
function matchAlu(store: Store, t: VtaTarget, where: () => string): AluParts | 'const' | 'copy' {
  const dst = store.buf;
  const v = simplify(store.value);
  const isSelf = (e: Expr) => {
    const x = stripCast(e, dst.dtype);
    return x.k === 'load' && x.buf === dst && x.idx.every((q, d) => provablyEqual(q, store.idx[d]));
  };
  if (v.k === 'int') return 'const';
  const vs = stripCast(v, dst.dtype);
  if (vs.k === 'load' && vs.buf !== dst) return 'copy';
  if (vs.k !== 'bin') throw new CompileError(`ALU: cannot lower ${where()}`);
  let other: Expr;
  let op = vs.op as string;
  if (isSelf(vs.a)) other = vs.b;
  else if (COMMUTATIVE.has(vs.op) && isSelf(vs.b)) other = vs.a;
  else throw new CompileError(`ALU operations work in place: ${where()} must read its own element`);
  other = stripCast(other, dst.dtype);
  let cond: Expr | undefined;
  if (other.k === 'select') {
    const id = identity(op, dst.dtype);
    const f = simplify(other.f);
    if (id === undefined || f.k !== 'int' || wrapTo(f.value, dst.dtype) !== id) throw new CompileError(`ALU: a conditional operand needs the identity of ${op} in its else branch (${where()})`);
    cond = other.c;
    other = stripCast(other.t, dst.dtype);
  }
  if (op === 'sub') {
    if (other.k !== 'int') throw new CompileError(`ALU has no vector subtraction (${where()})`);
    op = 'add';
    other = int(-other.value, other.dtype);
  }
  if (op === 'shl') {
    if (other.k !== 'int') throw new CompileError(`ALU shifts left only by an immediate (${where()})`);
    op = 'shr';
    other = int(-other.value, other.dtype);
  }
  const name = OPNAME.get(op);
  if (!name) throw new CompileError(`ALU has no operation ${op} (${where()})`);
  const unavailable = aluOpUnavailable(name, t.d);
  if (unavailable) throw new CompileError(unavailable);
  if (other.k === 'int') {
    if (other.value < t.minImm || other.value > t.maxImm) throw new CompileError(`ALU immediate ${other.value} does not fit in ${t.d.layout.alu.byName.imm.width} signed bits (${where()})`);
    return { op: name, imm: other.value, cond };
  }
  if (other.k === 'load' && other.buf.scope === 'acc') return { op: name, src: other, imm: 0, cond };
  throw new CompileError(`ALU operands are accumulator elements or immediates (${where()})`);
}

/** Steps that build a constant in an accumulator element: reset, then ADD / SHL (by 15) chunks. */
function constSteps(c: number, t: VtaTarget): Array<{ op: AluOpName; imm: number } | 'reset'> {
  if (c === 0) return ['reset'];
  if (c >= t.minImm && c <= t.maxImm) return ['reset', { op: 'ADD', imm: c }];
  const k = Math.min(15, t.maxImm > 0 ? Math.floor(Math.log2(t.maxImm + 1)) : 1);
  const q = Math.floor(c / 2 ** k);
  const r = c - q * 2 ** k;
  const steps = constSteps(q, t);
  steps.push({ op: 'SHR', imm: -k });
  if (r) steps.push({ op: 'ADD', imm: r });
  return steps;
}

/** Find the lane loops of an access (innermost loops covering one element densely). */
function laneVars(loops: For[], flats: Expr[], lanes: number, where: () => string): Var[] {
  const out: Var[] = [];
  let prod = 1;
  for (let i = loops.length - 1; i >= 0 && prod < lanes; i--) {
    const l = loops[i];
    for (const f of flats) {
      if (coefOf(f, l.v) !== prod) throw new CompileError(`ALU: the innermost loops must cover one ${lanes}-lane accumulator element (${where()})`);
    }
    out.push(l.v);
    prod *= l.ext;
  }
  if (prod !== lanes) throw new CompileError(`ALU: the innermost loops must cover one ${lanes}-lane accumulator element (${where()})`);
  return out;
}

function lowerAluNest(nest: Stmt, t: VtaTarget): Stmt {
  const ns = nestStore(nest);
  // The statement in question, on one line: the store the nest computes (not the nest's closing brace).
  const where = () => printStmt(ns ? ns.store : nest).trim().split('\n')[0].trim();
  if (!ns) throw new CompileError(`ALU: a pragma alu nest must be loops around one store, found ${where()}`);
  const { loops, store } = ns;
  const dst = store.buf;
  if (dst.scope !== 'acc') throw new CompileError(`ALU works on the accumulator scope, not ${dst.scope} (${where()})`);
  const lanes = t.lanes.acc;
  const dstFlat = flatIndex(dst, store.idx);
  const m = matchAlu(store, t, where);
  const outer = (lv: Var[]) => loops.filter((l) => !lv.includes(l.v));
  const wrap = (lv: Var[], body: Stmt) => outer(lv).reduceRight<Stmt>((b, l) => ({ k: 'for', v: l.v, ext: l.ext, kind: 'serial', body: b }), body);
  const zero = (lv: Var[], e: Expr) => substitute(e, new Map(lv.map((v) => [v, int(0)])));
  if (m === 'const' || m === 'copy') {
    const lv = laneVars(loops, [dstFlat], lanes, where);
    const dstElem = exactDiv(zero(lv, dstFlat), lanes, 'ALU destination');
    const nests: Stmt[] = [];
    if (m === 'const') {
      const c = wrapTo((simplify(store.value) as Extract<Expr, { k: 'int' }>).value, dst.dtype);
      for (const st of constSteps(c, t)) {
        nests.push(wrap(lv, st === 'reset' ? { k: 'gemm', reset: true, acc: dst, accElem: dstElem } : { k: 'alu', op: st.op, dst, dstElem, imm: st.imm }));
      }
    } else {
      const src = stripCast(simplify(store.value), dst.dtype) as Load;
      const srcFlat = flatIndex(src.buf, src.idx);
      const lv2 = laneVars(loops, [dstFlat, srcFlat], lanes, where);
      const srcElem = exactDiv(zero(lv2, srcFlat), lanes, 'ALU source');
      nests.push(wrap(lv2, { k: 'gemm', reset: true, acc: dst, accElem: dstElem }));
      nests.push(wrap(lv2, { k: 'alu', op: 'ADD', dst, dstElem, src: src.buf, srcElem, imm: 0 }));
    }
    return seq(...nests.map((n) => ({ k: 'attr', key: 'pragma', value: 'alu', body: n }) as Stmt));
  }
  const flats = [dstFlat];
  let srcFlat: Expr | undefined;
  if (m.src) {
    srcFlat = flatIndex(m.src.buf, m.src.idx);
    flats.push(srcFlat);
  }
  const lv = laneVars(loops, flats, lanes, where);
  if (m.cond && lv.some((v) => usesVar(m.cond!, v))) throw new CompileError(`ALU: a condition may not depend on the lanes of an element (${where()})`);
  const dstElem = exactDiv(zero(lv, dstFlat), lanes, 'ALU destination');
  const alu: Stmt = m.src
    ? { k: 'alu', op: m.op, dst, dstElem, src: m.src.buf, srcElem: exactDiv(zero(lv, srcFlat!), lanes, 'ALU source'), imm: 0 }
    : { k: 'alu', op: m.op, dst, dstElem, imm: m.imm };
  const body: Stmt = m.cond ? { k: 'if', c: simplify(m.cond), then: alu } : alu;
  return { k: 'attr', key: 'pragma', value: 'alu', body: wrap(lv, body) };
}

/** Merge in-place chains, then lower every `pragma = alu` nest. */
export function lowerAlu(s: Stmt, t: VtaTarget): Stmt {
  const merged = coalesceInplace(s);
  return mapStmt(merged, {
    stmt: (x) => {
      if (x.k !== 'attr' || x.key !== 'pragma' || x.value !== 'alu') return undefined;
      if (containsAluStmt(x.body)) return undefined; // already lowered
      return lowerAluNest(x.body, t);
    },
  });
}

function containsAluStmt(s: Stmt): boolean {
  let found = false;
  mapStmt(s, {
    stmt: (x) => {
      if (x.k === 'alu' || x.k === 'gemm') found = true;
      return undefined;
    },
  });
  return found;
}

