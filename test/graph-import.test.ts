/**
 * ONNX import across opsets, against onnxruntime-node: each model is written in an old-opset form
 * and a new-opset form (Clip bounds as attributes / inputs, Squeeze axes, Slice bounds, Pad, Upsample
 * vs Resize, Softmax's 2-D coercion), weights come as Constant nodes and float16 initializers + Cast;
 * the graph level's result (import, passes, TypeScript host executor) must equal onnxruntime's.
 * Also: Shape chains over a bound dynamic dimension fold away, BatchNorm folds into the Conv.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { loadOnnx } from '../compiler/frontend/onnx.ts';
import { runGraph, valueKeeper } from '../compiler/graph/executor.ts';
import { opCounts } from '../compiler/graph/ir.ts';
import { runPasses } from '../compiler/graph/passes.ts';
import { tensor, type Tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { KERNELS } from '../compiler/host/kernels.ts';
import { SUPPORTED_OPS } from '../compiler/graph/ops.ts';
import type { HostTarget } from '../compiler/graph/executor.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { buildModel, halfBits, type ModelSpec } from './helpers/onnx-build.ts';

/** Seeded floats in [-scale, scale). */
function floats(n: number, seed: number, scale = 1): number[] {
  return Array.from(randomInts(n, -1 << 15, (1 << 15) - 1, seed), (v) => (v / (1 << 15)) * scale);
}

interface Compared {
  maxDiff: number;
  ops: string[];
}

/** Run `spec` in onnxruntime and in the graph level on one seeded input; the largest difference. */
async function compare(spec: ModelSpec, shape: number[], opts: { skip?: string[]; scale?: number; seed?: number } = {}): Promise<Compared> {
  const bytes = buildModel(spec);
  const x = tensor('float32', shape, floats(shape.reduce((a, b) => a * b, 1), opts.seed ?? 7, opts.scale ?? 4));
  const session = await ort.InferenceSession.create(bytes);
  const want = await session.run({ [spec.inputs[0].name]: new ort.Tensor('float32', x.data as Float32Array, shape) });
  const g = runPasses(loadOnnx(bytes, 'test.onnx'), { inputShapes: new Map([[spec.inputs[0].name, shape]]), skip: opts.skip });
  const got = runGraph(g, new Map<string, Tensor>([[spec.inputs[0].name, x]]), TS_HOST).outputs;
  let maxDiff = 0;
  for (const o of spec.outputs) {
    const a = got.get(o.name)!;
    const b = want[o.name];
    assert.equal(a.shape, [...b.dims], `${o.name} shape`);
    for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - Number(b.data[i])));
  }
  return { maxDiff, ops: opCounts(g).map(([op]) => op) };
}

const io = (dims: (number | string)[]) => ({ inputs: [{ name: 'x', dims }], outputs: [{ name: 'y' }] });
const i64 = (name: string, data: number[]) => ({ name, type: 7, dims: [data.length], data });
const f32 = (name: string, dims: number[], data: number[]) => ({ name, type: 1, dims, data });

test('Clip: bounds as attributes (opset 9) and as inputs (opset 13) give onnxruntime\'s result', async () => {
  const old = await compare({ opset: 9, ...io([2, 5]), nodes: [{ op: 'Clip', inputs: ['x'], outputs: ['y'], attrs: { min: { f: -1 }, max: { f: 2.5 } } }] }, [2, 5]);
  const neu = await compare({
    opset: 13, ...io([2, 5]), initializers: [f32('lo', [], [-1]), f32('hi', [], [2.5])],
    nodes: [{ op: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['y'] }],
  }, [2, 5]);
  assert.is(old.maxDiff, 0);
  assert.is(neu.maxDiff, 0);
});

