/**
 * int8 PaddleOCR (docs/models.md, "Quantization", "PaddleOCR int8"): calibrate the classifier and
 * the recognizer on rendered lines of one seed, quantize them (VTA's per-tensor power-of-two
 * scheme), run the int8 graphs on the wasm host (bit-exact with the reference kernels, so with VTA)
 * and evaluate them against onnxruntime-node fp32 on lines of another seed (scripts/eval-ocr.ts).
 *
 *   tsx scripts/quant-ocr.ts [--texts 100] [--rec 100] [--seed 1] [--calib 32] [--calib-seed 1000]
 *                            [--method max|percentile|mse] [--percentile 99.99] [--bias-correction]
 *                            [--channel-scaling rec] [--rec-calib 16] [--rec-width 320] [--json]
 *                            [--skip-first cls|rec|both] [--skip-last cls|rec|both] [--keep-float NODE,...] [--rec-keep-float NODE,...] [--weights max|mse] [--scales pow2|ratio]
 *                            [--center-shifts]
 *
 * The classifier is calibrated on --calib texts upright + turned (2 × --calib lines), the
 * recognizer on the first --rec-calib of those upright lines; it is evaluated on 2 × --texts lines, the recognizer on --rec.
 * Channel scaling (compiler/quant/equalize.ts) applies to the models --channel-scaling names (default
 * the recognizer: it takes its CER from 22 % to 5 %; it does not help the classifier); bias correction
 * (compiler/quant/bias-correction.ts) runs the int8 graph on the reference kernels, slow for the recognizer.
 * --skip-first / --skip-last keep the first / last conv or dense of the named models in float (TVM's
 * qconfig), --keep-float names nodes of both models to keep in float, --rec-keep-float of the recognizer only. --rec 0 leaves the recognizer out.
 */
import { renderTextLines } from '../compiler/data/text-lines.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import type { Graph } from '../compiler/graph/ir.ts';
import { ocrGraph, ocrModelsOption, type OcrModel, type Runner } from '../compiler/models/ocr-eval.ts';
import { clsInput, recInput, REC_WIDTH } from '../compiler/models/paddleocr.ts';
import { scaleConvChannels, scaleConvInputs } from '../compiler/quant/equalize.ts';
import { correctBiases } from '../compiler/quant/bias-correction.ts';
import { collectHessians } from '../compiler/quant/gptq.ts';
import { CALIBRATION_METHODS, collectStats, type CalibrationMethod } from '../compiler/quant/calibrate.ts';
import { quantizeGraph, SCALE_METHODS, type QuantReport, type ScaleMethod, type WeightMethod } from '../compiler/quant/quantize.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type WasmTargetSpec } from '../compiler/target/target.ts';
import { loadConfig } from '../src/config/load.ts';
import { VtwError } from '../src/errors.ts';
import { CompileError } from '../compiler/errors.ts';
import { progress } from '../src/report/progress.ts';
import { checkOcrEvalOptions, evaluateOcr } from './eval-ocr.ts';

const USAGE = 'usage: quant-ocr [--texts N] [--rec N] [--seed S] [--calib N] [--calib-seed S] [--method max|percentile|mse] [--percentile P] [--bias-correction] [--channel-scaling none|cls|rec|both] [--rec-calib N] [--rec-width W] [--skip-first M] [--skip-last M] [--keep-float NODES] [--rec-keep-float NODES] [--weights max|mse] [--scales pow2|ratio] [--center-shifts] [--gptq none|cls|rec|both] [--input-scaling none|cls|rec|both] [--json]';

