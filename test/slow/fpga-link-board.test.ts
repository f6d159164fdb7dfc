/**
 * The VTA board top through the fast link (npm run test:slow): the up5k-1x2 preset on the
 * iCEBreaker simulated at 1 Mbaud and 3 Mbaud from its 12 MHz clock (12 and 4 clocks per bit) with
 * WRITE_STREAM, through `vtw run --board icebreaker --sim --baud N`: a compiled convolution and a
 * compiled dense layer (vtw op ... --emit) give the cycles and output digests `vtw sim` gives, and
 * the simulated load runs at the line rate. The fast checks are test/fpga-link-fast.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { verilatorTest } from '../helpers/tools.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-linkboard-'));
const PROGRAMS: Array<[string, string[]]> = [
  ['conv', ['conv2d', '--shape', '14,14,16,16,3,1,1']],
  ['dense', ['dense', '--shape', '16,256,64']],
];

verilatorTest('compiled layers through the simulated iCEBreaker at 1 and 3 Mbaud: bit- and cycle-exact with vtw sim, loads at the line rate', async () => {
  for (const [name, args] of PROGRAMS) {
    const file = join(tmp, `${name}.vtp`);
    const c = await runCli('op', ...args, '--config', 'up5k-1x2', '--emit', file);
    assert.is(c.code, 0, c.stderr);
    const ref = JSON.parse((await runCli('sim', file, '--json')).stdout);
    for (const baud of [1_000_000, 3_000_000]) {
      const r = await runCli('run', file, '--board', 'icebreaker', '--sim', '--baud', String(baud), '--json');
      assert.is(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.is(j.cycles, ref.cycles, `${name} at ${baud}`);
      assert.equal(j.outputs, ref.outputs, `${name} at ${baud}`);
      const s = j.board.simulated;
      assert.is(s.baud, baud);
      // 8N1 carries at most baud/10 bytes a second; the stream's overhead is one byte per 256 and a frame per 64 KiB.
      assert.ok(s.loadBytesPerSecond > 0.95 * (baud / 10) && s.loadBytesPerSecond <= baud / 10, `${name} at ${baud}: ${s.loadBytesPerSecond} bytes/s`);
      assert.ok(Math.abs(s.coreSeconds - ref.cycles / 12e6) < 1e-9);
      console.log(`${name} at ${baud} baud: load ${(s.loadSeconds * 1e3).toFixed(1)} ms (${Math.round(s.loadBytesPerSecond)} B/s), core ${(s.coreSeconds * 1e3).toFixed(2)} ms, read ${(s.readSeconds * 1e3).toFixed(1)} ms`);
    }
  }
});

test.run();
