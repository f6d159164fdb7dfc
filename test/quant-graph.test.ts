/**
 * Quantized graphs (compiler/graph/quantized.ts contract): shape/dtype inference and MAC counts of
 * the quantized operators (compiler/graph/ops.ts), which the ONNX importer still refuses; and the
 * quantizer (compiler/quant/): a small random float network quantized follows the contract, its int8
 * output (run on the reference kernels) stays close to the fp32 graph's on data it was not
 * calibrated on, skipFirst/skipLast/keepFloat keep those layers float, bias correction removes each
 * channel's mean error, and bad calibration sets are one line.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadOnnx } from '../compiler/frontend/onnx.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import type { Graph, Node, Value } from '../compiler/graph/ir.ts';
import { nodeMacs } from '../compiler/graph/offload.ts';
import { inferShapes } from '../compiler/graph/passes.ts';
import { roundHalfEven, type Tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { writeNpy } from '../compiler/data/npy.ts';
import { runPasses } from '../compiler/graph/passes.ts';
import { collectStats, loadCalibration, percentileAbs, rangeOf, tapTarget, type CalibrationStats } from '../compiler/quant/calibrate.ts';
import { fracFor, quantizeGraph, type QuantizeOptions } from '../compiler/quant/quantize.ts';
import { correctBiases } from '../compiler/quant/bias-correction.ts';
import { scaleConvChannels, scaleConvInputs } from '../compiler/quant/equalize.ts';
import { buildModel, type InitSpec } from './helpers/onnx-build.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type WasmTargetSpec } from '../compiler/target/target.ts';
import { loadConfig } from '../src/config/load.ts';

/** A hand-built quantized network, every computed value left untyped for inference to fill in. */
function quantizedNetwork(): Graph {
  const values = new Map<string, Value>();
  const nodes: Node[] = [];
  const computed = (name: string) => values.set(name, { name, dtype: null, shape: null });
  const constant = (name: string, t: Tensor) => values.set(name, { name, dtype: t.dtype, shape: t.shape, const: t });
  const w8 = (name: string, shape: number[], seed: number) =>
    constant(name, { dtype: 'int8', shape, data: Int8Array.from(randomInts(shape.reduce((a, b) => a * b, 1), -60, 60, seed)) });
  const node = (op: string, inputs: string[], output: string, attrs: Node['attrs']) => {
    computed(output);
    nodes.push({ name: output, op, inputs, outputs: [output], attrs });
  };
  values.set('x', { name: 'x', dtype: 'float32', shape: [2, 4, 9, 9] });
  node('QuantizeP2', ['x'], 'q', { frac: 5 });
  w8('w1', [8, 4, 3, 3], 1);
  constant('b1', { dtype: 'int32', shape: [8], data: Int32Array.from(randomInts(8, -20, 20, 2)) });
  node('QConv', ['q', 'w1', 'b1'], 'c1', { strides: [2, 2], pads: [1, 1, 1, 1], group: 1, shift: 7, clip: [0, 127], frac: 4 });
  w8('w2', [8, 1, 3, 3], 3);
  node('QConv', ['c1', 'w2', ''], 'c2', { strides: [1, 1], pads: [1, 1, 1, 1], group: 8, shift: 6, clip: [-128, 127], frac: 4 });
  node('QAdd', ['c1', 'c2'], 'a', { clip: [0, 127], frac: 4 });
  node('QMaxPool', ['a'], 'p', { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], frac: 4 });
  node('Flatten', ['p'], 'f', { axis: 1, frac: 4 });
  w8('w3', [10, 32], 4);
  node('QDense', ['f', 'w3', ''], 'd', { shift: 5, clip: [-128, 127], frac: 3 });
  node('DequantizeP2', ['d'], 'y', { frac: 3 });
  return { name: 'q', opset: 13, values, nodes, inputs: ['x'], outputs: ['y'] };
}

test('inference types and shapes every quantized operator as its reference kernel computes them', () => {
  const g = inferShapes(quantizedNetwork());
  const x = Float32Array.from(randomInts(2 * 4 * 81, -100, 100, 9), (v) => v / 32);
  const seen = new Map<string, Tensor>();
  const tap = { name: 'tap', kernelFor: (n: Node, gg: Graph) => {
    const k = TS_HOST.kernelFor(n, gg)!;
    return (m: Node, ins: (Tensor | undefined)[]) => {
      const outs = k(m, ins);
      seen.set(m.outputs[0], outs[0]);
      return outs;
    };
  } };
  runGraph(g, new Map([['x', { dtype: 'float32', shape: [2, 4, 9, 9], data: x }]]), tap);
  for (const n of g.nodes) {
    const v = g.values.get(n.outputs[0])!;
    const t = seen.get(n.outputs[0])!;
    assert.is(v.dtype, t.dtype, `${n.name} dtype`);
    assert.equal(v.shape, t.shape, `${n.name} shape`);
  }
  assert.equal(g.values.get('c1')!.shape, [2, 8, 5, 5]);
  assert.equal(g.values.get('d')!.shape, [2, 10]);
  const macs = Object.fromEntries(g.nodes.map((n) => [n.name, nodeMacs(g, n)]));
  assert.is(macs.c1, 2 * 8 * 5 * 5 * 4 * 9);
  assert.is(macs.c2, 2 * 8 * 5 * 5 * 9);
  assert.is(macs.d, 2 * 10 * 32);
  assert.is(macs.a, 0);
});

