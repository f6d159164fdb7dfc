/**
 * compiler/data/image.ts: PNG / JPEG / .npy files as model inputs. A PNG's RGB planes come out as
 * value/255 exactly, a grayscale input as BT.601 luma, a resize follows bilinear interpolation with
 * half-pixel centres (checked against the formula written out per pixel here); JPEG decodes close
 * to its source; a .npy must have the input's shape. Bad files: one line each.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { loadInputFile } from '../compiler/data/image.ts';
import { encodeNpy } from '../compiler/data/npy.ts';
import { CompileError } from '../compiler/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-image-'));

/** A w x h RGBA image whose pixel (x, y) has r = 10x + 3y, g = 200 - 7x, b = 5y + 1. */
function rgba(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x);
      data[i] = 10 * x + 3 * y;
      data[i + 1] = 200 - 7 * x;
      data[i + 2] = 5 * y + 1;
      data[i + 3] = 255;
    }
  }
  return data;
}

function png(name: string, w: number, h: number): string {
  const p = new PNG({ width: w, height: h });
  rgba(w, h).copy(p.data);
  const f = join(tmp, name);
  writeFileSync(f, PNG.sync.write(p));
  return f;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.is(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}: element ${i}: ${a[i]} vs ${b[i]}`);
};

test('PNG: RGB planes and grayscale luma at the image size', async () => {
  const f = png('a.png', 5, 3);
  const src = rgba(5, 3);
  const rgb = await loadInputFile(f, { shape: [1, 3, 3, 5], dtype: 'float32' });
  const want = Array.from({ length: 45 }, (_, i) => src[4 * (i % 15) + Math.floor(i / 15)] / 255);
  close(rgb.data, want, 1e-7, 'rgb');
  const gray = await loadInputFile(f, { shape: [1, 1, 3, 5], dtype: 'float32', scale: 255 });
  close(gray.data, Array.from({ length: 15 }, (_, i) => 0.299 * src[4 * i] + 0.587 * src[4 * i + 1] + 0.114 * src[4 * i + 2]), 1e-4, 'gray');
});

test('resize: bilinear with half-pixel centres', async () => {
  const f = png('b.png', 4, 2);
  const src = rgba(4, 2);
  const got = await loadInputFile(f, { shape: [1, 3, 5, 7], dtype: 'float32', scale: 255 });
  const at = (c: number, x: number, y: number) => src[4 * (y * 4 + x) + c];
  for (let c = 0; c < 3; c++) {
    for (let oy = 0; oy < 5; oy++) {
      for (let ox = 0; ox < 7; ox++) {
        const sy = Math.min(Math.max((oy + 0.5) * (2 / 5) - 0.5, 0), 1);
        const sx = Math.min(Math.max((ox + 0.5) * (4 / 7) - 0.5, 0), 3);
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const x1 = Math.min(x0 + 1, 3);
        const y1 = Math.min(y0 + 1, 1);
        const fx = sx - x0;
        const fy = sy - y0;
        const v = (1 - fy) * ((1 - fx) * at(c, x0, y0) + fx * at(c, x1, y0)) + fy * ((1 - fx) * at(c, x0, y1) + fx * at(c, x1, y1));
        assert.ok(Math.abs(got.data[(c * 5 + oy) * 7 + ox] - v) < 1e-3, `c${c} (${ox},${oy}): ${got.data[(c * 5 + oy) * 7 + ox]} vs ${v}`);
      }
    }
  }
});

test('JPEG decodes close to its source; .npy must match the shape', async () => {
  const f = join(tmp, 'c.jpg');
  writeFileSync(f, jpeg.encode({ width: 8, height: 8, data: rgba(8, 8) }, 100).data);
  const got = await loadInputFile(f, { shape: [1, 3, 8, 8], dtype: 'float32', scale: 255 });
  const src = rgba(8, 8);
  close(got.data, Array.from({ length: 192 }, (_, i) => src[4 * (i % 64) + Math.floor(i / 64)]), 12, 'jpeg');
  const n = join(tmp, 'd.npy');
  writeFileSync(n, encodeNpy({ dtype: 'float32', shape: [1, 1, 2, 2], data: Float32Array.from([1, 2, 3, 4]) }));
  assert.equal([...(await loadInputFile(n, { shape: [1, 1, 2, 2], dtype: 'float32' })).data], [1, 2, 3, 4]);
});

test('bad inputs: one line each', async () => {
  const fails = async (f: string, shape: number[], re: RegExp) => {
    try {
      await loadInputFile(f, { shape, dtype: 'float32' });
    } catch (e) {
      assert.instance(e, CompileError);
      assert.not.match((e as Error).message, /\n/);
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`${f} loaded`);
  };
  const n = join(tmp, 'd.npy');
  await fails(n, [1, 1, 3, 3], /holds a float32\[1,1,2,2\] array; the model's input is float32\[1,1,3,3\]/);
  const bad = join(tmp, 'bad.png');
  writeFileSync(bad, 'not a png at all');
  await fails(bad, [1, 1, 2, 2], /not a readable PNG image/);
  const txt = join(tmp, 'x.txt');
  writeFileSync(txt, 'hello');
  await fails(txt, [1, 1, 2, 2], /unknown file type '?\.txt'?; give a \.png, \.jpg\/\.jpeg or \.npy file/);
  await fails(join(tmp, 'none.png'), [1, 1, 2, 2], /cannot read input .*no such file/);
  await fails(png('e.png', 2, 2), [1, 2, 2, 2], /an image fits a float32 \[1,1,H,W\] or \[1,3,H,W\] input/);
});

test.run();
