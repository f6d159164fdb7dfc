/**
 * ONNX import: a ModelProto (decoded with onnx-proto, ONNX's own schema compiled for protobufjs)
 * becomes a graph of compiler/graph/ir.ts. Weights may be initializers, Constant nodes, or float16
 * initializers followed by Cast (kept as float16 constants; the Cast folds). Opsets 9 to 17 of the
 * default domain: every opset-dependent form is rewritten into one canonical form here
 * (docs/models.md), so nothing after import looks at the opset. Anything the graph level cannot
 * take (another domain, an op type without a kernel, external data, a sub-graph) is one line.
 */
import onnxPkg from 'onnx-proto';
import { CompileError } from '../errors.ts';
import { freshName, type Attr, type Dim, type Graph, type Node, type Value } from '../graph/ir.ts';
import { OPS, SUPPORTED_OPS } from '../graph/ops.ts';
import { dtypeOfOnnx, float16ToNumber, ONNX_DTYPES, sizeOf, tensor, type DType, type Tensor } from '../graph/tensor.ts';

const { onnx } = onnxPkg;
type TensorProto = onnxPkg.onnx.ITensorProto;
type AttributeProto = onnxPkg.onnx.IAttributeProto;

export const MIN_OPSET = 9;
export const MAX_OPSET = 17;

/** Long (protobufjs int64) or number → number. */
function num(x: unknown): number {
  if (typeof x === 'number') return x;
  if (x && typeof (x as { toNumber?: unknown }).toNumber === 'function') return (x as { toNumber(): number }).toNumber();
  return Number(x ?? 0);
}

/** A TensorProto as a tensor (raw little-endian bytes or the typed repeated fields). */
export function tensorFromProto(t: TensorProto, where: string): Tensor {
  if (t.dataLocation === 1 || (t.externalData && t.externalData.length)) {
    throw new CompileError(`${where}: tensor ${t.name ?? ''} keeps its data in an external file, which vtw does not read (save the model with the weights inside)`);
  }
  const dtype = dtypeOfOnnx(num(t.dataType), where);
  const dims = (t.dims ?? []).map(num);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new CompileError(`${where}: tensor ${t.name ?? ''} has dimensions [${dims.join(',')}]`);
  const n = sizeOf(dims);
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  if (raw) {
    const bytes = BYTES[dtype];
    if (raw.length !== n * bytes) throw new CompileError(`${where}: tensor ${t.name ?? ''} has ${raw.length} bytes of data, its shape [${dims.join(',')}] needs ${n * bytes}`);
    const out = tensor(dtype, dims);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) out.data[i] = readRaw(view, i * bytes, dtype);
    return out;
  }
  const field: unknown[] | undefined = pickField(t, dtype);
  const values = field ?? [];
  if (values.length !== n && !(values.length === 0 && n === 0)) {
    throw new CompileError(`${where}: tensor ${t.name ?? ''} has ${values.length} values, its shape [${dims.join(',')}] needs ${n}`);
  }
  const out = tensor(dtype, dims);
  for (let i = 0; i < n; i++) out.data[i] = dtype === 'float16' ? float16ToNumber(num(values[i])) : num(values[i]);
  return out;
}

const BYTES: Record<DType, number> = { float32: 4, float16: 2, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1 };

function readRaw(v: DataView, o: number, t: DType): number {
  switch (t) {
    case 'float32': return v.getFloat32(o, true);
    case 'float16': return float16ToNumber(v.getUint16(o, true));
    case 'float64': return v.getFloat64(o, true);
    case 'int8': return v.getInt8(o);
    case 'uint8': case 'bool': return v.getUint8(o);
    case 'int16': return v.getInt16(o, true);
    case 'uint16': return v.getUint16(o, true);
    case 'int32': return v.getInt32(o, true);
    case 'uint32': return v.getUint32(o, true);
    case 'int64': return Number(v.getBigInt64(o, true));
    case 'uint64': return Number(v.getBigUint64(o, true));
  }
}

/** The repeated field holding a tensor's values when it has no raw data (onnx.proto's table). */
function pickField(t: TensorProto, dtype: DType): unknown[] | undefined {
  switch (dtype) {
    case 'float32': return t.floatData ?? undefined;
    case 'float64': return t.doubleData ?? undefined;
    case 'int64': return t.int64Data ?? undefined;
    case 'uint32': case 'uint64': return t.uint64Data ?? undefined;
    default: return t.int32Data ?? undefined; // int8..int32, uint8, uint16, bool, float16 (as bits)
  }
}

