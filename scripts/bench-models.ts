/**
 * Whole models on the host back ends against onnxruntime-node (issue 14: "the LeNet / PaddleOCR
 * classifier models once the models issue lands"): one input at a time, warm (at least 10 runs and
 * 0.3 s first), the median of --runs (>= 20) runs, everything in one process and interleaved per model.
 *   - ours: the int8 graph (quantizeGraph) with its QConv / QDense / QAdd / QMaxPool nodes built
 *     for the cpu (C) or wasm target (compiler/target/graph-host.ts), the float nodes on TS_HOST;
 *   - onnxruntime-node int8: the same quantized graph written as QOperator ONNX (QLinearConv,
 *     QGemm, QLinearAdd, QuantizeLinear / DequantizeLinear; compiler/bench/onnx-quant.ts), the same
 *     power-of-two scales, intraOpNumThreads 1 and 2 (its outputs differ from ours by its rounding:
 *     the table notes how far);
 *   - onnxruntime-node fp32 on the original ONNX file, intraOpNumThreads 1 and 2.
 * Writes build/bench/models.json and build/bench/models.md.
 *
 *   tsx scripts/bench-models.ts [--runs 30]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { renderTextLines } from '../compiler/data/text-lines.ts';
import { loadDataset } from '../compiler/data/idx.ts';
import { runGraph, type HostTarget } from '../compiler/graph/executor.ts';
import type { Graph } from '../compiler/graph/ir.ts';
import type { Tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { median, MIN_TIMED_RUNS } from '../compiler/cpu/op.ts';
import { loadBound } from '../compiler/model/pipeline.ts';
import { ocrGraph } from '../compiler/models/ocr-eval.ts';
import { clsInput, PADDLEOCR_FILES, readPaddleOcrFile } from '../compiler/models/paddleocr.ts';
import { collectStats, loadCalibration } from '../compiler/quant/calibrate.ts';
import { quantizeGraph } from '../compiler/quant/quantize.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { quantizedOnnx } from '../compiler/bench/onnx-quant.ts';
import { parseTarget, type CpuTargetSpec, type WasmTargetSpec } from '../compiler/target/target.ts';
import { loadConfig } from '../src/config/load.ts';

const args = process.argv.slice(2);
const runs = Math.max(MIN_TIMED_RUNS, Number(args[args.indexOf('--runs') + 1] ?? MIN_TIMED_RUNS) || MIN_TIMED_RUNS);
const d = loadConfig('default');

/** Warm-up before timing: at least this many runs and this long (V8 optimizes a generated loop after some calls; onnxruntime gets the same). */
const WARM_RUNS = 10;
const WARM_MS = 300;

/**
 * Median wall time of the timed runs, and the process's CPU time per run over them (all threads:
 * on a loaded machine the wall time also counts the time other jobs held the cores).
 */
async function timeIt(f: () => Promise<unknown> | unknown): Promise<{ ms: number; cpuMs: number }> {
  const w0 = performance.now();
  for (let i = 0; i < WARM_RUNS || performance.now() - w0 < WARM_MS; i++) await f();
  const t: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const c = process.cpuUsage(c0);
  return { ms: median(t), cpuMs: (c.user + c.system) / 1000 / runs };
}

async function ortSession(bytes: Uint8Array, x: Tensor, threads: number) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x.data as Float32Array, x.shape) };
  return { s, run: () => s.run(feeds) };
}

async function ortTime(bytes: Uint8Array, x: Tensor, threads: number): Promise<{ ms: number; cpuMs: number }> {
  const { s, run } = await ortSession(bytes, x, threads);
  const time = await timeIt(run);
  await s.release();
  return time;
}

/** How far onnxruntime's int8 output is from ours (its requantization rounds, VTA's shift floors). */
const agreement: string[] = [];

interface Row { model: string; engine: string; ms: number; cpuMs: number }
const rows: Row[] = [];

