/**
 * Co-simulation benchmark: fresh Verilator build time per preset, and the speed of the Verilated
 * RTL against the TypeScript simulator on the same programs (the conformance suite and a blocked
 * GEMM), measured side by side in one run. Writes build/bench/cosim.json and cosim.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.ts';
import { buildBlockedGemm, conformanceCases } from '../../src/runtime/conformance.ts';
import type { Program } from '../../src/program/container.ts';
import { runSync } from '../ts/engine.ts';
import { VerilatorEngine, buildVerilated } from './engine.ts';

export async function cosimBench(presets = ['ice40-tiny', 'ice40-small', 'default']): Promise<void> {
  const rows: Array<Record<string, number | string>> = [];
  const v = new VerilatorEngine();
  for (const name of presets) {
    const d = loadConfig(name);
    const build = await buildVerilated(d, (m) => process.stderr.write(`${m}\n`), { fresh: true });
    const programs: Program[] = conformanceCases(d).map((c) => c.build(d, 1).program);
    programs.push(buildBlockedGemm(d, { batch: 16 * d.batch, channels: 8 * d.blockIn, block: 2 * d.blockIn, vthreads: 2, compression: true, seed: 1 }).program);
    let tsMs = 0;
    let vMs = 0;
    let cycles = 0;
    for (const p of programs) {
      let t0 = performance.now();
      const a = runSync(p, { insnTiming: false });
      tsMs += performance.now() - t0;
      t0 = performance.now();
      await v.run(p);
      vMs += performance.now() - t0;
      cycles += a.counters.cycles;
    }
    rows.push({
      config: d.variant, build_s: +build.seconds.toFixed(1), programs: programs.length, cycles,
      ts_ms: +tsMs.toFixed(0), verilator_ms: +vMs.toFixed(0), verilator_over_ts: +(vMs / tsMs).toFixed(1),
    });
  }
  const md = [
    `# Co-simulation benchmark (${new Date().toISOString().slice(0, 10)})`, '',
    'Fresh Verilator build per preset; both engines on the conformance suite plus a blocked GEMM (wall time per engine, including process start and I/O for Verilator).', '',
    '| config | build s | programs | simulated cycles | TS ms | Verilator ms | Verilator / TS |', '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.config} | ${r.build_s} | ${r.programs} | ${r.cycles} | ${r.ts_ms} | ${r.verilator_ms} | ${r.verilator_over_ts} |`), '',
  ].join('\n');
  mkdirSync('build/bench', { recursive: true });
  writeFileSync('build/bench/cosim.json', JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
  writeFileSync('build/bench/cosim.md', md);
  console.log(md);
}
