/**
 * Lowering: a schedule becomes a loop nest of the loop-level IR.
 *
 * 1. Bound inference. A stage attached with compute_at at (C, iv) is computed inside C's loop over
 *    iv, so it only has to produce the region its readers need in one iteration of that loop: with
 *    C's leaf axes up to iv fixed and the ones inside ranging over their extents, each read index is
 *    bounded by interval arithmetic. The region's extent must come out constant (it becomes the size
 *    of the stage's buffer); its minimum is an expression of the enclosing loop variables.
 * 2. Loop nests. Each stage's leaf axes become loops (vthread-annotated ones become virtual-thread
 *    loops); split / fuse relations give each original axis its value; attached stages are placed
 *    at the start of their attach loop's body, with their buffer allocated there; a reduction gets
 *    an init nest just before its first reduce loop. Pragmas and tensorize requests become
 *    attributes on the annotated loop.
 */
import { CompileError } from '../errors.ts';
import { Buffer } from '../ir/buffer.ts';
import {
  add, constValue, dtypeMax, dtypeMin, exprKey, int, intervalOf, load, mapExpr, max, min, ref, simplify, sub,
  type Expr, type Interval, type Var,
} from '../ir/expr.ts';
import { loop, seq, type Stmt } from '../ir/stmt.ts';
import type { Relation, Schedule, Stage } from './schedule.ts';
import { type IterVar, type Tensor, tensorsRead } from './tensor.ts';

export interface LoweredFunc {
  name: string;
  body: Stmt;
  /** DRAM buffers of the placeholders, in schedule order. */
  inputs: Buffer[];
  /** DRAM buffers of the outputs. */
  outputs: Buffer[];
  /** Global intermediates (root stages in DRAM that are not outputs). */
  scratch: Buffer[];
  /** The buffer each tensor was realized in. */
  bufferOf: Map<Tensor, Buffer>;
}

interface Region {
  min: Expr[];
  ext: number[];
}

class Lowering {
  readonly regions = new Map<Stage, Region>();
  readonly buffers = new Map<Stage, Buffer>();
  private readonly splitOf = new Map<Stage, Map<IterVar, Extract<Relation, { k: 'split' }>>>();
  private readonly fuseOf = new Map<Stage, Map<IterVar, Extract<Relation, { k: 'fuse' }>>>();

  constructor(readonly sch: Schedule) {
    for (const s of sch.stages) {
      const sp = new Map<IterVar, Extract<Relation, { k: 'split' }>>();
      const fu = new Map<IterVar, Extract<Relation, { k: 'fuse' }>>();
      for (const r of s.rels) {
        if (r.k === 'split') sp.set(r.parent, r);
        else {
          fu.set(r.outer, r);
          fu.set(r.inner, r);
        }
      }
      this.splitOf.set(s, sp);
      this.fuseOf.set(s, fu);
    }
  }

  /** Loop extent of an axis: root axes of an attached stage iterate over the inferred region. */
  ext(s: Stage, iv: IterVar): number {
    const root = s.isPlaceholder ? -1 : s.op.axes.indexOf(iv);
    if (root >= 0) return this.regions.get(s)!.ext[root];
    if (iv.kind === 'reduce' && s.op.reduceAxes.includes(iv)) return iv.extent;
    for (const r of s.rels) {
      if (r.k === 'split' && (r.outer === iv || r.inner === iv)) {
        if (r.inner === iv) return r.factor;
        const pe = this.ext(s, r.parent);
        if (pe % r.factor) throw new CompileError(`${s.name}: the region of ${r.parent.name} (${pe}) is not a multiple of the split factor ${r.factor}`);
        return pe / r.factor;
      }
      if (r.k === 'fuse' && r.fused === iv) return this.ext(s, r.outer) * this.ext(s, r.inner);
    }
    throw new CompileError(`internal: no extent for ${iv.name}`);
  }

  /** Value of an axis relative to the start of the stage's region, in leaf variables. */
  rel(s: Stage, iv: IterVar): Expr {
    const sp = this.splitOf.get(s)!.get(iv);
    if (sp) return add(simplifyMul(this.rel(s, sp.outer), sp.factor), this.rel(s, sp.inner));
    const fu = this.fuseOf.get(s)!.get(iv);
    if (fu) {
      const f = this.rel(s, fu.fused);
      const ei = this.ext(s, fu.inner);
      return iv === fu.outer ? { k: 'bin', op: 'div', a: f, b: int(ei), dtype: 'index' } : { k: 'bin', op: 'mod', a: f, b: int(ei), dtype: 'index' };
    }
    if (!s.leaf.includes(iv)) throw new CompileError(`axis ${iv.name} of ${s.name} is neither a leaf nor split/fused`);
    return ref(iv.var);
  }

