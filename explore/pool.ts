/**
 * The local worker pool: N child processes (explore/worker.ts run through tsx), each given the
 * next task as soon as it answers the previous one. One worker runs the tasks in this process.
 * A worker that dies takes its task back to the queue (retried once on another worker).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { VtwError } from '../src/errors.ts';
import { evaluateTask, type Task, type TaskResult } from './evaluate.ts';

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export async function runTasks(tasks: Task[], workers: number, onResult: (r: TaskResult) => void): Promise<void> {
  if (!tasks.length) return;
  if (workers <= 1) {
    for (const t of tasks) onResult(await evaluateTask(t));
    return;
  }
  const queue = [...tasks];
  const tries = new Map<number, number>();
  const n = Math.min(workers, tasks.length);
  const tsx = import.meta.resolve('tsx');
  const children: ChildProcess[] = [];
  let remaining = tasks.length;
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: Error) => {
        if (!failed) reject(e);
        failed = true;
      };
      const start = () => {
        const child = fork(WORKER, [], { execArgv: ['--import', tsx], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
        children.push(child);
        let current: Task | undefined;
        const next = () => {
          current = queue.shift();
          if (current) child.send(current);
        };
        child.on('message', (m: TaskResult | { ready: true } | { id: number; fatal: string }) => {
          if ('ready' in m) return next();
          if ('fatal' in m) return fail(new Error(`explore worker: ${m.fatal}`));
          current = undefined;
          onResult(m);
          if (--remaining === 0) return resolve();
          next();
        });
        child.on('exit', (code, signal) => {
          if (remaining === 0 || failed) return;
          if (current) {
            const k = (tries.get(current.id) ?? 0) + 1;
            tries.set(current.id, k);
            if (k > 1) return fail(new VtwError(`an explore worker died twice on point ${current.id} (${signal ?? `exit ${code}`}); rerun with --workers 1 to see why`));
            queue.unshift(current);
          }
          if (queue.length) start();
        });
        child.on('error', (e) => fail(e));
      };
      for (let i = 0; i < n; i++) start();
    });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
  }
}
