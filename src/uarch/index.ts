/**
 * The micro-architecture contract: every fixed fact and timing parameter that the simulator
 * (sim/ts) and the RTL generator (hw/vta) must agree on, in one place. docs/microarch.md is the
 * specification; every number here is named there.
 */
import type { Derived } from '../config/derive.ts';
import { INSN_BYTES, MEMOP_PAD_BITS, PAGE_BYTES } from '../isa/constants.ts';
import type { Insn } from '../isa/insn.ts';

/** The three modules that execute instructions, in the order the engines list them (§3). */
export const MODULES = ['load', 'compute', 'store'] as const;
export type ModuleName = (typeof MODULES)[number];

/** The module fetch dispatches an instruction to (§3): LOAD INP/WGT to load, STORE to store, the rest to compute. */
export function moduleOf(insn: Pick<Insn, 'opcode'> & { memory_type?: string }): ModuleName {
  if (insn.opcode === 'STORE') return 'store';
  if (insn.opcode === 'LOAD' && (insn.memory_type === 'INP' || insn.memory_type === 'WGT')) return 'load';
  return 'compute';
}

/** The dependency-token queues (§5): l2g load to compute, g2l compute to load, g2s compute to store, s2g store to compute. */
export const TOKEN_QUEUES = ['l2g', 'g2l', 'g2s', 's2g'] as const;
export type TokenQueueName = (typeof TOKEN_QUEUES)[number];

export interface DepFlags {
  popPrev: boolean;
  popNext: boolean;
  pushPrev: boolean;
  pushNext: boolean;
}

/** The queues an instruction of module m pops before it starts and pushes when it completes (§5). */
export function tokenQueuesOf(m: ModuleName, f: DepFlags): { pops: TokenQueueName[]; pushes: TokenQueueName[] } {
  const pops: TokenQueueName[] = [];
  const pushes: TokenQueueName[] = [];
  if (m === 'load') {
    if (f.popNext) pops.push('g2l');
    if (f.pushNext) pushes.push('l2g');
  } else if (m === 'compute') {
    if (f.popPrev) pops.push('l2g');
    if (f.popNext) pops.push('s2g');
    if (f.pushPrev) pushes.push('g2l');
    if (f.pushNext) pushes.push('g2s');
  } else {
    if (f.popPrev) pops.push('g2s');
    if (f.pushPrev) pushes.push('s2g');
  }
  return { pops, pushes };
}

/** Tokens a dependency queue holds (an 8-bit counter, as Chisel's Semaphore). */
export const TOKEN_QUEUE_DEPTH = 255;
/**
 * Entries of the compute module's in-flight list (docs/microarch.md §7.4): started instructions
 * waiting to complete in order. A GEMM/ALU needs a free entry to start.
 */
export const COMPUTE_INFLIGHT = 8;

