/**
 * `vtw explore --queue` and `vtw worker` (explore/queue.ts) against a real redis-server on a
 * loopback port: one worker process runs the tiny space and the results equal a local run's; a
 * second sweep of the same points answers from the queue's completed jobs; an unreachable Redis is
 * one error line, fast, with no output folder. The two-worker SIGKILL test is in
 * test/slow/explore-queue-kill.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpace } from '../explore/space.ts';
import { explore, type PointRecord } from '../explore/run.ts';
import { main } from '../src/cli/main.ts';
import { testNeeding, toolsMissing } from './helpers/tools.ts';
import { freePort, startRedis, startWorker } from './helpers/queue.ts';

const root = join(import.meta.dirname, '..');
const tiny = checkSpace(JSON.parse(readFileSync(join(root, 'examples/space-tiny.json'), 'utf8')));
const scratch = mkdtempSync(join(tmpdir(), 'vtw-explore-queue-'));
const readRecords = (dir: string): PointRecord[] => readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const noCached = (rs: PointRecord[]) => rs.map((r) => ({ ...r, cached: false }));

testNeeding(() => toolsMissing('redis-server'))('one vtw worker runs the tiny space through redis-server: the results equal a local run', async () => {
  const redis = await startRedis();
  const worker = startWorker(redis.url, 1);
  try {
    const local = await explore(tiny, { out: join(scratch, 'local'), workers: 1, progress: false });
    const queued = await explore(tiny, { out: join(scratch, 'queued'), workers: 1, queue: redis.url, progress: false });
    assert.equal({ ...queued.summary, seconds: 0, out: '' }, { ...local.summary, seconds: 0, out: '' });
    assert.equal(readRecords(join(scratch, 'queued')), readRecords(join(scratch, 'local')));
    // The worker ran each of the 3 feasible points' jobs once.
    const done = worker.lines.filter((l) => / done explore-point /.test(l));
    assert.is(done.length, 3, worker.lines.join('\n'));
    // Same points, new output folder: the queue's completed jobs answer, the worker does nothing.
    const again = await explore(tiny, { out: join(scratch, 'again'), workers: 1, queue: redis.url, progress: false });
    assert.is(again.summary.evaluated, 3);
    assert.equal(noCached(readRecords(join(scratch, 'again'))), noCached(readRecords(join(scratch, 'local'))));
    assert.is(worker.lines.filter((l) => / done explore-point /.test(l)).length, 3, 'no job ran twice');
  } finally {
    await worker.stop();
    await redis.stop();
  }
  assert.is(worker.child.exitCode, 0, 'SIGTERM stops the worker cleanly');
});

test('an unreachable Redis: one error line naming the URL and the fix, exit 1, no output folder, no hang', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  const out = join(scratch, 'never');
  for (const argv of [['explore', join(root, 'examples/space-tiny.json'), '--out', out, '--queue', url], ['worker', '--queue', url]]) {
    const write = process.stderr.write.bind(process.stderr);
    let err = '';
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    const t0 = performance.now();
    let code: number;
    try {
      code = await main(argv);
    } finally {
      process.stderr.write = write;
    }
    assert.is(code, 1, argv[0]);
    assert.ok(performance.now() - t0 < 8000, `${argv[0]} gave up in ${(performance.now() - t0) / 1000} s`);
    assert.is(err.trim().split('\n').length, 1, err);
    assert.match(err, new RegExp(`^vtw: error: cannot reach Redis at ${url} \\(connection refused\\): start redis-server there .* or check the --queue URL`));
  }
  assert.not.ok(existsSync(out), 'no output folder');
});

test.run();
