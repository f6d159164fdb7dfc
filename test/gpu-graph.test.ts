/**
 * The graph executor on a GPU host target (compiler/gpu/graph-host.ts): the quantized operators of
 * a graph run as OpenCL kernels on the first OpenCL device (PoCL on the CPU in CI), every other
 * node on the TypeScript host, and the outputs are the bytes of the plain reference kernels
 * (TS_HOST): a graph with grouped and depthwise convolutions, an add and a padded max-pool (odd
 * shapes, batch 2), and LeNet-5 (convolutions, pooling, dense layers) quantized by `vtw model
 * compile`; `vtw model run --host opencl --json` on an artifact whose convolutions stay on the
 * host, and without an OpenCL platform (one line); `--host cuda`: compiled with nvcc, then one line
 * where there is no GPU, and where there is one (scripts/gpu-check.sh) the same bytes on the GPU.
 * Skipped with the reason where OpenCL (or nvcc) is missing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../compiler/data/idx.ts';
import { encodeNpy } from '../compiler/data/npy.ts';
import { runGraph, type HostTarget } from '../compiler/graph/executor.ts';
import type { Graph, Node, Value } from '../compiler/graph/ir.ts';
import type { Tensor } from '../compiler/graph/tensor.ts';
import { cudaUnavailable } from '../compiler/gpu/cuda.ts';
import { gpuHost } from '../compiler/gpu/graph-host.ts';
import { openclDevices } from '../compiler/gpu/opencl.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { loadArtifact } from '../compiler/model/artifact.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { loadConfig } from '../src/config/load.ts';
import { runCli } from './helpers/cli.ts';
import { testNeeding, toolsMissing } from './helpers/tools.ts';
import { errorLines, runVtw } from './helpers/vtw-child.ts';

const d = loadConfig('default');
const openclTest = testNeeding(() => toolsMissing('opencl'));
const nvccTest = testNeeding(() => toolsMissing('nvcc'));

/** x[2,8,9,7] -> grouped conv (4 groups) -> add x -> max-pool 3x3 / 2, padded -> depthwise conv, stride 2, bias -> float. */
function groupedNet(): Graph {
  const values = new Map<string, Value>();
  const nodes: Node[] = [];
  const val = (name: string, dtype: Value['dtype'], shape: number[], data?: Tensor['data']) =>
    values.set(name, { name, dtype, shape, ...(data ? { const: { dtype: dtype!, shape, data } } : {}) });
  const node = (op: string, inputs: string[], output: string, attrs: Node['attrs']) => nodes.push({ name: output, op, inputs, outputs: [output], attrs });
  val('x', 'float32', [2, 8, 9, 7]);
  val('q', 'int8', [2, 8, 9, 7]);
  node('QuantizeP2', ['x'], 'q', { frac: 4 });
  val('w1', 'int8', [8, 2, 3, 3], Int8Array.from(randomInts(144, -64, 63, 21)));
  val('c1', 'int8', [2, 8, 9, 7]);
  node('QConv', ['q', 'w1', ''], 'c1', { strides: [1, 1], pads: [1, 1, 1, 1], group: 4, shift: 7, clip: [-128, 127], frac: 4 });
  val('a1', 'int8', [2, 8, 9, 7]);
  node('QAdd', ['q', 'c1'], 'a1', { clip: [-128, 127], frac: 4 });
  val('p1', 'int8', [2, 8, 5, 4]);
  node('QMaxPool', ['a1'], 'p1', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], frac: 4 });
  val('w2', 'int8', [8, 1, 3, 3], Int8Array.from(randomInts(72, -64, 63, 22)));
  val('b2', 'int32', [8], randomInts(8, -30, 30, 23));
  val('c2', 'int8', [2, 8, 3, 2]);
  node('QConv', ['p1', 'w2', 'b2'], 'c2', { strides: [2, 2], pads: [1, 1, 1, 1], group: 8, shift: 6, clip: [0, 127], frac: 3 });
  val('y', 'float32', [2, 8, 3, 2]);
  node('DequantizeP2', ['c2'], 'y', { frac: 3 });
  return { name: 'grouped', opset: 17, values, nodes, inputs: ['x'], outputs: ['y', 'a1'] };
}

function groupedInput(seed: number): Map<string, Tensor> {
  return new Map([['x', { dtype: 'float32', shape: [2, 8, 9, 7], data: Float32Array.from(randomInts(2 * 8 * 9 * 7, -800, 800, seed), (v) => v / 100) }]]);
}

/** Every output of `g` on `host` equals the reference kernels' bytes, for each input. */
function sameAsReference(g: Graph, host: HostTarget, inputs: Map<string, Tensor>[]): void {
  for (const [k, x] of inputs.entries()) {
    const want = runGraph(g, x, TS_HOST).outputs;
    const got = runGraph(g, x, host).outputs;
    for (const [name, t] of want) {
      assert.equal([...got.get(name)!.data], [...t.data], `${host.name}, input ${k}: ${name} differs`);
      assert.ok(new Set(t.data).size > 2, `${name}: the data does not exercise the arithmetic`);
    }
  }
}

openclTest('opencl host: grouped and depthwise conv, add, max-pool (batch 2, odd shapes) equal the reference kernels', async () => {
  const g = groupedNet();
  const host = gpuHost({ kind: 'opencl' }, d);
  await host.prepare!(g);
  assert.is(host.info.nodes, 4);
  assert.is(host.info.device, `${openclDevices()[0].name} (${openclDevices()[0].platform})`);
  sameAsReference(g, host, [1, 2, 3].map(groupedInput));
  // The observable form (calibration) binds afresh and reuses no output array: the same bytes.
  const obs = host.observable!()!;
  await obs.prepare!(g);
  sameAsReference(g, obs, [groupedInput(4)]);
});

