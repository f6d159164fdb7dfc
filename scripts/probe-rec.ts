/**
 * Quantization probes of the PaddleOCR recognizer (docs/models.md, "PaddleOCR int8"): calibrate
 * once (channel scaling + statistics on the wasm host), then quantize with each setting given and
 * measure CER vs onnxruntime fp32 on the wasm host (bit-exact with VTA) over lines of another seed.
 * One process, so the calibration (minutes) is paid once for every setting.
 *
 *   tsx scripts/probe-rec.ts [--calib 48] [--calib-seed 1001] [--lines 30] [--seed 2[,S...]] [--report]
 *                            [--no-channel-scaling] [--input-scaling inputs|balanced [--max-in-shift 8]] [--vta] [--dump F] SETTING...
 *
 * A SETTING is comma-separated: pow2 | ratio, p=99.9 (percentile), max | mse (method),
 * wmax (weights max), center (centerShifts), skipFirst, skipLast, keep=NODE+NODE (float nodes),
 * bc=N (sequential bias correction, correctBiases, on the first N calibration lines), gptq=N (GPTQ weight
 * rounding, compiler/quant/gptq.ts, with Hessians of the first N calibration lines; damp=D its dampening, noact its stored column order),
 * sgptq=N (sequential GPTQ, gptqSequential: each conv's Hessian from the int8 graph's inputs, N lines). Example: `ratio,skipLast`.
 * --dump F writes each setting's texts to F.K.json (K: the setting's index).
 * --vta runs the int8 graph on VTA default (TS simulator; the float rest on the TS host) instead of the wasm host.
 * --report prints the per-layer fp32-vs-int8 report (cosine) of the first setting on 1 calibration line.
 */
import { renderTextLines, textLinesMissing } from '../compiler/data/text-lines.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { ocrGraph, ortRunner } from '../compiler/models/ocr-eval.ts';
import { charErrorRate, ctcGreedyDecode, loadRecDict, paddleOcrMissing, recInput, REC_STEP, REC_WIDTH } from '../compiler/models/paddleocr.ts';
import { INPUT_SCALING_MODES, scaleConvChannels, scaleConvInputs, type InputScalingMode } from '../compiler/quant/equalize.ts';
import { collectStats, type CalibrationStats } from '../compiler/quant/calibrate.ts';
import type { Graph } from '../compiler/graph/ir.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { compileModel } from '../compiler/model/compile.ts';
import { runModel } from '../compiler/model/run.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { correctBiases } from '../compiler/quant/bias-correction.ts';
import { collectHessians, gptqSequential, type LayerHessian } from '../compiler/quant/gptq.ts';
import { formatReport, quantizeGraph, type QuantizeOptions } from '../compiler/quant/quantize.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type WasmTargetSpec } from '../compiler/target/target.ts';
import { loadConfig } from '../src/config/load.ts';
import { VtwError } from '../src/errors.ts';

type Setting = QuantizeOptions & { biasLines?: number; gptqLines?: number; seqGptqLines?: number };

