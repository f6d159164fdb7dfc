/**
 * The WebAssembly back end of one operator: schedule the natural-layout definition with the
 * operator's host (CPU) strategy, one thread, lower it to the loop IR, print WAT
 * (compiler/wasm/codegen.ts), assemble it with wabt (SIMD enabled) and instantiate it in Node's
 * own WebAssembly engine. A call copies the operands into the instance's linear memory, runs,
 * and reads the output back; running, checking and timing are the CPU back end's (runCpuOp).
 */
import v8 from 'node:v8';
import wabtInit from 'wabt';
import { CompileError } from '../errors.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { lower } from '../te/lower.ts';
import type { HostKnobs, HostStrategy, KnobSpace } from '../target/strategy.ts';
import { resolveKnobs } from '../target/strategy.ts';
import type { WasmTargetSpec } from '../target/target.ts';
import type { Kernel } from '../cpu/build.ts';
import { emitWat, type WasmSource } from './codegen.ts';
import { wasmConv2d, wasmConvApplies } from './strategies.ts';

export interface WasmOp {
  def: OpDefinition;
  target: WasmTargetSpec;
  knobs: HostKnobs;
  source: WasmSource;
  /** The assembled module's size in bytes. */
  bytes: number;
  kernel: Kernel;
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Promise<Wabt> | undefined;

/** The host strategy's knob space with one thread (the wasm target runs on Node's main thread). */
export function wasmKnobSpace(strategy: HostStrategy, def: OpDefinition, t: WasmTargetSpec): KnobSpace {
  const space = { ...strategy.knobSpace(def, t) };
  if (space.threads) space.threads = [1];
  return space;
}

/** Assemble WAT text into a module (wabt, with 128-bit SIMD). */
export async function assembleWat(src: WasmSource): Promise<Uint8Array> {
  wabt ??= wabtInit();
  const w = await wabt;
  let mod;
  try {
    mod = w.parseWat(`${src.name}.wat`, src.text, { simd: true });
  } catch (e) {
    throw new CompileError(`internal: wabt rejected the generated ${src.name}.wat: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    mod.validate();
    return mod.toBinary({}).buffer;
  } catch (e) {
    throw new CompileError(`internal: the generated ${src.name}.wat does not validate: ${(e as Error).message.split('\n').find((l) => /error/.test(l)) ?? (e as Error).message}`);
  } finally {
    mod.destroy();
  }
}

/**
 * Compile a module with V8's optimizing tier up front and instantiate it (no imports). With its
 * default tiering a long `run` starts in the baseline compiler (every v128 local in memory) and
 * swaps in optimized code only after a background compile, which on a loaded host lands after the
 * first timed runs (measured: ResNet-18 C11 3.4 ms optimized, 5-13 ms in the first calls). The
 * flag is set around this compile only.
 */
export function instantiateOptimized(binary: Uint8Array): { exports: Record<string, unknown> } {
  v8.setFlagsFromString('--no-liftoff');
  let module;
  try {
    module = new WA.Module(binary);
  } finally {
    v8.setFlagsFromString('--liftoff');
  }
  return new WA.Instance(module, {});
}

/**
 * Instantiate a module and wrap its `run` as a kernel over typed arrays (inputs, then the output).
 * `constants` (indices of bound operands: weights, bias) are copied into linear memory when the
 * kernel first sees an array object and then read in place, as the C kernel reads its pointers: a
 * caller that changes a constant passes a new array. The other inputs are copied in on every call.
 */
export function instantiate(binary: Uint8Array, src: WasmSource, constants: readonly number[] = []): Kernel {
  const instance = instantiateOptimized(binary);
  const mem = instance.exports.mem as { buffer: ArrayBuffer };
  const run = instance.exports.run as () => void;
  const bytes = new Uint8Array(mem.buffer);
  const last = src.params.length - 1;
  const resident: (ArrayBufferView | undefined)[] = [];
  return {
    call: (args) => {
      if (args.length !== src.params.length) throw new CompileError(`internal: ${src.name} takes ${src.params.length} arrays, got ${args.length}`);
      for (let i = 0; i < last; i++) {
        if (constants.includes(i)) {
          if (resident[i] === args[i]) continue;
          resident[i] = args[i];
        }
        if (src.widened[i]) {
          const a = args[i] as Int8Array;
          new Int16Array(mem.buffer, src.offsets[i], a.length).set(a);
        } else bytes.set(new Uint8Array(args[i].buffer, args[i].byteOffset, args[i].byteLength), src.offsets[i]);
      }
      run();
      const out = args[last];
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(src.offsets[last], src.offsets[last] + out.byteLength));
    },
  };
}

export async function buildWasmOp(def: OpDefinition, strategy: HostStrategy, target: WasmTargetSpec, knobs: Record<string, number> = {}): Promise<WasmOp> {
  if (knobs.threads !== undefined && knobs.threads !== 1) {
    throw new CompileError(`the wasm target runs on one thread (knob threads = ${knobs.threads}); use --target cpu for threads`);
  }
  // int8 conv2d: the wasm strategy (THE blocked definition on WASM_BLOCKS, register-blocked schedule).
  if (wasmConvApplies(def)) strategy = wasmConv2d;
  const space = wasmKnobSpace(strategy, def, target);
  const k = resolveKnobs(space, { ...strategy.defaultKnobs(def, target), ...(space.threads ? { threads: 1 } : {}) }, knobs);
  const blocks = strategy.blocks?.(def, target, k);
  if (blocks && def.withBlocks) def = def.withBlocks(blocks.block, blocks.dataOffset);
  const source = emitWat(lower(strategy.schedule(def, k), def.op));
  const binary = await assembleWat(source);
  // Operators with weights: every input after the data is a constant bound once (OpDefinition.bind).
  const constants = def.macs > 0 ? def.inputs.map((_, i) => i).slice(1) : [];
  return { def, target, knobs: k, source, bytes: binary.length, kernel: instantiate(binary, source, constants) };
}
