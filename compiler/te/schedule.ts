/**
 * Schedules: how a tensor-expression program becomes loops, without changing what it computes.
 * One stage per operation, with TVM's primitives: split, fuse, reorder, compute_at, set_scope,
 * cache_read / cache_write into a memory scope, tensorize, virtual threads and pragmas (dma_copy,
 * alu). `lower()` in lower.ts turns a schedule into the loop-level IR.
 */
import { CompileError } from '../errors.ts';
import { mapExpr, type Expr } from '../ir/expr.ts';
import type { Scope } from '../ir/buffer.ts';
import { compute, IterVar, Tensor, tensorsRead, type ComputeOp } from './tensor.ts';

export type Relation =
  | { k: 'split'; parent: IterVar; outer: IterVar; inner: IterVar; factor: number }
  | { k: 'fuse'; outer: IterVar; inner: IterVar; fused: IterVar };

export type Attach = { k: 'root' } | { k: 'at'; stage: Stage; iv: IterVar };

export interface IterAttr {
  vthread?: boolean;
  pragma?: string;
  tensorize?: string;
  /** GPU: the thread index this loop runs over (compiler/gpu). */
  bind?: GpuThreadTag;
}

/** GPU thread indices a loop can be bound to (TVM's `bind`): the grid's blocks and a block's threads. */
export const GPU_THREAD_TAGS = ['blockIdx.x', 'blockIdx.y', 'blockIdx.z', 'threadIdx.x', 'threadIdx.y', 'threadIdx.z'] as const;
export type GpuThreadTag = (typeof GPU_THREAD_TAGS)[number];

export class Stage {
  scope: Scope = 'global';
  leaf: IterVar[];
  readonly rels: Relation[] = [];
  attach: Attach = { k: 'root' };
  /** Two alternating copies of this (attached, on-chip) stage's buffer: the next fill overlaps this use. */
  doubleBuffered = false;
  readonly attrs = new Map<IterVar, IterAttr>();

  constructor(public tensor: Tensor) {
    this.leaf = tensor.op.k === 'compute' ? [...tensor.op.axes, ...tensor.op.reduceAxes] : [];
  }

  get name(): string {
    return this.tensor.name;
  }
  get op(): ComputeOp {
    return this.tensor.compute;
  }
  get isPlaceholder(): boolean {
    return this.tensor.op.k === 'placeholder';
  }
  /** Spatial axes of the compute (one per output dimension). */
  get axis(): IterVar[] {
    return this.op.axes;
  }
  get reduceAxis(): IterVar[] {
    return this.op.reduceAxes;
  }

  private leafIndex(iv: IterVar, what: string): number {
    const i = this.leaf.indexOf(iv);
    if (i < 0) throw new CompileError(`${what}: ${iv.name} is not a leaf axis of stage ${this.name}`);
    return i;
  }

  /** Split an axis by an inner factor; the extent must be a multiple of the factor. */
  split(iv: IterVar, factor: number): [IterVar, IterVar] {
    const i = this.leafIndex(iv, 'split');
    if (!Number.isInteger(factor) || factor < 1) throw new CompileError(`split of ${iv.name}: factor ${factor} must be a positive integer`);
    if (iv.extent % factor) throw new CompileError(`split of ${iv.name} (extent ${iv.extent}) by ${factor} leaves a remainder; use a divisor`);
    const outer = new IterVar(`${iv.name}.o`, iv.extent / factor, iv.kind);
    const inner = new IterVar(`${iv.name}.i`, factor, iv.kind);
    this.rels.push({ k: 'split', parent: iv, outer, inner, factor });
    this.leaf.splice(i, 1, outer, inner);
    return [outer, inner];
  }

  /** Split an axis into `nparts` outer iterations. */
  splitNparts(iv: IterVar, nparts: number): [IterVar, IterVar] {
    if (iv.extent % nparts) throw new CompileError(`split of ${iv.name} (extent ${iv.extent}) into ${nparts} parts leaves a remainder`);
    return this.split(iv, iv.extent / nparts);
  }

  /** Fuse two adjacent leaf axes (outer first) into one. */
  fuse(outer: IterVar, inner: IterVar): IterVar {
    const i = this.leafIndex(outer, 'fuse');
    if (this.leaf[i + 1] !== inner) throw new CompileError(`fuse: ${inner.name} must come right after ${outer.name}`);
    if (outer.kind !== inner.kind) throw new CompileError('fuse: cannot fuse a spatial and a reduce axis');
    const fused = new IterVar(`${outer.name}.${inner.name}.f`, outer.extent * inner.extent, outer.kind);
    this.rels.push({ k: 'fuse', outer, inner, fused });
    this.leaf.splice(i, 2, fused);
    return fused;
  }

  /** Put the given leaf axes in this order (others keep their positions). */
  reorder(...ivs: IterVar[]): void {
    const pos = ivs.map((iv) => this.leafIndex(iv, 'reorder')).sort((a, b) => a - b);
    if (new Set(ivs).size !== ivs.length) throw new CompileError('reorder: an axis is listed twice');
    pos.forEach((p, k) => {
      this.leaf[p] = ivs[k];
    });
  }

