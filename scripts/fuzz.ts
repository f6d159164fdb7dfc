/**
 * `npm run fuzz`: a long differential campaign — random legal programs on the TypeScript simulator
 * and the Verilated RTL in lock step, over several configurations. Writes build/fuzz/report.json and
 * report.md; mismatches leave a reproducer program and a waveform in build/fuzz/CONFIG/seed-SEED/.
 * Usage: tsx scripts/fuzz.ts [--count N per config] [--seed S] [--configs a,b,c]
 *                            [--queue redis://HOST:PORT [--batch N]]
 * With --queue the programs go in batches of --batch (default 250) to `vtw worker` processes through
 * Redis (explore/queue.ts, job kind fuzz-batch; docs/explore.md, "Distributed"): the report is the
 * same, and mismatch reproducers stay in build/fuzz/ on the worker that found them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/index.ts';
import { VtwError } from '../src/errors.ts';
import { progress } from '../src/report/progress.ts';
import { cacheKey } from '../explore/cache.ts';
import { runFuzzBatch, type FuzzBatch, type FuzzBatchResult } from '../explore/fuzz-batch.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const count = Number(opt('count', '2500'));
const seed = Number(opt('seed', '1'));
// the last three: the issue-17 UP5K/HX8K presets (up5k-1x4 with all seven timing-cut keys) and the
// UP5K 1x4 with the first three cuts only, so the campaign covers each FPGA config key (ALU_II,
// FETCH_DECODE_SERIAL, COMPUTE_READ_REG, READ_DONE_REG, TOKEN_PUSH_REG, UOP_ISSUE_REG, MEM_REQ_REG,
// COMPUTE_DONE_REG, ALU_WRITE_REG, FETCH_BUFFER_BRAM, BOARD_MEM_BYTES)
const configs = opt('configs', 'default,batch2-block8,ice40-small,ice40-tiny,up5k-1x4,hx8k-1x4,docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr.json').split(',');
const queue = opt('queue', '');
const batchSize = Number(opt('batch', '250'));

interface Row { config: string; programs: number; passed: number; failed: number; buildSeconds: number; seconds: number; failures: string[] }

/** A row names the config as given (a preset or a file) and its variant: timing keys share variants. */
function rowOf(name: string, results: FuzzBatchResult[]): Row {
  const variant = results[0].variant;
  const programs = results.reduce((n, r) => n + r.programs, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const sum = (f: (r: FuzzBatchResult) => number) => +results.reduce((n, r) => n + f(r), 0).toFixed(1);
  return { config: name === variant ? name : `${name} (${variant})`, programs, passed: programs - failed, failed, buildSeconds: sum((r) => r.buildSeconds), seconds: sum((r) => r.seconds), failures: results.flatMap((r) => r.failures).slice(0, 20) };
}

async function main(): Promise<void> {
  if (!(count >= 1 && Number.isInteger(count)) || !(batchSize >= 1 && Number.isInteger(batchSize))) throw new VtwError('--count and --batch take a positive integer');
  mkdirSync('build/fuzz', { recursive: true });
  const rows: Row[] = [];
  if (queue) {
    const batches: FuzzBatch[] = configs.flatMap((name) => {
      const config = loadConfig(name).keys;
      return Array.from({ length: Math.ceil(count / batchSize) }, (_, k) => ({ name, config, seed: seed + k * batchSize, count: Math.min(batchSize, count - k * batchSize) }));
    });
    const { runOnQueue } = await import('../explore/queue.ts');
    const results: FuzzBatchResult[] = [];
    const bar = progress(count * configs.length, 'fuzz (queue)');
    let failed = 0;
    try {
      // Fresh: a fuzz run tests the code as it is now, so no batch is answered from an earlier run.
      await runOnQueue(queue, batches.map((b) => ({ id: cacheKey({ job: 'fuzz-batch', ...b }), kind: 'fuzz-batch', payload: b })), (i, r) => {
        const res = r as FuzzBatchResult;
        results[i] = res;
        failed += res.failed;
        bar.update?.(results.reduce((n, x) => n + (x?.programs ?? 0), 0), `${failed} failed`);
      }, { fresh: true, what: 'fuzz batches' });
    } finally {
      bar.stop();
    }
    for (const name of configs) {
      const mine = results.filter((_, i) => batches[i].name === name);
      rows.push(rowOf(name, mine));
      console.log(`${rows.at(-1)!.config}: ${rows.at(-1)!.passed} passed, ${rows.at(-1)!.failed} failed`);
    }
  } else {
    for (const name of configs) {
      const d = loadConfig(name);
      const bar = progress(count, `fuzz ${name}`);
      const r = await runFuzzBatch({ name, config: d.keys, seed, count }, (failed) => bar.tick(`${failed} failed`), (m) => process.stderr.write(`${m}\n`));
      bar.stop();
      rows.push(rowOf(name, [r]));
      console.log(`${rows.at(-1)!.config}: ${count - r.failed} passed, ${r.failed} failed`);
    }
  }
  const total = rows.reduce((n, r) => n + r.programs, 0);
  const failed = rows.reduce((n, r) => n + r.failed, 0);
  writeFileSync('build/fuzz/report.json', JSON.stringify({ seed, count, rows }, null, 2));
  writeFileSync('build/fuzz/report.md', [
    `# Differential fuzzing (TypeScript simulator vs Verilated RTL), seed ${seed}${queue ? `, through ${queue}` : ''}`, '',
    '| config | programs | passed | failed | build s | run s |', '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.config} | ${r.programs} | ${r.passed} | ${r.failed} | ${r.buildSeconds} | ${r.seconds} |`), '',
    ...rows.flatMap((r) => r.failures.map((f) => `- ${r.config}: ${f}`)), '',
  ].join('\n'));
  console.log(`${total - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

try {
  await main();
} catch (e) {
  if (!(e instanceof VtwError)) throw e;
  process.stderr.write(`fuzz: error: ${e.message}\n`);
  process.exitCode = 1;
}
