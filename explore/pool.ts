/**
 * Handing work to workers. A WorkerPool is N local worker threads (explore/worker.ts, loaded
 * through tsx), each given the next job (explore/jobs.ts) as soon as it answers the previous one; a
 * thread that dies takes its job back to the queue (retried once on a fresh thread). The threads
 * share one compiled yosys (hw/yosys.ts yosysModules: compiled once, in this thread, while they
 * start), so a second worker costs neither a second 30 MB WebAssembly compile nor a second warm-up
 * of V8's optimizing tier. runTasks hands a sweep's tasks to this thread (1 worker), to a pool, or
 * to a Redis queue (explore/queue.ts), where `vtw worker` processes run them with pools of their own.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { VtwError } from '../src/errors.ts';
import { deriveConfig } from '../src/config/index.ts';
import { adoptBuildGroup, isBuildGroupMessage } from '../src/util/child-builds.ts';
import { startYosysCompile, yosysModules } from '../hw/yosys.ts';
import { dropThreadLocks } from './generic-area.ts';
import { cacheKey } from './cache.ts';
import { evaluateTask, type Task, type TaskResult } from './evaluate.ts';
import type { Job } from './jobs.ts';

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** A worker thread's first code: tsx's loader for this thread, then explore/worker.ts. */
const BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
  `.then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;

interface Queued {
  seq: number;
  job: Job;
  deaths: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  thread: Worker;
  ready: boolean;
  current?: Queued;
  /** Its build groups (src/util/child-builds.ts) still running, killed with it. */
  groups: Set<number>;
}

type Message = { ready: true } | { seq: number; result: unknown } | { seq: number; fatal: string };

export class WorkerPool {
  private queue: Queued[] = [];
  private slots: Slot[] = [];
  private seq = 0;
  private closed = false;
  /** Threads in a row that ended before they were ready (a broken installation: stop, do not restart forever). */
  private failedStarts = 0;

  /**
   * `describe` names a job in the error of a job that killed two workers; `yosys`: the jobs run
   * yosys (the threads get this thread's compiled one; false: nothing compiled for them).
   */
  constructor(readonly size: number, private describe: (job: Job) => string = (j) => `a ${j.kind} job`, private yosys = true) {}

  /** Run a job on the next free worker; resolves to its result. */
  run(job: Job): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ seq: this.seq++, job, deaths: 0, resolve, reject });
      this.pump();
    });
  }

  /** Start every worker now rather than when work arrives (a long-lived pool's first jobs do not wait for them). */
  warm(): void {
    while (!this.closed && this.slots.length < this.size) this.start();
  }

  /** Stop every worker (a job in hand is abandoned) and reject the jobs still queued. */
  close(): void {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new Error('the worker pool was closed'));
    for (const s of this.slots) this.stop(s);
  }

  private stop(s: Slot): void {
    void s.thread.terminate();
    // a build the thread started dies with it (a thread cannot be sent a signal)
    for (const g of s.groups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        /* already gone */
      }
      adoptBuildGroup({ buildGroup: g, alive: false });
    }
    s.groups.clear();
  }

  private pump(): void {
    if (this.closed) return;
    for (const s of this.slots) {
      if (!s.ready || s.current) continue;
      const q = this.queue.shift();
      if (!q) break;
      s.current = q;
      s.thread.postMessage({ seq: q.seq, kind: q.job.kind, payload: q.job.payload });
    }
    const starting = this.slots.filter((s) => !s.ready).length;
    for (let n = starting; n < this.queue.length && this.slots.length < this.size; n++) this.start();
  }

  private start(): void {
    const thread = new Worker(BOOT, { eval: true, stdout: true });
    thread.stdout.resume(); // what a job prints to stdout is dropped (vtw's stdout carries its own output, --json)
    const slot: Slot = { thread, ready: false, groups: new Set() };
    const tid = thread.threadId;
    this.slots.push(slot);
    // the compiled yosys, or null (the thread compiles its own); sent before any job
    void (this.yosys ? yosysModules().catch(() => null) : Promise.resolve(null)).then((yosys) => this.closed || thread.postMessage({ yosys }));
    thread.on('message', (m: Message) => {
      if (isBuildGroupMessage(m)) {
        if (m.alive) slot.groups.add(m.buildGroup);
        else slot.groups.delete(m.buildGroup);
        return adoptBuildGroup(m);
      }
      if ('ready' in m) {
        slot.ready = true;
        this.failedStarts = 0;
        return this.pump();
      }
      const q = slot.current;
      if (!q || q.seq !== m.seq) return;
      slot.current = undefined;
      if ('fatal' in m) q.reject(new Error(`explore worker: ${m.fatal}`));
      else q.resolve(m.result);
      this.pump();
    });
    // an exception the thread did not catch ends it: 'exit' follows and retries its job
    thread.on('error', (e) => process.stderr.write(`explore worker thread: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}\n`));
    thread.on('exit', (code) => {
      if (!slot.ready && !this.closed && ++this.failedStarts >= 2) {
        this.closed = true;
        const e = new VtwError(`explore worker threads end before they start (exit ${code}): check the installation with vtw doctor, or run with --workers 1`);
        for (const q of this.queue.splice(0)) q.reject(e);
      }
      this.slots.splice(this.slots.indexOf(slot), 1);
      this.stop(slot);
      dropThreadLocks(tid); // a module it was synthesizing is free for another worker
      const q = slot.current;
      slot.current = undefined;
      if (q && !this.closed) {
        if (++q.deaths > 1) q.reject(new VtwError(`a worker thread died twice on ${this.describe(q.job)} (exit ${code}); rerun with --workers 1 to see why`));
        else this.queue.unshift(q);
      }
      this.pump();
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

/**
 * A pool's tasks, longest first (estimated: a synthesis grows with the GEMM's multipliers and
 * outweighs the simulations), so that the sweep ends on short tasks side by side rather than on a
 * long one alone. The results do not depend on the order.
 */
export function longestFirst(tasks: readonly Task[]): Task[] {
  const weight = (t: Task) => (t.area && t.area !== 'estimate' ? deriveConfig(t.config).multipliers * 1000 : 0) + t.layers.length;
  return tasks.map((t) => ({ t, w: weight(t) })).sort((a, b) => b.w - a.w).map(({ t }) => t);
}

export async function runTasks(tasks: Task[], how: Dispatch, onResult: (r: TaskResult) => void): Promise<void> {
  if (!tasks.length) return;
  if (how.queue) {
    const { runOnQueue } = await import('./queue.ts');
    const jobs = tasks.map((t) => ({ id: taskJobId(t), kind: 'explore-point', payload: t }));
    return runOnQueue(how.queue, jobs, (i, r) => onResult({ ...(r as TaskResult), id: tasks[i].id }), { fresh: how.fresh, what: 'points' });
  }
  const synthesis = tasks.some((t) => t.area === 'generic' || t.area === 'ice40');
  if (how.workers <= 1) {
    // compiled on V8's background threads while the first point simulates
    if (synthesis) await startYosysCompile().catch(() => undefined);
    for (const t of tasks) onResult(await evaluateTask(t));
    return;
  }
  const pool = new WorkerPool(Math.min(how.workers, tasks.length), (j) => `point ${(j.payload as Task).id}`, synthesis);
  try {
    await Promise.all(longestFirst(tasks).map(async (t) => onResult((await pool.run({ kind: 'explore-point', payload: t })) as TaskResult)));
  } finally {
    pool.close();
  }
}
