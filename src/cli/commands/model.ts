/**
 * `vtw model`: whole networks (issue 13). `inspect` imports an ONNX model, binds its inputs, runs
 * the graph passes and reports operators, value shapes, MACs per node and what would offload to VTA
 * on a configuration; `compile` quantizes it (calibration) and compiles the part VTA runs into a
 * `.vtwm` artifact; `run` runs an artifact on one input file (VTA on a simulator, the rest on a
 * host target); `eval` measures fp32 and int8-on-VTA accuracy on a dataset against onnxruntime
 * (docs/models.md).
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Derived } from '../../config/index.ts';
import { loadConfig } from '../../config/load.ts';
import { VtwError } from '../../errors.ts';
import { progress, type Progress } from '../../report/progress.ts';
import { table } from '../../report/table.ts';
import { loadDataset, type LabelledImages } from '../../../compiler/data/idx.ts';
import { loadInputFile, readImage } from '../../../compiler/data/image.ts';
import { isOcrTask, OCR_TASKS, ocrTaskInput, ocrTaskOutput, type OcrTask } from '../../../compiler/models/paddleocr.ts';
import type { HostTarget } from '../../../compiler/graph/executor.ts';
import { loadModelFile } from '../../../compiler/graph/load.ts';
import { staticShape } from '../../../compiler/graph/ir.ts';
import { analyzeGraph } from '../../../compiler/graph/offload.ts';
import { PASS_NAMES, parseInputShape } from '../../../compiler/graph/passes.ts';
import type { Tensor } from '../../../compiler/graph/tensor.ts';
import { TS_HOST } from '../../../compiler/host/ts.ts';
import { loadArtifact, saveArtifact } from '../../../compiler/model/artifact.ts';
import { compileModel, type CompiledModel } from '../../../compiler/model/compile.ts';
import { argmax, evaluateOnVta } from '../../../compiler/model/evaluate.ts';
import { loadBound, quantizeModel } from '../../../compiler/model/pipeline.ts';
import { runModel, type VtaEngineName } from '../../../compiler/model/run.ts';
import { CALIBRATION_METHODS, type CalibrationMethod } from '../../../compiler/quant/calibrate.ts';
import { SCALE_METHODS, type ScaleMethod } from '../../../compiler/quant/quantize.ts';
import { batchFor, evaluateImages } from '../../../compiler/quant/evaluate.ts';
import { compiledHost } from '../../../compiler/target/graph-host.ts';
import { gpuDevice, gpuHost } from '../../../compiler/gpu/graph-host.ts';
import { parseTarget } from '../../../compiler/target/target.ts';
import { readLogWarning } from '../../../compiler/tune/log.ts';
import { registerModelTune } from './model-tune.ts';
import { configOption, configSpecOption, jsonOption, outOption, parseInteger, parsePositive } from '../options.ts';

/** `--input NAME=DIMS`, repeatable: the shapes of a model's inputs (binds dynamic dimensions). */
export function inputShapeOption(): Option {
  return new Option('--input <name=dims>', 'shape of an input, e.g. x=1x3x48x192 (repeat for several inputs); binds dynamic dimensions')
    .argParser((text: string, prev: Map<string, number[]> | undefined) => {
      const m = new Map(prev ?? []);
      const [name, dims] = parseInputShape(text);
      m.set(name, dims);
      return m;
    });
}

/** `--print-graph PASS`: the graph after a pass, on stderr. */
export function printGraphOption(): Option {
  return new Option('--print-graph <pass>', `print the graph after a pass on stderr: ${PASS_NAMES.join(', ')}`);
}

