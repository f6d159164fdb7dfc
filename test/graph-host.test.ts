/**
 * The graph executor on compiled host targets (compiler/target/graph-host.ts): a quantized graph
 * whose QConv (plain, depthwise, strided), QMaxPool, QAdd and QDense nodes run as functions the
 * cpu (C) and wasm back ends build gives the same bytes as the plain reference kernels
 * (TS_HOST, compiler/graph/quantized.ts), over several inputs through the same prepared kernels
 * (the weights bound once, the data copied in per run).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { runGraph, type HostTarget } from '../compiler/graph/executor.ts';
import type { Graph, Node, Value } from '../compiler/graph/ir.ts';
import type { Tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type CpuTargetSpec, type WasmTargetSpec } from '../compiler/target/target.ts';
import { testNeeding, toolsMissing } from './helpers/tools.ts';

const d = loadConfig('default');

/** A small quantized network with every operator the compiled hosts take (shapes: NCHW). */
function network(): Graph {
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

function input(seed: number): Map<string, Tensor> {
  const v = randomInts(800, -700, 700, seed);
  return new Map([['x', { dtype: 'float32', shape: [1, 8, 10, 10], data: Float32Array.from(v, (x) => x / 100) }]]);
}

async function checkHost(host: HostTarget) {
  const g = network();
  await host.prepare!(g);
  for (const seed of [1, 2, 3]) {
    const want = runGraph(g, input(seed), TS_HOST).outputs;
    const got = runGraph(g, input(seed), host).outputs;
    for (const [name, t] of want) {
      assert.equal([...got.get(name)!.data], [...t.data], `${host.name}, input ${seed}: ${name} differs`);
      // The data exercises the arithmetic: few values sit on a clip bound (a relu's zeros aside).
      if (t.dtype === 'int8') {
        const clipped = [...t.data].filter((x) => x === 127 || x === -128).length / t.data.length;
        assert.ok(clipped < 0.15, `${name}: ${(clipped * 100).toFixed(0)} % of the values are clipped`);
      }
    }
  }
}

testNeeding(() => toolsMissing('cc'))('cpu target: the quantized graph equals the reference kernels bit for bit', async () => {
  await checkHost(compiledHost(parseTarget('cpu', d) as CpuTargetSpec, d));
});

testNeeding(() => toolsMissing('wabt'))('wasm target: the quantized graph equals the reference kernels bit for bit', async () => {
  await checkHost(compiledHost(parseTarget('wasm', d) as WasmTargetSpec, d));
});

test('an unprepared compiled host names the node; other data widths are refused', () => {
  const host = compiledHost(parseTarget('wasm', d) as WasmTargetSpec, d);
  assert.throws(() => runGraph(network(), input(1), host), /node c1 was not prepared/);
  assert.throws(() => compiledHost({ kind: 'wasm' }, loadConfig('{"LOG_INP_WIDTH":2,"LOG_ACC_BUFF_SIZE":16}')), /other data widths/);
});

test.run();
