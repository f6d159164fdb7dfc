/**
 * Handing work to workers. A WorkerPool is N local child processes (explore/worker.ts run through
 * tsx), each given the next job (explore/jobs.ts) as soon as it answers the previous one; a child
 * that dies takes its job back to the queue (retried once on a fresh child). runTasks hands a
 * sweep's tasks to this process (1 worker), to a pool, or to a Redis queue (explore/queue.ts),
 * where `vtw worker` processes run them with pools of their own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { VtwError } from '../src/errors.ts';
import { cacheKey } from './cache.ts';
import { evaluateTask, type Task, type TaskResult } from './evaluate.ts';
import type { Job } from './jobs.ts';

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

interface Queued {
  seq: number;
  job: Job;
  deaths: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  child: ChildProcess;
  ready: boolean;
  current?: Queued;
}

type Message = { ready: true } | { seq: number; result: unknown } | { seq: number; fatal: string };

export class WorkerPool {
  private queue: Queued[] = [];
  private slots: Slot[] = [];
  private seq = 0;
  private closed = false;
  private readonly tsx = import.meta.resolve('tsx');

  /** `describe` names a job in the error of a job that killed two workers. */
  constructor(readonly size: number, private describe: (job: Job) => string = (j) => `a ${j.kind} job`) {}

  /** Run a job on the next free child; resolves to its result. */
  run(job: Job): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ seq: this.seq++, job, deaths: 0, resolve, reject });
      this.pump();
    });
  }

  /** Start every child now rather than when work arrives (a long-lived pool's first jobs do not wait for them). */
  warm(): void {
    while (!this.closed && this.slots.length < this.size) this.start();
  }

  /** Stop every child (a job in hand is abandoned) and reject the jobs still queued. */
  close(): void {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new Error('the worker pool was closed'));
    for (const { child } of this.slots) if (child.exitCode === null && child.signalCode === null) child.kill();
  }

  private pump(): void {
    if (this.closed) return;
    for (const s of this.slots) {
      if (!s.ready || s.current) continue;
      const q = this.queue.shift();
      if (!q) break;
      s.current = q;
      s.child.send({ seq: q.seq, kind: q.job.kind, payload: q.job.payload });
    }
    const starting = this.slots.filter((s) => !s.ready).length;
    for (let n = starting; n < this.queue.length && this.slots.length < this.size; n++) this.start();
  }

  private start(): void {
    const child = fork(WORKER, [], { execArgv: ['--import', this.tsx], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    const slot: Slot = { child, ready: false };
    this.slots.push(slot);
    child.on('message', (m: Message) => {
      if ('ready' in m) {
        slot.ready = true;
        return this.pump();
      }
      const q = slot.current;
      if (!q || q.seq !== m.seq) return;
      slot.current = undefined;
      if ('fatal' in m) q.reject(new Error(`explore worker: ${m.fatal}`));
      else q.resolve(m.result);
      this.pump();
    });
    child.on('exit', (code, signal) => {
      this.slots.splice(this.slots.indexOf(slot), 1);
      const q = slot.current;
      slot.current = undefined;
      if (q && !this.closed) {
        if (++q.deaths > 1) q.reject(new VtwError(`a worker process died twice on ${this.describe(q.job)} (${signal ?? `exit ${code}`}); rerun with --workers 1 to see why`));
        else this.queue.unshift(q);
      }
      this.pump();
    });
    child.on('error', (e) => {
      const q = slot.current;
      slot.current = undefined;
      q?.reject(e);
    });
  }
}

export interface Dispatch {
  /** Local worker processes (1: in this process). */
  workers: number;
  /** A Redis URL: the tasks go to the queue there instead, for `vtw worker` processes. */
  queue?: string;
  /** With a queue: measure again even where the queue holds a result. */
  fresh?: boolean;
}

/** The queue's job id of a task: a hash of what it measures (not of the point's index in its space). */
export function taskJobId(t: Task): string {
  return cacheKey({ job: 'explore-point', config: t.config, area: t.area ?? null, layers: t.layers });
}

export async function runTasks(tasks: Task[], how: Dispatch, onResult: (r: TaskResult) => void): Promise<void> {
  if (!tasks.length) return;
  if (how.queue) {
    const { runOnQueue } = await import('./queue.ts');
    const jobs = tasks.map((t) => ({ id: taskJobId(t), kind: 'explore-point', payload: t }));
    return runOnQueue(how.queue, jobs, (i, r) => onResult({ ...(r as TaskResult), id: tasks[i].id }), { fresh: how.fresh, what: 'points' });
  }
  if (how.workers <= 1) {
    for (const t of tasks) onResult(await evaluateTask(t));
    return;
  }
  const pool = new WorkerPool(Math.min(how.workers, tasks.length), (j) => `point ${(j.payload as Task).id}`);
  try {
    await Promise.all(tasks.map(async (t) => onResult((await pool.run({ kind: 'explore-point', payload: t })) as TaskResult)));
  } finally {
    pool.close();
  }
}
