/**
 * A sweep: the points of a space (explore/points.ts), each validated and checked against the
 * constraints, its missing measurements (area, workload layers) computed by the worker pool (or
 * the workers of a Redis queue) and cached, then metrics, energy, Pareto fronts and the output folder: results.jsonl, results.csv,
 * pareto.json and cache.jsonl (docs/explore.md).
 */
import cliProgress from 'cli-progress';
import { join } from 'node:path';
import { ConfigError } from '../src/errors.ts';
import { deriveConfig, type Derived } from '../src/config/index.ts';
import { checkOutputFolder, makeDirs, writeFolder } from '../src/util/folder.ts';
import { cacheKey, ResultCache } from './cache.ts';
import { energyEvents, energyPj, type RunCounts } from './energy.ts';
import { violates } from './expr.ts';
import { dominates, paretoFront } from './pareto.ts';
import { configOf, pointAt, searchIndices } from './points.ts';
import { runTasks } from './pool.ts';
import { REPORT_FILES, reportFiles } from './report.ts';
import type { AreaResult, Outcome, Task, TaskResult } from './evaluate.ts';
import type { Layer, Space } from './space.ts';

export const OUTPUT_FILES = ['results.jsonl', 'results.csv', 'pareto.json', 'cache.jsonl', ...REPORT_FILES];

export interface WorkloadRow {
  workload: string;
  layer: string;
  count: number;
  status: 'ok' | 'error';
  error?: string;
  cycles?: number;
  ideal_cycles?: number;
  utilization?: number;
  dram_bytes?: number;
  energy_uj?: number;
  latency_us?: number;
}

export interface PointRecord {
  id: number;
  point: Record<string, unknown>;
  variant: string | null;
  /** ok: every measurement; failed: a workload layer (or the area) could not be measured; infeasible: not a valid design point. */
  status: 'ok' | 'failed' | 'infeasible';
  reason?: string;
  /** Every measurement came from the cache. */
  cached: boolean;
  metrics: Record<string, number>;
  workloads: WorkloadRow[];
}

export interface ExploreSummary {
  points: number;
  evaluated: number;
  infeasible: number;
  failed: number;
  cached: number;
  pareto: number;
  /** Ids of the points on the front. */
  frontIds: number[];
  /** Where the space's reference point stands (pareto.json has the details). */
  reference?: { id: number; on_front: boolean; dominated_by: number[] };
  seconds: number;
  out: string;
}

export interface ExploreOptions {
  out: string;
  workers: number;
  /** A Redis URL: the points go to the queue there, for `vtw worker` processes (explore/queue.ts), instead of local workers. */
  queue?: string;
  force?: boolean;
  /** Ignore cached results (they are recomputed and replaced). */
  fresh?: boolean;
  /** Show a progress bar (default: on a terminal or with VTW_PROGRESS=1). */
  progress?: boolean;
}

interface Pending {
  id: number;
  point: Record<string, unknown>;
  config: Record<string, unknown>;
  d?: Derived;
  reason?: string;
  areaKey?: string;
  layerKeys: { workload: string; layer: Layer; key: string }[];
  fromCache: boolean;
}

function progressBar(total: number, show: boolean) {
  const asked = process.env.VTW_PROGRESS === '1';
  if (!show || total < 1) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: 'explore [{bar}] {value}/{total} points, ETA {eta_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: true, noTTYOutput: asked, notTTYSchedule: 5000, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { tick: () => bar.increment(1), stop: () => bar.stop() };
}

