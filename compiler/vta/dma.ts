/**
 * DMA inference (vta-reference Part B §5.4, InjectDMAIntrin). A copy nest annotated
 * `pragma = dma_copy` between DRAM and an SRAM scope becomes 2-D loads or stores:
 *
 * - the innermost loops must cover one SRAM element (lane for lane in DRAM and SRAM);
 * - the next loop, contiguous in both memories, is x (more loops merge into x while both sides
 *   stay contiguous), the one after is y (SRAM pitch = x width, any DRAM pitch); further loops
 *   stay host loops around the DMA;
 * - a copy from a padded tensor (`select(in bounds, data[...], 0)`) becomes a padded load: the
 *   bounds on the x and y indices give the pad counts, computed at run time from the loop
 *   variables of the enclosing host loops (so border tiles get their padding, inner ones none).
 *
 * Loads into INP / WGT run on the load queue, ACC loads on compute, stores on the store queue.
 */
import { CompileError } from '../errors.ts';
import { flatIndex, type Buffer } from '../ir/buffer.ts';
import {
  add, coefOf, div, freeVars, int, max, min, mul, simplify, sub, substitute, toLinear, fromLinear, usesVar,
  type Expr, type Var,
} from '../ir/expr.ts';
import { mapStmt, type DmaMem, type For, type Stmt, type Store } from '../ir/stmt.ts';
import { printStmt } from '../ir/printer.ts';
import { memOfScope } from '../ir/interp.ts';
import { lanesOf, type VtaTarget } from './env.ts';
import { exactDiv } from './tensorize.ts';

interface Bound {
  lo?: Expr;
  hi?: Expr;
}

/** Split a condition into conjuncts. */
function conjuncts(c: Expr, out: Expr[] = []): Expr[] {
  if (c.k === 'and') {
    conjuncts(c.a, out);
    conjuncts(c.b, out);
  } else out.push(c);
  return out;
}

const ceilDiv = (a: Expr, k: number): Expr => div(add(a, k - 1), k);

/**
 * Turn `lhs OP rhs` into a bound on the one loop variable it involves: v in [lo, hi).
 */
function boundOf(atom: Expr, loopVars: Var[], fail: (why: string) => never): { v: Var; b: Bound } {
  if (atom.k !== 'cmp') fail(`a padding condition must compare indices, got ${atom.k}`);
  const c = atom as Extract<Expr, { k: 'cmp' }>;
  // Normalize to  a*v + rest  (OP)  0
  const d = simplify(sub(c.a, c.b));
  const vs = loopVars.filter((v) => usesVar(d, v));
  if (vs.length !== 1) fail('each padding bound must involve exactly one copied dimension');
  const v = vs[0];
  const a = coefOf(d, v);
  if (a === undefined || a === 0) fail('padding bounds must be affine in the copied index');
  const l = toLinear(d);
  for (const [key, t] of l.terms) if (t.e.k === 'var' && t.e.v === v) l.terms.delete(key);
  const rest = fromLinear(l); // d = a*v + rest
  // a*v + rest < 0  <=>  v < -rest/a (a > 0)  or  v > rest/(-a) (a < 0)
  let op = c.op;
  let A = a!;
  let R = rest;
  if (op === 'gt' || op === 'ge') {
    // flip: -(a v + rest) < 0 / <= 0
    A = -A;
    R = simplify(mul(R, -1));
    op = op === 'gt' ? 'lt' : 'le';
  }
  if (op === 'le') R = simplify(sub(R, 1)); // a v + rest <= 0  <=>  a v + rest - 1 < 0
  if (op !== 'lt' && op !== 'le') fail(`padding conditions use <, <=, >, >= (not ${c.op})`);
  if (A > 0) return { v, b: { hi: simplify(ceilDiv(simplify(mul(R, -1)), A)) } };
  // A v + R < 0 with A < 0:  v > R / -A  <=>  v >= floor(R / -A) + 1
  return { v, b: { lo: simplify(add(div(R, -A), 1)) } };
}

interface Dim {
  loops: For[];
  /** Element strides in SRAM and DRAM of the outermost merged loop's unit step, per loop. */
  ext: number;
  ss: number;
  ds: number;
  bound?: Bound;
}

