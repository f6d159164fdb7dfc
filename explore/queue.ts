/**
 * Work over a Redis queue (BullMQ): `vtw explore SPACE --queue redis://HOST:PORT` puts a sweep's
 * jobs on the queue and collects their results; `vtw worker --queue ...` (any machine with
 * vta-workbench installed) takes jobs and runs them on its local pool (explore/pool.ts), whose
 * children do what a local sweep's workers do (explore/jobs.ts). docs/explore.md, "Distributed".
 *
 * - A job's id is the content hash of what it computes (explore/pool.ts taskJobId), so adding it
 *   twice is a no-op, and a completed job (kept a week) answers a later sweep without new work.
 * - A worker holds a lock on its job that its main process (not computing: the pool's children do)
 *   renews every LOCK_MS / 2. A worker that dies (SIGKILL, power loss) stops renewing; the other
 *   workers' stalled-job check, every STALLED_MS, puts the job back in the queue after at most
 *   LOCK_MS + 2 x STALLED_MS (a check sees a job twice without its lock before it moves it). A job
 *   that stalls more than MAX_STALLED times fails.
 * - Connections give up after about a minute without Redis (BullMQ/ioredis retry forever by
 *   default); a Redis that cannot be reached at the start is one error line within seconds.
 */
import { Job, Queue, QueueEvents, Worker } from 'bullmq';
import { VtwError } from '../src/errors.ts';
import { CACHE_VERSION } from './cache.ts';
import { WorkerPool } from './pool.ts';

/** Every kind of job goes through this one queue (explore/jobs.ts), so one set of workers serves them all. */
export const QUEUE_NAME = 'vtw-jobs';
export const LOCK_MS = 8_000;
export const STALLED_MS = 4_000;
export const MAX_STALLED = 2;
/** Completed jobs stay this long: a repeated sweep's results come from them. */
const KEEP_SECONDS = 7 * 24 * 3600;
const CONNECT_MS = 2_500;
/** Reconnection tries (each ~3 s apart) before a connection gives up. */
const RECONNECTS = 20;

export interface QueueJob {
  /** Content hash of what the job computes. */
  id: string;
  kind: string;
  payload: unknown;
}

interface JobData {
  kind: string;
  /** CACHE_VERSION of the side that queued it: a worker that computes something else refuses it. */
  v: number;
  payload: unknown;
}

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: object;
}

export function parseQueueUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    u = new URL('invalid:');
  }
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!/^rediss?:$/.test(u.protocol) || !u.hostname || !Number.isInteger(db) || db < 0) {
    throw new VtwError(`--queue ${url} is not a Redis URL: use redis://HOST:PORT (e.g. redis://127.0.0.1:6379; redis://HOST:PORT/DB for another database)`);
  }
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 6379, db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

function unreachable(url: string, t: RedisTarget, why: string): VtwError {
  return new VtwError(`cannot reach Redis at ${url} (${why}): start redis-server there (e.g. redis-server --port ${t.port}) or check the --queue URL`);
}

