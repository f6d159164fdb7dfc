/**
 * Model inputs from files (`vtw model run --input FILE`): a `.npy` array of exactly the input's
 * shape (cast to its dtype), or a PNG / JPEG image turned into NCHW float32: grayscale (ITU-R
 * BT.601 luma) for one channel, RGB for three, resized bilinearly (half-pixel centres, as
 * ONNX Resize's default) to the input's H x W, pixels scaled to [0, 1] (times `scale`; LeNet-5
 * takes 0..255: scale 255). Anything unreadable or not fitting is one line naming the file.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { fsReason } from '../../src/util/folder.ts';
import { quoteUser } from '../../src/util/quote.ts';
import { CompileError } from '../errors.ts';
import { castTensor, shapeString, type DType, type Tensor } from '../graph/tensor.ts';
import { decodeNpy } from './npy.ts';

export interface InputWant {
  shape: number[];
  dtype: DType;
  /** Image pixels are value / 255 * scale (default 1: [0, 1]). */
  scale?: number;
}

export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

function decodeImage(bytes: Uint8Array, kind: 'png' | 'jpeg', shown: string): Rgba {
  try {
    if (kind === 'png') {
      const p = PNG.sync.read(Buffer.from(bytes));
      return { width: p.width, height: p.height, data: new Uint8Array(p.data) };
    }
    const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: j.width, height: j.height, data: j.data };
  } catch (e) {
    throw new CompileError(`${shown} is not a readable ${kind.toUpperCase()} image (${String((e as Error).message ?? e).split('\n')[0]}); give a PNG, JPEG or .npy file`);
  }
}

/** One channel plane of an RGBA image: 'gray' (luma) or channel 0..2, as 0..255 floats. */
function plane(img: Rgba, which: 'gray' | number): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = img.data[4 * i];
    const g = img.data[4 * i + 1];
    const b = img.data[4 * i + 2];
    out[i] = which === 'gray' ? 0.299 * r + 0.587 * g + 0.114 * b : img.data[4 * i + which];
  }
  return out;
}

/** Bilinear resize of a plane (half-pixel centres, edges clamped). */
export function resizeBilinear(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  if (sw === dw && sh === dh) return src;
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * (sh / dh) - 0.5, 0), sh - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * (sw / dw) - 0.5, 0), sw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, sw - 1);
      const wx = fx - x0;
      const top = src[y0 * sw + x0] * (1 - wx) + src[y0 * sw + x1] * wx;
      const bottom = src[y1 * sw + x0] * (1 - wx) + src[y1 * sw + x1] * wx;
      out[y * dw + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** The image format a file name says (by extension), or undefined. */
function imageKind(path: string): 'png' | 'jpeg' | undefined {
  const ext = extname(path).toLowerCase();
  return ext === '.png' ? 'png' : ext === '.jpg' || ext === '.jpeg' ? 'jpeg' : undefined;
}

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CompileError(`cannot read ${what} ${quoteUser(path)}: ${fsReason(e)}`);
  }
}

/** Read and decode a PNG or JPEG file as RGBA pixels (one-line errors for an unreadable or unknown file). */
export function readImage(path: string, what = 'image'): Rgba {
  const kind = imageKind(path);
  if (!kind) throw new CompileError(`${what} ${quoteUser(path)}: unknown file type ${quoteUser(extname(path).toLowerCase() || '(none)', 20, false)}; give a .png or .jpg/.jpeg file`);
  return decodeImage(readBytes(path, what), kind, quoteUser(path));
}

/** Read `path` as a tensor of `want.shape` and `want.dtype`. */
export async function loadInputFile(path: string, want: InputWant): Promise<Tensor> {
  const shown = quoteUser(path);
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') {
    const t = decodeNpy(readBytes(path, 'input'), shown);
    if (shapeString(t.shape) !== shapeString(want.shape)) {
      throw new CompileError(`${shown} holds a ${t.dtype}${shapeString(t.shape)} array; the model's input is ${want.dtype}${shapeString(want.shape)}`);
    }
    return t.dtype === want.dtype ? t : castTensor(t, want.dtype);
  }
  if (!imageKind(path)) throw new CompileError(`input ${shown}: unknown file type ${quoteUser(ext || '(none)', 20, false)}; give a .png, .jpg/.jpeg or .npy file`);
  const [n, c, h, w] = want.shape;
  if (want.shape.length !== 4 || n !== 1 || (c !== 1 && c !== 3) || want.dtype !== 'float32') {
    throw new CompileError(`input ${shown}: an image fits a float32 [1,1,H,W] or [1,3,H,W] input, and the model's is ${want.dtype}${shapeString(want.shape)}; give a .npy file of that shape`);
  }
  const img = readImage(path, 'input');
  const k = (want.scale ?? 1) / 255;
  const data = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    const p = resizeBilinear(plane(img, c === 1 ? 'gray' : ch), img.width, img.height, w, h);
    for (let i = 0; i < h * w; i++) data[ch * h * w + i] = p[i] * k;
  }
  return { dtype: 'float32', shape: [...want.shape], data };
}
