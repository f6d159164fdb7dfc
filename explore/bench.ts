/**
 * Benchmark of `vtw explore`'s worker pool (docs/benchmarks.md, "Design-space exploration"):
 * points per minute with 1 worker (in the vtw process's main thread) and N worker threads.
 *
 *   tsx explore/bench.ts [--workers 1,2,1,2] [--space small|vta] [--budget N] [--cache off|on]
 *
 * --space small (default): eight 1x2 / 1x4 variants with small buffers, yosys generic synthesis and
 * one 8x8x8x8 3x3 convolution each. --space vta: examples/space-vta.json (the generic-area space of
 * issue 16: generic synthesis and ResNet-18 C2-C11 per point) cut to its first `--budget` drawn
 * points (default 8) plus its reference, VTA's default configuration (--budget 16: 14 feasible). --cache off (default): generic synthesis's module cache off, every point
 * synthesizes all its modules (independent work, a sweep of distinct designs); on: the tool's
 * default, a module cache that is empty at the start of each run and shared by its workers.
 * Each run is the command a user types, `vtw explore SPACE --out DIR --workers N --json` (bin/vtw.js,
 * its V8 flags included), in a fresh process with an empty result cache: yosys compiled and warmed
 * up from cold for 1 worker as for N. It reports the sweep's seconds (vtw's summary) and the whole
 * command's, points per minute, the CPU seconds of the process (its threads and its own children
 * included), the load average before and after, and whether its results.jsonl equals the first run's. Writes build/bench/explore-LABEL.json and .md (LABEL:
 * small-cache-off, vta-8-cache-on, ...).
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkSpace } from './space.ts';

export const BENCH_SPACE = {
  name: 'bench-generic-small',
  vary: { LOG_BLOCK: [1, 2], LOG_INP_BUFF_SIZE: [8, 9], LOG_ACC_BUFF_SIZE: [10, 11] },
  fixed: { TARGET: 'sim', LOG_UOP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 9 },
  workloads: ['conv2d:8,8,8,8,3,1,1'],
  measure: { area: 'generic' },
  objectives: { area_cells: 'min', cycles: 'min' },
};

const VTA_SPACE = fileURLToPath(new URL('../examples/space-vta.json', import.meta.url));

interface Run {
  workers: number;
  points: number;
  /** The sweep's own seconds (vtw's summary: from reading the space to the last result). */
  seconds: number;
  /** The whole command, process start to exit (node, tsx, the CLI, the sweep, the report). */
  process_seconds: number;
  points_per_minute: number;
  cpu_seconds: number;
  load_before: number;
  load_after: number;
  /** results.jsonl equals the first run's (the pool must not change a result). */
  same_results?: boolean;
}

/** An option's value; a bad one is one line on stderr and exit status 1. */
function option(name: string, fallback: string, check: (v: string) => boolean, hint: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : fallback;
  if (v !== undefined && check(v)) return v;
  process.stderr.write(`explore/bench.ts: --${name} ${v ?? '(no value)'}: ${hint}\n`);
  process.exit(1);
}

const spaceName = option('space', 'small', (v) => v === 'small' || v === 'vta', 'give small or vta');
const budget = Number(option('budget', '8', (v) => /^[1-9]\d*$/.test(v), 'give a whole number of points, e.g. 8'));
const cacheMode = option('cache', 'off', (v) => v === 'off' || v === 'on', 'give off or on');
const label = `${spaceName}${spaceName === 'vta' ? `-${budget}` : ''}-cache-${cacheMode}`;

function rawSpace(): Record<string, unknown> {
  if (spaceName === 'small') return BENCH_SPACE;
  const raw = JSON.parse(readFileSync(VTA_SPACE, 'utf8')) as Record<string, unknown> & { search: object };
  return { ...raw, search: { ...raw.search, strategy: 'random', budget } };
}

