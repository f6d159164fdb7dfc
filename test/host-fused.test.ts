/**
 * The compiled graph hosts' float islands (compiler/host/fused.ts, compiler/host/planned.ts,
 * compiler/cpu/float-conv.ts, compiler/wasm/float-conv.ts): runs of element-wise nodes fused into one generated loop, the float
 * convolution (C on the cpu target, WebAssembly f64x2 on wasm) and global average pooling planned once, against the plain reference kernels (TS_HOST) bit for bit, on a
 * hand-built graph shaped like MobileNetV3's blocks (dequantize -> hard-swish -> strided
 * depthwise float conv -> SE block -> quantize), with quantization ties and values outside int8
 * in the data, and max pooling; and the grouping itself (which nodes fuse, which values are written out).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runGraph } from '../compiler/graph/executor.ts';
import type { Graph, Node, Value } from '../compiler/graph/ir.ts';
import type { Tensor } from '../compiler/graph/tensor.ts';
import { elementwiseGroups } from '../compiler/host/fused.ts';
import { fusedWat } from '../compiler/wasm/fused.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type CpuTargetSpec, type WasmTargetSpec } from '../compiler/target/target.ts';
import { testNeeding, toolsMissing } from './helpers/tools.ts';
import { loadConfig } from '../src/config/load.ts';

const C = 6;
const H = 8;
const W = 10;

function island(): Graph {
  const values = new Map<string, Value>();
  const nodes: Node[] = [];
  const val = (name: string, dtype: Value['dtype'], shape: number[], data?: Tensor['data']) =>
    values.set(name, { name, dtype, shape, ...(data ? { const: { dtype: dtype!, shape, data } } : {}) });
  const node = (op: string, inputs: string[], output: string, attrs: Node['attrs'] = {}) => nodes.push({ name: output, op, inputs, outputs: [output], attrs });
  const f = (name: string, shape: number[], data: ArrayLike<number>) => val(name, 'float32', shape, Float32Array.from(data));
  const full = [1, C, H, W];
  val('q', 'int8', full);
  f('three', [], [3]); f('six', [], [6]); f('lo', [], [-1.5]); f('hi', [], [2.25]); f('half', [], [0.5]);
  // hard-swish as the importer leaves it: Add(+3, clip [0, 6]) -> Mul(x, .) -> Div(., 6)
  val('x', 'float32', full); node('DequantizeP2', ['q'], 'x', { frac: 3 });
  val('t', 'float32', full); node('Add', ['x', 'three'], 't', { clip: [0, 6] });
  val('m', 'float32', full); node('Mul', ['x', 't'], 'm');
  val('hs', 'float32', full); node('Div', ['m', 'six'], 'hs');
  // a strided depthwise float conv with bias and a fused clip (as the quantizer leaves [2,1] strides)
  f('wd', [C, 1, 3, 3], Array.from(randomInts(C * 9, -20, 20, 5), (v, i) => (i % 7 === 3 ? 0 : v / 16)));
  f('bd', [C], Array.from(randomInts(C, -8, 8, 6), (v) => v / 8));
  val('dc0', 'float32', [1, C, H / 2, W]);
  node('Conv', ['hs', 'wd', 'bd'], 'dc0', { kernel_shape: [3, 3], strides: [2, 1], pads: [1, 1, 1, 1], group: C, dilations: [1, 1], clip: [-3, 5] });
  // a 5x5 one without bias, with a fused Relu's clip [0, Infinity]
  f('wd2', [C, 1, 5, 5], Array.from(randomInts(C * 25, -20, 20, 7), (v) => v / 32));
  val('dc', 'float32', [1, C, H / 2, W]);
  node('Conv', ['dc0', 'wd2', ''], 'dc', { kernel_shape: [5, 5], strides: [1, 1], pads: [2, 2, 2, 2], group: C, dilations: [1, 1], clip: [0, Infinity] });
  // stride 2 along the row (the wasm kernel's four-float pair load), dilation 2 down the columns, no clip
  f('wd3', [C, 1, 3, 3], Array.from(randomInts(C * 9, -20, 20, 8), (v) => v / 8));
  val('dc2', 'float32', [1, C, 3, 5]);
  node('Conv', ['hs', 'wd3', 'bd'], 'dc2', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: C, dilations: [2, 1] });
  // an SE block: global average pool -> HardSigmoid per channel -> Mul broadcast over the channel
  val('gp', 'float32', [1, C, 1, 1]); node('GlobalAveragePool', ['dc'], 'gp');
  val('hsg', 'float32', [1, C, 1, 1]); node('HardSigmoid', ['gp'], 'hsg', { alpha: 0.20000000298023224, beta: 0.5 });
  val('se', 'float32', [1, C, H / 2, W]); node('Mul', ['dc', 'hsg'], 'se');
  val('r', 'float32', [1, C, H / 2, W]); node('Relu', ['se'], 'r');
  val('cl', 'float32', [1, C, H / 2, W]); node('Clip', ['r', 'lo', 'hi'], 'cl');
  val('sg', 'float32', [1, C, H / 2, W]); node('Sigmoid', ['cl'], 'sg');
  val('sb', 'float32', [1, C, H / 2, W]); node('Sub', ['sg', 'half'], 'sb');
  val('hw', 'float32', [1, C, H / 2, W]); node('HardSwish', ['sb'], 'hw');
  val('lr', 'float32', [1, C, H / 2, W]); node('LeakyRelu', ['hw'], 'lr', { alpha: 0.1 });
  val('o8', 'int8', [1, C, H / 2, W]); node('QuantizeP2', ['lr'], 'o8', { frac: 9 });
  // max pooling with padding and a window that overhangs (ceil_mode)
  val('mp', 'float32', [1, C, 2, 5]); node('MaxPool', ['dc0'], 'mp', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 0, 0], ceil_mode: 1 });
  // quantization of the hard-swish result itself (values beyond int8, ties) and a second reader of it
  val('h8', 'int8', full); node('QuantizeP2', ['hs'], 'h8', { frac: 4 });
  return { name: 'island', opset: 17, values, nodes, inputs: ['q'], outputs: ['o8', 'h8', 'dc', 'dc2', 'lr', 'mp'] };
}

const input = (seed: number) => new Map([['q', { dtype: 'int8' as const, shape: [1, C, H, W], data: Int8Array.from(randomInts(C * H * W, -128, 127, seed)) }]]);

test('the element-wise runs fuse into groups; an int8 result ends one; a view or a non-element-wise node cuts one', () => {
  const g = island();
  const groups = elementwiseGroups(g, g.nodes).map((gr) => gr.nodes.map((n) => n.name));
  assert.equal(groups, [['x', 't', 'm', 'hs'], ['hsg'], ['se', 'r', 'cl', 'sg', 'sb', 'hw', 'lr', 'o8'], ['h8']]);
});

for (const [kind, tool] of [['wasm', 'wabt'], ['cpu', 'cc']] as const) testNeeding(() => toolsMissing(tool))(`${kind} host: the float islands equal the reference kernels bit for bit, and outputs survive the next run`, async () => {
  const d = loadConfig('default');
  const g = island();
  const host = compiledHost(parseTarget(kind, d) as CpuTargetSpec & WasmTargetSpec, d);
  await host.prepare!(g);
  const kept: Map<string, Tensor>[] = [];
  for (const seed of [1, 2, 3]) {
    const want = runGraph(g, input(seed), TS_HOST).outputs;
    const got = runGraph(g, input(seed), host).outputs;
    kept.push(got);
    for (const [name, t] of want) {
      assert.equal(got.get(name)!.shape, t.shape, `${name} shape`);
      assert.equal(Array.from(got.get(name)!.data), Array.from(t.data), `input ${seed}: ${name} differs`);
    }
    const h8 = Array.from(want.get('h8')!.data);
    assert.ok(h8.includes(127) && h8.some((v) => v < 0) && new Set(h8).size > 40, `the data saturates int8 and varies (${new Set(h8).size} values, ${Math.min(...h8)}..${Math.max(...h8)})`);
  }
  // the first run's outputs were not overwritten by the later runs
  assert.equal(Array.from(kept[0].get('o8')!.data), Array.from(runGraph(g, input(1), TS_HOST).outputs.get('o8')!.data));
  assert.equal(Array.from(kept[0].get('dc')!.data), Array.from(runGraph(g, input(1), TS_HOST).outputs.get('dc')!.data));
});

for (const [kind, tool] of [['wasm', 'wabt'], ['cpu', 'cc']] as const) testNeeding(() => toolsMissing(tool))(`${kind}: QuantizeP2 in a fused loop rounds ties to even and saturates, NaN, infinities and signed zeros pass as in the reference`, async () => {
  const values = new Map<string, Value>();
  const shape = [1, 1, 1, 26];
  for (const v of ['x', 'y', 'h', 's']) values.set(v, { name: v, dtype: 'float32', shape });
  values.set('q', { name: 'q', dtype: 'int8', shape });
  values.set('z', { name: 'z', dtype: 'float32', shape: [], const: { dtype: 'float32', shape: [], data: Float32Array.of(0) } });
  const g: Graph = {
    name: 'ties', opset: 17, values, inputs: ['x'], outputs: ['q', 'h', 's'],
    nodes: [
      { name: 'y', op: 'Add', inputs: ['x', 'z'], outputs: ['y'], attrs: {} },
      { name: 'q', op: 'QuantizeP2', inputs: ['y'], outputs: ['q'], attrs: { frac: 1 } },
      { name: 'h', op: 'HardSigmoid', inputs: ['x'], outputs: ['h'], attrs: { alpha: 0.20000000298023224, beta: 0.5 } },
      { name: 's', op: 'HardSwish', inputs: ['h'], outputs: ['s'], attrs: {} },
    ],
  };
  const xs = [-64.25, -64.5, -63.75, -0.25, -0.75, -1.25, 0.25, 0.75, 1.25, 1.75, 63.25, 63.75, 64, 70, -70, 1e30, -1e30, NaN, Infinity, -Infinity, 3e-40, -0, 0.2499999, 1.2500001, -2.5, -3];
  const x = new Map([['x', { dtype: 'float32' as const, shape, data: Float32Array.from(xs) }]]);
  const host = compiledHost(parseTarget(kind, loadConfig('default')) as CpuTargetSpec & WasmTargetSpec, loadConfig('default'));
  await host.prepare!(g);
  const want = runGraph(g, x, TS_HOST).outputs;
  const got = runGraph(g, x, host).outputs;
  for (const name of ['q', 'h', 's']) {
    // Object.is: NaN equals NaN, -0 differs from +0
    const w = Array.from(want.get(name)!.data);
    const o = Array.from(got.get(name)!.data);
    assert.ok(w.every((v, i) => Object.is(v, o[i])), `${name}: ${o} vs ${w}`);
  }
  assert.equal(Array.from(want.get('q')!.data).slice(0, 10), [-128, -128, -128, 0, -2, -2, 0, 2, 2, 4]);
});

test('wasm: every group without Math.exp is a WebAssembly loop (the runs above took them), the Sigmoid one stays JavaScript', () => {
  const g = island();
  const made = elementwiseGroups(g, g.nodes).map((gr) => [gr.nodes.map((n) => n.op).includes('Sigmoid'), fusedWat(gr, g, () => false) !== undefined]);
  assert.equal(made, [[false, true], [false, true], [true, false], [false, true]]);
});

test.run();
