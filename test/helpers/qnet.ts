/**
 * A small hand-built quantized network (compiler/graph/quantized.ts) with every operator VTA and
 * the compiled hosts take: QConv (plain, depthwise, strided), QMaxPool, QAdd, QDense, with random
 * int8 weights and shifts chosen so outputs spread over the range; and seeded inputs for it.
 */
import { randomInts } from '../../compiler/ops/common.ts';
import type { Graph, Node, Value } from '../../compiler/graph/ir.ts';
import type { Tensor } from '../../compiler/graph/tensor.ts';

/** The network (shapes: NCHW). */
export function network(): Graph {
  const values = new Map<string, Value>();
  const nodes: Node[] = [];
  const val = (name: string, dtype: Value['dtype'], shape: number[], data?: Tensor['data']) =>
    values.set(name, { name, dtype, shape, ...(data ? { const: { dtype: dtype!, shape, data } } : {}) });
  const w8 = (name: string, shape: number[], seed: number) =>
    val(name, 'int8', shape, Int8Array.from(randomInts(shape.reduce((a, b) => a * b, 1), -64, 63, seed)));
  const b32 = (name: string, n: number, seed: number) => val(name, 'int32', [n], randomInts(n, -40, 40, seed));
  const node = (op: string, inputs: string[], output: string, attrs: Node['attrs']) => nodes.push({ name: output, op, inputs, outputs: [output], attrs });
  val('x', 'float32', [1, 8, 10, 10]);
  val('q', 'int8', [1, 8, 10, 10]);
  node('QuantizeP2', ['x'], 'q', { frac: 4 });
  w8('w1', [16, 8, 3, 3], 11); b32('b1', 16, 12);
  val('c1', 'int8', [1, 16, 10, 10]);
  node('QConv', ['q', 'w1', 'b1'], 'c1', { strides: [1, 1], pads: [1, 1, 1, 1], group: 1, shift: 9, clip: [0, 127], frac: 3 });
  val('p1', 'int8', [1, 16, 5, 5]);
  node('QMaxPool', ['c1'], 'p1', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], frac: 3 });
  w8('w2', [16, 1, 3, 3], 13);
  val('c2', 'int8', [1, 16, 5, 5]);
  node('QConv', ['p1', 'w2', ''], 'c2', { strides: [1, 1], pads: [1, 1, 1, 1], group: 16, shift: 8, clip: [-128, 127], frac: 3 });
  val('a1', 'int8', [1, 16, 5, 5]);
  node('QAdd', ['p1', 'c2'], 'a1', { clip: [0, 127], frac: 3 });
  w8('w3', [24, 16, 3, 3], 14); b32('b3', 24, 15);
  val('c3', 'int8', [1, 24, 3, 3]);
  node('QConv', ['a1', 'w3', 'b3'], 'c3', { strides: [2, 2], pads: [1, 1, 1, 1], group: 1, shift: 9, clip: [-128, 127], frac: 2 });
  val('f', 'int8', [1, 216]);
  node('Flatten', ['c3'], 'f', { axis: 1 });
  w8('w4', [10, 216], 16); b32('b4', 10, 17);
  val('y8', 'int8', [1, 10]);
  node('QDense', ['f', 'w4', 'b4'], 'y8', { shift: 7, clip: [-128, 127], frac: 1 });
  val('y', 'float32', [1, 10]);
  node('DequantizeP2', ['y8'], 'y', { frac: 1 });
  return { name: 'qnet', opset: 17, values, nodes, inputs: ['x'], outputs: ['y', 'c1', 'a1', 'c3'] };
}

export function input(seed: number): Map<string, Tensor> {
  const v = randomInts(800, -700, 700, seed);
  return new Map([['x', { dtype: 'float32', shape: [1, 8, 10, 10], data: Float32Array.from(v, (x) => x / 100) }]]);
}

