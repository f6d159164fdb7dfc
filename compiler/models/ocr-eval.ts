/**
 * Evaluating the PaddleOCR classifier and recognizer on rendered text lines: a candidate engine
 * against onnxruntime-node fp32 (the oracle) and against the true labels / texts.
 *
 * An engine is a `Runner`: a function from the model's input tensor to its output values. The
 * fp32 graph on a host target is `hostRunner`; onnxruntime is `ortRunner`; an int8-on-VTA engine
 * plugs in the same way (anything that maps [1,3,48,W] to the model's output), so
 * scripts/eval-ocr.ts evaluates it unchanged.
 */
import * as ort from 'onnxruntime-node';
import type { TextLine } from '../data/text-lines.ts';
import { runGraph, type HostTarget } from '../graph/executor.ts';
import { loadOnnx } from '../frontend/onnx.ts';
import { runPasses } from '../graph/passes.ts';
import type { Graph } from '../graph/ir.ts';
import type { Tensor } from '../graph/tensor.ts';
import { TS_HOST } from '../host/ts.ts';
import { compileModel, type CompiledModel } from '../model/compile.ts';
import { runModel, type RunModelOptions } from '../model/run.ts';
import { collectStats } from '../quant/calibrate.ts';
import { correctBiases } from '../quant/bias-correction.ts';
import { collectHessians } from '../quant/gptq.ts';
import { scaleConvChannels, scaleConvInputs, type InputScalingMode } from '../quant/equalize.ts';
import { quantizeGraph, type QuantizeOptions, type QuantReport } from '../quant/quantize.ts';
import type { Derived } from '../../src/config/derive.ts';
import { charErrorRate, CLS_WIDTH, clsInput, clsLabel, ctcGreedyDecode, OCR_HEIGHT, readPaddleOcrFile, recInput, REC_STEP, REC_WIDTH } from './paddleocr.ts';

/** One model run: the input tensor in, the (single) output's values out. */
export type Runner = (x: Tensor) => Promise<Float32Array>;

export type OcrModel = 'cls' | 'rec';

/** The models a `none | cls | rec | both` option names (undefined for anything else). */
export function ocrModelsOption(v: string | undefined): OcrModel[] | undefined {
  return ({ none: [], cls: ['cls'], rec: ['rec'], both: ['cls', 'rec'] } as Record<string, OcrModel[]>)[v ?? ''];
}

/** The input shape a model is bound to: the classifier [1,3,48,192], the recognizer [1,3,48,recWidth]. */
export function ocrInputShape(model: OcrModel, recWidth = REC_WIDTH): number[] {
  return [1, 3, OCR_HEIGHT, model === 'cls' ? CLS_WIDTH : recWidth];
}

const PADDLEOCR_NAMES: Record<OcrModel, string> = { cls: 'PaddleOCR classifier', rec: 'PaddleOCR recognizer' };

/** Our importer and passes, bound to the model's input shape, run by a host target (fp32). */
export async function hostRunner(model: OcrModel, target: HostTarget, recWidth = REC_WIDTH): Promise<Runner> {
  const g = ocrGraph(model, recWidth);
  await target.prepare?.(g);
  const out = g.outputs[0];
  return async (x) => runGraph(g, new Map([['x', x]]), target).outputs.get(out)!.data as Float32Array;
}

/** The fp32 graph of a model, imported, bound to its input shape and through the passes. */
export function ocrGraph(model: OcrModel, recWidth = REC_WIDTH): Graph {
  return runPasses(loadOnnx(readPaddleOcrFile(model), PADDLEOCR_NAMES[model]), { inputShapes: new Map([['x', ocrInputShape(model, recWidth)]]) });
}