  /** Compute this stage inside `stage`'s loop over `iv` (only the region that iteration needs). */
  computeAt(stage: Stage, iv: IterVar): void {
    if (!stage.leaf.includes(iv)) throw new CompileError(`compute_at: ${iv.name} is not a leaf axis of ${stage.name}`);
    this.attach = { k: 'at', stage, iv };
  }

  setScope(scope: Scope): void {
    this.scope = scope;
  }

  private attr(iv: IterVar): IterAttr {
    this.leafIndex(iv, 'annotate');
    let a = this.attrs.get(iv);
    if (!a) this.attrs.set(iv, (a = {}));
    return a;
  }

  /** Replace the loop nest from `iv` inward by an intrinsic (matched by the tensorize pass). */
  tensorize(iv: IterVar, intrin: string): void {
    this.attr(iv).tensorize = intrin;
  }

  /** Run the iterations of `iv` as interleaved virtual threads (latency hiding). */
  vthread(iv: IterVar): void {
    this.attr(iv).vthread = true;
  }

  /** Run the iterations of `iv` on a GPU thread index, one per block or thread (TVM's `bind`). */
  bind(iv: IterVar, tag: GpuThreadTag): void {
    const taken = [...this.attrs.entries()].find(([other, a]) => a.bind === tag && other !== iv);
    if (taken) throw new CompileError(`bind: ${tag} is already bound to ${taken[0].name} of stage ${this.name}`);
    this.attr(iv).bind = tag;
  }

  /**
   * Double-buffer this stage's buffer (TVM's double_buffer): computed inside a loop, the copy for the
   * next iteration is filled while the current one is read (the GPU form of VTA's latency hiding).
   */
  doubleBuffer(): void {
    if (this.attach.k !== 'at') throw new CompileError(`double_buffer of ${this.name}: it must be computed inside a loop (compute_at) first`);
    this.doubleBuffered = true;
  }

  /** Annotate the loop nest from `iv` inward (dma_copy, alu). */
  pragma(iv: IterVar, name: string): void {
    this.attr(iv).pragma = name;
  }
}

export class Schedule {
  readonly stages: Stage[] = [];
  private readonly byTensor = new Map<Tensor, Stage>();

  constructor(readonly outputs: Tensor[]) {
    const seen = new Set<Tensor>();
    const visit = (t: Tensor): void => {
      if (seen.has(t)) return;
      seen.add(t);
      if (t.op.k === 'compute') for (const p of tensorsRead(t.op.body)) visit(p);
      this.add(t);
    };
    outputs.forEach(visit);
  }

  private add(t: Tensor, before?: Stage): Stage {
    const s = new Stage(t);
    this.byTensor.set(t, s);
    if (before) this.stages.splice(this.stages.indexOf(before), 0, s);
    else this.stages.push(s);
    return s;
  }

  stage(t: Tensor): Stage {
    const s = this.byTensor.get(t);
    if (!s) throw new CompileError(`tensor ${t.name} is not part of this schedule`);
    return s;
  }

  /** Stages whose compute reads `t`. */
  readers(t: Tensor): Stage[] {
    return this.stages.filter((s) => !s.isPlaceholder && tensorsRead(s.op.body).has(t));
  }

  /**
   * Read `t` through a copy in `scope`: returns the copy; the given readers now read the copy.
   */
  cacheRead(t: Tensor, scope: Scope, readers: Tensor[]): Tensor {
    const copy = compute(t.shape, (...i) => t.at(...i), `${t.name}.${scope}`, t.shape.map((_, d) => `${t.name}.${scope}.i${d}`));
    const first = Math.min(...readers.map((r) => this.stages.indexOf(this.stage(r))));
    const s = this.add(copy, this.stages[first]);
    s.setScope(scope);
    for (const r of readers) replaceReads(this.stage(r), t, copy);
    return copy;
  }

  /**
   * Compute `t` into a new tensor in `scope`; `t` becomes a copy of it. Returns the new tensor
   * (which owns the original axes and reduction).
   */
  cacheWrite(t: Tensor, scope: Scope): Tensor {
    const st = this.stage(t);
    if (st.rels.length) throw new CompileError(`cache_write of ${t.name} must come before its axes are split`);
    const op = t.compute;
    const cache = new Tensor(`${t.name}.${scope}`, t.shape, t.dtype, op);
    const cs = this.add(cache, st);
    cs.setScope(scope);
    const axes = t.shape.map((s, d) => new IterVar(`${t.name}.i${d}`, s, 'spatial'));
    t.op = { k: 'compute', axes, reduceAxes: [], body: cache.at(...axes.map((a) => a.e)) };
    st.leaf = [...axes];
    st.attrs.clear();
    return cache;
  }
}

function replaceReads(s: Stage, from: Tensor, to: Tensor): void {
  const op = s.op;
  const body = mapExpr(op.body, (e: Expr) => (e.k === 'read' && e.tensor === from ? { ...e, tensor: to } : undefined));
  s.tensor.op = { ...op, body };
}

export function createSchedule(outputs: Tensor | Tensor[]): Schedule {
  return new Schedule(Array.isArray(outputs) ? outputs : [outputs]);
}
