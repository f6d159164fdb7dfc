/**
 * ResNet-18 (the seeded model of scripts/build-resnet18.ts, ImageNet shapes) int8 on VTA: quantized
 * on a few seeded random images, compiled for a configuration, run once on the TypeScript simulator
 * with the host target for the rest. Reports the fraction of MACs offloaded, the whole-network VTA
 * cycles and host time, and per offloaded node its cycles next to what `vtw op` reports for the same
 * operator, shape and tail (the same strategy with the same parameters: they must be equal).
 * Writes build/eval/resnet18-<config>.json.
 *
 *   tsx scripts/eval-resnet18.ts [--config default] [--calib 2] [--json]
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { staticShape } from '../compiler/graph/ir.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { compileModel } from '../compiler/model/compile.ts';
import { loadBound } from '../compiler/model/pipeline.ts';
import { runModel } from '../compiler/model/run.ts';
import { buildResnet18, RESNET18_INPUT } from '../compiler/models/resnet18.ts';
import { runOp } from '../compiler/ops/op.ts';
import { randomInts } from '../compiler/ops/common.ts';
import { findOperator } from '../compiler/ops/registry.ts';
import { collectStats } from '../compiler/quant/calibrate.ts';
import { quantizeGraph } from '../compiler/quant/quantize.ts';
import { loadConfig } from '../src/config/load.ts';
import { VtwError } from '../src/errors.ts';
import { TsEngine } from '../sim/ts/engine.ts';
import type { Tensor } from '../compiler/graph/tensor.ts';

const MODEL = 'build/models/resnet18.onnx';

/** A seeded stand-in for a normalized ImageNet image: values in [-2, 2]. */
function image(seed: number): Tensor {
  const n = RESNET18_INPUT.reduce((a: number, b: number) => a * b, 1);
  return { dtype: 'float32', shape: [...RESNET18_INPUT], data: Float32Array.from(randomInts(n, -200, 200, seed), (v) => v / 100) };
}

/** The `vtw op` command line of a node program (what a user runs to check one layer). */
function opCommand(op: string, shape: readonly number[], p: Record<string, unknown>, config: string): string {
  const parts = [`vtw op ${op} --config ${config} --shape ${shape.join(',')}`];
  if (p.batch !== undefined && p.batch !== 1) parts.push(`--batch ${p.batch}`);
  if (p.groups !== undefined && p.groups !== 1) parts.push(`--groups ${p.groups}`);
  if (p.shift !== undefined) parts.push(`--shift ${p.shift}`);
  if (p.bias === false && (op === 'conv2d' || op === 'dense')) parts.push('--no-bias');
  if (Array.isArray(p.clip)) parts.push(`--clip ${p.clip.join(',')}`);
  return parts.join(' ');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (flag: string, fallback: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] ?? '' : fallback);
  const config = get('--config', 'default');
  const calib = Number(get('--calib', '2'));
  if (!Number.isInteger(calib) || calib < 1) throw new VtwError(`--calib needs a whole number >= 1, got '${get('--calib', '')}'`);
  const d = loadConfig(config);
  if (!existsSync(MODEL)) {
    mkdirSync('build/models', { recursive: true });
    writeFileSync(`${MODEL}.tmp`, buildResnet18());
    renameSync(`${MODEL}.tmp`, MODEL);
  }
  const t0 = performance.now();
  const g = loadBound(MODEL);
  const stats = await collectStats(g, Array.from({ length: calib }, (_, i) => image(100 + i)), TS_HOST, { keep: 1 });
  const { graph } = quantizeGraph(g, stats, { method: 'max' });
  const m = await compileModel(graph, d, { configName: config, source: MODEL });
  const compileSeconds = (performance.now() - t0) / 1000;
  const run = await runModel(m, new Map([[graph.inputs[0], image(1)]]), { engine: 'ts', host: TS_HOST });

  // each offloaded node against the same operator built the way `vtw op` builds it
  const layers = [];
  const opCycles = new Map<string, number>();
  for (const n of run.nodes.filter((x) => x.where === 'vta')) {
    const p = m.vta.get(n.name)!;
    const key = JSON.stringify([p.op, p.shape, p.params]);
    if (!opCycles.has(key)) {
      const inst = findOperator(p.op).strategies.vta.build(p.shape, p.params, d, {});
      opCycles.set(key, (await runOp(inst, new TsEngine())).result.counters.cycles);
    }
    const vtwOp = opCycles.get(key)!;
    layers.push({ node: n.name, op: p.op, shape: p.shape, cycles: n.vtaCycles!, vtw_op_cycles: vtwOp, equal: vtwOp === n.vtaCycles, command: opCommand(p.op, p.shape, p.params as unknown as Record<string, unknown>, config) });
  }
  const result = {
    model: MODEL,
    config,
    variant: d.variant,
    input: staticShape(graph.values.get(graph.inputs[0])!),
    offloaded_macs_fraction: m.partition.offloadedMacsFraction,
    macs: m.partition.macs,
    vta_cycles: run.vtaCycles,
    vta_ms_at_clock: +(run.vtaCycles / (d.clockMhz * 1000)).toFixed(2),
    host_ms: +run.hostMs.toFixed(1),
    host_nodes: run.nodes.filter((x) => x.where === 'host').length,
    compile_seconds: +compileSeconds.toFixed(1),
    all_layers_equal_vtw_op: layers.every((l) => l.equal),
    layers,
  };
  mkdirSync('build/eval', { recursive: true });
  const out = `build/eval/resnet18-${config}.json`;
  writeFileSync(`${out}.tmp`, JSON.stringify(result, null, 2));
  renameSync(`${out}.tmp`, out);
  if (args.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`ResNet-18 int8 on ${config} (${d.variant}): ${(result.offloaded_macs_fraction * 100).toFixed(2)} % of ${(result.macs / 1e9).toFixed(2)} G MACs on VTA, ${result.vta_cycles.toLocaleString('en-US')} VTA cycles (${result.vta_ms_at_clock} ms at ${d.clockMhz} MHz), host ${result.host_ms} ms on ${result.host_nodes} nodes`);
  for (const l of layers) console.log(`  ${l.node.padEnd(28)} ${l.op.padEnd(8)} ${l.shape.join(',').padEnd(22)} ${String(l.cycles).padStart(9)} ${l.equal ? '=' : '≠'} ${l.vtw_op_cycles}   ${l.command}`);
  console.log(result.all_layers_equal_vtw_op ? 'every offloaded layer takes the cycles vtw op reports' : 'SOME LAYERS DIFFER from vtw op');
  if (!result.all_layers_equal_vtw_op) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    await main();
  } catch (e) {
    if (!(e instanceof VtwError)) throw e;
    console.error(`eval-resnet18: error: ${e.message}`);
    process.exitCode = 1;
  }
}
