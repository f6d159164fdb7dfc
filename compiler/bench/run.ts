/**
 * The compiler's benchmark (run by `npm run bench`): every layer of RESNET18_LAYERS and
 * MOBILENET_LAYERS compiled for the default configuration with the default knob chooser, with and
 * without latency hiding, run on the TypeScript simulator. Reports cycles, ideal cycles
 * (MACs / (BATCH * BLOCK_IN * BLOCK_OUT)), utilization and DRAM bytes per layer, and ResNet-18's
 * offloaded sum with each layer counted as often as the network uses it.
 *
 * Requantization: `>> 8, clip [0, 127]` (as src/workloads/conv2d.ts); the ResNet-18 sum is also
 * given with VTA's benchmark arithmetic `>> 8, + bias, clip [0, 127]` (vta-reference §6.4).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.ts';
import type { Derived } from '../../src/config/derive.ts';
import { runSync } from '../../sim/ts/engine.ts';
import { compileConv2d } from '../ops/conv2d_op.ts';
import { buildProgram, idealCycles } from '../ops/op.ts';
import type { Knobs } from '../ops/common.ts';
import { MOBILENET_LAYERS, RESNET18_LAYERS, type BenchLayer } from './layers.ts';

export interface LayerResult {
  layer: string;
  network: 'resnet18' | 'mobilenet';
  shape: string;
  count: number;
  ideal_cycles: number;
  cycles: number;
  utilization: number;
  dram_bytes: number;
  knobs: Knobs;
  cycles_no_lh?: number;
  utilization_no_lh?: number;
  cycles_bias?: number;
  compile_ms: number;
}

function measure(d: Derived, l: BenchLayer, opts: { bias: boolean; latencyHiding: boolean }) {
  const t0 = performance.now();
  const inst = compileConv2d({ ...l.spec, shift: 8, bias: opts.bias, clip: [0, 127] }, d, { latencyHiding: opts.latencyHiding });
  const { program } = buildProgram(inst);
  const ms = performance.now() - t0;
  const r = runSync(program, { insnTiming: false });
  if (r.error) throw new Error(`${l.name}: ${r.error.message}`);
  const b = r.counters.bytes;
  return { inst, cycles: r.counters.cycles, ideal: idealCycles(inst), bytes: b.inp + b.wgt + b.acc + b.out + b.uop + b.insn, ms };
}

const shapeOf = (l: BenchLayer) => `${l.spec.h}x${l.spec.w} ${l.spec.cin}->${l.spec.cout} k${l.spec.k} s${l.spec.stride}${l.spec.groups > 1 ? ` g${l.spec.groups}` : ''}`;

export async function compilerBench(opts: { quick?: boolean } = {}): Promise<LayerResult[]> {
  const d = loadConfig('default');
  const rows: LayerResult[] = [];
  const layers = [...RESNET18_LAYERS.map((l) => [l, 'resnet18'] as const), ...(opts.quick ? [] : MOBILENET_LAYERS.map((l) => [l, 'mobilenet'] as const))];
  for (const [l, network] of layers) {
    const m = measure(d, l, { bias: false, latencyHiding: true });
    const row: LayerResult = {
      layer: l.name, network, shape: shapeOf(l), count: l.count, ideal_cycles: m.ideal, cycles: m.cycles,
      utilization: +(m.ideal / m.cycles).toFixed(4), dram_bytes: m.bytes, knobs: m.inst.knobs, compile_ms: Math.round(m.ms),
    };
    if (!opts.quick) {
      const n = measure(d, l, { bias: false, latencyHiding: false });
      row.cycles_no_lh = n.cycles;
      row.utilization_no_lh = +(n.ideal / n.cycles).toFixed(4);
      if (network === 'resnet18') row.cycles_bias = measure(d, l, { bias: true, latencyHiding: true }).cycles;
    }
    rows.push(row);
  }
  const resnet = rows.filter((r) => r.network === 'resnet18');
  const sum = (f: (r: LayerResult) => number | undefined) => resnet.reduce((s, r) => s + (f(r) ?? 0) * r.count, 0);
  const total = { ideal: sum((r) => r.ideal_cycles), cycles: sum((r) => r.cycles), noLh: sum((r) => r.cycles_no_lh), bias: sum((r) => r.cycles_bias), bytes: sum((r) => r.dram_bytes) };
  const M = (n: number) => `${(n / 1e6).toFixed(3)} M`;
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const kn = (k: Knobs) => `b${k.tile_b} h${k.tile_h} w${k.tile_w} ci${k.tile_ci} co${k.tile_co} t${k.oc_nthread}x${k.h_nthread}`;
  const line = (r: LayerResult) =>
    `| ${r.layer} | ${r.shape} | ${r.count} | ${r.ideal_cycles} | ${r.cycles} | ${pct(r.utilization)} | ${r.cycles_no_lh ?? '-'} | ${r.utilization_no_lh !== undefined ? pct(r.utilization_no_lh) : '-'} | ${(r.dram_bytes / 1024).toFixed(0)} KiB | ${kn(r.knobs)} |`;
  const head = '| layer | shape | count | ideal cycles | cycles | utilization | cycles, no latency hiding | utilization, no LH | DRAM bytes | knobs (tiles, threads oc x h) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|';
  const md = [
    `# Compiler benchmark (${new Date().toISOString().slice(0, 10)}, ${d.variant}, TypeScript simulator)`,
    '',
    'Requantization `>> 8, clip [0, 127]`; knobs from the default chooser; "no LH" = one virtual thread.',
    '',
    '## ResNet-18 offloaded convolutions',
    '',
    head,
    ...resnet.map(line),
    `| **sum** (x count) | | | ${M(total.ideal)} | **${M(total.cycles)}** | ${pct(total.ideal / total.cycles)} | ${opts.quick ? '-' : M(total.noLh)} | ${opts.quick ? '-' : pct(total.ideal / total.noLh)} | ${(total.bytes / 1048576).toFixed(1)} MiB | |`,
    '',
    opts.quick ? '' : `With VTA's benchmark arithmetic (\`>> 8, + bias, clip\`): ResNet-18 sum **${M(total.bias)}** (${pct(total.ideal / total.bias)} utilization).`,
    '',
    ...(opts.quick ? [] : ['## MobileNet grouped convolutions', '', head, ...rows.filter((r) => r.network === 'mobilenet').map(line), '']),
  ].join('\n');
  mkdirSync('build/bench', { recursive: true });
  writeFileSync('build/bench/compiler.json', JSON.stringify({ date: new Date().toISOString(), config: d.variant, rows, resnet18: total }, null, 2));
  writeFileSync('build/bench/compiler.md', md);
  console.log(md);
  console.log('wrote build/bench/compiler.json and build/bench/compiler.md\n');
  return rows;
}