function lowerCopy(nest: Stmt, t: VtaTarget): Stmt {
  const all: For[] = [];
  let x = nest;
  while (x.k === 'for' || x.k === 'attr') {
    if (x.k === 'for') all.push(x);
    x = x.body;
  }
  // Loops of one iteration are dropped, except those a padding condition refers to (they can be
  // a dimension of the copy that is padding in some tiles).
  const condVars = new Set<Var>();
  if (x.k === 'store') {
    const v0 = simplify(x.value);
    const v1 = v0.k === 'cast' ? v0.a : v0;
    if (v1.k === 'select') for (const v of freeVars(v1.c)) condVars.add(v);
  }
  const unit = new Map<Var, Expr>();
  const loops: For[] = [];
  for (const l of all) {
    if (l.ext === 1 && !condVars.has(l.v)) unit.set(l.v, int(0));
    else loops.push(l);
  }
  if (unit.size && x.k === 'store') x = { ...x, idx: x.idx.map((e) => simplify(substitute(e, unit))), value: simplify(substitute(x.value, unit)) };
  const fail = (why: string): never => {
    throw new CompileError(`dma_copy: ${why}\n${printStmt(nest)}`);
  };
  if (x.k !== 'store') fail('a copy must be loops around one store');
  const st = x as Store;
  let value = simplify(st.value);
  if (value.k === 'cast') value = value.a;
  let cond: Expr | undefined;
  if (value.k === 'select') {
    const f = simplify(value.f);
    if (f.k !== 'int' || f.value !== 0) fail('padding must be with zeros');
    cond = value.c;
    value = value.t;
    if (value.k === 'cast') value = value.a;
  }
  if (value.k !== 'load') fail('a copy must store one buffer read');
  const src = (value as Extract<Expr, { k: 'load' }>).buf;
  const dst = st.buf;
  let dir: 'load' | 'store';
  let mem: DmaMem;
  let sram: Buffer;
  let dram: Buffer;
  let sIdx: Expr[];
  let dIdx: Expr[];
  if (dst.scope !== 'global' && src.scope === 'global') {
    dir = 'load';
    mem = memOfScope(dst.scope);
    sram = dst;
    dram = src;
    sIdx = st.idx;
    dIdx = (value as Extract<Expr, { k: 'load' }>).idx;
  } else if (dst.scope === 'global' && src.scope === 'acc') {
    dir = 'store';
    mem = 'OUT';
    sram = src;
    dram = dst;
    sIdx = (value as Extract<Expr, { k: 'load' }>).idx;
    dIdx = st.idx;
    if (cond) fail('stores take no padding');
    if (dst.dtype !== t.outDtype) fail(`VTA stores ${t.outDtype} values (the OUT buffer), not ${dst.dtype}`);
  } else {
    return fail(`copies go between DRAM and an SRAM scope (got ${src.scope} -> ${dst.scope})`);
  }
  const lanes = lanesOf(t, mem);
  const sFlat = flatIndex(sram, sIdx);
  const dFlat = flatIndex(dram, dIdx);
  const cs = (v: Var) => coefOf(sFlat, v);
  const cd = (v: Var) => coefOf(dFlat, v);
  // Lane loops: innermost, dense, identical in both memories.
  const laneVars: Var[] = [];
  let prod = 1;
  const byCoef = [...loops].filter((l) => cs(l.v) !== undefined && cs(l.v)! < lanes && cs(l.v)! > 0).sort((a, b) => cs(a.v)! - cs(b.v)!);
  for (const l of byCoef) {
    if (cs(l.v) !== prod || cd(l.v) !== prod) fail(`the innermost loops must cover one ${lanes}-lane element identically in SRAM and DRAM`);
    laneVars.push(l.v);
    prod *= l.ext;
  }
  if (prod !== lanes) fail(`the copied region must consist of whole ${lanes}-lane elements`);
  const elemLoops = loops.filter((l) => !laneVars.includes(l.v));
  for (const l of elemLoops) {
    const a = cs(l.v);
    const b = cd(l.v);
    if (a === undefined || b === undefined || a % lanes || b % lanes) fail(`loop ${l.v.name} does not step by whole elements`);
  }
  // Padding bounds per loop variable.
  const bounds = new Map<Var, Bound>();
  if (cond) {
    for (const atom of conjuncts(simplify(cond))) {
      const { v, b } = boundOf(atom, elemLoops.map((l) => l.v), fail);
      const cur = bounds.get(v) ?? {};
      if (b.lo) cur.lo = cur.lo ? simplify(max(cur.lo, b.lo)) : b.lo;
      if (b.hi) cur.hi = cur.hi ? simplify(min(cur.hi, b.hi)) : b.hi;
      bounds.set(v, cur);
    }
  }
  // x, y and host loops, from the innermost element loop outward.
  const es = (l: For) => cs(l.v)! / lanes;
  const ed = (l: For) => cd(l.v)! / lanes;
  const rest = [...elemLoops];
  let xd: Dim | undefined;
  let yd: Dim | undefined;
  const inner = rest[rest.length - 1];
  if (inner && es(inner) === 1 && ed(inner) === 1) {
    rest.pop();
    xd = { loops: [inner], ext: inner.ext, ss: 1, ds: 1, bound: bounds.get(inner.v) };
    while (!xd.bound && rest.length) {
      const u = rest[rest.length - 1];
      if (bounds.has(u.v) || es(u) !== xd.ext || ed(u) !== xd.ext) break;
      rest.pop();
      xd.loops.unshift(u);
      xd.ext *= u.ext;
    }
  }
  const W = xd?.ext ?? 1;
  const cand = rest[rest.length - 1];
  if (cand && es(cand) === W && (dir === 'load' || !xd || true)) {
    rest.pop();
    yd = { loops: [cand], ext: cand.ext, ss: W, ds: ed(cand), bound: bounds.get(cand.v) };
    while (!yd.bound && rest.length) {
      const u = rest[rest.length - 1];
      if (bounds.has(u.v) || es(u) !== yd.ss * yd.ext || ed(u) !== yd.ds * yd.ext) break;
      rest.pop();
      yd.loops.unshift(u);
      yd.ext *= u.ext;
    }
  }
  for (const l of rest) if (bounds.has(l.v)) fail(`padding on ${l.v.name}, which is neither the x nor the y dimension of the copy`);
  // Pads and sizes of a dimension.
  const dimFields = (dd: Dim | undefined) => {
    if (!dd) return { pad0: int(0), pad1: int(0), size: int(1) as Expr };
    if (!dd.bound) return { pad0: int(0), pad1: int(0), size: int(dd.ext) as Expr };
    const n = dd.ext;
    const lo = dd.bound.lo ?? int(0);
    const hi = dd.bound.hi ?? int(n);
    const pad0 = simplify(min(max(lo, 0), n));
    const end = simplify(min(max(hi, pad0), n));
    return { pad0, pad1: simplify(sub(n, end)), size: simplify(sub(end, pad0)) };
  };
  const fx = dimFields(xd);
  const fy = dimFields(yd);
  const inDim = new Set<Var>([...laneVars, ...(xd?.loops ?? []).map((l) => l.v), ...(yd?.loops ?? []).map((l) => l.v)]);
  const zero = new Map<Var, Expr>([...inDim].map((v) => [v, int(0)]));
  const sBase = exactDiv(substitute(sFlat, zero), lanes, `${sram.name} offset`);
  const dBase = exactDiv(substitute(dFlat, zero), lanes, `${dram.name} offset`);
  const dramElem = dir === 'load' ? simplify(add(add(dBase, mul(fx.pad0, xd ? 1 : 0)), mul(fy.pad0, yd ? yd.ds : 0))) : dBase;
  const xStride = yd ? int(yd.ds) : fx.size;
  const dma: Stmt = {
    k: 'dma', dir, mem, sram, sramElem: sBase, dram, dramElem, xSize: fx.size, ySize: fy.size, xStride,
    xPad0: fx.pad0, yPad0: fy.pad0, xPad1: fx.pad1, yPad1: fy.pad1,
  };
  const body = rest.reduceRight<Stmt>((b, l) => ({ k: 'for', v: l.v, ext: l.ext, kind: 'serial', body: b }), dma);
  const queue = dir === 'store' ? 3 : mem === 'ACC' ? 2 : 1;
  return { k: 'task', queue, body };
}

/** Replace every `pragma = dma_copy` nest by 2-D DMA tasks. */
export function injectDma(s: Stmt, t: VtaTarget): Stmt {
  return mapStmt(s, {
    stmt: (x) => (x.k === 'attr' && x.key === 'pragma' && x.value === 'dma_copy' ? lowerCopy(x.body, t) : undefined),
  });
}
