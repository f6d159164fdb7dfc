/** Small ONNX models written with onnx-proto (ONNX's schema), for tests of the importer and the passes. */
import onnxPkg from 'onnx-proto';

const { onnx } = onnxPkg;

export type AttrSpec = { i: number } | { f: number } | { ints: number[] } | { floats: number[] } | { s: string } | { t: InitSpec };

export interface InitSpec {
  name?: string;
  /** ONNX data type: 1 float, 2 uint8, 3 int8, 6 int32, 7 int64, 10 float16. */
  type: number;
  dims: number[];
  /** Values; for float16 the IEEE half bits. */
  data: number[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrSpec>;
  name?: string;
  domain?: string;
}

export interface ModelSpec {
  opset: number;
  nodes: NodeSpec[];
  inputs: { name: string; type?: number; dims: (number | string)[] }[];
  outputs: { name: string; type?: number }[];
  initializers?: InitSpec[];
}

function tensorProto(t: InitSpec): onnxPkg.onnx.ITensorProto {
  const p: onnxPkg.onnx.ITensorProto = { name: t.name, dataType: t.type, dims: t.dims };
  if (t.type === 1) p.floatData = t.data;
  else if (t.type === 7) p.int64Data = t.data;
  else p.int32Data = t.data;
  return p;
}

function attr(name: string, a: AttrSpec): onnxPkg.onnx.IAttributeProto {
  if ('i' in a) return { name, type: 2, i: a.i };
  if ('f' in a) return { name, type: 1, f: a.f };
  if ('ints' in a) return { name, type: 7, ints: a.ints };
  if ('floats' in a) return { name, type: 6, floats: a.floats };
  if ('s' in a) return { name, type: 3, s: new TextEncoder().encode(a.s) };
  return { name, type: 4, t: tensorProto(a.t) };
}

export function buildModel(m: ModelSpec): Uint8Array {
  const valueInfo = (name: string, type = 1, dims?: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: type, shape: dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined } },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'vtw-test',
    opsetImport: [{ domain: '', version: m.opset }],
    graph: {
      name: 'test',
      node: m.nodes.map((n, i) => ({
        opType: n.op, name: n.name ?? `n${i}`, input: n.inputs, output: n.outputs, domain: n.domain ?? '',
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attr(k, v)),
      })),
      input: m.inputs.map((i) => valueInfo(i.name, i.type, i.dims)),
      output: m.outputs.map((o) => valueInfo(o.name, o.type)),
      initializer: (m.initializers ?? []).map(tensorProto),
    },
  }).finish();
}

/** IEEE half-precision bits of x (round to nearest even), for float16 initializers. */
export function halfBits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}