function attrValue(a: AttributeProto, where: string): Attr | undefined {
  switch (num(a.type)) {
    case 1: return a.f ?? 0;
    case 2: return num(a.i);
    case 3: return new TextDecoder().decode(a.s ?? new Uint8Array());
    case 4: return tensorFromProto(a.t ?? {}, `${where} attribute ${a.name}`);
    case 6: return (a.floats ?? []).map(Number);
    case 7: return (a.ints ?? []).map(num);
    case 8: return (a.strings ?? []).map((s) => new TextDecoder().decode(s));
    case 5: case 10: case 11: case 12: case 13: case 14:
      throw new CompileError(`${where}: attribute ${a.name} holds a sub-graph or a sparse tensor, which vtw does not support`);
    default: return undefined;
  }
}

/** Decode ONNX bytes; a file that is not a well-formed ModelProto is one line. */
export function decodeModel(bytes: Uint8Array, file: string): onnxPkg.onnx.ModelProto {
  let m: onnxPkg.onnx.ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new CompileError(`${file} is not a readable ONNX model (truncated or corrupt: ${why}); export it again`);
  }
  if (!m.graph || !m.graph.node || m.graph.node.length === 0 || !m.graph.output?.length) {
    throw new CompileError(`${file} is not an ONNX model: it has no graph with nodes and outputs (corrupt, or another kind of file)`);
  }
  return m;
}

export interface ImportOptions {
  /** The file name for messages. */
  file?: string;
}

