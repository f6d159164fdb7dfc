/**
 * Functional state of the accelerator: the five SRAMs and DRAM, and the bit-exact semantics of
 * LOAD, STORE, GEMM and ALU (vta-reference Part A.3-A.5, Part B §2.5-2.7, §2.11). GEMM and ALU run
 * together with their pipeline timing (issue cycles, accumulator hazards) in one pass per micro-op.
 */
import type { Derived } from '../../src/config/derive.ts';
import { ALU_OPCODES, RQ_CLEAR_BIT, RQ_RELU_BIT, RQ_SHIFT_BITS } from '../../src/isa/alu.ts';
import { ALU_READ, GEMM_ACC_READ, GEMM_WRITE_BASE, aluInterval, aluWriteOffset } from '../../src/uarch/index.ts';
import { gemmKernelEnabled, instantiateKernel, kernelModule, type GemmKernel, type KernelLayout } from './gemm-kernel.ts';

const { MIN, MAX, ADD, SHR, RQ } = ALU_OPCODES;
const RQ_SHIFT_MASK = (1 << RQ_SHIFT_BITS) - 1;
/** The bits of the RQ parameter word that mean something: p[6:0]. */
const RQ_PARAM_MASK = (1 << (RQ_CLEAR_BIT + 1)) - 1;

export type SramName = 'uop' | 'inp' | 'wgt' | 'acc';

/** State of the compute pipeline shared by consecutive GEMM/ALU instructions (docs/microarch.md §6). */
export interface PipeState {
  /**
   * First cycle the issue stage is free for the next GEMM/ALU's start; with UOP_ISSUE_REG (§20)
   * the first cycle its index stage is empty.
   */
  issueFree: number;
  /** UOP_ISSUE_REG (§20): 1 = a first micro-op issues in start + 1 at the earliest; 0 = without. */
  issueDelay: number;
  /** Earliest issue of the next micro-op by the II rule (last issue + its II), and the last issue cycle. */
  nextIssue: number;
  lastIssue: number;
  /** Accumulator index and write cycle (end of that cycle) of the last two micro-ops; -1 = none. */
  w1a: number;
  w1c: number;
  w2a: number;
  w2c: number;
  /** Cycles the issue stage stalled on accumulator hazards or the write port. */
  hazardStalls: number;
}

export interface PipeResult {
  /** Issue cycle of the first micro-op (or start when none). */
  firstIssue: number;
  /** Cycle after the last write (or start + 1 when no micro-op). */
  workEnd: number;
  uops: number;
}

export function newPipe(issueDelay = 0): PipeState {
  return { issueFree: 0, issueDelay, nextIssue: 0, lastIssue: -Infinity, w1a: -1, w1c: -1, w2a: -1, w2c: -1, hazardStalls: 0 };
}

/** Loop fields shared by GEMM and ALU, already decoded to numbers. */
export interface LoopInsn {
  reset: boolean;
  /** GEMM_REQUANT: each micro-op writes the requantized sum (parameter word: the last RQ's). */
  requant: boolean;
  uopBgn: number;
  uopEnd: number;
  iterOut: number;
  iterIn: number;
  dstOut: number;
  dstIn: number;
  srcOut: number;
  srcIn: number;
  wgtOut: number;
  wgtIn: number;
  aluOp: number;
  useImm: boolean;
  imm: number;
}

/** The SRAM arrays of one run: INP, WGT, ACC, OUT, the micro-op fields, and the GEMM kernel's state. */
interface SramSet {
  arrays: Int32Array[];
  /** Per array, an end past every entry a run wrote (what must be zeroed before the next run). */
  dirty: number[];
  kernel?: GemmKernel;
  layout?: KernelLayout;
}

/**
 * SRAM arrays of finished runs, by configuration: a model runs thousands of short programs, and
 * allocating (and collecting) a configuration's megabytes of SRAM per run cost more than simulating
 * it. Arrays are zeroed when handed out again, so a run still starts from cleared SRAMs.
 */
const sramPool = new Map<string, SramSet[]>();

function sramKey(d: Derived): string {
  return [d.batch, d.blockIn, d.blockOut, d.accWidth, d.outWidth, d.depth.inp, d.depth.wgt, d.depth.acc, d.depth.uop, gemmKernelEnabled()].join(',');
}

