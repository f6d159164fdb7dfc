/**
 * The committed LeNet-5 (models/lenet5.onnx, scripts/train-lenet.ts) and the IDX / MNIST readers
 * (compiler/data/idx.ts). The model is checked against two independent references: onnxruntime-node
 * and a plain forward pass written here from the ONNX file itself (a tiny interpreter of its nodes,
 * sharing no code with the trainer). Retraining and comparing bytes is test/slow/lenet-train.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import onnxPkg from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { loadDataset, mnistPaths, readIdx, readIdxImages, readIdxLabelled, readIdxLabels } from '../compiler/data/idx.ts';
import { VtwError } from '../src/errors.ts';

const { onnx } = onnxPkg;
const MODEL = new URL('../models/lenet5.onnx', import.meta.url);
const DOC = new URL('../docs/models.md', import.meta.url);
const IMAGES = 500;

const modelBytes = readFileSync(MODEL);

test('models/lenet5.onnx is the file docs/models.md pins (SHA-256), at most 250 KB, opset 13, input [N,1,28,28]', () => {
  const doc = readFileSync(DOC, 'utf8');
  const pinned = /models\/lenet5\.onnx`[^\n]*?SHA-256 `([0-9a-f]{64})`/.exec(doc);
  assert.ok(pinned, 'docs/models.md names no SHA-256 for models/lenet5.onnx');
  assert.is(createHash('sha256').update(modelBytes).digest('hex'), pinned![1]);
  assert.ok(modelBytes.length <= 250 * 1024, `${modelBytes.length} bytes`);
  const model = onnx.ModelProto.decode(modelBytes);
  assert.equal(model.opsetImport.map((o) => [o.domain ?? '', num(o.version)]), [['', 13]]);
  const input = model.graph!.input![0];
  assert.is(input.name, 'input');
  assert.equal(input.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || num(d.dimValue)), ['N', 1, 28, 28]);
  assert.ok(model.metadataProps.some((p) => p.key === 'vtw.input' && /raw MNIST pixel intensities 0\.\.255/.test(p.value ?? '')));
});

// ---------------------------------------------------------------------------------------------
// An independent forward pass: reads the nodes and initializers of the ONNX file and evaluates them
// with direct loops (no im2col, no blocking), in float64.

type Long = { toNumber(): number };
const num = (v: number | Long | null | undefined): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

interface Tensor {
  dims: number[];
  data: Float64Array;
}

function attr(node: onnxPkg.onnx.INodeProto, name: string): number[] | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  return a.ints && a.ints.length ? a.ints.map(num) : [num(a.i)];
}

function conv(x: Tensor, w: Tensor, b: Tensor, node: onnxPkg.onnx.INodeProto): Tensor {
  const [n, cin, h, wd] = x.dims;
  const [cout, , kh, kw] = w.dims;
  const [pt, pl] = attr(node, 'pads') ?? [0, 0, 0, 0];
  const [sh, sw] = attr(node, 'strides') ?? [1, 1];
  const oh = Math.floor((h + 2 * pt - kh) / sh) + 1;
  const ow = Math.floor((wd + 2 * pl - kw) / sw) + 1;
  const out = new Float64Array(n * cout * oh * ow);
  for (let i = 0; i < n; i++)
    for (let co = 0; co < cout; co++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          let acc = b.data[co];
          for (let ci = 0; ci < cin; ci++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = y * sh + ky - pt;
                const ix = xo * sw + kx - pl;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += x.data[((i * cin + ci) * h + iy) * wd + ix] * w.data[((co * cin + ci) * kh + ky) * kw + kx];
              }
          out[((i * cout + co) * oh + y) * ow + xo] = acc;
        }
  return { dims: [n, cout, oh, ow], data: out };
}

function maxPool(x: Tensor, node: onnxPkg.onnx.INodeProto): Tensor {
  const [n, c, h, w] = x.dims;
  const [kh, kw] = attr(node, 'kernel_shape')!;
  const [sh, sw] = attr(node, 'strides') ?? [1, 1];
  const oh = Math.floor((h - kh) / sh) + 1;
  const ow = Math.floor((w - kw) / sw) + 1;
  const out = new Float64Array(n * c * oh * ow).fill(-Infinity);
  for (let p = 0; p < n * c; p++)
    for (let y = 0; y < oh; y++)
      for (let xo = 0; xo < ow; xo++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const o = (p * oh + y) * ow + xo;
            out[o] = Math.max(out[o], x.data[(p * h + y * sh + ky) * w + xo * sw + kx]);
          }
  return { dims: [n, c, oh, ow], data: out };
}

function gemm(a: Tensor, b: Tensor, c: Tensor, node: onnxPkg.onnx.INodeProto): Tensor {
  const transB = (attr(node, 'transB') ?? [0])[0] === 1;
  const [m, k] = a.dims;
  const n = transB ? b.dims[0] : b.dims[1];
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let acc = c.data[c.dims.length === 2 ? i * n + j : j];
      for (let l = 0; l < k; l++) acc += a.data[i * k + l] * b.data[transB ? j * k + l : l * n + j];
      out[i * n + j] = acc;
    }
  return { dims: [m, n], data: out };
}

function referenceForward(model: onnxPkg.onnx.ModelProto, input: Tensor): Tensor {
  const values = new Map<string, Tensor>();
  for (const t of model.graph!.initializer!) {
    assert.is(t.dataType, onnx.TensorProto.DataType.FLOAT);
    const raw = t.rawData!;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const data = Float64Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
    values.set(t.name!, { dims: t.dims!.map(num), data });
  }
  values.set(model.graph!.input![0].name!, input);
  for (const node of model.graph!.node!) {
    const ins = node.input!.map((name) => values.get(name)!);
    let out: Tensor;
    switch (node.opType) {
      case 'Conv': out = conv(ins[0], ins[1], ins[2], node); break;
      case 'Relu': out = { dims: ins[0].dims, data: ins[0].data.map((v) => Math.max(v, 0)) }; break;
      case 'MaxPool': out = maxPool(ins[0], node); break;
      case 'Flatten': out = { dims: [ins[0].dims[0], ins[0].data.length / ins[0].dims[0]], data: ins[0].data }; break;
      case 'Gemm': out = gemm(ins[0], ins[1], ins[2], node); break;
      default: throw new Error(`the reference has no ${node.opType}`);
    }
    values.set(node.output![0], out);
  }
  return values.get(model.graph!.output![0].name!)!;
}

const argmax = (a: ArrayLike<number>, from: number, n: number): number => {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[from + j] > a[from + best]) best = j;
  return best;
};

test(`onnxruntime and an independent TS forward pass agree on the first ${IMAGES} MNIST test images, ≥ 97 % correct`, async () => {
  const set = loadDataset(`mnist-test:${IMAGES}`);
  const pixels = Float32Array.from(set.pixels); // the model takes raw pixels 0..255 (docs/models.md)
  const session = await ort.InferenceSession.create(modelBytes);
  const ortOut = (await session.run({ input: new ort.Tensor('float32', pixels, [IMAGES, 1, 28, 28]) })).logits;
  assert.equal(ortOut.dims, [IMAGES, 10]);
  const ortLogits = ortOut.data as Float32Array;
  const ref = referenceForward(onnx.ModelProto.decode(modelBytes), { dims: [IMAGES, 1, 28, 28], data: Float64Array.from(set.pixels) });
  let agree = 0;
  let right = 0;
  let maxDiff = 0;
  for (let i = 0; i < IMAGES; i++) {
    const a = argmax(ortLogits, i * 10, 10);
    if (a === argmax(ref.data, i * 10, 10)) agree++;
    if (a === set.labels[i]) right++;
    for (let j = 0; j < 10; j++) maxDiff = Math.max(maxDiff, Math.abs(ortLogits[i * 10 + j] - ref.data[i * 10 + j]));
  }
  console.log(`  lenet5 on mnist-test:${IMAGES}: top-1 ${right}/${IMAGES}, onnxruntime vs TS reference: ${agree}/${IMAGES} equal top-1, max |Δlogit| ${maxDiff.toExponential(2)}`);
  assert.is(agree, IMAGES);
  assert.ok(maxDiff < 1e-3, `logits differ by ${maxDiff}`);
  assert.ok(right / IMAGES >= 0.97, `top-1 ${right}/${IMAGES}`);
});

// ---------------------------------------------------------------------------------------------
// IDX reader and the built-in MNIST splits

test('mnist-test: 10000 images of 28×28 with the label histogram MNIST publishes; mnist-test:N is its first N', () => {
  const all = loadDataset('mnist-test');
  assert.equal([all.count, all.rows, all.cols, all.pixels.length], [10000, 28, 28, 10000 * 784]);
  const histogram = new Array(10).fill(0);
  for (const l of all.labels) histogram[l]++;
  assert.equal(histogram, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  const first = loadDataset('mnist-test:7');
  assert.is(first.count, 7);
  assert.equal(Array.from(first.labels), [7, 2, 1, 0, 4, 1, 4]); // the well-known first test digits
  assert.equal(first.pixels, all.pixels.subarray(0, 7 * 784));
  const train = loadDataset('mnist-train:3');
  assert.equal([train.count, ...train.labels], [3, 5, 0, 4]);
});

function throwsOneLine(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, VtwError);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/);
    assert.match(msg, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

test('dataset names: unknown names and out-of-range counts are one-line errors', () => {
  throwsOneLine(() => loadDataset('mnist'), /unknown dataset 'mnist': expected mnist-test/);
  throwsOneLine(() => loadDataset('cifar-test:10'), /unknown dataset/);
  throwsOneLine(() => loadDataset('mnist-test:0'), /N must be a whole number from 1 to 10000, got '0'/);
  throwsOneLine(() => loadDataset('mnist-test:10001'), /from 1 to 10000/);
  throwsOneLine(() => loadDataset('mnist-train:1.5'), /from 1 to 60000, got '1.5'/);
});

/** An IDX file: magic (0, 0, type, rank), big-endian sizes, data. */
function idx(type: number, dims: number[], data: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

test('IDX reader: images, labels and .gz; bad magic, truncation, extra bytes and disagreeing counts are one line each', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-idx-'));
  try {
    const file = (name: string, bytes: Uint8Array) => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    };
    const pixels = Array.from({ length: 3 * 2 * 4 }, (_, i) => i * 10);
    const images = file('img', idx(8, [3, 2, 4], pixels));
    const labels = file('lab', idx(8, [3], [9, 0, 4]));
    const set = readIdxLabelled(images, labels);
    assert.equal([set.count, set.rows, set.cols], [3, 2, 4]);
    assert.equal(Array.from(set.pixels), pixels);
    assert.equal(Array.from(set.labels), [9, 0, 4]);

    // gzip: the real test labels, compressed, read back equal
    const realLabels = readFileSync(mnistPaths('test').labels);
    const gz = file('t10k-labels.gz', gzipSync(realLabels));
    assert.equal(readIdxLabels(gz), readIdxLabels(mnistPaths('test').labels));
    throwsOneLine(() => readIdx(file('bad.gz', Buffer.from('not gzip at all'))), /bad\.gz: not a valid gzip file/);

    throwsOneLine(() => readIdx(file('magic', Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]))), /magic: not an IDX file \(magic 0x504b0304; expected 0x00000803/);
    throwsOneLine(() => readIdx(file('float', idx(0x0d, [1], [0, 0, 0, 0]))), /element type 0xd is not supported/);
    throwsOneLine(() => readIdx(file('tiny', Buffer.from([0, 0]))), /tiny: truncated IDX file \(2 bytes/);
    throwsOneLine(() => readIdx(file('head', idx(8, [3, 2, 4], []).subarray(0, 10))), /head: truncated IDX file \(10 bytes, its header needs 16\)/);
    throwsOneLine(() => readIdxImages(file('short', idx(8, [3, 2, 4], pixels.slice(0, 20)))), /short: truncated IDX file: the header promises 3×2×4 = 24 bytes of data, the file has 20/);
    throwsOneLine(() => readIdxImages(file('long', idx(8, [3, 2, 4], [...pixels, 1]))), /long: IDX size disagrees with its header: 3×2×4 = 24 bytes of data expected, the file has 25/);
    throwsOneLine(() => readIdxImages(labels), /lab: not an IDX image file \(magic 0x00000801, expected 0x00000803/);
    throwsOneLine(() => readIdxLabels(images), /img: not an IDX label file \(magic 0x00000803, expected 0x00000801/);
    throwsOneLine(() => readIdxLabelled(images, file('lab2', idx(8, [2], [1, 2]))), /holds 3 images but .*lab2 holds 2 labels/);
    throwsOneLine(() => readIdx(join(dir, 'missing')), /cannot read IDX file .*missing: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
