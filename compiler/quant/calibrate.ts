/**
 * Calibration for int8 post-training quantization: the sample set (`--calib SPEC`) and the value
 * ranges the fp32 graph produces on it (docs/models.md, "Quantization").
 *
 * SPEC is one of
 *   - a folder of `.npy` files (sorted by name), each one sample or a batch with a leading dimension,
 *   - one `.npy` file whose leading dimension counts the samples,
 *   - an IDX images file (`*-idx3-ubyte`, optionally `.gz`): count × rows × cols bytes,
 *   - `mnist-test[:N]` / `mnist-train[:N]`: the built-in MNIST splits (first N images).
 * Pixels of IDX and MNIST sets become float32 0..255 unchanged (LeNet-5's input contract,
 * docs/models.md); uint8/int `.npy` data converts the same way. The samples are grouped into tensors
 * of the bound input's shape (its first dimension is the batch).
 *
 * Statistics: the fp32 graph runs on a host target wrapped by `recordingTarget`, which sees every
 * node's outputs; per value it keeps min, max, max |x| and a log-spaced histogram of |x| (so a
 * percentile needs no second pass and no stored values, whatever the value range).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CompileError } from '../errors.ts';
import { readIdxImages, loadDataset } from '../data/idx.ts';
import { loadInputFile } from '../data/image.ts';
import { readNpy } from '../data/npy.ts';
import { runGraph, type HostTarget } from '../graph/executor.ts';
import type { Graph, Node } from '../graph/ir.ts';
import { isFloat, sizeOf, type Tensor } from '../graph/tensor.ts';

export type CalibrationMethod = 'max' | 'percentile' | 'mse';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['max', 'percentile', 'mse'];
export const DEFAULT_PERCENTILE = 99.99;

const SPEC_FORMS = 'a folder of .npy / PNG / JPEG files, one PNG / JPEG image, one .npy file with a leading batch dimension, an IDX images file, or mnist-test[:N] / mnist-train[:N]';
const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;

export interface CalibrationOptions {
  /** Use at most this many samples (the first ones). */
  limit?: number;
  /** PNG / JPEG pixels become value / 255 * pixelScale (default 1), as `vtw model run --pixel-scale` feeds them. */
  pixelScale?: number;
  /** How an image file becomes one sample (default: resized to the input, scaled by pixelScale); e.g. a model's own preprocessing. */
  imageSample?: (path: string) => Promise<Float32Array>;
}

/** One sample's elements as float32 (any numeric dtype; integers keep their values). */
function asFloat(t: Tensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
}

/** Shape without leading 1s (so [1,28,28], [28,28] and [1,1,28,28] compare equal as one sample). */
function core(shape: readonly number[]): string {
  let i = 0;
  while (i < shape.length - 1 && shape[i] === 1) i++;
  return shape.slice(i).join('x');
}

/**
 * The samples of one file as flat float32 arrays of `sampleShape`: the file is one sample, or a
 * batch whose leading dimension counts them.
 */
function splitSamples(t: Tensor, sampleShape: readonly number[], where: string): Float32Array[] {
  const per = sizeOf(sampleShape);
  if (t.dtype === 'bool' || (!isFloat(t.dtype) && t.dtype.includes('64'))) {
    throw new CompileError(`${where}: ${t.dtype} data cannot be a calibration sample; save float32 (or uint8 pixels)`);
  }
  const data = asFloat(t);
  if (core(t.shape) === core(sampleShape)) return [data];
  if (t.shape.length >= 1 && core(t.shape.slice(1)) === core(sampleShape)) {
    return Array.from({ length: t.shape[0] }, (_, i) => data.subarray(i * per, (i + 1) * per));
  }
  throw new CompileError(`${where}: shape [${t.shape.join(',')}] is neither one sample [${sampleShape.join(',')}] nor a batch [K,${sampleShape.join(',')}] of the model input`);
}

