/**
 * The distributed sweep's acceptance test (npm run test:slow): redis-server on a loopback port, two
 * `vtw worker` processes, one killed with SIGKILL while it holds a point; the sweep completes, every
 * point once, each job finished once, and the results equal a local run's. Also measures how long
 * the killed worker's point waited before the other worker took it (explore/queue.ts: at most
 * LOCK_MS + 2 x STALLED_MS). The fast version (one worker, no kill) is test/explore-queue.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpace } from '../../explore/space.ts';
import { explore, type PointRecord } from '../../explore/run.ts';
import { LOCK_MS, STALLED_MS } from '../../explore/queue.ts';
import { testNeeding, toolsMissing } from '../helpers/tools.ts';
import { startRedis, startWorker } from '../helpers/queue.ts';

const scratch = mkdtempSync(join(tmpdir(), 'vtw-explore-queue-kill-'));
const readRecords = (dir: string): PointRecord[] => readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

// 12 points of about half a second each (a 32x32x16x16 3x3 convolution on 1x2 and 1x4 GEMMs).
const space = checkSpace({
  name: 'queue-kill',
  vary: { LOG_BLOCK: [1, 2], LOG_WGT_BUFF_SIZE: [8, 9, 10], LOG_INP_BUFF_SIZE: [9, 10] },
  fixed: { TARGET: 'sim', LOG_UOP_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 11 },
  workloads: ['conv2d:32,32,16,16,3,1,1'],
  measure: { area: 'estimate' },
  objectives: { cycles: 'min', multipliers: 'min' },
});

testNeeding(() => toolsMissing('redis-server'))('two vtw workers, one killed with SIGKILL mid-sweep: every point once, results equal to a local run', async () => {
  const redis = await startRedis();
  const a = startWorker(redis.url, 1);
  const b = startWorker(redis.url, 1);
  try {
    const local = await explore(space, { out: join(scratch, 'local'), workers: 1, progress: false });
    await Promise.all([a.waitFor(/^vtw worker:/), b.waitFor(/^vtw worker:/)]);
    const t0 = Date.now();
    const sweep = explore(space, { out: join(scratch, 'queued'), workers: 1, queue: redis.url, progress: false });
    // Kill worker A while it holds its first job.
    const started = await a.waitFor(/ start explore-point /);
    const job = started.line.split(' ').pop()!;
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    const queued = await sweep;
    const seconds = (Date.now() - t0) / 1000;
    const taken = await b.waitFor(new RegExp(` start explore-point ${job}$`), 1);
    const waited = (taken.at - killedAt) / 1000;
    console.log(`  sweep of ${space.size} points with worker A killed (SIGKILL) on job ${job.slice(0, 8)}: ${seconds.toFixed(1)} s; worker B took that job ${waited.toFixed(1)} s after the kill`);
    assert.ok(waited <= (LOCK_MS + 2 * STALLED_MS) / 1000 + 3, `the killed worker's job waited ${waited} s`);

    const recs = readRecords(join(scratch, 'queued'));
    assert.equal(recs.map((r) => r.id), [...Array(space.size).keys()], 'every point once, in order');
    assert.equal(recs, readRecords(join(scratch, 'local')));
    assert.equal({ ...queued.summary, seconds: 0, out: '' }, { ...local.summary, seconds: 0, out: '' });
    // Each job finished exactly once: A finished none of the one it was killed on, B finished it.
    const done = [...a.lines, ...b.lines].filter((l) => / done explore-point /.test(l)).map((l) => l.split(' ')[3]);
    assert.is(done.length, space.size, [...a.lines, '--', ...b.lines].join('\n'));
    assert.is(new Set(done).size, space.size, 'no job finished twice');
    assert.ok(!a.lines.some((l) => l.includes(`done explore-point ${job}`)) && b.lines.some((l) => l.includes(`done explore-point ${job}`)));
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await redis.stop();
  }
});

test.run();
