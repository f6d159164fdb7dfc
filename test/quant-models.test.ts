/**
 * int8 post-training quantization of the real LeNet-5 (models/lenet5.onnx, docs/models.md): calibrated
 * on MNIST training images, evaluated on the first 200 MNIST test images on the TypeScript host; the
 * int8 graph (reference kernels of compiler/graph/quantized.ts) must stay within 1 point of the fp32
 * graph's accuracy and agree with its top-1 on nearly every image. The 10,000-image figures come
 * from scripts/quant-lenet.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadDataset } from '../compiler/data/idx.ts';
import { loadModelFile } from '../compiler/graph/load.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { collectStats, loadCalibration } from '../compiler/quant/calibrate.ts';
import { evaluateImages } from '../compiler/quant/evaluate.ts';
import { quantizeGraph } from '../compiler/quant/quantize.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type CpuTargetSpec, type WasmTargetSpec } from '../compiler/target/target.ts';
import { loadConfig } from '../src/config/load.ts';
import { testNeeding, toolsMissing } from './helpers/tools.ts';

const BATCH = 50;

test('LeNet-5 int8 (max and percentile) within 1 point of fp32 on 200 MNIST test images', async () => {
  const g = loadModelFile('models/lenet5.onnx', { inputShapes: new Map([['input', [BATCH, 1, 28, 28]]]) });
  const stats = await collectStats(g, await loadCalibration('mnist-train:300', { shape: [BATCH, 1, 28, 28] }), TS_HOST, { keep: 1 });
  const set = loadDataset('mnist-test:200');
  const fp32 = evaluateImages(g, set, TS_HOST);
  assert.ok(fp32.accuracy >= 0.97, `fp32 ${fp32.accuracy}`);
  for (const method of ['max', 'percentile'] as const) {
    const { graph, report } = quantizeGraph(g, stats, { method });
    assert.equal(report.layers.filter((l) => l.op === 'QConv' || l.op === 'QDense').map((l) => l.node), ['conv1', 'conv2', 'fc1', 'fc2', 'fc3']);
    const int8 = evaluateImages(graph, set, TS_HOST);
    const agree = int8.predictions.filter((p, i) => p === fp32.predictions[i]).length / set.count;
    assert.ok(Math.abs(int8.accuracy - fp32.accuracy) <= 0.01, `${method}: int8 ${int8.accuracy} vs fp32 ${fp32.accuracy}`);
    assert.ok(agree >= 0.98, `${method}: top-1 agreement ${agree}`);
    for (const l of report.layers) assert.ok(l.cosine > 0.99, `${method} ${l.node}: cosine ${l.cosine}`);
  }
});

// The quantizer's graph on the compiled host targets (a second engine for the same contract): the same logits, bit for bit.
for (const [kind, tool] of [['wasm', 'wabt'], ['cpu', 'cc']] as const) {
  testNeeding(() => toolsMissing(tool))(`LeNet-5 int8 on the ${kind} host target equals the reference kernels bit for bit`, async () => {
    const d = loadConfig('default');
    const g = loadModelFile('models/lenet5.onnx', { inputShapes: new Map([['input', [BATCH, 1, 28, 28]]]) });
    const samples = await loadCalibration('mnist-train:150', { shape: [BATCH, 1, 28, 28] });
    const { graph } = quantizeGraph(g, await collectStats(g, samples.slice(0, 2), TS_HOST, { keep: 1 }), { method: 'max' });
    const host = compiledHost(parseTarget(kind, d) as CpuTargetSpec & WasmTargetSpec, d);
    await host.prepare!(graph);
    const x = new Map([['input', samples[2]]]);
    const want = runGraph(graph, x, TS_HOST).outputs.get('logits')!;
    const got = runGraph(graph, x, host).outputs.get('logits')!;
    assert.equal(Array.from(got.data), Array.from(want.data));
    assert.ok(new Set(want.data).size > 20, 'the logits vary');
  });
}

test.run();
