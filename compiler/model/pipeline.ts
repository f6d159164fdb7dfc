/**
 * From an ONNX file to a quantized graph ready for compileModel: import, bind the input (a
 * dynamic batch dimension to `batch`), run the graph passes, calibrate on the host (TS kernels),
 * quantize (compiler/quant/). What `vtw model compile` and `vtw model eval` share.
 */
import { readInputFile } from '../../src/util/input.ts';
import { CompileError } from '../errors.ts';
import { loadOnnx } from '../frontend/onnx.ts';
import { staticShape, type Graph } from '../graph/ir.ts';
import { MAX_MODEL_BYTES } from '../graph/load.ts';
import { runPasses } from '../graph/passes.ts';
import { TS_HOST } from '../host/ts.ts';
import { collectStats, loadCalibration, type CalibrationMethod } from '../quant/calibrate.ts';
import { quantizeGraph, type QuantReport, type ScaleMethod } from '../quant/quantize.ts';

export interface QuantizeModelOptions {
  /** Shapes of inputs as given (`--input x=1x3x32x32`); a dynamic leading dimension left unbound is the batch. */
  inputShapes?: Map<string, number[]>;
  batch?: number;
  calib: string;
  /** Calibration images' pixels become value / 255 * pixelScale (default 1). */
  pixelScale?: number;
  /** How a calibration image becomes a sample of the bound input (shape given), instead of a plain resize. */
  imageSample?: (path: string, shape: number[]) => Promise<Float32Array>;
  method: CalibrationMethod;
  skipFirst?: boolean;
  skipLast?: boolean;
  /** 'pow2' (default, VTA's scheme) or 'ratio' (compiler/quant/quantize.ts). */
  scales?: ScaleMethod;
  /** QuantizeOptions.centerShifts (compiler/quant/quantize.ts). */
  centerShifts?: boolean;
  onCalibration?: (done: number, total: number) => void;
}

/** Import `path` and bind every input: given shapes first, else a dynamic leading dimension to `batch`. */
export function loadBound(path: string, inputShapes: Map<string, number[]> = new Map(), batch = 1): Graph {
  const bytes = readInputFile(path, 'ONNX model', MAX_MODEL_BYTES, (m) => new CompileError(m));
  const raw = loadOnnx(bytes, path);
  const shapes = new Map(inputShapes);
  for (const name of raw.inputs) {
    const dims = raw.values.get(name)?.shape;
    if (shapes.has(name) || !dims || dims.length === 0) continue;
    const [first, ...rest] = dims;
    if (typeof first === 'string' && rest.every((x) => typeof x === 'number')) shapes.set(name, [batch, ...(rest as number[])]);
  }
  return runPasses(raw, { inputShapes: shapes });
}

/** The float graph and its int8 quantization for one calibration set. */
export async function quantizeModel(path: string, opts: QuantizeModelOptions): Promise<{ float: Graph; quantized: Graph; report: QuantReport }> {
  const g = loadBound(path, opts.inputShapes, opts.batch ?? 1);
  if (g.inputs.length !== 1) throw new CompileError(`${path}: quantization takes a model with one input; this one has ${g.inputs.length}`);
  const shape = staticShape(g.values.get(g.inputs[0])!)!;
  const imageSample = opts.imageSample && ((path: string) => opts.imageSample!(path, shape));
  const samples = await loadCalibration(opts.calib, { shape }, { pixelScale: opts.pixelScale, imageSample });
  const stats = await collectStats(g, samples, TS_HOST, { onProgress: opts.onCalibration });
  const { graph, report } = quantizeGraph(g, stats, { method: opts.method, skipFirst: opts.skipFirst, skipLast: opts.skipLast, scales: opts.scales, centerShifts: opts.centerShifts });
  return { float: g, quantized: graph, report };
}