test('Squeeze / Unsqueeze axes as attributes (opset 11) and inputs (opset 13)', async () => {
  const old = await compare({
    opset: 11, ...io([3, 1, 4]),
    nodes: [{ op: 'Squeeze', inputs: ['x'], outputs: ['s'], attrs: { axes: { ints: [1] } } }, { op: 'Unsqueeze', inputs: ['s'], outputs: ['y'], attrs: { axes: { ints: [0, -1] } } }],
  }, [3, 1, 4]);
  const neu = await compare({
    opset: 13, ...io([3, 1, 4]), initializers: [i64('a1', [1]), i64('a2', [0, -1])],
    nodes: [{ op: 'Squeeze', inputs: ['x', 'a1'], outputs: ['s'] }, { op: 'Unsqueeze', inputs: ['s', 'a2'], outputs: ['y'] }],
  }, [3, 1, 4]);
  assert.is(old.maxDiff, 0);
  assert.is(neu.maxDiff, 0);
});

test('Slice bounds as attributes (opset 9) and inputs with a negative step (opset 11); Pad attributes (opset 9) and inputs (opset 11)', async () => {
  assert.is((await compare({ opset: 9, ...io([4, 6]), nodes: [{ op: 'Slice', inputs: ['x'], outputs: ['y'], attrs: { starts: { ints: [1, -5] }, ends: { ints: [100, -1] }, axes: { ints: [0, 1] } } }] }, [4, 6])).maxDiff, 0);
  assert.is((await compare({
    opset: 11, ...io([4, 6]), initializers: [i64('st', [-1]), i64('en', [-100]), i64('ax', [1]), i64('sp', [-2])],
    nodes: [{ op: 'Slice', inputs: ['x', 'st', 'en', 'ax', 'sp'], outputs: ['y'] }],
  }, [4, 6])).maxDiff, 0);
  assert.is((await compare({ opset: 9, ...io([1, 2, 3, 4]), nodes: [{ op: 'Pad', inputs: ['x'], outputs: ['y'], attrs: { pads: { ints: [0, 0, 1, 2, 0, 0, 2, 1] }, mode: { s: 'reflect' } } }] }, [1, 2, 3, 4])).maxDiff, 0);
  assert.is((await compare({
    opset: 11, ...io([1, 2, 3, 4]), initializers: [i64('p', [0, 1, 1, 2, 0, 0, 2, 1]), f32('v', [], [0.5])],
    nodes: [{ op: 'Pad', inputs: ['x', 'p', 'v'], outputs: ['y'] }],
  }, [1, 2, 3, 4])).maxDiff, 0);
});

test('Upsample (opset 9), Resize (opset 10: scales as input 1) and Resize nearest (opset 13, scales and sizes)', async () => {
  assert.is((await compare({ opset: 9, ...io([1, 2, 3, 4]), initializers: [f32('sc', [4], [1, 1, 2, 3])], nodes: [{ op: 'Upsample', inputs: ['x', 'sc'], outputs: ['y'], attrs: { mode: { s: 'nearest' } } }] }, [1, 2, 3, 4])).maxDiff, 0);
  assert.is((await compare({ opset: 10, ...io([1, 2, 3, 4]), initializers: [f32('sc', [4], [1, 1, 2.5, 1.5])], nodes: [{ op: 'Resize', inputs: ['x', 'sc'], outputs: ['y'], attrs: { mode: { s: 'nearest' } } }] }, [1, 2, 3, 4])).maxDiff, 0);
  assert.is((await compare({ opset: 13, ...io([1, 2, 3, 4]), initializers: [f32('sc', [4], [1, 1, 2, 2])], nodes: [{ op: 'Resize', inputs: ['x', '', 'sc'], outputs: ['y'], attrs: { mode: { s: 'nearest' } } }] }, [1, 2, 3, 4])).maxDiff, 0);
  assert.is((await compare({
    opset: 13, ...io([1, 2, 3, 4]), initializers: [i64('sz', [1, 2, 7, 5])],
    nodes: [{ op: 'Resize', inputs: ['x', '', '', 'sz'], outputs: ['y'], attrs: { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } } }],
  }, [1, 2, 3, 4])).maxDiff, 0);
});