/** Import a decoded model into the graph IR (shapes as declared; binding and inference are passes). */
export function importModel(m: onnxPkg.onnx.ModelProto, opts: ImportOptions = {}): Graph {
  const file = opts.file ?? 'model';
  const gp = m.graph!;
  const defaultOpset = (m.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = defaultOpset ? num(defaultOpset.version) : 0;
  if (opset < 1 || opset > MAX_OPSET) {
    throw new CompileError(`${file}: opset ${opset || '(none)'} of the default domain is outside the opsets vtw imports (${MIN_OPSET} to ${MAX_OPSET}); convert it with onnx.version_converter`);
  }
  if (opset < MIN_OPSET) {
    // an older opset is fine when every operator used has kept its meaning since then
    for (const np of gp.node ?? []) {
      const op = np.opType ?? '';
      if (op === 'Constant') continue;
      const since = UNCHANGED_SINCE[op];
      if (since === undefined || since > opset) {
        throw new CompileError(`${file}: opset ${opset} is older than ${MIN_OPSET} and ${op} has changed since; convert the model to opset ${MIN_OPSET}-${MAX_OPSET} with onnx.version_converter`);
      }
    }
  }
  const g: Graph = { name: gp.name || 'model', opset, values: new Map(), nodes: [], inputs: [], outputs: [] };
  const addConst = (name: string, t: Tensor) => g.values.set(name, { name, dtype: t.dtype, shape: [...t.shape], const: t });
  for (const init of gp.initializer ?? []) addConst(init.name ?? '', tensorFromProto(init, `${file}: initializer ${init.name}`));

  const declared = (vi: onnxPkg.onnx.IValueInfoProto, where: string): Value => {
    const tt = vi.type?.tensorType;
    if (!tt) throw new CompileError(`${file}: ${where} ${vi.name} is not a tensor (sequences, maps and optionals are not supported)`);
    const dtype = dtypeOfOnnx(num(tt.elemType), `${file}: ${where} ${vi.name}`);
    const shape: Dim[] | null = tt.shape ? (tt.shape.dim ?? []).map((d, i) => (d.dimValue !== undefined && d.dimValue !== null && num(d.dimValue) > 0 ? num(d.dimValue) : d.dimParam || `?${i}`)) : null;
    return { name: vi.name ?? '', dtype, shape };
  };
  for (const vi of gp.input ?? []) {
    if (g.values.get(vi.name ?? '')?.const) continue; // an initializer listed as an input (IR < 4) stays a constant
    g.values.set(vi.name ?? '', declared(vi, 'input'));
    g.inputs.push(vi.name ?? '');
  }

  const used = new Set<string>();
  (gp.node ?? []).forEach((np, index) => {
    const op = np.opType ?? '';
    const name = np.name || `${op}_${index}`;
    if (np.domain && np.domain !== 'ai.onnx') throw unsupported(op, name, `domain ${np.domain}`, opset);
    const attrs: Record<string, Attr> = {};
    for (const a of np.attribute ?? []) {
      const v = attrValue(a, `${op} node ${name}`);
      if (v !== undefined) attrs[a.name ?? ''] = v;
    }
    const outputs = (np.output ?? []).map(String);
    if (op === 'Constant') {
      addConst(outputs[0], constantValue(attrs, `${file}: Constant node ${name}`));
      return;
    }
    if (!OPS[op] && !REWRITES[op]) throw unsupported(op, name, `opset ${opset}`, opset);
    let nodeName = name;
    if (used.has(nodeName)) nodeName = `${name}_${index}`;
    used.add(nodeName);
    const node: Node = { name: nodeName, op, inputs: (np.input ?? []).map(String), outputs, attrs };
    canonicalize(g, node, opset);
    g.nodes.push(node);
    for (const o of outputs) if (o && !g.values.has(o)) g.values.set(o, { name: o, dtype: null, shape: null });
  });
  for (const vi of gp.output ?? []) {
    const v = g.values.get(vi.name ?? '');
    if (!v) throw new CompileError(`${file}: output ${vi.name} is written by no node`);
    if (!v.const && v.shape === null) {
      const d = declared(vi, 'output');
      v.dtype = d.dtype;
    }
    g.outputs.push(vi.name ?? '');
  }
  for (const n of g.nodes) {
    for (const i of n.inputs) if (i && !g.values.has(i)) throw new CompileError(`${file}: node ${n.name} (${n.op}) reads ${i}, which no node, input or initializer gives`);
  }
  sortTopologically(g, file);
  return g;
}

function unsupported(op: string, node: string, where: string, opset: number): CompileError {
  const ctx = where.startsWith('opset') ? where : `${where}, opset ${opset}`;
  return new CompileError(`unsupported operator ${op} (node ${node}, ${ctx}); docs/models.md lists the ${SUPPORTED_OPS.length} supported operators`);
}

/** A Constant node's tensor: `value`, or the value_float(s) / value_int(s) shorthands. */
function constantValue(attrs: Record<string, Attr>, where: string): Tensor {
  const v = attrs.value;
  if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  if (typeof attrs.value_float === 'number') return tensor('float32', [], [attrs.value_float]);
  if (Array.isArray(attrs.value_floats)) return tensor('float32', [attrs.value_floats.length], attrs.value_floats as number[]);
  if (typeof attrs.value_int === 'number') return tensor('int64', [], [attrs.value_int]);
  if (Array.isArray(attrs.value_ints)) return tensor('int64', [attrs.value_ints.length], attrs.value_ints as number[]);
  throw new CompileError(`${where}: a Constant without a tensor value (sparse or string constants are not supported)`);
}

/**
 * Operators whose meaning (for the types vtw handles) has not changed from this opset up to opset 9,
 * so a model of an older opset using only these imports as is (from ONNX's Changelog.md).
 */
const UNCHANGED_SINCE: Record<string, number> = {
  GlobalAveragePool: 1, Flatten: 1, Transpose: 1, MatMul: 1, Identity: 1, Conv: 1, Gather: 1, Shape: 1, Softmax: 1,
  Relu: 6, Sigmoid: 6, LeakyRelu: 6, HardSigmoid: 6, Sqrt: 6, Cast: 6,
  Add: 7, Sub: 7, Mul: 7, Div: 7, Pow: 7, Gemm: 7, AveragePool: 7, BatchNormalization: 7,
  Concat: 4, Reshape: 5, MaxPool: 8,
};

/** Op types that only exist before import and are rewritten into a supported one. */
const REWRITES: Record<string, true> = { Upsample: true, Dropout: true };

/** A constant value added for an attribute that newer opsets take as an input. */
function constInput(g: Graph, node: Node, what: string, t: Tensor): string {
  const name = freshName(g, `${node.name}.${what}`);
  g.values.set(name, { name, dtype: t.dtype, shape: [...t.shape], const: t });
  return name;
}

/**
 * One canonical form per operator (the newest one): attributes that became inputs become constant
 * inputs, Upsample becomes Resize, Dropout (inference) becomes Identity, opset < 13 Softmax keeps
 * its 2-D coercion as attribute coerce_2d.
 */
function canonicalize(g: Graph, n: Node, opset: number): void {
  const ints = (name: string) => n.attrs[name] as number[] | undefined;
  const take = (name: string) => {
    const v = n.attrs[name];
    delete n.attrs[name];
    return v;
  };
  const setInput = (i: number, name: string) => {
    while (n.inputs.length < i) n.inputs.push('');
    n.inputs[i] = name;
  };
  switch (n.op) {
    case 'Clip':
      if (opset < 11) {
        const lo = take('min');
        const hi = take('max');
        setInput(1, typeof lo === 'number' ? constInput(g, n, 'min', tensor('float32', [], [lo])) : '');
        setInput(2, typeof hi === 'number' ? constInput(g, n, 'max', tensor('float32', [], [hi])) : '');
      }
      break;
    case 'Squeeze':
    case 'Unsqueeze':
      if (opset < 13) {
        const axes = ints('axes');
        delete n.attrs.axes;
        if (axes) setInput(1, constInput(g, n, 'axes', tensor('int64', [axes.length], axes)));
      }
      break;
    case 'Slice':
      if (opset < 10) {
        const starts = ints('starts') ?? [];
        const ends = ints('ends') ?? [];
        const axes = ints('axes');
        for (const k of ['starts', 'ends', 'axes']) delete n.attrs[k];
        setInput(1, constInput(g, n, 'starts', tensor('int64', [starts.length], starts)));
        setInput(2, constInput(g, n, 'ends', tensor('int64', [ends.length], ends)));
        if (axes) setInput(3, constInput(g, n, 'axes', tensor('int64', [axes.length], axes)));
      }
      break;
    case 'Pad':
      if (opset < 11) {
        const pads = ints('pads') ?? [];
        const value = take('value');
        delete n.attrs.pads;
        setInput(1, constInput(g, n, 'pads', tensor('int64', [pads.length], pads)));
        if (typeof value === 'number' && value !== 0) setInput(2, constInput(g, n, 'value', tensor('float32', [], [value])));
      }
      break;
    case 'Upsample': {
      // opset 9: Upsample(X, scales); it became Resize(X, roi, scales) with the same nearest semantics
      n.op = 'Resize';
      const scales = take('scales');
      const x = n.inputs[0];
      const s = Array.isArray(scales) ? constInput(g, n, 'scales', tensor('float32', [scales.length], scales as number[])) : n.inputs[1] ?? '';
      n.inputs = [x, '', s];
      n.attrs.coordinate_transformation_mode = 'asymmetric';
      n.attrs.nearest_mode = 'floor';
      break;
    }
    case 'Resize':
      if (opset < 11) {
        // opset 10: Resize(X, scales), asymmetric coordinates, floor rounding
        n.inputs = [n.inputs[0], '', n.inputs[1] ?? ''];
        n.attrs.coordinate_transformation_mode = 'asymmetric';
        n.attrs.nearest_mode = 'floor';
      }
      break;
    case 'Dropout':
      if (n.inputs[2] || n.attrs.is_test === 0) throw new CompileError(`Dropout node ${n.name}: training mode is not supported (inference only)`);
      n.op = 'Identity';
      n.inputs = [n.inputs[0]];
      if (n.outputs.length > 1 && n.outputs[1]) throw new CompileError(`Dropout node ${n.name}: its mask output is not supported (inference only)`);
      n.outputs = [n.outputs[0]];
      n.attrs = {};
      break;
    case 'Softmax':
      if (opset < 13) {
        n.attrs.coerce_2d = 1;
        if (n.attrs.axis === undefined) n.attrs.axis = 1;
      }
      break;
    case 'Cast':
      n.attrs.to = ONNX_DTYPES[n.attrs.to as number] ?? dtypeOfOnnx(n.attrs.to as number, `Cast node ${n.name}`);
      break;
    case 'BatchNormalization':
      delete n.attrs.spatial;
      delete n.attrs.momentum;
      break;
    default:
      break;
  }
  while (n.inputs.length && n.inputs[n.inputs.length - 1] === '') n.inputs.pop();
}

/** ONNX requires topological order, but not every exporter keeps it: order the nodes (stable). */
function sortTopologically(g: Graph, file: string): void {
  const ready = new Set<string>([...g.values.values()].filter((v) => v.const).map((v) => v.name).concat(g.inputs, ['']));
  const done: Node[] = [];
  let pending = g.nodes;
  while (pending.length) {
    const next: Node[] = [];
    for (const n of pending) {
      if (n.inputs.every((i) => ready.has(i))) {
        done.push(n);
        for (const o of n.outputs) ready.add(o);
      } else next.push(n);
    }
    if (next.length === pending.length) throw new CompileError(`${file}: the graph has a cycle or reads values before they exist (node ${next[0].name})`);
    pending = next;
  }
  g.nodes = done;
}

/** Read, decode and import an ONNX file's bytes. */
export function loadOnnx(bytes: Uint8Array, file: string): Graph {
  return importModel(decodeModel(bytes, file), { file });
}
