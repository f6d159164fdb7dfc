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
import type { AluOpName } from '../../src/isa/alu.ts';
import type { MemTypeName } from '../../src/isa/constants.ts';
import { CompileError } from '../errors.ts';
import type { Buffer } from '../ir/buffer.ts';
import { dtypeBits, evaluate, type Expr, type Var } from '../ir/expr.ts';
import { freeVarsOf, type Dma, type Queue, type Stmt, type Task, type UopScope } from '../ir/stmt.ts';
import { taskAccess, type TaskAccess } from './deps.ts';
import type { SramLayout } from './check.ts';
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
}

export class Emitter {
  readonly rt: Runtime;
  readonly dram = new Map<Buffer, DataBuffer>();
  private readonly kernels = new Map<string, UopKernel>();
  private readonly scopeCache = new WeakMap<UopScope, { free: Var[]; byEnv: Map<string, UopKernel | null> }>();
  private readonly accessCache = new WeakMap<Task, TaskAccess>();
  private readonly zeros = new Map<MemTypeName, DataBuffer>();
  private readonly verifier = new TokenVerifier();
  readonly stats: EmitStats = { tasks: 0, kernels: 0, uops: 0, dmas: 0 };
  /** Kernels in order of first use. */
  readonly kernelSpecs: KernelSpec[] = [];
  private preload: KernelSpec[] | undefined;

  constructor(readonly t: VtaTarget, readonly sram: SramLayout, opts: { strict?: boolean; preload?: KernelSpec[] } = {}) {
    this.rt = new Runtime(t.d, { strict: opts.strict ?? true });
    this.preload = opts.preload;
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
      case 'dep':
        if (s.op === 'push') {
          this.rt.depPush(s.from, s.to);
          this.verifier.push(s.from, s.to);
        } else {
          this.rt.depPop(s.from, s.to);
          this.verifier.pop(s.from, s.to);
        }
        return;
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
    this.stats.dmas++;
    const f = (e: Expr) => this.ev(e, env);
    const mem = MEM_TYPE[s.mem];
    const sramIdx = this.sramBase(s.sram) + f(s.sramElem);
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
    if (s.mode === 'GEMM') this.rt.pushGemmOp(k);
    else this.rt.pushAluOp(k);
  }

  private buildKernel(s: UopScope, outerEnv: Map<Var, number>): UopKernel | null {
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
    const key = `${s.mode}|${reset ? 1 : 0}|${aluOp}|${useImm}|${imm}|${s.loops.map((l) => `${l.ext},${l.dst},${l.src},${l.wgt}`).join(';')}|${uops.join(',')}`;
    const k = this.record({ key, mode: s.mode, reset, aluOp, useImm, imm, loops: s.loops.map((l) => ({ ext: l.ext, dst: l.dst, src: l.src, wgt: l.wgt })), uops });
    return k;
  }
}