  /** Interval of an axis (relative) when leaves are fixed ('point') or ranging ('full'). */
  relInterval(s: Stage, iv: IterVar, fixed: ReadonlySet<IterVar>): Interval {
    const sp = this.splitOf.get(s)!.get(iv);
    if (sp) {
      const o = this.relInterval(s, sp.outer, fixed);
      const i = this.relInterval(s, sp.inner, fixed);
      return { lo: simplify(add(simplifyMul(o.lo, sp.factor), i.lo)), hi: simplify(add(simplifyMul(o.hi, sp.factor), i.hi)) };
    }
    const fu = this.fuseOf.get(s)!.get(iv);
    if (fu) {
      const f = this.relInterval(s, fu.fused, fixed);
      const ei = this.ext(s, fu.inner);
      if (exprKey(f.lo) === exprKey(f.hi)) {
        const v = iv === fu.outer ? simplify({ k: 'bin', op: 'div', a: f.lo, b: int(ei), dtype: 'index' }) : simplify({ k: 'bin', op: 'mod', a: f.lo, b: int(ei), dtype: 'index' });
        return { lo: v, hi: v };
      }
      return { lo: int(0), hi: int(this.ext(s, iv) - 1) };
    }
    if (fixed.has(iv)) return { lo: ref(iv.var), hi: ref(iv.var) };
    return { lo: int(0), hi: int(this.ext(s, iv) - 1) };
  }

  /** Intervals of a stage's root axis variables, for its computation inside an attach scope. */
  rootIntervals(s: Stage, fixed: ReadonlySet<IterVar>): Map<Var, Interval> {
    const env = new Map<Var, Interval>();
    const region = this.regions.get(s)!;
    s.op.axes.forEach((ax, d) => {
      const r = this.relInterval(s, ax, fixed);
      env.set(ax.var, { lo: simplify(add(region.min[d], r.lo)), hi: simplify(add(region.min[d], r.hi)) });
    });
    for (const ax of s.op.reduceAxes) env.set(ax.var, this.relInterval(s, ax, fixed));
    return env;
  }

  inferBounds(): void {
    const stages = this.sch.stages;
    for (let k = stages.length - 1; k >= 0; k--) {
      const p = stages[k];
      if (p.attach.k === 'root') {
        this.regions.set(p, { min: p.tensor.shape.map(() => int(0)), ext: [...p.tensor.shape] });
        continue;
      }
      const { stage: c, iv } = p.attach;
      const readers = this.sch.readers(p.tensor);
      if (!readers.length) throw new CompileError(`stage ${p.name} is attached but nothing reads it`);
      let lo: Expr[] | undefined;
      let hi: Expr[] | undefined;
      for (const r of readers) {
        let fixed: Set<IterVar>;
        if (r === c) {
          fixed = new Set(c.leaf.slice(0, c.leaf.indexOf(iv) + 1));
        } else if (r.attach.k === 'at' && r.attach.stage === c && r.attach.iv === iv) {
          fixed = new Set();
        } else {
          throw new CompileError(`${p.name} is computed at ${c.name}.${iv.name} but read by ${r.name}, which is not computed there`);
        }
        if (!this.regions.has(r)) throw new CompileError(`internal: ${r.name} has no region yet`);
        const env = this.rootIntervals(r, fixed);
        const reads: Expr[][] = [];
        collectReads(r.op.body, p.tensor, reads);
        for (const idx of reads) {
          const iv2 = idx.map((e) => intervalOf(e, env));
          if (!lo || !hi) {
            lo = iv2.map((x) => x.lo);
            hi = iv2.map((x) => x.hi);
          } else {
            lo = lo.map((x, d) => unionBound(x, iv2[d].lo, 'min', p.name));
            hi = hi.map((x, d) => unionBound(x, iv2[d].hi, 'max', p.name));
          }
        }
      }
      if (p.scope === 'shared') {
        // A block's threads share the copy: it holds what every thread of the block reads, so the
        // thread indices range over their extents instead of being fixed (TVM's thread relaxation).
        const threads = this.threadIntervals();
        lo = lo!.map((x) => simplify(intervalOf(x, threads).lo));
        hi = hi!.map((x) => simplify(intervalOf(x, threads).hi));
      }
      const ext = lo!.map((l, d) => {
        const e = constValue(sub(hi![d], l));
        if (e === undefined) throw new CompileError(`the region of ${p.name} computed at ${c.name}.${iv.name} has no constant extent in dimension ${d}`);
        if (e + 1 > p.tensor.shape[d]) throw new CompileError(`the region of ${p.name} (${e + 1}) exceeds its extent ${p.tensor.shape[d]} in dimension ${d}`);
        return e + 1;
      });
      this.regions.set(p, { min: lo!, ext });
    }
  }