/** Connect once, with a short timeout and no retries: one clear error instead of a hang. */
async function probe(url: string, t: RedisTarget): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis({ ...t, lazyConnect: true, connectTimeout: CONNECT_MS, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  let cause = '';
  client.on('error', (e: NodeJS.ErrnoException) => {
    cause ||= e.code === 'ECONNREFUSED' ? 'connection refused'
      : e.code === 'ETIMEDOUT' || /timeout/i.test(e.message) ? `no answer in ${CONNECT_MS / 1000} s`
      : /Unknown RESP type/.test(e.message) ? 'what answers there is not Redis' : message(e);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = await Promise.race([
      client.connect().then(() => client.info('server')),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${(CONNECT_MS * 2) / 1000} s`)), CONNECT_MS * 2))),
    ]);
    const version = /redis_version:(\d+)/.exec(info)?.[1];
    if (version && Number(version) < 5) throw new VtwError(`Redis at ${url} is version ${version}; the queue (BullMQ) needs Redis 5 or later (6.2 or later recommended)`);
  } catch (e) {
    if (e instanceof VtwError) throw e;
    throw unreachable(url, t, cause || message(e));
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** The URL is a Redis URL and a Redis answers there (one error line otherwise). */
export async function checkQueue(url: string): Promise<void> {
  await probe(url, parseQueueUrl(url));
}

/** BullMQ connection options: bounded reconnection, then `onGiveUp`. */
function connection(t: RedisTarget, onGiveUp: () => void) {
  return {
    ...t, connectTimeout: CONNECT_MS, maxRetriesPerRequest: null,
    retryStrategy: (times: number) => {
      if (times > RECONNECTS) {
        onGiveUp();
        return null;
      }
      return Math.min(times * 500, 3000);
    },
  };
}

/** The connection to Redis went away mid-work (its name is checked by the commands, which exit after it). */
export class QueueLostError extends VtwError {}

function lostError(url: string): VtwError {
  return new QueueLostError(`lost the connection to Redis at ${url} for ${LOST_SECONDS} s: check that redis-server still runs there, then run the same command again (finished work is kept)`);
}

/** Seconds without Redis before a command gives up. */
const LOST_SECONDS = 45;

/**
 * Ping Redis every few seconds on a connection of its own; after LOST_SECONDS without an answer,
 * `onLost`. (BullMQ's own connections only retry; this is what notices that they stopped working.)
 * While it runs, ioredis's "[ioredis] Unhandled error event" console lines (from BullMQ's internal
 * connections, which have no error listener of ours) are dropped: the lost connection is reported
 * once, by `onLost`; the returned stop function keeps dropping them when asked (those connections
 * keep retrying until the process exits).
 */
async function watch(t: RedisTarget, onLost: () => void): Promise<(keepFilter?: boolean) => void> {
  const { Redis } = await import('ioredis');
  const client = new Redis({ ...t, connectTimeout: CONNECT_MS, retryStrategy: () => 1000, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on('error', () => {});
  const consoleError = console.error;
  console.error = (...a: unknown[]) => {
    if (typeof a[0] === 'string' && a[0].startsWith('[ioredis] Unhandled error event')) return;
    consoleError(...a);
  };
  let lastOk = Date.now();
  let pinging = false;
  const timer = setInterval(() => {
    if (pinging) return;
    pinging = true;
    let t2: NodeJS.Timeout | undefined;
    void Promise.race([client.ping(), new Promise((_, reject) => (t2 = setTimeout(() => reject(new Error('timeout')), 3000)))])
      .then(() => (lastOk = Date.now()), () => {
        if (Date.now() - lastOk > LOST_SECONDS * 1000) onLost();
      })
      .finally(() => {
        clearTimeout(t2);
        pinging = false;
      });
  }, 3000);
  return (keepFilter = false) => {
    clearInterval(timer);
    if (!keepFilter) console.error = consoleError;
    client.disconnect();
  };
}

/**
 * Put `jobs` on the queue at `url` and wait for every result; `onResult(i, result)` gets job i's.
 * Jobs already completed on the queue answer at once; with `fresh`, they are computed again.
 */
export async function runOnQueue(url: string, jobs: QueueJob[], onResult: (index: number, result: unknown) => void, opts: { fresh?: boolean; what?: string } = {}): Promise<void> {
  const target = parseQueueUrl(url);
  await probe(url, target);
  const what = opts.what ?? 'jobs';
  let giveUp: () => void = () => {};
  const conn = connection(target, () => giveUp());
  const queue = new Queue(QUEUE_NAME, { connection: conn });
  const events = new QueueEvents(QUEUE_NAME, { connection: conn });
  queue.on('error', () => {});
  events.on('error', () => {});
  const pending = new Map<string, number[]>();
  jobs.forEach((j, i) => pending.set(j.id, [...(pending.get(j.id) ?? []), i]));
  const unwatch = await watch(target, () => giveUp());
  try {
    await events.waitUntilReady();
    await new Promise<void>((resolve, reject) => {
      let stopped = false;
      const stop = (e?: unknown) => {
        if (stopped) return;
        stopped = true;
        clearInterval(timer);
        if (e) reject(e);
        else resolve();
      };
      giveUp = () => {
        unwatch(true);
        stop(lostError(url));
      };
      const failed = (id: string, reason: string) =>
        stop(new VtwError(`a ${jobs[pending.get(id)![0]].kind} job (${id}) failed on a worker: ${reason}${/stalled/.test(reason) ? ` (its workers died ${MAX_STALLED + 1} times)` : ''}`));
      const collect = async (id: string) => {
        if (!pending.has(id)) return;
        const job = await Job.fromId(queue, id);
        if (!job || !pending.has(id) || !(await job.isCompleted())) return;
        const indices = pending.get(id)!;
        pending.delete(id);
        for (const i of indices) onResult(i, job.returnvalue);
        if (!pending.size) stop();
      };
      /** Where the events were missed (before the subscription, a dropped connection): ask each pending job's state. */
      let sweeping = false;
      const sweep = async () => {
        if (sweeping) return;
        sweeping = true;
        try {
          for (const id of [...pending.keys()]) {
            if (stopped) return;
            const state = await queue.getJobState(id);
            if (state === 'completed') await collect(id);
            else if (state === 'failed') failed(id, (await Job.fromId(queue, id))?.failedReason ?? 'unknown reason');
            else if (state === 'unknown') stop(new VtwError(`job ${id} left the queue at ${url} before it finished (was the queue cleaned?); run the same command again`));
          }
        } finally {
          sweeping = false;
        }
      };
      const timer = setInterval(() => void sweep().catch(stop), 5_000);
      events.on('completed', ({ jobId }) => void collect(jobId).catch(stop));
      events.on('failed', ({ jobId, failedReason }) => {
        if (pending.has(jobId)) failed(jobId, failedReason);
      });
      void (async () => {
        // A job that failed before (or, with fresh, completed) is removed so that adding it runs it again.
        for (const id of pending.keys()) {
          const state = await queue.getJobState(id);
          if (state === 'failed' || (opts.fresh && state === 'completed')) await queue.remove(id);
        }
        const unique = [...pending].map(([id, [i]]) => ({ id, job: jobs[i] }));
        for (let k = 0; k < unique.length; k += 500) {
          await queue.addBulk(unique.slice(k, k + 500).map(({ id, job }) => ({
            name: job.kind,
            data: { kind: job.kind, v: CACHE_VERSION, payload: job.payload } satisfies JobData,
            opts: { jobId: id, attempts: 1, removeOnComplete: { age: KEEP_SECONDS } },
          })));
        }
        await sweep();
        if (pending.size && !stopped && (await queue.getWorkersCount()) === 0) {
          process.stderr.write(`vtw: ${pending.size} ${what} queued on ${url}, no worker connected yet: start \`vtw worker --queue ${url}\` on any machine with vta-workbench\n`);
        }
      })().catch(stop);
    });
  } catch (e) {
    if (e instanceof VtwError) throw e;
    throw new VtwError(`the queue at ${url} failed: ${message(e)}`);
  } finally {
    unwatch();
    await Promise.race([Promise.allSettled([events.close(), queue.close()]), new Promise((r) => setTimeout(r, 3000))]);
  }
}