interface Options {
  texts: number;
  recLines: number;
  seed: number;
  calib: number;
  calibSeed: number;
  method: CalibrationMethod;
  percentile: number;
  biasCorrection: boolean;
  channelScaling: OcrModel[];
  recCalib: number;
  recWidth: number;
  skipFirst: OcrModel[];
  skipLast: OcrModel[];
  keepFloat: string[];
  /** Recognizer-only keepFloat (the two models' node names overlap). */
  recKeepFloat: string[];
  weights: WeightMethod;
  scales: ScaleMethod;
  centerShifts: boolean;
  /** The models whose weights are GPTQ-rounded (compiler/quant/gptq.ts; Hessians of every calibration line). */
  gptq: OcrModel[];
  /** The models whose conv input channels are rescaled (scaleConvInputs, mode balanced) before channel scaling. */
  inputScaling: OcrModel[];
  json: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { texts: 100, recLines: 100, seed: 7, calib: 32, calibSeed: 1000, method: 'percentile', percentile: 99.99, biasCorrection: false, channelScaling: ['rec'], recCalib: 16, recWidth: REC_WIDTH, skipFirst: [], skipLast: [], keepFloat: [], recKeepFloat: [], weights: 'mse', scales: 'pow2', centerShifts: false, gptq: [], inputScaling: [], json: false };
  const numeric: Record<string, 'texts' | 'recLines' | 'seed' | 'calib' | 'recCalib' | 'calibSeed' | 'percentile' | 'recWidth'> = {
    '--texts': 'texts', '--rec': 'recLines', '--seed': 'seed', '--calib': 'calib', '--rec-calib': 'recCalib', '--calib-seed': 'calibSeed', '--percentile': 'percentile', '--rec-width': 'recWidth',
  };
  const models = (flag: string, v = '') => {
    const m = ocrModelsOption(v);
    if (!m) throw new VtwError(`${flag} must be none, cls, rec or both, got '${v}'; ${USAGE}`);
    return m;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') o.json = true;
    else if (a === '--bias-correction') o.biasCorrection = true;
    else if (a === '--center-shifts') o.centerShifts = true;
    else if (a === '--channel-scaling') o.channelScaling = models(a, args[++i]);
    else if (a === '--skip-first') o.skipFirst = models(a, args[++i]);
    else if (a === '--gptq') o.gptq = models(a, args[++i]);
    else if (a === '--input-scaling') o.inputScaling = models(a, args[++i]);
    else if (a === '--skip-last') o.skipLast = models(a, args[++i]);
    else if (a === '--keep-float') o.keepFloat = (args[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--rec-keep-float') o.recKeepFloat = (args[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--weights') {
      const w = args[++i];
      if (w !== 'max' && w !== 'mse') throw new VtwError(`--weights must be max or mse, got '${w ?? ''}'; ${USAGE}`);
      o.weights = w;
    }
    else if (a === '--scales') {
      const v = args[++i] as ScaleMethod;
      if (!SCALE_METHODS.includes(v)) throw new VtwError(`--scales must be one of ${SCALE_METHODS.join(', ')}, got '${v ?? ''}'; ${USAGE}`);
      o.scales = v;
    }
    else if (a === '--method') {
      const m = args[++i] as CalibrationMethod;
      if (!CALIBRATION_METHODS.includes(m)) throw new VtwError(`--method must be one of ${CALIBRATION_METHODS.join(', ')}, got '${m ?? ''}'; ${USAGE}`);
      o.method = m;
    } else {
      const key = numeric[a];
      if (!key) throw new VtwError(`unknown option '${a}'; ${USAGE}`);
      const v = Number(args[++i]);
      if (!Number.isFinite(v) || v < 0 || (key !== 'percentile' && !Number.isInteger(v))) throw new VtwError(`${a} needs a number >= 0${key === 'percentile' ? '' : ' (whole)'}, got '${args[i] ?? ''}'; ${USAGE}`);
      o[key] = v;
    }
  }
  if (o.recCalib > o.calib) throw new VtwError(`--rec-calib ${o.recCalib} is more than --calib ${o.calib}: the recognizer calibrates on the classifier's upright lines`);
  if (o.calib < 1 || o.recCalib < 1) throw new VtwError(`--calib ${o.calib}: empty calibration set; give at least 1 text`);
  checkOcrEvalOptions(o);
  return o;
}

/** Calibrate, quantize (and optionally bias-correct) one model; its int8 graph as a Runner on the wasm host. */
async function int8Runner(model: OcrModel, samples: ReturnType<typeof clsInput>[], o: Options, log: (s: string) => void): Promise<{ run: Runner; report: QuantReport; seconds: number }> {
  const t0 = performance.now();
  const d = loadConfig('default');
  const wasm = () => compiledHost(parseTarget('wasm', d) as WasmTargetSpec, d);
  const g: Graph = ocrGraph(model, o.recWidth);
  const fpHost = wasm();
  if (o.inputScaling.includes(model)) {
    await fpHost.prepare!(g);
    const c = scaleConvInputs(g, samples, fpHost, { mode: 'balanced' });
    log(`${model}: input scaling rescaled ${c.channels} channels of ${c.convs} convs`);
  }
  if (o.channelScaling.includes(model)) {
    await fpHost.prepare!(g);
    const c = scaleConvChannels(g, samples, fpHost);
    log(`${model}: channel scaling rescaled ${c.channels} channels of ${c.convs} convs`);
  }
  const bar = o.json ? { tick() {}, stop() {} } : progress(samples.length, `calibrating ${model}`);
  const stats = await collectStats(g, samples, fpHost, { onProgress: () => bar.tick(), keep: 0 });
  bar.stop();
  const hessians = o.gptq.includes(model) ? collectHessians(g, samples, fpHost, g.nodes.map((n) => n.name)) : undefined;
  const { graph: q, report } = quantizeGraph(g, stats, {
    ...(hessians && { hessians }),
    method: o.method, percentile: o.percentile, reportSamples: 0, weights: o.weights, scales: o.scales, centerShifts: o.centerShifts, keepFloat: model === 'rec' ? [...o.keepFloat, ...o.recKeepFloat] : o.keepFloat,
    skipFirst: o.skipFirst.includes(model), skipLast: o.skipLast.includes(model),
  });
  if (o.biasCorrection) {
    // the quantized graph node by node on the wasm host's observable form (bit for bit the reference kernels)
    const qHost = wasm().observable!()!;
    await qHost.prepare!(q);
    const c = correctBiases(g, q, samples, fpHost, qHost);
    log(`${model}: bias correction changed ${c.channels} channels in ${c.layers} layers`);
  }
  const host = wasm();
  await host.prepare!(q);
  const out = q.outputs[0];
  const run: Runner = async (x) => runGraph(q, new Map([['x', x]]), host).outputs.get(out)!.data as Float32Array;
  return { run, report, seconds: +((performance.now() - t0) / 1000).toFixed(2) };
}

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string) => (o.json ? undefined : console.error(s));
  const upright = renderTextLines(o.calib, { seed: o.calibSeed });
  const clsCal = [...upright, ...renderTextLines(o.calib, { seed: o.calibSeed, rotate180: true })].map((l) => clsInput(l.rgba));
  const cls = await int8Runner('cls', clsCal, o, log);
  const rec = o.recLines > 0 ? await int8Runner('rec', upright.slice(0, o.recCalib).map((l) => recInput(l.rgba, o.recWidth)), o, log) : undefined;
  const noRec: Runner = async () => {
    throw new VtwError('internal: the recognizer was not built (--rec 0)');
  };
  const r = await evaluateOcr({ name: 'int8 (wasm host, bit-exact with VTA)', cls: cls.run, rec: rec?.run ?? noRec }, { texts: o.texts, recLines: o.recLines, seed: o.seed, recWidth: o.recWidth, progress: !o.json });
  const settings = {
    method: o.method, ...(o.method === 'percentile' ? { percentile: o.percentile } : {}), calib: o.calib, recCalib: o.recCalib, calibSeed: o.calibSeed,
    biasCorrection: o.biasCorrection, channelScaling: o.channelScaling, weights: o.weights, scales: o.scales, centerShifts: o.centerShifts, gptq: o.gptq, inputScaling: o.inputScaling, skipFirst: o.skipFirst, skipLast: o.skipLast, keepFloat: o.keepFloat, recKeepFloat: o.recKeepFloat,
  };
  const floatLayers = { cls: cls.report.float.length, rec: rec?.report.float.length ?? 0 };
  if (o.json) {
    console.log(JSON.stringify({ ...r, settings, floatLayers, quantizeSeconds: { cls: cls.seconds, rec: rec?.seconds } }, null, 2));
    return;
  }
  console.log(`PaddleOCR int8 (${JSON.stringify(settings)}) on rendered lines (seed ${r.seed}) vs onnxruntime-node fp32`);
  console.log(`classifier, ${r.cls.lines} lines: top-1 agreement ${pct(r.cls.agreement)}, accuracy ${pct(r.cls.accuracy)} (onnxruntime ${pct(r.cls.accuracyOracle)}), max |Δp| ${r.cls.maxAbsDiff.toExponential(2)}; quantized in ${cls.seconds} s (${floatLayers.cls} conv/dense left float), evaluated in ${r.cls.seconds} s`);
  if (!rec) return;
  console.log(`recognizer, ${r.rec.lines} lines at width ${r.rec.recWidth}: CER vs onnxruntime ${pct(r.rec.cerVsOracle)} (${pct(r.rec.cerVsOracleTrimmed)} without spaces at the ends), texts equal ${r.rec.textsEqual}/${r.rec.lines}, CER vs truth ${pct(r.rec.cerVsTruth)} (onnxruntime ${pct(r.rec.cerOracleVsTruth)}); quantized in ${rec.seconds} s (${floatLayers.rec} conv/dense left float), evaluated in ${r.rec.seconds} s`);
  for (const t of r.rec.differing.filter((t) => t.candidate !== t.oracle)) console.log(`  int8 ${JSON.stringify(t.candidate)}  onnxruntime ${JSON.stringify(t.oracle)}`);
}

try {
  await main();
} catch (e) {
  if (!(e instanceof VtwError) && !(e instanceof CompileError)) throw e;
  console.error(`quant-ocr: error: ${e.message}`);
  process.exitCode = 1;
}
