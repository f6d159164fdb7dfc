/**
 * Emission: the final IR is a host program — loops and conditions around VTA work — and is run here
 * against the host runtime (src/runtime, VTA's JIT runtime), exactly as TVM's generated host code
 * calls VTALoadBuffer2D / VTAPushGEMMOp / VTADepPush... The result is a program container.
 *
 * - DRAM tensors become runtime buffers; SRAM buffers get the offsets of check.ts.
 * - A DMA becomes one LOAD / STORE, or several when a field would overflow (padding above 15, a
 *   tile that is all padding: zero-filled from a one-element zero buffer, strides above 16 bits).
 * - A micro-op kernel is unrolled into micro-ops with its hardware loops; kernels are cached by
 *   content, so a kernel is recorded once and stays resident in the micro-op SRAM while the runtime's
 *   cache holds it.
 * - Every dependency token is checked on the fly against the tasks' buffer accesses: a consumer
 *   must have received a token from a producer at or after the last one it conflicts with, and every
 *   queue must end empty (an internal error otherwise — the program would race or deadlock).
 */
import type { Program } from '../../src/program/container.ts';
import { encodeLanes } from '../../src/runtime/pack.ts';
import { Runtime, type DataBuffer, type UopKernel } from '../../src/runtime/runtime.ts';
import { RQ_CLEAR_BIT, rqParams, type AluOpName } from '../../src/isa/alu.ts';
import type { MemTypeName } from '../../src/isa/constants.ts';
import { CompileError } from '../errors.ts';
import type { Buffer } from '../ir/buffer.ts';
import { dtypeBits, evaluate, type Expr, type Var } from '../ir/expr.ts';
import { freeVarsOf, type Dma, type Queue, type Stmt, type Task, type UopScope } from '../ir/stmt.ts';
import { taskAccess, type TaskAccess } from './deps.ts';
import { sramElems, type SramLayout } from './check.ts';
import type { VtaTarget } from './env.ts';

export type BufferRole = 'input' | 'output' | 'scratch';

export interface EmitStats {
  tasks: number;
  kernels: number;
  uops: number;
  dmas: number;
}

export interface Emitted {
  program: Program;
  runtime: Runtime;
  /** The runtime buffer of each DRAM tensor. */
  dram: Map<Buffer, DataBuffer>;
  stats: EmitStats;
}

/** Bytes of a DRAM tensor's values, packed at its dtype width. */
export function tensorBytes(buf: Buffer, values?: ArrayLike<number>): Uint8Array {
  const bits = dtypeBits(buf.dtype);
  if (!values) return new Uint8Array(Math.ceil((buf.size * bits) / 8));
  return encodeLanes(values, bits);
}

const MAX16 = 0xffff;
const PAD_MAX = 15;

/** On-the-fly check of the token protocol (see file comment). */
class TokenVerifier {
  private readonly fifo = new Map<string, number[]>();
  private readonly pending = new Map<Queue, string[]>();
  private readonly synced = new Map<string, number>();
  private readonly count: Record<Queue, number> = { 1: 0, 2: 0, 3: 0 };
  /** Last task index per (queue, resource, read|write). */
  private readonly last = new Map<string, number>();

  push(from: Queue, to: Queue): void {
    const k = `${from}>${to}`;
    let f = this.fifo.get(k);
    if (!f) this.fifo.set(k, (f = []));
    f.push(this.count[from] - 1);
  }

  pop(from: Queue, to: Queue): void {
    let p = this.pending.get(to);
    if (!p) this.pending.set(to, (p = []));
    p.push(`${from}>${to}`);
  }

  task(q: Queue, acc: TaskAccess): void {
    for (const k of this.pending.get(q) ?? []) {
      const f = this.fifo.get(k);
      if (!f || !f.length) throw new CompileError(`internal: token ${k} popped before it was pushed`);
      this.synced.set(k, Math.max(this.synced.get(k) ?? -1, f.shift()!));
    }
    this.pending.set(q, []);
    const idx = this.count[q]++;
    for (const P of [1, 2, 3] as Queue[]) {
      if (P === q || Math.abs(P - q) !== 1) continue;
      let need = -1;
      for (const r of acc.reads) need = Math.max(need, this.last.get(`${P}:${r}:w`) ?? -1);
      for (const w of acc.writes) need = Math.max(need, this.last.get(`${P}:${w}:w`) ?? -1, this.last.get(`${P}:${w}:r`) ?? -1);
      if (need > (this.synced.get(`${P}>${q}`) ?? -1)) {
        throw new CompileError(`internal: task ${idx} on queue ${q} is not ordered after task ${need} on queue ${P} it depends on`);
      }
    }
    for (const r of acc.reads) this.last.set(`${q}:${r}:r`, idx);
    for (const w of acc.writes) this.last.set(`${q}:${w}:w`, idx);
  }