test('Softmax: opset 11 coerces to 2-D at the axis, opset 13 takes one axis', async () => {
  const old = await compare({ opset: 11, ...io([2, 3, 4]), nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: { i: 1 } } }] }, [2, 3, 4]);
  const neu = await compare({ opset: 13, ...io([2, 3, 4]), nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: { i: 1 } } }] }, [2, 3, 4]);
  assert.ok(old.maxDiff <= 1e-6, `${old.maxDiff}`);
  assert.ok(neu.maxDiff <= 1e-6, `${neu.maxDiff}`);
});

/** A conv whose weights are float16 initializers + Cast, with a Constant-node bias, then BN, then a Shape chain into Reshape. */
function convModel(batch: string | number): ModelSpec {
  const w = floats(8 * 3 * 3 * 3, 11, 0.5);
  return {
    opset: 13,
    inputs: [{ name: 'x', dims: [batch, 3, 10, 12] }],
    outputs: [{ name: 'y' }],
    initializers: [
      { name: 'w16', type: 10, dims: [8, 3, 3, 3], data: w.map(halfBits) },
      f32('scale', [8], floats(8, 12, 1).map((v) => v + 1.5)), f32('beta', [8], floats(8, 13, 1)),
      f32('mean', [8], floats(8, 14, 1)), f32('var', [8], floats(8, 15, 1).map((v) => v * v + 0.1)),
      i64('zero', [0]), i64('tail', [-1]),
    ],
    nodes: [
      { op: 'Constant', inputs: [], outputs: ['b'], attrs: { value: { t: { type: 1, dims: [8], data: floats(8, 16, 1) } } } },
      { op: 'Cast', inputs: ['w16'], outputs: ['w'], attrs: { to: { i: 1 } } },
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: { ints: [1, 1, 1, 1] }, strides: { ints: [2, 2] } } },
      { op: 'BatchNormalization', inputs: ['c', 'scale', 'beta', 'mean', 'var'], outputs: ['bn'], attrs: { epsilon: { f: 1e-3 } } },
      { op: 'Relu', inputs: ['bn'], outputs: ['r'] },
      { op: 'Shape', inputs: ['r'], outputs: ['shp'] },
      { op: 'Gather', inputs: ['shp', 'zero'], outputs: ['n'], attrs: { axis: { i: 0 } } },
      { op: 'Concat', inputs: ['n', 'tail'], outputs: ['target'], attrs: { axis: { i: 0 } } },
      { op: 'Reshape', inputs: ['r', 'target'], outputs: ['y'] },
    ],
  };
}

test('float16 weights + Cast, a Constant-node bias, BatchNorm and a Shape/Gather/Concat chain over a bound batch: equal to onnxruntime; the chain and the Cast fold away, BN folds into the Conv, the Relu fuses into it', async () => {
  const folded = await compare(convModel('N'), [2, 3, 10, 12]);
  assert.ok(folded.maxDiff <= 1e-5, `${folded.maxDiff}`);
  assert.equal(folded.ops.sort(), ['Conv', 'Reshape']); // the Relu fused into the Conv
  const unfolded = await compare(convModel('N'), [2, 3, 10, 12], { skip: ['fold-batchnorm'] });
  assert.ok(unfolded.maxDiff <= 1e-5, `${unfolded.maxDiff}`);
  assert.equal(unfolded.ops.sort(), ['BatchNormalization', 'Conv', 'Relu', 'Reshape']); // a Relu after BN stays

});

test('an unsupported operator, another domain, an unbound dynamic dimension: one line each', () => {
  const erf = buildModel({ opset: 13, ...io([2]), nodes: [{ op: 'Erf', inputs: ['x'], outputs: ['y'], name: 'e1' }] });
  assert.throws(() => loadOnnx(erf, 'erf.onnx'), /^unsupported operator Erf \(node e1, opset 13\); docs\/models.md lists the \d+ supported operators$/);
  const ms = buildModel({ opset: 13, ...io([2]), nodes: [{ op: 'FusedConv', inputs: ['x'], outputs: ['y'], name: 'f', domain: 'com.microsoft' }] });
  assert.throws(() => loadOnnx(ms, 'ms.onnx'), /unsupported operator FusedConv \(node f, domain com.microsoft, opset 13\)/);
  const dyn = loadOnnx(buildModel(convModel('N')), 'dyn.onnx');
  assert.throws(() => runPasses(dyn), /^input x \[\?,3,10,12\] has dynamic dimensions \(N\); bind them with --input x=Dx3x10x12, each D a size$/);
});

