/**
 * Quantized graphs (compiler/graph/quantized.ts contract): shape/dtype inference and MAC counts of
 * the quantized operators (compiler/graph/ops.ts), which the ONNX importer still refuses.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadOnnx } from '../compiler/frontend/onnx.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import type { Graph, Node, Value } from '../compiler/graph/ir.ts';
import { nodeMacs } from '../compiler/graph/offload.ts';
import { inferShapes } from '../compiler/graph/passes.ts';
import type { Tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { buildModel } from './helpers/onnx-build.ts';

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

test.run();
