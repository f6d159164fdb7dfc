/**
 * `npm run bench`: speed of the TypeScript simulator, measured side by side in one run, and the
 * tensor compiler's code on the benchmark layers.
 * Simulator: build/bench/sim.json and build/bench/sim.md; each workload is run `--runs` times
 * (default 3), medians are reported. Workloads: a blocked GEMM, ResNet-18 C2, the offloaded
 * convolutions C2-C11 x their counts, and LeNet-5's seven int8 layer programs per image (100 images).
 * Compiler: build/bench/compiler.json and build/bench/compiler.md — ResNet-18 C2-C11 and MobileNet
 * D1-D9 on the default config, with and without latency hiding, and ResNet-18's offloaded sum.
 * Co-design: build/bench/codesign.json and codesign.md — the same layers on default and
 * default-codesign (ALU_REQUANT + GEMM_REQUANT) and the options' area in yosys cells (scripts/bench-codesign.ts;
 * skip the area with --no-area).
 * Co-simulation: build/bench/cosim.json and cosim.md — Verilator build time per preset and the
 * Verilated RTL's speed against the TypeScript simulator on the same programs (skip with --no-cosim).
 * CPU back end: build/bench-cpu.json and docs/benchmarks.md's CPU section — ResNet-18 C1-C11 against
 * onnxruntime-node (compiler/bench/cpu.ts; skip with --no-cpu).
 * Usage: tsx scripts/bench.ts [--runs N] [--quick] [--compiler-only | --sim-only] [--no-cosim] [--no-cpu] [--no-area]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/index.ts';
import type { Program } from '../src/program/container.ts';
import { buildConv2d, conv2dMacs, RESNET18_CONVS } from '../src/workloads/conv2d.ts';
import { RESNET18_OFFLOAD } from '../src/workloads/resnet18.ts';
import { buildBlockedGemm } from '../src/runtime/conformance.ts';
import { runSync } from '../sim/ts/engine.ts';
import { compilerBench } from '../compiler/bench/run.ts';
import { cosimBench } from '../sim/verilator/bench.ts';
import { codesignBench } from './bench-codesign.ts';
import { cpuBench } from '../compiler/bench/cpu.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { compileDense } from '../compiler/ops/dense.ts';
import { compileMaxPool } from '../compiler/ops/elementwise.ts';
import { buildProgram, type OpInstance } from '../compiler/ops/op.ts';
import { defaultShift } from '../compiler/ops/common.ts';

const args = process.argv.slice(2);
if (!args.includes('--sim-only')) await compilerBench({ quick: args.includes('--quick') });
if (!args.includes('--sim-only') && !args.includes('--quick')) await codesignBench({ area: !args.includes('--no-area') });
if (!args.includes('--sim-only') && !args.includes('--no-cpu')) await cpuBench();
if (args.includes('--compiler-only')) process.exit(0);
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
const quick = args.includes('--quick');
const d = loadConfig('default');

interface Row {
  workload: string;
  config: string;
  macs: number;
  cycles: number;
  utilization: number;
  median_ms: number;
  cycles_per_s: number;
  macs_per_s: number;
  /** Wall time of the simulation / time the hardware would take at the config's clock. */
  slowdown_vs_hw: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function measure(workload: string, program: Program, macs: number): Row {
  const times: number[] = [];
  let cycles = 0;
  let util = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = runSync(program, { insnTiming: false });
    times.push(performance.now() - t0);
    if (r.error) throw new Error(`${workload}: ${r.error.message}`);
    cycles = r.counters.cycles;
    util = r.counters.utilization;
  }
  const ms = median(times);
  const hwMs = (cycles / (program.config.clockMhz * 1e6)) * 1e3;
  return {
    workload, config: program.config.variant, macs, cycles, utilization: +util.toFixed(4), median_ms: +ms.toFixed(1),
    cycles_per_s: Math.round(cycles / (ms / 1e3)), macs_per_s: Math.round(macs / (ms / 1e3)), slowdown_vs_hw: +(ms / hwMs).toFixed(2),
  };
}

const rows: Row[] = [];
const gemm = buildBlockedGemm(d, { batch: 256, channels: 256, block: d.blockOut * 4, vthreads: 2, compression: true, seed: 1 });
rows.push(measure('blocked_gemm(256, 256), block 64, 2 threads', gemm.program, 256 * 256 * 256));
const c2 = buildConv2d(d, RESNET18_CONVS[0], { seed: 1 });
rows.push(measure('ResNet-18 C2 (56x56, 64->64, 3x3)', c2.program, c2.macs));

