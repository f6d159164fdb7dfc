/**
 * The co-design benchmark (part of `npm run bench`; alone: `tsx scripts/bench-codesign.ts [--no-area]`):
 * ResNet-18's offloaded convolutions C2-C11 and MobileNet's grouped convolutions D1-D9 compiled
 * for `default` and `default-codesign` (ALU_REQUANT + GEMM_REQUANT, docs/microarch.md §15) and run
 * on the TypeScript simulator, and the options' area: yosys generic cells of the compute module (the
 * GEMM array blackboxed, it is unchanged) and of the ALU on the default shape, and iCE40 cells of
 * the whole accelerator on the ice40-small preset — without the options, with ALU_REQUANT alone and
 * with both. Writes build/bench/codesign.json and .md
 * (`--area-only`: the area alone, to codesign-area.md / .json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig, PRESETS } from '../src/config/index.ts';
import type { Derived } from '../src/config/derive.ts';
import { runSync } from '../sim/ts/engine.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { buildProgram, idealCycles } from '../compiler/ops/op.ts';
import { MOBILENET_LAYERS, RESNET18_LAYERS, type BenchLayer } from '../compiler/bench/layers.ts';
import { generateDesign } from '../hw/gen.ts';
import { yosys } from '../hw/yosys.ts';
import { progress } from '../src/report/progress.ts';

interface Run { cycles: number; ideal: number; gemm: number; alu: number }

function run(d: Derived, l: BenchLayer, bias: boolean): Run {
  const inst = compileConv2d({ ...l.spec, shift: 8, bias, clip: [0, 127] }, d, { latencyHiding: true });
  const r = runSync(buildProgram(inst).program, { insnTiming: false });
  if (r.error) throw new Error(`${l.name} on ${d.variant}: ${r.error.message}`);
  return { cycles: r.counters.cycles, ideal: idealCycles(inst), gemm: r.counters.gemm_uops, alu: r.counters.alu_uops };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const M = (n: number) => `${(n / 1e6).toFixed(3)} M`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Cells of a yosys `stat` (the last "Number of cells" of the log) and the cell-type lines. */
function statOf(log: string): { cells: number; types: Record<string, number> } {
  const all = [...log.matchAll(/Number of cells:\s+(\d+)/g)];
  const at = log.lastIndexOf('Number of cells:');
  const types: Record<string, number> = {};
  for (const m of log.slice(at).matchAll(/^\s+(\$?[\w$]+)\s+(\d+)$/gm)) types[m[1]] = Number(m[2]);
  return { cells: all.length ? Number(all[all.length - 1][1]) : NaN, types };
}

async function area(d: Derived): Promise<{ compute: number; alu: number }> {
  const { files, manifest } = generateDesign(d, 'generic');
  const reads = Object.keys(files).map((f) => `read_verilog ${f}`).join('; ');
  const [compute, alu, gemm] = ['compute', 'alu', 'gemm'].map((s) => `${manifest.top}_${s}`);
  const c = await yosys(`${reads}; blackbox ${gemm}; hierarchy -top ${compute}; synth -flatten -top ${compute}; stat`, files);
  const a = await yosys(`${reads}; hierarchy -top ${alu}; synth -flatten -top ${alu}; stat`, files);
  return { compute: statOf(c.log).cells, alu: statOf(a.log).cells };
}

async function ice40(d: Derived): Promise<Record<string, number>> {
  const { files, manifest } = generateDesign(d, 'ice40');
  const reads = Object.keys(files).map((f) => `read_verilog ${f}`).join('; ');
  const r = await yosys(`read_verilog -lib +/ice40/cells_sim.v; ${reads}; synth_ice40 -top ${manifest.top}; stat`, files);
  const t = statOf(r.log).types;
  const sum = (re: RegExp) => Object.entries(t).filter(([k]) => re.test(k)).reduce((n, [, v]) => n + v, 0);
  return { lut4: sum(/^SB_LUT4$/), carry: sum(/^SB_CARRY$/), dff: sum(/^SB_DFF/), ram: sum(/^SB_RAM/), mac16: sum(/^SB_MAC16$/) };
}