test('inference refuses wrong operand types in one line', () => {
  const g = quantizedNetwork();
  g.values.get('w1')!.const = { dtype: 'float32', shape: [8, 4, 3, 3], data: new Float32Array(288) };
  g.values.get('w1')!.dtype = 'float32';
  assert.throws(() => inferShapes(g), /^QConv node c1: input 1 is float32, expected int8$/);
  const h = quantizedNetwork();
  h.values.get('b1')!.const = { dtype: 'int32', shape: [4], data: new Int32Array(4) };
  h.values.get('b1')!.shape = [4];
  assert.throws(() => inferShapes(h), /QConv node c1: bias is \[4\], expected \[8\]/);
});

test('the ONNX importer still refuses the quantized operators (they are not ONNX operators)', () => {
  const bytes = buildModel({
    opset: 13,
    nodes: [{ op: 'QuantizeP2', inputs: ['x'], outputs: ['y'], name: 'qz', attrs: { frac: { i: 3 } } }],
    inputs: [{ name: 'x', dims: [1, 4] }],
    outputs: [{ name: 'y', type: 3 }],
  });
  assert.throws(() => loadOnnx(bytes, 'q.onnx'), /^unsupported operator QuantizeP2 \(node qz, opset 13\)/);
});

// ---------------------------------------------------------------------------------------------
// The quantizer

/** Seeded uniform floats in [-a, a]. */
function uniform(n: number, a: number, seed: number): number[] {
  return Array.from(randomInts(n, -10000, 10000, seed), (v) => (v / 10000) * a);
}

function init(name: string, dims: number[], seed: number): InitSpec {
  const n = dims.reduce((a, b) => a * b, 1);
  const fanIn = dims.length > 1 ? n / dims[0] : 8;
  return { name, type: 1, dims, data: uniform(n, Math.sqrt(3 / fanIn), seed) };
}

/**
 * conv+relu -> conv -> add+relu (residual) -> maxpool -> sigmoid (stays float) -> flatten -> gemm,
 * imported and run through the default passes like any ONNX model.
 */
function floatNetwork(): Graph {
  const bytes = buildModel({
    opset: 13,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], name: 'conv1', attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'], name: 'relu1' },
      { op: 'Conv', inputs: ['r1', 'w2', 'b2'], outputs: ['c2'], name: 'conv2', attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Add', inputs: ['r1', 'c2'], outputs: ['s'], name: 'add' },
      { op: 'Relu', inputs: ['s'], outputs: ['r2'], name: 'relu2' },
      { op: 'MaxPool', inputs: ['r2'], outputs: ['p'], name: 'pool', attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } } },
      { op: 'Sigmoid', inputs: ['p'], outputs: ['sg'], name: 'sigmoid' },
      { op: 'Flatten', inputs: ['sg'], outputs: ['f'], name: 'flatten' },
      { op: 'Gemm', inputs: ['f', 'w3', 'b3'], outputs: ['y'], name: 'fc', attrs: { transB: { i: 1 } } },
    ],
    inputs: [{ name: 'x', dims: [2, 3, 8, 8] }],
    outputs: [{ name: 'y' }],
    initializers: [init('w1', [8, 3, 3, 3], 1), init('b1', [8], 2), init('w2', [8, 8, 3, 3], 3), init('b2', [8], 4), init('w3', [10, 128], 5), init('b3', [10], 6)],
  });
  return runPasses(loadOnnx(bytes, 'net.onnx'));
}

const inputBatch = (seed: number): Tensor => ({ dtype: 'float32', shape: [2, 3, 8, 8], data: Float32Array.from(uniform(384, 2, seed)) });