function parseSetting(s: string): Setting {
  const o: Setting = { method: 'percentile', percentile: 99.99, weights: 'mse', scales: 'pow2', reportSamples: 0 };
  const keep: string[] = [];
  for (const part of s.split(',')) {
    if (part === 'pow2' || part === 'ratio') o.scales = part;
    else if (part === 'max' || part === 'mse') o.method = part;
    else if (part === 'wmax') o.weights = 'max';
    else if (part === 'skipFirst') o.skipFirst = true;
    else if (part === 'skipLast') o.skipLast = true;
    else if (part === 'center') o.centerShifts = true;
    else if (part.startsWith('p=')) o.percentile = Number(part.slice(2));
    else if (part.startsWith('keep=')) keep.push(...part.slice(5).split('+'));
    else if (part.startsWith('bc=')) o.biasLines = Number(part.slice(3));
    else if (part.startsWith('gptq=')) o.gptqLines = Number(part.slice(5));
    else if (part.startsWith('sgptq=')) o.seqGptqLines = Number(part.slice(6));
    else if (part.startsWith('damp=')) o.gptq = { ...o.gptq, damp: Number(part.slice(5)) };
    else if (part === 'noact') o.gptq = { ...o.gptq, actOrder: false };
    else throw new VtwError(`probe-rec: unknown setting part '${part}'`);
  }
  if (keep.length) o.keepFloat = keep;
  return o;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let calib = 48, calibSeed = 1001, lines = 30, seeds = [2], report = false, channelScaling = true, vta = false, dump = '';
  let inputScaling: InputScalingMode | undefined;
  let maxInShift = 8;
  const settings: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--calib') calib = Number(args[++i]);
    else if (a === '--calib-seed') calibSeed = Number(args[++i]);
    else if (a === '--lines') lines = Number(args[++i]);
    else if (a === '--seed') seeds = (args[++i] ?? '').split(',').map(Number);
    else if (a === '--report') report = true;
    else if (a === '--no-channel-scaling') channelScaling = false;
    else if (a === '--input-scaling') {
      inputScaling = args[++i] as InputScalingMode;
      if (!INPUT_SCALING_MODES.includes(inputScaling)) throw new VtwError(`probe-rec: --input-scaling takes ${INPUT_SCALING_MODES.join(' | ')}`);
    } else if (a === '--max-in-shift') maxInShift = Number(args[++i]);
    else if (a === '--vta') vta = true;
    else if (a === '--dump') dump = args[++i];
    else settings.push(a);
  }
  const why = textLinesMissing() ?? paddleOcrMissing();
  if (why) throw new VtwError(why);
  if (!seeds.length || seeds.some((x) => !Number.isInteger(x))) throw new VtwError('probe-rec: --seed takes whole numbers separated by commas (e.g. 4,5,6)');
  if (seeds.includes(calibSeed)) throw new VtwError('probe-rec: --calib-seed must differ from --seed');
  const d = loadConfig('default');
  const wasm = () => compiledHost(parseTarget('wasm', d) as WasmTargetSpec, d);
  const t0 = performance.now();
  // the calibrated graph and statistics are cached (v8 serialization) so probes of other settings skip the minutes of calibration
  const cache = join(tmpdir(), `probe-rec-${calib}-${calibSeed}-${channelScaling ? 'cs' : 'plain'}${inputScaling ? `-in-${inputScaling}-${maxInShift}` : ''}.bin`);
  let g: Graph;
  let stats: CalibrationStats;
  const fp = wasm();
  if (existsSync(cache)) {
    ({ g, stats } = deserialize(readFileSync(cache)) as { g: Graph; stats: CalibrationStats });
    await fp.prepare!(g);
  } else {
    g = ocrGraph('rec', REC_WIDTH);
    await fp.prepare!(g);
    const samples = renderTextLines(calib, { seed: calibSeed }).map((l) => recInput(l.rgba, REC_WIDTH));
    if (inputScaling) {
      const c = scaleConvInputs(g, samples, fp, { mode: inputScaling, maxShift: maxInShift });
      console.error(`input scaling (${inputScaling}): ${c.channels} channels of ${c.convs} convs`);
      await fp.prepare!(g);
    }
    if (channelScaling) {
      const c = scaleConvChannels(g, samples, fp);
      console.error(`channel scaling: ${c.channels} channels of ${c.convs} convs`);
    }
    stats = await collectStats(g, samples, fp, { keep: 1, onProgress: (k, n) => process.stderr.write(`\rcalibrating ${k}/${n}`) });
    writeFileSync(cache, serialize({ g, stats }));
  }
  console.error(`\ncalibrated in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const dict = loadRecDict();
  const steps = REC_WIDTH / REC_STEP;
  const decode = (p: Float32Array) => ctcGreedyDecode(p, p.length / steps, dict).text;
  const ort = await ortRunner('rec');
  const evalSets: { seed: number; inputs: ReturnType<typeof recInput>[]; oracle: string[] }[] = [];
  for (const seed of seeds) {
    const inputs = renderTextLines(lines, { seed }).map((l) => recInput(l.rgba, REC_WIDTH));
    const oracle: string[] = [];
    for (const x of inputs) oracle.push(decode(await ort(x)));
    evalSets.push({ seed, inputs, oracle });
  }

  const hessianCache = new Map<number, Map<string, LayerHessian>>();
  const hessiansOf = (n: number) => {
    if (!hessianCache.has(n)) {
      const t = performance.now();
      const layers = g.nodes.filter((m) => m.op === 'Conv' || m.op === 'Gemm' || m.op === 'MatMul').map((m) => m.name);
      const xs = renderTextLines(n, { seed: calibSeed }).map((l) => recInput(l.rgba, REC_WIDTH));
      hessianCache.set(n, collectHessians(g, xs, fp, layers, (k, m) => process.stderr.write(`\rHessians ${k}/${m}`)));
      console.error(`\nHessians of ${hessianCache.get(n)!.size} layers on ${n} lines (${((performance.now() - t) / 1000).toFixed(0)} s)`);
    }
    return hessianCache.get(n)!;
  };

  for (const [k, s] of settings.entries()) {
    const t1 = performance.now();
    const opts = parseSetting(s);
    if (opts.gptqLines) opts.hessians = hessiansOf(opts.gptqLines);
    const { graph: q, report: r } = quantizeGraph(g, stats, { ...opts, ...(report && k === 0 ? { reportSamples: 1, host: TS_HOST } : {}) });
    if (report && k === 0) console.log(formatReport(r));
    if (opts.seqGptqLines) {
      const xs = renderTextLines(opts.seqGptqLines, { seed: calibSeed }).map((l) => recInput(l.rgba, REC_WIDTH));
      const qHost = wasm().observable!()!;
      await qHost.prepare!(q);
      const n = gptqSequential(g, q, xs, qHost, opts.gptq);
      console.error(`sequential GPTQ on ${opts.seqGptqLines} lines: ${n} layers (${((performance.now() - t1) / 1000).toFixed(0)} s)`);
    }
    if (opts.biasLines) {
      const bcSamples = renderTextLines(opts.biasLines, { seed: calibSeed }).map((l) => recInput(l.rgba, REC_WIDTH));
      const fpHost = wasm();
      await fpHost.prepare!(g);
      const qHost = wasm().observable!()!;
      await qHost.prepare!(q);
      const bc = correctBiases(g, q, bcSamples, fpHost, qHost);
      console.error(`bias correction on ${opts.biasLines} lines: ${bc.channels} channels of ${bc.layers} layers (${((performance.now() - t1) / 1000).toFixed(0)} s)`);
    }
    const pooled: { got: string; want: string }[] = [];
    for (const { seed, inputs, oracle } of evalSets) {
      const got: string[] = [];
      let cycles = 0;
      let macs = '';
      if (vta) {
        // the int8 nodes on VTA default (TS simulator), the rest on the TS host: as eval-ocr --int8 runs them
        const m = await compileModel(q, d, { configName: 'default', source: 'PaddleOCR rec' });
        macs = `, ${(100 * m.partition.offloadedMacsFraction).toFixed(1)} % of MACs on VTA`;
        for (const [i, x] of inputs.entries()) {
          const r = await runModel(m, new Map([['x', x]]), { engine: 'ts', host: TS_HOST });
          cycles += r.vtaCycles;
          got.push(decode(r.outputs.get(q.outputs[0])!.data as Float32Array));
          process.stderr.write(`\rVTA ${i + 1}/${inputs.length}`);
        }
      } else {
        const host = wasm();
        await host.prepare!(q);
        for (const x of inputs) got.push(decode(runGraph(q, new Map([['x', x]]), host).outputs.get(q.outputs[0])!.data as Float32Array));
      }
      const pairs = got.map((t, i) => ({ got: t, want: oracle[i] }));
      const cer = charErrorRate(pairs);
      const cerTrim = charErrorRate(pairs.map((p) => ({ got: p.got.trim(), want: p.want.trim() })));
      const equal = pairs.filter((p) => p.got === p.want).length;
      console.log(`${s.padEnd(40)} seed ${seed}: CER ${(100 * cer).toFixed(2)} %  trimmed ${(100 * cerTrim).toFixed(2)} %  equal ${equal}/${lines}  float ${r.float.length}${vta ? `, on VTA default: ${Math.round(cycles / lines)} cycles/line${macs}` : ''}  (${((performance.now() - t1) / 1000).toFixed(0)} s)`);
      if (dump) writeFileSync(`${dump}.${k}${seeds.length > 1 ? `.${seed}` : ''}.json`, JSON.stringify({ setting: s, seed, vta, texts: got, oracle }));
      for (const p of pairs) if (p.got !== p.want) console.log(`    int8 ${JSON.stringify(p.got)}  ort ${JSON.stringify(p.want)}`);
      pooled.push(...pairs);
    }
    // every seed's lines as one sample: edits over characters of all of them (not a mean of the per-seed rates)
    if (evalSets.length > 1) {
      const equal = pooled.filter((p) => p.got === p.want).length;
      console.log(`${s.padEnd(40)} seeds ${seeds.join(',')} together: CER ${(100 * charErrorRate(pooled)).toFixed(2)} % over ${pooled.length} lines, equal ${equal}/${pooled.length}`);
    }
  }
}

try {
  await main();
} catch (e) {
  if (!(e instanceof VtwError)) throw e;
  console.error(e.message);
  process.exitCode = 1;
}