const round = (x: number, digits = 4) => +x.toFixed(digits);

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Aggregate a point's cached measurements into its record. */
function recordOf(space: Space, p: Pending, cache: ResultCache): PointRecord {
  const rec: PointRecord = { id: p.id, point: p.point, variant: p.d?.variant ?? null, status: 'ok', cached: p.fromCache, metrics: {}, workloads: [] };
  if (!p.d || p.reason) return { ...rec, status: 'infeasible', reason: p.reason, cached: false };
  const d = p.d;
  rec.metrics.multipliers = d.multipliers;
  rec.metrics.sram_bits = Object.values(d.buffBytes).reduce((a, b) => a + b, 0) * 8;
  if (p.areaKey) {
    const a = cache.get<Outcome<AreaResult>>(p.areaKey)!;
    if ('error' in a) return { ...rec, status: a.timed_out ? 'failed' : 'infeasible', reason: `area (${space.measure.area}): ${a.error}` };
    if (a.ok.area_cells !== undefined) rec.metrics.area_cells = a.ok.area_cells;
    if (a.ok.memory_bits !== undefined) rec.metrics.memory_bits = a.ok.memory_bits;
    const ice = a.ok.ice40;
    if (ice) {
      for (const m of ['logic_cells', 'lut4', 'flip_flops', 'dsps', 'ram_blocks', 'spram_blocks', 'fmax_mhz'] as const) {
        const v = ice[m];
        if (typeof v === 'number') rec.metrics[m] = v;
      }
      // a point that does not fit its part is recorded with the numbers of what is over
      if (!ice.fits) return { ...rec, status: 'infeasible', reason: ice.reason };
    }
  }
  let cycles = 0, ideal = 0, dram = 0, pj = 0;
  const failures: string[] = [];
  for (const { workload, layer, key } of p.layerKeys) {
    const r = cache.get<Outcome<RunCounts>>(key)!;
    const row: WorkloadRow = { workload, layer: layer.name, count: layer.count, status: 'ok' };
    if ('error' in r) {
      row.status = 'error';
      row.error = r.error;
      failures.push(`${workload}${layer.name !== workload ? ` ${layer.name}` : ''}: ${r.error}`);
    } else {
      const c = r.ok;
      const e = energyPj(energyEvents(d, c), space.energy);
      const bytes = Object.values(c.bytes).reduce((a, b) => a + b, 0);
      Object.assign(row, {
        cycles: c.cycles, ideal_cycles: c.ideal_cycles, utilization: round(c.ideal_cycles / c.cycles), dram_bytes: bytes,
        energy_uj: round(e / 1e6, 6), latency_us: round(c.cycles / d.clockMhz, 3),
      });
      cycles += c.cycles * layer.count;
      ideal += c.ideal_cycles * layer.count;
      dram += bytes * layer.count;
      pj += e * layer.count;
    }
    rec.workloads.push(row);
  }
  if (failures.length) return { ...rec, status: 'failed', reason: `${failures.length} workload layer(s) failed, first ${failures[0]}` };
  Object.assign(rec.metrics, {
    cycles, latency_us: round(cycles / d.clockMhz, 3), energy_uj: round(pj / 1e6, 6), dram_bytes: dram, utilization: round(ideal / cycles),
  });
  const fmax = rec.metrics.fmax_mhz;
  if (typeof fmax === 'number' && fmax > 0) rec.metrics.latency_fmax_us = round(cycles / fmax, 3);
  return rec;
}

function csvOf(space: Space, records: PointRecord[]): string {
  const metrics = [...new Set(records.flatMap((r) => Object.keys(r.metrics)))];
  const keys = space.vary.map((v) => v.key);
  const head = ['id', 'status', ...keys, 'variant', ...metrics, 'cached', 'reason'];
  const rows = records.map((r) => [r.id, r.status, ...keys.map((k) => r.point[k]), r.variant, ...metrics.map((m) => r.metrics[m]), r.cached, r.reason]);
  return [head, ...rows].map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}

/** Per-workload metrics of a point (its layers x counts), for the per-workload fronts. */
function workloadMetrics(r: PointRecord, workload: string): Record<string, number> {
  const rows = r.workloads.filter((w) => w.workload === workload);
  const sum = (f: (w: WorkloadRow) => number) => rows.reduce((s, w) => s + f(w) * w.count, 0);
  const cycles = sum((w) => w.cycles!);
  return {
    ...r.metrics, cycles, latency_us: sum((w) => w.latency_us!), energy_uj: sum((w) => w.energy_uj!), dram_bytes: sum((w) => w.dram_bytes!),
    utilization: round(sum((w) => w.ideal_cycles!) / cycles),
  };
}

