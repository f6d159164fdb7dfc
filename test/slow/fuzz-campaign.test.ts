/**
 * Slow tier: `npm run fuzz`, the differential campaign (scripts/fuzz.ts: 2,500 random legal programs
 * on each of 7 configurations, TypeScript simulator and Verilated RTL in lock step) must end with no
 * mismatch. Mismatches leave reproducers in build/fuzz/.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { verilatorTest } from '../helpers/tools.ts';

const PROGRAMS_PER_CONFIG = 2500;
const CONFIGS = ['default', 'batch2-block8', 'ice40-small', 'ice40-tiny', 'up5k-1x4', 'hx8k-1x4', 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr.json'];

verilatorTest(`npm run fuzz: ${PROGRAMS_PER_CONFIG * CONFIGS.length} random programs agree on both engines`, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/fuzz.ts', '--count', String(PROGRAMS_PER_CONFIG), '--configs', CONFIGS.join(',')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    process.stdout.write(d);
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const last = out.trimEnd().split('\n').pop();
  assert.is(last, `${PROGRAMS_PER_CONFIG * CONFIGS.length} passed, 0 failed`, out);
  assert.is(code, 0);
});

test.run();
