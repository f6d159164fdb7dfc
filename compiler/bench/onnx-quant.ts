/**
 * A quantized graph (compiler/graph/quantized.ts) as an ONNX model in onnxruntime's QOperator form,
 * so onnxruntime can run the SAME int8 network as the host back ends (scripts/bench-models.ts,
 * issue 14's "against onnxruntime's int8 time"). Written with onnx-proto (ONNX's schema).
 *
 *   QuantizeP2 {frac}   -> QuantizeLinear   (scale 2^-frac, zero point 0)
 *   DequantizeP2        -> DequantizeLinear (the value's scale and zero point)
 *   QConv               -> QLinearConv      (x, w and y scales with x_s * w_s / y_s = 2^-shift; bias << shift at x_s * w_s)
 *   QDense              -> com.microsoft QGemm (transB = 1, the same scales and bias)
 *   QAdd                -> com.microsoft QLinearAdd
 *   QMaxPool            -> MaxPool on int8 (order-preserving: scale and zero point pass through)
 *   Flatten / Reshape   -> themselves on int8
 *   float nodes         -> themselves; a fused `clip` attribute becomes a Relu / Clip node after them
 *
 * Same power-of-two scales as ours; a fused relu (clip low 0) becomes the output's zero point -128
 * (onnxruntime's way to fold a relu into the quantization). The numbers are NOT bit-identical with
 * ours: onnxruntime rounds the requantization to nearest where VTA's shift floors, and a relu'd
 * value saturates at 255 steps instead of 127. The work per node is the same, which is what the
 * benchmark compares; `scripts/bench-models.ts` reports how far the outputs are apart.
 */
import onnxPkg from 'onnx-proto';
import { CompileError } from '../errors.ts';
import type { Attr, Graph, Node } from '../graph/ir.ts';
import type { DType, Tensor } from '../graph/tensor.ts';

const { onnx } = onnxPkg;

const ONNX_TYPE: Partial<Record<DType, number>> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7 };

/** Attributes of the canonical forms that are floats in ONNX (the rest of the numbers are ints). */
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'momentum']);
/** Graph-level attributes of the workbench (not ONNX's). */
const OWN_ATTRS = new Set(['clip', 'coerce_2d', 'frac', 'shift']);

function tensorProto(name: string, t: Tensor): onnxPkg.onnx.ITensorProto {
  const type = ONNX_TYPE[t.dtype];
  if (!type) throw new CompileError(`internal: cannot write a ${t.dtype} constant (${name}) to ONNX`);
  let raw: Uint8Array;
  if (t.dtype === 'int64') {
    const b = BigInt64Array.from(t.data as ArrayLike<number>, (v) => BigInt(v));
    raw = new Uint8Array(b.buffer);
  } else {
    const d = t.data as ArrayBufferView;
    raw = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  }
  return { name, dataType: type, dims: t.shape, rawData: raw };
}

function attrProto(name: string, a: Attr): onnxPkg.onnx.IAttributeProto {
  if (typeof a === 'number') return FLOAT_ATTRS.has(name) ? { name, type: 1, f: a } : { name, type: 2, i: a };
  if (typeof a === 'string') return { name, type: 3, s: new TextEncoder().encode(a) };
  if (Array.isArray(a) && a.every((x) => typeof x === 'number')) return { name, type: 7, ints: a as number[] };
  throw new CompileError(`internal: attribute ${name} cannot be written to ONNX`);
}

/** Scale and zero point of an int8 value. */
interface QParams {
  frac: number;
  zp: number;
}

