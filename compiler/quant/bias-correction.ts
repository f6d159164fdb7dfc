/**
 * Sequential empirical bias correction of a quantized graph (docs/models.md, "Quantization"):
 * rounding weights to a per-tensor power-of-two scale shifts each output channel's mean (the
 * rounding error times the channel's mean input does not average out), and a clipped range or a
 * nonlinearity fed by noisy input shifts it further. This pass walks the quantized graph in order,
 * all calibration samples at once; at each QConv / QDense with a bias it measures the mean error
 * per output channel of its int8 output against the fp32 graph's value and subtracts it from the
 * int32 bias (whole output steps: the bias is added after the shift). Later layers see the corrected
 * upstream, so an error is corrected once, where it arises, not again downstream.
 */
import { runGraph, type HostTarget } from '../graph/executor.ts';
import { consumers, type Graph } from '../graph/ir.ts';
import type { Tensor } from '../graph/tensor.ts';
import { TS_HOST } from '../host/ts.ts';
import { tapTarget } from './calibrate.ts';

export interface BiasCorrection {
  /** Layers whose bias changed. */
  layers: number;
  /** Output channels whose bias changed. */
  channels: number;
}

/**
 * Correct the int32 biases of `q` (quantized from `g` by quantizeGraph; changed in place) on the
 * calibration tensors. `fpHost` runs the fp32 graph (prepared by the caller if it compiles); the
 * quantized graph runs node by node on `qHost`: the reference kernels (default), or the observable
 * form of a compiled host (`compiledHost(...).observable()`, prepared for `q` by the caller: it
 * computes the quantized operators bit for bit as the reference kernels, many times faster), whose
 * kernels are made afresh at each call and so read the biases as they change.
 */
export function correctBiases(g: Graph, q: Graph, samples: readonly Tensor[], fpHost: HostTarget = TS_HOST, qHost: HostTarget = TS_HOST): BiasCorrection {
  const layers = q.nodes.filter((n) => (n.op === 'QConv' || n.op === 'QDense') && n.inputs[2] && q.values.get(n.inputs[2])?.const);
  // the fp32 value of each layer: the float graph's node of the same name writes it
  const fpValue = new Map(g.nodes.map((n) => [n.name, n.outputs[0]]));
  const wanted = new Set(layers.map((n) => fpValue.get(n.name)));
  const refs = samples.map((x) => {
    const kept = new Map<string, Tensor>();
    runGraph(g, new Map([[g.inputs[0], x]]), tapTarget(fpHost, (n, outs) => n.outputs.forEach((o, k) => wanted.has(o) && kept.set(o, outs[k]))));
    return kept;
  });
  const isLayer = new Set(layers);
  const readers = consumers(q);
  const envs = samples.map((x) => {
    const env = new Map<string, Tensor>([[q.inputs[0], x]]);
    for (const v of q.values.values()) if (v.const) env.set(v.name, v.const);
    return env;
  });
  const remaining = new Map([...readers].map(([k, ns]) => [k, ns.length]));
  const result: BiasCorrection = { layers: 0, channels: 0 };
  for (const n of q.nodes) {
    // the kernel is asked for at each run: an observable compiled host binds the (corrected) bias when it makes the kernel
    const run = () => {
      const kernel = qHost.kernelFor(n, q)!;
      envs.forEach((env) => kernel(n, n.inputs.map((i) => (i ? env.get(i) : undefined))).forEach((t, k) => n.outputs[k] && env.set(n.outputs[k], t)));
    };
    run();
    if (isLayer.has(n)) {
      const fixed = correctLayer(n.attrs, envs.map((env) => env.get(n.outputs[0])!), refs.map((r) => r.get(fpValue.get(n.name)!)!), q.values.get(n.inputs[2])!.const!);
      if (fixed > 0) {
        result.layers++;
        result.channels += fixed;
        run();
      }
    }
    for (const i of new Set(n.inputs)) {
      if (!i || q.values.get(i)?.const || q.outputs.includes(i)) continue;
      const left = (remaining.get(i) ?? 1) - 1;
      remaining.set(i, left);
      if (left === 0) for (const env of envs) env.delete(i);
    }
  }
  return result;
}

/**
 * Subtract each output channel's mean error (in output steps, rounded) from the bias. Only elements
 * whose fp32 value lies strictly inside the fused clip count: there the int8 value is the
 * unclipped sum, so its error is the layer's own. Returns the channels changed.
 */
function correctLayer(attrs: Record<string, unknown>, outs: Tensor[], refs: Tensor[], bias: Tensor): number {
  const frac = attrs.frac as number;
  const [lo, hi] = (attrs.clip as number[]).map((v) => v * 2 ** -frac);
  const channels = bias.data.length;
  const shape = outs[0].shape;
  // NCHW (QConv): channel is dimension 1; [M, N] (QDense): the last dimension
  const inner = shape.length === 4 ? shape[2] * shape[3] : 1;
  const sum = new Float64Array(channels);
  const count = new Float64Array(channels);
  const scale = 2 ** frac;
  outs.forEach((o, s) => {
    const r = refs[s].data;
    for (let i = 0; i < o.data.length; i++) {
      const want = (r[i] as number) * scale;
      if (!(want > lo * scale && want < hi * scale)) continue;
      const c = Math.floor(i / inner) % channels;
      sum[c] += (o.data[i] as number) - want;
      count[c]++;
    }
  });
  let changed = 0;
  for (let c = 0; c < channels; c++) {
    const delta = count[c] > 0 ? Math.round(sum[c] / count[c]) : 0;
    if (delta === 0) continue;
    (bias.data as Int32Array)[c] -= delta;
    changed++;
  }
  return changed;
}
