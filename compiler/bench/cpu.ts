/**
 * The CPU back end against onnxruntime-node (run by `npm run bench`, or alone by
 * scripts/bench-cpu.ts): ResNet-18's convolutions C1-C11 (vta-reference Part B §6.4; C1 is the
 * 7×7 stem that stays on the host), our generated C (checked bit-exact against the reference on
 * the way) on 1 and 2 threads, and onnxruntime's QLinearConv (int8 in and out, requantized: the
 * same work as ours), ConvInteger (int8 MACs into int32) and Conv (fp32), each with
 * intraOpNumThreads 1 and 2. Every time is the median of `runs` (>= 20) warm runs, all in the same
 * process. Writes build/bench-cpu.json and the table of docs/benchmarks.md's CPU section.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config/index.ts';
import { median, MIN_TIMED_RUNS, runCpuOp } from '../cpu/op.ts';
import { cCompiler } from '../cpu/build.ts';
import { defaultClip } from '../ops/common.ts';
import { findOperator } from '../ops/registry.ts';
import { compileOperator } from '../target/compile.ts';
import { detectHost } from '../target/host.ts';
import { parseTarget } from '../target/target.ts';
import { convModel, convOutSize, type ConvShape, type OnnxConvKind } from './onnx.ts';
import { RESNET18_LAYERS } from './layers.ts';
import { execa } from 'execa';

const LAYERS: { name: string; s: ConvShape }[] = [
  { name: 'C1', s: { h: 224, w: 224, cin: 3, cout: 64, k: 7, pad: 3, stride: 2 } },
  ...RESNET18_LAYERS.map((l) => ({ name: l.name, s: { h: l.spec.h, w: l.spec.w, cin: l.spec.cin, cout: l.spec.cout, k: l.spec.k, pad: l.spec.pad, stride: l.spec.stride } })),
];
const THREADS = [1, 2] as const;
const ORT_KINDS: readonly OnnxConvKind[] = ['qlinear', 'conv_integer', 'fp32'];

export interface CpuBenchRow {
  layer: string;
  shape: string;
  macs: number;
  threads: number;
  /** Our kernel (default knobs apart from threads), median ms. */
  vtw_ms: number;
  vtw_knobs: Record<string, number>;
  vtw_match: boolean;
  ort_qlinear_ms: number;
  ort_conv_integer_ms: number;
  ort_fp32_ms: number;
  /** onnxruntime's int8 (QLinearConv) time over ours: > 1 means we are faster. */
  speedup_vs_ort_int8: number;
}

async function timeOrt(s: ConvShape, kind: OnnxConvKind, threads: number, runs: number): Promise<number> {
  const { model, input } = convModel(s, kind);
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const feeds = { [input.name]: new ort.Tensor(input.type === 'float' ? 'float32' : 'int8', input.data as Float32Array | Int8Array, input.dims) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await session.release();
  return median(times);
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 3 : 2);

export async function cpuBench(opts: { runs?: number; layers?: string[]; docs?: boolean } = {}): Promise<CpuBenchRow[]> {
  const runs = Math.max(MIN_TIMED_RUNS, opts.runs ?? MIN_TIMED_RUNS);
  const d = loadConfig('default');
  const target = parseTarget('cpu', d);
  const entry = findOperator('conv2d');
  const rows: CpuBenchRow[] = [];
  const loadBefore = loadavg()[0];
  const layers = LAYERS.filter((l) => !opts.layers || opts.layers.includes(l.name));
  for (const { name, s } of layers) {
    const [oh, ow] = convOutSize(s);
    const macs = oh * ow * s.cout * s.cin * s.k * s.k;
    for (const threads of THREADS) {
      const compiled = await compileOperator(entry, [s.h, s.w, s.cin, s.cout, s.k, s.pad, s.stride], { batch: 1, groups: 1, bias: true, clip: defaultClip(d) }, target, d, { knobs: { threads } });
      if (compiled.kind !== 'cpu') throw new Error('internal: cpu target compiled for another kind');
      const run = runCpuOp(compiled.op, { check: true, runs });
      const ortMs = {} as Record<OnnxConvKind, number>;
      for (const kind of ORT_KINDS) ortMs[kind] = await timeOrt(s, kind, threads, runs);
      const vtw = median(run.times);
      const row: CpuBenchRow = {
        layer: name, shape: `${s.h}x${s.w} ${s.cin}->${s.cout} k${s.k} p${s.pad} s${s.stride}`, macs, threads,
        vtw_ms: vtw, vtw_knobs: compiled.op.knobs, vtw_match: run.match === true,
        ort_qlinear_ms: ortMs.qlinear, ort_conv_integer_ms: ortMs.conv_integer, ort_fp32_ms: ortMs.fp32,
        speedup_vs_ort_int8: ortMs.qlinear / vtw,
      };
      rows.push(row);
      console.log(`${name} t${threads}: vtw ${fmt(vtw)} ms${row.vtw_match ? '' : ' MISMATCH'}, ort QLinearConv ${fmt(ortMs.qlinear)}, ConvInteger ${fmt(ortMs.conv_integer)}, fp32 ${fmt(ortMs.fp32)} (x${row.speedup_vs_ort_int8.toFixed(2)})`);
    }
  }
  const machine = await describeMachine(loadBefore);
  mkdirSync('build', { recursive: true });
  writeFileSync('build/bench-cpu.json', JSON.stringify({ date: new Date().toISOString(), runs, machine, rows }, null, 2) + '\n');
  if (opts.docs !== false && !opts.layers) writeDocsSection(rows, runs, machine);
  return rows;
}

interface Machine {
  cpu: string;
  cores: number;
  memory_gib: number;
  features: string[];
  cc: string;
  node: string;
  onnxruntime: string;
  /** 1-minute load average before and after the measurements (other jobs on the same cores). */
  load: [number, number];
}

async function describeMachine(loadBefore: number): Promise<Machine> {
  const cc = cCompiler();
  const v = await execa(cc, ['--version'], { reject: false });
  const ortVersion = (JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }).version;
  return {
    cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30),
    features: detectHost().features, cc: `${cc}: ${v.stdout.split('\n')[0] ?? '?'}`, node: process.version, onnxruntime: ortVersion,
    load: [loadBefore, loadavg()[0]],
  };
}