  finish(): void {
    for (const [q, p] of this.pending) if (p.length) this.task(q, { reads: new Set(), writes: new Set() });
    for (const [k, f] of this.fifo) if (f.length) throw new CompileError(`internal: ${f.length} token(s) ${k} left at the end of the program`);
  }
}

const MEM_TYPE: Record<string, MemTypeName> = { INP: 'INP', WGT: 'WGT', ACC: 'ACC', OUT: 'OUT' };

/** A micro-op kernel's content, as the emitter records it (to preload it in a second emission). */
export interface KernelSpec {
  key: string;
  mode: 'GEMM' | 'ALU';
  reset: boolean;
  aluOp: AluOpName;
  useImm: number;
  imm: number;
  loops: { ext: number; dst: number; src: number; wgt: number }[];
  uops: number[];
  /**
   * GEMM_REQUANT: a GEMM issued with the requant bit, after the RQ parameter register holds this
   * word (the kernel's micro-ops, and so its key, are those of a plain GEMM).
   */
  requant?: number;
}

function kernelSpec(mode: KernelSpec['mode'], reset: boolean, aluOp: AluOpName, useImm: number, imm: number, loops: KernelSpec['loops'], uops: number[]): KernelSpec {
  const key = `${mode}|${reset ? 1 : 0}|${aluOp}|${useImm}|${imm}|${loops.map((l) => `${l.ext},${l.dst},${l.src},${l.wgt}`).join(';')}|${uops.join(',')}`;
  return { key, mode, reset, aluOp, useImm, imm, loops, uops };
}

/**
 * Weight reuse across output tiles (with ALU_REQUANT, the co-design configuration; off, programs
 * stay VTA's): a LOAD WGT whose SRAM range already holds exactly the same transfer (same tensor,
 * offset, shape, stride and padding) and that no other load overwrote since is not issued. Its
 * task's tokens stay (the runtime attaches them to neighbours or NOPs); the GEMMs that read the
 * weights are ordered after the first load by the tokens that ordered it then. 1x1 and grouped
 * layers whose thread keeps one output-channel tile load their weights once instead of per tile.
 */
class ResidentLoads {
  private held: Array<{ base: number; n: number; sig: string }> = [];

  /** Whether this LOAD can be skipped; records it (and forgets what it overwrites) otherwise. */
  skip(mem: MemTypeName, base: number, dram: Buffer, f: number[]): boolean {
    if (mem !== 'WGT') {
      return false;
    }
    const [, x, y, , xp0, yp0, xp1, yp1] = f;
    const n = (xp0 + x + xp1) * (yp0 + y + yp1);
    const sig = `${dram.name}|${f.join(',')}`;
    if (this.held.some((h) => h.base === base && h.n === n && h.sig === sig)) return true;
    this.held = this.held.filter((h) => h.base + h.n <= base || base + n <= h.base);
    this.held.push({ base, n, sig });
    return false;
  }
}

/** First index of sorted `a` whose value is >= x. */
function lowerBound(a: Int32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m] < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/**
 * A GEMM kernel as its outer-loop iterations but the last (`rest`, absent when there is one) and
 * the last one alone, its offsets folded into the micro-ops — when that last iteration writes every
 * element of the sorted set `dst` exactly once and nothing else; undefined otherwise.
 */