function acquireSrams(d: Derived): SramSet {
  const set = sramPool.get(sramKey(d))?.pop();
  if (set) {
    for (let i = 0; i < set.arrays.length; i++) {
      set.arrays[i].fill(0, 0, set.dirty[i]);
      set.dirty[i] = 0;
    }
    return set;
  }
  const inpN = d.depth.inp * d.batch * d.blockIn;
  const wgtN = d.depth.wgt * d.blockOut * d.blockIn;
  const accN = d.depth.acc * d.batch * d.blockOut;
  const uops = [new Int32Array(d.depth.uop), new Int32Array(d.depth.uop), new Int32Array(d.depth.uop)];
  const km = kernelModule(d);
  const dirty = [0, 0, 0, 0, 0, 0, 0];
  if (!km) return { arrays: [new Int32Array(inpN), new Int32Array(wgtN), new Int32Array(accN), new Int32Array(accN), ...uops], dirty };
  const { memory, kernel } = instantiateKernel(km);
  const L = km.layout;
  const view = (off: number, n: number) => new Int32Array(memory.buffer, off, n);
  return {
    arrays: [view(L.inp, inpN), view(L.wgt, wgtN), view(L.acc, accN), view(L.out, accN), ...uops],
    dirty,
    kernel,
    layout: L,
  };
}

function releaseSrams(d: Derived, set: SramSet): void {
  const key = sramKey(d);
  const free = sramPool.get(key) ?? [];
  if (free.length < 2) free.push(set);
  sramPool.set(key, free);
}

export class Datapath {
  readonly d: Derived;
  readonly dram: Uint8Array;
  private readonly dramView: DataView;
  private readonly dramI8: Int8Array;
  readonly inp: Int32Array;
  readonly wgt: Int32Array;
  readonly acc: Int32Array;
  readonly out: Int32Array;
  readonly uopDst: Int32Array;
  readonly uopSrc: Int32Array;
  readonly uopWgt: Int32Array;
  /** Lanes per element. */
  readonly lanes: Record<SramName | 'out', number>;
  readonly width: Record<SramName | 'out', number>;
  private readonly accSh: number;
  private readonly outSh: number;
  private readonly uopFields: Array<{ lsb: number; mask: number }>;
  /** The SRAM arrays, returned to the pool by release(). */
  private readonly srams: SramSet;
  /** The SIMD GEMM kernel over the SRAMs' memory, where it fits. */
  private readonly kernel: GemmKernel | undefined;
  private readonly kernelLayout: KernelLayout | undefined;
  /** Scratch: positions of the non-zero lanes of one input vector (GEMM skips zero products). */
  private readonly nonZero: Int32Array;
  /** Scratch: an ALU immediate repeated in every lane. */
  private readonly immLanes: Int32Array;
  /**
   * GEMM_REQUANT: the RQ parameter register p[6:0] (docs/isa.md): set by every ALU RQ instruction
   * (even one without micro-ops), read by GEMMs with the requant bit; 0 at reset.
   */
  rqParam = 0;

  constructor(d: Derived, dram: Uint8Array) {
    this.d = d;
    this.dram = dram;
    this.dramView = new DataView(dram.buffer, dram.byteOffset, dram.byteLength);
    this.dramI8 = new Int8Array(dram.buffer, dram.byteOffset, dram.byteLength);
    this.lanes = {
      uop: 1,
      inp: d.batch * d.blockIn,
      wgt: d.blockOut * d.blockIn,
      acc: d.batch * d.blockOut,
      out: d.batch * d.blockOut,
    };
    this.width = { uop: 32, inp: d.inpWidth, wgt: d.wgtWidth, acc: d.accWidth, out: d.outWidth };
    this.srams = acquireSrams(d);
    [this.inp, this.wgt, this.acc, this.out, this.uopDst, this.uopSrc, this.uopWgt] = this.srams.arrays;
    this.kernel = this.srams.kernel;
    this.kernelLayout = this.srams.layout;
    this.accSh = 32 - d.accWidth;
    this.nonZero = new Int32Array(d.blockIn);
    this.immLanes = new Int32Array(this.lanes.acc);
    this.outSh = 32 - d.outWidth;
    const f = d.layout.uop.byName;
    this.uopFields = ['dst_idx', 'src_idx', 'wgt_idx'].map((n) => ({
      lsb: f[n].lsb,
      mask: f[n].width >= 32 ? 0xffffffff : (1 << f[n].width) - 1,
    }));
  }

