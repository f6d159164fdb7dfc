/**
 * int8 post-training quantization of LeNet-5 (docs/models.md, "Quantization"): calibrate on MNIST
 * training images, quantize with each method (max, percentile, max keeping the first and last
 * layers in float), evaluate fp32 and int8 on the MNIST test images on the TypeScript host, print the
 * accuracies, the per-layer report and the seconds each step took.
 *
 *   tsx scripts/quant-lenet.ts [--images N] [--calib SPEC] [--model FILE.onnx] [--weights mse|max] [--host ts|wasm|cpu]
 *
 * `--host wasm|cpu` runs the int8 graphs on a compiled host target (compiler/target/graph-host.ts)
 * instead of the reference kernels (the same results bit for bit, test/quant-models.test.ts; faster).
 */
import { VtwError } from '../src/errors.ts';
import { progress } from '../src/report/progress.ts';
import { loadDataset } from '../compiler/data/idx.ts';
import { loadModelFile } from '../compiler/graph/load.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { collectStats, loadCalibration } from '../compiler/quant/calibrate.ts';
import { batchFor, evaluateImages, type Evaluation } from '../compiler/quant/evaluate.ts';
import { formatReport, quantizeGraph, type QuantizeOptions, type WeightMethod } from '../compiler/quant/quantize.ts';
import type { Graph } from '../compiler/graph/ir.ts';
import type { HostTarget } from '../compiler/graph/executor.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type CpuTargetSpec, type WasmTargetSpec } from '../compiler/target/target.ts';
import { loadConfig } from '../src/config/load.ts';

const USAGE = 'usage: quant-lenet [--images N] [--calib SPEC] [--model FILE.onnx] [--weights mse|max] [--host ts|wasm|cpu]';

function options(args: string[]): Record<string, string> {
  const known = ['--images', '--calib', '--model', '--weights', '--host'];
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    if (!known.includes(args[i]) || args[i + 1] === undefined) throw new VtwError(`bad option '${args[i]}'; ${USAGE}`);
    out[args[i]] = args[i + 1];
  }
  return out;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const images = Number(o['--images'] ?? 10000);
  if (!Number.isInteger(images) || images < 1 || images > 10000) throw new VtwError(`--images must be a whole number from 1 to 10000; ${USAGE}`);
  const calib = o['--calib'] ?? 'mnist-train:1000';
  const model = o['--model'] ?? 'models/lenet5.onnx';
  const weights = (o['--weights'] ?? 'mse') as WeightMethod;
  if (weights !== 'mse' && weights !== 'max') throw new VtwError(`--weights must be mse or max; ${USAGE}`);
  const hostKind = o['--host'] ?? 'ts';
  if (!['ts', 'wasm', 'cpu'].includes(hostKind)) throw new VtwError(`--host must be ts, wasm or cpu; ${USAGE}`);
  const d = loadConfig('default');
  const int8Host = (): HostTarget => (hostKind === 'ts' ? TS_HOST : compiledHost(parseTarget(hostKind, d) as CpuTargetSpec & WasmTargetSpec, d));

  const batch = batchFor(images);
  const g = loadModelFile(model, { inputShapes: new Map([['input', [batch, 1, 28, 28]]]) });
  const testSet = loadDataset(`mnist-test:${images}`);
  const seconds = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);

  let t0 = performance.now();
  const samples = await loadCalibration(calib, { shape: [batch, 1, 28, 28] });
  const bar = progress(samples.length, `calibrating on ${calib}`);
  const stats = await collectStats(g, samples, TS_HOST, { onProgress: () => bar.tick(), keep: Math.max(1, Math.ceil(200 / batch)) });
  bar.stop();
  console.log(`calibration: ${calib}, ${samples.length * batch} images in batches of ${batch}, ${seconds(t0)} s`);

  const evaluate = (graph: Graph, what: string, host: HostTarget): Evaluation & { seconds: string } => {
    const t = performance.now();
    const b = progress(images, `evaluating ${what}`);
    const e = evaluateImages(graph, testSet, host, (done) => b.update?.(done));
    b.stop();
    return { ...e, seconds: seconds(t) };
  };
  const fp32 = evaluate(g, 'fp32', TS_HOST);
  const pct = (e: Evaluation) => `${(100 * e.accuracy).toFixed(2)} %`;
  console.log(`fp32: ${pct(fp32)} (${fp32.correct}/${images}) on mnist-test:${images}, ${fp32.seconds} s`);

  const configs: [string, QuantizeOptions][] = [
    ['int8 max', { method: 'max', weights }],
    ['int8 percentile', { method: 'percentile', weights }],
    ['int8 max, first+last float', { method: 'max', weights, skipFirst: true, skipLast: true }],
  ];
  const rows: string[] = [`| configuration | accuracy | agreement with fp32 | seconds (quantize and prepare + evaluate) |`, `|---|---|---|---|`];
  rows.push(`| fp32 | ${pct(fp32)} | | ${fp32.seconds} |`);
  for (const [name, opts] of configs) {
    t0 = performance.now();
    const { graph, report } = quantizeGraph(g, stats, opts);
    const host = int8Host();
    await host.prepare?.(graph);
    const qs = seconds(t0);
    const e = evaluate(graph, name, host);
    const agree = e.predictions.filter((p, i) => p === fp32.predictions[i]).length / images;
    console.log(`\n${name} (${host.name} host): ${pct(e)} (${e.correct}/${images}), top-1 agreement with fp32 ${(100 * agree).toFixed(2)} %, quantize ${qs} s, evaluate ${e.seconds} s`);
    process.stdout.write(formatReport(report));
    rows.push(`| ${name} | ${pct(e)} | ${(100 * agree).toFixed(2)} % | ${qs} + ${e.seconds} |`);
  }
  console.log(`\n${rows.join('\n')}`);
}

try {
  await main();
} catch (e) {
  if (!(e instanceof VtwError)) throw e;
  console.error(`quant-lenet: error: ${e.message}`);
  process.exitCode = 1;
}