interface InspectOptions {
  input?: Map<string, number[]>;
  config: Derived;
  printGraph?: string;
  json?: boolean;
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

/** `Conv+relu`, `Add+clip[0,6]`: an operator with its fused activation. */
function opLabel(op: string, clip: number[] | undefined): string {
  if (!clip) return op;
  return clip[0] === 0 && clip[1] === Infinity ? `${op}+relu` : `${op}+clip[${clip.join(',')}]`;
}

function inspect(file: string, opts: InspectOptions): void {
  const g = loadModelFile(file, { inputShapes: opts.input, printAfter: opts.printGraph });
  const d = opts.config;
  const r = analyzeGraph(g, d);
  const io = (names: string[]) => names.map((n) => ({ name: n, dtype: g.values.get(n)!.dtype, shape: staticShape(g.values.get(n)!) }));
  if (opts.json) {
    console.log(JSON.stringify({
      model: file,
      graph: g.name,
      opset: g.opset,
      config: d.variant,
      inputs: io(g.inputs),
      outputs: io(g.outputs),
      ops: r.ops,
      nodes: r.nodes.map((n) => ({
        name: n.name, op: n.op, clip: n.clip?.map((v) => (Number.isFinite(v) ? v : null)) ?? null, inputs: n.inputs, outputs: n.outputs, macs: n.macs,
        target: n.offload.as ? 'vta' : 'host', vta_op: n.offload.as, host_reason: n.offload.reason,
      })),
      macs: r.macs,
      offloaded_macs: r.offloadedMacs,
      offloaded_macs_fraction: +r.offloadedFraction.toFixed(6),
      vta_regions: r.regions,
      layout_transforms: { to_vta: r.layoutTransforms.toVta, to_host: r.layoutTransforms.toHost },
    }, null, 2));
    return;
  }
  const line = (xs: ReturnType<typeof io>) => xs.map((x) => `${x.name} ${x.dtype}${fmtShape(x.shape ?? [])}`).join(', ');
  console.log(`${file}: graph ${JSON.stringify(g.name)}, opset ${g.opset}, ${g.nodes.length} nodes after the passes`);
  console.log(`inputs:  ${line(io(g.inputs))}`);
  console.log(`outputs: ${line(io(g.outputs))}`);
  console.log(`ops:     ${Object.entries(r.ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, c]) => `${op} ${c}`).join(', ')}`);
  console.log('');
  console.log(table(
    ['node', 'op', 'output', 'MACs', `on ${d.variant}`],
    r.nodes.map((n) => [
      n.name, opLabel(n.op, n.clip), n.outputs.map((o) => `${o.dtype}${fmtShape(o.shape)}`).join(' '), n.macs,
      n.offload.as ? `vta ${n.offload.as}` : n.offload.reason ? `host (${n.offload.reason})` : 'host',
    ]),
  ));
  console.log('');
  const pct = (100 * r.offloadedFraction).toFixed(1);
  console.log(`MACs: ${r.macs.toLocaleString('en-US')} in total, ${r.offloadedMacs.toLocaleString('en-US')} (${pct} %) would run on VTA (${d.variant})`);
  console.log(`VTA regions: ${r.regions.length}; layout transforms at their boundaries: ${r.layoutTransforms.toVta.length} into VTA's layout, ${r.layoutTransforms.toHost.length} back`);
}

// ---- compile, run, eval: the quantized model on VTA ----

const VTA_ENGINES: readonly VtaEngineName[] = ['ts', 'verilator'];
const HOSTS = ['ts', 'cpu', 'wasm', 'opencl', 'cuda'] as const;

function engineChoice(): Option {
  return new Option('-e, --engine <engine>', 'the VTA engine: ts (the cycle-accurate TypeScript simulator) or verilator (the generated RTL)').choices(VTA_ENGINES).default('ts');
}

function hostChoice(): Option {
  return new Option('--host <target>', 'host target of the nodes VTA does not run: ts (plain TypeScript kernels), cpu (C through the system compiler), wasm, opencl (the first OpenCL device) or cuda (nvcc, sm_80; runs where a CUDA driver and GPU are)').choices(HOSTS).default('ts');
}

/** The host target by name; cpu / wasm / opencl / cuda compile the host part's quantized operators for `d`'s data widths. */
function hostTarget(name: (typeof HOSTS)[number], d: Derived): HostTarget {
  if (name === 'ts') return TS_HOST;
  const t = parseTarget(name, d);
  if (t.kind === 'opencl' || t.kind === 'cuda') return gpuHost(t, d);
  if (t.kind !== 'cpu' && t.kind !== 'wasm') throw new VtwError(`internal: host ${name} parsed as ${t.kind}`);
  return compiledHost(t, d);
}

const PREPROCESS = ['plain', ...OCR_TASKS] as const;
export type Preprocess = (typeof PREPROCESS)[number];

/** How an image becomes the model input: a plain resize (value/255*scale), or a model's own preprocessing. */
export function preprocessOption(what: string): Option {
  return new Option('--preprocess <how>', `${what}: plain (resize, value/255*scale) or PaddleOCR's line preprocessing (aspect kept, BGR, normalized, padded; run also decodes the output: orientation or text)`).choices(PREPROCESS).default('plain');
}

/** Calibration options shared by compile, tune and eval. */
export function calibrationOptions(c: Command, required: boolean): Command {
  const calib = new Option('--calib <spec>', 'calibration samples: a folder of .npy / PNG / JPEG files, a .npy batch, an IDX image file, or mnist-train[:N] / mnist-test[:N]');
  return c
    .addOption(required ? calib.makeOptionMandatory() : calib.default('mnist-train:1000'))
    .addOption(new Option('--method <method>', 'calibration range per tensor: max |x|, a percentile of |x|, or the clip point of least squared int8 error (mse)').choices(CALIBRATION_METHODS).default('max'))
    .option('--skip-first', 'keep the first conv/dense layer in float (on the host)')
    .option('--skip-last', 'keep the last conv/dense layer in float (on the host)')
    .addOption(new Option('--scales <kind>', 'pow2: every scale a power of two (VTA\'s scheme); ratio: any scales whose ratio at each requantization is a power of two (still one shift on VTA; finer activations)').choices(SCALE_METHODS).default('pow2'))
    .option('--center-shifts', 'each bias makes up for the floor of VTA\'s shift (half an output step), so the int8 layers lose their mean error; nothing on VTA changes')
    .option('--calib-pixel-scale <s>', 'calibration images (PNG/JPEG) become value/255*s, as run --pixel-scale feeds them', parsePositive('calib-pixel-scale'), 1);
}

const stderrLine = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

/** A progress bar that starts at the first report, when the total is known. */
function lateBar(title: string): { onProgress: (done: number, total: number) => void; stop: () => void } {
  let bar: Progress | undefined;
  return {
    onProgress: (done, total) => (bar ??= progress(total, title)).update?.(done),
    stop: () => bar?.stop(),
  };
}

export interface CalibOptions {
  calib: string;
  calibPixelScale: number;
  method: CalibrationMethod;
  skipFirst?: boolean;
  skipLast?: boolean;
  scales: ScaleMethod;
  centerShifts?: boolean;
}

export interface QuantizeCliOptions extends CalibOptions {
  preprocess: Preprocess;
  input?: Map<string, number[]>;
}

interface CompileCliOptions extends QuantizeCliOptions {
  config: string;
  out: string;
  tuned?: string;
  json?: boolean;
}

/** Quantize a model file as the command line says (calibration with a progress bar). */
export async function quantizeCli(file: string, opts: QuantizeCliOptions): ReturnType<typeof quantizeModel> {
  const bar = lateBar(`calibrating on ${opts.calib}`);
  const q = await quantizeModel(file, {
    inputShapes: opts.input, calib: opts.calib, pixelScale: opts.calibPixelScale, method: opts.method, skipFirst: opts.skipFirst, skipLast: opts.skipLast, scales: opts.scales, centerShifts: opts.centerShifts, onCalibration: bar.onProgress,
    imageSample: isOcrTask(opts.preprocess) ? async (path, shape) => ocrTaskInput(opts.preprocess as OcrTask, readImage(path), shape).data as Float32Array : undefined,
  });
  bar.stop();
  return q;
}

async function compile(file: string, opts: CompileCliOptions): Promise<void> {
  const d = loadConfig(opts.config);
  const t0 = performance.now();
  const tuned = opts.tuned ? readLogWarning(opts.tuned) : undefined;
  const { quantized, report } = await quantizeCli(file, opts);
  const m = await compileModel(quantized, d, { configName: opts.config, source: file, tuned });
  saveArtifact(opts.out, m);
  const seconds = (performance.now() - t0) / 1000;
  const onVta = m.partition.nodes.filter((n) => n.where === 'vta').map((n) => n.name);
  if (opts.json) {
    console.log(JSON.stringify({
      model: file, out: opts.out, config: opts.config, variant: d.variant, calib: opts.calib, method: opts.method,
      vta_nodes: onVta, host_nodes: m.partition.nodes.filter((n) => n.where === 'host').map((n) => n.name),
      macs: m.partition.macs, offloaded_macs_fraction: +m.partition.offloadedMacsFraction.toFixed(6),
      float_layers: report.float, ...(m.tuned ? { tuned_nodes: m.tuned } : {}), seconds: +seconds.toFixed(3),
    }, null, 2));
    return;
  }
  console.log(`${file}: quantized (${opts.method} over ${opts.calib}) and compiled for ${opts.config} (${d.variant}) in ${seconds.toFixed(1)} s`);
  console.log(`on VTA: ${onVta.length} of ${m.partition.nodes.length} nodes (${onVta.join(', ') || 'none'}), ${(100 * m.partition.offloadedMacsFraction).toFixed(1)} % of ${m.partition.macs.toLocaleString('en-US')} MACs`);
  for (const f of report.float) console.log(`kept in float: ${f.node} (${f.op}): ${f.reason}`);
  if (m.tuned) console.log(`tuned: ${m.tuned.length} of ${onVta.length} VTA nodes compiled with knobs from ${opts.tuned}${m.tuned.length < onVta.length ? ` (tune the others with vtw model tune ${file} --log ${opts.tuned} ...)` : ''}`);
  console.log(`wrote ${opts.out}`);
}

interface RunCliOptions {
  input: string;
  preprocess: Preprocess;
  engine: VtaEngineName;
  host: (typeof HOSTS)[number];
  top: number;
  pixelScale: number;
  config?: string;
  json?: boolean;
}

/** An output as top-k (a [1, N] output) or a summary (any other). */
function describeOutput(name: string, t: Tensor, k: number) {
  if (t.shape.length === 2 && t.shape[0] === 1) {
    const order = Array.from(t.data, (v, i) => ({ class: i, value: Number(v) })).sort((a, b) => b.value - a.value || a.class - b.class);
    return { name, shape: t.shape, top: order.slice(0, k) };
  }
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of t.data) {
    const x = Number(v);
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  return { name, shape: t.shape, dtype: t.dtype, summary: { min, max, mean: t.data.length ? sum / t.data.length : 0, elements: t.data.length } };
}

async function run(file: string, opts: RunCliOptions): Promise<void> {
  const want = opts.config ? loadConfig(opts.config) : undefined;
  const m: CompiledModel = loadArtifact(file, { config: want, configName: opts.config });
  if (m.graph.inputs.length !== 1) throw new VtwError(`${file}: vtw model run feeds one input; this model has ${m.graph.inputs.length}`);
  const name = m.graph.inputs[0];
  const v = m.graph.values.get(name)!;
  const task = isOcrTask(opts.preprocess) ? opts.preprocess : undefined;
  const x = task ? ocrTaskInput(task, readImage(opts.input), staticShape(v)!) : await loadInputFile(opts.input, { shape: staticShape(v)!, dtype: v.dtype!, scale: opts.pixelScale });
  const host = hostTarget(opts.host, m.config);
  const r = await runModel(m, new Map([[name, x]]), { engine: opts.engine, host, onProgress: stderrLine });
  const device = gpuDevice(host);
  const outputs = m.graph.outputs.map((o) => describeOutput(o, r.outputs.get(o)!, opts.top));
  const read = task && ocrTaskOutput(task, r.outputs.get(m.graph.outputs[0])!);
  if (opts.json) {
    console.log(JSON.stringify({
      model: file, input: opts.input, config: m.configName, variant: m.config.variant, engine: opts.engine, host: opts.host, ...(device && { host_device: device }),
      outputs, ...(read?.text !== undefined && { text: read.text }), ...(read?.label !== undefined && { label: read.label }), ...(read && { score: +read.score.toFixed(6) }),
      vta_cycles: r.vtaCycles, host_ms: +r.hostMs.toFixed(3), offloaded_macs_fraction: +r.offloadedMacsFraction.toFixed(6),
      nodes: r.nodes.map((n) => ({ name: n.name, op: n.op, where: n.where, vta_cycles: n.vtaCycles ?? null, host_ms: +n.hostMs.toFixed(3), dram_bytes: n.dramBytes ?? null })),
    }, null, 2));
    return;
  }
  console.log(`${file} on ${m.configName} (${m.config.variant}), VTA engine ${opts.engine}, host ${opts.host}${device ? ` (${device})` : ''}; input ${opts.input}`);
  if (read?.text !== undefined) console.log(`text: ${JSON.stringify(read.text)} (score ${read.score.toFixed(3)})`);
  if (read?.label !== undefined) console.log(`orientation: ${read.label} (score ${read.score.toFixed(3)})`);
  for (const o of outputs) {
    if ('top' in o && o.top) console.log(`${o.name}: top-${o.top.length} ${o.top.map((t) => `${t.class} (${+t.value.toFixed(4)})`).join(', ')}`);
    else if ('summary' in o && o.summary) console.log(`${o.name}: ${o.dtype}[${o.shape.join(',')}] min ${o.summary.min} max ${o.summary.max} mean ${+o.summary.mean.toFixed(6)}`);
  }
  console.log('');
  console.log(table(['node', 'op', 'on', 'VTA cycles', 'host ms', 'DRAM bytes'], r.nodes.map((n) => [n.name, n.op, n.where, n.vtaCycles ?? '-', n.hostMs.toFixed(3), n.dramBytes ?? '-'])));
  console.log('');
  console.log(`VTA cycles ${r.vtaCycles}, host ${r.hostMs.toFixed(3)} ms, ${(100 * r.offloadedMacsFraction).toFixed(1)} % of MACs on VTA`);
}

interface EvalCliOptions extends CalibOptions {
  config: string;
  dataset: string;
  engine: VtaEngineName;
  host: (typeof HOSTS)[number];
  json?: boolean;
}

/** onnxruntime's top-1 per image (the fp32 oracle), batch by batch. */
async function onnxruntimeTop1(file: string, set: LabelledImages, batch: number): Promise<Uint8Array> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(readFileSync(file));
  const per = set.rows * set.cols;
  const top = new Uint8Array(set.count);
  for (let b = 0; b < set.count; b += batch) {
    const x = Float32Array.from(set.pixels.subarray(b * per, (b + batch) * per));
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [batch, 1, set.rows, set.cols]) });
    const y = out[session.outputNames[0]];
    const classes = y.dims[1];
    for (let i = 0; i < batch; i++) top[b + i] = argmax(y.data as Float32Array, i * classes, classes);
  }
  return top;
}

