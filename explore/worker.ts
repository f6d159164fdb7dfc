/**
 * A worker process of the local pool (explore/pool.ts): takes tasks over IPC, answers each with
 * its result. It ends when its parent disconnects.
 *
 * Test hook: with VTW_EXPLORE_DIE_ONCE=ID:FILE the worker that gets point ID first, while FILE does
 * not exist, creates FILE and dies as if killed (test/slow/explore-pool.test.ts checks the retry).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { evaluateTask, type Task } from './evaluate.ts';

const [dieId, dieFile] = (process.env.VTW_EXPLORE_DIE_ONCE ?? '').split(':');

process.on('message', (t: Task) => {
  if (dieFile && String(t.id) === dieId && !existsSync(dieFile)) {
    writeFileSync(dieFile, `${process.pid}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  void evaluateTask(t).then(
    (r) => process.send?.(r),
    (e: unknown) => process.send?.({ id: t.id, fatal: e instanceof Error ? e.message : String(e) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