function splitLastStep(sp: KernelSpec, dst: Int32Array): { rest?: KernelSpec; last: KernelSpec } | undefined {
  const none = { ext: 1, dst: 0, src: 0, wgt: 0 };
  const outer = sp.loops[0] ?? none;
  const inner = sp.loops[1] ?? none;
  const sameSet = (seen: number[]) => {
    if (seen.length !== dst.length) return false;
    seen.sort((a, b) => a - b);
    for (let i = 0; i < seen.length; i++) if (seen[i] !== dst[i]) return false;
    return true;
  };
  // the whole kernel writes each element once: it takes the requantization as it is
  const all: number[] = [];
  for (let a = 0; a < outer.ext; a++) for (let b = 0; b < inner.ext; b++) for (let i = 0; i < sp.uops.length; i += 3) all.push(sp.uops[i] + a * outer.dst + b * inner.dst);
  if (sameSet(all)) return { last: sp };
  const k = outer.ext - 1;
  if (k < 1) return undefined;
  const uops: number[] = [];
  for (let i = 0; i < sp.uops.length; i += 3) uops.push(sp.uops[i] + k * outer.dst, sp.uops[i + 1] + k * outer.src, sp.uops[i + 2] + k * outer.wgt);
  const seen: number[] = [];
  for (let b = 0; b < inner.ext; b++) for (let i = 0; i < uops.length; i += 3) seen.push(uops[i] + b * inner.dst);
  if (!sameSet(seen)) return undefined;
  const loops = sp.loops.length === 2 ? [none, inner] : [];
  const last = kernelSpec('GEMM', false, sp.aluOp, sp.useImm, sp.imm, loops, uops);
  const rest = kernelSpec('GEMM', false, sp.aluOp, sp.useImm, sp.imm, [{ ...outer, ext: k }, ...sp.loops.slice(1)], sp.uops);
  return { rest, last };
}

/** An accumulator element read after an RQ cleared it: emit again without clears (emitModule does). */
export class ClearConflict extends Error {}

/**
 * A token push or pop held back with the kernels (GEMM_REQUANT). A compute -> store push is marked
 * (`storePush`) and carries, when the dependency pass recorded them, the accumulator element
 * ranges [lo, hi) whose OUT part its store reads (`storeReads`).
 */
type TokenOp = (() => void) & { storePush?: boolean; storeReads?: Array<[number, number]> };

/**
 * ALU_REQUANT (docs/microarch.md §15): the requantization chain the compiler lowers to separate ALU
 * instructions — SHR by s >= 0 (optional), ADD of a vector (optional, the bias), MIN by the OUT
 * maximum and MAX by the OUT minimum or 0 (in either order) — over the same accumulator elements becomes one RQ
 * instruction (ALU opcode 5). Optimistically with the clear bit: RQ leaves 0 in ACC (the store reads
 * OUT), so the next tile's reset of those elements is skipped. Every accumulator element's state is
 * tracked; a read of a cleared element (the IR needed the value) raises ClearConflict, and the
 * program is emitted again without clears. Kernels are held back until the chain ends (any DMA,
 * token, GEMM or the end of the program issues them).
 */
class RequantFuser {
  /** Kernels held back, and (GEMM_REQUANT) the token operations between them, in program order. */
  private pending: Array<KernelSpec | TokenOp> = [];
  /** 1: ACC element is 0 in the hardware but holds the requantized value in the IR. */
  private readonly cleared: Uint8Array;
  private nCleared = 0;
  private readonly sets = new Map<string, { dst: Int32Array; src: Int32Array }>();
  private readonly outMax: number;
  private readonly outMin: number;

  constructor(readonly t: VtaTarget, readonly clear: boolean, private readonly push: (sp: KernelSpec) => void) {
    this.cleared = new Uint8Array(t.d.depth.acc);
    this.outMax = 2 ** (t.d.outWidth - 1) - 1;
    this.outMin = -(2 ** (t.d.outWidth - 1));
  }

  /** GEMM_REQUANT: a token push or pop, issued in order with the kernels held back. */
  defer(op: TokenOp): void {
    if (this.pending.length) this.pending.push(op);
    else op();
  }

  kernel(sp: KernelSpec): void {
    if (sp.mode === 'ALU' || this.t.d.gemmRequant) {
      // GEMM_REQUANT: GEMMs wait too, for a requantization their last step can take over
      this.pending.push(sp);
      return;
    }
    this.flush();
    this.issue(sp);
  }

  /** A LOAD into ACC elements [base, base + n). */
  overwritten(base: number, n: number): void {
    if (!this.nCleared) return;
    for (let i = base; i < base + n && i < this.cleared.length; i++) this.set(i, 0);
  }

  flush(): void {
    const p = this.pending;
    if (!p.length) return;
    this.pending = [];
    const out: Array<KernelSpec | TokenOp> = [];
    for (let i = 0; i < p.length;) {
      const x = p[i];
      const m = typeof x !== 'function' && x.mode === 'ALU' ? this.match(p as KernelSpec[], i) : undefined;
      if (m) {
        out.push(m.fused);
        i += m.n;
      } else out.push(p[i++]);
    }
    if (this.t.d.gemmRequant) this.intoGemms(out);
    for (const x of out) {
      if (typeof x === 'function') x();
      else this.issue(x);
    }
  }