let cachedStats: CalibrationStats | undefined;
async function calibrated(g: Graph): Promise<CalibrationStats> {
  cachedStats ??= await collectStats(g, Array.from({ length: 16 }, (_, i) => inputBatch(100 + i)), TS_HOST);
  return cachedStats;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** The frac a quantized graph gives each int8 value (the attribute of the node that makes it). */
function fracs(g: Graph): Map<string, number> {
  return new Map(g.nodes.filter((n) => typeof n.attrs.frac === 'number').map((n) => [n.outputs[0], n.attrs.frac as number]));
}

async function quantized(opts: QuantizeOptions) {
  const g = floatNetwork();
  return { g, ...quantizeGraph(g, await calibrated(g), opts) };
}

for (const method of ['max', 'percentile'] as const) {
  test(`quantized network (${method}): structure follows the contract`, async () => {
    const { graph: q } = await quantized({ method });
    assert.equal(q.nodes.map((n) => n.op), ['QuantizeP2', 'QConv', 'QConv', 'QAdd', 'QMaxPool', 'DequantizeP2', 'Sigmoid', 'Flatten', 'QuantizeP2', 'QDense', 'DequantizeP2']);
    assert.equal(q.outputs, ['y']);
    assert.is(q.values.get('y')!.dtype, 'float32');
    assert.is(new Set(q.nodes.map((n) => n.name)).size, q.nodes.length, 'node names are unique');
    const frac = fracs(q);
    for (const n of q.nodes) {
      const ins = n.inputs.map((i) => (i ? q.values.get(i)! : undefined));
      if (n.op === 'QConv' || n.op === 'QDense') {
        assert.is(ins[1]!.const?.dtype, 'int8', `${n.name} weight`);
        assert.is(ins[2]!.const?.dtype, 'int32', `${n.name} bias`);
        const w = ins[1]!.const!.data;
        // the weight frac is not stored: it is what the shift leaves over, and the weights must use the int8 range
        const wFrac = (n.attrs.shift as number) + (n.attrs.frac as number) - frac.get(n.inputs[0])!;
        assert.ok((n.attrs.shift as number) >= 0 && (n.attrs.shift as number) <= 31, `${n.name} shift ${n.attrs.shift}`);
        assert.ok(Math.max(...Array.from(w, Math.abs)) >= 32, `${n.name}: weights use the int8 range (w_frac ${wFrac})`);
      }
      if (n.op === 'QAdd') assert.ok(frac.get(n.inputs[0]) === n.attrs.frac && frac.get(n.inputs[1]) === n.attrs.frac, 'QAdd operands share its frac');
      if (n.op === 'QMaxPool') assert.is(frac.get(n.inputs[0]), n.attrs.frac);
      if (n.op.startsWith('Q') && n.op !== 'QuantizeP2') assert.ok(ins.every((v, i) => !v || i > 0 || v.dtype === 'int8'), `${n.name} reads int8`);
    }
    const relus = q.nodes.filter((n) => n.name === 'conv1' || n.name === 'add');
    for (const n of relus) assert.equal(n.attrs.clip, [0, 127], `${n.name}: fused relu`);
    assert.equal(q.nodes.find((n) => n.name === 'conv2')!.attrs.clip, [-128, 127]);
  });

  test(`quantized network (${method}): int8 output close to fp32 on inputs outside the calibration set`, async () => {
    const { g, graph: q, report } = await quantized({ method });
    for (const seed of [7, 8, 9]) {
      const x = new Map([['x', inputBatch(seed)]]);
      const want = runGraph(g, x, TS_HOST).outputs.get('y')!;
      const got = runGraph(q, x, TS_HOST).outputs.get('y')!;
      const c = cosine(want.data, got.data);
      assert.ok(c > 0.99, `seed ${seed}: cosine ${c}`);
    }
    // the report compares every quantized layer; the data exercises the arithmetic (little saturation)
    assert.equal(report.layers.map((l) => l.node), ['conv1', 'conv2', 'add', 'pool', 'fc']);
    for (const l of report.layers) {
      assert.ok(l.cosine > 0.99, `${l.node}: cosine ${l.cosine}`);
      assert.ok(l.saturated < 0.02, `${l.node}: ${(100 * l.saturated).toFixed(1)} % saturated`);
      assert.ok(l.maxAbsError > 0 && l.maxAbsError < 0.25 * l.range, `${l.node}: max error ${l.maxAbsError} of range ${l.range}`);
    }
  });
}

test("scales 'ratio': real activation fracs (range maps onto 127.5), integer shifts, unclipped weights, and less error than 'pow2'", async () => {
  const { g, graph: q } = await quantized({ method: 'max', scales: 'ratio' });
  const { graph: p2 } = await quantized({ method: 'max' });
  assert.equal(q.nodes.map((n) => n.op), p2.nodes.map((n) => n.op));
  const stats = await calibrated(g);
  const frac = fracs(q);
  // the fc's input, a float value quantized for the layer, shares its frac with nothing: the frac is its own exactly
  const fcIn = q.nodes.find((n) => n.op === 'QuantizeP2' && n.outputs[0].startsWith('f'))!;
  const ownFrac = Math.log2(127.5 / rangeOf(stats.values.get('f')!, 'max'));
  assert.ok(Math.abs((fcIn.attrs.frac as number) - ownFrac) < 1e-9, `fc input frac ${fcIn.attrs.frac} vs ${ownFrac}`);
  assert.ok([...frac.values()].some((f) => !Number.isInteger(f)), 'some frac is not an integer');
  for (const n of q.nodes.filter((n) => n.op === 'QConv' || n.op === 'QDense')) {
    const shift = n.attrs.shift as number;
    assert.ok(Number.isInteger(shift) && shift >= 0 && shift <= 31, `${n.name} shift ${shift}`);
    const wq = Array.from(q.values.get(n.inputs[1])!.const!.data as Int8Array, Math.abs);
    // within 1 bit of the weights' own scale, never clipped (|q| <= 127 by type; 127 only if 127.5 rounded down)
    assert.ok(Math.max(...wq) >= 64, `${n.name}: weights use the top bit (${Math.max(...wq)})`);
  }
  // the same inputs (outside the calibration set): error against fp32, summed over three batches
  let errRatio = 0;
  let errPow2 = 0;
  for (const seed of [7, 8, 9]) {
    const x = new Map([['x', inputBatch(seed)]]);
    const want = runGraph(g, x, TS_HOST).outputs.get('y')!.data;
    const err = (qg: Graph) => {
      const got = runGraph(qg, x, TS_HOST).outputs.get('y')!.data;
      let e = 0;
      for (let i = 0; i < got.length; i++) e += ((got[i] as number) - (want[i] as number)) ** 2;
      return e;
    };
    errRatio += err(q);
    errPow2 += err(p2);
  }
  console.log(`    squared error vs fp32: pow2 ${errPow2.toExponential(3)}, ratio ${errRatio.toExponential(3)}`);
  assert.ok(errRatio < errPow2, `ratio ${errRatio} vs pow2 ${errPow2}`);
});

test('skipFirst / skipLast keep the first / last conv-dense layer in float', async () => {
  const first = (await quantized({ method: 'max', skipFirst: true })).graph;
  assert.is(first.nodes.find((n) => n.name === 'conv1')!.op, 'Conv');
  assert.is(first.nodes.find((n) => n.name === 'conv2')!.op, 'QConv');
  assert.is(first.nodes.find((n) => n.name === 'add')!.op, 'Add', 'one operand is float, so the add stays float');
  assert.is(first.nodes.find((n) => n.name === 'fc')!.op, 'QDense');
  const last = await quantized({ method: 'max', skipLast: true });
  assert.is(last.graph.nodes.find((n) => n.name === 'conv1')!.op, 'QConv');
  assert.is(last.graph.nodes.find((n) => n.name === 'fc')!.op, 'Gemm');
  assert.equal(last.report.float, [{ node: 'fc', op: 'Gemm', reason: 'skipLast' }]);
  const both = (await quantized({ method: 'max', skipFirst: true, skipLast: true })).graph;
  assert.equal(both.nodes.filter((n) => n.op === 'QConv' || n.op === 'QDense').map((n) => n.name), ['conv2']);
  const x = new Map([['x', inputBatch(11)]]);
  const c = cosine(runGraph(last.g, x, TS_HOST).outputs.get('y')!.data, runGraph(both, x, TS_HOST).outputs.get('y')!.data);
  assert.ok(c > 0.99, `skip first+last: cosine ${c}`);
});

test('percentile ranges match the sorted values within a histogram bin', async () => {
  const g = floatNetwork();
  const stats = await calibrated(g);
  // recompute conv2's output exactly on the same calibration inputs and sort |x|
  const all: number[] = [];
  for (let i = 0; i < 16; i++) {
    runGraph(g, new Map([['x', inputBatch(100 + i)]]), { name: 'tap', kernelFor: (n) => {
      const k = TS_HOST.kernelFor(n, g)!;
      return (m, ins) => {
        const outs = k(m, ins);
        if (m.outputs[0] === 'c2') all.push(...Array.from(outs[0].data, Math.abs));
        return outs;
      };
    } });
  }
  all.sort((a, b) => a - b);
  const s = stats.values.get('c2')!;
  assert.is(s.absMax, all[all.length - 1]);
  for (const p of [50, 90, 99, 99.9]) {
    const exact = all[Math.ceil((p / 100) * all.length) - 1];
    const got = percentileAbs(s, p);
    assert.ok(got >= exact && got <= exact * 2 ** (1 / 64) * 1.0001, `p${p}: ${got} vs exact ${exact}`);
  }
});

test("'mse' ranges pick the power-of-two scale of (nearly) least squared int8 error on the values themselves", async () => {
  // a heavy-tailed value: mostly small, a few large outliers, so max |x| wastes bits and clipping pays
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const values = Float32Array.from({ length: 20000 }, (_, i) => (i % 1000 === 0 ? 40 * rnd() : (rnd() - 0.5) * 2));
  const g = runPasses(loadOnnx(buildModel({
    opset: 13,
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'], name: 'relu' }],
    inputs: [{ name: 'x', dims: [1, values.length] }],
    outputs: [{ name: 'r' }],
  }), 'mse.onnx'));
  const stats = await collectStats(g, [{ dtype: 'float32', shape: [1, values.length], data: values }], TS_HOST);
  const err = (f: number) => values.reduce((e, v) => e + (Math.max(-128, Math.min(127, roundHalfEven(v * 2 ** f))) * 2 ** -f - v) ** 2, 0);
  const chosen = fracFor(rangeOf(stats.values.get('x')!, 'mse'));
  const fracs = Array.from({ length: 8 }, (_, i) => fracFor(40) + i);
  const best = Math.min(...fracs.map(err));
  assert.ok(chosen > fracFor(rangeOf(stats.values.get('x')!, 'max')), `mse clips the outliers (frac ${chosen})`);
  assert.ok(err(chosen) <= best * 1.05, `frac ${chosen}: error ${err(chosen)} vs the best ${best} (fracs ${fracs.join(', ')})`);
});

test('an output finer than its accumulator takes the accumulator frac (shifts never go negative); bad options are one line', async () => {
  // y = x - 10 for x in [10, 10.1]: the input needs frac 3, the identity weight frac 6, the output alone would take 10
  const bytes = buildModel({
    opset: 13,
    nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], name: 'fc' }],
    inputs: [{ name: 'x', dims: [4, 2] }],
    outputs: [{ name: 'y' }],
    initializers: [{ name: 'w', type: 1, dims: [2, 2], data: [1, 0, 0, 1] }, { name: 'b', type: 1, dims: [2], data: [-10, -10] }],
  });
  const g = runPasses(loadOnnx(bytes, 'fine.onnx'));
  const x = (seed: number): Tensor => ({ dtype: 'float32', shape: [4, 2], data: Float32Array.from(randomInts(8, 0, 100, seed), (v) => 10 + v / 1000) });
  const stats = await collectStats(g, [x(1), x(2), x(3)], TS_HOST);
  const { graph } = quantizeGraph(g, stats, { method: 'max' });
  const fc = graph.nodes.find((n) => n.op === 'QDense')!;
  const q = graph.nodes.find((n) => n.op === 'QuantizeP2')!;
  assert.is(q.attrs.frac, 3);
  assert.is(fc.attrs.shift, 0);
  assert.is(fc.attrs.frac, 9, 'in_frac 3 + w_frac 6');
  assert.throws(() => quantizeGraph(g, stats, { method: 'percentile', percentile: 101 }), /^--percentile 101: must be above 0 and at most 100$/);
  const partial = { ...stats, values: new Map([...stats.values].filter(([k]) => k !== 'y')) };
  assert.throws(() => quantizeGraph(g, partial, { method: 'max' }), /^quantize: the calibration statistics have no range for value y/);
});

