/**
 * A tuning task: one operator with one shape on one target, as the tuner sees it — the candidate
 * knob settings (the strategy's knob space), the default chooser's setting, a feature vector per
 * candidate for the cost model (computed without building or running anything), and a measurement.
 *
 * - vta: candidates are `OpInstance.knobSpace`; the cost is the cycle count of the cycle-exact
 *   TypeScript simulator. Features: the seven knobs, the virtual threads, the tile volumes, and the
 *   template's analytical cost parts (compute, load, store, fill, drain, micro-ops, SRAM use) where
 *   the template has them (conv2d, dense).
 * - cpu: candidates are the product of the CPU strategy's knob space; the cost is the median time
 *   of warm runs of the built function (each build checked bit for bit against the reference
 *   first). Features: the knobs, tile counts, the inner loop length, the accumulator tile's bytes,
 *   outer iterations per thread.
 */
import type { Derived } from '../../src/config/derive.ts';
import { runSync } from '../../sim/ts/engine.ts';
import { median, runCpuOp } from '../cpu/op.ts';
import { runOpenclOp } from '../gpu/op.ts';
import { CompileError } from '../errors.ts';
import type { Knobs } from '../ops/common.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { buildProgram, type OpInstance } from '../ops/op.ts';
import type { OperatorEntry, OpParams } from '../ops/registry.ts';
import { compileOperator } from '../target/compile.ts';
import { knobProduct as knobProductOf, type KnobSpace } from '../target/strategy.ts';
import { targetString, type Target } from '../target/target.ts';
import type { CostUnit, TuneKey } from './log.ts';

export type KnobSetting = Record<string, number>;

export interface TuneTask {
  key: TuneKey;
  unit: CostUnit;
  candidates: KnobSetting[];
  defaultKnobs: KnobSetting;
  features(k: KnobSetting): number[];
  /** An analytical estimate of the cost, where the target has one (vta: the chooser's model); the model strategy's first guesses. */
  prior?(k: KnobSetting): number;
  /**
   * The operator's work (multiply-accumulates; the output size for operators without any): the
   * cost model learns log(cost / work), which compares across shapes (the history of other tasks).
   */
  work?: number;
  /** The cost of a setting (lower is better); throws if it cannot be built or run correctly. */
  measure(k: KnobSetting): Promise<number>;
}

/** The log's key of an operator task. */
export function tuneKey(op: string, shape: readonly number[], p: OpParams, target: Target): TuneKey {
  return {
    op,
    shape: [...shape],
    params: { batch: p.batch, groups: p.groups, shift: p.shift ?? null, bias: p.bias, clip: p.clip ?? null },
    target: targetString(target),
    config: target.kind === 'vta' ? { ...target.config.keys } : null,
  };
}

const lg = (x: number): number => Math.log2(1 + Math.max(0, x));

/** MACs, or the output's elements for an operator without any (add, pooling). */
const workOf = (def: OpDefinition): number => Math.max(1, def.macs || def.output.shape.reduce((a, b) => a * b, 1));

/** Every combination of a host strategy's knob candidates, in a fixed order. */
export const knobProduct: (space: KnobSpace) => KnobSetting[] = knobProductOf;

export interface TaskOptions {
  /** vta: virtual threads allowed (false: both thread knobs 1). */
  latencyHiding?: boolean;
  /** cpu: timed warm runs per measurement (the cost is their median; at least 10). */
  runs?: number;
  /** Seed of the operands. */
  seed?: number;
}

