/**
 * `npm run fuzz`: a long differential campaign — random legal programs on the TypeScript simulator
 * and the Verilated RTL in lock step, over several configurations. Writes build/fuzz/report.json and
 * report.md; mismatches leave a reproducer program and a waveform in build/fuzz/.
 * Usage: tsx scripts/fuzz.ts [--count N per config] [--seed S] [--configs a,b,c]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/index.ts';
import { progress } from '../src/report/progress.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { BothEngine } from '../sim/compare.ts';
import { TsEngine } from '../sim/ts/engine.ts';
import { VerilatorEngine, buildVerilated } from '../sim/verilator/engine.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const count = Number(opt('count', '2500'));
const seed = Number(opt('seed', '1'));
const configs = opt('configs', 'default,batch2-block8,ice40-small,ice40-tiny').split(',');

mkdirSync('build/fuzz', { recursive: true });
const rows: Array<{ config: string; programs: number; passed: number; failed: number; buildSeconds: number; seconds: number; failures: string[] }> = [];
for (const name of configs) {
  const d = loadConfig(name);
  const build = await buildVerilated(d, (m) => process.stderr.write(`${m}\n`));
  const engine = new BothEngine(new TsEngine(), new VerilatorEngine(), { failDir: `build/fuzz/${name}` });
  const bar = progress(count, `fuzz ${name}`);
  const t0 = performance.now();
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await engine.run(randomProgram(d, seed + i).program);
    if (r.error) failures.push(`seed ${seed + i}: ${r.error.message}`);
    bar.tick(`${failures.length} failed`);
  }
  bar.stop();
  rows.push({ config: d.variant, programs: count, passed: count - failures.length, failed: failures.length, buildSeconds: +build.seconds.toFixed(1), seconds: +((performance.now() - t0) / 1000).toFixed(1), failures: failures.slice(0, 20) });
  console.log(`${d.variant}: ${count - failures.length} passed, ${failures.length} failed`);
}
const total = rows.reduce((n, r) => n + r.programs, 0);
const failed = rows.reduce((n, r) => n + r.failed, 0);
writeFileSync('build/fuzz/report.json', JSON.stringify({ seed, count, rows }, null, 2));
writeFileSync('build/fuzz/report.md', [
  `# Differential fuzzing (TypeScript simulator vs Verilated RTL), seed ${seed}`, '',
  '| config | programs | passed | failed | build s | run s |', '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.config} | ${r.programs} | ${r.passed} | ${r.failed} | ${r.buildSeconds} | ${r.seconds} |`), '',
  ...rows.flatMap((r) => r.failures.map((f) => `- ${r.config}: ${f}`)), '',
].join('\n'));
console.log(`${total - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