test('the operator table and the host kernels agree; the executor runs the kernels a host target gives and names a missing one', async () => {
  assert.equal(Object.keys(KERNELS).sort(), [...SUPPORTED_OPS]);
  const bytes = buildModel(convModel(2));
  const g = runPasses(loadOnnx(bytes, 'conv.onnx'), { skip: ['fuse'] });
  const x = tensor('float32', [2, 3, 10, 12], floats(720, 3));
  const used: string[] = [];
  const counting: HostTarget = { name: 'counting', kernelFor: (n) => { used.push(n.op); return KERNELS[n.op]; } };
  const a = runGraph(g, new Map([['x', x]]), counting);
  const b = runGraph(g, new Map([['x', x]]), TS_HOST);
  assert.equal(used, ['Conv', 'Relu', 'Reshape']);
  assert.equal(Array.from(a.outputs.get('y')!.data), Array.from(b.outputs.get('y')!.data));
  assert.equal(a.nodes.map((r) => r.op), ['Conv', 'Relu', 'Reshape']);
  const noRelu: HostTarget = { name: 'no-relu', kernelFor: (n) => (n.op === 'Relu' ? undefined : KERNELS[n.op]) };
  assert.throws(() => runGraph(g, new Map([['x', x]]), noRelu), /^host target no-relu has no kernel for Relu \(node n4\)$/);
  assert.throws(() => runGraph(g, new Map([['x', tensor('float32', [1, 3, 10, 12])]]), TS_HOST), /^input x is float32\[1,3,10,12\]; the graph was bound to float32\[2,3,10,12\]$/);
});

test('the executor frees each computed value after its last reader, keeps constants and graph outputs, and replans a rewritten graph', () => {
  const t = (v: number) => tensor('float32', [1], [v]);
  const node = (name: string, inputs: string[], outputs: string[]) => ({ name, op: 'Add', inputs, outputs, attrs: {} });
  const a = node('a', ['x', 'c'], ['y']);
  const b = node('b', ['y', 'y'], ['z']);
  const c = node('c', ['y', 'z'], ['out']);
  const g = {
    name: 'g', opset: 13, inputs: ['x'], outputs: ['out', 'z'], nodes: [a, b, c],
    values: new Map([['c', { name: 'c', dtype: 'float32' as const, shape: [1], const: t(1) }]]),
  };
  const step = (keep: ReturnType<typeof valueKeeper>, env: Map<string, Tensor>, n: typeof a) => {
    keep(n, [t(0)], env);
    return [...env.keys()].sort().join(',');
  };
  let env = new Map<string, Tensor>([['x', t(0)], ['c', t(1)]]);
  let keep = valueKeeper(g);
  assert.is(step(keep, env, a), 'c,y', 'x is freed after its only reader; the constant stays');
  assert.is(step(keep, env, b), 'c,y,z', 'y is read again later (b reads it twice, counted once)');
  assert.is(step(keep, env, c), 'c,out,z', 'y freed after its last reader; z is a graph output and stays');
  // A pass replaces the node list: the plan follows the new graph (c now reads x, so x lives on).
  const c2 = node('c', ['y', 'x'], ['out']);
  g.nodes = [a, node('b', ['y'], ['z']), c2];
  env = new Map<string, Tensor>([['x', t(0)], ['c', t(1)]]);
  keep = valueKeeper(g);
  assert.is(step(keep, env, a), 'c,x,y');
  assert.is(step(keep, env, g.nodes[1]), 'c,x,y,z');
  assert.is(step(keep, env, c2), 'c,out,z');
});

test.run();