  /** The loop variables bound to GPU thread indices (threadIdx.*) in stages whose regions are known, over their ranges. */
  threadIntervals(): Map<Var, Interval> {
    const env = new Map<Var, Interval>();
    for (const s of this.sch.stages) {
      if (!this.regions.has(s)) continue;
      for (const [iv, a] of s.attrs) if (a.bind?.startsWith('threadIdx')) env.set(iv.var, { lo: int(0), hi: int(this.ext(s, iv) - 1) });
    }
    return env;
  }

  makeBuffers(): void {
    for (const s of this.sch.stages) {
      const shape = s.isPlaceholder || s.attach.k === 'root' ? s.tensor.shape : this.regions.get(s)!.ext;
      this.buffers.set(s, new Buffer(s.name, shape, s.tensor.dtype, s.isPlaceholder ? 'global' : s.scope));
    }
  }

  /** Turn tensor reads of a stage body into buffer loads. */
  lowerExpr(e: Expr, sub2: ReadonlyMap<Var, Expr>): Expr {
    return simplify(mapExpr(e, (x) => {
      if (x.k === 'var') return sub2.get(x.v);
      if (x.k !== 'read') return undefined;
      const t = this.sch.stage(x.tensor as Tensor);
      const buf = this.buffers.get(t)!;
      if (t.isPlaceholder || t.attach.k === 'root') return load(buf, x.idx);
      const region = this.regions.get(t)!;
      return load(buf, x.idx.map((i, d) => simplify(sub(i, region.min[d]))));
    }));
  }

  private wrapLeaf(s: Stage, iv: IterVar, body: Stmt): Stmt {
    const a = s.attrs.get(iv);
    let st: Stmt = loop(iv.var, this.ext(s, iv), body, a?.vthread ? 'vthread' : 'serial');
    if (a?.tensorize) st = { k: 'attr', key: 'tensorize', value: a.tensorize, body: st };
    if (a?.pragma) st = { k: 'attr', key: 'pragma', value: a.pragma, body: st };
    if (a?.bind) st = { k: 'attr', key: 'bind', value: a.bind, body: st };
    return st;
  }

  /** Producers attached at (s, iv), allocated around `rest`. */
  private withAttached(s: Stage, iv: IterVar, rest: Stmt): Stmt {
    const attached = this.sch.stages.filter((p) => p.attach.k === 'at' && p.attach.stage === s && p.attach.iv === iv);
    if (!attached.length) return rest;
    let st = seq(...attached.map((p) => this.buildStage(p)), rest);
    for (let i = attached.length - 1; i >= 0; i--) st = { k: 'alloc', buf: this.buffers.get(attached[i])!, body: st };
    if (attached.some((p) => p.doubleBuffered)) {
      if (attached.length > 1) throw new CompileError(`double_buffer of ${attached.find((p) => p.doubleBuffered)!.name}: it must be the only stage computed at ${s.name}.${iv.name}`);
      st = { k: 'attr', key: 'double_buffer', value: attached[0].name, body: st };
    }
    return st;
  }