export async function codesignBench(opts: { area?: boolean; layers?: boolean } = {}): Promise<string> {
  const base = loadConfig('default');
  const cd = loadConfig('default-codesign');
  const layers = opts.layers === false ? [] : [...RESNET18_LAYERS, ...MOBILENET_LAYERS];
  const bar = progress(layers.length, 'co-design bench');
  const rows = layers.map((l) => {
    const resnet = RESNET18_LAYERS.includes(l);
    const r = { layer: l, resnet, base: run(base, l, false), cd: run(cd, l, false), baseBias: resnet ? run(base, l, true) : undefined, cdBias: resnet ? run(cd, l, true) : undefined };
    bar.tick(l.name);
    return r;
  });
  bar.stop();
  const res = rows.filter((r) => r.resnet);
  const sum = (f: (r: (typeof rows)[number]) => number) => res.reduce((s, r) => s + f(r) * r.layer.count, 0);
  const totals = {
    base: sum((r) => r.base.cycles), cd: sum((r) => r.cd.cycles), baseBias: sum((r) => r.baseBias!.cycles), cdBias: sum((r) => r.cdBias!.cycles),
    ideal: sum((r) => r.base.ideal),
  };
  const line = (r: (typeof rows)[number]) =>
    `| ${r.layer.name} | ${r.layer.count} | ${r.base.ideal} | ${r.base.cycles} | ${pct(r.base.ideal / r.base.cycles)} | ${r.cd.cycles} | **${pct(r.cd.ideal / r.cd.cycles)}** | ${r.base.gemm} / ${r.base.alu} | ${r.cd.gemm} / ${r.cd.alu} |` +
    (r.resnet ? ` ${r.baseBias!.cycles} | ${r.cdBias!.cycles} |` : ' - | - |');
  const mob = rows.filter((r) => !r.resnet);
  const md = opts.layers === false ? [] : [
    `### ALU_REQUANT + GEMM_REQUANT: default vs default-codesign (${new Date().toISOString().slice(0, 10)}, TypeScript simulator)`,
    '',
    'Same layers, knobs from the default chooser, requantization `>> 8, clip [0, 127]`; "bias": `>> 8, + bias, clip`. Micro-ops: GEMM (resets included) / ALU.',
    '',
    '| layer | count | ideal cycles | cycles default | util. default | cycles codesign | util. codesign | uops default | uops codesign | cycles default, bias | cycles codesign, bias |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(line),
    `| **ResNet-18 sum** (x count) | | ${M(totals.ideal)} | **${M(totals.base)}** | ${pct(totals.ideal / totals.base)} | **${M(totals.cd)}** | ${pct(totals.ideal / totals.cd)} | | | **${M(totals.baseBias)}** | **${M(totals.cdBias)}** |`,
    '',
    `MobileNet D1-D9 median utilization: default ${pct(median(mob.map((r) => r.base.ideal / r.base.cycles)))}, default-codesign ${pct(median(mob.map((r) => r.cd.ideal / r.cd.cycles)))}.`,
    '',
  ];
  let areaRows: unknown;
  if (opts.area !== false) {
    const rqOnly = loadConfig(JSON.stringify({ TARGET: 'sim', ALU_REQUANT: true }));
    const [a0, aRq, a1] = [await area(base), await area(rqOnly), await area(cd)];
    const smallJson = PRESETS.find((p) => p.name === 'ice40-small')!.json;
    const small = loadConfig(JSON.stringify(smallJson));
    const smallRq = loadConfig(JSON.stringify({ ...smallJson, ALU_REQUANT: true }));
    const smallGrq = loadConfig(JSON.stringify({ ...smallJson, ALU_REQUANT: true, GEMM_REQUANT: true }));
    const [i0, iRq, i1] = [await ice40(small), await ice40(smallRq), await ice40(smallGrq)];
    areaRows = { generic: { base: a0, aluRequant: aRq, codesign: a1 }, ice40: { base: i0, aluRequant: iRq, codesign: i1 } };
    const dl = (x: number, y: number) => `${y - x >= 0 ? '+' : ''}${y - x} (${(((y - x) / x) * 100).toFixed(1)} %)`;
    md.push(
      'Area of the options (yosys generic `synth -flatten`, cells; iCE40: `synth_ice40` of the whole accelerator):',
      '',
      '| design | without | ALU_REQUANT | + GEMM_REQUANT | ALU_REQUANT cost | GEMM_REQUANT cost |',
      '|---|---:|---:|---:|---:|---:|',
      `| default shape: compute module (GEMM array blackboxed), generic cells | ${a0.compute} | ${aRq.compute} | ${a1.compute} | ${dl(a0.compute, aRq.compute)} | ${dl(aRq.compute, a1.compute)} |`,
      `| default shape: tensor ALU (16 lanes x 32 bits), generic cells | ${a0.alu} | ${aRq.alu} | ${a1.alu} | ${dl(a0.alu, aRq.alu)} | ${dl(aRq.alu, a1.alu)} |`,
      ...(['lut4', 'carry', 'dff', 'ram', 'mac16'] as const).map((k) => `| ice40-small (1x4, whole accelerator): SB_${k.toUpperCase()} | ${i0[k]} | ${iRq[k]} | ${i1[k]} | ${dl(i0[k], iRq[k])} | ${dl(iRq[k], i1[k])} |`),
      '',
    );
  }
  mkdirSync('build/bench', { recursive: true });
  const stem = opts.layers === false ? 'build/bench/codesign-area' : 'build/bench/codesign';
  writeFileSync(`${stem}.json`, JSON.stringify({
    date: new Date().toISOString(),
    rows: rows.map((r) => ({ layer: r.layer.name, count: r.layer.count, ideal: r.base.ideal, base: r.base, codesign: r.cd, baseBias: r.baseBias, codesignBias: r.cdBias })),
    resnet18: totals, area: areaRows,
  }, null, 2));
  writeFileSync(`${stem}.md`, md.join('\n'));
  console.log(md.join('\n'));
  return md.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await codesignBench({ area: !process.argv.includes('--no-area'), layers: !process.argv.includes('--area-only') });
}
