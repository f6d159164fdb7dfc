/**
 * Slow tier: `npm run train-lenet` retrains LeNet-5 from scratch (a few minutes on 2 cores) and must
 * write exactly the committed models/lenet5.onnx, byte for byte, and reach the 98.5 % target.
 * The byte comparison holds for the Node.js version that trained the committed file (its log names
 * it, docs/models.md explains why another version may differ); with another version the bytes are
 * not compared and the test says so.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NAME = 'npm run train-lenet reproduces models/lenet5.onnx byte for byte';

test(NAME, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-lenet-'));
  try {
    const out = join(dir, 'lenet5.onnx');
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/train-lenet.ts', '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    const code = await new Promise<number | null>((done) => child.on('close', done));
    assert.is(code, 0, 'train-lenet failed (or missed the 98.5 % target)');
    const committedLog = readFileSync(new URL('../../models/lenet5.train.log', import.meta.url), 'utf8');
    const trainedWith = /Node (v[0-9.]+)/.exec(committedLog)?.[1];
    if (trainedWith !== process.version) {
      console.log(`SKIP ${NAME}: retrained and reached the target, but the committed model was trained with Node ${trainedWith}, this is ${process.version}, so the bytes are not compared`);
      return;
    }
    const committed = readFileSync(new URL('../../models/lenet5.onnx', import.meta.url));
    assert.ok(Buffer.compare(readFileSync(out), committed) === 0, 'retrained model differs from models/lenet5.onnx');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
