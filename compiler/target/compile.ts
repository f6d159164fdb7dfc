/**
 * Compile an operator for a target: the one entry point `vtw op` calls (the graph executor and the
 * tuner will too). It picks the operator's strategy for the target's kind.
 */
import type { Derived } from '../../src/config/derive.ts';
import { buildCpuOp, type CpuOp } from '../cpu/op.ts';
import type { CompileOptions } from '../ops/conv2d.ts';
import type { OpInstance } from '../ops/op.ts';
import type { OperatorEntry, OpParams } from '../ops/registry.ts';
import type { CpuTargetSpec, GpuTargetSpec, Target, VtaTargetSpec, WasmTargetSpec } from './target.ts';
import { buildGpuOp, type GpuOp } from '../gpu/op.ts';
import { buildWasmOp, type WasmOp } from '../wasm/op.ts';

export type CompiledOperator =
  | { kind: 'vta'; target: VtaTargetSpec; inst: OpInstance }
  | { kind: 'cpu'; target: CpuTargetSpec; op: CpuOp }
  | { kind: 'wasm'; target: WasmTargetSpec; op: WasmOp }
  | { kind: 'opencl' | 'cuda'; target: GpuTargetSpec; op: GpuOp };

export interface TargetCompileOptions {
  /** VTA: knob overrides and latency hiding. */
  vta?: CompileOptions;
  /** Host targets: knob values by name (the rest from the strategy's defaults). */
  knobs?: Record<string, number>;
}

/**
 * `d` gives the data widths (input, weight, accumulator, output) on every target, so an operator
 * computes the same values on VTA and on the host; a vta target compiles for its own configuration.
 */
export async function compileOperator(
  entry: OperatorEntry, shape: readonly number[], params: OpParams, target: Target, d: Derived, opts: TargetCompileOptions = {},
): Promise<CompiledOperator> {
  switch (target.kind) {
    case 'vta':
      return { kind: 'vta', target, inst: entry.strategies.vta.build(shape, params, target.config, opts.vta ?? {}) };
    case 'cpu':
      return { kind: 'cpu', target, op: await buildCpuOp(entry.define(shape, params, d), entry.strategies.cpu, target, opts.knobs) };
    case 'wasm':
      // The CPU strategy's schedule (one thread), printed as WebAssembly.
      return { kind: 'wasm', target, op: await buildWasmOp(entry.define(shape, params, d), entry.strategies.cpu, target, opts.knobs) };
    case 'opencl':
    case 'cuda':
      // One GPU schedule, printed in the target's dialect (compiler/gpu); building and running are the caller's.
      return { kind: target.kind, target, op: buildGpuOp(entry.define(shape, params, d), entry.strategies.gpu, target, opts.knobs) };
  }
}
