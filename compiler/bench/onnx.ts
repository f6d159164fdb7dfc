/**
 * Single-convolution ONNX models, encoded in memory, for the onnxruntime-node baseline of the CPU
 * benchmark (scripts/bench-cpu.ts). No protobuf package is installed (onnxruntime-node ships none
 * for JavaScript), so the few ModelProto messages needed are written with a tiny protobuf field
 * writer: varints and length-delimited fields, nothing else. Field numbers are those of onnx.proto
 * (onnx/onnx, IR version 8).
 */

/** Protobuf wire writer: one message's bytes. */
class Msg {
  private readonly parts: number[] = [];

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      this.parts.push(b);
    } while (x);
  }

  private key(field: number, wire: 0 | 2): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Msg): this {
    return this.bytes(field, m.done());
  }

  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** onnx.TensorProto.DataType */
export const OnnxType = { float: 1, uint8: 2, int8: 3, int32: 6 } as const;
export type OnnxTypeName = keyof typeof OnnxType;

export interface OnnxTensor {
  name: string;
  type: OnnxTypeName;
  dims: readonly number[];
  data: ArrayBufferView;
}

const tensorProto = (t: OnnxTensor): Msg => {
  const m = new Msg();
  for (const d of t.dims) m.int(1, d);
  m.int(2, OnnxType[t.type]).str(8, t.name);
  return m.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
};

const valueInfo = (name: string, type: OnnxTypeName, dims: readonly number[]): Msg => {
  const shape = new Msg();
  for (const d of dims) shape.msg(1, new Msg().int(1, d));
  const tensorType = new Msg().int(1, OnnxType[type]).msg(2, shape);
  return new Msg().str(1, name).msg(2, new Msg().msg(1, tensorType));
};

const intsAttr = (name: string, v: readonly number[]): Msg => {
  const m = new Msg().str(1, name);
  for (const x of v) m.int(8, x);
  return m.int(20, 7); // AttributeProto.INTS
};

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  /** INTS attributes. */
  attrs: Record<string, readonly number[]>;
}

export interface OnnxGraph {
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly { name: string; type: OnnxTypeName; dims: readonly number[] }[];
  outputs: readonly { name: string; type: OnnxTypeName; dims: readonly number[] }[];
}

/** A ModelProto (IR version 8, default-domain opset 13) of one graph. */
export function encodeModel(g: OnnxGraph): Uint8Array {
  const graph = new Msg();
  for (const n of g.nodes) {
    const node = new Msg();
    for (const i of n.inputs) node.str(1, i);
    for (const o of n.outputs) node.str(2, o);
    node.str(4, n.op);
    for (const [k, v] of Object.entries(n.attrs)) node.msg(5, intsAttr(k, v));
    graph.msg(1, node);
  }
  graph.str(2, 'vtw_bench');
  for (const t of g.initializers) graph.msg(5, tensorProto(t));
  for (const i of g.inputs) graph.msg(11, valueInfo(i.name, i.type, i.dims));
  for (const o of g.outputs) graph.msg(12, valueInfo(o.name, o.type, o.dims));
  return new Msg().int(1, 8).msg(8, new Msg().str(1, '').int(2, 13)).msg(7, graph).str(2, 'vta-workbench').done();
}

export interface ConvShape {
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  pad: number;
  stride: number;
}

export const convOutSize = (s: ConvShape): [number, number] => [
  Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1,
  Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1,
];

/** Small deterministic values (a linear congruential generator): the baseline's speed does not depend on them. */
function fill<T extends Int8Array | Uint8Array | Float32Array | Int32Array>(a: T, seed: number, lo: number, hi: number): T {
  let x = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = lo + (x % (hi - lo + 1));
  }
  return a;
}

/**
 * One convolution in NCHW with constant weights, in three precisions:
 * - `fp32`: Conv (float input, weight, bias);
 * - `conv_integer`: ConvInteger (int8 input and weight, int32 output: the MACs alone);
 * - `qlinear`: QLinearConv (int8 in, int8 out, int32 bias, per-tensor scales: the MACs and the
 *   requantization, as the workbench's conv2d computes them).
 */
export type OnnxConvKind = 'fp32' | 'conv_integer' | 'qlinear';

export function convModel(s: ConvShape, kind: OnnxConvKind): { model: Uint8Array; input: { name: string; type: OnnxTypeName; dims: number[]; data: ArrayBufferView } } {
  const [oh, ow] = convOutSize(s);
  const xDims = [1, s.cin, s.h, s.w];
  const wDims = [s.cout, s.cin, s.k, s.k];
  const yDims = [1, s.cout, oh, ow];
  const nw = wDims.reduce((a, b) => a * b, 1);
  const nx = xDims.reduce((a, b) => a * b, 1);
  const attrs = { kernel_shape: [s.k, s.k], pads: [s.pad, s.pad, s.pad, s.pad], strides: [s.stride, s.stride] };
  const scalar = (name: string, type: OnnxTypeName, data: ArrayBufferView): OnnxTensor => ({ name, type, dims: [], data });
  if (kind === 'fp32') {
    const model = encodeModel({
      nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs }],
      initializers: [
        { name: 'w', type: 'float', dims: wDims, data: fill(new Float32Array(nw), 2, -8, 8) },
        { name: 'b', type: 'float', dims: [s.cout], data: fill(new Float32Array(s.cout), 3, -100, 100) },
      ],
      inputs: [{ name: 'x', type: 'float', dims: xDims }],
      outputs: [{ name: 'y', type: 'float', dims: yDims }],
    });
    return { model, input: { name: 'x', type: 'float', dims: xDims, data: fill(new Float32Array(nx), 1, -8, 8) } };
  }
  const input = { name: 'x', type: 'int8' as const, dims: xDims, data: fill(new Int8Array(nx), 1, -128, 127) };
  const w: OnnxTensor = { name: 'w', type: 'int8', dims: wDims, data: fill(new Int8Array(nw), 2, -128, 127) };
  if (kind === 'conv_integer') {
    const model = encodeModel({
      nodes: [{ op: 'ConvInteger', inputs: ['x', 'w', 'xz', 'wz'], outputs: ['y'], attrs }],
      initializers: [w, scalar('xz', 'int8', new Int8Array(1)), scalar('wz', 'int8', new Int8Array(1))],
      inputs: [{ name: 'x', type: 'int8', dims: xDims }],
      outputs: [{ name: 'y', type: 'int32', dims: yDims }],
    });
    return { model, input };
  }
  const model = encodeModel({
    nodes: [{ op: 'QLinearConv', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], outputs: ['y'], attrs }],
    initializers: [
      w,
      scalar('xs', 'float', Float32Array.of(1)), scalar('xz', 'int8', new Int8Array(1)),
      scalar('ws', 'float', Float32Array.of(1)), scalar('wz', 'int8', new Int8Array(1)),
      scalar('ys', 'float', Float32Array.of(256)), scalar('yz', 'int8', new Int8Array(1)),
      { name: 'b', type: 'int32', dims: [s.cout], data: fill(new Int32Array(s.cout), 3, -100, 100) },
    ],
    inputs: [{ name: 'x', type: 'int8', dims: xDims }],
    outputs: [{ name: 'y', type: 'int8', dims: yDims }],
  });
  return { model, input };
}
