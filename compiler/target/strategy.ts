/**
 * Strategies: how one operator is compiled for one kind of target. The operator's computation is
 * written once (compiler/ops); a strategy brings the target's side of it. The registry hangs the
 * strategies off each operator entry (compiler/ops/registry.ts, `OperatorEntry.strategies`).
 *
 * - A host strategy (cpu today; wasm next) schedules the natural-layout definition
 *   (compiler/ops/compute.ts) over a knob space; the target's back end (compiler/cpu/op.ts) lowers
 *   the schedule, generates code, builds and times it. A tuner searches `knobSpace` with the
 *   same `build` (issue 14).
 * - The VTA strategy wraps what exists: the operator's packed definition, schedule template,
 *   knob chooser and VTA passes (`OperatorEntry.build`), run on an engine (compiler/ops/op.ts).
 */
import { CompileError } from '../errors.ts';
import type { Derived } from '../../src/config/derive.ts';
import type { OpDefinition } from '../ops/compute.ts';
import type { CompileOptions } from '../ops/conv2d.ts';
import type { OpInstance } from '../ops/op.ts';
import type { Schedule } from '../te/schedule.ts';
import type { BlockSpec } from '../ops/layout.ts';
import type { CpuTargetSpec, GpuTargetSpec, WasmTargetSpec } from './target.ts';

/** Candidate values of each knob (a knob's value is always one of them). */
export type KnobSpace = Record<string, readonly number[]>;

/** Every combination of a knob space's candidates, in a fixed order. */
export function knobProduct(space: KnobSpace): Record<string, number>[] {
  let out: Record<string, number>[] = [{}];
  for (const [name, cands] of Object.entries(space)) out = out.flatMap((k) => cands.map((v) => ({ ...k, [name]: v })));
  return out;
}
export type HostKnobs = Record<string, number>;
/** The targets a host strategy schedules for. */
export type HostTargetSpec = CpuTargetSpec | WasmTargetSpec;

export interface HostStrategy {
  /** Every knob and its candidates for this definition on this target. */
  knobSpace(def: OpDefinition, t: HostTargetSpec): KnobSpace;
  /** The default choice (before any tuning). */
  defaultKnobs(def: OpDefinition, t: HostTargetSpec): HostKnobs;
  /**
   * The distinct settings worth measuring, where the product of `knobSpace` has knobs that one
   * branch of the schedule ignores or clamps (the tuner searches these; default: the product).
   * Every setting has the same knob names, so a cost model sees one feature layout.
   */
  candidates?(def: OpDefinition, t: HostTargetSpec): HostKnobs[];
  /**
   * The block spec (and data offset) the definition takes on this target with these knobs
   * (OpDefinition.withBlocks); undefined: the definition as given (blocks of 1).
   */
  blocks?(def: OpDefinition, t: HostTargetSpec, knobs: HostKnobs): { block: BlockSpec; dataOffset: number } | undefined;
  /** The schedule of the definition for a knob setting. */
  schedule(def: OpDefinition, knobs: HostKnobs): Schedule;
}

/**
 * A GPU strategy (opencl, cuda; compiler/gpu/strategies.ts): a schedule of the natural-layout
 * definition that binds loop axes to block and thread indices, over a knob space (threads per
 * block, register tile) the tuner can search like a host strategy's.
 */
export interface GpuStrategy {
  knobSpace(def: OpDefinition, t: GpuTargetSpec): KnobSpace;
  defaultKnobs(def: OpDefinition, t: GpuTargetSpec): HostKnobs;
  schedule(def: OpDefinition, knobs: HostKnobs): Schedule;
}

/**
 * The VTA strategy of an operator: the packed definition, VTA's schedule template with its knobs
 * (chosen, or given in `co`), and the VTA passes (compiler/vta, unchanged), giving a module that
 * runs on an engine. `OpInstance.knobSpace` is its knob space.
 */
export interface VtaStrategy<Params> {
  build(shape: readonly number[], params: Params, d: Derived, co: CompileOptions): OpInstance;
}

/** Complete a partial knob setting from the defaults, refusing unknown knobs and values outside the space. */
export function resolveKnobs(space: KnobSpace, defaults: HostKnobs, given: Record<string, number> = {}): HostKnobs {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(given)) {
    const cands = space[k];
    if (!cands) throw new CompileError(`unknown knob ${k} for this target; knobs: ${Object.keys(space).join(', ')}`);
    if (!cands.includes(v)) throw new CompileError(`knob ${k} = ${v} is not one of ${cands.join(', ')}`);
    out[k] = v;
  }
  return out;
}