async function bench(model: string, float: Graph, samples: Tensor[], x: Tensor, onnx: Uint8Array): Promise<void> {
  const stats = await collectStats(float, samples, TS_HOST, { keep: 1 });
  const { graph } = quantizeGraph(float, stats, { method: 'percentile' });
  const input = new Map([[graph.inputs[0], x]]);
  const hosts: [string, HostTarget][] = [['int8, TS reference kernels', TS_HOST]];
  for (const t of ['wasm', 'cpu']) {
    const h = compiledHost(parseTarget(t, d) as CpuTargetSpec | WasmTargetSpec, d);
    await h.prepare!(graph);
    hosts.push([`int8, ${h.name}`, h]);
  }
  const qonnx = quantizedOnnx(graph);
  {
    const ours = runGraph(graph, input, TS_HOST).outputs.get(graph.outputs[0])!.data as Float32Array;
    const { s, run } = await ortSession(qonnx, x, 1);
    const theirs = (await run())[s.outputNames[0]].data as Float32Array;
    await s.release();
    const argmax = (a: ArrayLike<number>) => Array.prototype.indexOf.call(a, Math.max(...Array.from(a)));
    const diff = Math.max(...Array.from(ours, (v, i) => Math.abs(v - theirs[i])));
    agreement.push(`${model}: onnxruntime int8 vs ours, largest output difference ${diff.toPrecision(3)} (outputs up to ${Math.max(...Array.from(ours, Math.abs)).toPrecision(3)}), same top class: ${argmax(ours) === argmax(theirs) ? 'yes' : 'no'}`);
  }
  for (const [name, h] of hosts) rows.push({ model, engine: name, ...(await timeIt(() => runGraph(graph, input, h))) });
  rows.push({ model, engine: 'fp32, TS host', ...(await timeIt(() => runGraph(float, new Map([[float.inputs[0], x]]), TS_HOST))) });
  for (const threads of [1, 2]) rows.push({ model, engine: `onnxruntime int8, ${threads} thread${threads > 1 ? 's' : ''}`, ...(await ortTime(qonnx, x, threads)) });
  for (const threads of [1, 2]) rows.push({ model, engine: `onnxruntime fp32, ${threads} thread${threads > 1 ? 's' : ''}`, ...(await ortTime(onnx, x, threads)) });
  loadAt.push(loadavg());
}

const load0 = loadavg();
const loadAt: number[][] = [];
// LeNet-5: MNIST test image 0 (pixels 0..255, the model's input contract)
{
  const float = loadBound('models/lenet5.onnx');
  const set = loadDataset('mnist-test:1');
  const x: Tensor = { dtype: 'float32', shape: [1, 1, 28, 28], data: Float32Array.from(set.pixels) };
  await bench('LeNet-5', float, await loadCalibration('mnist-train:200', { shape: [1, 1, 28, 28] }), x, readFileSync('models/lenet5.onnx'));
}
// PaddleOCR text-direction classifier: a rendered line
{
  const lines = renderTextLines(16, { seed: 900 });
  await bench('PaddleOCR classifier', ocrGraph('cls'), lines.slice(1).map((l) => clsInput(l.rgba)), clsInput(lines[0].rgba), readPaddleOcrFile('cls'));
}

const md = [
  `# Whole models on the host (${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model}, ${cpus().length} cores, load average ${load0.map((v) => v.toFixed(1)).join(' ')} at the start, ${loadAt.map((l) => l[0].toFixed(1)).join(' / ')} after each model, median of ${runs} warm runs, batch 1)`,
  '',
  '"ort int8 1t / this" = onnxruntime int8 (the same quantized graph as QOperator ONNX), 1 thread, median time / this row\'s (> 1: this row is faster); likewise for 2 threads and for onnxruntime fp32 on the original model.',
  '',
  '| model | engine | ms (median) | ort int8 1t / this | ort int8 2t / this | ort fp32 1t / this | ort fp32 2t / this | CPU ms per run | ort int8 1t / this, CPU |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const ort = (t: string) => rows.find((o) => o.model === r.model && o.engine === `onnxruntime ${t}`)!;
    const x = (t: string) => `${(ort(t).ms / r.ms).toFixed(2)}×`;
    return `| ${r.model} | ${r.engine} | ${r.ms.toFixed(3)} | ${x('int8, 1 thread')} | ${x('int8, 2 threads')} | ${x('fp32, 1 thread')} | ${x('fp32, 2 threads')} | ${r.cpuMs.toFixed(3)} | ${(ort('int8, 1 thread').cpuMs / r.cpuMs).toFixed(2)}× |`;
  }),
  '',
  ...agreement.map((a) => `- ${a}`),
  '',
].join('\n');
mkdirSync('build/bench', { recursive: true });
writeFileSync('build/bench/models.json', JSON.stringify({ date: new Date().toISOString(), runs, loadavg: load0, loadAfterEachModel: loadAt, agreement, files: { cls: PADDLEOCR_FILES.cls }, rows }, null, 2));
writeFileSync('build/bench/models.md', md);
console.log(md);
