/**
 * Rendered text lines: the test images of the PaddleOCR models (docs/models.md, "PaddleOCR").
 *
 * Each line is a short seeded string of English words and numbers drawn with a DejaVu font
 * (Debian `fonts-dejavu-core`, registered from its file path, so no system font lookup takes part)
 * by @napi-rs/canvas (a devDependency that ships its native binary): dark text on a light
 * background, with seeded variation of font, size, position and colours. `rotate180` gives the
 * same lines turned by 180° (the classifier's label 1); upright lines have label 0. The same seed
 * gives the same texts and pixels on every run.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { VtwError } from '../../src/errors.ts';
import { DEJAVU_DIR, DEJAVU_FONTS } from '../../src/prereq.ts';
import { Rng } from '../../src/util/rng.ts';

type CanvasModule = typeof import('@napi-rs/canvas');

/** The faces lines are drawn with (src/prereq.ts lists them), by the family name they are registered as (`VtwDejaVuSans`). */
const FONT_FILES: Record<string, string> = Object.fromEntries(DEJAVU_FONTS.map((f) => [`Vtw${f.replace(/\.ttf$/, '')}`, `${DEJAVU_DIR}/${f}`]));

/** An RGBA image, row-major, 4 bytes a pixel (what canvas' getImageData gives). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface TextLine {
  text: string;
  rgba: RgbaImage;
  /** The classifier's class: 0 upright, 1 rotated by 180°. */
  label: 0 | 1;
}

export interface TextLineOptions {
  seed: number;
  /** Fixed image width in pixels; default: the text's width plus seeded margins. */
  width?: number;
  /** Image height in pixels (default 48, the models' input height). */
  height?: number;
  /** Turn every line by 180° (label 1). */
  rotate180?: boolean;
}

let canvasModule: CanvasModule | null | undefined;
let canvasProblem = '';

function loadCanvas(): CanvasModule | null {
  if (canvasModule === undefined) {
    try {
      canvasModule = createRequire(import.meta.url)('@napi-rs/canvas') as CanvasModule;
    } catch (e) {
      canvasModule = null;
      canvasProblem = (e as Error).message.split('\n')[0];
    }
  }
  return canvasModule;
}

/** Why lines cannot be rendered here (one line with the fix), or null when they can. */
export function textLinesMissing(): string | null {
  const absent = Object.values(FONT_FILES).filter((f) => !existsSync(f));
  if (absent.length) return `the DejaVu fonts are not installed (${absent.join(', ')} missing): sudo apt-get install -y fonts-dejavu-core`;
  if (!loadCanvas()) return `@napi-rs/canvas cannot be loaded (${canvasProblem}): npm ci installs it (a devDependency)`;
  return null;
}

let fontsRegistered = false;

function canvasWithFonts(): CanvasModule {
  const why = textLinesMissing();
  if (why) throw new VtwError(`cannot render text lines: ${why}`);
  const c = loadCanvas()!;
  if (!fontsRegistered) {
    for (const [family, file] of Object.entries(FONT_FILES)) {
      if (!c.GlobalFonts.registerFromPath(file, family)) throw new VtwError(`cannot render text lines: ${file} is not a font canvas can read (reinstall fonts-dejavu-core)`);
    }
    fontsRegistered = true;
  }
  return c;
}

const WORDS = [
  'the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'vector', 'tensor', 'accelerator', 'hello',
  'world', 'model', 'layer', 'input', 'output', 'weight', 'signal', 'matrix', 'kernel', 'buffer', 'memory', 'clock',
  'river', 'garden', 'window', 'paper', 'street', 'market', 'orange', 'silver', 'number', 'energy', 'light', 'sound',
  'north', 'south', 'station', 'ticket', 'coffee', 'bread', 'water', 'stone', 'green', 'yellow', 'price', 'total',
  'invoice', 'order', 'page', 'line', 'chapter', 'report', 'date', 'time', 'room', 'floor', 'open', 'close',
];

/** A seeded string of 2 to 3 words and numbers, at most 16 characters. */
function randomText(rng: Rng): string {
  const tokens: string[] = [];
  const count = rng.int(2, 3);
  for (let i = 0; i < count; i++) {
    const kind = rng.next();
    let t: string;
    if (kind < 0.3) {
      const digits = rng.int(1, 4);
      t = String(rng.int(digits === 1 ? 0 : 10 ** (digits - 1), 10 ** digits - 1));
      if (rng.bool(0.2)) t += `.${rng.int(0, 99).toString().padStart(2, '0')}`;
    } else {
      t = rng.pick(WORDS);
      const c = rng.next();
      if (c < 0.3) t = t[0].toUpperCase() + t.slice(1);
      else if (c < 0.4) t = t.toUpperCase();
    }
    if (tokens.join(' ').length + 1 + t.length > 16 && tokens.length >= 1) break;
    tokens.push(t);
  }
  return tokens.join(' ');
}

/** `count` seeded text lines (docs/models.md): upright with label 0, or with `rotate180` turned and labelled 1. */
export function renderTextLines(count: number, opts: TextLineOptions): TextLine[] {
  const height = opts.height ?? 48;
  if (!Number.isInteger(count) || count < 0) throw new VtwError(`text lines: count ${count} is not a whole number >= 0`);
  if (!Number.isInteger(height) || height < 8) throw new VtwError(`text lines: height ${height} is not a whole number >= 8`);
  if (opts.width !== undefined && (!Number.isInteger(opts.width) || opts.width < 8)) throw new VtwError(`text lines: width ${opts.width} is not a whole number >= 8`);
  const c = canvasWithFonts();
  const rng = new Rng(opts.seed);
  const families = Object.keys(FONT_FILES);
  const lines: TextLine[] = [];
  for (let i = 0; i < count; i++) {
    // every line draws the same sequence of random numbers, so a line does not depend on the options
    const text = randomText(rng);
    const family = rng.pick(families);
    const size = Math.round(height * (0.5 + 0.16 * rng.next()));
    const margin = rng.int(3, 12);
    const dy = rng.int(-2, 2);
    const paper = rng.int(215, 255);
    const bg = [0, 1, 2].map(() => paper - rng.int(0, 15));
    const inkBase = rng.int(0, 60);
    const ink = [0, 1, 2].map(() => inkBase + rng.int(0, 20));
    const probe = c.createCanvas(1, 1).getContext('2d');
    probe.font = `${size}px ${family}`;
    const width = opts.width ?? Math.ceil(probe.measureText(text).width) + 2 * margin;
    const canvas = c.createCanvas(width, height);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = `rgb(${bg.join(',')})`;
    ctx.fillRect(0, 0, width, height);
    ctx.font = `${size}px ${family}`;
    ctx.fillStyle = `rgb(${ink.join(',')})`;
    ctx.textBaseline = 'middle';
    ctx.fillText(text, margin, height / 2 + dy);
    let out = canvas;
    if (opts.rotate180) {
      // turning about the centre maps pixel (x, y) exactly onto (width-1-x, height-1-y): no resampling
      out = c.createCanvas(width, height);
      const rctx = out.getContext('2d');
      rctx.translate(width, height);
      rctx.rotate(Math.PI);
      rctx.drawImage(canvas, 0, 0);
    }
    const pixels = out.getContext('2d').getImageData(0, 0, width, height).data;
    lines.push({ text, rgba: { width, height, data: new Uint8Array(pixels) }, label: opts.rotate180 ? 1 : 0 });
  }
  return lines;
}