export async function explore(space: Space, opts: ExploreOptions): Promise<{ summary: ExploreSummary; records: PointRecord[] }> {
  const t0 = performance.now();
  // An unreachable queue is one error line before anything is written.
  if (opts.queue) await (await import('./queue.ts')).checkQueue(opts.queue);
  const out = checkOutputFolder(opts.out, OUTPUT_FILES, { force: opts.force });
  makeDirs(out);
  const cacheFile = join(out, 'cache.jsonl');
  const cache = new ResultCache(cacheFile);
  const fresh = new Set<string>();
  const known = (k: string) => !opts.fresh && cache.has(k) || fresh.has(k);

  const pending: Pending[] = [];
  const tasks: Task[] = [];
  for (const id of searchIndices(space)) {
    const point = pointAt(space, id);
    const config = configOf(space, point);
    const p: Pending = { id, point, config, layerKeys: [], fromCache: true };
    pending.push(p);
    try {
      p.d = deriveConfig(config);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      p.reason = `config: ${e.message}`;
      continue;
    }
    const broken = space.constraints.map((c) => violates(c, p.d!)).find(Boolean);
    if (broken) {
      p.reason = `constraint ${broken}`;
      continue;
    }
    const keys = p.d.keys;
    const task: Task = { id, config, layers: [] };
    if (space.measure.area !== 'none') {
      const { area, seed, timeout_s } = space.measure;
      p.areaKey = cacheKey({ kind: 'area', method: area, keys, ...(seed === undefined ? {} : { seed }) });
      // a measurement that ran past a shorter time limit than this sweep's is tried again
      const cut = known(p.areaKey) ? cache.get<Outcome<AreaResult>>(p.areaKey) : undefined;
      const retry = !fresh.has(p.areaKey) && cut !== undefined && 'timed_out' in cut && (timeout_s === undefined || (cut.timed_out ?? 0) < timeout_s);
      if (!known(p.areaKey) || retry) Object.assign(task, { area, ...(seed === undefined ? {} : { seed }), ...(timeout_s === undefined ? {} : { timeout_s }) });
    }
    for (const w of space.workloads) {
      for (const layer of w.layers) {
        const key = cacheKey({ kind: 'layer', keys, spec: layer.spec });
        p.layerKeys.push({ workload: w.name, layer, key });
        if (!known(key) && !task.layers.some((l) => l.key === key)) task.layers.push({ key, layer });
      }
    }
    if (task.area || task.layers.length) {
      p.fromCache = false;
      tasks.push(task);
      // later points with the same configuration reuse these results instead of recomputing them
      if (p.areaKey) fresh.add(p.areaKey);
      for (const l of task.layers) fresh.add(l.key);
    }
  }

  const byId = new Map(pending.map((p) => [p.id, p]));
  const bar = progressBar(tasks.length, opts.progress ?? (process.stderr.isTTY === true || process.env.VTW_PROGRESS === '1'));
  try {
    await runTasks(tasks, { workers: opts.workers, queue: opts.queue, fresh: opts.fresh }, (r: TaskResult) => {
      if (r.area) cache.put(byId.get(r.id)!.areaKey!, r.area);
      for (const l of r.layers) cache.put(l.key, l.result);
      bar.tick();
    });
  } finally {
    bar.stop();
  }

  const records = pending.map((p) => recordOf(space, p, cache));
  const ok = records.filter((r) => r.status === 'ok' && space.objectives.every((o) => Number.isFinite(r.metrics[o.metric])));
  const get = (r: PointRecord, m: string) => r.metrics[m];
  const front = paretoFront(ok, space.objectives, get);
  const brief = (r: PointRecord, metrics = r.metrics) => ({ id: r.id, point: r.point, variant: r.variant, metrics: Object.fromEntries(space.objectives.map((o) => [o.metric, metrics[o.metric]])) });
  const perWorkload: Record<string, unknown> = {};
  if (space.workloads.length > 1) {
    for (const w of space.workloads) {
      // every point that measured this workload, also one failed on another (e.g. a board whose memory cannot hold it)
      const ran = records.filter((r) => {
        const rows = r.workloads.filter((x) => x.workload === w.name);
        return r.status !== 'infeasible' && rows.length > 0 && rows.every((x) => x.status === 'ok');
      });
      const m = new Map(ran.map((r) => [r, workloadMetrics(r, w.name)]));
      const measured = ran.filter((r) => space.objectives.every((o) => Number.isFinite(m.get(r)![o.metric])));
      perWorkload[w.name] = paretoFront(measured, space.objectives, (r, k) => m.get(r)![k]).map((r) => brief(r, m.get(r)));
    }
  }
  const refRec = space.reference === null ? undefined : records.find((r) => r.id === space.reference);
  const reference = refRec && {
    ...brief(refRec),
    status: refRec.status,
    on_front: front.includes(refRec),
    /** Front points at least as good in every objective and better in one. */
    dominated_by: ok.includes(refRec) ? front.filter((f) => dominates(f, refRec, space.objectives, get)).map((f) => f.id) : [],
  };
  const pareto = {
    space: space.name, objectives: space.objectives, front: front.map((r) => brief(r)), ...(reference ? { reference } : {}),
    ...(space.workloads.length > 1 ? { per_workload: perWorkload } : {}),
  };
  writeFolder(out, {
    'results.jsonl': records.map((r) => JSON.stringify(r) + '\n').join(''),
    'results.csv': csvOf(space, records),
    'pareto.json': JSON.stringify(pareto, null, 2) + '\n',
    'cache.jsonl': cache.text(),
    ...(await reportFiles({ records, pareto })),
  }, { force: opts.force });
  const summary: ExploreSummary = {
    points: records.length,
    evaluated: records.filter((r) => r.status !== 'infeasible').length,
    infeasible: records.filter((r) => r.status === 'infeasible').length,
    failed: records.filter((r) => r.status === 'failed').length,
    cached: records.filter((r) => r.status !== 'infeasible' && r.cached).length,
    pareto: front.length,
    frontIds: front.map((r) => r.id),
    ...(reference ? { reference: { id: reference.id, on_front: reference.on_front, dominated_by: reference.dominated_by } } : {}),
    seconds: round((performance.now() - t0) / 1000, 2),
    out: opts.out,
  };
  return { summary, records };
}
