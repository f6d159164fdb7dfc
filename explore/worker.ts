/**
 * A worker thread of the local pool (explore/pool.ts): takes jobs from its parent thread
 * (`{seq, kind, payload}`, explore/jobs.ts), answers each with `{seq, result}` or `{seq, fatal}`.
 * Its parent's first message, `{yosys}`, carries yosys's compiled WebAssembly (or null): jobs start
 * before it arrives and their yosys runs wait for it, so that no job compiles yosys again. The parent ends the thread when it closes the pool.
 *
 * Test hook: with VTW_EXPLORE_DIE_ONCE=ID:FILE the worker that gets point ID first, while FILE does
 * not exist, creates FILE and ends its thread at once, as if it had been killed
 * (test/slow/explore-pool.test.ts checks the retry).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { expectYosysModules, type YosysModules } from '../hw/yosys.ts';
import { runJob, type Job } from './jobs.ts';

const port = parentPort;
if (!port) throw new Error('explore/worker.ts runs in a worker thread of explore/pool.ts');
const [dieId, dieFile] = (process.env.VTW_EXPLORE_DIE_ONCE ?? '').split(':');

let primed: (m: YosysModules | null) => void = () => {};
// jobs start at once; their yosys runs wait for the parent's compiled yosys (simulations go first meanwhile)
expectYosysModules(new Promise<YosysModules | null>((resolve) => (primed = resolve)));

port.on('message', (m: (Job & { seq: number }) | { yosys: YosysModules | null }) => {
  if ('yosys' in m) return primed(m.yosys);
  const pointId = (m.payload as { id?: unknown } | null)?.id;
  if (dieFile && m.kind === 'explore-point' && String(pointId) === dieId && !existsSync(dieFile)) {
    writeFileSync(dieFile, `${process.pid}\n`);
    process.exit(137);
  }
  void runJob(m).then(
    (result) => port.postMessage({ seq: m.seq, result }),
    (e: unknown) => port.postMessage({ seq: m.seq, fatal: e instanceof Error ? e.message : String(e) }),
  );
});
port.postMessage({ ready: true });