  /**
   * GEMM_REQUANT (docs/microarch.md §15): an RQ in the immediate form (no bias) whose elements are
   * exactly those the last outer-loop iteration of the latest GEMM writing them writes, once each,
   * is dropped; that iteration becomes a GEMM of its own with the requant bit (the iterations
   * before it stay one GEMM, unchanged). Micro-ops run in the same order as before.
   */
  private intoGemms(out: Array<KernelSpec | TokenOp>): void {
    for (let r = 0; r < out.length; r++) {
      const R = out[r];
      if (typeof R === 'function' || R.mode !== 'ALU' || R.aluOp !== 'RQ' || !R.useImm || R.uops.length === 0) continue;
      const rd = this.indexSets(R).dst;
      if (rd.length !== this.uopCount(R)) continue;
      const hits = (sp: KernelSpec | TokenOp) => {
        if (typeof sp === 'function') return false;
        const { dst, src } = this.indexSets(sp);
        const inR = (x: number) => rd[lowerBound(rd, x)] === x;
        return dst.some(inR) || src.some(inR);
      };
      let g = r - 1;
      while (g >= 0 && !hits(out[g])) g--;
      const G = out[g];
      if (g < 0 || typeof G === 'function' || G.mode !== 'GEMM' || G.reset || G.requant !== undefined) continue;
      const split = splitLastStep(G, rd);
      if (!split) continue;
      const last = { ...split.last, requant: R.imm };
      out.splice(r, 1);
      const early = this.earlyStorePushes(out, g, r);
      out.splice(g, 1, ...(split.rest ? [split.rest, last] : [last]), ...early);
      r = g + (split.rest ? 1 : 0) + early.length;
    }
  }

  /**
   * The compute -> store pushes that directly follow a dropped RQ (at `out[r]` on), taken out of
   * `out` to be issued right after the GEMM at `out[g]` that now requantizes: the store may start
   * as soon as that GEMM ends, not after the other threads' GEMMs in between — when none of the
   * kernels in between writes what the store reads and no other compute -> store push is passed
   * (the tokens keep their order).
   */
  private earlyStorePushes(out: Array<KernelSpec | TokenOp>, g: number, r: number): TokenOp[] {
    const between = out.slice(g + 1, r);
    if (between.some((x) => typeof x === 'function' && x.storePush)) return [];
    const kernels = between.filter((x): x is KernelSpec => typeof x !== 'function');
    const moved: TokenOp[] = [];
    for (let j = r; j < out.length && typeof out[j] === 'function';) {
      const op = out[j] as TokenOp;
      if (!op.storePush) {
        j++;
        continue;
      }
      const ranges = op.storeReads;
      if (!ranges) break;
      const clash = kernels.some((k) => this.indexSets(k).dst.some((e) => ranges.some(([lo, hi]) => e >= lo && e < hi)));
      if (clash) break;
      moved.push(op);
      out.splice(j, 1);
    }
    return moved;
  }

  private set(i: number, v: number): void {
    if (this.cleared[i] !== v) {
      this.cleared[i] = v;
      this.nCleared += v ? 1 : -1;
    }
  }

  /** The accumulator elements a kernel writes (dst) and, for a vector ALU, reads (src). */
  private indexSets(sp: KernelSpec): { dst: Int32Array; src: Int32Array } {
    let r = this.sets.get(sp.key);
    if (r) return r;
    const dst = new Set<number>();
    const src = new Set<number>();
    const [l0, l1] = [sp.loops[0] ?? { ext: 1, dst: 0, src: 0 }, sp.loops[1] ?? { ext: 1, dst: 0, src: 0 }];
    for (let a = 0; a < l0.ext; a++) {
      for (let b = 0; b < l1.ext; b++) {
        for (let u = 0; u < sp.uops.length; u += 3) {
          dst.add(sp.uops[u] + a * l0.dst + b * l1.dst);
          if (sp.mode === 'ALU' && !sp.useImm) src.add(sp.uops[u + 1] + a * l0.src + b * l1.src);
        }
      }
    }
    this.sets.set(sp.key, (r = { dst: Int32Array.from(dst).sort(), src: Int32Array.from(src) }));
    return r;
  }

