/**
 * Micro-op kernels (vta-reference Part B §5.4 FoldUopLoop, §4.4). Each maximal loop nest around a
 * single GEMM or ALU micro-op becomes one micro-op kernel, i.e. one GEMM / ALU instruction:
 *
 * - adjacent loops that step every index contiguously are fused (x over y, channel over pixels...);
 * - the outermost (up to) two loops whose indices are affine with non-negative steps that fit the
 *   instruction's factor fields become the hardware loops (iter_out, iter_in);
 * - the remaining loops and conditions are unrolled into the micro-op list when the kernel is
 *   emitted.
 *
 * VTA's pipeline forbids a micro-op from writing the accumulator one of the previous two wrote
 * (the runtime's VerifyDep). When the unrolled list would do that (a tile of fewer than three
 * accumulator elements with a reduction unrolled around it), the reduction loop is taken out of the
 * kernel and becomes a host loop issuing several instructions.
 */
import { CompileError } from '../errors.ts';
import { coefOf, evaluate, freeVars, int, substitute, usesVar, Var, type Expr } from '../ir/expr.ts';
import { type For, type If, type Stmt, type UopLoop, type UopScope } from '../ir/stmt.ts';
import type { VtaTarget } from './env.ts';

type Leaf = Extract<Stmt, { k: 'gemm' } | { k: 'alu' }>;
type Item = For | If;

function isChain(s: Stmt): boolean {
  switch (s.k) {
    case 'gemm':
    case 'alu':
      return true;
    case 'for':
      return s.kind === 'serial' && isChain(s.body);
    case 'if':
      return !s.else && isChain(s.then);
    case 'attr':
      return isChain(s.body);
    default:
      return false;
  }
}

function indexExprs(l: Leaf): { dst: Expr; src?: Expr; wgt?: Expr } {
  if (l.k === 'gemm') return { dst: l.accElem, src: l.inpElem, wgt: l.wgtElem };
  return { dst: l.dstElem, src: l.srcElem };
}

function substLeaf(l: Leaf, m: Map<Var, Expr>): Leaf {
  if (l.k === 'gemm') {
    return {
      ...l, accElem: substitute(l.accElem, m),
      ...(l.inpElem ? { inpElem: substitute(l.inpElem, m) } : {}),
      ...(l.wgtElem ? { wgtElem: substitute(l.wgtElem, m) } : {}),
    };
  }
  return { ...l, dstElem: substitute(l.dstElem, m), ...(l.srcElem ? { srcElem: substitute(l.srcElem, m) } : {}) };
}

function rebuild(items: Item[], leaf: Stmt): Stmt {
  return items.reduceRight<Stmt>((b, it) => (it.k === 'for' ? { ...it, body: b } : { ...it, then: b }), leaf);
}

/** The dst sequence of the unrolled body with the outer (host) variables at zero. */
function dstSequence(items: Item[], leaf: Leaf, limit = 100000): number[] | undefined {
  const out: number[] = [];
  const dst = indexExprs(leaf).dst;
  const env = new Map<Var, number>();
  const free = freeVars(dst);
  for (const it of items) if (it.k === 'if') freeVars(it.c, free);
  for (const v of free) env.set(v, 0);
  const rec = (i: number): boolean => {
    if (out.length > limit) return false;
    if (i === items.length) {
      out.push(evaluate(dst, env));
      return true;
    }
    const it = items[i];
    if (it.k === 'if') return evaluate(it.c, env) ? rec(i + 1) : true;
    for (let k = 0; k < it.ext; k++) {
      env.set(it.v, k);
      if (!rec(i + 1)) return false;
    }
    env.set(it.v, 0);
    return true;
  };
  return rec(0) ? out : undefined;
}

function violatesVerifyDep(seq: number[]): boolean {
  for (let i = 1; i < seq.length; i++) {
    if (seq[i] === seq[i - 1] || (i >= 2 && seq[i] === seq[i - 2])) return true;
  }
  return false;
}