  /** Array i of the SRAM set (INP, WGT, ACC, OUT, uop fields) was written below entry `end`. */
  private wrote(i: number, end: number): void {
    const dirty = this.srams.dirty;
    if (end > dirty[i]) dirty[i] = end;
  }

  /** ACC and OUT were written up to accumulator element `maxDst` (GEMM, ALU). */
  private wroteAcc(maxDst: number): void {
    const end = (maxDst + 1) * this.lanes.acc;
    this.wrote(2, end);
    this.wrote(3, end);
  }

  /** Hand the SRAM arrays back for the next run (the Datapath must not be used afterwards). */
  release(): void {
    releaseSrams(this.d, this.srams);
  }

  /** Copy `count` elements from DRAM byte address `addr` into SRAM `buf` at element `sram`. */
  readElems(buf: SramName, sram: number, addr: number, count: number): void {
    if (buf === 'uop') {
      const [fd, fs, fw] = this.uopFields;
      for (let i = 0; i < count; i++) {
        const w = this.dramView.getUint32(addr + 4 * i, true);
        this.uopDst[sram + i] = (w >>> fd.lsb) & fd.mask;
        this.uopSrc[sram + i] = (w >>> fs.lsb) & fs.mask;
        this.uopWgt[sram + i] = (w >>> fw.lsb) & fw.mask;
      }
      for (let k = 4; k < 7; k++) this.wrote(k, sram + count);
      return;
    }
    const arr = buf === 'inp' ? this.inp : buf === 'wgt' ? this.wgt : this.acc;
    const n = count * this.lanes[buf];
    const base = sram * this.lanes[buf];
    const mem = this.dram;
    this.wrote(buf === 'inp' ? 0 : buf === 'wgt' ? 1 : 2, base + n);
    switch (this.width[buf]) {
      case 8:
        // long rows: the engine's own sign-extending copy (a view costs an allocation)
        if (n >= 64) arr.set(this.dramI8.subarray(addr, addr + n), base);
        else for (let i = 0; i < n; i++) arr[base + i] = (mem[addr + i] << 24) >> 24;
        break;
      case 16:
        for (let i = 0; i < n; i++) arr[base + i] = this.dramView.getInt16(addr + 2 * i, true);
        break;
      case 32:
        for (let i = 0; i < n; i++) arr[base + i] = this.dramView.getInt32(addr + 4 * i, true);
        break;
      case 4:
        for (let i = 0; i < n; i++) arr[base + i] = ((mem[addr + (i >> 1)] >> ((i & 1) * 4)) << 28) >> 28;
        break;
      case 2:
        for (let i = 0; i < n; i++) arr[base + i] = ((mem[addr + (i >> 2)] >> ((i & 3) * 2)) << 30) >> 30;
        break;
      default:
        throw new Error(`unsupported element width ${this.width[buf]}`);
    }
  }

  /** Zero `count` elements of SRAM `buf` from element `sram`. */
  zeroElems(buf: SramName, sram: number, count: number): void {
    if (buf === 'uop') {
      this.uopDst.fill(0, sram, sram + count);
      this.uopSrc.fill(0, sram, sram + count);
      this.uopWgt.fill(0, sram, sram + count);
      return;
    }
    const arr = buf === 'inp' ? this.inp : buf === 'wgt' ? this.wgt : this.acc;
    const l = this.lanes[buf];
    arr.fill(0, sram * l, (sram + count) * l);
  }

  /** Write `count` OUT elements starting at element `sram` to DRAM byte address `addr` (low OUT_WIDTH bits, packed). */
  writeOut(sram: number, addr: number, count: number): void {
    const n = count * this.lanes.out;
    const base = sram * this.lanes.out;
    const src = this.out;
    const mem = this.dram;
    switch (this.width.out) {
      case 8:
        for (let i = 0; i < n; i++) mem[addr + i] = src[base + i] & 0xff;
        break;
      case 4:
        for (let i = 0; i < n; i += 2) mem[addr + (i >> 1)] = (src[base + i] & 15) | ((src[base + i + 1] & 15) << 4);
        break;
      case 2:
        for (let i = 0; i < n; i += 4) {
          mem[addr + (i >> 2)] =
            (src[base + i] & 3) | ((src[base + i + 1] & 3) << 2) | ((src[base + i + 2] & 3) << 4) | ((src[base + i + 3] & 3) << 6);
        }
        break;
      default:
        throw new Error(`unsupported OUT width ${this.width.out}`);
    }
  }

