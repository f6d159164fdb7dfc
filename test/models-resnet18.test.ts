/**
 * ResNet-18 with seeded weights (compiler/models/resnet18.ts): the builder is byte-reproducible;
 * our importer and passes (BatchNorm folded) and the TypeScript host target give onnxruntime-node's
 * logits on a seeded input; on the default configuration the offload rule puts >= 95 % of the MACs
 * on VTA; and its convolutions are the stem plus exactly the layers C2-C11 of compiler/bench/layers.ts
 * (vta-reference Part B §6.4), with their counts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { RESNET18_LAYERS } from '../compiler/bench/layers.ts';
import { loadOnnx } from '../compiler/frontend/onnx.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { staticShape } from '../compiler/graph/ir.ts';
import { analyzeGraph } from '../compiler/graph/offload.ts';
import { runPasses } from '../compiler/graph/passes.ts';
import { convGeometry } from '../compiler/graph/shapes.ts';
import { tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { buildResnet18, RESNET18_INPUT } from '../compiler/models/resnet18.ts';
import { loadConfig } from '../src/config/index.ts';
import { Rng } from '../src/util/rng.ts';

const bytes = buildResnet18();
const graph = runPasses(loadOnnx(bytes, 'resnet18.onnx'), {});

test('the same seed builds the same bytes', () => {
  assert.ok(Buffer.from(buildResnet18()).equals(Buffer.from(bytes)), 'two builds differ');
});

test('imports with BatchNorm folded; our fp32 logits equal onnxruntime-node fp32 on a seeded input', async () => {
  assert.equal(graph.inputs, ['input']);
  assert.equal(staticShape(graph.values.get('input')!), [...RESNET18_INPUT]);
  assert.not.ok(graph.nodes.some((n) => n.op === 'BatchNormalization'), 'BatchNorm left');
  const rng = new Rng(2024);
  const x = tensor('float32', [...RESNET18_INPUT], Array.from({ length: RESNET18_INPUT.reduce((a: number, b: number) => a * b, 1) }, () => 2 * rng.next() - 1));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const want = (await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) })).logits.data as Float32Array;
  const got = runGraph(graph, new Map([['input', x]]), TS_HOST).outputs.get('logits')!;
  assert.equal(got.shape, [1, 1000]);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got.data[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  console.log(`resnet18: max |ours - onnxruntime| ${diff.toExponential(2)}, max |logit| ${scale.toFixed(1)}`);
  // logits of a few units to tens: the weights neither vanish nor blow up
  assert.ok(scale > 1 && scale < 1e3, `max |logit| ${scale}`);
  assert.ok(diff <= 1e-4 * scale, `max |ours - onnxruntime| ${diff} (max |logit| ${scale})`);
});

test('default configuration: >= 95 % of the MACs offload to VTA', () => {
  const r = analyzeGraph(graph, loadConfig('default'));
  // conv 1.81 G MACs: 7x7 stem 118 M, 16 3x3 convs, 3 1x1 downsamples; fc 0.5 M
  assert.ok(r.macs > 1.8e9 && r.macs < 1.83e9, `${r.macs} MACs`);
  assert.ok(r.offloadedFraction >= 0.95, `${(100 * r.offloadedFraction).toFixed(2)} % offloaded`);
});

test('its convolutions are the 7x7 stem and exactly C2-C11 of compiler/bench/layers.ts, with their counts', () => {
  const key = (h: number, cin: number, cout: number, k: number, pad: number, stride: number) => `${h}x${h} ${cin}->${cout} k${k} pad${pad} stride${stride}`;
  const want = new Map<string, number>([[key(224, 3, 64, 7, 3, 2), 1]]);
  for (const l of RESNET18_LAYERS) {
    const s = l.spec;
    want.set(key(s.h, s.cin, s.cout, s.k, s.pad, s.stride), l.count);
  }
  const got = new Map<string, number>();
  for (const n of graph.nodes.filter((m) => m.op === 'Conv')) {
    const x = staticShape(graph.values.get(n.inputs[0])!)!;
    const w = staticShape(graph.values.get(n.inputs[1])!)!;
    const geo = convGeometry(n, x, w);
    assert.is(x[2], x[3]);
    assert.is(geo.G, 1);
    const k = key(x[2], x[1], w[0], geo.KH, geo.PT, geo.SH);
    got.set(k, (got.get(k) ?? 0) + 1);
  }
  assert.equal(Object.fromEntries([...got].sort()), Object.fromEntries([...want].sort()));
});

test.run();
