/**
 * How well the knob chooser's analytical model (compiler/ops/conv_knobs.ts, elementwise.ts) tracks
 * the TS simulator: for each configuration and operator shape, the chosen knobs, the model's
 * cycles for them, the simulated cycles and the model's error. (docs/compiler.md, "The chooser's model")
 *
 *   npx tsx scripts/costmodel-accuracy.ts [--configs default,up5k-1x4] [--json]
 */
import { loadConfig } from '../src/config/index.ts';
import { dramSize } from '../src/program/container.ts';
import { table } from '../src/report/table.ts';
import { buildProgram } from '../compiler/ops/op.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { defaultClip } from '../compiler/ops/common.ts';
import { runSync } from '../sim/ts/engine.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const configs = opt('configs', 'default,up5k-1x2,up5k-1x4,docs/results/up5k-1x4/1x4-c-aluii2-serdec.json').split(',');

/** Shapes that fit the 8 KiB DRAM of the UP5K presets (vtw op's defaults: bias, clip 0..max). */
const CASES: [string, number[]][] = [
  ['conv2d', [8, 8, 8, 8, 3, 1, 1]],
  ['conv2d', [8, 8, 16, 16, 1, 0, 1]],
  ['conv2d', [4, 4, 16, 16, 3, 1, 2]],
  ['dense', [4, 64, 16]],
  ['dense', [1, 128, 32]],
  ['maxpool', [8, 8, 8, 3, 1, 2]],
  ['maxpool', [8, 8, 16, 2, 0, 2]],
  ['add', [4, 4, 16]],
  ['add', [4, 8, 8]],
];

const rows: Record<string, unknown>[] = [];
for (const c of configs) {
  const d = loadConfig(c);
  for (const [op, shape] of CASES) {
    const params: OpParams = { batch: 1, groups: 1, bias: true, clip: defaultClip(d) };
    const row: Record<string, unknown> = { config: c.replace(/^.*\//, '').replace(/\.json$/, ''), alu_ii: d.aluII, op, shape: shape.join(',') };
    try {
      const inst = findOperator(op).strategies.vta.build(shape, params, d, {});
      const { program } = buildProgram(inst, 1);
      const r = runSync(program, { insnTiming: false });
      const est = inst.estimate(inst.knobs);
      Object.assign(row, { knobs: inst.knobs, dram: dramSize(program), estimate: est, ...(r.error ? { error: r.error.message } : { cycles: r.counters.cycles, error_pct: +((100 * (est - r.counters.cycles)) / r.counters.cycles).toFixed(1) }) });
    } catch (e) {
      row.error = (e as Error).message;
    }
    rows.push(row);
  }
}
if (args.includes('--json')) console.log(JSON.stringify(rows, null, 2));
else {
  const k = (r: Record<string, unknown>) => (r.knobs ? Object.values(r.knobs as object).join(',') : '-');
  console.log(table(['config', 'ALU_II', 'op', 'shape', 'knobs b,h,w,ci,co,oc,ht', 'DRAM', 'estimate', 'simulated', 'error'],
    rows.map((r) => [r.config, r.alu_ii, r.op, r.shape, k(r), r.dram ?? '-', r.estimate ?? '-', r.cycles ?? String(r.error).slice(0, 60), r.error_pct === undefined ? '-' : `${r.error_pct} %`].map(String))));
}
