/**
 * From an ONNX file to a bound, inferred, simplified graph: read (size-limited), decode, import,
 * run the pass pipeline. What `vtw model` verbs start from.
 */
import { readInputFile } from '../../src/util/input.ts';
import { CompileError } from '../errors.ts';
import { loadOnnx } from '../frontend/onnx.ts';
import type { Graph } from './ir.ts';
import { runPasses, type PipelineOptions } from './passes.ts';

/** Largest ONNX file vtw reads (protobuf messages are limited to 2 GiB; real models here are < 100 MiB). */
export const MAX_MODEL_BYTES = 1 << 30;

export function loadModelFile(path: string, opts: PipelineOptions = {}): Graph {
  const bytes = readInputFile(path, 'ONNX model', MAX_MODEL_BYTES, (m) => new CompileError(m));
  return runPasses(loadOnnx(bytes, path), opts);
}
