/**
 * Top-1 accuracy of an image classifier graph (fp32 or quantized) on a labelled image set, batch by
 * batch on a host target: what scripts/quant-lenet.ts and the tests measure LeNet-5 with. Pixels go
 * in as float32 0..255 unchanged (LeNet-5's input contract, docs/models.md).
 */
import type { LabelledImages } from '../data/idx.ts';
import { CompileError } from '../errors.ts';
import { runGraph, type HostTarget } from '../graph/executor.ts';
import { staticShape, type Graph } from '../graph/ir.ts';

export interface Evaluation {
  images: number;
  correct: number;
  accuracy: number;
  /** Predicted class per image. */
  predictions: Uint8Array;
}

/** The largest batch size up to `most` that divides `count` (every batch is full). */
export function batchFor(count: number, most = 50): number {
  for (let b = Math.min(most, count); b > 1; b--) if (count % b === 0) return b;
  return 1;
}

/** Run `g` (one input [B, 1, rows, cols], one output [B, classes]) over the set; argmax per row. */
export function evaluateImages(g: Graph, set: LabelledImages, host: HostTarget, onProgress?: (done: number, total: number) => void): Evaluation {
  const input = g.inputs[0];
  const shape = staticShape(g.values.get(input)!);
  const per = set.rows * set.cols;
  if (!shape || shape.length !== 4 || shape[1] * shape[2] * shape[3] !== per) {
    throw new CompileError(`evaluate: the model input [${shape?.join(',') ?? '?'}] does not take ${set.rows}x${set.cols} images`);
  }
  const batch = shape[0];
  if (set.count % batch) throw new CompileError(`evaluate: ${set.count} images do not split into batches of ${batch}`);
  const predictions = new Uint8Array(set.count);
  let correct = 0;
  for (let b = 0; b < set.count; b += batch) {
    const x = Float32Array.from(set.pixels.subarray(b * per, (b + batch) * per));
    const y = runGraph(g, new Map([[input, { dtype: 'float32', shape, data: x }]]), host).outputs.get(g.outputs[0])!;
    const classes = y.shape[1];
    for (let i = 0; i < batch; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (y.data[i * classes + c] > y.data[i * classes + best]) best = c;
      predictions[b + i] = best;
      if (best === set.labels[b + i]) correct++;
    }
    onProgress?.(b + batch, set.count);
  }
  return { images: set.count, correct, accuracy: correct / set.count, predictions };
}
