/**
 * FETCH_DECODE_SERIAL (docs/microarch.md §2.1): the decode's products computed by a serial
 * shift-and-add unit. The configuration refuses what the unit cannot keep up with (one line each);
 * the TS simulator delays each instruction by the documented latency; the RTL is lint-clean and
 * agrees with the TS simulator bit for bit and cycle for cycle, without command queues (as the UP5K
 * presets) and with them, on the conformance suite, random programs and the illegal instructions
 * whose checks need the products. More random programs: test/slow/fetch-serial.test.ts.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import { fetchDecodeSerialLatency, timingOf } from '../src/uarch/index.ts';
import { assemble } from '../src/program/index.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { runCli } from './helpers/cli.ts';
import { verilatorTest } from './helpers/tools.ts';
import { lintVta } from './helpers/lint-vta.ts';
import { BASE, SERIAL, SERIAL_CONFIGS, cosimSuite, dramLimitChecks, productChecks } from './helpers/fetch-serial.ts';

const RANDOM = 3;

test('the key is off by default and its latency follows the largest depth', () => {
  assert.is(loadConfig('up5k-1x2').fetchDecodeSerial, false);
  assert.is(timingOf(loadConfig('up5k-1x2')).fetchDecodeDelay, 0);
  const d = deriveConfig(SERIAL);
  // largest depth 128 (ACC, OUT): operands of bitsFor(129) = 8 bits, 2 bits a cycle: 4 steps + 1
  assert.is(Math.max(...Object.values(d.depth)), 128);
  assert.is(timingOf(d).fetchDecodeDelay, 5);
  assert.is(fetchDecodeSerialLatency(128), 5);
  assert.is(fetchDecodeSerialLatency(127), 5); // 7 bits: still 4 steps
  assert.is(fetchDecodeSerialLatency(6), 3); // 3-bit operands, but the 4-bit pad fields take 2 steps
  assert.is(fetchDecodeSerialLatency(65536), 10); // 17 bits: 9 steps
});

test('bad combinations: one line naming the keys and the fix', async () => {
  const err = (raw: unknown) => {
    try {
      deriveConfig(raw);
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  };
  // 64-bit beats at one a cycle bring an instruction every 2 cycles
  const fast = err({ FETCH_DECODE_SERIAL: true });
  assert.match(fast, /^FETCH_DECODE_SERIAL takes \d+ cycles per instruction, but LOG_BUS_WIDTH = 6 with MEM_CYCLES_PER_BEAT = 1 brings one every 2; use MEM_CYCLES_PER_BEAT >= \d+/);
  assert.not.match(fast, /\n/);
  assert.match(err({ FETCH_DECODE_SERIAL: true, LOG_BUS_WIDTH: 8 }), /^FETCH_DECODE_SERIAL decodes one instruction at a time, but LOG_BUS_WIDTH = 8 brings 2 per beat; use LOG_BUS_WIDTH <= 7/);
  assert.match(err({ ...SERIAL, MEM_CYCLES_PER_BEAT: 1 }), /brings one every 4; use MEM_CYCLES_PER_BEAT >= 2,/);
  // the suggested fix is accepted
  assert.is(err({ FETCH_DECODE_SERIAL: true, MEM_CYCLES_PER_BEAT: Number(/>= (\d+)/.exec(fast)![1]) }), '');
  const r = await runCli('gen', '--config', '{"FETCH_DECODE_SERIAL": true}', '-o', '/tmp/vtw-fetch-serial-never-written');
  assert.is.not(r.code, 0);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /FETCH_DECODE_SERIAL takes/);
  assert.not.match(r.stderr, /at .*\.ts:\d+/);
  assert.not.ok(existsSync('/tmp/vtw-fetch-serial-never-written'), 'no output folder for a refused configuration');
});

test('TS simulator: each instruction becomes available exactly the latency later', () => {
  const src = (cfg: Record<string, unknown>) =>
    `.config ${JSON.stringify(cfg)}\n.text\n  LOAD UOP x_size=1 y_size=1 x_stride=1 dram_base=0\n  FINISH\n`;
  const off = runSync(assemble(src(BASE)));
  const on = runSync(assemble(src(SERIAL)));
  assert.is(off.error, undefined);
  assert.is(on.error, undefined);
  // the first instruction starts as it becomes available (its module is idle, it pops nothing):
  // requested in cycle 0, first beat after MEM_READ_LATENCY 4, its 4th 32-bit beat 3 x 2 cycles
  // later (cycle 10), available in cycle 11 without the option and 11 + 5 with it
  assert.is(off.insnTiming![0].start, 11);
  assert.is(on.insnTiming![0].start, 16);
  // fetch waits for memory (the decode) those 5 cycles more; FINISH, 8 cycles behind, waits for the LOAD either way
  assert.is(on.counters.modules.fetch.waitMemory - off.counters.modules.fetch.waitMemory, 5);
  assert.is(on.insnTiming![1].start, off.insnTiming![1].start);
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const [label, cfg] = SERIAL_CONFIGS[0];

// One configuration here (one Verilator model); every configuration, generic and iCE40 lint and
// 200 random programs each in test/slow/fetch-serial.test.ts.
verilatorTest(`verilator -Wall is clean with FETCH_DECODE_SERIAL (${label}, iCE40)`, async () => {
  await lintVta(deriveConfig(cfg), 'ice40');
});

verilatorTest(`${label}: conformance and ${RANDOM} random programs match the TS simulator`, async () => {
  await cosimSuite(rtl, cfg, RANDOM);
});

verilatorTest(`${label}: the checks that need the products stop both engines at the same instruction and field`, async () => {
  await productChecks(rtl, label, cfg);
});

verilatorTest(`${label}: LOADs and STOREs ending at dram_size pass the DRAM range check, one element more fails`, async () => {
  await dramLimitChecks(rtl, label, cfg, [102]);
});

test.run();