/** The raw samples a spec names (flat float32, one per sample). */
async function readSamples(spec: string, sampleShape: readonly number[], opts: CalibrationOptions): Promise<{ samples: Float32Array[]; name: string }> {
  // an image is resized to the model input, as `vtw model run --input` does, unless the caller preprocesses it
  const image = opts.imageSample ?? (async (path: string) => (await loadInputFile(path, { shape: [1, ...sampleShape], dtype: 'float32', scale: opts.pixelScale ?? 1 })).data as Float32Array);
  if (/^mnist-(test|train)(:|$)/.test(spec)) {
    const set = loadDataset(spec);
    return { samples: imageSamples(set.pixels, set.count, [set.rows, set.cols], sampleShape, spec), name: spec };
  }
  if (!existsSync(spec)) throw new CompileError(`--calib ${spec}: no such file or folder; give ${SPEC_FORMS}`);
  if (statSync(spec).isDirectory()) {
    const files = readdirSync(spec).sort().filter((f) => f.toLowerCase().endsWith('.npy') || IMAGE_EXTENSIONS.test(f));
    if (files.length === 0) throw new CompileError(`--calib ${spec}: empty calibration set: the folder holds no .npy, PNG or JPEG files`);
    const samples: Float32Array[] = [];
    for (const f of files) {
      const path = join(spec, f);
      if (IMAGE_EXTENSIONS.test(f)) samples.push(await image(path));
      else samples.push(...splitSamples(readNpy(path), sampleShape, path));
    }
    return { samples, name: spec };
  }
  if (spec.toLowerCase().endsWith('.npy')) return { samples: splitSamples(readNpy(spec), sampleShape, spec), name: spec };
  if (IMAGE_EXTENSIONS.test(spec)) return { samples: [await image(spec)], name: spec };
  const images = readIdxImages(spec);
  return { samples: imageSamples(images.pixels, images.count, [images.rows, images.cols], sampleShape, spec), name: spec };
}

function imageSamples(pixels: Uint8Array, count: number, dims: number[], sampleShape: readonly number[], where: string): Float32Array[] {
  if (core(dims) !== core(sampleShape)) {
    throw new CompileError(`${where}: ${dims.join('x')} images do not fit the model input (one sample is [${sampleShape.join(',')}])`);
  }
  const per = sizeOf(dims);
  return Array.from({ length: count }, (_, i) => Float32Array.from(pixels.subarray(i * per, (i + 1) * per)));
}

/**
 * Load a calibration set for an input of shape `input.shape` (batch first): tensors of exactly that
 * shape, float32. With batch B > 1 the samples are grouped B at a time (a last partial batch is
 * left out). An empty set, or one smaller than a batch, is a one-line error.
 */