  /** Micro-ops a kernel issues (loop iterations times its micro-ops). */
  private uopCount(sp: KernelSpec): number {
    return sp.loops.reduce((n, l) => n * l.ext, sp.uops.length / 3);
  }

  private issue(sp: KernelSpec): void {
    const { dst, src } = this.indexSets(sp);
    if (sp.mode === 'GEMM' && sp.reset) {
      // a reset of elements that are all cleared already is skipped
      let all = this.nCleared > 0;
      for (let j = 0; all && j < dst.length; j++) all = this.cleared[dst[j]] === 1;
      for (let j = 0; j < dst.length; j++) this.set(dst[j], 0);
      if (all) return;
      this.push(sp);
      return;
    }
    if (this.nCleared) {
      for (let j = 0; j < dst.length; j++) if (this.cleared[dst[j]]) throw new ClearConflict(`ACC element ${dst[j]} read after an RQ cleared it`);;
      for (let j = 0; j < src.length; j++) if (this.cleared[src[j]]) throw new ClearConflict(`ACC element ${src[j]} read after an RQ cleared it`);
    }
    if (((sp.aluOp === 'RQ' && sp.mode === 'ALU') || sp.requant !== undefined) && this.clear) for (let j = 0; j < dst.length; j++) this.set(dst[j], 1);
    this.push(sp);
  }

  /** The requantization chain starting at p[i], as one RQ kernel, or undefined. */
  private match(p: KernelSpec[], i: number): { fused: KernelSpec; n: number } | undefined {
    let j = i;
    let shift = 0;
    const at = (k: number, op: AluOpName, imm: boolean) => k < p.length && typeof p[k] !== 'function' && p[k].mode === 'ALU' && p[k].aluOp === op && !!p[k].useImm === imm;
    if (at(j, 'SHR', true)) {
      if (p[j].imm < 0 || p[j].imm >= 32) return undefined;
      shift = p[j++].imm;
    }
    const add = at(j, 'ADD', false) ? p[j++] : undefined;
    // the clip, MIN then MAX or MAX then MIN (the same for lo <= hi)
    const hiAt = at(j, 'MIN', true) ? j : j + 1;
    const loAt = hiAt === j ? j + 1 : j;
    if (!at(hiAt, 'MIN', true) || p[hiAt].imm !== this.outMax) return undefined;
    if (!at(loAt, 'MAX', true) || (p[loAt].imm !== this.outMin && p[loAt].imm !== 0)) return undefined;
    const relu = p[loAt].imm === 0;
    const n = j + 2 - i;
    // every step covers the same elements, each once (element-wise steps: the order is free)
    const base = this.indexSets(p[i]).dst;
    for (let k = i; k < i + n; k++) {
      const d = this.indexSets(p[k]).dst;
      if (d.length !== base.length || d.length !== this.uopCount(p[k])) return undefined;
      for (let e = 0; e < d.length; e++) if (d[e] !== base[e]) return undefined;
    }
    const shape = add ?? p[i];
    const fused = kernelSpec('ALU', false, 'RQ', add ? 0 : 1, rqParams(shift, relu, this.clear), shape.loops, shape.uops);
    return { fused, n };
  }
}

export class Emitter {
  readonly rt: Runtime;
  readonly dram = new Map<Buffer, DataBuffer>();
  private readonly kernels = new Map<string, UopKernel>();
  private readonly scopeCache = new WeakMap<UopScope, { free: Var[]; byEnv: Map<string, KernelSpec | null> }>();
  private readonly accessCache = new WeakMap<Task, TaskAccess>();
  private readonly zeros = new Map<MemTypeName, DataBuffer>();
  private readonly verifier = new TokenVerifier();
  readonly stats: EmitStats = { tasks: 0, kernels: 0, uops: 0, dmas: 0 };
  /** Kernels in order of first use. */
  readonly kernelSpecs: KernelSpec[] = [];
  private preload: KernelSpec[] | undefined;
  /** ALU_REQUANT: fused requantization (see `RequantFuser`), or undefined. */
  private readonly rq: RequantFuser | undefined;
  /** ALU_REQUANT: weight loads skipped when the SRAM already holds the same tile (see `ResidentLoads`). */
  private readonly resident: ResidentLoads | undefined;
  /** GEMM_REQUANT: what the RQ parameter register holds (p[6:0]; undefined: not set by this program yet). */
  private rqParam: number | undefined;

