/**
 * Float kernels planned once per node for the compiled graph hosts (compiler/target/graph-host.ts):
 * the float convolution (the depthwise convolutions with unequal strides the quantizer leaves in
 * float32), max pooling and global average pooling. The accumulator and output arrays are made when the
 * kernel is; a call allocates nothing. Each computes exactly what the reference
 * kernel of compiler/host/kernels.ts does (the same double-precision sums in the same order, the
 * same zero-weight skip, bias and fused clip), so the results are bit-exact with it.
 */
import { staticShape, type Graph, type Node } from '../graph/ir.ts';
import { poolGeometry } from '../graph/shapes.ts';
import { sizeOf, type Tensor } from '../graph/tensor.ts';
import { floatConvBody, isFloatConv, JS_CONV } from './conv-loop.ts';
import type { Kernel } from './kernels.ts';

const shapeOfValue = (g: Graph, name: string) => {
  const v = name ? g.values.get(name) : undefined;
  return v && v.dtype === 'float32' ? staticShape(v) : null;
};

/**
 * A planned kernel for `node` where there is one (float32 Conv with a constant weight and bias,
 * MaxPool and GlobalAveragePool on 4-D float32), else undefined. `fresh`: the result outlives a run (a new
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
    return (_n, ins) => {
      const X = ins[0]!.data as Float32Array;
      // Each plane's sum runs in order (the reference's double sum); four planes at a time, so
      // the four dependency chains of additions overlap.
      let p = 0;
      for (; p + 4 <= P; p += 4) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        const b = p * S;
        for (let i = 0; i < S; i++) {
          s0 += X[b + i];
          s1 += X[b + S + i];
          s2 += X[b + 2 * S + i];
          s3 += X[b + 3 * S + i];
        }
        y[p] = s0 / S;
        y[p + 1] = s1 / S;
        y[p + 2] = s2 / S;
        y[p + 3] = s3 / S;
      }
      for (; p < P; p++) {
        let s = 0;
        for (let i = p * S, e = i + S; i < e; i++) s += X[i];
        y[p] = s / S;
      }
      return output(y);
    };
  }
  if (node.op === 'Conv') return floatConv(node, g, out, output);
  if (node.op === 'MaxPool') return maxPool(node, g, out, output);
  return undefined;
}

function floatConv(node: Node, g: Graph, out: number[], output: (d: Float32Array) => Tensor[]): Kernel | undefined {
  if (!isFloatConv(node, g)) return undefined;
  const { body, OW, bias } = floatConvBody(node, g, JS_CONV);
  // eslint-disable-next-line no-new-func
  const run = new Function('x', 'w', 'b', 'y', 'acc', body) as (x: Float32Array, w: Float32Array, b: Float32Array | undefined, y: Float32Array, acc: Float64Array) => void;
  const w = g.values.get(node.inputs[1])!.const!.data as Float32Array;
  const b = bias ? (g.values.get(node.inputs[2])!.const!.data as Float32Array) : undefined;
  const acc = new Float64Array(OW);
  const y = new Float32Array(sizeOf(out));
  return (_n, ins) => {
    run(ins[0]!.data as Float32Array, w, b, y, acc);
    return output(y);
  };
}

/**
 * MaxPool on 4-D float32 (one output, no indices): per output the largest value of the window's
 * positions inside the input, starting from -Infinity and taking a value only when it is greater
 * (a NaN never wins), rows then columns as the reference. The in-bounds range of each output
 * row's and column's window (first position, end) is computed once.
 */
function maxPool(node: Node, g: Graph, out: number[], output: (d: Float32Array) => Tensor[]): Kernel | undefined {
  const x = shapeOfValue(g, node.inputs[0]);
  if (!x || x.length !== 4) return undefined;
  const [N, C, H, W] = x;
  const { KH, KW, SH, SW, DH, DW, PT, PL, OH, OW } = poolGeometry(node, x);
  const y = new Float32Array(sizeOf(out));
  // window positions k*D + o*S - P inside [0, size): the first one and the end of the range
  const range = (o: number, S: number, P: number, K: number, D: number, size: number) => {
    const start = o * S - P;
    let k0 = 0;
    while (k0 < K && start + k0 * D < 0) k0++;
    let k1 = K;
    while (k1 > k0 && start + (k1 - 1) * D >= size) k1--;
    return [start + k0 * D, start + k1 * D];
  };
  const ys = new Int32Array(OH * 2);
  const xs = new Int32Array(OW * 2);
  for (let oy = 0; oy < OH; oy++) ys.set(range(oy, SH, PT, KH, DH, H), 2 * oy);
  for (let ox = 0; ox < OW; ox++) xs.set(range(ox, SW, PL, KW, DW, W), 2 * ox);
  return (_n, ins) => {
    const X = ins[0]!.data as Float32Array;
    let o = 0;
    for (let p = 0; p < N * C; p++) {
      const base = p * H * W;
      for (let oy = 0; oy < OH; oy++) {
        const y0 = ys[2 * oy];
        const y1 = ys[2 * oy + 1];
        for (let ox = 0; ox < OW; ox++) {
          const x0 = xs[2 * ox];
          const x1 = xs[2 * ox + 1];
          let best = -Infinity;
          for (let iy = y0; iy < y1; iy += DH) {
            const row = base + iy * W;
            for (let ix = x0; ix < x1; ix += DW) {
              const v = X[row + ix];
              if (v > best) best = v;
            }
          }
          y[o++] = best;
        }
      }
    }
    return output(y);
  };
}