/** Memory arbiter clients in priority order (index 0 wins; docs/microarch.md §8). */
export const CLIENTS = ['fetch', 'uop', 'acc', 'wgt', 'inp', 'store'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Pipeline offsets, in cycles after a micro-op issues (docs/microarch.md §6, §7). */
export const GEMM_ACC_READ = 2; // accumulator (and INP/WGT) read data in issue+2
/** GEMM writes ACC/OUT at the end of cycle issue + 3 + GEMM_II - 1 + 1 = issue + GEMM_WRITE_BASE + GEMM_II. */
export const GEMM_WRITE_BASE = 3;
export const ALU_READ = 2; // ALU reads dst in issue+2, src (vector) in issue+3
/** ALU writes at the end of cycle issue + ALU_WRITE_BASE + II (II = aluInterval: 1 immediate, 2 vector with ALU_II 1). */
export const ALU_WRITE_BASE = 2;
/**
 * Initiation interval of an ALU micro-op (docs/microarch.md §7.1): with ALU_II = n the lanes run in
 * n groups, one per cycle, so an immediate op takes n cycles and a vector op n + 1 (its source is
 * read one cycle after its destination); n = 1 is VTA's 1 and 2.
 */
export function aluInterval(aluII: number, useImm: boolean): number {
  return useImm ? aluII : aluII + 1;
}

/**
 * Cycles from an ALU micro-op's issue to its write (docs/microarch.md §7.1, §22): ALU_WRITE_BASE +
 * II, plus `aluWriteDelay` (1 with config ALU_WRITE_REG: a register before the ALU).
 */
export function aluWriteOffset(aluII: number, useImm: boolean, aluWriteDelay: number): number {
  return ALU_WRITE_BASE + aluInterval(aluII, useImm) + aluWriteDelay;
}

export interface Timing {
  readLatency: number;
  writeLatency: number;
  cyclesPerBeat: number;
  burstBeats: number;
  outstanding: number;
  busBytes: number;
  gemmII: number;
  /** Config ALU_II (aluInterval gives a micro-op's II). */
  aluII: number;
  /** Entries of each module's command queue (load, compute, store): config CMD_QUEUE_DEPTH. */
  cmdQueueDepth: number;
  /** Instructions the fetch buffer holds (requested and not yet dispatched). */
  fetchBufInsns: number;
  /** DMA read engines: 2 (load module's, compute's) or 1 shared (config DMA_READ_ENGINES). */
  dmaReadEngines: number;
  /** Cycles FETCH_DECODE_SERIAL adds between an instruction's last beat and its availability (§2.1); 0 without. */
  fetchDecodeDelay: number;
  /**
   * Cycles from compute's start of a LOAD UOP/ACC with x_size > 0 to its read engine's start
   * (docs/microarch.md §17): 0, or 1 with config COMPUTE_READ_REG (a register between them).
   */
  computeReadDelay: number;
  /**
   * Cycles a LOAD's read engine adds after its last beat or pad before the LOAD's last active
   * cycle (docs/microarch.md §18): 0, or 1 with config READ_DONE_REG (its completion registered).
   */
  readDoneDelay: number;
  /**
   * Extra cycles between a token push and its visibility to pops (docs/microarch.md §19): 0, or 1
   * with config TOKEN_PUSH_REG (a register before the token counters). A token pushed in cycle c is
   * visible from c + 1 + tokenPushDelay; the pushing instruction still ends in c + 1.
   */
  tokenPushDelay: number;
  /**
   * Config UOP_ISSUE_REG (docs/microarch.md §20): compute's micro-op indices pass a register (the
   * index stage) before the issue decision. A GEMM/ALU's first micro-op issues in start +
   * uopIssueDelay at the earliest (1 with the key, else 0), and a GEMM/ALU may start once the index
   * stage is empty: in s >= max(t', s') + 2, with t' the issue cycle of the micro-op before the
   * latest one and s' the start of the latest one's instruction (the cycle after the latest micro-op
   * passed to the issue stage), instead of s >= t + II of the latest micro-op.
   */
  uopIssueDelay: number;
  /**
   * Cycles between a memory request's first cycle and the first cycle it can be granted
   * (docs/microarch.md §21): 0, or 1 with config MEM_REQ_REG (a register before the arbiter).
   */
  memReqDelay: number;
  /**
   * Extra cycles between an ALU micro-op's last lane group and its write (docs/microarch.md §22): 0,
   * or 1 with config ALU_WRITE_REG (a register before the ALU); aluWriteOffset adds it.
   */
  aluWriteDelay: number;
  /**
   * A module completes at most one instruction a cycle (docs/microarch.md §22, config
   * COMPUTE_DONE_REG): of compute's done instructions only the oldest completes in a cycle, the
   * next in a later one (load and store complete one at a time anyway).
   */
  oneCompletionPerCycle: boolean;
}

export function timingOf(d: Derived): Timing {
  const busBytes = d.busBytes;
  const burstBytes = d.mem.burstBeats * busBytes;
  return {
    readLatency: d.mem.readLatency,
    writeLatency: d.mem.writeLatency,
    cyclesPerBeat: d.mem.cyclesPerBeat,
    burstBeats: d.mem.burstBeats,
    outstanding: d.mem.outstanding,
    busBytes,
    gemmII: d.gemmII,
    aluII: d.aluII,
    cmdQueueDepth: d.cmdQueueDepth,
    fetchBufInsns: fetchBufferDepth(burstBytes),
    dmaReadEngines: d.dmaReadEngines,
    fetchDecodeDelay: d.fetchDecodeSerial ? fetchDecodeSerialLatency(Math.max(...Object.values(d.depth))) : 0,
    computeReadDelay: d.computeReadReg ? 1 : 0,
    readDoneDelay: d.readDoneReg ? 1 : 0,
    tokenPushDelay: d.tokenPushReg ? 1 : 0,
    uopIssueDelay: d.uopIssueReg ? 1 : 0,
    memReqDelay: d.memReqReg ? 1 : 0,
    aluWriteDelay: d.aluWriteReg ? 1 : 0,
    oneCompletionPerCycle: d.computeDoneReg,
  };
}

/** Fetch buffer depth in instructions: two full bursts (at least 2, at most 2 pages). */
export function fetchBufferDepth(burstBytes: number): number {
  const perBurst = Math.max(1, Math.floor(Math.min(burstBytes, PAGE_BYTES) / INSN_BYTES));
  return 2 * perBurst;
}

/**
 * FETCH_DECODE_SERIAL (docs/microarch.md §2.1): the decode's products have operands of
 * bitsFor(largest depth + 1) bits (the clamped footprint; the pad fields are narrower or equal) and
 * the serial unit takes FETCH_SERIAL_DIGIT multiplier bits per cycle.
 */
export const FETCH_SERIAL_DIGIT = 2;

/** Operand bits of the decode's products: the largest buffer depth + 1, in bits. */
export function decodeOperandBits(maxDepth: number): number {
  return Math.max(1, Math.ceil(Math.log2(maxDepth + 2)));
}

/** Cycles the serial unit steps: the widest multiplier operand, FETCH_SERIAL_DIGIT bits a cycle. */
export function fetchDecodeSerialSteps(maxDepth: number): number {
  return Math.ceil(Math.max(decodeOperandBits(maxDepth), MEMOP_PAD_BITS) / FETCH_SERIAL_DIGIT);
}

/**
 * The added fetch latency: the steps, then one cycle that combines the products into the checks and
 * the dispatched values and stores them beside the instruction. An instruction whose last beat
 * arrives in cycle c is available in cycle c + 1 + this (c + 1 without the option). The unit holds
 * one instruction, so instructions must arrive at least this many cycles apart (checked by the
 * configuration).
 */
export function fetchDecodeSerialLatency(maxDepth: number): number {
  return fetchDecodeSerialSteps(maxDepth) + 1;
}