  constructor(readonly t: VtaTarget, readonly sram: SramLayout, opts: { strict?: boolean; preload?: KernelSpec[]; clear?: boolean } = {}) {
    this.rt = new Runtime(t.d, { strict: opts.strict ?? true });
    this.preload = opts.preload;
    if (t.d.aluRequant) {
      this.rq = new RequantFuser(t, opts.clear ?? true, (sp) => this.pushKernel(sp));
      this.resident = new ResidentLoads();
    }
  }

  /** Whether the emission fused requantizations with an accumulator clear (ALU_REQUANT). */
  get clears(): boolean {
    return this.rq?.clear ?? false;
  }

  /** Record the kernels of a previous emission and load them all with one LOAD UOP. */
  private preloadKernels(): void {
    const specs = this.preload;
    this.preload = undefined;
    if (!specs?.length) return;
    const ks = specs.map((sp) => this.record(sp));
    this.rt.preloadKernels(ks);
  }

  private record(sp: KernelSpec): UopKernel {
    let k = this.kernels.get(sp.key);
    if (k) return k;
    k = this.rt.recordKernel((r) => {
      for (const l of sp.loops) r.uopLoopBegin(l.ext, l.dst, l.src, l.wgt);
      for (let i = 0; i < sp.uops.length; i += 3) r.uopPush(sp.mode, sp.reset ? 1 : 0, sp.uops[i], sp.uops[i + 1], sp.uops[i + 2], sp.aluOp, sp.useImm, sp.imm);
      for (let i = 0; i < sp.loops.length; i++) r.uopLoopEnd();
    });
    this.kernels.set(sp.key, k);
    this.kernelSpecs.push(sp);
    this.stats.kernels++;
    this.stats.uops += sp.uops.length / 3;
    return k;
  }

  /** Allocate a DRAM tensor with optional initial values. */
  allocTensor(buf: Buffer, role: BufferRole, values?: ArrayLike<number>): DataBuffer {
    const data = tensorBytes(buf, values);
    const db = this.rt.alloc(buf.name, Math.max(1, data.length), { role, dtype: buf.dtype as 'int8', shape: [...buf.shape], data });
    this.dram.set(buf, db);
    return db;
  }

  private sramBase(b: Buffer): number {
    const v = this.sram.base.get(b);
    if (v === undefined) throw new CompileError(`internal: SRAM buffer ${b.name} has no address`);
    return v;
  }

  private dramOf(b: Buffer): DataBuffer {
    const v = this.dram.get(b);
    if (!v) throw new CompileError(`DRAM tensor ${b.name} has no data buffer`);
    return v;
  }

  run(s: Stmt): Program {
    this.exec(s, new Map());
    this.rq?.flush();
    this.verifier.finish();
    for (const st of [1, 2, 3] as const) this.rt.commitPendingPop(st);
    return this.rt.synchronize();
  }

  private ev(e: Expr, env: Map<Var, number>): number {
    return evaluate(e, env);
  }

  private exec(s: Stmt, env: Map<Var, number>): void {
    switch (s.k) {
      case 'for':
        for (let i = 0; i < s.ext; i++) {
          env.set(s.v, i);
          this.exec(s.body, env);
        }
        env.delete(s.v);
        return;
      case 'seq':
        for (const x of s.body) this.exec(x, env);
        return;
      case 'alloc':
      case 'attr':
        this.exec(s.body, env);
        return;
      case 'if':
        if (this.ev(s.c, env)) this.exec(s.then, env);
        else if (s.else) this.exec(s.else, env);
        return;
      case 'task': {
        if (this.preload) this.preloadKernels();
        let acc = this.accessCache.get(s);
        if (!acc) this.accessCache.set(s, (acc = taskAccess(s)));
        this.verifier.task(s.queue, acc);
        this.stats.tasks++;
        this.exec(s.body, env);
        return;
      }
      case 'dep': {
        const { from, to } = s;
        const op: TokenOp = s.op === 'push' ? () => this.rt.depPush(from, to) : () => this.rt.depPop(from, to);
        if (s.op === 'push' && from === 2 && to === 3) op.storePush = true;
        if (s.reads && this.rq && this.t.d.gemmRequant) op.storeReads = s.reads.map((b) => [this.sramBase(b), this.sramBase(b) + sramElems(b, this.t)]);
        if (s.op === 'push') this.verifier.push(from, to);
        else this.verifier.pop(from, to);
        // GEMM_REQUANT: tokens stay in order with the kernels held back; otherwise kernels go first
        if (this.rq && this.t.d.gemmRequant) this.rq.defer(op);
        else {
          this.rq?.flush();
          op();
        }
        return;
      }
      case 'dma':
        this.dma(s, env);
        return;
      case 'uop':
        this.kernel(s, env);
        return;
      default:
        throw new CompileError(`internal: ${s.k} statement at the host level (a pass did not run?)`);
    }
  }

