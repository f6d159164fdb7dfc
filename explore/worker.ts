/**
 * A worker process of the local pool (explore/pool.ts): takes jobs over IPC (`{seq, kind, payload}`,
 * explore/jobs.ts), answers each with `{seq, result}` or `{seq, fatal}`. It ends when its parent
 * disconnects (after the job in hand, if any).
 *
 * Test hook: with VTW_EXPLORE_DIE_ONCE=ID:FILE the worker that gets point ID first, while FILE does
 * not exist, creates FILE and dies as if killed (test/slow/explore-pool.test.ts checks the retry).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { runJob, type Job } from './jobs.ts';

const [dieId, dieFile] = (process.env.VTW_EXPLORE_DIE_ONCE ?? '').split(':');

process.on('message', (m: Job & { seq: number }) => {
  const pointId = (m.payload as { id?: unknown } | null)?.id;
  if (dieFile && m.kind === 'explore-point' && String(pointId) === dieId && !existsSync(dieFile)) {
    writeFileSync(dieFile, `${process.pid}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  void runJob(m).then(
    (result) => process.send?.({ seq: m.seq, result }),
    (e: unknown) => process.send?.({ seq: m.seq, fatal: e instanceof Error ? e.message : String(e) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
