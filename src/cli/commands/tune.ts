/**
 * `vtw tune`: search an operator's knob space on a target (compiler/tune/) with the learned cost
 * model or at random, measuring each trial (simulator cycles on vta, median warm time on cpu),
 * appending every trial to a JSONL log that `vtw op --tuned LOG` reuses. The default chooser's
 * knobs are measured first for reference and logged as trial 0, so the log's best is never worse.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { VtwError } from '../../errors.ts';
import { table } from '../../report/table.ts';
import { progress } from '../../report/progress.ts';
import type { Derived } from '../../config/derive.ts';
import { findOperator, OPERATOR_NAMES } from '../../../compiler/ops/registry.ts';
import { parseTarget } from '../../../compiler/target/target.ts';
import { historyFromRecords } from '../../../compiler/tune/history.ts';
import { appendRecord, checkLogWritable, readLogWarning, type Strategy, type TuneRecord } from '../../../compiler/tune/log.ts';
import { makeTask, type KnobSetting } from '../../../compiler/tune/task.ts';
import { trialsToReach, tune, type Trial } from '../../../compiler/tune/tuner.ts';
import { configOption, jsonOption, parseInteger, seedOption } from '../options.ts';
import { shapeAndParams } from './op.ts';

interface TuneCliOptions {
  config: Derived;
  target: string;
  shape?: string;
  batch: number;
  groups: number;
  shift?: number;
  bias: boolean;
  clip?: string;
  trials: number;
  strategy: Strategy;
  seed: number;
  log?: string;
  history?: string;
  json?: boolean;
  runs: number;
  latencyHiding: boolean;
  prior: boolean;
}

const fmt = (cost: number, unit: string): string => (unit === 'ms' ? `${cost.toFixed(4)} ms` : `${cost} cycles`);

export function registerTune(program: Command): void {
  program
    .command('tune')
    .description('autotune an operator\'s schedule knobs on a target with a learned cost model (or at random), logging every trial')
    .argument('<operator>', `one of ${OPERATOR_NAMES.join(', ')}`)
    .option('--shape <dims>', 'the operator\'s dimensions, as vtw op --shape')
    .option('--target <target>', 'vta (cycles on the cycle-exact simulator, configuration from --config), cpu [-mattr=...] (median warm time) or opencl (median warm time on the OpenCL device)', 'vta')
    .addOption(configOption())
    .option('--trials <n>', 'measured trials (the default knobs are measured too, for reference)', parseInteger('trials', 1), 32)
    .addOption(new Option('--strategy <s>', 'model: random-forest cost model guides the search; random: the baseline').choices(['model', 'random']).default('model'))
    .addOption(seedOption('seed of the search (and of the operands)', 0))
    .option('--log <file>', 'append one JSON line per trial (read back by vtw op --tuned)')
    .option('--history <log>', 'model strategy: learn also from this tuning log\'s records of other shapes of the operator on the same target (transfer learning; may be the --log file)')
    .option('--runs <n>', 'with --target cpu / opencl: timed warm runs per trial (at least 10); the cost is their median', parseInteger('runs', 1), 10)
    .option('--batch <n>', 'batch size', parseInteger('batch', 1), 1)
    .option('--groups <g>', 'groups of a grouped / depthwise conv2d', parseInteger('groups', 1), 1)
    .option('--shift <n>', 'requantization shift (default from the accumulation depth)', parseInteger('shift'))
    .option('--no-bias', 'no per-channel bias')
    .option('--clip <lo,hi>', 'clip the result before the cast (default 0,max of the output type; "none" for no clip)')
    .option('--no-latency-hiding', 'vta: one virtual thread only')
    .option('--no-prior', 'model strategy: start from random candidates only, not from the analytical model\'s best guesses')
    .addOption(jsonOption())
    .action(async (kind: string, opts: TuneCliOptions) => {
      const d = opts.config;
      const entry = findOperator(kind);
      const target = parseTarget(opts.target, d);
      if (opts.runs < 10) throw new VtwError(`--runs ${opts.runs}: a cpu measurement is the median of at least 10 warm runs`);
      const { shape, params } = shapeAndParams(kind, opts, d);
      if (opts.log) checkLogWritable(opts.log);
      const task = await makeTask(entry, shape, params, target, d, { latencyHiding: opts.latencyHiding, runs: opts.runs, seed: 1 });
      const record = (knobs: KnobSetting, cost: number, trial: number, strategy: TuneRecord['strategy']) => {
        if (opts.log) appendRecord(opts.log, { ...task.key, knobs, cost, unit: task.unit, trial, strategy, timestamp: new Date().toISOString() });
      };

      let history: Awaited<ReturnType<typeof historyFromRecords>> | undefined;
      if (opts.history) {
        history = await historyFromRecords(readLogWarning(opts.history), task, target, d);
        if (!opts.json) console.error(`history: ${history.points.length} measurements of ${history.tasks} other ${kind} shapes on ${task.key.target} from ${opts.history}`);
      }
      const defaultCost = await task.measure(task.defaultKnobs);
      record(task.defaultKnobs, defaultCost, 0, 'default');
      const total = Math.min(opts.trials, task.candidates.length);
      const bar = progress(total, `tune ${kind} (${opts.strategy})`);
      const result = await tune(task, {
        trials: opts.trials,
        strategy: opts.strategy,
        seed: opts.seed,
        usePrior: opts.prior,
        history: history?.points,
        onTrial: (t: Trial, best) => {
          if (Number.isFinite(t.cost)) record(t.knobs, t.cost, t.index, opts.strategy);
          bar.tick(best ? `best ${fmt(best.cost, task.unit)} (default ${fmt(defaultCost, task.unit)})` : 'no valid setting yet');
        },
      });
      bar.stop();
      const failed = result.trials.filter((t) => t.error);
      const best = result.best;
      const speedup = best ? defaultCost / best.cost : undefined;
      const j = {
        op: kind,
        target: task.key.target,
        shape,
        strategy: opts.strategy,
        seed: opts.seed,
        space: result.spaceSize,
        trials: result.trials.length,
        failed: failed.length,
        unit: task.unit,
        default: { knobs: task.defaultKnobs, cost: defaultCost },
        best: best ? { knobs: best.knobs, cost: best.cost, trial: best.index } : null,
        speedup: speedup === undefined ? null : +speedup.toFixed(4),
        trials_to_beat_default: trialsToReach(result.trials, defaultCost - (task.unit === 'cycles' ? 1 : 0)) ?? null,
        history: result.trials.map((t) => (Number.isFinite(t.cost) ? t.cost : null)),
        ...(history ? { learned_from: { log: opts.history, tasks: history.tasks, measurements: history.points.length } } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      };
      if (opts.json) {
        console.log(JSON.stringify(j, null, 2));
      } else {
        console.log(`${kind} --shape ${shape.join(',')} on ${j.target}: ${j.trials} of ${j.space} settings measured (${opts.strategy}, seed ${opts.seed})`);
        console.log(table(['', 'cost', 'knobs'], [
          ['default', fmt(defaultCost, task.unit), JSON.stringify(task.defaultKnobs)],
          ['best', best ? fmt(best.cost, task.unit) : '-', best ? `${JSON.stringify(best.knobs)} (trial ${best.index})` : '-'],
        ]));
        if (speedup !== undefined) console.log(`speedup over the default knobs: ${speedup.toFixed(3)}x`);
        for (const t of failed.slice(0, 3)) console.log(`trial ${t.index} failed: ${t.error}`);
        if (opts.log) console.log(`logged ${j.trials - failed.length + 1} records to ${opts.log}; compile with them: vtw op ${kind} --shape ${shape.join(',')} --target ${opts.target === 'vta' ? 'vta' : JSON.stringify(opts.target)} --tuned ${opts.log}`);
      }
    });
}
