/**
 * `vtw explore SPACE --out DIR`: design-space exploration (explore/, docs/explore.md). Every point
 * of the space file is validated, its RTL generated and measured, its workloads compiled and
 * simulated; results, Pareto fronts and the result cache go to DIR.
 */
import type { Command } from 'commander';
import { jsonOption, outOption, parseInteger } from '../options.ts';
import { table } from '../../report/table.ts';
import { loadSpace, type Space } from '../../../explore/space.ts';
import { explore, type ExploreOptions } from '../../../explore/run.ts';
import { evolveExplore } from '../../../explore/search.ts';
import { rerenderReport } from '../../../explore/report.ts';
import { VtwError } from '../../errors.ts';
import { defaultWorkers } from '../../../explore/pool.ts';

interface ExploreCliOptions {
  out?: string;
  workers?: number;
  queue?: string;
  json?: boolean;
  force?: boolean;
  fresh?: boolean;
}

/** A line of progress on stderr, where the progress bar would show (a terminal, or VTW_PROGRESS=1). */
function progressLine(line: string): void {
  if (process.stderr.isTTY || process.env.VTW_PROGRESS === '1') process.stderr.write(`${line}\n`);
}

export function registerExplore(program: Command): void {
  const cmd = program
    .command('explore')
    .description('sweep a space of VTA variants (docs/explore.md): area, cycles, latency, energy per point, Pareto front; writes DIR/results.jsonl, results.csv, pareto.json, report.html')
    .argument('<space>', 'space file (JSON; examples/space-*.json)')
    // required, but checked in the action: `vtw explore report DIR` has no --out
    .addOption(outOption('dir', 'output folder (required); its cache.jsonl makes a repeated or interrupted sweep resume'))
    .option('--workers <n>', `worker threads (default: the cores, here ${defaultWorkers()}; 1 runs in the main thread)`, parseInteger('workers', 1))
    .option('--queue <url>', 'hand the points to `vtw worker` processes through the Redis at URL (redis://HOST:PORT) instead of local workers')
    .option('--fresh', 'ignore cached results and measure every point again')
    .option('--force', 'replace --out even when it holds files vtw did not write')
    .addOption(jsonOption('print the summary as JSON: points, evaluated, infeasible, failed, cached, pareto, seconds'))
    .action(async (spacePath: string, opts: ExploreCliOptions) => {
      if (opts.out === undefined) throw new VtwError(`vtw explore ${spacePath} needs --out DIR, the folder for results.jsonl, pareto.json, report.html and the cache`);
      if (opts.queue && opts.workers !== undefined) throw new VtwError('--workers and --queue do not go together: with --queue the points run on `vtw worker` processes; give them --workers');
      const space = loadSpace(spacePath);
      const sweep = space.search.strategy === 'evolve' ? (sp: Space, o: ExploreOptions) => evolveExplore(sp, o, progressLine) : explore;
      const { summary, records } = await sweep(space, { out: opts.out, workers: opts.workers ?? defaultWorkers(), queue: opts.queue, force: opts.force, fresh: opts.fresh }).catch((e: unknown) => {
        // A lost queue: BullMQ's connections may keep retrying; exit once the error line is out.
        if ((e as Error | undefined)?.name === 'QueueLostError') setTimeout(() => process.exit(1), 500).unref();
        throw e;
      });
      if (opts.json) {
        console.log(JSON.stringify(summary, null, 2));
        return;
      }
      console.log(`${space.name}: ${summary.points} points, ${summary.evaluated} evaluated (${summary.cached} from the cache), ${summary.infeasible} infeasible, ${summary.failed} with failed workloads; Pareto front of ${summary.pareto} in ${summary.seconds} s`);
      const front = new Set(summary.frontIds);
      const rows = records.filter((r) => front.has(r.id)).map((r) => [r.id, r.variant ?? '', ...space.objectives.map((o) => r.metrics[o.metric])]);
      if (rows.length) console.log(`\nPareto front (${space.objectives.map((o) => `${o.goal} ${o.metric}`).join(', ')}):\n${table(['id', 'variant', ...space.objectives.map((o) => o.metric)], rows)}\n`);
      const ref = summary.reference;
      if (ref) {
        const where = ref.on_front ? 'is on the front' : ref.dominated_by.length ? `is dominated by ${ref.dominated_by.map((i) => `#${i}`).join(', ')}` : 'has no result to compare';
        console.log(`  reference point #${ref.id} ${where}`);
      }
      for (const r of records.filter((r) => r.status !== 'ok').slice(0, 3)) console.log(`  ${r.status} #${r.id}: ${r.reason}`);
      console.log(`  wrote ${opts.out}/results.jsonl, results.csv, pareto.json, report.html`);
    });
  cmd
    .command('report')
    .description('render DIR/report.html and its SVG charts again from DIR/results.jsonl and pareto.json (a vtw explore --out folder)')
    .argument('<dir>', 'the --out folder of a vtw explore run')
    .action(async (dir: string) => {
      const files = await rerenderReport(dir);
      console.log(`wrote ${files.map((f) => `${dir}/${f}`).join(', ')}`);
    });
}