  /**
   * Execute a GEMM starting at cycle `start`: every micro-op in loop order, functionally, while
   * computing its issue cycle under the pipeline rules (docs/microarch.md §6).
   */
  gemm(g: LoopInsn, start: number, p: PipeState, II: number): PipeResult {
    const { batch: B, blockIn: BI, blockOut: BO } = this.d;
    const inpStride = B * BI;
    const wgtStride = BO * BI;
    const accStride = B * BO;
    const inp = this.inp;
    const wgt = this.wgt;
    const acc = this.acc;
    const out = this.out;
    const accSh = this.accSh;
    const outSh = this.outSh;
    const uD = this.uopDst;
    const uS = this.uopSrc;
    const uW = this.uopWgt;
    const nz = this.nonZero;
    const kernel = this.kernel;
    const accByte = this.kernelLayout?.acc ?? 0;
    const inpByte = this.kernelLayout?.inp ?? 0;
    const wgtByte = this.kernelLayout?.wgt ?? 0;
    const wOff = GEMM_WRITE_BASE + II;
    let t = p.issueDelay ? Math.max(start + 1, p.nextIssue) : Math.max(start, p.issueFree);
    const t0 = t;
    let { w1a, w1c, w2a, w2c } = p;
    let li = p.lastIssue;
    let pi = li;
    let stalls = 0;
    let first = -1;
    let n = 0;
    let maxDst = -1;
    for (let io = 0; io < g.iterOut; io++) {
      for (let ii = 0; ii < g.iterIn; ii++) {
        const dOff = io * g.dstOut + ii * g.dstIn;
        const sOff = io * g.srcOut + ii * g.srcIn;
        const wgOff = io * g.wgtOut + ii * g.wgtIn;
        for (let u = g.uopBgn; u < g.uopEnd; u++) {
          const dst = uD[u] + dOff;
          if (dst > maxDst) maxDst = dst;
          // ---- timing: issue cycle t of this micro-op ----
          let ti = t;
          if (ti + wOff <= w1c) ti = w1c - wOff + 1; // in-order write port
          if (!g.reset) {
            // accumulator read in ti+2 must come after any earlier write to dst
            if (dst === w1a && ti + GEMM_ACC_READ <= w1c) ti = w1c - GEMM_ACC_READ + 1;
            if (dst === w2a && ti + GEMM_ACC_READ <= w2c) ti = w2c - GEMM_ACC_READ + 1;
          }
          stalls += ti - t;
          if (first < 0) first = ti;
          w2a = w1a;
          w2c = w1c;
          w1a = dst;
          w1c = ti + wOff;
          pi = li;
          li = ti;
          t = ti + II;
          n++;
          // ---- function ----
          const ab = dst * accStride;
          if (g.reset) {
            acc.fill(0, ab, ab + accStride);
            continue;
          }
          const ib0 = (uS[u] + sOff) * inpStride;
          const wb0 = (uW[u] + wgOff) * wgtStride;
          if (kernel) {
            for (let b = 0; b < B; b++) kernel(accByte + (ab + b * BO) * 4, inpByte + (ib0 + b * BI) * 4, wgtByte + wb0 * 4);
            if (g.requant) this.requantElem(ab, accStride);
            continue;
          }
          for (let b = 0; b < B; b++) {
            const ib = ib0 + b * BI;
            const ob = ab + b * BO;
            // Zero input lanes add nothing (padding channels, a ReLU's zeros): sum over the others.
            // The result is the same integer; only the simulator's own work shrinks.
            let m = 0;
            for (let k = 0; k < BI; k++) if (inp[ib + k] !== 0) nz[m++] = k;
            for (let o = 0; o < BO; o++) {
              const wb = wb0 + o * BI;
              let s = 0;
              if (m === 16 && BI === 16) {
                s =
                  inp[ib] * wgt[wb] + inp[ib + 1] * wgt[wb + 1] + inp[ib + 2] * wgt[wb + 2] + inp[ib + 3] * wgt[wb + 3] +
                  inp[ib + 4] * wgt[wb + 4] + inp[ib + 5] * wgt[wb + 5] + inp[ib + 6] * wgt[wb + 6] + inp[ib + 7] * wgt[wb + 7] +
                  inp[ib + 8] * wgt[wb + 8] + inp[ib + 9] * wgt[wb + 9] + inp[ib + 10] * wgt[wb + 10] + inp[ib + 11] * wgt[wb + 11] +
                  inp[ib + 12] * wgt[wb + 12] + inp[ib + 13] * wgt[wb + 13] + inp[ib + 14] * wgt[wb + 14] + inp[ib + 15] * wgt[wb + 15];
              } else {
                for (let j = 0; j < m; j++) {
                  const k = nz[j];
                  s += inp[ib + k] * wgt[wb + k];
                }
              }
              const v = ((acc[ob + o] + s) << accSh) >> accSh;
              acc[ob + o] = v;
              out[ob + o] = (v << outSh) >> outSh;
            }
          }
          if (g.requant) this.requantElem(ab, accStride);
        }
      }
    }
    this.wroteAcc(maxDst);
    return closePipe(p, w1a, w1c, w2a, w2c, stalls, n, t0, t, first, start, pi, li);
  }

