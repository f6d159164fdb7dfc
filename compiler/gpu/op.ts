/**
 * The GPU back end of one operator: schedule the natural-layout definition with its GPU strategy,
 * lower it to the loop IR, print kernels in the target's dialect, and
 * - opencl: build them on the first OpenCL device, run on seeded operands with a bit-exact check
 *   against the plain reference, and time warm runs (host clock around launch + finish);
 * - cuda: compile with nvcc for each architecture (compiler/gpu/cuda.ts) and report registers and
 *   shared memory per kernel; run only where a CUDA driver and GPU are present.
 */
import { CompileError } from '../errors.ts';
import { dtypeBits, type DType } from '../ir/expr.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { lower } from '../te/lower.ts';
import { resolveKnobs, type GpuStrategy, type HostKnobs } from '../target/strategy.ts';
import type { GpuTargetSpec } from '../target/target.ts';
import { compareOutputs } from '../cpu/op.ts';
import { emitGpu, type GpuSource } from './codegen.ts';
import { OpenclSession } from './opencl.ts';

export interface GpuOp {
  def: OpDefinition;
  target: GpuTargetSpec;
  knobs: HostKnobs;
  source: GpuSource;
}

/** `name` names the kernels (`vtw_<name>_k0`, ...; default the operator's name): unique names let several operators share one program. */
export function buildGpuOp(def: OpDefinition, strategy: GpuStrategy, target: GpuTargetSpec, knobs: Record<string, number> = {}, name = def.op): GpuOp {
  const k = resolveKnobs(strategy.knobSpace(def, target), strategy.defaultKnobs(def, target), knobs);
  const func = lower(strategy.schedule(def, k), name);
  const source = emitGpu(func, target.kind);
  if (target.kind === 'cuda') checkCudaLaunch(source, k);
  return { def, target, knobs: k, source };
}

/** Threads per block every CUDA architecture allows (sm_20 and later); blocks per grid in y and z. */
export const CUDA_MAX_BLOCK_THREADS = 1024;
/** Static shared memory per block every architecture we name allows (48 KiB: sm_50 and later). */
export const STATIC_SHARED_LIMIT = 48 * 1024;
const CUDA_MAX_GRID_YZ = 65535;

/** Refuse launch configurations no CUDA GPU accepts (an OpenCL device is asked at run time). */
function checkCudaLaunch(source: GpuSource, knobs: HostKnobs): void {
  for (const k of source.kernels) {
    const threads = k.block[0] * k.block[1] * k.block[2];
    if (threads > CUDA_MAX_BLOCK_THREADS) {
      throw new CompileError(`kernel ${k.name} needs ${threads} threads per block (knobs ${JSON.stringify(knobs)}); CUDA allows ${CUDA_MAX_BLOCK_THREADS}: choose fewer threads`);
    }
    // Before nvcc, whose ptxas would say it in its own words ("uses too much shared data").
    if (k.sharedBytes > STATIC_SHARED_LIMIT) {
      throw new CompileError(`kernel ${k.name} needs ${k.sharedBytes} bytes of shared memory (knobs ${JSON.stringify(knobs)}); a CUDA block may have ${STATIC_SHARED_LIMIT}: choose smaller tiles`);
    }
    if (k.grid[1] > CUDA_MAX_GRID_YZ || k.grid[2] > CUDA_MAX_GRID_YZ) throw new CompileError(`kernel ${k.name}: grid ${k.grid.join('x')} has more than ${CUDA_MAX_GRID_YZ} blocks in y or z`);
  }
}

export function typedArray(dt: DType, n: number): Int8Array | Uint8Array | Int16Array | Int32Array {
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
      throw new CompileError(`the GPU targets have no array type for ${dt}`);
  }
}

export interface GpuRun {
  output: Int32Array;
  match?: boolean;
  mismatch?: string;
  /** Milliseconds of each timed warm run (all kernels, launch to finish). */
  times: number[];
  device: string;
}

/** The operands of a run: the bound inputs as typed arrays and the bytes of every kernel argument. */
export function operands(op: GpuOp, seed: number): { args: ArrayBufferView[]; bytes: number[]; expected: () => Int32Array } {
  const values = op.def.values(seed);
  const bound = op.def.bind ? op.def.bind(values.inputs) : values.inputs;
  const args = op.source.inputs.map((b, i) => {
    const a = typedArray(b.dtype, b.size);
    a.set(bound[i]);
    return a;
  });
  const bytes = op.source.params.map((b) => b.size * Math.max(1, dtypeBits(b.dtype) / 8));
  return { args, bytes, expected: values.expected };
}

/**
 * What the graph host and the op runner need of a device: a context with one built program of
 * kernels (in launch order), device buffers by index, and in-order execution (a read after a
 * launch sees its results). OpenCL: compiler/gpu/opencl.ts; CUDA: compiler/gpu/cuda.ts.
 */
export interface GpuSession {
  /** How the device prints in reports (`NAME (PLATFORM)` on OpenCL). */
  readonly deviceName: string;
  /** Device buffers of the given sizes in bytes, set as every kernel's arguments in order. */
  allocate(bytes: readonly number[]): void;
  /** More device buffers; returns their indices. */
  addBuffers(bytes: readonly number[]): number[];
  /** Kernel `k`'s arguments: the buffers of the given indices, in order. */
  setArgs(k: number, buffers: readonly number[]): void;
  write(buffer: number, data: ArrayBufferView): void;
  read(buffer: number, data: ArrayBufferView): void;
  /** Start the kernels of the given indices in order (a later read waits for them). */
  launch(kernels: readonly number[]): void;
  /** Launch every kernel in order and wait for the device. */
  run(): void;
  release(): void;
}

/** Run an op once for the result (checked against the reference with `check`), then `runs` timed warm runs. */
export function runGpuOp(op: GpuOp, s: GpuSession, opts: { seed?: number; check?: boolean; runs?: number } = {}): GpuRun {
  try {
    const { args, bytes, expected } = operands(op, opts.seed ?? 1);
    s.allocate(bytes);
    args.forEach((a, i) => s.write(i, a));
    s.run();
    const outBuf = op.source.outputs[0];
    const out = typedArray(outBuf.dtype, outBuf.size);
    s.read(op.source.inputs.length, out);
    const run: GpuRun = { output: Int32Array.from(out), times: [], device: s.deviceName };
    if (opts.check) {
      run.mismatch = compareOutputs(run.output, expected());
      run.match = run.mismatch === undefined;
    }
    const runs = opts.runs ?? 0;
    if (runs > 0) {
      for (let i = 0; i < 3; i++) s.run();
      for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint();
        s.run();
        run.times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    return run;
  } finally {
    s.release();
  }
}

/** Run an OpenCL op on the first OpenCL device: once for the result, then `runs` timed warm runs. */
export function runOpenclOp(op: GpuOp, opts: { seed?: number; check?: boolean; runs?: number } = {}): GpuRun {
  if (op.source.dialect !== 'opencl') throw new CompileError('internal: runOpenclOp needs OpenCL kernels');
  return runGpuOp(op, new OpenclSession(op.source.text, op.source.kernels), opts);
}
