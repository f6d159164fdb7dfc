/**
 * The engine interface: one way to run a program container, whatever runs it (the TypeScript
 * simulator, the Verilated RTL, a board). It lives in the core so that src/runtime, compiler/ and
 * fpga/ can name it without depending on sim/; tests and the CLI only talk to this.
 */
import type { Program } from '../program/container.ts';

export type EngineName = 'ts' | 'verilator' | 'board' | 'board-netlist' | 'both';

/**
 * Default cycle limit of every engine (`--max-cycles`): a program that has not reached FINISH by
 * then stops with a 'timeout' error saying where each module was. A billion cycles is minutes of
 * simulation and far beyond any operator or test program.
 */
export const DEFAULT_MAX_CYCLES = 1e9;

export interface RunOptions {
  /** Stop with a timeout error after this many cycles (default DEFAULT_MAX_CYCLES). */
  maxCycles?: number;
  /** Record per-instruction start/end cycles (default true). */
  insnTiming?: boolean;
  /** Record a trace of module activity for `--trace` (default false). */
  trace?: boolean;
}

/** Cycle counters of one module (fetch, load, compute, store). */
export interface ModuleCounters {
  busy: number;
  waitToken: number;
  waitMemory: number;
  queueFull: number;
  idle: number;
}

/** fsim-compatible counters (vta-reference Part B §3.8). */
export interface FsimCounters {
  inp_load_nbytes: number;
  wgt_load_nbytes: number;
  acc_load_nbytes: number;
  uop_load_nbytes: number;
  out_store_nbytes: number;
  gemm_counter: number;
  alu_counter: number;
}

export interface InsnTiming {
  index: number;
  module: 'load' | 'compute' | 'store';
  /** Cycle the instruction started (after its token pops). */
  start: number;
  /** Cycle it completed (its pushes take effect). */
  end: number;
}

export interface RunCounters {
  cycles: number;
  gemm_uops: number;
  alu_uops: number;
  /** GEMM micro-op cycles / total cycles. */
  utilization: number;
  /** Bytes moved per memory type (loads for UOP/WGT/INP/ACC, stores for OUT), plus instruction fetch. */
  bytes: { insn: number; uop: number; wgt: number; inp: number; acc: number; out: number };
  modules: { fetch: ModuleCounters; load: ModuleCounters; compute: ModuleCounters; store: ModuleCounters };
  fsim: FsimCounters;
  /** Cycles the compute pipeline's issue stage stalled on accumulator hazards (engine 'ts'). */
  gemmHazardStalls?: number;
}

export interface TraceSpan {
  module: string;
  name: string;
  start: number;
  end: number;
  args?: Record<string, unknown>;
}

/** Where and why a run stopped abnormally (Part A.6). */
export interface RunError {
  /** 'mismatch': the two engines of `--engine both` disagree (lock-step comparison). */
  kind: 'illegal' | 'deadlock' | 'timeout' | 'mismatch';
  message: string;
  /** Instruction index for an illegal instruction. */
  insnIndex?: number;
  field?: string;
  /** Deadlock: tokens in each dependency queue (l2g, g2l, g2s, s2g). */
  queues?: Record<string, number>;
  /** Deadlock: what each module (and fetch) waits for, one line each. */
  waits?: string[];
}

export interface RunResult {
  engine: EngineName;
  /** Final DRAM contents (same layout as dramImage(program)). */
  dram: Uint8Array;
  counters: RunCounters;
  insnTiming?: InsnTiming[];
  trace?: TraceSpan[];
  error?: RunError;
  /**
   * Present when the run reached FINISH but not cleanly: one line per module that still held an
   * instruction it had not started (e.g. one waiting for a token), naming it (src/engine/warnings.ts).
   */
  warnings?: string[];
}

export interface Engine {
  readonly name: EngineName;
  run(program: Program, opts?: RunOptions): Promise<RunResult>;
}
