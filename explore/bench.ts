/**
 * Benchmark of `vtw explore`'s worker pool (docs/benchmarks.md, "Design-space exploration"):
 * points per minute on a small generic-area space (eight 1x2 / 1x4 variants with small buffers,
 * yosys generic synthesis and one convolution each), measured with 1 worker (in the vtw process)
 * and 2 worker processes, each from an empty cache and with generic synthesis's module cache off
 * (every point synthesizes all its modules: the points are independent work, as the pool sees
 * them in a sweep of distinct designs). Run: tsx explore/bench.ts [--workers 1,2]
 * Writes build/bench/explore.json and explore.md.
 */
import { loadavg, availableParallelism } from 'node:os';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { checkSpace } from './space.ts';
import { explore } from './run.ts';

export const BENCH_SPACE = {
  name: 'bench-generic-small',
  vary: { LOG_BLOCK: [1, 2], LOG_INP_BUFF_SIZE: [8, 9], LOG_ACC_BUFF_SIZE: [10, 11] },
  fixed: { TARGET: 'sim', LOG_UOP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 9 },
  workloads: ['conv2d:8,8,8,8,3,1,1'],
  measure: { area: 'generic' },
  objectives: { area_cells: 'min', cycles: 'min' },
};

const arg = process.argv.indexOf('--workers');
const counts = (arg > 0 ? process.argv[arg + 1] : '1,2').split(',').map(Number);
const space = checkSpace(BENCH_SPACE, 'bench space');
process.env.VTW_GENERIC_CACHE = 'off'; // read by this process and inherited by the workers
const rows: { workers: number; points: number; seconds: number; points_per_minute: number; load_before: number; load_after: number }[] = [];
for (const workers of counts) {
  const out = `build/bench/explore-w${workers}`;
  rmSync(out, { recursive: true, force: true });
  const load = loadavg()[0];
  const { summary } = await explore(space, { out, workers, progress: false });
  const r = {
    workers, points: summary.evaluated, seconds: summary.seconds, points_per_minute: +((summary.evaluated / summary.seconds) * 60).toFixed(2),
    load_before: +load.toFixed(1), load_after: +loadavg()[0].toFixed(1),
  };
  rows.push(r);
  console.log(JSON.stringify(r));
}
const base = rows[0];
const md = [
  `| workers | points | seconds | points / minute | speed-up | load average before / after |`,
  `|---:|---:|---:|---:|---:|---|`,
  ...rows.map((r) => `| ${r.workers} | ${r.points} | ${r.seconds} | ${r.points_per_minute} | ${(r.points_per_minute / base.points_per_minute).toFixed(2)}x | ${r.load_before} / ${r.load_after} |`),
  '',
  `Machine: ${availableParallelism()} cores, ${new Date().toISOString().slice(0, 16)}Z.`,
].join('\n');
mkdirSync('build/bench', { recursive: true });
writeFileSync('build/bench/explore.json', JSON.stringify({ date: new Date().toISOString(), space: BENCH_SPACE, rows }, null, 2));
writeFileSync('build/bench/explore.md', md + '\n');
console.log(md);