  /**
   * Execute an ALU instruction (docs/microarch.md §7): II `aluII` with an immediate, `aluII` + 1
   * with a vector operand (config ALU_II; 1 and 2 without it); the write `aluWriteDelay` cycles
   * later still with ALU_WRITE_REG (§22).
   */
  alu(a: LoopInsn, start: number, p: PipeState, aluII: number, aluWriteDelay = 0): PipeResult {
    const L = this.lanes.acc;
    const acc = this.acc;
    const accSh = this.accSh;
    const uD = this.uopDst;
    const uS = this.uopSrc;
    const II = aluInterval(aluII, a.useImm);
    const wOff = aluWriteOffset(aluII, a.useImm, aluWriteDelay);
    const op = a.aluOp;
    // the second operand: ACC lanes, or the immediate in every lane
    const yArr = a.useImm ? this.immLanes.fill((a.imm << accSh) >> accSh) : acc;
    // RQ's parameter word: the immediate as a lane value, or in the vector form the raw immediate
    const prm = a.useImm ? (a.imm << accSh) >> accSh : a.imm;
    if (op === RQ && this.d.gemmRequant) this.rqParam = prm & RQ_PARAM_MASK;
    let t = p.issueDelay ? Math.max(start + 1, p.nextIssue) : Math.max(start, p.issueFree);
    const t0 = t;
    let { w1a, w1c, w2a, w2c } = p;
    let li = p.lastIssue;
    let pi = li;
    let stalls = 0;
    let first = -1;
    let n = 0;
    let maxDst = -1;
    for (let io = 0; io < a.iterOut; io++) {
      for (let ii = 0; ii < a.iterIn; ii++) {
        const dOff = io * a.dstOut + ii * a.dstIn;
        const sOff = io * a.srcOut + ii * a.srcIn;
        for (let u = a.uopBgn; u < a.uopEnd; u++) {
          const dst = uD[u] + dOff;
          if (dst > maxDst) maxDst = dst;
          const src = uS[u] + sOff;
          let ti = t;
          if (ti + wOff <= w1c) ti = w1c - wOff + 1;
          if (dst === w1a && ti + ALU_READ <= w1c) ti = w1c - ALU_READ + 1;
          if (dst === w2a && ti + ALU_READ <= w2c) ti = w2c - ALU_READ + 1;
          if (!a.useImm) {
            if (src === w1a && ti + ALU_READ + 1 <= w1c) ti = w1c - ALU_READ;
            if (src === w2a && ti + ALU_READ + 1 <= w2c) ti = w2c - ALU_READ;
          }
          stalls += ti - t;
          if (first < 0) first = ti;
          w2a = w1a;
          w2c = w1c;
          w1a = dst;
          w1c = ti + wOff;
          pi = li;
          li = ti;
          t = ti + II;
          n++;
          this.aluLanes(op, dst * L, yArr, a.useImm ? 0 : src * L, prm, !a.useImm);
        }
      }
    }
    this.wroteAcc(maxDst);
    return closePipe(p, w1a, w1c, w2a, w2c, stalls, n, t0, t, first, start, pi, li);
  }

  /**
   * GEMM_REQUANT: a GEMM micro-op with the requant bit writes RQ's result (immediate form, parameter
   * word rqParam) of the sum it computed: OUT gets the clipped value, ACC it or 0 (p[6]).
   */
  private requantElem(ab: number, n: number): void {
    const acc = this.acc;
    const out = this.out;
    const prm = this.rqParam;
    const sh = Math.min(prm & RQ_SHIFT_MASK, this.d.accWidth - 1);
    const hi = (1 << (this.d.outWidth - 1)) - 1;
    const lo = (prm >> RQ_RELU_BIT) & 1 ? 0 : -hi - 1;
    const clear = (prm >> RQ_CLEAR_BIT) & 1;
    for (let l = ab; l < ab + n; l++) {
      const v = acc[l] >> sh;
      const r = v > hi ? hi : v < lo ? lo : v;
      acc[l] = clear ? 0 : r;
      out[l] = r;
    }
  }

