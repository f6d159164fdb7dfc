/**
 * Float kernels planned once per node for the compiled graph hosts (compiler/target/graph-host.ts):
 * the float convolution (the depthwise convolutions with unequal strides the quantizer leaves in
 * float32) and global average pooling. The accumulator and output arrays are made when the
 * kernel is; a call allocates nothing. Each computes exactly what the reference
 * kernel of compiler/host/kernels.ts does (the same double-precision sums in the same order, the
 * same zero-weight skip, bias and fused clip), so the results are bit-exact with it.
 */
import { staticShape, type Graph, type Node } from '../graph/ir.ts';
import { sizeOf, type Tensor } from '../graph/tensor.ts';
import { convCore, type Kernel } from './kernels.ts';

const shapeOfValue = (g: Graph, name: string) => {
  const v = name ? g.values.get(name) : undefined;
  return v && v.dtype === 'float32' ? staticShape(v) : null;
};

/**
 * A planned kernel for `node` where there is one (float32 Conv with a constant weight and bias,
 * GlobalAveragePool on 4-D float32), else undefined. `fresh`: the result outlives a run (a new
 * output array per call).
 */
export function plannedKernel(node: Node, g: Graph, fresh: boolean): Kernel | undefined {
  if (node.outputs.length !== 1 || !node.outputs[0]) return undefined;
  const out = shapeOfValue(g, node.outputs[0]);
  if (!out) return undefined;
  const output = (data: Float32Array): Tensor[] => [{ dtype: 'float32', shape: out, data: fresh ? new Float32Array(data) : data }];
  if (node.op === 'GlobalAveragePool') {
    const x = shapeOfValue(g, node.inputs[0]);
    if (!x || x.length !== 4) return undefined;
    const P = x[0] * x[1];
    const S = x[2] * x[3];
    const y = new Float32Array(P);
    return (_n, [t]) => {
      const X = t!.data as Float32Array;
      for (let p = 0; p < P; p++) {
        let s = 0;
        for (let i = p * S, e = i + S; i < e; i++) s += X[i];
        y[p] = s / S;
      }
      return output(y);
    };
  }
  if (node.op === 'Conv') return floatConv(node, g, out, output);
  return undefined;
}

function floatConv(node: Node, g: Graph, out: number[], output: (d: Float32Array) => Tensor[]): Kernel | undefined {
  const x = shapeOfValue(g, node.inputs[0]);
  const wv = g.values.get(node.inputs[1]);
  const bv = node.inputs[2] ? g.values.get(node.inputs[2]) : undefined;
  if (!x || x.length !== 4 || !wv?.const || wv.dtype !== 'float32' || (node.inputs[2] && (!bv?.const || bv.dtype !== 'float32'))) return undefined;
  const clip = node.attrs.clip;
  if (clip !== undefined && !(Array.isArray(clip) && clip.length === 2)) return undefined;
  const Wt = wv.const.data as Float32Array;
  const weight = (_m: number, i: number) => Wt[i];
  const bias = bv?.const?.data as Float32Array | undefined;
  const [lo, hi] = clip ? (clip as number[]) : [-Infinity, Infinity];
  const xShape = { shape: x };
  const acc = new Float64Array(sizeOf(out));
  const y = new Float32Array(acc.length);
  const M = out[1];
  const OHW = out[2] * out[3];
  return (_n, [t]) => {
    convCore(node, xShape, wv.const!, t!.data, weight, acc);
    for (let i = 0; i < acc.length; i++) {
      // the reference: acc (+ bias) in double, stored as float32, then the fused clip
      const v = Math.fround(bias ? acc[i] + bias[Math.floor(i / OHW) % M] : acc[i]);
      y[i] = v < lo ? lo : v > hi ? hi : v;
    }
    return output(y);
  };
}