  // ---- DMA ----

  private zeroBuffer(mem: MemTypeName): DataBuffer {
    let z = this.zeros.get(mem);
    if (!z) {
      z = this.rt.alloc(`zeros.${mem.toLowerCase()}`, this.rt.elemBytes(mem), { role: 'input' });
      this.zeros.set(mem, z);
    }
    return z;
  }

  /** Zero `n` contiguous SRAM elements from `base` with padded loads of one zero element. */
  private zeroFill(mem: MemTypeName, base: number, n: number): void {
    const z = this.zeroBuffer(mem);
    let at = base;
    while (n > 0) {
      if (n >= 31) {
        const rows = Math.min(Math.floor(n / 31), 31);
        this.rt.loadBuffer2D(z, 0, 1, 1, 1, 15, Math.floor((rows - 1) / 2), 15, rows - 1 - Math.floor((rows - 1) / 2), at, mem);
        at += rows * 31;
        n -= rows * 31;
      } else {
        const a = Math.min(n - 1, PAD_MAX);
        this.rt.loadBuffer2D(z, 0, 1, 1, 1, a, 0, n - 1 - a, 0, at, mem);
        at += n;
        n = 0;
      }
    }
  }

  private dma(s: Dma, env: Map<Var, number>): void {
    this.rq?.flush();
    this.stats.dmas++;
    const f = (e: Expr) => this.ev(e, env);
    const mem = MEM_TYPE[s.mem];
    const sramIdx = this.sramBase(s.sram) + f(s.sramElem);
    if (this.resident && s.dir === 'load' && this.resident.skip(mem, sramIdx, s.dram, [f(s.dramElem), f(s.xSize), f(s.ySize), f(s.xStride), f(s.xPad0), f(s.yPad0), f(s.xPad1), f(s.yPad1)])) return;
    if (this.rq && s.dir === 'load' && mem === 'ACC') this.rq.overwritten(sramIdx, (f(s.xPad0) + f(s.xSize) + f(s.xPad1)) * (f(s.yPad0) + f(s.ySize) + f(s.yPad1)));
    const buf = this.dramOf(s.dram);
    const d0 = f(s.dramElem);
    const x = f(s.xSize);
    const y = f(s.ySize);
    const stride = f(s.xStride);
    if (s.dir === 'store') {
      if (x > MAX16) throw new CompileError(`a store row of ${x} elements exceeds the 16-bit x_size field`);
      if (stride <= MAX16 && y <= MAX16) {
        this.rt.storeBuffer2D(sramIdx, 'OUT', buf, d0, x, y, Math.max(stride, x));
      } else {
        for (let r = 0; r < y; r++) this.rt.storeBuffer2D(sramIdx + r * x, 'OUT', buf, d0 + r * stride, x, 1, x);
      }
      return;
    }
    const [xp0, yp0, xp1, yp1] = [f(s.xPad0), f(s.yPad0), f(s.xPad1), f(s.yPad1)];
    const W = xp0 + x + xp1;
    const H = yp0 + y + yp1;
    if (x <= 0 || y <= 0) {
      this.zeroFill(mem, sramIdx, W * H);
      return;
    }
    if (x > MAX16) throw new CompileError(`a load row of ${x} elements exceeds the 16-bit x_size field`);
    if (xp0 <= PAD_MAX && xp1 <= PAD_MAX && yp0 <= PAD_MAX && yp1 <= PAD_MAX && y <= MAX16 && stride <= MAX16) {
      this.rt.loadBuffer2D(buf, d0, x, y, Math.max(stride, x), xp0, yp0, xp1, yp1, sramIdx, mem);
      return;
    }
    // Decompose: zero rows above, data rows (with their x padding), zero rows below.
    if (yp0) this.zeroFill(mem, sramIdx, yp0 * W);
    const rowBase = sramIdx + yp0 * W;
    if (xp0 <= PAD_MAX && xp1 <= PAD_MAX && stride <= MAX16) {
      for (let r = 0; r < y; r += MAX16) {
        const rows = Math.min(MAX16, y - r);
        this.rt.loadBuffer2D(buf, d0 + r * stride, x, rows, Math.max(stride, x), xp0, 0, xp1, 0, rowBase + r * W, mem);
      }
    } else {
      for (let r = 0; r < y; r++) {
        const at = rowBase + r * W;
        if (xp0) this.zeroFill(mem, at, xp0);
        this.rt.loadBuffer2D(buf, d0 + r * stride, x, 1, x, 0, 0, 0, 0, at + xp0, mem);
        if (xp1) this.zeroFill(mem, at + xp0 + x, xp1);
      }
    }
    if (yp1) this.zeroFill(mem, rowBase + y * W, yp1 * W);
  }

