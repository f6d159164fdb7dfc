/**
 * GPTQ weight rounding (compiler/quant/gptq.ts): on a small grouped, strided, padded conv and a
 * dense layer fed correlated inputs, the input Hessians collected from the float graph equal the
 * im2col moments computed here independently, GPTQ's int8 weights stay on the layer's grid and
 * near the float weights, and the layer's output error (measured by a naive conv / matmul here,
 * not through the Hessian) is clearly below round-to-nearest's on the calibration inputs and on
 * inputs it never saw. Sequential GPTQ (gptqSequential) re-rounds the quantized graph's QConv on
 * the grid quantizeGraph chose and cuts its error on the int8 inputs it really reads.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Graph, Node, Value } from '../compiler/graph/ir.ts';
import { inferShapes } from '../compiler/graph/passes.ts';
import { roundHalfEven, type Tensor } from '../compiler/graph/tensor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { collectHessians, gptqRound, gptqSequential, outputError } from '../compiler/quant/gptq.ts';
import { collectStats } from '../compiler/quant/calibrate.ts';
import { quantizeGraph } from '../compiler/quant/quantize.ts';

const X = [1, 4, 7, 7];
const CONV = { CO: 6, G: 2, K: 3, S: 2, P: 1 };
const OH = Math.floor((X[2] + 2 * CONV.P - CONV.K) / CONV.S) + 1;

/** Uniform values in [-1, 1) from a seed. */
const uniform = (n: number, seed: number) => Float32Array.from(randomInts(n, -10000, 10000, seed), (v) => v / 10000);

/** Inputs whose channels mix two latent planes plus a little noise: correlated, as real activations are. */
function correlatedInput(seed: number): Tensor {
  const plane = X[2] * X[3];
  const [a, b] = [uniform(plane, seed), uniform(plane, seed + 1)];
  const noise = uniform(X[1] * plane, seed + 2);
  const mix = [[1, 0.2], [0.8, 0.5], [-0.6, 1], [0.3, -0.9]];
  const data = new Float32Array(X[1] * plane);
  for (let c = 0; c < X[1]; c++) for (let i = 0; i < plane; i++) data[c * plane + i] = mix[c][0] * a[i] + mix[c][1] * b[i] + 0.05 * noise[c * plane + i];
  return { dtype: 'float32', shape: [...X], data };
}

function graph(): { g: Graph; w: Tensor; wd: Tensor } {
  const values = new Map<string, Value>();
  const w: Tensor = { dtype: 'float32', shape: [CONV.CO, X[1] / CONV.G, CONV.K, CONV.K], data: uniform(CONV.CO * (X[1] / CONV.G) * 9, 11) };
  // the dense layer reads the flattened conv output: [1, CO·OH·OH] -> [1, 5]
  const K = CONV.CO * OH * OH;
  const wd: Tensor = { dtype: 'float32', shape: [K, 5], data: uniform(K * 5, 12) };
  values.set('x', { name: 'x', dtype: 'float32', shape: [...X] });
  values.set('w', { name: 'w', dtype: 'float32', shape: w.shape, const: w });
  values.set('wd', { name: 'wd', dtype: 'float32', shape: wd.shape, const: wd });
  for (const v of ['c', 'f', 'y']) values.set(v, { name: v, dtype: null, shape: null });
  const nodes: Node[] = [
    { name: 'conv', op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: { strides: [CONV.S, CONV.S], pads: [CONV.P, CONV.P, CONV.P, CONV.P], group: CONV.G, kernel_shape: [CONV.K, CONV.K] } },
    { name: 'flat', op: 'Flatten', inputs: ['c'], outputs: ['f'], attrs: { axis: 1 } },
    { name: 'fc', op: 'MatMul', inputs: ['f', 'wd'], outputs: ['y'], attrs: {} },
  ];
  return { g: inferShapes({ name: 'gptq', opset: 13, values, nodes, inputs: ['x'], outputs: ['y'] }), w, wd };
}

