/**
 * The CPU back end of one operator: schedule the natural-layout definition with its CPU strategy,
 * lower it to the loop IR, print C, build (cached) and load it, run it on seeded operands with a
 * bit-exact check against the plain reference, and time warm runs.
 */
import { CompileError } from '../errors.ts';
import type { DType } from '../ir/expr.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { lower } from '../te/lower.ts';
import type { HostKnobs, HostStrategy } from '../target/strategy.ts';
import { resolveKnobs } from '../target/strategy.ts';
import type { CpuTargetSpec } from '../target/target.ts';
import { buildShared, loadKernel, type Kernel, type SharedObject } from './build.ts';
import { dotIsaOf, emitC, type CSource } from './codegen.ts';

export interface CpuOp {
  def: OpDefinition;
  target: CpuTargetSpec;
  knobs: HostKnobs;
  source: CSource;
  shared: SharedObject;
  kernel: Kernel;
}

export interface CpuRun {
  /** Output in natural layout. */
  output: Int32Array;
  match?: boolean;
  mismatch?: string;
  /** Milliseconds of each timed warm run. */
  times: number[];
}

/** Minimum warm runs a time is the median of. */
export const MIN_TIMED_RUNS = 20;

export async function buildCpuOp(
  def: OpDefinition, strategy: HostStrategy, target: CpuTargetSpec, knobs: Record<string, number> = {}, cacheDir?: string,
): Promise<CpuOp> {
  const k = resolveKnobs(strategy.knobSpace(def, target), strategy.defaultKnobs(def, target), knobs);
  // The strategy's block spec for these knobs (the same operator, blocked for the target's kernel).
  const blocks = strategy.blocks?.(def, target, k);
  if (blocks && def.withBlocks) def = def.withBlocks(blocks.block, blocks.dataOffset);
  const func = lower(strategy.schedule(def, k), def.op);
  const source = emitC(func, k.threads ?? 1, { dot: dotIsaOf(target.features) });
  const shared = await buildShared(source, target, cacheDir);
  return { def, target, knobs: k, source, shared, kernel: loadKernel(shared, source) };
}

function typedArray(dt: DType, n: number): KernelArray {
  switch (dt) {
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
      return new Uint8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'int32':
      return new Int32Array(n);
    default:
      throw new CompileError(`the cpu target has no array type for ${dt}`);
  }
}

export function compareOutputs(got: Int32Array, want: Int32Array): string | undefined {
  let bad = 0;
  let first = '';
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      if (!bad) first = `element ${i}: got ${got[i]}, expected ${want[i]}`;
      bad++;
    }
  }
  if (got.length !== want.length) return `${got.length} values, expected ${want.length}`;
  return bad ? `${bad} of ${want.length} values differ; first at ${first}` : undefined;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Run on seeded operands: once for the result, then `runs` timed warm runs (0: no timing). */
/** Typed arrays a kernel reads and writes (int8 .. int32). */
export type KernelArray = Int8Array | Uint8Array | Int16Array | Int32Array;

/**
 * A kernel's argument arrays from natural-layout operand values (in `def.inputs` order), the
 * constants packed by `def.bind` (once: not part of a timed call), and its output array (last).
 */
export function kernelArgs(def: OpDefinition, natural: Int32Array[]): { args: KernelArray[]; out: KernelArray } {
  const bound = def.bind ? def.bind(natural) : natural;
  const args = def.inputs.map((t, i) => {
    const a = typedArray(t.dtype, bound[i].length);
    a.set(bound[i]);
    return a;
  });
  const out = typedArray(def.output.dtype, def.output.shape.reduce((a, b) => a * b, 1));
  args.push(out);
  return { args, out };
}

export function runCpuOp(op: Pick<CpuOp, 'def' | 'kernel'>, opts: { seed?: number; check?: boolean; runs?: number } = {}): CpuRun {
  const values = op.def.values(opts.seed ?? 1);
  const { args, out } = kernelArgs(op.def, values.inputs);
  op.kernel.call(args);
  const output = Int32Array.from(out);
  const run: CpuRun = { output, times: [] };
  if (opts.check) {
    run.mismatch = compareOutputs(output, values.expected());
    run.match = run.mismatch === undefined;
  }
  const runs = opts.runs ?? 0;
  if (runs > 0) {
    for (let i = 0; i < 3; i++) op.kernel.call(args);
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      op.kernel.call(args);
      run.times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return run;
}