function throwsLine(fn: () => unknown, pattern: RegExp): Promise<void> {
  return Promise.resolve()
    .then(fn)
    .then(
      () => assert.unreachable(`expected an error matching ${pattern}`),
      (e: Error) => {
        assert.not.ok(e.message.includes('\n'), e.message);
        assert.match(e.message, pattern);
      },
    );
}

test('calibration sets: .npy folder, batch file and image folder load; empty sets and bad specs are one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-calib-'));
  try {
    const one = (seed: number): Tensor => ({ dtype: 'float32', shape: [1, 3, 8, 8], data: Float32Array.from(uniform(192, 1, seed)) });
    mkdirSync(join(dir, 'npys'));
    for (let i = 0; i < 5; i++) writeNpy(join(dir, 'npys', `s${i}.npy`), one(i));
    const batches = await loadCalibration(join(dir, 'npys'), { shape: [2, 3, 8, 8] });
    assert.is(batches.length, 2, 'five samples make two full batches of 2');
    assert.equal(Array.from(batches[1].data.subarray(0, 192)), Array.from(one(2).data));
    writeNpy(join(dir, 'batch.npy'), { dtype: 'uint8', shape: [4, 3, 8, 8], data: Uint8Array.from(randomInts(768, 0, 255, 3)) });
    const fromBatch = await loadCalibration(join(dir, 'batch.npy'), { shape: [1, 3, 8, 8] });
    assert.is(fromBatch.length, 4);
    assert.is(fromBatch[3].dtype, 'float32');
    mkdirSync(join(dir, 'empty'));
    await throwsLine(() => loadCalibration(join(dir, 'empty'), { shape: [1, 3, 8, 8] }), /empty calibration set/);
    // a folder of images and .npy files: every image becomes one sample (CHW, value / 255 * pixelScale)
    mkdirSync(join(dir, 'imgs'));
    const png = new PNG({ width: 8, height: 8 });
    png.data.set(Uint8Array.from(randomInts(256, 0, 255, 9)));
    writeFileSync(join(dir, 'imgs', 'b.png'), PNG.sync.write(png));
    writeNpy(join(dir, 'imgs', 'a.npy'), one(7));
    const mixed = await loadCalibration(join(dir, 'imgs'), { shape: [1, 3, 8, 8] }, { pixelScale: 255 });
    assert.is(mixed.length, 2, 'one sample from the .npy, one from the PNG');
    assert.equal(Array.from(mixed[0].data), Array.from(one(7).data));
    const rgb = Array.from({ length: 192 }, (_, i) => png.data[(i % 64) * 4 + Math.floor(i / 64)]);
    assert.equal(Array.from(mixed[1].data), rgb, 'the PNG sample is its R, G, B planes at pixelScale 255');
    writeFileSync(join(dir, 'imgs', 'c.png'), 'not really');
    await throwsLine(() => loadCalibration(join(dir, 'imgs'), { shape: [1, 3, 8, 8] }), /c\.png/);
    await throwsLine(() => loadCalibration(join(dir, 'nope'), { shape: [1, 3, 8, 8] }), /no such file or folder; give a folder of \.npy \/ PNG \/ JPEG files/);
    await throwsLine(() => loadCalibration(join(dir, 'batch.npy'), { shape: [1, 3, 4, 4] }), /shape \[4,3,8,8\] is neither one sample \[3,4,4\] nor a batch/);
    await throwsLine(() => loadCalibration(join(dir, 'batch.npy'), { shape: [1, 3, 8, 8] }, { limit: 0 }), /empty calibration set/);
    await throwsLine(() => loadCalibration('mnist-valid:10', { shape: [1, 1, 28, 28] }), /no such file or folder/);
    await throwsLine(() => loadCalibration('mnist-test:0', { shape: [1, 1, 28, 28] }), /N must be a whole number/);
    await throwsLine(() => collectStats(floatNetwork(), [], TS_HOST), /empty calibration set/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test('keepFloat keeps the named conv/dense layers in float', async () => {
  const { graph: q, report } = await quantized({ method: 'max', keepFloat: ['conv2'] });
  assert.is(q.nodes.find((n) => n.name === 'conv2')!.op, 'Conv');
  assert.is(q.nodes.find((n) => n.name === 'conv1')!.op, 'QConv');
  assert.equal(report.float, [{ node: 'conv2', op: 'Conv', reason: 'keepFloat' }]);
  // a name that is no conv/dense node is one line, not silently ignored
  const why = await quantized({ method: 'max', keepFloat: ['conv9', 'pool'] }).then(() => 'no error', (e: Error) => e.message);
  assert.match(why, /^keepFloat: conv9, pool are not a Conv, Gemm or MatMul node/);
});

/** Per layer of `q` with a bias: the largest |mean error| of one output channel in output steps, over the samples, where fp32 lies inside the clip. */
function channelBias(g: Graph, q: Graph, samples: Tensor[]): Map<string, number> {
  return new Map([...channelMeans(g, q, samples)].map(([k, m]) => [k, Math.max(0, ...m.map(Math.abs))]));
}

/** Per quantized layer with a bias: each output channel's mean error (int8 - fp32, in output steps) where fp32 is inside the clip. */
function channelMeans(g: Graph, q: Graph, samples: Tensor[]): Map<string, number[]> {
  const layers = q.nodes.filter((n) => (n.op === 'QConv' || n.op === 'QDense') && n.inputs[2]);
  const sums = new Map(layers.map((n) => [n.name, { sum: new Float64Array(64), count: new Float64Array(64) }]));
  for (const x of samples) {
    const fp = new Map<string, Tensor>();
    const see = (into: Map<string, Tensor>) => ({ name: 'see', kernelFor: (n: Node, gg: Graph) => {
      const k = TS_HOST.kernelFor(n, gg)!;
      return (m: Node, ins: (Tensor | undefined)[]) => {
        const outs = k(m, ins);
        into.set(m.name, outs[0]);
        return outs;
      };
    } });
    runGraph(g, new Map([['x', x]]), see(fp));
    const qo = new Map<string, Tensor>();
    runGraph(q, new Map([['x', x]]), see(qo));
    for (const n of layers) {
      const s = sums.get(n.name)!;
      const frac = n.attrs.frac as number;
      const [lo, hi] = n.attrs.clip as number[];
      const out = qo.get(n.name)!;
      const ref = fp.get(n.name)!;
      const inner = out.shape.length === 4 ? out.shape[2] * out.shape[3] : 1;
      const C = out.shape.length === 4 ? out.shape[1] : out.shape[out.shape.length - 1];
      for (let i = 0; i < out.data.length; i++) {
        const want = (ref.data[i] as number) * 2 ** frac;
        if (!(want > lo && want < hi)) continue;
        const c = Math.floor(i / inner) % C;
        s.sum[c] += (out.data[i] as number) - want;
        s.count[c]++;
      }
    }
  }
  return new Map([...sums].map(([k, s]) => [k, Array.from(s.sum, (v, c) => (s.count[c] ? v / s.count[c] : NaN)).filter(Number.isFinite)]));
}

test('bias correction leaves every channel of every layer within half an output step of fp32 on average, and stays close on unseen data', async () => {
  const g = floatNetwork();
  const samples = Array.from({ length: 16 }, (_, i) => inputBatch(100 + i));
  const { graph: q } = quantizeGraph(g, await calibrated(g), { method: 'percentile', percentile: 99, weights: 'max' });
  const before = channelBias(g, q, samples);
  assert.ok(Math.max(...before.values()) > 0.5, `the quantization shifts some channel's mean by more than half a step (${[...before.values()]})`);
  // the same correction with the quantized graph on the wasm host's observable form (bit for bit the reference kernels)
  const { graph: qw } = quantizeGraph(g, await calibrated(g), { method: 'percentile', percentile: 99, weights: 'max' });
  const wasmObs = compiledHost(parseTarget('wasm', loadConfig('default')) as WasmTargetSpec, loadConfig('default')).observable!()!;
  await wasmObs.prepare!(qw);
  const c = correctBiases(g, q, samples);
  assert.ok(c.channels > 0 && c.layers > 0);
  assert.equal(correctBiases(g, qw, samples, TS_HOST, wasmObs), c);
  for (const n of q.nodes.filter((m) => m.op === 'QConv' || m.op === 'QDense')) {
    const m = qw.nodes.find((k) => k.name === n.name)!;
    if (n.inputs[2]) assert.equal(Array.from(qw.values.get(m.inputs[2])!.const!.data), Array.from(q.values.get(n.inputs[2])!.const!.data), `${n.name}: biases corrected on wasm`);
  }
  const after = channelBias(g, q, samples);
  for (const [layer, b] of after) assert.ok(b <= 0.5 + 1e-9, `${layer}: mean error ${b} steps after correction (before ${before.get(layer)})`);
  for (const seed of [7, 8, 9]) {
    const x = new Map([['x', inputBatch(seed)]]);
    const cs = cosine(runGraph(g, x, TS_HOST).outputs.get('y')!.data, runGraph(q, x, TS_HOST).outputs.get('y')!.data);
    assert.ok(cs > 0.99, `seed ${seed}: cosine ${cs}`);
  }
});

test('centerShifts: the bias makes up for the floor of the shift, so the layers lose their mean error', async () => {
  const g = floatNetwork();
  const samples = Array.from({ length: 16 }, (_, i) => inputBatch(100 + i));
  const opts = { method: 'percentile', percentile: 99, weights: 'max' } as const;
  const plain = quantizeGraph(g, await calibrated(g), opts).graph;
  const centered = quantizeGraph(g, await calibrated(g), { ...opts, centerShifts: true }).graph;
  // the same layers and shifts; each bias is round(b · 2^frac + (1 - 2^-shift) / 2), i.e. the plain one or one more
  const layers = plain.nodes.filter((n) => n.op === 'QConv' || n.op === 'QDense');
  assert.ok(layers.some((n) => (n.attrs.shift as number) >= 2), 'some layer shifts by 2 or more');
  for (const n of layers) {
    const m = centered.nodes.find((c) => c.name === n.name)!;
    assert.is(m.attrs.shift, n.attrs.shift);
    const [a, b] = [plain.values.get(n.inputs[2])!.const!.data, centered.values.get(m.inputs[2])!.const!.data];
    const raised = Array.from(a, (v, i) => (b[i] as number) - (v as number));
    assert.ok(raised.every((d) => d === 0 || d === 1), `${n.name}: bias raised by ${raised}`);
    if ((n.attrs.shift as number) >= 2) assert.ok(raised.some((d) => d === 1), `${n.name}: some bias raised`);
  }
  const mean = (m: number[]) => m.reduce((x, y) => x + y, 0) / m.length;
  const [before, after] = [channelMeans(g, plain, samples), channelMeans(g, centered, samples)];
  for (const n of layers.filter((l) => (l.attrs.shift as number) >= 2)) {
    const [b, a] = [mean(before.get(n.name)!), mean(after.get(n.name)!)];
    console.log(`    ${n.name}: mean error ${b.toFixed(3)} -> ${a.toFixed(3)} steps`);
    assert.ok(b < -0.25 && Math.abs(a) < Math.abs(b), `${n.name}: mean error ${b} steps plain, ${a} centered`);
  }
});

/** conv (one output channel's weights and bias 64 times the others', as BatchNorm folding makes them) -> hard-sigmoid (float) -> flatten -> gemm. */
function unevenNetwork(): Graph {
  const w1 = init('w1', [8, 3, 3, 3], 21);
  w1.data = w1.data!.map((v, i) => (i < 27 ? v * 64 : v));
  const b1 = init('b1', [8], 22);
  b1.data = b1.data!.map((v, i) => (i === 0 ? v * 64 : v));
  const bytes = buildModel({
    opset: 13,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], name: 'conv1', attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'], name: 'relu1' },
      { op: 'HardSigmoid', inputs: ['r1'], outputs: ['h'], name: 'hsig' },
      { op: 'Flatten', inputs: ['h'], outputs: ['f'], name: 'flatten' },
      { op: 'Gemm', inputs: ['f', 'w3', 'b3'], outputs: ['y'], name: 'fc', attrs: { transB: { i: 1 } } },
    ],
    inputs: [{ name: 'x', dims: [2, 3, 8, 8] }],
    outputs: [{ name: 'y' }],
    initializers: [w1, b1, init('w3', [10, 512], 23), init('b3', [10], 24)],
  });
  return runPasses(loadOnnx(bytes, 'uneven.onnx'));
}

