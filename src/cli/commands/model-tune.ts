/**
 * `vtw model tune`: tune every operator a model offloads to VTA, layer after layer, into one
 * tuning log that `vtw model compile --tuned LOG` compiles with. The model is quantized as compile
 * does (the partition and each node's parameters depend on it); nodes with the same operator,
 * shape and parameters (any shift: compiler/tune/log.ts bestScheduleRecord) are one task. Each
 * task's model tuner learns also from every earlier measurement of the operator in the log (history,
 * compiler/tune/history.ts), so later layers start from what the earlier ones taught; tasks the log
 * already holds are skipped, so an interrupted run resumes.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.ts';
import { progress } from '../../report/progress.ts';
import { table } from '../../report/table.ts';
import { partitionGraph } from '../../../compiler/graph/partition.ts';
import { findOperator } from '../../../compiler/ops/registry.ts';
import { operatorCall, type OperatorCall } from '../../../compiler/target/operator-call.ts';
import { historyFromRecords } from '../../../compiler/tune/history.ts';
import { appendRecord, bestScheduleRecord, checkLogWritable, readLog, type TuneRecord } from '../../../compiler/tune/log.ts';
import { makeTask, tuneKey } from '../../../compiler/tune/task.ts';
import { tune } from '../../../compiler/tune/tuner.ts';
import { existsSync } from 'node:fs';
import { configSpecOption, jsonOption, parseInteger, seedOption } from '../options.ts';
import { calibrationOptions, inputShapeOption, preprocessOption, quantizeCli, type QuantizeCliOptions } from './model.ts';

interface ModelTuneOptions extends QuantizeCliOptions {
  config: string;
  log: string;
  trials: number;
  seed: number;
  json?: boolean;
}

interface LayerResult {
  nodes: string[];
  op: string;
  shape: number[];
  default: number;
  best: number;
  trials: number;
  skipped: boolean;
}

async function modelTune(file: string, opts: ModelTuneOptions): Promise<void> {
  const d = loadConfig(opts.config);
  const target = { kind: 'vta' as const, config: d };
  const t0 = performance.now();
  checkLogWritable(opts.log);
  const { quantized } = await quantizeCli(file, opts);
  // The distinct tasks of the offloaded nodes, in graph order.
  const tasks = new Map<string, { call: OperatorCall; nodes: string[] }>();
  for (const p of partitionGraph(quantized, d).nodes) {
    if (p.where !== 'vta') continue;
    const call = operatorCall(p.node, quantized);
    if (!call) continue;
    const k = JSON.stringify([call.op, call.shape, { ...call.params, shift: null }]);
    const t = tasks.get(k);
    if (t) t.nodes.push(p.node.name);
    else tasks.set(k, { call, nodes: [p.node.name] });
  }
  const results: LayerResult[] = [];
  for (const { call, nodes } of tasks.values()) {
    const records = existsSync(opts.log) ? readLog(opts.log).records : [];
    const entry = findOperator(call.op);
    const done = bestScheduleRecord(records, tuneKey(entry.name, call.shape, call.params, target));
    const task = await makeTask(entry, call.shape, call.params, target, d);
    if (done) {
      const dflt = records.find((r) => r.trial === 0 && bestScheduleRecord([r], task.key));
      results.push({ nodes, op: call.op, shape: call.shape, default: dflt?.cost ?? NaN, best: done.cost, trials: 0, skipped: true });
      continue;
    }
    const { points } = await historyFromRecords(records, task, target, d);
    const log = (knobs: Record<string, number>, cost: number, trial: number, strategy: TuneRecord['strategy']) =>
      appendRecord(opts.log, { ...task.key, knobs, cost, unit: task.unit, trial, strategy, timestamp: new Date().toISOString() });
    const dflt = await task.measure(task.defaultKnobs);
    log(task.defaultKnobs, dflt, 0, 'default');
    const bar = progress(Math.min(opts.trials, task.candidates.length), `tune ${nodes[0]} (${call.op} ${call.shape.join(',')})`);
    const r = await tune(task, {
      trials: opts.trials, strategy: 'model', seed: opts.seed, history: points,
      onTrial: (t, best) => {
        if (Number.isFinite(t.cost)) log(t.knobs, t.cost, t.index, 'model');
        bar.tick(`best ${best?.cost ?? '-'} cycles (default ${dflt})`);
      },
    });
    bar.stop();
    results.push({ nodes, op: call.op, shape: call.shape, default: dflt, best: Math.min(dflt, r.best?.cost ?? Infinity), trials: r.trials.length, skipped: false });
  }
  const seconds = (performance.now() - t0) / 1000;
  const sum = (f: (r: LayerResult) => number) => results.reduce((a, r) => a + f(r) * r.nodes.length, 0);
  if (opts.json) {
    console.log(JSON.stringify({ model: file, config: opts.config, variant: d.variant, log: opts.log, trials: opts.trials, seed: opts.seed, layers: results, cycles: { default: sum((r) => r.default), tuned: sum((r) => r.best) }, seconds: +seconds.toFixed(3) }, null, 2));
    return;
  }
  console.log(`${file}: ${tasks.size} distinct VTA layers of ${results.reduce((a, r) => a + r.nodes.length, 0)} nodes tuned on ${opts.config} (${d.variant}), ${opts.trials} trials each, in ${seconds.toFixed(1)} s`);
  console.log(table(['nodes', 'operator', 'shape', 'default cycles', 'tuned cycles', 'speed-up'], results.map((r) => [
    r.nodes.join(' '), r.op, r.shape.join(','), String(r.default), String(r.best) + (r.skipped ? ' (in the log)' : ''), Number.isFinite(r.default) ? `${(r.default / r.best).toFixed(3)}x` : '-',
  ])));
  console.log(`all nodes: ${sum((r) => r.default)} -> ${sum((r) => r.best)} cycles; compile with them: vtw model compile ${file} --config ${opts.config} --tuned ${opts.log} --calib ${opts.calib} -o MODEL.vtwm`);
}

export function registerModelTune(model: Command): void {
  calibrationOptions(
    model
      .command('tune')
      .description('tune the schedule of every layer a model offloads to VTA (cycle-exact simulator, learned cost model with the earlier layers as history) into one log for vtw model compile --tuned')
      .argument('<model>', 'ONNX file (.onnx)')
      .addOption(configSpecOption('VTA configuration (preset name, JSON file or inline JSON)'))
      .requiredOption('--log <file>', 'tuning log to append to (layers it already holds are skipped: a stopped run resumes)')
      .option('--trials <n>', 'measured trials per layer', parseInteger('trials', 1), 16)
      .addOption(seedOption('seed of the search', 0))
      .addOption(inputShapeOption())
      .addOption(preprocessOption('calibration images')),
    true,
  )
    .addOption(jsonOption('print JSON: layers (nodes, op, shape, default, best, trials, skipped), cycles (default, tuned), seconds'))
    .action((file: string, opts: ModelTuneOptions) => modelTune(file, opts));
}
