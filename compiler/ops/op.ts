/**
 * A compiled operator: the built module, its knobs, its operands (seeded random data, packed) with
 * the plain reference result, and running it on an engine with a bit-exact check.
 */
import type { Derived } from '../../src/config/derive.ts';
import { dramFitError, dramLimit, MAX_DRAM_IMAGE, type Program } from '../../src/program/container.ts';
import { decodeLanes } from '../../src/runtime/pack.ts';
import type { Engine, RunResult } from '../../src/engine/index.ts';
import { VtwError } from '../../src/errors.ts';
import { CompileError } from '../errors.ts';
import type { Buffer } from '../ir/buffer.ts';
import { dtypeBits } from '../ir/expr.ts';
import { emitModule, type EmitResult, type TensorData, type VtaModule } from '../vta/build.ts';
import type { Knobs } from './common.ts';
import type { ConvCost } from './conv_knobs.ts';

export interface Operands {
  tensors: TensorData[];
  output: Buffer;
  /** Reference result in the operator's natural (unpacked) layout. */
  expected: () => Int32Array;
  /** Packed output values -> natural layout. */
  unpack: (packed: ArrayLike<number>) => Int32Array;
}

/**
 * How an operator's operands move between the natural layout (NCHW / [M,K] / OIHW, plain integers)
 * and VTA's packed DRAM layouts: `pack[i]` packs the i-th input in the definition's order (data,
 * weight, bias / a, b), `unpack` turns the packed output back. A function of the shape, parameters
 * and configuration only (no compile), so a program loaded from an artifact can be fed.
 */
export interface OperandLayout {
  pack: ((natural: ArrayLike<number>) => Int32Array)[];
  unpack: (packed: ArrayLike<number>) => Int32Array;
}

export interface OpInstance {
  op: string;
  shape: Record<string, number>;
  d: Derived;
  knobs: Knobs;
  module: VtaModule;
  /** Useful multiply-accumulates (padding excluded). */
  macs: number;
  /** Every valid knob setting of this operator on this configuration (for an autotuner). */
  knobSpace: (opts?: { latencyHiding?: boolean }) => Knobs[];
  /** The chooser's analytical cost of a knob setting, where the template has one (the tuner's features). */
  analyticCost?: (k: Knobs) => ConvCost;
  /** The chooser's modelled cycles of a knob setting (what it ranks by; the tuner's first guesses). */
  estimate: (k: Knobs) => number;
  operands: (seed: number) => Operands;
}

export interface OpRun {
  program: Program;
  emit: EmitResult;
  result: RunResult;
  /** With check: whether the output equals the reference bit for bit. */
  match?: boolean;
  mismatch?: string;
}

/** MACs / (BATCH * BLOCK_IN * BLOCK_OUT): the cycles of the GEMM work alone. */
export function idealCycles(inst: OpInstance): number {
  return Math.round(inst.macs / (inst.d.batch * inst.d.blockIn * inst.d.blockOut));
}

type Built = { program: Program; emit: EmitResult; operands: Operands };
/** Built programs per instance and seed: firstFitting's DRAM check emits the program its run uses. */
const built = new WeakMap<OpInstance, Map<number, Built>>();

export function buildProgram(inst: OpInstance, seed = 1): Built {
  let bySeed = built.get(inst);
  if (!bySeed) built.set(inst, (bySeed = new Map()));
  let b = bySeed.get(seed);
  if (!b) {
    const operands = inst.operands(seed);
    const emit = emitModule(inst.module, operands.tensors);
    bySeed.set(seed, (b = { program: emit.program, emit, operands }));
  }
  return b;
}

/**
 * The operands of a GEMM-shaped operator (conv2d, dense): data, weights and optional bias packed by
 * its layout's pack[0..2], and the output buffer.
 */
export function gemmOperands<T>(
  buf: (t: T) => Buffer, t: { data: T; weight: T; out: T; bias?: T }, io: OperandLayout,
  v: { data: ArrayLike<number>; weight: ArrayLike<number>; bias?: ArrayLike<number> },
): { tensors: TensorData[]; output: Buffer; unpack: OperandLayout['unpack'] } {
  const tensors: TensorData[] = [
    { buf: buf(t.data), role: 'input', values: io.pack[0](v.data) },
    { buf: buf(t.weight), role: 'input', values: io.pack[1](v.weight) },
    { buf: buf(t.out), role: 'output' },
  ];
  if (t.bias) tensors.push({ buf: buf(t.bias), role: 'input', values: io.pack[2](v.bias!) });
  return { tensors, output: buf(t.out), unpack: io.unpack };
}

/**
 * The operator built with the first of `ranked` (best first) whose whole program — instructions,
 * micro-ops, data buffers, as the runtime places them — fits the configuration's DRAM (dramFitError,
 * the check every engine makes before it runs a program). With none fitting, the best one: its run
 * is refused with that check's one line. Configurations whose DRAM does not bind (MEM_ADDR_BITS
 * reaching vtw's engine limit) take the best without emitting anything.
 */
export function firstFitting(d: Derived, ranked: readonly Knobs[], build: (k: Knobs) => OpInstance): OpInstance {
  const best = build(ranked[0]);
  if (dramLimit(d) >= MAX_DRAM_IMAGE) return best;
  for (let i = 0; i < ranked.length; i++) {
    try {
      const inst = i === 0 ? best : build(ranked[i]);
      if (!dramFitError(buildProgram(inst).program)) return inst;
    } catch (e) {
      // a setting the passes or the emitter refuse is passed over here (the best one's error comes
      // when it is built to run)
      if (!(e instanceof VtwError)) throw e;
    }
  }
  return best;
}

export async function runOp(inst: OpInstance, engine: Engine, opts: { seed?: number; check?: boolean } = {}): Promise<OpRun> {
  const { program, emit, operands } = buildProgram(inst, opts.seed ?? 1);
  const result = await engine.run(program, { insnTiming: false });
  const run: OpRun = { program, emit, result };
  if (result.error) return run;
  if (opts.check) {
    const db = emit.emitter.dram.get(operands.output);
    if (!db) throw new CompileError('internal: the output has no DRAM buffer');
    const vals = decodeLanes(db.readFrom(result.dram), dtypeBits(operands.output.dtype), operands.output.size);
    const got = operands.unpack(vals);
    const want = operands.expected();
    let bad = 0;
    let first = '';
    for (let i = 0; i < want.length; i++) {
      if (got[i] !== want[i]) {
        if (!bad) first = `element ${i}: got ${got[i]}, expected ${want[i]}`;
        bad++;
      }
    }
    run.match = bad === 0 && got.length === want.length;
    if (!run.match) run.mismatch = `${bad} of ${want.length} values differ; first at ${first}`;
  }
  return run;
}