export interface VtaOcrOptions {
  /** The configuration VTA runs, and its name for reports. */
  d: Derived;
  configName: string;
  /** Calibration lines (their model inputs are made as the evaluation makes them). */
  calibration: readonly TextLine[];
  quant: QuantizeOptions;
  run: RunModelOptions;
  recWidth?: number;
  /**
   * Rescale conv output channels by powers of two where only float ops read them, before
   * calibration (compiler/quant/equalize.ts): what lets the recognizer's backbone survive one
   * per-tensor weight scale (docs/models.md, "PaddleOCR int8").
   */
  channelScaling?: boolean;
  /**
   * Rescale the input channels of the convs that read a float host value (scaleConvInputs, before
   * channel scaling): per-channel input equalization, so one per-tensor activation scale keeps the
   * small channels (docs/models.md, "PaddleOCR int8").
   */
  inputScaling?: InputScalingMode;
  /**
   * Sequential bias correction (correctBiases) on the first this many calibration lines after
   * quantization; the quantized graph runs on the calibration host's observable form (docs/models.md,
   * "PaddleOCR int8").
   */
  biasCorrectionLines?: number;
  /**
   * GPTQ weight rounding (compiler/quant/gptq.ts) with the input Hessians of the first this many
   * calibration lines (0 / absent: round to nearest; docs/models.md, "GPTQ weight rounding").
   */
  gptqLines?: number;
  onCalibration?: (done: number, total: number) => void;
  /**
   * The host the fp32 graph runs on for channel scaling and calibration (default TS_HOST). A
   * compiled host (compiledHost of wasm / cpu) computes the same statistics several times faster.
   */
  calibrationHost?: HostTarget;
}

export interface VtaOcr {
  run: Runner;
  compiled: CompiledModel;
  report: QuantReport;
  /** VTA cycles summed over every run so far, and the runs. */
  totals: { cycles: number; runs: number };
}

/**
 * The model quantized to int8 on `calibration` and compiled for VTA: its QConv / QDense / QAdd /
 * QMaxPool nodes run on the configuration (opts.run.engine), the rest on opts.run.host.
 */
export async function vtaRunner(model: OcrModel, o: VtaOcrOptions): Promise<VtaOcr> {
  const recWidth = o.recWidth ?? REC_WIDTH;
  const g = ocrGraph(model, recWidth);
  const input = (l: TextLine) => (model === 'cls' ? clsInput(l.rgba) : recInput(l.rgba, recWidth));
  const samples = o.calibration.map(input);
  const fpHost = o.calibrationHost ?? TS_HOST;
  await fpHost.prepare?.(g);
  if (o.inputScaling) {
    scaleConvInputs(g, samples, fpHost, { mode: o.inputScaling });
    await fpHost.prepare?.(g);
  }
  if (o.channelScaling) scaleConvChannels(g, samples, fpHost);
  const stats = await collectStats(g, samples, fpHost, { onProgress: o.onCalibration });
  const hessians = o.gptqLines ? collectHessians(g, samples.slice(0, o.gptqLines), fpHost, g.nodes.map((n) => n.name)) : undefined;
  const { graph, report } = quantizeGraph(g, stats, { ...o.quant, ...(hessians && { hessians }) });
  if (o.biasCorrectionLines) {
    const qHost = fpHost.observable?.() ?? fpHost;
    await qHost.prepare?.(graph);
    correctBiases(g, graph, samples.slice(0, o.biasCorrectionLines), fpHost, qHost);
  }
  const compiled = await compileModel(graph, o.d, { configName: o.configName, source: `PaddleOCR ${model}` });
  const out = graph.outputs[0];
  const totals = { cycles: 0, runs: 0 };
  const run: Runner = async (x) => {
    const r = await runModel(compiled, new Map([['x', x]]), o.run);
    totals.cycles += r.vtaCycles;
    totals.runs++;
    return r.outputs.get(out)!.data as Float32Array;
  };
  return { run, compiled, report, totals };
}

/** onnxruntime-node fp32 on one thread (the oracle). */
export async function ortRunner(model: OcrModel): Promise<Runner> {
  const session = await ort.InferenceSession.create(readPaddleOcrFile(model), { intraOpNumThreads: 1 });
  const out = session.outputNames[0];
  return async (x) => (await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, x.shape) }))[out].data as Float32Array;
}

/** Largest |a - b| over two equally long outputs. */
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`outputs of ${a.length} and ${b.length} values`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