export async function loadCalibration(spec: string, input: { shape: number[] }, opts: CalibrationOptions = {}): Promise<Tensor[]> {
  const [batch, ...sampleShape] = input.shape;
  if (!batch || sampleShape.length === 0) throw new CompileError(`--calib ${spec}: the model input [${input.shape.join(',')}] has no batch dimension to calibrate over`);
  const { samples: all, name } = await readSamples(spec, sampleShape, opts);
  const samples = opts.limit !== undefined ? all.slice(0, opts.limit) : all;
  if (samples.length === 0) throw new CompileError(`--calib ${name}: empty calibration set (no samples); give at least one sample`);
  if (samples.length < batch) throw new CompileError(`--calib ${name}: ${samples.length} samples do not fill one batch of ${batch} (the model input is [${input.shape.join(',')}])`);
  const per = sizeOf(sampleShape);
  const out: Tensor[] = [];
  for (let b = 0; b + batch <= samples.length; b += batch) {
    const data = new Float32Array(batch * per);
    for (let i = 0; i < batch; i++) data.set(samples[b + i], i * per);
    out.push({ dtype: 'float32', shape: [...input.shape], data });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** Histogram bins per octave of |x| (relative resolution 2^(1/64) - 1, about 1.1 %). */
const BINS_PER_OCTAVE = 64;
/** Octaves below 1 and above 1 the histogram covers (|x| outside goes to the end bins; max stays exact). */
const OCTAVES = 64;

/** The recorded range of one value over the calibration set. */
export interface ValueStats {
  min: number;
  max: number;
  absMax: number;
  /** Elements seen (zeros included). */
  count: number;
  zeros: number;
  /** Counts of nonzero |x| in bins [2^((k - OCTAVES*BINS)/BINS), 2^((k + 1 - OCTAVES*BINS)/BINS)). */
  histogram: Float64Array;
}

export interface CalibrationStats {
  /** Per value name (graph inputs and every node output that is a float tensor). */
  values: Map<string, ValueStats>;
  /** Input tensors seen. */
  batches: number;
  /** The first few input tensors (CollectOptions.keep): the quantizer's report runs them. */
  samples: Tensor[];
}

function newStats(): ValueStats {
  return { min: Infinity, max: -Infinity, absMax: 0, count: 0, zeros: 0, histogram: new Float64Array(2 * OCTAVES * BINS_PER_OCTAVE) };
}

function record(s: ValueStats, data: ArrayLike<number>): void {
  const top = s.histogram.length - 1;
  const offset = OCTAVES * BINS_PER_OCTAVE;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
    const a = Math.abs(v);
    if (a === 0) {
      s.zeros++;
      continue;
    }
    if (a > s.absMax) s.absMax = a;
    const k = Math.floor(Math.log2(a) * BINS_PER_OCTAVE) + offset;
    s.histogram[k < 0 ? 0 : k > top ? top : k]++;
  }
  s.count += data.length;
}

/** The |x| below which `percentile` % of the values fall (upper edge of its bin, at most max |x|). */
export function percentileAbs(s: ValueStats, percentile: number): number {
  const want = (percentile / 100) * s.count;
  let seen = s.zeros;
  if (seen >= want) return 0;
  for (let k = 0; k < s.histogram.length; k++) {
    seen += s.histogram[k];
    if (seen >= want) return Math.min(s.absMax, 2 ** ((k + 1 - OCTAVES * BINS_PER_OCTAVE) / BINS_PER_OCTAVE));
  }
  return s.absMax;
}

/** Finer scales than max |x| allows that 'mse' tries (each halves the step and the clip point). */
const MSE_EXTRA_FRACS = 6;

/**
 * The clip point 127.5 · 2^-f of the power-of-two scale whose int8 rounding and clipping error over
 * the histogram is least: each bin's |x| (its geometric middle) costs (|x| - clip)² when clipped,
 * x² when it rounds to 0, else the uniform rounding noise step²/12.
 */
export function mseRange(s: ValueStats): number {
  if (!(s.absMax > 0)) return 0;
  const base = Math.floor(Math.log2(127.5 / s.absMax));
  let best = s.absMax;
  let bestErr = Infinity;
  for (let f = base; f <= base + MSE_EXTRA_FRACS; f++) {
    const step = 2 ** -f;
    const clip = 127 * step;
    let err = 0;
    for (let k = 0; k < s.histogram.length; k++) {
      const n = s.histogram[k];
      if (!n) continue;
      const a = Math.min(s.absMax, 2 ** ((k + 0.5 - OCTAVES * BINS_PER_OCTAVE) / BINS_PER_OCTAVE));
      err += n * (a > clip ? (a - clip) ** 2 : a < step / 2 ? a * a : (step * step) / 12);
    }
    if (err < bestErr) [best, bestErr] = [Math.min(s.absMax, 127.5 * step), err];
  }
  return best;
}

/** The range a method keeps of a value: max |x|, the given percentile of |x|, or the clip point of least squared error. */
export function rangeOf(s: ValueStats, method: CalibrationMethod, percentile = DEFAULT_PERCENTILE): number {
  if (method === 'mse') return mseRange(s);
  return method === 'max' ? s.absMax : percentileAbs(s, percentile);
}

/** A host target that runs `inner`'s kernels (its observable form: HostTarget.observable) and shows every node's outputs to `see`. */
export function tapTarget(target: HostTarget, see: (node: Node, outputs: Tensor[]) => void): HostTarget {
  const inner = target.observable?.() ?? target;
  return {
    name: `${inner.name}+tap`,
    kernelFor(node, g) {
      const k = inner.kernelFor(node, g);
      if (!k) return undefined;
      return (n, ins) => {
        const outs = k(n, ins);
        see(n, outs);
        return outs;
      };
    },
    prepare: inner.prepare?.bind(inner),
  };
}

/** A host target that records the range of every float value it computes into `stats`. */
export function recordingTarget(inner: HostTarget, stats: Map<string, ValueStats>): HostTarget {
  return tapTarget(inner, (n, outs) => {
    n.outputs.forEach((o, k) => {
      const t = outs[k];
      if (!o || !t || !isFloat(t.dtype)) return;
      let s = stats.get(o);
      if (!s) stats.set(o, (s = newStats()));
      record(s, t.data);
    });
  });
}

export interface CollectOptions {
  /** Called after each input tensor: (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** How many input tensors to keep for the quantization report (default 8). */
  keep?: number;
}

/**
 * Run the fp32 graph (one input) over the calibration tensors on `host` and record every value's
 * range. The graph is the bound, inferred float graph the quantizer will rewrite.
 */
export async function collectStats(g: Graph, samples: readonly Tensor[], host: HostTarget, opts: CollectOptions = {}): Promise<CalibrationStats> {
  if (g.inputs.length !== 1) throw new CompileError(`calibration takes a model with one input; this one has ${g.inputs.length} (${g.inputs.join(', ')})`);
  if (samples.length === 0) throw new CompileError('empty calibration set: give at least one sample');
  const values = new Map<string, ValueStats>();
  const target = recordingTarget(host, values);
  await target.prepare?.(g);
  const input = g.inputs[0];
  values.set(input, newStats());
  samples.forEach((t, i) => {
    record(values.get(input)!, t.data);
    runGraph(g, new Map([[input, t]]), target);
    opts.onProgress?.(i + 1, samples.length);
  });
  return { values, batches: samples.length, samples: samples.slice(0, opts.keep ?? 8) };
}