/** The conv's im2col vectors, written out here independently: per group, per output position. */
function windows(x: Tensor): number[][][] {
  const cg = X[1] / CONV.G;
  const out: number[][][] = Array.from({ length: CONV.G }, () => []);
  for (let grp = 0; grp < CONV.G; grp++) {
    for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OH; ow++) {
      const v: number[] = [];
      for (let ci = 0; ci < cg; ci++) for (let kh = 0; kh < CONV.K; kh++) for (let kw = 0; kw < CONV.K; kw++) {
        const [ih, iw] = [oh * CONV.S - CONV.P + kh, ow * CONV.S - CONV.P + kw];
        v.push(ih < 0 || iw < 0 || ih >= X[2] || iw >= X[3] ? 0 : (x.data[((grp * cg + ci) * X[2] + ih) * X[3] + iw] as number));
      }
      out[grp].push(v);
    }
  }
  return out;
}

/** Σ over inputs, output positions and channels of (conv with w - conv with ŵ)², the conv computed naively. */
function convError(xs: Tensor[], w: Tensor, dq: Float64Array): number {
  const d = w.data.length / CONV.CO;
  const per = CONV.CO / CONV.G;
  let e = 0;
  for (const x of xs) windows(x).forEach((ws, grp) => {
    for (const v of ws) for (let r = grp * per; r < (grp + 1) * per; r++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += ((w.data[r * d + i] as number) - dq[r * d + i]) * v[i];
      e += s * s;
    }
  });
  return e;
}

const nearest = (w: Tensor, frac: number) => Int8Array.from(w.data as Float32Array, (v) => Math.max(-128, Math.min(127, roundHalfEven(v * 2 ** frac))));
const dequant = (q: Int8Array, frac: number) => Float64Array.from(q, (v) => v * 2 ** -frac);

test('conv: the Hessians are the im2col moments; GPTQ stays on the grid and cuts the output error of round-to-nearest', () => {
  const { g, w } = graph();
  const calib = [1, 2, 3, 4, 5, 6].map((s) => correlatedInput(100 * s));
  const hs = collectHessians(g, calib, TS_HOST, ['conv', 'fc']).get('conv')!;
  const d = (X[1] / CONV.G) * 9;
  assert.is(hs.d, d);
  assert.is(hs.h.length, CONV.G);
  assert.is(hs.count, calib.length * OH * OH);
  for (let grp = 0; grp < CONV.G; grp++) {
    const want = new Float64Array(d * d);
    for (const x of calib) for (const v of windows(x)[grp]) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) want[i * d + j] += v[i] * v[j];
    for (let k = 0; k < d * d; k++) assert.ok(Math.abs(hs.h[grp][k] - want[k]) <= 1e-9 * (1 + Math.abs(want[k])), `group ${grp} H[${k}] ${hs.h[grp][k]} vs ${want[k]}`);
  }
  // a coarse grid (steps of 1/16 for weights in [-1, 1)) makes rounding matter
  const frac = 4;
  const q = gptqRound(w, hs, frac);
  const rtn = nearest(w, frac);
  for (let i = 0; i < q.length; i++) {
    assert.ok(Number.isInteger(q[i]) && q[i] >= -128 && q[i] <= 127);
    // GPTQ moves a weight by a few steps at most, never far from its own value
    assert.ok(Math.abs(q[i] - (w.data[i] as number) * 2 ** frac) <= 4, `weight ${i}: ${q[i]} for ${(w.data[i] as number) * 2 ** frac}`);
  }
  assert.ok(q.some((v, i) => v !== rtn[i]), 'GPTQ changed no weight');
  const [eG, eR] = [convError(calib, w, dequant(q, frac)), convError(calib, w, dequant(rtn, frac))];
  // the Hessian's view of the error is the naive conv's
  assert.ok(Math.abs(outputError(w, q, frac, hs) - eG) <= 1e-6 * eR);
  assert.ok(eG < 0.6 * eR, `calibration inputs: GPTQ ${eG} vs nearest ${eR}`);
  const fresh = [7, 8, 9].map((s) => correlatedInput(100 * s));
  const [fG, fR] = [convError(fresh, w, dequant(q, frac)), convError(fresh, w, dequant(rtn, frac))];
  assert.ok(fG < 0.7 * fR, `unseen inputs: GPTQ ${fG} vs nearest ${fR}`);
});

