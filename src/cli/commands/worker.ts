/**
 * `vtw worker --queue redis://HOST:PORT`: run the jobs of a Redis queue (explore/queue.ts) on this
 * machine until stopped: design points of `vtw explore SPACE --queue URL` (and the other job kinds
 * of explore/jobs.ts). Any number of workers, on any machines with vta-workbench, share a queue; a
 * worker that dies leaves its job to the others. Ctrl-C (SIGINT) or SIGTERM finishes the jobs in
 * hand and stops; a second one stops at once.
 */
import type { Command } from 'commander';
import { parseInteger } from '../options.ts';
import { defaultWorkers } from '../../../explore/pool.ts';

interface WorkerCliOptions {
  queue: string;
  workers?: number;
  quiet?: boolean;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run jobs from a Redis queue (vtw explore --queue) on this machine until stopped (docs/explore.md, "Distributed")')
    .requiredOption('--queue <url>', 'the Redis the jobs come from: redis://HOST:PORT')
    .option('--workers <n>', `jobs at a time, each in its own worker thread (default: the cores, here ${defaultWorkers()})`, parseInteger('workers', 1))
    .option('--quiet', 'no line per job')
    .action(async (opts: WorkerCliOptions) => {
      const workers = opts.workers ?? defaultWorkers();
      const log = (line: string) => {
        if (!opts.quiet) console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
      };
      const { serveQueue } = await import('../../../explore/queue.ts'); // bullmq loads only for this command
      const server = await serveQueue(opts.queue, { workers, log });
      console.log(`vtw worker: ${workers} thread${workers > 1 ? 's' : ''} taking jobs from ${opts.queue} (Ctrl-C stops after the jobs in hand)`);
      let signals = 0;
      const stop = () => {
        if (++signals > 1) process.exit(130);
        log('stopping after the jobs in hand');
        void server.close();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        await server.done;
      } catch (e) {
        // Lost Redis: BullMQ's connections may keep retrying; exit once the error line is out.
        if ((e as Error | undefined)?.name === 'QueueLostError') setTimeout(() => process.exit(1), 500).unref();
        throw e;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
