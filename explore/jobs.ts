/**
 * The kinds of work a worker runs, wherever the work comes from (the local pool, explore/pool.ts,
 * or a Redis queue, explore/queue.ts): a job is `{kind, payload}`, plain JSON in and out.
 * Loaded by worker processes: keep heavy imports inside the handlers that need them.
 */
import { VtwError } from '../src/errors.ts';

export interface Job {
  kind: string;
  payload: unknown;
}

type Handler = (payload: never) => Promise<unknown>;

const HANDLERS: Record<string, () => Promise<Handler>> = {
  /** One design point's missing measurements (explore/evaluate.ts): a Task in, a TaskResult out. */
  'explore-point': async () => (await import('./evaluate.ts')).evaluateTask as Handler,
  /** A batch of differential fuzzing programs (explore/fuzz-batch.ts): a FuzzBatch in, a FuzzBatchResult out. */
  'fuzz-batch': async () => ((b: never) => import('./fuzz-batch.ts').then((m) => m.runFuzzBatch(b))) as Handler,
};

export const JOB_KINDS = Object.keys(HANDLERS);

export async function runJob(job: Job): Promise<unknown> {
  const load = Object.hasOwn(HANDLERS, job.kind) ? HANDLERS[job.kind] : undefined;
  if (!load) throw new VtwError(`unknown job kind '${job.kind}' (this worker runs ${JOB_KINDS.join(', ')}); update vta-workbench on the worker`);
  return (await load())(job.payload as never);
}