  buildStage(s: Stage): Stmt {
    const op = s.op;
    const region = this.regions.get(s)!;
    const buf = this.buffers.get(s)!;
    const values = new Map<Var, Expr>();
    op.axes.forEach((ax, d) => values.set(ax.var, simplify(add(region.min[d], this.rel(s, ax)))));
    for (const ax of op.reduceAxes) values.set(ax.var, simplify(this.rel(s, ax)));
    const storeIdx = op.axes.map((ax) => simplify(this.rel(s, ax)));
    let update: Stmt;
    let init: Stmt | undefined;
    if (op.body.k === 'reduce') {
      const val = this.lowerExpr(op.body.body, values);
      const cur = load(buf, storeIdx);
      const dt = buf.dtype;
      const combined = op.body.op === 'sum' ? add(cur, val) : op.body.op === 'max' ? max(cur, val) : min(cur, val);
      update = { k: 'store', buf, idx: storeIdx, value: combined };
      const identity = op.body.op === 'sum' ? 0 : op.body.op === 'max' ? dtypeMin(dt) : dtypeMax(dt);
      init = { k: 'store', buf, idx: storeIdx, value: int(identity, dt) };
    } else {
      update = { k: 'store', buf, idx: storeIdx, value: this.lowerExpr(op.body, values) };
    }
    const leaf = s.leaf;
    const n = leaf.length;
    const firstRed = leaf.findIndex((iv) => iv.kind === 'reduce');
    let initNest: Stmt | undefined;
    if (init) {
      initNest = init;
      for (let j = n - 1; j > firstRed; j--) {
        if (leaf[j].kind === 'spatial') initNest = this.wrapLeaf(s, leaf[j], initNest);
      }
    }
    // Build from the innermost loop outward: content(i) is the body of loop i.
    let content: Stmt = this.withAttached(s, leaf[n - 1], update);
    if (n === 0) return init ? seq(init, update) : update;
    for (let i = n - 1; i >= 0; i--) {
      const loopI = this.wrapLeaf(s, leaf[i], content);
      if (i === 0) {
        content = firstRed === 0 && initNest ? seq(initNest, loopI) : loopI;
        break;
      }
      content = this.withAttached(s, leaf[i - 1], firstRed === i && initNest ? seq(initNest, loopI) : loopI);
    }
    return content;
  }
}

function simplifyMul(e: Expr, k: number): Expr {
  return k === 1 ? e : { k: 'bin', op: 'mul', a: e, b: int(k), dtype: 'index' };
}

function unionBound(a: Expr, b: Expr, which: 'min' | 'max', name: string): Expr {
  const d = constValue(sub(a, b));
  if (d === undefined) throw new CompileError(`cannot merge the regions ${name} is read in (non-constant offset)`);
  if (which === 'min') return d <= 0 ? a : b;
  return d >= 0 ? a : b;
}

function collectReads(e: Expr, t: Tensor, out: Expr[][]): void {
  mapExpr(e, (x) => {
    if (x.k === 'read' && x.tensor === t) out.push(x.idx);
    return undefined;
  });
}

/** Lower a schedule to a loop nest. */
export function lower(sch: Schedule, name = 'main'): LoweredFunc {
  const L = new Lowering(sch);
  for (const s of sch.stages) {
    if (s.attach.k === 'at' && s.attach.stage.attach.k === 'at' && isInside(s.attach.stage, s)) {
      throw new CompileError(`compute_at cycle through ${s.name}`);
    }
  }
  L.inferBounds();
  L.makeBuffers();
  const roots: Array<{ nest: Stmt; local?: Buffer }> = [];
  const scratch: Buffer[] = [];
  for (const s of sch.stages) {
    if (s.isPlaceholder || s.attach.k !== 'root') continue;
    const buf = L.buffers.get(s)!;
    roots.push({ nest: L.buildStage(s), local: s.scope !== 'global' ? buf : undefined });
    if (s.scope === 'global' && !sch.outputs.includes(s.tensor)) scratch.push(buf);
  }
  // An on-chip root stage stays allocated for everything after it.
  let body: Stmt = seq();
  for (let i = roots.length - 1; i >= 0; i--) {
    const r = roots[i];
    body = seq(r.nest, body);
    if (r.local) body = { k: 'alloc', buf: r.local, body };
  }
  const bufferOf = new Map<Tensor, Buffer>();
  for (const s of sch.stages) bufferOf.set(s.tensor, L.buffers.get(s)!);
  for (const s of sch.stages) {
    if (!s.isPlaceholder) for (const t of tensorsRead(s.op.body)) if (!bufferOf.has(t)) throw new CompileError(`${t.name} is read but not scheduled`);
  }
  return {
    name,
    body,
    inputs: sch.stages.filter((s) => s.isPlaceholder).map((s) => L.buffers.get(s)!),
    outputs: sch.outputs.map((t) => bufferOf.get(t)!),
    scratch,
    bufferOf,
  };
}

function isInside(a: Stage, b: Stage): boolean {
  let cur: Stage | undefined = a;
  const seen = new Set<Stage>();
  while (cur && cur.attach.k === 'at') {
    if (cur === b) return true;
    if (seen.has(cur)) return true;
    seen.add(cur);
    cur = cur.attach.stage;
  }
  return false;
}