test('dense: GPTQ of a [N, K] weight against the Hessian of its [1, K] inputs', () => {
  const { g, wd } = graph();
  const calib = Array.from({ length: 40 }, (_, s) => correlatedInput(1000 + 7 * s));
  const hs = collectHessians(g, calib, TS_HOST, ['fc']).get('fc')!;
  const K = wd.shape[0];
  assert.is(hs.d, K);
  assert.is(hs.count, calib.length);
  // QDense's layout: [N, K]
  const wt: Tensor = { dtype: 'float32', shape: [5, K], data: new Float32Array(5 * K) };
  for (let n = 0; n < 5; n++) for (let k = 0; k < K; k++) (wt.data as Float32Array)[n * K + k] = wd.data[k * 5 + n] as number;
  // the dense layer's inputs, computed here by a naive conv from the same weights
  const { w } = graph();
  const feats = calib.map((x) => {
    const per = CONV.CO / CONV.G;
    const d = w.data.length / CONV.CO;
    const f = new Float64Array(K);
    windows(x).forEach((ws, grp) => ws.forEach((v, p) => {
      for (let r = grp * per; r < (grp + 1) * per; r++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += (w.data[r * d + i] as number) * v[i];
        f[r * OH * OH + p] = s;
      }
    }));
    return f;
  });
  const err = (q: Int8Array, frac: number) => {
    let e = 0;
    for (const f of feats) for (let n = 0; n < 5; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += ((wt.data[n * K + k] as number) - q[n * K + k] * 2 ** -frac) * f[k];
      e += s * s;
    }
    return e;
  };
  const frac = 4;
  const q = gptqRound(wt, hs, frac);
  const rtn = nearest(wt, frac);
  const [eG, eR] = [err(q, frac), err(rtn, frac)];
  assert.ok(Math.abs(outputError(wt, q, frac, hs) - eG) <= 1e-6 * eR);
  assert.ok(eG < 0.5 * eR, `GPTQ ${eG} vs nearest ${eR}`);
});

test('sequential GPTQ re-rounds the QConv against the inputs the int8 graph feeds it', async () => {
  const { g, w } = graph();
  const calib = [1, 2, 3, 4, 5, 6].map((s) => correlatedInput(300 * s));
  const stats = await collectStats(g, calib, TS_HOST, { keep: 0 });
  const { graph: q } = quantizeGraph(g, stats, { method: 'max', scales: 'ratio', reportSamples: 0 });
  const conv = q.nodes.find((n) => n.name === 'conv')!;
  assert.is(conv.op, 'QConv');
  const wq = q.values.get(conv.inputs[1])!.const!;
  const rtn = Int8Array.from(wq.data as Int8Array);
  const inFrac = q.nodes.find((n) => n.outputs[0] === conv.inputs[0])!.attrs.frac as number;
  const frac = (conv.attrs.shift as number) + (conv.attrs.frac as number) - inFrac;
  assert.equal(rtn, nearest(w, frac), 'quantizeGraph rounds to nearest on the grid sequential GPTQ keeps');
  assert.ok(gptqSequential(g, q, calib, TS_HOST) >= 1);
  const seq = wq.data as Int8Array;
  assert.ok(seq.some((v, i) => v !== rtn[i]), 'sequential GPTQ changed no weight');
  // the conv's real inputs in the int8 graph: x quantized at the input frac, computed here
  const xq = calib.map((x) => ({ ...x, data: Float32Array.from(x.data as Float32Array, (v) => Math.max(-128, Math.min(127, roundHalfEven(v * 2 ** inFrac))) * 2 ** -inFrac) }));
  const [eS, eR] = [convError(xq, w, dequant(seq, frac)), convError(xq, w, dequant(rtn, frac))];
  assert.ok(eS < 0.8 * eR, `sequential GPTQ ${eS} vs nearest ${eR}`);
});

test.run();