// The whole offloaded part of ResNet-18: each distinct layer measured once, weighted by its count.
if (!quick) {
  let ms = 0, cycles = 0, macs = 0, gemmCycles = 0;
  for (const { shape, count } of RESNET18_OFFLOAD) {
    const b = buildConv2d(d, shape, { seed: 1 });
    const r = measure(shape.name, b.program, conv2dMacs(shape));
    ms += r.median_ms * count;
    cycles += r.cycles * count;
    macs += r.macs * count;
    gemmCycles += r.utilization * r.cycles * count;
  }
  const hwMs = (cycles / (d.clockMhz * 1e6)) * 1e3;
  rows.push({
    workload: 'ResNet-18 offloaded convs (C2-C11 x count)', config: d.variant, macs, cycles, utilization: +(gemmCycles / cycles).toFixed(4),
    median_ms: +ms.toFixed(1), cycles_per_s: Math.round(cycles / (ms / 1e3)), macs_per_s: Math.round(macs / (ms / 1e3)), slowdown_vs_hw: +(ms / hwMs).toFixed(2),
  });
}

// A small int8 model run image by image: LeNet-5's layers as the compiler emits them, one short
// program per layer (the per-run fixed costs matter here); time per image = all seven programs.
if (!quick) {
  const clip: [number, number] = [-128, 127];
  const conv = (h: number, cin: number, cout: number) =>
    compileConv2d({ batch: 1, h, w: h, cin, cout, k: 5, pad: 0, stride: 1, groups: 1, shift: defaultShift(cin * 25, d), bias: true, clip }, d);
  const dense = (k: number, n: number) => compileDense({ m: 1, k, n, shift: defaultShift(k, d), bias: true, clip }, d);
  const pool = (h: number, c: number) => compileMaxPool({ batch: 1, h, w: h, c, k: 2, pad: 0, stride: 2 }, d);
  const layers: OpInstance[] = [conv(28, 1, 6), pool(24, 6), conv(12, 6, 16), pool(8, 16), dense(256, 120), dense(120, 84), dense(84, 10)];
  const programs = layers.map((l) => buildProgram(l).program);
  const images = 100;
  const times: number[] = [];
  let cycles = 0;
  let gemmCycles = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    cycles = 0;
    gemmCycles = 0;
    for (let k = 0; k < images; k++) {
      for (const p of programs) {
        const r = runSync(p, { insnTiming: false });
        if (r.error) throw new Error(`LeNet-5: ${r.error.message}`);
        cycles += r.counters.cycles;
        gemmCycles += r.counters.utilization * r.counters.cycles;
      }
    }
    times.push((performance.now() - t0) / images);
  }
  const util = gemmCycles / cycles;
  cycles /= images;
  const ms = median(times);
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const hwMs = (cycles / (d.clockMhz * 1e6)) * 1e3;
  rows.push({
    workload: 'LeNet-5 int8 layers, per image (7 programs: 2 conv, 2 max-pool, 3 dense)', config: d.variant, macs, cycles, utilization: +util.toFixed(4),
    median_ms: +ms.toFixed(3), cycles_per_s: Math.round(cycles / (ms / 1e3)), macs_per_s: Math.round(macs / (ms / 1e3)), slowdown_vs_hw: +(ms / hwMs).toFixed(2),
  });
}

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : String(n));
const md = [
  `# Simulator benchmark (${new Date().toISOString().slice(0, 10)}, node ${process.version}, median of ${runs})`,
  '',
  '| workload | config | MACs | cycles | GEMM util | median ms | cycles/s | MACs/s | slowdown vs hw |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.workload} | ${r.config} | ${fmt(r.macs)} | ${fmt(r.cycles)} | ${(r.utilization * 100).toFixed(1)} % | ${r.median_ms} | ${fmt(r.cycles_per_s)} | ${fmt(r.macs_per_s)} | ${r.slowdown_vs_hw} |`),
  '',
].join('\n');
mkdirSync('build/bench', { recursive: true });
writeFileSync('build/bench/sim.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, runs, rows }, null, 2));
writeFileSync('build/bench/sim.md', md);
console.log(md);
console.log('wrote build/bench/sim.json and build/bench/sim.md');

if (!args.includes('--no-cosim') && !args.includes('--sim-only')) await cosimBench();