export interface ServeOptions {
  /** Local worker processes, and jobs taken at a time. */
  workers: number;
  /** One line per job started and finished, and per connection problem. */
  log: (line: string) => void;
}

export interface Server {
  /** Resolves when the worker was closed; rejects when it lost Redis. */
  done: Promise<void>;
  /** Finish the jobs in hand, then stop. */
  close(): Promise<void>;
}

/** Take jobs from the queue at `url` and run them on a local pool of `workers` processes. */
export async function serveQueue(url: string, opts: ServeOptions): Promise<Server> {
  const target = parseQueueUrl(url);
  await probe(url, target);
  const pool = new WorkerPool(opts.workers, (j) => `a ${j.kind} job`);
  pool.warm();
  let fail: (e: Error) => void = () => {};
  const lost = new Promise<never>((_, reject) => (fail = reject));
  lost.catch(() => {});
  const worker = new Worker(QUEUE_NAME, async (job: Job) => {
    const data = job.data as JobData;
    if (data.v !== CACHE_VERSION) {
      throw new Error(`this worker computes results of cache version ${CACHE_VERSION}, the job asks for ${data.v}: run the same vta-workbench version on both sides`);
    }
    const t0 = performance.now();
    opts.log(`start ${data.kind} ${job.id}`);
    const result = await pool.run({ kind: data.kind, payload: data.payload });
    opts.log(`done ${data.kind} ${job.id} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return result;
  }, {
    connection: connection(target, () => fail(lostError(url))),
    concurrency: opts.workers, lockDuration: LOCK_MS, stalledInterval: STALLED_MS, maxStalledCount: MAX_STALLED,
  });
  const seen = new Set<string>();
  worker.on('error', (e) => {
    const m = message(e);
    if (!seen.has(m)) opts.log(`queue: ${m}`);
    seen.add(m);
  });
  worker.on('failed', (job, e) => opts.log(`failed ${job?.name ?? 'job'} ${job?.id ?? ''}: ${message(e)}`));
  await worker.waitUntilReady();
  const unwatch = await watch(target, () => fail(lostError(url)));
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= worker.close().finally(() => pool.close()));
  // BullMQ closes a worker whose connection gave up: that is a lost Redis too, unless close() asked.
  const closed = new Promise<void>((resolve) => worker.on('closed', () => (closing ? resolve() : fail(lostError(url)))));
  return {
    done: Promise.race([closed, lost.catch(async (e: Error) => {
      unwatch(true);
      await Promise.race([worker.close(true), new Promise((r) => setTimeout(r, 2000))]);
      pool.close();
      throw e;
    })]).then(() => unwatch()),
    close,
  };
}
