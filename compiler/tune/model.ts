/**
 * Tuning a whole model's VTA part (`vtw model tune`): the distinct operator calls of the nodes the
 * partition offloads (same operator, shape and parameters with any shift are one task:
 * log.ts bestScheduleRecord), each tuned on the cycle-exact simulator by the model strategy with
 * every earlier measurement of the operator in the log as history (history.ts), every trial
 * appended to the log; tasks the log already holds are skipped, so a stopped run resumes.
 * `vtw model compile --tuned LOG` (compiler/model/compile.ts) then compiles with the best records.
 */
import { existsSync } from 'node:fs';
import type { Derived } from '../../src/config/derive.ts';
import type { Graph } from '../graph/ir.ts';
import { partitionGraph } from '../graph/partition.ts';
import { findOperator } from '../ops/registry.ts';
import { operatorCall, type OperatorCall } from '../target/operator-call.ts';
import { historyFromRecords } from './history.ts';
import { appendRecord, bestScheduleRecord, checkLogWritable, readLog, scheduleKey, type TuneRecord } from './log.ts';
import { makeTask, tuneKey } from './task.ts';
import { tune, type Trial } from './tuner.ts';

export interface LayerTuning {
  /** The graph nodes that make this call (in graph order). */
  nodes: string[];
  op: string;
  shape: number[];
  /** Cycles of the default chooser's knobs (NaN when the log held the layer and has no trial 0). */
  default: number;
  /** Cycles of the best knobs (never above the default: the default is trial 0). */
  best: number;
  /** Trials measured now (0: the log held the layer). */
  trials: number;
  skipped: boolean;
}

export interface TuneModelOptions {
  log: string;
  trials: number;
  seed: number;
  /** Called at each layer's start with its trial count, and after each trial with the best so far. */
  onLayer?: (layer: { nodes: string[]; op: string; shape: number[]; trials: number }) => void;
  onTrial?: (best: Trial | undefined, defaultCycles: number) => void;
  onLayerEnd?: () => void;
}

/** The distinct VTA operator calls of a quantized graph, in graph order, with the nodes that make them. */
export function vtaCalls(g: Graph, d: Derived): { call: OperatorCall; nodes: string[] }[] {
  const calls = new Map<string, { call: OperatorCall; nodes: string[] }>();
  for (const p of partitionGraph(g, d).nodes) {
    const call = p.where === 'vta' ? operatorCall(p.node, g) : undefined;
    if (!call) continue;
    const k = scheduleKey(tuneKey(call.op, call.shape, call.params, { kind: 'vta', config: d }));
    const seen = calls.get(k);
    if (seen) seen.nodes.push(p.node.name);
    else calls.set(k, { call, nodes: [p.node.name] });
  }
  return [...calls.values()];
}

export async function tuneModel(g: Graph, d: Derived, opts: TuneModelOptions): Promise<LayerTuning[]> {
  checkLogWritable(opts.log);
  const target = { kind: 'vta' as const, config: d };
  const results: LayerTuning[] = [];
  // The log as read once, then kept up to date as trials are appended (later layers learn from earlier ones).
  const records: TuneRecord[] = existsSync(opts.log) ? readLog(opts.log).records : [];
  for (const { call, nodes } of vtaCalls(g, d)) {
    const entry = findOperator(call.op);
    const task = await makeTask(entry, call.shape, call.params, target, d);
    const done = bestScheduleRecord(records, task.key);
    if (done) {
      const own = scheduleKey(task.key);
      const dflt = records.find((r) => r.trial === 0 && scheduleKey(r) === own);
      results.push({ nodes, op: call.op, shape: call.shape, default: dflt?.cost ?? NaN, best: done.cost, trials: 0, skipped: true });
      continue;
    }
    const { points } = await historyFromRecords(records, task, target, d);
    const log = (knobs: Record<string, number>, cost: number, trial: number, strategy: TuneRecord['strategy']) => {
      const r: TuneRecord = { ...task.key, knobs, cost, unit: task.unit, trial, strategy, timestamp: new Date().toISOString() };
      appendRecord(opts.log, r);
      records.push(r);
    };
    const dflt = await task.measure(task.defaultKnobs);
    log(task.defaultKnobs, dflt, 0, 'default');
    opts.onLayer?.({ nodes, op: call.op, shape: call.shape, trials: Math.min(opts.trials, task.candidates.length) });
    const r = await tune(task, {
      trials: opts.trials, strategy: 'model', seed: opts.seed, history: points,
      onTrial: (t, best) => {
        if (Number.isFinite(t.cost)) log(t.knobs, t.cost, t.index, 'model');
        opts.onTrial?.(best, dflt);
      },
    });
    opts.onLayerEnd?.();
    results.push({ nodes, op: call.op, shape: call.shape, default: dflt, best: Math.min(dflt, r.best?.cost ?? Infinity), trials: r.trials.length, skipped: false });
  }
  return results;
}

/** Cycles of all nodes (each call counted once per node that makes it). */
export function modelCycles(layers: readonly LayerTuning[]): { default: number; tuned: number } {
  const sum = (f: (l: LayerTuning) => number) => layers.reduce((a, l) => a + f(l) * l.nodes.length, 0);
  return { default: sum((l) => l.default), tuned: sum((l) => l.best) };
}