  // ---- micro-op kernels ----

  private kernel(s: UopScope, env: Map<Var, number>): void {
    let c = this.scopeCache.get(s);
    if (!c) {
      const inner: UopScope = { ...s };
      const free = [...freeVarsOf(inner)];
      this.scopeCache.set(s, (c = { free, byEnv: new Map() }));
    }
    const envKey = c.free.map((v) => env.get(v) ?? 'u').join(',');
    let k = c.byEnv.get(envKey);
    if (k === undefined) {
      k = this.buildKernel(s, env);
      c.byEnv.set(envKey, k);
    }
    if (!k) return; // every micro-op's condition was false: nothing to issue
    if (this.rq) this.rq.kernel(k);
    else this.pushKernel(k);
  }

  /** Record (first use) and issue one kernel. */
  private pushKernel(sp: KernelSpec): void {
    const k = this.record(sp);
    if (sp.requant !== undefined && sp.requant !== this.rqParam) {
      this.rt.setRequantParams(sp.requant);
      this.rqParam = sp.requant;
    }
    if (sp.mode === 'ALU' && sp.aluOp === 'RQ') this.rqParam = sp.imm & ((1 << (RQ_CLEAR_BIT + 1)) - 1);
    if (sp.mode === 'GEMM') this.rt.pushGemmOp(k, undefined, 0, sp.requant !== undefined);
    else this.rt.pushAluOp(k);
  }

  private buildKernel(s: UopScope, outerEnv: Map<Var, number>): KernelSpec | null {
    const env = new Map(outerEnv);
    for (const l of s.loops) env.set(l.v, 0);
    const uops: number[] = [];
    let reset = false;
    let aluOp: AluOpName = 'MIN';
    let useImm = 0;
    let imm = 0;
    const walk = (x: Stmt): void => {
      switch (x.k) {
        case 'for':
          for (let i = 0; i < x.ext; i++) {
            env.set(x.v, i);
            walk(x.body);
          }
          env.delete(x.v);
          return;
        case 'if':
          if (this.ev(x.c, env)) walk(x.then);
          else if (x.else) walk(x.else);
          return;
        case 'seq':
          x.body.forEach(walk);
          return;
        case 'attr':
          walk(x.body);
          return;
        case 'gemm':
          reset = x.reset;
          uops.push(
            this.sramBase(x.acc) + this.ev(x.accElem, env),
            x.inp ? this.sramBase(x.inp) + this.ev(x.inpElem!, env) : 0,
            x.wgt ? this.sramBase(x.wgt) + this.ev(x.wgtElem!, env) : 0,
          );
          return;
        case 'alu':
          aluOp = x.op;
          useImm = x.src ? 0 : 1;
          imm = x.imm;
          uops.push(this.sramBase(x.dst) + this.ev(x.dstElem, env), x.src ? this.sramBase(x.src) + this.ev(x.srcElem!, env) : 0, 0);
          return;
        default:
          throw new CompileError(`internal: ${x.k} inside a micro-op kernel`);
      }
    };
    walk(s.body);
    if (!uops.length) return null;
    if (uops.length / 3 > this.t.depth.uop) throw new CompileError(`a micro-op kernel of ${uops.length / 3} micro-ops exceeds the ${this.t.depth.uop}-entry micro-op buffer; use smaller tiles`);
    return kernelSpec(s.mode, reset, aluOp, useImm, imm, s.loops.map((l) => ({ ext: l.ext, dst: l.dst, src: l.src, wgt: l.wgt })), uops);
  }
}

