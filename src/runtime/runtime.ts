/**
 * Host runtime: a TypeScript counterpart of VTA's JIT runtime (`vta/runtime/runtime.cc`,
 * vta-reference Part B §4). A `Runtime` is bound to one configuration. It allocates buffers in
 * simulated DRAM, records LOAD/STORE instructions, micro-op kernels (with VTA's uop cache) and
 * GEMM/ALU instructions, turns `depPush`/`depPop` into dependency flags and NOPs exactly as VTA's
 * instruction queue does, and `synchronize()` appends the final token exchange + FINISH and
 * produces a program container that any engine runs.
 *
 * Differences from VTA, on purpose:
 * - Micro-op staging: every LOAD UOP points at its own copy of the kernel in the `uops` buffer
 *   (kernels are appended in load order). VTA copies the final cache contents in cache order at
 *   launch, which only matches the LOAD UOP offsets when no eviction reordered the cache.
 * - With `strict` (the default) the runtime checks SRAM and DRAM ranges of every instruction for
 *   every loop iteration when it is recorded, so an illegal program is caught where it is built.
 * - There is no auto-synchronize on overflow: a program that grows past the DRAM transfer limit is
 *   an error.
 */
import type { Derived } from '../config/derive.ts';
import { VtwError } from '../errors.ts';
import { aluOpUnavailable, type AluOpName } from '../isa/alu.ts';
import { INSN_BYTES, UOP_BYTES, type MemTypeName } from '../isa/constants.ts';
import { encodeInsn, encodeUops, type AluInsn, type GemmInsn, type Insn, type MemInsn, type Uop } from '../isa/insn.ts';
import {
  PAGE_BYTES, alignUp, validateProgram, type BufferRole, type Dtype, type Program, type ProgramBuffer,
} from '../program/container.ts';
import type { Engine, RunOptions, RunResult } from '../engine/index.ts';

/** A mistake in a runtime call sequence (VTA's runtime CHECK failures). */
export class RuntimeError extends VtwError {}

/** Pipeline stages, numbered as VTA's queue ids. */
export const STAGE = { load: 1, compute: 2, store: 3 } as const;
export type Stage = 1 | 2 | 3;
export const STAGE_NAMES: Record<number, string> = { 0: 'none', 1: 'load', 2: 'compute', 3: 'store' };

/** Micro-op modes of VTAUopPush. */
export const UOP_MODE = { GEMM: 0, ALU: 1 } as const;
export type UopMode = 'GEMM' | 'ALU' | 0 | 1;

/** VTA's VTA_MAX_XFER: the largest contiguous DMA buffer (instruction stream, uop staging). */
export const MAX_XFER = 1 << 25;

export interface LoopEntry {
  extent: number;
  dstFactor: number;
  srcFactor: number;
  wgtFactor: number;
}

/** A recorded micro-op kernel (VTA's UopKernel) and its current placement in the uop SRAM. */
export class UopKernel {
  readonly uops: Uop[] = [];
  readonly loops: LoopEntry[] = [];
  mode: 'GEMM' | 'ALU' | undefined;
  reset: number | undefined;
  aluOp: AluOpName | undefined;
  useImm = 0;
  imm = 0;
  /** Placement [sramBegin, sramEnd) in the uop SRAM; cached iff begin != end. */
  sramBegin = 0;
  sramEnd = 0;
  private loopDepth = 0;
  private closed = false;

  get cached(): boolean {
    return this.sramBegin !== this.sramEnd;
  }
  get size(): number {
    return this.uops.length;
  }

