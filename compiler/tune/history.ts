/**
 * The tuner's history (AutoTVM's transfer learning): what earlier measurements of other tasks of
 * the same operator on the same target teach the cost model. A point is a setting's features
 * (computed by that task: compiler/tune/task.ts) and log(cost / work), so a 3x3 layer's
 * milliseconds and a 1x1 layer's compare. `vtw tune --history LOG` reads them from a tuning log;
 * the tuning benchmark passes each layer's trials on to the next layers.
 */
import type { Derived } from '../../src/config/derive.ts';
import { findOperator } from '../ops/registry.ts';
import type { Target } from '../target/target.ts';
import { canon, scheduleKey, type TuneKey, type TuneRecord } from './log.ts';
import { makeTask, type TuneTask } from './task.ts';
import type { HistoryPoint, Trial } from './tuner.ts';

/** History points of a task's measured trials (failed ones teach nothing here). */
export function historyOf(task: TuneTask, trials: readonly Pick<Trial, 'knobs' | 'cost'>[]): HistoryPoint[] {
  const work = task.work ?? 1;
  return trials.filter((t) => Number.isFinite(t.cost) && t.cost > 0).map((t) => ({ features: task.features(t.knobs), y: Math.log(t.cost / work) }));
}

/**
 * History for `task` from a log's records: those of the same operator, target string, unit and
 * (vta) configuration, but another schedule (shape or parameters other than the shift: the task's
 * own records are its log, not its history). Each distinct task is rebuilt (definition only: nothing is compiled or run) for
 * its features; a record whose knobs are not in that task's space is skipped.
 */
export async function historyFromRecords(
  records: readonly TuneRecord[], task: TuneTask, target: Target, d: Derived,
): Promise<{ points: HistoryPoint[]; tasks: number }> {
  const key = task.key;
  const own = scheduleKey(key);
  const mine = records.filter((r) => r.op === key.op && r.target === key.target && r.unit === task.unit && canon(r.config) === canon(key.config) && scheduleKey(r) !== own);
  const groups = new Map<string, TuneRecord[]>();
  for (const r of mine) {
    const k = canon({ shape: r.shape, params: r.params });
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const entry = findOperator(key.op);
  const points: HistoryPoint[] = [];
  for (const group of groups.values()) {
    const r0: TuneKey = group[0];
    const p = r0.params;
    let other: TuneTask;
    try {
      other = await makeTask(entry, r0.shape, { batch: p.batch, groups: p.groups, shift: p.shift ?? undefined, bias: p.bias, clip: p.clip ?? undefined }, target, d);
    } catch {
      continue; // a shape this target cannot build any more: nothing to learn from it
    }
    const space = new Set(other.candidates.map((c) => canon(c)));
    points.push(...historyOf(other, group.filter((r) => space.has(canon(r.knobs)))));
  }
  return { points, tasks: groups.size };
}