test('gpu host: unprepared nodes are named, other data widths refused', () => {
  const host = gpuHost({ kind: 'opencl' }, d);
  assert.throws(() => runGraph(groupedNet(), groupedInput(1), host), /node c1 was not prepared/);
  assert.throws(() => gpuHost({ kind: 'opencl' }, loadConfig('{"LOG_INP_WIDTH":2,"LOG_ACC_BUFF_SIZE":16}')), /the quantized graph is int8 x int8 -> int32 -> int8/);
});

// With a GPU (scripts/gpu-check.sh); without one, the no-GPU line is the CLI test's below (one nvcc build fewer).
testNeeding(() => toolsMissing('nvcc') ?? cudaUnavailable() ?? null)('cuda host: grouped and depthwise conv, add, max-pool on the GPU equal the reference kernels', async () => {
  const g = groupedNet();
  const host = gpuHost({ kind: 'cuda', archs: ['sm_80'] }, d);
  await host.prepare!(g);
  assert.is(host.info.nodes, 4);
  sameAsReference(g, host, [1, 2].map(groupedInput));
});

// ---- LeNet-5 through vtw model compile / run: a configuration whose input buffer is too small for
// the convolutions (8 bytes), so conv1 and conv2 stay on the host and run on the OpenCL device.

const tmp = mkdtempSync(join(tmpdir(), 'vtw-gpu-graph-'));
const artifact = join(tmp, 'lenet.vtwm');
const SMALL_INP = '{"TARGET":"ice40","LOG_BLOCK":1,"LOG_UOP_BUFF_SIZE":9,"LOG_INP_BUFF_SIZE":3,"LOG_WGT_BUFF_SIZE":8,"LOG_ACC_BUFF_SIZE":10}';
const mnist = loadDataset('mnist-test:3');
const npy = join(tmp, 'digit.npy');
const digit = (i: number): Tensor => ({ dtype: 'float32', shape: [1, 1, 28, 28], data: Float32Array.from(mnist.pixels.subarray(784 * i, 784 * (i + 1))) });
writeFileSync(npy, encodeNpy(digit(0)));

/** Compile the artifact once, for whichever test needs it first. */
let compiling: Promise<void> | undefined;
const compileArtifact = (): Promise<void> =>
  (compiling ??= runCli('model', 'compile', 'models/lenet5.onnx', '--config', SMALL_INP, '--calib', 'mnist-train:8', '-o', artifact, '--json').then((c) => assert.is(c.code, 0, c.stderr)));

interface RunJson {
  host: string;
  host_device?: string;
  outputs: unknown;
  nodes: { name: string; op: string; where: string }[];
}

openclTest('LeNet-5: every quantized node on the OpenCL device equals the reference kernels; vtw model run --host opencl --json', async () => {
  await compileArtifact();
  const m = loadArtifact(artifact);
  // The whole quantized graph on the GPU host: 2 QConv, 2 QMaxPool, 3 QDense.
  const host = gpuHost({ kind: 'opencl' }, d);
  await host.prepare!(m.graph);
  assert.is(host.info.nodes, 7);
  sameAsReference(m.graph, host, [0, 1, 2].map((i) => new Map([[m.graph.inputs[0], digit(i)]])));
  // The CLI: VTA runs what fits, the convolutions run on the OpenCL device; the same outputs as --host ts.
  const ts = await runCli('model', 'run', artifact, '--input', npy, '--host', 'ts', '--json');
  const cl = await runCli('model', 'run', artifact, '--input', npy, '--host', 'opencl', '--json');
  assert.is(cl.code, 0, cl.stderr);
  const [a, b] = [JSON.parse(ts.stdout) as RunJson, JSON.parse(cl.stdout) as RunJson];
  assert.equal(b.outputs, a.outputs);
  assert.is(b.host, 'opencl');
  assert.is(b.host_device, `${openclDevices()[0].name} (${openclDevices()[0].platform})`);
  assert.is(a.host_device, undefined);
  const convs = b.nodes.filter((n) => n.op === 'QConv');
  assert.equal(convs.map((n) => n.where), ['host', 'host']);
  assert.ok(b.nodes.some((n) => n.where === 'vta'));
});

test('vtw model run --host opencl without an OpenCL platform: one line, exit 1', async () => {
  await compileArtifact();
  // The ICD loader reads its platforms from OCL_ICD_VENDORS: an empty place lists none.
  const r = await runVtw(['model', 'run', artifact, '--input', npy, '--host', 'opencl'], { env: { OCL_ICD_VENDORS: '/nonexistent-vtw-test' } });
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stdout, '');
  assert.equal(errorLines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /^vtw: error: (no OpenCL platform or device found .*pocl-opencl-icd|no OpenCL library)/);
});

nvccTest('vtw model run --host cuda: compiled with nvcc, then one line and exit 1 without a GPU; with one, the outputs of --host ts', async () => {
  await compileArtifact();
  const c = await runCli('model', 'run', artifact, '--input', npy, '--host', 'cuda', '--json');
  const noGpu = cudaUnavailable();
  if (noGpu) {
    assert.is(c.code, 1);
    assert.is(c.stdout, '');
    assert.match(c.stderr, /^vtw: error: host cuda -arch=sm_80: \d+ kernels of 2 quantized nodes compiled with nvcc for sm_80, not run: [^\n]*\n$/);
    assert.ok(c.stderr.includes(noGpu), c.stderr);
    return;
  }
  assert.is(c.code, 0, c.stderr);
  const ts = await runCli('model', 'run', artifact, '--input', npy, '--host', 'ts', '--json');
  assert.equal((JSON.parse(c.stdout) as RunJson).outputs, (JSON.parse(ts.stdout) as RunJson).outputs);
});

test.run();