  loopBegin(extent: number, dstFactor: number, srcFactor: number, wgtFactor: number): void {
    this.checkOpen();
    if (this.uops.length) throw new RuntimeError('uopLoopBegin must come before the first uopPush of a kernel');
    if (this.loops.length >= 2) throw new RuntimeError('a micro-op kernel has at most two loops');
    for (const [n, v] of [['extent', extent], ['dstFactor', dstFactor], ['srcFactor', srcFactor], ['wgtFactor', wgtFactor]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RuntimeError(`uopLoopBegin ${n} = ${v} must be a non-negative integer`);
    }
    if (extent < 1) throw new RuntimeError('uopLoopBegin extent must be at least 1');
    this.loops.push({ extent, dstFactor, srcFactor, wgtFactor });
    this.loopDepth++;
  }

  loopEnd(): void {
    this.checkOpen();
    if (this.loopDepth <= 0) throw new RuntimeError('uopLoopEnd without a matching uopLoopBegin');
    this.loopDepth--;
  }

  push(mode: UopMode, reset: number | boolean, dst: number, src: number, wgt: number, aluOp: AluOpName = 'MIN', useImm: number | boolean = 0, imm = 0): void {
    this.checkOpen();
    const m = mode === 0 || mode === 'GEMM' ? 'GEMM' : 'ALU';
    const r = reset ? 1 : 0;
    for (const [n, v] of [['dst', dst], ['src', src], ['wgt', wgt]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RuntimeError(`uopPush ${n} = ${v} must be a non-negative integer`);
    }
    // VTA's UopKernel::VerifyDep: the hardware pipeline forbids writing an accumulator that one of
    // the previous two micro-ops wrote.
    for (let i = Math.max(0, this.uops.length - 2); i < this.uops.length; i++) {
      if (this.uops[i].dst_idx === dst) {
        throw new RuntimeError(`uopPush: dst ${dst} repeats the dst of micro-op ${i} (a micro-op's dst must differ from the previous two)`);
      }
    }
    if (this.mode === undefined) this.mode = m;
    else if (this.mode !== m) throw new RuntimeError(`uopPush: kernel mixes ${this.mode} and ${m} micro-ops`);
    if (this.reset === undefined) this.reset = r;
    else if (this.reset !== r) throw new RuntimeError('uopPush: reset must be the same for every micro-op of a kernel');
    if (m === 'ALU') {
      const u = useImm ? 1 : 0;
      if (!Number.isInteger(imm) || imm < -32768 || imm > 32767) throw new RuntimeError(`uopPush: immediate ${imm} does not fit in 16 signed bits`);
      if (this.aluOp === undefined) {
        this.aluOp = aluOp;
        this.useImm = u;
        this.imm = imm;
      } else if (this.aluOp !== aluOp || this.useImm !== u || this.imm !== imm) {
        throw new RuntimeError('uopPush: ALU opcode, use_imm and imm must be the same for every micro-op of a kernel');
      }
    }
    this.uops.push({ dst_idx: dst, src_idx: src, wgt_idx: wgt });
  }

  /** Called by the runtime when recording ends. */
  close(): void {
    if (this.loopDepth !== 0) throw new RuntimeError('micro-op kernel ended with an open uopLoopBegin');
    if (this.uops.length === 0) throw new RuntimeError('micro-op kernel is empty (no uopPush)');
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new RuntimeError('micro-op kernel is already recorded');
  }
}

/**
 * A call site's kernel map (VTA's UopKernelMap behind a `uop_handle`): kernels recorded once per
 * integer signature and reused afterwards.
 */
export class KernelSite {
  private readonly map = new Map<number, UopKernel>();
  constructor(readonly name = 'kernel') {}
  get(signature: number): UopKernel | undefined {
    return this.map.get(signature);
  }
  set(signature: number, k: UopKernel): void {
    this.map.set(signature, k);
  }
  get size(): number {
    return this.map.size;
  }
}

/** A buffer in simulated DRAM with its host-side contents. */
export class DataBuffer {
  constructor(
    readonly name: string,
    readonly addr: number,
    readonly size: number,
    readonly role: BufferRole,
    readonly dtype: Dtype | undefined,
    readonly shape: number[] | undefined,
    /** Host copy of the contents; updated from the final DRAM image after `Runtime.run`. */
    readonly bytes: Uint8Array,
  ) {}

  write(data: Uint8Array, byteOffset = 0): void {
    if (byteOffset + data.length > this.size) {
      throw new RuntimeError(`write of ${data.length} bytes at ${byteOffset} overflows buffer ${this.name} (${this.size} bytes)`);
    }
    this.bytes.set(data, byteOffset);
  }

  /** This buffer's bytes in a DRAM image (e.g. `RunResult.dram`). */
  readFrom(dram: Uint8Array): Uint8Array {
    if (this.addr + this.size > dram.length) throw new RuntimeError(`DRAM image of ${dram.length} bytes does not hold buffer ${this.name}`);
    return dram.slice(this.addr, this.addr + this.size);
  }
}

export interface AllocOptions {
  role?: BufferRole;
  dtype?: Dtype;
  shape?: number[];
  data?: Uint8Array;
}

export interface RuntimeOptions {
  /** Check SRAM/DRAM ranges of every recorded instruction (default true). */
  strict?: boolean;
}

/** Everything recorded for one instruction before encoding (uop loads are patched at synchronize). */
interface PendingInsn {
  insn: Insn;
  /** For LOAD UOP: byte offset of its micro-ops in the staging buffer. */
  uopOffset?: number;
}

const MEM_STAGE: Record<MemTypeName, Stage> = { UOP: 2, ACC: 2, INP: 1, WGT: 1, OUT: 3 };

function widthDtype(bits: number): Dtype {
  return `int${bits}` as Dtype;
}

/** The runtime / command queue. */
export class Runtime {
  readonly config: Derived;
  readonly strict: boolean;
  private readonly buffers: DataBuffer[] = [];
  private nextAddr: number;
  private insns: PendingInsn[] = [];
  private pendingPopPrev = [0, 0, 0, 0];
  private pendingPopNext = [0, 0, 0, 0];
  // uop cache (VTA's UopQueue)
  private cache: UopKernel[] = [];
  private cacheIdx = 0;
  private uopSramBegin = 0;
  private uopSramEnd = 0;
  private staged: Uop[] = [];
  private recording: UopKernel | undefined;
  private programs = 0;

  constructor(config: Derived, opts: RuntimeOptions = {}) {
    this.config = config;
    this.strict = opts.strict ?? true;
    this.nextAddr = this.align;
  }

  // ---- buffers ----

  /**
   * Buffer alignment: a page (VTA's own runtime), or MEM_BUFFER_ALIGN for configurations packed into
   * small board memories. Address 0 is never used.
   */
  private get align(): number {
    return this.config.mem.bufferAlign;
  }

  /** Allocate an aligned DRAM buffer (VTABufferAlloc). */
  alloc(name: string, size: number, opts: AllocOptions = {}): DataBuffer {
    if (!Number.isInteger(size) || size <= 0) throw new RuntimeError(`buffer ${name}: size ${size} must be a positive integer`);
    if (this.buffers.some((b) => b.name === name) || name === 'insns' || name === 'uops') {
      throw new RuntimeError(`buffer name ${name} is already used`);
    }
    const bytes = new Uint8Array(size);
    if (opts.data) {
      if (opts.data.length > size) throw new RuntimeError(`buffer ${name}: initial data of ${opts.data.length} bytes exceeds ${size}`);
      bytes.set(opts.data);
    }
    const buf = new DataBuffer(name, this.nextAddr, size, opts.role ?? 'inout', opts.dtype, opts.shape, bytes);
    this.nextAddr = alignUp(this.nextAddr + size, this.align);
    this.buffers.push(buf);
    return buf;
  }

  /** Allocate `elems` SRAM-element-sized tiles of a memory type (dtype = that memory's lane type). */
  allocTiles(name: string, memType: MemTypeName, elems: number, opts: AllocOptions = {}): DataBuffer {
    const d = this.config;
    const width = { INP: d.inpWidth, WGT: d.wgtWidth, ACC: d.accWidth, OUT: d.outWidth, UOP: 32 }[memType];
    return this.alloc(name, elems * this.elemBytes(memType), { dtype: widthDtype(width), ...opts });
  }

  get dataBuffers(): readonly DataBuffer[] {
    return this.buffers;
  }

  elemBytes(memType: MemTypeName): number {
    const e = this.config.elemBytes[memType.toLowerCase() as 'uop' | 'inp' | 'wgt' | 'acc' | 'out'];
    if (e > PAGE_BYTES) throw new RuntimeError(`${memType} elements of ${e} bytes exceed a DRAM page`);
    return e;
  }

  private depthOf(memType: MemTypeName): number {
    return this.config.depth[memType.toLowerCase() as 'uop' | 'inp' | 'wgt' | 'acc' | 'out'];
  }

  private ownBuffer(buf: DataBuffer): void {
    if (!this.buffers.includes(buf)) throw new RuntimeError(`buffer ${buf.name} was not allocated by this runtime`);
  }

  // ---- instruction queue (VTA's InsnQueue) ----

  /** Number of instructions recorded so far in the current program. */
  get insnCount(): number {
    return this.insns.length;
  }

  /** The instructions recorded so far (copies; LOAD UOP dram_base is relative to the uop buffer). */
  peekInsns(): Insn[] {
    return this.insns.map((p) => ({ ...p.insn }));
  }

  private create(stage: Stage, insn: Insn): PendingInsn {
    const r = insn as unknown as Record<string, number>;
    r.pop_prev_dep = this.pendingPopPrev[stage];
    r.pop_next_dep = this.pendingPopNext[stage];
    r.push_prev_dep = 0;
    r.push_next_dep = 0;
    this.pendingPopPrev[stage] = 0;
    this.pendingPopNext[stage] = 0;
    const p: PendingInsn = { insn };
    this.insns.push(p);
    if ((this.insns.length + 4) * INSN_BYTES >= MAX_XFER) {
      throw new RuntimeError(`instruction stream exceeds ${MAX_XFER} bytes; synchronize more often`);
    }
    return p;
  }

  private static stageOf(insn: Insn): number {
    switch (insn.opcode) {
      case 'GEMM':
      case 'ALU':
      case 'FINISH':
        return 2;
      case 'STORE':
        return 3;
      case 'LOAD':
        if (insn.x_size === 0) return 0;
        return MEM_STAGE[insn.memory_type];
    }
  }

  private pushNoop(stage: Stage, pushPrev: number, pushNext: number, popPrev: number, popNext: number): void {
    const insn: MemInsn = {
      opcode: stage === 3 ? 'STORE' : 'LOAD',
      memory_type: stage === 1 ? 'INP' : 'UOP',
      pop_prev_dep: popPrev,
      pop_next_dep: popNext,
      push_prev_dep: pushPrev,
      push_next_dep: pushNext,
      sram_base: 0,
      dram_base: 0,
      y_size: 0,
      x_size: 0,
      x_stride: 0,
      y_pad_0: 0,
      y_pad_1: 0,
      x_pad_0: 0,
      x_pad_1: 0,
    };
    this.insns.push({ insn });
  }

  private checkStages(from: number, to: number, what: string): void {
    for (const s of [from, to]) {
      if (s !== 1 && s !== 2 && s !== 3) throw new RuntimeError(`${what}: stage ${s} is not 1 (load), 2 (compute) or 3 (store)`);
    }
    if (from === to) throw new RuntimeError(`${what}: from and to are the same stage (${STAGE_NAMES[from]})`);
    if (Math.abs(from - to) !== 1) throw new RuntimeError(`${what}: there is no token queue between ${STAGE_NAMES[from]} and ${STAGE_NAMES[to]}`);
  }

  /** Emit a NOP carrying the pending pops of a stage, if any (VTA's CommitPendingPop). */
  commitPendingPop(stage: Stage): void {
    if (this.pendingPopPrev[stage] || this.pendingPopNext[stage]) {
      this.pushNoop(stage, 0, 0, this.pendingPopPrev[stage], this.pendingPopNext[stage]);
      this.pendingPopPrev[stage] = 0;
      this.pendingPopNext[stage] = 0;
    }
  }

  /** Whether any stage has a pop not yet attached to an instruction. */
  pendingPop(): boolean {
    return [1, 2, 3].some((s) => this.pendingPopPrev[s] || this.pendingPopNext[s]);
  }

  /** The next instruction of stage `to` waits for a token from stage `from` (VTADepPop). */
  depPop(from: Stage, to: Stage): void {
    this.checkStages(from, to, 'depPop');
    if (from < to) {
      if (this.pendingPopPrev[to]) this.commitPendingPop(to);
      this.pendingPopPrev[to] = 1;
    } else {
      if (this.pendingPopNext[to]) this.commitPendingPop(to);
      this.pendingPopNext[to] = 1;
    }
  }

  /** The last instruction of stage `from` sends a token to stage `to` (VTADepPush). */
  depPush(from: Stage, to: Stage): void {
    this.checkStages(from, to, 'depPush');
    this.commitPendingPop(from);
    const last = this.insns[this.insns.length - 1]?.insn;
    if (last && Runtime.stageOf(last) === from) {
      if (from < to && !last.push_next_dep) {
        last.push_next_dep = 1;
        return;
      }
      if (from > to && !last.push_prev_dep) {
        last.push_prev_dep = 1;
        return;
      }
    }
    if (from < to) this.pushNoop(from, 0, 1, 0, 0);
    else this.pushNoop(from, 1, 0, 0, 0);
  }

  // ---- loads and stores ----

  /** VTALoadBuffer2D: `dram_base = addr / elem_bytes + elemOffset`. */
  loadBuffer2D(
    buf: DataBuffer, elemOffset: number, xSize: number, ySize: number, xStride: number,
    xPadBefore: number, yPadBefore: number, xPadAfter: number, yPadAfter: number,
    dstSramIndex: number, memType: MemTypeName,
  ): void {
    this.ownBuffer(buf);
    if (memType === 'OUT') throw new RuntimeError('loadBuffer2D: cannot load into OUT (only UOP, WGT, INP, ACC)');
    const eb = this.elemBytes(memType);
    if (buf.addr % eb) throw new RuntimeError(`loadBuffer2D: buffer ${buf.name} is not aligned to ${memType} elements`);
    const insn: MemInsn = {
      opcode: 'LOAD', memory_type: memType, pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0,
      sram_base: dstSramIndex, dram_base: buf.addr / eb + elemOffset, y_size: ySize, x_size: xSize, x_stride: xStride,
      y_pad_0: yPadBefore, y_pad_1: yPadAfter, x_pad_0: xPadBefore, x_pad_1: xPadAfter,
    };
    if (this.strict) this.checkMem(insn, buf, elemOffset, 'loadBuffer2D');
    this.create(MEM_STAGE[memType], insn);
  }

  /** VTAStoreBuffer2D (no padding; the source must be OUT). */
  storeBuffer2D(srcSramIndex: number, memType: MemTypeName, buf: DataBuffer, elemOffset: number, xSize: number, ySize: number, xStride: number): void {
    this.ownBuffer(buf);
    if (memType !== 'OUT') throw new RuntimeError(`storeBuffer2D: the source must be OUT, not ${memType}`);
    const eb = this.elemBytes(memType);
    if (buf.addr % eb) throw new RuntimeError(`storeBuffer2D: buffer ${buf.name} is not aligned to ${memType} elements`);
    const insn: MemInsn = {
      opcode: 'STORE', memory_type: memType, pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0,
      sram_base: srcSramIndex, dram_base: buf.addr / eb + elemOffset, y_size: ySize, x_size: xSize, x_stride: xStride,
      y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
    };
    if (this.strict) this.checkMem(insn, buf, elemOffset, 'storeBuffer2D');
    this.create(3, insn);
  }

  private checkMem(insn: MemInsn, buf: DataBuffer, elemOffset: number, what: string): void {
    const { x_size: x, y_size: y, x_stride: stride } = insn;
    for (const [n, v] of Object.entries({ elemOffset, x_size: x, y_size: y, x_stride: stride, sram_base: insn.sram_base })) {
      if (!Number.isInteger(v) || v < 0) throw new RuntimeError(`${what}: ${n} = ${v} must be a non-negative integer`);
    }
    for (const f of ['y_pad_0', 'y_pad_1', 'x_pad_0', 'x_pad_1'] as const) {
      if (!Number.isInteger(insn[f]) || insn[f] < 0 || insn[f] > 15) throw new RuntimeError(`${what}: ${f} = ${insn[f]} must be in 0..15`);
    }
    if (x === 0) return; // dependency-only no-op
    if (y < 1) throw new RuntimeError(`${what}: y_size must be at least 1 when x_size > 0`);
    if (stride < x) throw new RuntimeError(`${what}: x_stride ${stride} is smaller than x_size ${x}`);
    const eb = this.elemBytes(insn.memory_type);
    const endByte = (elemOffset + (y - 1) * stride + x) * eb;
    if (endByte > buf.size) {
      throw new RuntimeError(`${what}: rows reach byte ${endByte} of buffer ${buf.name}, which has ${buf.size} bytes`);
    }
    const footprint = (insn.x_pad_0 + x + insn.x_pad_1) * (insn.y_pad_0 + y + insn.y_pad_1);
    const depth = this.depthOf(insn.memory_type);
    if (insn.sram_base + footprint > depth) {
      throw new RuntimeError(`${what}: ${insn.memory_type} SRAM range ${insn.sram_base}..${insn.sram_base + footprint - 1} exceeds the buffer depth ${depth}`);
    }
    if (insn.memory_type === 'UOP' && (y !== 1 || footprint !== x)) throw new RuntimeError(`${what}: UOP loads take y_size 1 and no padding`);
  }

  // ---- micro-op kernels ----

  /** Start recording a kernel (normally done by pushGemmOp/pushAluOp around `finit`). */
  beginKernel(): UopKernel {
    if (this.recording) throw new RuntimeError('a micro-op kernel is already being recorded');
    this.recording = new UopKernel();
    return this.recording;
  }

  endKernel(): UopKernel {
    const k = this.recording;
    if (!k) throw new RuntimeError('endKernel without beginKernel');
    this.recording = undefined;
    k.close();
    return k;
  }

  /** Record a kernel with a builder function that calls uopLoopBegin/uopPush/uopLoopEnd. */
  recordKernel(finit: (rt: Runtime) => void): UopKernel {
    this.beginKernel();
    try {
      finit(this);
    } catch (e) {
      this.recording = undefined;
      throw e;
    }
    return this.endKernel();
  }

  private rec(what: string): UopKernel {
    if (!this.recording) throw new RuntimeError(`${what} outside of a micro-op kernel (call it from pushGemmOp/pushAluOp's finit)`);
    return this.recording;
  }

  uopLoopBegin(extent: number, dstFactor: number, srcFactor: number, wgtFactor: number): void {
    this.rec('uopLoopBegin').loopBegin(extent, dstFactor, srcFactor, wgtFactor);
  }

  uopLoopEnd(): void {
    this.rec('uopLoopEnd').loopEnd();
  }

  uopPush(mode: UopMode, reset: number | boolean, dst: number, src: number, wgt: number, aluOp: AluOpName = 'MIN', useImm: number | boolean = 0, imm = 0): void {
    this.rec('uopPush').push(mode, reset, dst, src, wgt, aluOp, useImm, imm);
  }

  private resolveKernel(siteOrKernel: KernelSite | UopKernel, finit: ((rt: Runtime) => void) | undefined, signature: number): UopKernel {
    if (siteOrKernel instanceof UopKernel) return siteOrKernel;
    if (!Number.isInteger(signature) || signature < -1 || signature >= 99) throw new RuntimeError(`kernel signature ${signature} must be an integer below 99 (VTA's key < 100)`);
    let k = siteOrKernel.get(signature);
    if (!k) {
      if (!finit) throw new RuntimeError(`kernel site ${siteOrKernel.name} has no kernel for signature ${signature} and no finit was given`);
      k = this.recordKernel(finit);
      siteOrKernel.set(signature, k);
    }
    return k;
  }

  /** Place a kernel in the uop SRAM (VTA's UopQueue::Push); returns true if it must be loaded. */
  private placeKernel(kernel: UopKernel): boolean {
    if (kernel.cached) return false;
    const n = kernel.size;
    const depth = this.config.depth.uop;
    if (n > depth) throw new RuntimeError(`micro-op kernel of ${n} micro-ops exceeds the uop buffer depth ${depth}`);
    let begin = 0;
    if (this.uopSramEnd + n > depth) {
      this.cacheIdx = 0;
      this.uopSramBegin = 0;
      this.uopSramEnd = n;
    } else {
      begin = this.uopSramEnd;
      this.uopSramEnd += n;
    }
    const evictBegin = this.cacheIdx;
    for (; this.cacheIdx < this.cache.length; this.cacheIdx++) {
      const c = this.cache[this.cacheIdx];
      if (c.sramBegin >= this.uopSramEnd) break;
      c.sramBegin = 0;
      c.sramEnd = 0;
    }
    kernel.sramBegin = begin;
    kernel.sramEnd = this.uopSramEnd;
    this.cache.splice(this.cacheIdx, 0, kernel);
    this.cache.splice(evictBegin, this.cacheIdx - evictBegin);
    this.cacheIdx = evictBegin + 1;
    return true;
  }

  /** Kernels currently resident in the uop SRAM, in cache order. */
  get cachedKernels(): readonly UopKernel[] {
    return this.cache;
  }

  private emitUopLoad(kernel: UopKernel): void {
    if (!this.placeKernel(kernel)) return;
    // After placing, [uopSramBegin, uopSramEnd) is exactly the newly placed kernel.
    const offset = this.staged.length * UOP_BYTES;
    this.staged.push(...kernel.uops);
    const count = this.uopSramEnd - this.uopSramBegin;
    const insn: MemInsn = {
      opcode: 'LOAD', memory_type: 'UOP', pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0,
      sram_base: this.uopSramBegin, dram_base: offset / UOP_BYTES, y_size: 1, x_size: count, x_stride: count,
      y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
    };
    const p = this.create(2, insn);
    p.uopOffset = offset;
    this.uopSramBegin = this.uopSramEnd;
  }

  /**
   * Place kernels that are not resident yet, one after the other, and load them with a single
   * LOAD UOP (instead of one LOAD UOP, each draining the compute pipeline, at each first use).
   * Does nothing when they would not fit in the rest of the micro-op buffer without wrapping.
   */
  preloadKernels(kernels: readonly UopKernel[]): void {
    const fresh = kernels.filter((k, i) => !k.cached && kernels.indexOf(k) === i);
    const total = fresh.reduce((n, k) => n + k.size, 0);
    if (!fresh.length || this.uopSramEnd + total > this.config.depth.uop) return;
    const offset = this.staged.length * UOP_BYTES;
    const begin = this.uopSramBegin;
    for (const k of fresh) {
      this.placeKernel(k);
      this.staged.push(...k.uops);
    }
    const count = this.uopSramEnd - begin;
    const insn: MemInsn = {
      opcode: 'LOAD', memory_type: 'UOP', pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0,
      sram_base: begin, dram_base: offset / UOP_BYTES, y_size: 1, x_size: count, x_stride: count,
      y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
    };
    const p = this.create(2, insn);
    p.uopOffset = offset;
    this.uopSramBegin = this.uopSramEnd;
  }

  private loopFields(kernel: UopKernel, alu: boolean) {
    const L = kernel.loops;
    const none: LoopEntry = { extent: 1, dstFactor: 0, srcFactor: 0, wgtFactor: 0 };
    // GEMM: loop 0 -> outer, loop 1 -> inner. ALU with one loop: it becomes the inner loop.
    const outer = alu && L.length === 1 ? none : L[0] ?? none;
    const inner = alu && L.length === 1 ? L[0] : L[1] ?? none;
    return { outer, inner };
  }

  private checkKernelRanges(kernel: UopKernel, outer: LoopEntry, inner: LoopEntry, alu: boolean): void {
    const d = this.config;
    const maxOf = (pick: (u: Uop) => number, f: (l: LoopEntry) => number) =>
      Math.max(...kernel.uops.map(pick)) + (outer.extent - 1) * f(outer) + (inner.extent - 1) * f(inner);
    const dst = maxOf((u) => u.dst_idx, (l) => l.dstFactor);
    const src = maxOf((u) => u.src_idx, (l) => l.srcFactor);
    const wgt = maxOf((u) => u.wgt_idx, (l) => l.wgtFactor);
    const what = alu ? 'ALU' : 'GEMM';
    if (dst >= d.depth.acc) throw new RuntimeError(`${what}: accumulator index reaches ${dst}, beyond the ACC depth ${d.depth.acc}`);
    if (!kernel.reset || alu) {
      if (alu && !kernel.useImm && src >= d.depth.acc) throw new RuntimeError(`ALU: source index reaches ${src}, beyond the ACC depth ${d.depth.acc}`);
      if (!alu && src >= d.depth.inp) throw new RuntimeError(`GEMM: input index reaches ${src}, beyond the INP depth ${d.depth.inp}`);
      if (!alu && wgt >= d.depth.wgt) throw new RuntimeError(`GEMM: weight index reaches ${wgt}, beyond the WGT depth ${d.depth.wgt}`);
    }
    const unavailable = alu && kernel.aluOp !== undefined ? aluOpUnavailable(kernel.aluOp, d) : undefined;
    if (unavailable) throw new RuntimeError(unavailable);
  }

  /**
   * VTAPushGEMMOp: look up or record the kernel, load it if not resident, append a GEMM.
   * `requant` (GEMM_REQUANT, docs/isa.md): the GEMM's requant bit — every micro-op writes the
   * requantized sum with the parameter word of the last RQ instruction (see setRequantParams).
   */
  pushGemmOp(site: KernelSite | UopKernel, finit?: (rt: Runtime) => void, signature = 0, requant = false): void {
    const kernel = this.resolveKernel(site, finit, signature);
    if (kernel.mode !== 'GEMM') throw new RuntimeError('pushGemmOp: the kernel holds ALU micro-ops');
    if (requant && !this.config.gemmRequant) throw new RuntimeError('pushGemmOp: this configuration has no GEMM requant bit; set GEMM_REQUANT: true');
    const { outer, inner } = this.loopFields(kernel, false);
    if (this.strict) this.checkKernelRanges(kernel, outer, inner, false);
    this.emitUopLoad(kernel);
    const insn: GemmInsn = {
      opcode: 'GEMM', pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0,
      reset_reg: kernel.reset ?? 0, uop_bgn: kernel.sramBegin, uop_end: kernel.sramEnd,
      iter_out: outer.extent, iter_in: inner.extent,
      dst_factor_out: outer.dstFactor, dst_factor_in: inner.dstFactor,
      src_factor_out: outer.srcFactor, src_factor_in: inner.srcFactor,
      wgt_factor_out: outer.wgtFactor, wgt_factor_in: inner.wgtFactor,
      ...(requant ? { requant: 1 } : {}),
    };
    this.create(2, insn);
  }

  /**
   * GEMM_REQUANT: set the RQ parameter register (docs/isa.md) with an ALU RQ instruction that has
   * no micro-ops (one compute cycle): `p` = rqParams(shift, relu, clear).
   */
  setRequantParams(p: number): void {
    if (!this.config.gemmRequant) throw new RuntimeError('setRequantParams: this configuration has no GEMM requant bit; set GEMM_REQUANT: true');
    const insn: AluInsn = {
      opcode: 'ALU', pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0,
      reset_reg: 0, uop_bgn: 0, uop_end: 0, iter_out: 0, iter_in: 0,
      dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0,
      alu_opcode: 'RQ', use_imm: 1, imm: p,
    };
    this.create(2, insn);
  }

  /** VTAPushALUOp: like pushGemmOp for an ALU kernel (one loop maps to the inner loop). */
  pushAluOp(site: KernelSite | UopKernel, finit?: (rt: Runtime) => void, signature = 0): void {
    const kernel = this.resolveKernel(site, finit, signature);
    if (kernel.mode !== 'ALU') throw new RuntimeError('pushAluOp: the kernel holds GEMM micro-ops');
    const { outer, inner } = this.loopFields(kernel, true);
    if (this.strict) this.checkKernelRanges(kernel, outer, inner, true);
    this.emitUopLoad(kernel);
    const insn: AluInsn = {
      opcode: 'ALU', pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0,
      reset_reg: kernel.reset ?? 0, uop_bgn: kernel.sramBegin, uop_end: kernel.sramEnd,
      iter_out: outer.extent, iter_in: inner.extent,
      dst_factor_out: outer.dstFactor, dst_factor_in: inner.dstFactor,
      src_factor_out: outer.srcFactor, src_factor_in: inner.srcFactor,
      alu_opcode: kernel.aluOp ?? 'MIN', use_imm: kernel.useImm, imm: kernel.imm,
    };
    this.create(2, insn);
  }

  // ---- synchronize ----

  /**
   * VTASynchronize without the launch: the last store and the last load each send a token to
   * compute, a compute NOP takes both, then FINISH. Returns the program container and resets the
   * queues and the uop cache (SRAM is not trusted across runs). Data buffers keep their host
   * contents and addresses, so a runtime can build several programs over the same buffers.
   */
  synchronize(): Program {
    if (this.recording) throw new RuntimeError('synchronize while a micro-op kernel is being recorded');
    this.depPush(3, 2);
    this.depPush(1, 2);
    this.depPop(3, 2);
    this.depPop(1, 2);
    this.commitPendingPop(2);
    const finish: GemmInsn = {
      opcode: 'FINISH', pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0, reset_reg: 0,
      uop_bgn: 0, uop_end: 0, iter_out: 0, iter_in: 0, dst_factor_out: 0, dst_factor_in: 0,
      src_factor_out: 0, src_factor_in: 0, wgt_factor_out: 0, wgt_factor_in: 0,
    };
    this.create(2, finish);
    if (this.pendingPop()) throw new RuntimeError('FINISH cannot carry a pop');

    const d = this.config;
    const buffers: ProgramBuffer[] = this.buffers.map((b) => {
      const pb: ProgramBuffer = { name: b.name, kind: 'data', role: b.role, addr: b.addr, size: b.size, data: b.bytes.slice() };
      if (b.dtype) pb.dtype = b.dtype;
      if (b.shape) pb.shape = [...b.shape];
      return pb;
    });
    // the instruction stream on a page of its own start, the micro-ops after it
    const insnSize = this.insns.length * INSN_BYTES;
    const insnAddr = alignUp(this.nextAddr, PAGE_BYTES);
    let addr = alignUp(insnAddr + insnSize, this.align);
    let uopAddr = 0;
    if (this.staged.length) {
      uopAddr = addr;
      const uopBytes = encodeUops(d, this.staged);
      if (uopBytes.length > MAX_XFER) throw new RuntimeError(`micro-op staging of ${uopBytes.length} bytes exceeds ${MAX_XFER}`);
      buffers.push({ name: 'uops', kind: 'uop', role: 'input', addr: uopAddr, size: uopBytes.length, data: uopBytes });
    }
    const insnBytes = new Uint8Array(insnSize);
    this.insns.forEach((p, i) => {
      const insn = { ...p.insn } as Insn;
      if (p.uopOffset !== undefined) (insn as MemInsn).dram_base = (uopAddr + p.uopOffset) / UOP_BYTES;
      try {
        insnBytes.set(encodeInsn(d, insn), i * INSN_BYTES);
      } catch (e) {
        throw new RuntimeError(`instruction ${i} (${insn.opcode}): ${(e as Error).message}`);
      }
    });
    buffers.unshift({ name: 'insns', kind: 'insn', role: 'input', addr: insnAddr, size: insnSize, data: insnBytes });
    const program: Program = { config: d, buffers };
    validateProgram(program);
    this.reset();
    this.programs++;
    return program;
  }

  /** Drop the recorded instructions and invalidate the uop cache (after a synchronize). */
  reset(): void {
    this.insns = [];
    this.pendingPopPrev = [0, 0, 0, 0];
    this.pendingPopNext = [0, 0, 0, 0];
    for (const k of this.cache) {
      k.sramBegin = 0;
      k.sramEnd = 0;
    }
    this.cache = [];
    this.cacheIdx = 0;
    this.uopSramBegin = 0;
    this.uopSramEnd = 0;
    this.staged = [];
  }

  /**
   * Synchronize, run the program on an engine and copy the final DRAM contents of every data
   * buffer back into its host copy. Throws RuntimeError if the engine reports an error.
   */
  async run(engine: Engine, opts?: RunOptions): Promise<RunResult> {
    const program = this.synchronize();
    const result = await engine.run(program, opts);
    if (result.error) throw new RuntimeError(`${engine.name} engine: ${result.error.kind}: ${result.error.message}`);
    for (const b of this.buffers) b.bytes.set(b.readFrom(result.dram));
    return result;
  }
}