async function evaluate(file: string, opts: EvalCliOptions): Promise<void> {
  const t0 = performance.now();
  const d = loadConfig(opts.config);
  const set = loadDataset(opts.dataset);
  const batch = batchFor(set.count);
  const bar = (title: string) => progress(set.count, title);
  let b = bar(`fp32 on ${opts.dataset}`);
  const fp32 = evaluateImages(loadBound(file, new Map(), batch), set, TS_HOST, (done) => b.update?.(done));
  b.stop();
  const cal = lateBar(`calibrating on ${opts.calib}`);
  const { quantized } = await quantizeModel(file, {
    batch, calib: opts.calib, pixelScale: opts.calibPixelScale, method: opts.method, skipFirst: opts.skipFirst, skipLast: opts.skipLast, scales: opts.scales, centerShifts: opts.centerShifts, onCalibration: cal.onProgress,
  });
  cal.stop();
  const m = await compileModel(quantized, d, { configName: opts.config, source: file });
  b = bar(`int8 on VTA (${opts.config}, ${opts.engine})`);
  const tv = performance.now();
  const cpu0 = process.cpuUsage();
  const int8 = await evaluateOnVta(m, set, { engine: opts.engine, host: hostTarget(opts.host, d), onProgress: stderrLine }, (done) => b.update?.(done));
  const vtaSeconds = (performance.now() - tv) / 1000;
  // CPU time as well as wall time: on a shared machine the wall time depends on the other load
  const cpu = process.cpuUsage(cpu0);
  const vtaCpuSeconds = (cpu.user + cpu.system) / 1e6;
  b.stop();
  const ortTop = await onnxruntimeTop1(file, set, batch);
  let agree = 0;
  for (let i = 0; i < set.count; i++) if (ortTop[i] === int8.predictions[i]) agree++;
  const j = {
    model: file,
    images: set.count,
    accuracy_fp32: +fp32.accuracy.toFixed(6),
    accuracy_int8: +int8.accuracy.toFixed(6),
    agreement_onnxruntime: +(agree / set.count).toFixed(6),
    config: opts.config,
    variant: d.variant,
    engine: opts.engine,
    host: opts.host,
    batch,
    calib: opts.calib,
    method: opts.method,
    offloaded_macs_fraction: +m.partition.offloadedMacsFraction.toFixed(6),
    vta_cycles_per_image: Math.round(int8.vtaCycles / set.count),
    int8_seconds: +vtaSeconds.toFixed(3),
    int8_cpu_seconds: +vtaCpuSeconds.toFixed(3),
    images_per_second: +(set.count / vtaSeconds).toFixed(1),
    seconds: +((performance.now() - t0) / 1000).toFixed(3),
  };
  if (opts.json) {
    console.log(JSON.stringify(j, null, 2));
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  console.log(`${file} on ${opts.dataset} (${set.count} images), ${opts.config} (${d.variant}), VTA engine ${opts.engine}, host ${opts.host}`);
  console.log(table(['fp32', 'int8 on VTA', 'int8 top-1 = onnxruntime', 'MACs on VTA'], [[pct(j.accuracy_fp32), pct(j.accuracy_int8), pct(j.agreement_onnxruntime), pct(j.offloaded_macs_fraction)]]));
  console.log(`int8: ${j.vta_cycles_per_image} VTA cycles per image (batches of ${batch}), ${j.images_per_second} images/s (${j.int8_seconds} s, ${j.int8_cpu_seconds} s of CPU); ${j.seconds} s in all`);
}

export function registerModel(program: Command): void {
  const model = program.command('model').description('whole networks: import ONNX models, inspect, compile for VTA, run and evaluate them (docs/models.md)');
  model
    .command('inspect')
    .description('import an ONNX model and report its operators, shapes, MACs per node and what would offload to VTA on a configuration')
    .argument('<model>', 'ONNX file (.onnx)')
    .addOption(inputShapeOption())
    .addOption(configOption({ description: 'VTA configuration the offload report is for (preset name, JSON file or inline JSON)' }))
    .addOption(printGraphOption())
    .addOption(jsonOption('print JSON: inputs, outputs, ops, nodes (shapes, macs, target), macs, offloaded_macs, offloaded_macs_fraction, vta_regions, layout_transforms'))
    .action((file: string, opts: InspectOptions) => inspect(file, opts));
  calibrationOptions(
    model
      .command('compile')
      .description('quantize an ONNX model to int8 (calibration) and compile what VTA runs on a configuration into one .vtwm artifact')
      .argument('<model>', 'ONNX file (.onnx)')
      .addOption(configSpecOption('VTA configuration (preset name, JSON file or inline JSON)'))
      .addOption(outOption('file', 'the artifact to write (.vtwm)', { required: true }))
      .addOption(inputShapeOption())
      .addOption(preprocessOption('calibration images')),
    true,
  )
    .option('--tuned <log>', 'compile each VTA node whose operator, shape and parameters a tuning log holds (vtw tune / vtw model tune --log) with its best knobs')
    .addOption(jsonOption('print JSON: vta_nodes, host_nodes, macs, offloaded_macs_fraction, float_layers, tuned_nodes (--tuned), seconds'))
    .action((file: string, opts: CompileCliOptions) => compile(file, opts));
  registerModelTune(model);
  model
    .command('run')
    .description('run a compiled model (.vtwm) on one input: VTA nodes on a simulator, the rest on a host target; top-k or a tensor summary')
    .argument('<artifact>', 'compiled model (.vtwm, from vtw model compile)')
    .requiredOption('--input <file>', 'input: PNG / JPEG (grayscale or RGB, resized to the model input) or .npy (the input shape exactly)')
    .addOption(engineChoice())
    .addOption(hostChoice())
    .option('--top <k>', 'classes to print for a [1,N] output', parseInteger('top', 1), 5)
    .option('--pixel-scale <s>', 'image pixels become value/255*s (LeNet-5 takes 0..255: 255)', parsePositive('pixel-scale'), 1)
    .addOption(preprocessOption('the input image'))
    .option('-c, --config <config>', 'refuse the artifact unless it was compiled for this configuration')
    .addOption(jsonOption('print JSON: outputs (top-k or summary), text / label and score (--preprocess paddleocr-*), vta_cycles, host_ms, offloaded_macs_fraction, nodes'))
    .action((file: string, opts: RunCliOptions) => run(file, opts));
  calibrationOptions(
    model
      .command('eval')
      .description('accuracy of a classifier on a dataset: fp32 (host), int8 with VTA running what it can, and top-1 agreement with onnxruntime fp32')
      .argument('<model>', 'ONNX file (.onnx) taking [N,1,28,28] float32 pixels 0..255')
      .addOption(configSpecOption('VTA configuration (preset name, JSON file or inline JSON)'))
      .requiredOption('--dataset <name>', 'mnist-test[:N] or mnist-train[:N] (the first N images)')
      .addOption(engineChoice())
      .addOption(hostChoice()),
    false,
  )
    .addOption(jsonOption('print JSON: images, accuracy_fp32, accuracy_int8, agreement_onnxruntime, config, engine, seconds, vta_cycles_per_image, images_per_second'))
    .action((file: string, opts: EvalCliOptions) => evaluate(file, opts));
}