export async function makeTask(
  entry: OperatorEntry, shape: readonly number[], params: OpParams, target: Target, d: Derived, opts: TaskOptions = {},
): Promise<TuneTask> {
  const key = tuneKey(entry.name, shape, params, target);
  const seed = opts.seed ?? 1;
  if (target.kind === 'vta') {
    const latencyHiding = opts.latencyHiding ?? true;
    const base: OpInstance = entry.strategies.vta.build(shape, params, target.config, { latencyHiding });
    const asSetting = (k: Knobs): KnobSetting => ({ ...k });
    return {
      key,
      unit: 'cycles',
      work: workOf(entry.define(shape, params, d)),
      candidates: base.knobSpace({ latencyHiding }).map(asSetting),
      defaultKnobs: asSetting(base.knobs),
      features: (s) => vtaFeatures(base, s as unknown as Knobs),
      ...(base.analyticCost ? { prior: (s: KnobSetting) => base.analyticCost!(s as unknown as Knobs).cycles } : {}),
      async measure(s) {
        const inst = entry.strategies.vta.build(shape, params, target.config, { knobs: s as unknown as Knobs, latencyHiding });
        const r = runSync(buildProgram(inst, seed).program, { insnTiming: false });
        if (r.error) throw new CompileError(`knobs ${JSON.stringify(s)}: ${r.error.kind}: ${r.error.message}`);
        return r.counters.cycles;
      },
    };
  }
  if (target.kind === 'opencl' || target.kind === 'cuda') {
    if (target.kind === 'cuda') throw new CompileError('tuning on cuda needs a GPU to time on; tune on --target opencl, or run vtw tune where a GPU is');
    const runs = opts.runs ?? 10;
    if (runs < 10) throw new CompileError(`an opencl measurement is the median of at least 10 warm runs (got ${runs})`);
    const def = entry.define(shape, params, d);
    const strategy = entry.strategies.gpu;
    return {
      key,
      unit: 'ms',
      work: workOf(def),
      candidates: knobProduct(strategy.knobSpace(def, target)),
      defaultKnobs: strategy.defaultKnobs(def, target),
      features: (k) => cpuFeatures(def.output.shape, def.macs, k),
      async measure(k) {
        const compiled = await compileOperator(entry, shape, params, target, d, { knobs: k });
        if (compiled.kind !== 'opencl') throw new CompileError('internal: an opencl target compiled for another kind');
        const run = runOpenclOp(compiled.op, { seed, check: true, runs });
        if (!run.match) throw new CompileError(`knobs ${JSON.stringify(k)}: output differs from the reference: ${run.mismatch}`);
        return median(run.times);
      },
    };
  }
  const runs = opts.runs ?? 10;
  if (runs < 10) throw new CompileError(`a cpu measurement is the median of at least 10 warm runs (got ${runs})`);
  const def = entry.define(shape, params, d);
  const strategy = entry.strategies.cpu;
  return {
    key,
    unit: 'ms',
    work: workOf(def),
    candidates: strategy.candidates?.(def, target) ?? knobProduct(strategy.knobSpace(def, target)),
    defaultKnobs: strategy.defaultKnobs(def, target),
    features: (k) => cpuFeatures(def.output.shape, def.macs, k),
    async measure(k) {
      const compiled = await compileOperator(entry, shape, params, target, d, { knobs: k });
      if (compiled.kind !== 'cpu') throw new CompileError('internal: a cpu target compiled for another kind');
      const run = runCpuOp(compiled.op, { seed, check: true, runs });
      if (!run.match) throw new CompileError(`knobs ${JSON.stringify(k)}: output differs from the reference: ${run.mismatch}`);
      return median(run.times);
    },
  };
}

function vtaFeatures(inst: OpInstance, k: Knobs): number[] {
  const threads = k.oc_nthread * k.h_nthread;
  const f = [
    k.tile_b, k.tile_h, k.tile_w, k.tile_ci, k.tile_co, k.oc_nthread, k.h_nthread, threads,
    k.tile_b * k.tile_h * k.tile_w * k.tile_co, // accumulator tile
    k.tile_ci * k.tile_co, // weight tile per kernel position
    k.tile_h * k.tile_w,
  ].map(lg);
  const c = inst.analyticCost?.(k);
  if (c) f.push(...[c.cycles, c.compute, c.load, c.store, c.fill, c.drain, c.uops, c.sram.inp, c.sram.wgt, c.sram.acc].map(lg), c.load / Math.max(1, c.compute));
  return f;
}

function cpuFeatures(outShape: readonly number[], macs: number, k: KnobSetting): number[] {
  const threads = k.threads ?? 1;
  const f = Object.keys(k).sort().map((n) => lg(k[n]));
  const total = outShape.reduce((a, b) => a * b, 1);
  if (outShape.length === 4 && k.tile_co !== undefined) {
    // conv2d: output [n, co, oh, ow]; a tile is tile_co x tile_h rows of ow, the inner loop runs over ow.
    const [n, co, oh, ow] = outShape;
    const tileH = k.tile_h ?? 1;
    const outer = n * (co / k.tile_co);
    const reduction = macs / total;
    // The shape itself (so the history of other layers transfers), then the plain nest's tiles.
    f.push(lg(co), lg(oh), lg(macs));
    f.push(lg(ow), lg(k.tile_co * tileH * ow * 4), lg(outer * (oh / tileH)), lg(outer / threads), lg(reduction));
    if (k.dot !== undefined) {
      // The dot-product kernel (present on VNNI hosts; defaults when dot = 0, so the layout is fixed):
      // parallel tasks and their balance over the threads, a task's accumulator bytes (16 lanes assumed),
      // the register tile's accumulators and its loads per instruction.
      const tasks = n * Math.ceil(co / (16 * k.co_task)) * Math.ceil(oh / k.rows);
      const accs = k.col_block * k.co_block;
      f.push(lg(tasks), (Math.ceil(tasks / threads) * threads) / tasks, lg(k.co_task * 16 * k.rows * ow * 4), lg(accs), (k.col_block + k.co_block) / accs);
      // A task's weight bytes, reused over its rows (in L1 or in L2?).
      f.push(lg(Math.min(co, k.co_task * 16) * reduction));
    }
  } else if (outShape.length === 2 && k.tile_n !== undefined) {
    // dense: output [m, n]; the reduction over K is the inner loop.
    const [m, n] = outShape;
    f.push(lg(m), lg(n), lg(macs), lg(m * (n / k.tile_n)), lg((m * (n / k.tile_n)) / threads), lg(macs / total));
  } else {
    f.push(lg(total), lg(total / threads));
  }
  return f;
}
