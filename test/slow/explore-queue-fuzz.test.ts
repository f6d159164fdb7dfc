/**
 * `npm run fuzz -- --queue URL` (npm run test:slow): the differential fuzzing campaign's batches go
 * through a real redis-server to a `vtw worker` (job kind fuzz-batch, explore/fuzz-batch.ts) and
 * give the same per-configuration counts as the local campaign, batch by batch.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { execa } from 'execa';
import { testNeeding, toolsMissing, verilatorMissing } from '../helpers/tools.ts';
import { startRedis, startWorker } from '../helpers/queue.ts';

const ARGS = ['--count', '12', '--configs', 'ice40-tiny,default', '--seed', '100'];
const fuzz = async (extra: string[]) => {
  const r = await execa(process.execPath, ['--import', 'tsx', 'scripts/fuzz.ts', ...ARGS, ...extra], { reject: false, stdin: 'ignore' });
  assert.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  return String(r.stdout).trim().split('\n');
};

testNeeding(() => toolsMissing('redis-server') ?? verilatorMissing())('npm run fuzz -- --queue: batches on a vtw worker, the same counts as the local campaign', async () => {
  const local = await fuzz([]);
  const redis = await startRedis();
  const worker = startWorker(redis.url, 2);
  try {
    const queued = await fuzz(['--queue', redis.url, '--batch', '5']);
    assert.equal(queued, local);
    assert.is(queued.at(-1), '24 passed, 0 failed');
    // 12 programs in batches of 5, 5 and 2, per configuration: 6 jobs, each done once.
    assert.is(worker.lines.filter((l) => / done fuzz-batch /.test(l)).length, 6, worker.lines.join('\n'));
  } finally {
    await worker.stop();
    await redis.stop();
  }
});

test.run();
