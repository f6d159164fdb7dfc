/**
 * `vtw model tune`: tune every operator a model offloads to VTA, layer after layer, into one
 * tuning log that `vtw model compile --tuned LOG` compiles with (compiler/tune/model.ts). The model
 * is quantized as compile does: the partition and each node's parameters depend on it.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.ts';
import { progress, type Progress } from '../../report/progress.ts';
import { table } from '../../report/table.ts';
import { checkLogWritable } from '../../../compiler/tune/log.ts';
import { modelCycles, tuneModel } from '../../../compiler/tune/model.ts';
import { configSpecOption, jsonOption, parseInteger, seedOption } from '../options.ts';
import { calibrationOptions, inputShapeOption, preprocessOption, quantizeCli, type QuantizeCliOptions } from './model.ts';

interface ModelTuneOptions extends QuantizeCliOptions {
  config: string;
  log: string;
  trials: number;
  seed: number;
  json?: boolean;
}

async function modelTune(file: string, opts: ModelTuneOptions): Promise<void> {
  const d = loadConfig(opts.config);
  const t0 = performance.now();
  checkLogWritable(opts.log); // before the calibration, not after it
  const { quantized } = await quantizeCli(file, opts);
  let bar: Progress | undefined;
  const layers = await tuneModel(quantized, d, {
    log: opts.log, trials: opts.trials, seed: opts.seed,
    onLayer: (l) => (bar = progress(l.trials, `tune ${l.nodes[0]} (${l.op} ${l.shape.join(',')})`)),
    onTrial: (best, dflt) => bar?.tick(`best ${best?.cost ?? '-'} cycles (default ${dflt})`),
    onLayerEnd: () => bar?.stop(),
  });
  const seconds = (performance.now() - t0) / 1000;
  const cycles = modelCycles(layers);
  if (opts.json) {
    console.log(JSON.stringify({ model: file, config: opts.config, variant: d.variant, log: opts.log, trials: opts.trials, seed: opts.seed, layers, cycles, seconds: +seconds.toFixed(3) }, null, 2));
    return;
  }
  console.log(`${file}: ${layers.length} distinct VTA layers of ${layers.reduce((a, l) => a + l.nodes.length, 0)} nodes tuned on ${opts.config} (${d.variant}), ${opts.trials} trials each, in ${seconds.toFixed(1)} s`);
  console.log(table(['nodes', 'operator', 'shape', 'default cycles', 'tuned cycles', 'speed-up'], layers.map((l) => [
    l.nodes.join(' '), l.op, l.shape.join(','), String(l.default), String(l.best) + (l.skipped ? ' (in the log)' : ''), Number.isFinite(l.default) ? `${(l.default / l.best).toFixed(3)}x` : '-',
  ])));
  console.log(`all nodes: ${cycles.default} -> ${cycles.tuned} cycles; compile with them: vtw model compile ${file} --config ${opts.config} --tuned ${opts.log} --calib ${opts.calib} -o MODEL.vtwm`);
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