  /** One ALU micro-op on ACC lanes db.. with operand lanes ya[yb..] (a loop per opcode). */
  private aluLanes(op: number, db: number, ya: Int32Array, yb: number, prm: number, vec: boolean): void {
    const L = this.lanes.acc;
    const acc = this.acc;
    const out = this.out;
    const accSh = this.accSh;
    const outSh = this.outSh;
    switch (op) {
      case MIN:
        for (let l = 0; l < L; l++) {
          const x = acc[db + l];
          const y = ya[yb + l];
          const r = x < y ? x : y;
          acc[db + l] = r;
          out[db + l] = (r << outSh) >> outSh;
        }
        return;
      case MAX:
        for (let l = 0; l < L; l++) {
          const x = acc[db + l];
          const y = ya[yb + l];
          const r = x > y ? x : y;
          acc[db + l] = r;
          out[db + l] = (r << outSh) >> outSh;
        }
        return;
      case ADD:
        for (let l = 0; l < L; l++) {
          const r = ((acc[db + l] + ya[yb + l]) << accSh) >> accSh;
          acc[db + l] = r;
          out[db + l] = (r << outSh) >> outSh;
        }
        return;
      case SHR: {
        const top = this.d.accWidth - 1;
        for (let l = 0; l < L; l++) {
          const x = acc[db + l];
          const y = ya[yb + l];
          const r = y >= 0 ? x >> Math.min(y, top) : ((x << Math.min(-y, top)) << accSh) >> accSh;
          acc[db + l] = r;
          out[db + l] = (r << outSh) >> outSh;
        }
        return;
      }
      case RQ: {
        // fused requantization (docs/isa.md): shift, (vector) add, clip to OUT, optional ACC clear
        const sh = Math.min(prm & RQ_SHIFT_MASK, this.d.accWidth - 1);
        const hi = (1 << (this.d.outWidth - 1)) - 1;
        const lo = (prm >> RQ_RELU_BIT) & 1 ? 0 : -hi - 1;
        const clear = (prm >> RQ_CLEAR_BIT) & 1;
        for (let l = 0; l < L; l++) {
          let v = acc[db + l] >> sh;
          if (vec) v = ((v + ya[yb + l]) << accSh) >> accSh;
          const r = v > hi ? hi : v < lo ? lo : v;
          acc[db + l] = clear ? 0 : r;
          out[db + l] = r;
        }
        return;
      }
      default: // MUL
        for (let l = 0; l < L; l++) {
          const r = (Math.imul(acc[db + l], ya[yb + l]) << accSh) >> accSh;
          acc[db + l] = r;
          out[db + l] = (r << outSh) >> outSh;
        }
    }
  }
}

/**
 * Store a GEMM/ALU pass's pipeline state (the last two writes, for the hazard interlock) and its
 * timing result; an instruction without micro-ops takes one cycle.
 */
function closePipe(
  p: PipeState, w1a: number, w1c: number, w2a: number, w2c: number, stalls: number, n: number, t0: number, t: number, first: number,
  start: number, prevIssue: number, lastIssue: number,
): PipeResult {
  p.w1a = w1a;
  p.w1c = w1c;
  p.w2a = w2a;
  p.w2c = w2c;
  p.hazardStalls += stalls;
  if (n === 0) {
    // (with UOP_ISSUE_REG t0 is past the start: the index stage is empty from start + 1 all the same)
    const s = p.issueDelay ? start : t0;
    p.issueFree = s + 1;
    return { firstIssue: s, workEnd: s + 1, uops: 0 };
  }
  p.nextIssue = t;
  p.lastIssue = lastIssue;
  // UOP_ISSUE_REG (§20): the last micro-op passes from the index stage to the issue stage at the end
  // of max(start + 1, the issue of the micro-op before it + 1); the next start is the cycle after
  p.issueFree = p.issueDelay ? Math.max(prevIssue, start) + 2 : t;
  return { firstIssue: first, workEnd: w1c + 1, uops: n };
}