/** CPU seconds of this process's ended child processes (Linux /proc/self/stat cutime + cstime; 0 elsewhere). */
function childCpuSeconds(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

const outOf = (workers: number) => `build/bench/explore-${label}-w${workers}`;
const VTW = fileURLToPath(new URL('../bin/vtw.js', import.meta.url));

/**
 * One run: `vtw explore SPACE --out DIR --workers N --json` in a fresh process, started the way a
 * user starts it (bin/vtw.js through its #! line, so with vtw's V8 flags), the module cache empty.
 */
function runOnce(spaceFile: string, workers: number): Run {
  const out = outOf(workers);
  rmSync(out, { recursive: true, force: true });
  const cache = `${out}-modules`;
  rmSync(cache, { recursive: true, force: true });
  const load = loadavg()[0];
  const children0 = childCpuSeconds();
  const t0 = performance.now();
  const text = execFileSync(VTW, ['explore', spaceFile, '--out', out, '--workers', String(workers), '--json'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, VTW_GENERIC_CACHE: cacheMode === 'off' ? 'off' : cache },
  });
  const processSeconds = (performance.now() - t0) / 1000;
  const summary = JSON.parse(text) as { evaluated: number; seconds: number };
  rmSync(cache, { recursive: true, force: true });
  return {
    workers, points: summary.evaluated, seconds: summary.seconds, process_seconds: +processSeconds.toFixed(2),
    points_per_minute: +((summary.evaluated / summary.seconds) * 60).toFixed(2),
    cpu_seconds: +(childCpuSeconds() - children0).toFixed(1), load_before: +load.toFixed(1), load_after: +loadavg()[0].toFixed(1),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

{
  const counts = option('workers', '1,2,1,2', (v) => /^[1-9]\d*(,[1-9]\d*)*$/.test(v), 'give worker counts separated by commas, e.g. 1,2,1,2').split(',').map(Number);
  mkdirSync('build/bench', { recursive: true });
  const spaceFile = `build/bench/explore-${label}-space.json`;
  const raw = rawSpace();
  checkSpace(raw, `bench space ${label}`); // a broken space is one line here, not one per run
  writeFileSync(spaceFile, JSON.stringify(raw, null, 2) + '\n');
  const rows: Run[] = [];
  let first: string | undefined;
  for (const workers of counts) {
    const r = runOnce(spaceFile, workers);
    const results = readFileSync(`${outOf(workers)}/results.jsonl`, 'utf8');
    first ??= results;
    r.same_results = results === first;
    rows.push(r);
    console.log(JSON.stringify(r));
  }
  const byWorkers = [...new Set(counts)].map((w) => {
    const mine = rows.filter((r) => r.workers === w);
    return { workers: w, runs: mine, ppm: +median(mine.map((r) => r.points_per_minute)).toFixed(2) };
  });
  const base = byWorkers.find((b) => b.workers === 1) ?? byWorkers[0];
  const processMedian = (b: (typeof byWorkers)[number]) => median(b.runs.map((r) => r.process_seconds));
  const md = [
    `Space ${label} (${spaceName === 'small' ? 'explore/bench.ts BENCH_SPACE' : `examples/space-vta.json, its first ${budget} drawn points and VTA's default`}), runs in order ${counts.join(', ')}:`,
    '',
    `| workers | points | seconds (sweep) | seconds (whole command) | CPU seconds | load average before / after | median points / minute | speed-up of the medians | whole command |`,
    `|---:|---:|---|---|---|---|---:|---:|---:|`,
    ...byWorkers.map((b) => `| ${b.workers} | ${b.runs[0].points} | ${b.runs.map((r) => r.seconds).join(', ')} | ${b.runs.map((r) => r.process_seconds).join(', ')} | ${b.runs.map((r) => r.cpu_seconds).join(', ')} | ${b.runs.map((r) => `${r.load_before} / ${r.load_after}`).join(', ')} | ${b.ppm} | ${(b.ppm / base.ppm).toFixed(2)}x | ${(processMedian(base) / processMedian(b)).toFixed(2)}x |`),
    '',
    `Results identical in every run: ${rows.every((r) => r.same_results) ? 'yes' : 'NO'}.`,
    `Machine: ${availableParallelism()} cores, ${new Date().toISOString().slice(0, 16)}Z.`,
  ].join('\n');
  writeFileSync(`build/bench/explore-${label}.json`, JSON.stringify({ date: new Date().toISOString(), space: label, counts, rows }, null, 2) + '\n');
  writeFileSync(`build/bench/explore-${label}.md`, md + '\n');
  console.log(md);
}
