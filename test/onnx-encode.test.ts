/**
 * The in-memory ONNX encoder of the CPU benchmark (compiler/bench/onnx.ts): onnxruntime-node loads
 * its single-convolution models and computes what a plain convolution of the same operands gives.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { convModel, convOutSize, type ConvShape } from '../compiler/bench/onnx.ts';

/** Plain NCHW convolution (batch 1) of the model's own operands. */
function conv(s: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>): number[] {
  const [oh, ow] = convOutSize(s);
  const out: number[] = [];
  for (let co = 0; co < s.cout; co++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        let acc = 0;
        for (let ci = 0; ci < s.cin; ci++) {
          for (let ky = 0; ky < s.k; ky++) {
            for (let kx = 0; kx < s.k; kx++) {
              const iy = y * s.stride + ky - s.pad;
              const ix = xo * s.stride + kx - s.pad;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              acc += x[(ci * s.h + iy) * s.w + ix] * w[((co * s.cin + ci) * s.k + ky) * s.k + kx];
            }
          }
        }
        out.push(acc);
      }
    }
  }
  return out;
}

const S: ConvShape = { h: 7, w: 6, cin: 5, cout: 3, k: 3, pad: 1, stride: 2 };

test('ConvInteger model (stride 2, padding): onnxruntime loads it and computes the plain int8 convolution of its operands', async () => {
  const { model, input } = convModel(S, 'conv_integer');
  const session = await ort.InferenceSession.create(model);
  const x = new ort.Tensor('int8', input.data as Int8Array, input.dims);
  const y = (await session.run({ x })).y;
  assert.equal(y.dims, [1, S.cout, ...convOutSize(S)]);
  // The weights are the raw bytes of the encoded initializer.
  const wv = weightOf(model);
  assert.equal(Array.from(y.data as Int32Array), conv(S, input.data as Int8Array, wv));
});

/** The raw bytes of initializer `w` in an encoded model (tensor name field 8 = "w", raw_data field 9 follows). */
function weightOf(model: Uint8Array): Int8Array {
  const n = S.cout * S.cin * S.k * S.k;
  // raw_data is the last field of the TensorProto: key 0x4a, varint length n, then n bytes.
  for (let i = 0; i + 2 < model.length; i++) {
    if (model[i] === 0x42 && model[i + 1] === 1 && model[i + 2] === 0x77 /* name "w" */) {
      let j = i + 3;
      assert.is(model[j++], 0x4a);
      let len = 0;
      for (let shift = 0; ; shift += 7) {
        const b = model[j++];
        len |= (b & 0x7f) << shift;
        if (!(b & 0x80)) break;
      }
      assert.is(len, n);
      return new Int8Array(model.buffer, model.byteOffset + j, n).slice();
    }
  }
  throw new Error('weight initializer not found');
}


test('QLinearConv and fp32 Conv models load and give outputs of the convolution\'s shape', async () => {
  for (const kind of ['qlinear', 'fp32'] as const) {
    const { model, input } = convModel(S, kind);
    const session = await ort.InferenceSession.create(model);
    const y = (await session.run({ x: new ort.Tensor(kind === 'fp32' ? 'float32' : 'int8', input.data as Float32Array | Int8Array, input.dims) })).y;
    assert.equal(y.dims, [1, S.cout, ...convOutSize(S)]);
    assert.ok(new Set(y.data as ArrayLike<number> as number[]).size > 1, `${kind}: output is constant`);
  }
});

test.run();