const medianOf = (xs: number[]) => median(xs);

/** The markdown table, between markers in docs/benchmarks.md (replaced on each full run). */
function writeDocsSection(rows: CpuBenchRow[], runs: number, m: Machine): void {
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${m.cpu} (${m.cores} cores, shared with other jobs; ${m.memory_gib} GiB), ISA features ${m.features.join(', ')};`,
    `${m.cc}; Node ${m.node}; onnxruntime-node ${m.onnxruntime}. Median of ${runs} warm runs, milliseconds; one process, one run.`,
    `1-minute load average ${m.load[0].toFixed(1)} before, ${m.load[1].toFixed(1)} after${Math.max(...m.load) > 1.5 ? ': above 1 other jobs shared the cores, and 2-thread times suffer most' : ' (a quiet machine: nothing else held the cores)'}`,
    `(a worker that loses its core waits for the scheduler; our pool's caller does not wait for a worker that has not started).`,
    `"vtw" is our C back end with its default knobs apart from the thread count (output checked bit-exact against the reference);`,
    `QLinearConv is onnxruntime's int8 convolution with requantization (the same work as ours), ConvInteger its int8 MACs into int32,`,
    `Conv its fp32 convolution. "× int8" = QLinearConv time / ours (> 1: we are faster).`,
    `Our weights are packed once when the kernel is bound to them (outside the timed call, as onnxruntime prepacks its weights at`,
    `session creation); packing the data (+128, 4 channels per word, padding) and unpacking the output to NCHW are inside the timed call.`,
    `Our parallel loops run on a thread pool whose caller never waits for a worker that has not started (compiler/cpu/codegen.ts).`,
    '',
  ];
  for (const t of THREADS) {
    const rs = rows.filter((r) => r.threads === t);
    lines.push(`**${t} thread${t > 1 ? 's' : ''}**`, '', '| layer | shape | MMAC | vtw | ort QLinearConv | ort ConvInteger | ort fp32 | × int8 |', '|---|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rs) {
      lines.push(`| ${r.layer} | ${r.shape} | ${(r.macs / 1e6).toFixed(1)} | ${fmt(r.vtw_ms)}${r.vtw_match ? '' : ' (mismatch)'} | ${fmt(r.ort_qlinear_ms)} | ${fmt(r.ort_conv_integer_ms)} | ${fmt(r.ort_fp32_ms)} | ${r.speedup_vs_ort_int8.toFixed(2)} |`);
    }
    const ratios = rs.map((r) => r.speedup_vs_ort_int8);
    lines.push('', `Median per-layer ratio (QLinearConv / vtw): ${medianOf(ratios).toFixed(2)}; worst layer ${Math.min(...ratios).toFixed(2)} (goal of issue 14: median >= 1.0, none below 0.5).`, '');
  }
  const start = '<!-- bench-cpu:start -->';
  const end = '<!-- bench-cpu:end -->';
  const path = 'docs/benchmarks.md';
  const doc = readFileSync(path, 'utf8');
  const section = `${start}\n${lines.join('\n')}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  const out = i >= 0 && j > i
    ? doc.slice(0, i) + section + doc.slice(j + end.length)
    : `${doc.trimEnd()}\n\n## CPU back end against onnxruntime-node (\`npm run bench\`, section cpu; build/bench-cpu.json)\n\n${section}\n`;
  writeFileSync(path, out);
}