function makeKernel(chain: Stmt, t: VtaTarget): Stmt {
  let items: Item[] = [];
  let x = chain;
  const unit = new Map<Var, Expr>();
  while (x.k !== 'gemm' && x.k !== 'alu') {
    if (x.k === 'for' && x.ext === 1) unit.set(x.v, int(0));
    else if (x.k === 'for' || x.k === 'if') items.push(x);
    x = x.k === 'if' ? x.then : (x as For | Extract<Stmt, { k: 'attr' }>).body;
  }
  let leaf = substLeaf(x as Leaf, unit);
  items = items.map((it) => (it.k === 'if' ? { ...it, c: substitute(it.c, unit) } : it));
  const mode = leaf.k === 'gemm' ? 'GEMM' : 'ALU';
  const condVars = new Set<Var>();
  for (const it of items) if (it.k === 'if') for (const l of items) if (l.k === 'for' && usesVar(it.c, l.v)) condVars.add(l.v);
  const exprsOf = () => Object.values(indexExprs(leaf)).filter((e): e is Expr => e !== undefined);
  // Fuse adjacent contiguous loops.
  let fused = true;
  while (fused) {
    fused = false;
    for (let i = 0; i + 1 < items.length; i++) {
      const a = items[i];
      const b = items[i + 1];
      if (a.k !== 'for' || b.k !== 'for' || condVars.has(a.v) || condVars.has(b.v)) continue;
      const ok = exprsOf().every((e) => {
        const ca = coefOf(e, a.v);
        const cb = coefOf(e, b.v);
        return ca !== undefined && cb !== undefined && ca === cb * b.ext;
      });
      if (!ok) continue;
      const f = new Var(`${a.v.name}.${b.v.name}`);
      leaf = substLeaf(leaf, new Map<Var, Expr>([[a.v, int(0)], [b.v, { k: 'var', v: f, dtype: 'index' }]]));
      items.splice(i, 2, { k: 'for', v: f, ext: a.ext * b.ext, kind: 'serial', body: a.body });
      fused = true;
      break;
    }
  }
  const fmax = mode === 'GEMM' ? t.gemmFactorMax : { ...t.aluFactorMax, wgt: 0 };
  const hoisted: For[] = [];
  for (;;) {
    // Hardware loops: an eligible prefix of at most two loops.
    const hw: UopLoop[] = [];
    let k = 0;
    while (k < items.length && hw.length < 2) {
      const it = items[k];
      if (it.k === 'if') {
        k++;
        continue;
      }
      if (condVars.has(it.v) || it.ext > t.maxIter) break;
      const e = indexExprs(leaf);
      const f = (ex: Expr | undefined) => (ex ? coefOf(ex, it.v) : 0);
      const dst = f(e.dst);
      const src = leaf.k === 'alu' && !leaf.src ? 0 : f(e.src);
      const wgt = f(e.wgt);
      if (dst === undefined || src === undefined || wgt === undefined || dst < 0 || src < 0 || wgt < 0) break;
      if (dst > fmax.dst || src > fmax.src || wgt > (fmax.wgt ?? 0) && mode === 'GEMM') break;
      hw.push({ v: it.v, ext: it.ext, dst, src, wgt: mode === 'GEMM' ? wgt : 0 });
      k++;
    }
    const hwVars = new Set(hw.map((l) => l.v));
    const rest = items.filter((it) => !(it.k === 'for' && hwVars.has(it.v)));
    // With conditions the surviving micro-ops depend on the tile (outer variables), so a static
    // check cannot see every sequence: loops that do not move dst leave the kernel.
    const conditional = rest.some((it) => it.k === 'if');
    const seqDst = conditional ? undefined : dstSequence(rest, leaf);
    const dstFixedLoop = rest.some((it) => it.k === 'for' && it.ext > 1 && coefOf(indexExprs(leaf).dst, it.v) === 0);
    if ((conditional && dstFixedLoop) || (seqDst && violatesVerifyDep(seqDst))) {
      const e = indexExprs(leaf);
      const j = rest.findIndex((it) => it.k === 'for' && it.ext > 1 && coefOf(e.dst, it.v) === 0);
      if (j >= 0) {
        const h = rest[j] as For;
        hoisted.push(h);
        items = items.filter((it) => it !== h);
        continue;
      }
      throw new CompileError(`a ${mode} micro-op kernel would write one accumulator element twice within three micro-ops; use bigger tiles`);
    }
    const scope: UopScope = { k: 'uop', mode, loops: hw, body: rebuild(rest, leaf) };
    const body = hoisted.reduceRight<Stmt>((b, h) => ({ k: 'for', v: h.v, ext: h.ext, kind: 'serial', body: b }), scope);
    return { k: 'task', queue: 2, body };
  }
}

/** Turn every micro-op nest into a compute task holding one micro-op kernel. */
export function foldUops(s: Stmt, t: VtaTarget): Stmt {
  const visit = (x: Stmt): Stmt => {
    if (x.k === 'task') return x;
    if (isChain(x)) return makeKernel(x, t);
    switch (x.k) {
      case 'seq':
        return { k: 'seq', body: x.body.map(visit) };
      case 'for':
      case 'alloc':
      case 'attr':
        return { ...x, body: visit(x.body) } as Stmt;
      case 'if':
        return { ...x, then: visit(x.then), ...(x.else ? { else: visit(x.else) } : {}) };
      default:
        return x;
    }
  };
  return visit(s);
}
