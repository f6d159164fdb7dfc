/**
 * A worker process of the local pool (explore/pool.ts): takes tasks over IPC, answers each with
 * its result. It ends when its parent disconnects.
 */
import { evaluateTask, type Task } from './evaluate.ts';

process.on('message', (t: Task) => {
  void evaluateTask(t).then(
    (r) => process.send?.(r),
    (e: unknown) => process.send?.({ id: t.id, fatal: e instanceof Error ? e.message : String(e) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
