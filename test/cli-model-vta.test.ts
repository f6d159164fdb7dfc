/**
 * `vtw model compile | run | eval` through the CLI entry point (in-process): LeNet-5 quantized on a
 * few MNIST training images and compiled for `default`; `run` on a PNG prints the same logits as the
 * artifact's quantized graph on the plain reference kernels, and the same top-1 for the .npy of
 * the same image; `eval` on a few test images agrees with onnxruntime. Bad input (a .npy of the
 * wrong shape, a corrupt artifact, an artifact from another configuration, an empty calibration
 * set) exits 1 with one line and leaves no output file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { loadDataset } from '../compiler/data/idx.ts';
import { encodeNpy } from '../compiler/data/npy.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { loadArtifact } from '../compiler/model/artifact.ts';
import { runCli } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-cli-model-vta-'));
const MODEL = 'models/lenet5.onnx';
const artifact = join(tmp, 'lenet.vtwm');

// MNIST test image 0 as a grayscale PNG and as the .npy of the model input (pixels 0..255).
const mnist = loadDataset('mnist-test:1');
const pixels = mnist.pixels.subarray(0, 784);
const pngFile = join(tmp, 'digit.png');
const img = new PNG({ width: 28, height: 28 });
for (let i = 0; i < 784; i++) img.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
writeFileSync(pngFile, PNG.sync.write(img));
const npyFile = join(tmp, 'digit.npy');
writeFileSync(npyFile, encodeNpy({ dtype: 'float32', shape: [1, 1, 28, 28], data: Float32Array.from(pixels) }));

interface RunJson {
  outputs: { name: string; top: { class: number; value: number }[] }[];
  vta_cycles: number;
  host_ms: number;
  offloaded_macs_fraction: number;
  nodes: { name: string; where: string; vta_cycles: number | null }[];
}

const oneLineError = (r: { code: number; stdout: string; stderr: string }, re: RegExp) => {
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
};

test('compile, then run a PNG: logits equal the quantized graph on the reference kernels', async () => {
  const c = await runCli('model', 'compile', MODEL, '--config', 'default', '--calib', 'mnist-train:20', '-o', artifact, '--json');
  assert.is(c.code, 0, c.stderr);
  assert.is(JSON.parse(c.stdout).offloaded_macs_fraction, 1);
  const r = await runCli('model', 'run', artifact, '--input', pngFile, '--pixel-scale', '255', '--top', '10', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as RunJson;
  const m = loadArtifact(artifact);
  const want = runGraph(m.graph, new Map([[m.graph.inputs[0], { dtype: 'float32', shape: [1, 1, 28, 28], data: Float32Array.from(pixels) }]]), TS_HOST).outputs.get('logits')!;
  const byClass = new Map(j.outputs[0].top.map((t) => [t.class, t.value]));
  assert.equal(Array.from(want.data, (_, k) => byClass.get(k)), [...want.data]);
  assert.is(j.outputs[0].top[0].class, mnist.labels[0]);
  assert.ok(j.vta_cycles > 0);
  assert.is(j.vta_cycles, j.nodes.reduce((a, n) => a + (n.vta_cycles ?? 0), 0));
  assert.is(j.offloaded_macs_fraction, 1);
  const n = await runCli('model', 'run', artifact, '--input', npyFile, '--json');
  assert.is(n.code, 0, n.stderr);
  assert.is((JSON.parse(n.stdout) as RunJson).outputs[0].top[0].class, mnist.labels[0]);
  const text = await runCli('model', 'run', artifact, '--input', pngFile, '--pixel-scale', '255');
  assert.match(text.stdout, new RegExp(`logits: top-5 ${mnist.labels[0]} \\(`));
});

test('a layer kept in float (--skip-first) runs on the host and survives the artifact', async () => {
  const f = join(tmp, 'skip.vtwm');
  const c = await runCli('model', 'compile', MODEL, '--config', 'ice40-small', '--calib', 'mnist-train:20', '--skip-first', '-o', f, '--json');
  assert.is(c.code, 0, c.stderr);
  const cj = JSON.parse(c.stdout);
  assert.ok(!cj.vta_nodes.includes('conv1') && cj.host_nodes.includes('conv1'), c.stdout);
  assert.ok(cj.offloaded_macs_fraction > 0.5 && cj.offloaded_macs_fraction < 1);
  const r = await runCli('model', 'run', f, '--input', npyFile, '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as RunJson;
  const m = loadArtifact(f);
  const want = runGraph(m.graph, new Map([[m.graph.inputs[0], { dtype: 'float32', shape: [1, 1, 28, 28], data: Float32Array.from(pixels) }]]), TS_HOST).outputs.get('logits')!;
  assert.is(j.outputs[0].top[0].class, mnist.labels[0]);
  assert.is(j.outputs[0].top[0].value, Math.max(...want.data));
  assert.is(j.nodes.find((n) => n.name === 'conv1')!.where, 'host');
});

test('eval: int8 on VTA against fp32 and onnxruntime', async () => {
  const r = await runCli('model', 'eval', MODEL, '--config', 'default', '--dataset', 'mnist-test:20', '--calib', 'mnist-train:20', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.images, 20);
  assert.is(j.config, 'default');
  assert.is(j.engine, 'ts');
  assert.ok(j.accuracy_fp32 >= 0.9 && j.accuracy_int8 >= 0.85, JSON.stringify(j));
  assert.ok(j.agreement_onnxruntime >= 0.85, JSON.stringify(j));
  assert.ok(j.vta_cycles_per_image > 0 && j.seconds > 0);
});

test('bad input: one line, exit 1, no output file', async () => {
  const wrong = join(tmp, 'wrong.npy');
  writeFileSync(wrong, encodeNpy({ dtype: 'float32', shape: [1, 1, 14, 14], data: new Float32Array(196) }));
  oneLineError(await runCli('model', 'run', artifact, '--input', wrong), /holds a float32\[1,1,14,14\] array; the model's input is float32\[1,1,28,28\]/);
  const cut = join(tmp, 'cut.vtwm');
  const text = readFileSync(artifact, 'utf8');
  writeFileSync(cut, text.slice(0, 1000));
  oneLineError(await runCli('model', 'run', cut, '--input', pngFile), /truncated or corrupt.*vtw model compile/);
  oneLineError(await runCli('model', 'run', artifact, '--input', pngFile, '--config', 'ice40-small'), /compiled for configuration default .*not ice40-small.*--config ice40-small/);
  const out = join(tmp, 'never.vtwm');
  const empty = join(tmp, 'empty');
  await import('node:fs').then((fs) => fs.mkdirSync(empty));
  oneLineError(await runCli('model', 'compile', MODEL, '--calib', empty, '-o', out), /empty|no samples|calib/i);
  assert.not.ok(existsSync(out));
  assert.equal(readdirSync(tmp).filter((f) => f.includes('.tmp')), []);
});

test.run();