/** The quantized graph as QOperator ONNX (IR 8, opset 13 + com.microsoft 1). */
export function quantizedOnnx(g: Graph): Uint8Array {
  const nodes: onnxPkg.onnx.INodeProto[] = [];
  const inits: onnxPkg.onnx.ITensorProto[] = [];
  const q = new Map<string, QParams>();
  const written = new Set<string>();
  let serial = 0;
  const scalar = (base: string, t: Tensor): string => {
    const name = `${base}_${serial++}`;
    inits.push(tensorProto(name, t));
    return name;
  };
  const scale = (frac: number) => scalar('scale', { dtype: 'float32', shape: [], data: Float32Array.of(2 ** -frac) });
  const zero = (zp: number) => scalar('zp', { dtype: 'int8', shape: [], data: Int8Array.of(zp) });
  const constant = (name: string): string => {
    const v = g.values.get(name);
    if (name && v?.const && !written.has(name)) {
      written.add(name);
      inits.push(tensorProto(name, v.const));
    }
    return name;
  };
  const qOf = (name: string, n: Node): QParams => {
    const p = q.get(name);
    if (!p) throw new CompileError(`internal: ${n.op} node ${n.name} reads ${name}, which has no quantization parameters`);
    return p;
  };
  const num = (n: Node, k: string): number => {
    const a = n.attrs[k];
    if (typeof a !== 'number') throw new CompileError(`internal: ${n.op} node ${n.name} has no numeric ${k}`);
    return a;
  };
  const clipOf = (n: Node): [number, number] | undefined => {
    const c = n.attrs.clip;
    return Array.isArray(c) ? [(c[0] as number | null) ?? -Infinity, (c[1] as number | null) ?? Infinity] : undefined;
  };
  /** A fused relu (clip from 0) folds into the output's zero point. */
  const outQ = (n: Node): QParams => ({ frac: num(n, 'frac'), zp: (clipOf(n)?.[0] ?? -128) >= 0 ? -128 : 0 });
  const attrs = (n: Node) =>
    Object.entries(n.attrs)
      .filter(([k]) => !OWN_ATTRS.has(k))
      .map(([k, v]) => attrProto(k, v));
  const push = (op: string, inputs: string[], outputs: string[], attribute: onnxPkg.onnx.IAttributeProto[] = [], domain = '') =>
    nodes.push({ opType: op, name: `${op}_${nodes.length}`, input: inputs, output: outputs, attribute, domain });

  for (const n of g.nodes) {
    const [x] = n.inputs;
    const [y] = n.outputs;
    switch (n.op) {
      case 'QuantizeP2': {
        const p = { frac: num(n, 'frac'), zp: 0 };
        push('QuantizeLinear', [x, scale(p.frac), zero(p.zp)], [y]);
        q.set(y, p);
        break;
      }
      case 'DequantizeP2': {
        const p = qOf(x, n);
        push('DequantizeLinear', [x, scale(p.frac), zero(p.zp)], [y]);
        break;
      }
      case 'QConv':
      case 'QDense': {
        const px = qOf(x, n);
        const py = outQ(n);
        const shift = num(n, 'shift');
        // x_s * w_s / y_s = 2^-shift: the weight's frac follows from the shift.
        const wFrac = shift + py.frac - px.frac;
        let bias = '';
        const b = n.inputs[2] ? g.values.get(n.inputs[2])?.const : undefined;
        if (b) {
          // Ours adds the bias after the shift (at the output scale); QLinearConv before it (at x_s * w_s).
          const m = 2 ** shift;
          const data = Int32Array.from(b.data as ArrayLike<number>, (v) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, v * m)));
          bias = scalar('bias', { dtype: 'int32', shape: [...b.shape], data });
        }
        const w = constant(n.inputs[1]);
        const operands = [x, scale(px.frac), zero(px.zp), w, scale(wFrac), zero(0)];
        if (n.op === 'QConv') {
          push('QLinearConv', [...operands, scale(py.frac), zero(py.zp), ...(bias ? [bias] : [])], [y], attrs(n));
        } else {
          push('QGemm', [...operands, bias, scale(py.frac), zero(py.zp)], [y], [{ name: 'transB', type: 2, i: 1 }], 'com.microsoft');
        }
        q.set(y, py);
        break;
      }
      case 'QAdd': {
        const pa = qOf(n.inputs[0], n);
        const pb = qOf(n.inputs[1], n);
        const py = outQ(n);
        push('QLinearAdd', [n.inputs[0], scale(pa.frac), zero(pa.zp), n.inputs[1], scale(pb.frac), zero(pb.zp), scale(py.frac), zero(py.zp)], [y], [], 'com.microsoft');
        q.set(y, py);
        break;
      }
      case 'QMaxPool':
        push('MaxPool', [x], [y], attrs(n));
        q.set(y, qOf(x, n));
        break;
      default: {
        const inputs = n.inputs.map(constant);
        if (g.values.get(x)?.dtype === 'int8') {
          // Flatten / Reshape of an int8 value: the scale passes through.
          if (n.op !== 'Flatten' && n.op !== 'Reshape') throw new CompileError(`internal: ${n.op} node ${n.name} on int8 data`);
          q.set(y, qOf(x, n));
        }
        const clip = clipOf(n);
        if (!clip) {
          push(n.op, inputs, n.outputs, attrs(n));
          break;
        }
        const pre = `${y}_preclip`;
        push(n.op, inputs, [pre], attrs(n));
        if (clip[0] === 0 && clip[1] === Infinity) push('Relu', [pre], [y]);
        else {
          const bound = (v: number) => (Number.isFinite(v) ? scalar('clip', { dtype: 'float32', shape: [], data: Float32Array.of(v) }) : '');
          push('Clip', [pre, bound(clip[0]), bound(clip[1])], [y]);
        }
      }
    }
  }
  const valueInfo = (name: string) => {
    const v = g.values.get(name)!;
    const type = ONNX_TYPE[v.dtype ?? 'float32'];
    if (!type || !v.shape?.every((d) => typeof d === 'number')) throw new CompileError(`internal: graph value ${name} needs a static shape and an ONNX type`);
    return { name, type: { tensorType: { elemType: type, shape: { dim: (v.shape as number[]).map((d) => ({ dimValue: d })) } } } };
  };
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'vta-workbench',
    opsetImport: [
      { domain: '', version: 13 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: `${g.name}_qoperator`, node: nodes, initializer: inits, input: g.inputs.map(valueInfo), output: g.outputs.map(valueInfo) },
  }).finish();
}