/** Summed 1 - cosine of fp32 `plain` against `g` quantized (max calibration on `calib`), over the seeds' inputs. */
async function int8ErrorAgainst(plain: Graph, g: Graph, calib: Tensor[], seeds: number[]): Promise<number> {
  const { graph: q } = quantizeGraph(g, await collectStats(g, calib, TS_HOST), { method: 'max' });
  let err = 0;
  for (const seed of seeds) {
    const x = new Map([['x', inputBatch(seed)]]);
    err += 1 - cosine(runGraph(plain, x, TS_HOST).outputs.get('y')!.data, runGraph(q, x, TS_HOST).outputs.get('y')!.data);
  }
  return err;
}

test('channel scaling: the float graph computes the same, the int8 graph gets closer to fp32', async () => {
  const plain = unevenNetwork();
  const scaled = unevenNetwork();
  assert.equal(scaleConvChannels(scaled), { convs: 1, channels: 7 });
  assert.equal(scaled.nodes.map((n) => n.op), ['Conv', 'Mul', 'HardSigmoid', 'Flatten', 'Gemm']);
  const calib = Array.from({ length: 8 }, (_, i) => inputBatch(200 + i));
  const int8Error = (g: Graph) => int8ErrorAgainst(plain, g, calib, [31, 32, 33]);
  for (const seed of [31, 32]) {
    const x = new Map([['x', inputBatch(seed)]]);
    const a = runGraph(plain, x, TS_HOST).outputs.get('y')!.data;
    const b = runGraph(scaled, x, TS_HOST).outputs.get('y')!.data;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(a[i])), `seed ${seed} output ${i}: ${a[i]} vs ${b[i]}`);
  }
  const [before, after] = [await int8Error(plain), await int8Error(scaled)];
  assert.ok(after < before / 2, `1 - cosine: ${before} plain, ${after} scaled`);
  // with calibration samples the conv's output range (max |y| over its channels) does not grow
  const capped = unevenNetwork();
  assert.is(scaleConvChannels(capped, calib).convs, 1);
  const convRange = (g: Graph) => {
    let r = 0;
    const tap = tapTarget(TS_HOST, (n, outs) => n.op === 'Conv' && (r = Math.max(r, ...Array.from(outs[0].data as Float32Array, Math.abs))));
    for (const x of calib) runGraph(g, new Map([['x', x]]), tap);
    return r;
  };
  assert.ok(convRange(capped) <= convRange(plain) * (1 + 1e-6), `output range ${convRange(capped)} vs ${convRange(plain)} unscaled`);
  assert.ok(await int8Error(capped) < before, 'the capped scaling still helps');
});
/**
 * A float op gives its channels ranges 64 : 1 : 8 (as a hard-swish after a BatchNorm-folded conv
 * can), and two convs whose weights make up for it read it: a full one and a depthwise one (then 1x1); add -> relu -> flatten -> gemm.
 */