export interface ClsEval {
  lines: number;
  /** Fraction of lines where the candidate's label equals onnxruntime's. */
  agreement: number;
  /** Fraction of lines the candidate labels right (0 upright, 1 turned). */
  accuracy: number;
  /** The same for onnxruntime. */
  accuracyOracle: number;
  /** Largest |candidate - onnxruntime| over every probability. */
  maxAbsDiff: number;
}

/** Classifier: candidate vs oracle vs the true labels, line by line (`onLine` after each, for progress). */
export async function evalClassifier(lines: readonly TextLine[], candidate: Runner, oracle: Runner, onLine?: () => void): Promise<ClsEval> {
  let agree = 0;
  let right = 0;
  let rightOracle = 0;
  let diff = 0;
  for (const l of lines) {
    const x = clsInput(l.rgba);
    const [got, want] = [await candidate(x), await oracle(x)];
    const a = clsLabel(got).label;
    const b = clsLabel(want).label;
    agree += a === b ? 1 : 0;
    right += a === l.label ? 1 : 0;
    rightOracle += b === l.label ? 1 : 0;
    diff = Math.max(diff, maxAbsDiff(got, want));
    onLine?.();
  }
  const n = lines.length || 1;
  return { lines: lines.length, agreement: agree / n, accuracy: right / n, accuracyOracle: rightOracle / n, maxAbsDiff: diff };
}

export interface RecLine {
  truth: string;
  candidate: string;
  oracle: string;
}

export interface RecEval {
  lines: number;
  /** Lines whose decoded text equals onnxruntime's exactly (spaces included). */
  textsEqual: number;
  /** Character error rate of the candidate's texts against onnxruntime's (spaces included, at the ends too): issue 13's figure. */
  cerVsOracle: number;
  /**
   * The same with both texts trimmed: a space before the first or after the last character is not
   * counted (onnxruntime itself reads one on some lines where the truth has none). A second
   * figure, not the goal's; PaddleOCR's own metric (ppocr RecMetric, ignore_space) drops every space.
   */
  cerVsOracleTrimmed: number;
  /** Character error rate against the true texts (decoded text trimmed: the model may add a space at either end). */
  cerVsTruth: number;
  cerOracleVsTruth: number;
  /** Lines read exactly right (trimmed) by the candidate. */
  exact: number;
  maxAbsDiff: number;
  /** Every line's texts, to show what differs. */
  texts: RecLine[];
}

/** Recognizer: CTC-decoded texts of the candidate vs the oracle vs the true texts. */
export async function evalRecognizer(lines: readonly TextLine[], candidate: Runner, oracle: Runner, dict: readonly string[], recWidth = REC_WIDTH, onLine?: () => void): Promise<RecEval> {
  const texts: RecLine[] = [];
  let diff = 0;
  for (const l of lines) {
    const x = recInput(l.rgba, recWidth);
    const [got, want] = [await candidate(x), await oracle(x)];
    diff = Math.max(diff, maxAbsDiff(got, want));
    const steps = recWidth / REC_STEP;
    texts.push({ truth: l.text, candidate: ctcGreedyDecode(got, got.length / steps, dict).text, oracle: ctcGreedyDecode(want, want.length / steps, dict).text });
    onLine?.();
  }
  return {
    lines: lines.length,
    textsEqual: texts.filter((t) => t.candidate === t.oracle).length,
    cerVsOracle: charErrorRate(texts.map((t) => ({ got: t.candidate, want: t.oracle }))),
    cerVsOracleTrimmed: charErrorRate(texts.map((t) => ({ got: t.candidate.trim(), want: t.oracle.trim() }))),
    cerVsTruth: charErrorRate(texts.map((t) => ({ got: t.candidate.trim(), want: t.truth }))),
    cerOracleVsTruth: charErrorRate(texts.map((t) => ({ got: t.oracle.trim(), want: t.truth }))),
    exact: texts.filter((t) => t.candidate.trim() === t.truth).length,
    maxAbsDiff: diff,
    texts,
  };
}
