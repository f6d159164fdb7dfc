/**
 * Top-1 accuracy of a compiled (int8, partly on VTA) image classifier over a labelled image set,
 * batch by batch at the model's own batch size; the int8 counterpart of compiler/quant/evaluate.ts
 * (same input contract: pixels as float32 0..255), with the VTA cycles per image.
 */
import type { LabelledImages } from '../data/idx.ts';
import { CompileError } from '../errors.ts';
import { staticShape } from '../graph/ir.ts';
import type { Tensor } from '../graph/tensor.ts';
import type { CompiledModel } from './compile.ts';
import { runModel, type RunModelOptions } from './run.ts';

export interface VtaEvaluation {
  images: number;
  correct: number;
  accuracy: number;
  predictions: Uint8Array;
  /** VTA cycles of all images together (a batch's cycles are shared by its images). */
  vtaCycles: number;
  /** Wall time of the host part. */
  hostMs: number;
}

/** Index of the largest of `n` values from `at` (the first of equals). */
export function argmax(data: Tensor['data'], at: number, n: number): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (data[at + c] > data[at + best]) best = c;
  return best;
}

export async function evaluateOnVta(m: CompiledModel, set: LabelledImages, opts: RunModelOptions, onProgress?: (done: number, total: number) => void): Promise<VtaEvaluation> {
  const input = m.graph.inputs[0];
  const shape = staticShape(m.graph.values.get(input)!)!;
  const per = set.rows * set.cols;
  if (shape.length !== 4 || shape[1] * shape[2] * shape[3] !== per) {
    throw new CompileError(`evaluate: the model input [${shape.join(',')}] does not take ${set.rows}x${set.cols} images`);
  }
  const batch = shape[0];
  if (set.count % batch) throw new CompileError(`evaluate: ${set.count} images do not split into batches of ${batch}`);
  const predictions = new Uint8Array(set.count);
  let correct = 0;
  let vtaCycles = 0;
  let hostMs = 0;
  for (let b = 0; b < set.count; b += batch) {
    const x = Float32Array.from(set.pixels.subarray(b * per, (b + batch) * per));
    const run = await runModel(m, new Map([[input, { dtype: 'float32', shape, data: x }]]), opts);
    const y = run.outputs.get(m.graph.outputs[0])!;
    vtaCycles += run.vtaCycles;
    hostMs += run.hostMs;
    for (let i = 0; i < batch; i++) {
      predictions[b + i] = argmax(y.data, i * y.shape[1], y.shape[1]);
      if (predictions[b + i] === set.labels[b + i]) correct++;
    }
    onProgress?.(b + batch, set.count);
  }
  return { images: set.count, correct, accuracy: correct / set.count, predictions, vtaCycles, hostMs };
}