function unevenInputNetwork(): Graph {
  // the readers' weights make up for the small channels (as the next BatchNorm-folded conv does): they carry as much signal
  const gain = [1, 64, 8];
  const w1 = init('w1', [8, 3, 3, 3], 41);
  w1.data = w1.data!.map((v, i) => v * gain[Math.floor(i / 9) % 3]);
  const w2 = init('w2', [3, 1, 3, 3], 43);
  w2.data = w2.data!.map((v, i) => v * gain[Math.floor(i / 9)]);
  const bytes = buildModel({
    opset: 13,
    nodes: [
      { op: 'Mul', inputs: ['x', 'cs'], outputs: ['m'], name: 'uneven' },
      { op: 'Conv', inputs: ['m', 'w1', 'b1'], outputs: ['c1'], name: 'full', attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Conv', inputs: ['m', 'w2', 'b2'], outputs: ['c2'], name: 'dw', attrs: { pads: { ints: [1, 1, 1, 1] }, group: { i: 3 } } },
      { op: 'Conv', inputs: ['c2', 'w3'], outputs: ['c3'], name: 'pw' },
      { op: 'Add', inputs: ['c1', 'c3'], outputs: ['a'], name: 'add' },
      { op: 'Relu', inputs: ['a'], outputs: ['r'], name: 'relu' },
      { op: 'Flatten', inputs: ['r'], outputs: ['f'], name: 'flatten' },
      { op: 'Gemm', inputs: ['f', 'w4', 'b4'], outputs: ['y'], name: 'fc', attrs: { transB: { i: 1 } } },
    ],
    inputs: [{ name: 'x', dims: [2, 3, 8, 8] }],
    outputs: [{ name: 'y' }],
    initializers: [
      { name: 'cs', type: 1, dims: [1, 3, 1, 1], data: [1, 1 / 64, 1 / 8] },
      w1, init('b1', [8], 42), w2, init('b2', [3], 44),
      init('w3', [8, 3, 1, 1], 45), init('w4', [10, 512], 46), init('b4', [10], 47),
    ],
  });
  return runPasses(loadOnnx(bytes, 'uneven-input.onnx'));
}

test('input scaling: the float graph computes the same, the conv inputs\' channels even out, the int8 graph gets closer to fp32', async () => {
  const plain = unevenInputNetwork();
  const calib = Array.from({ length: 8 }, (_, i) => inputBatch(300 + i));
  const int8Error = (g: Graph) => int8ErrorAgainst(plain, g, calib, [51, 52, 53]);
  const before = await int8Error(plain);
  for (const mode of ['inputs', 'balanced'] as const) {
    const scaled = unevenInputNetwork();
    const r = scaleConvInputs(scaled, calib, TS_HOST, { mode });
    assert.is(r.convs, 2, mode);
    assert.equal(scaled.nodes.map((n) => n.op), ['Mul', 'Mul', 'Conv', 'Mul', 'Conv', 'Conv', 'Add', 'Flatten', 'Gemm'], mode);
    for (const seed of [51, 52]) {
      const x = new Map([['x', inputBatch(seed)]]);
      const a = runGraph(plain, x, TS_HOST).outputs.get('y')!.data;
      const b = runGraph(scaled, x, TS_HOST).outputs.get('y')!.data;
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(a[i])), `${mode} seed ${seed} output ${i}: ${a[i]} vs ${b[i]}`);
    }
    // each conv's scaled input: with 'inputs' every channel's max |x| within a factor 2 of the largest, and none above the unscaled tensor's
    const ranges = new Map<string, number[]>();
    const tap = tapTarget(TS_HOST, (n, outs) => {
      if (n.op !== 'Mul' || !n.name.endsWith('.inscale')) return;
      const t = outs[0];
      const r = ranges.get(n.name) ?? [0, 0, 0];
      for (let i = 0; i < t.data.length; i++) r[Math.floor(i / 64) % 3] = Math.max(r[Math.floor(i / 64) % 3], Math.abs(t.data[i] as number));
      ranges.set(n.name, r);
    });
    for (const x of calib) runGraph(scaled, new Map([['x', x]]), tap);
    assert.is(ranges.size, 2, mode);
    for (const [name, r] of ranges) {
      assert.ok(Math.max(...r) <= 2 * (1 + 1e-6), `${mode} ${name}: ${r} passes the unscaled range 2`);
      if (mode === 'inputs') assert.ok(Math.min(...r) > Math.max(...r) / 2, `${mode} ${name}: channel ranges ${r} not within 2x`);
    }
    const after = await int8Error(scaled);
    assert.ok(after < before / 2, `${mode}: 1 - cosine ${before} plain, ${after} scaled`);
  }
});

test.run();
