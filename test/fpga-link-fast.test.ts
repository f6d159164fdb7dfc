/**
 * The fast host link: bauds checked against each board's USB-UART bridge and the UART tolerance,
 * WRITE_STREAM's frame layout, and the streaming link in Verilator at 1 Mbaud's divider of a
 * 12 MHz clock (12 clocks per bit): bit-exact round trips, a damaged block, the simulated time.
 * The VTA board top through `vtw run --sim --baud` is in test/slow/fpga-link-board.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOARDS, getBoard } from '../fpga/boards/index.ts';
import { demoTop } from '../fpga/demo.ts';
import { baudTolerance, bridgeBaud, checkBaud, planBaud } from '../fpga/link/baud.ts';
import { LinkHost } from '../fpga/link/host.ts';
import { Cmd, Status, crc8, encodeStream } from '../fpga/link/protocol.ts';
import { SimTransport } from '../fpga/link/sim.ts';
import { deriveConfig } from '../src/config/derive.ts';
import { PRESETS } from '../src/config/presets.ts';
import { VtwError } from '../src/errors.ts';
import { serializeProgram } from '../src/program/container.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { runCli } from './helpers/cli.ts';
import { verilatorMissing, verilatorTest } from './helpers/tools.ts';

const ib = getBoard('icebreaker');
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.instance(e, VtwError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
};

test('every board names its USB-UART part and its highest baud; the FTDI H parts reach 12 Mbaud', () => {
  for (const b of BOARDS) {
    assert.ok(b.uart.bridge.part.length > 0, b.name);
    assert.ok(b.uart.bridge.maxBaud >= 115200, b.name);
  }
  for (const n of ['icebreaker', 'icestick', 'hx8k-breakout', 'upduino3']) assert.is(getBoard(n).uart.bridge.maxBaud, 12_000_000, n);
});

test('FTDI divisors: 12 MHz / (n + k/8), and 1 or 1.5; the baud an FTDI part makes for a request', () => {
  const ft = ib.uart.bridge;
  assert.is(bridgeBaud(ft, 3_000_000), 3_000_000);
  assert.is(bridgeBaud(ft, 12_000_000), 12_000_000);
  assert.is(bridgeBaud(ft, 8_000_000), 8_000_000);
  // 12e6 / 921600 = 13.02 -> 13: 923077 baud
  assert.is(Math.round(bridgeBaud(ft, 921_600)), 923_077);
  // 12e6 / 115200 = 104.17 -> 104.125
  assert.is(bridgeBaud(ft, 115_200), 12e6 / 104.125);
  assert.is(bridgeBaud(getBoard('icesugar').uart.bridge, 115_200), 115_200);
});

test('the link divider from the clock: exact dividers pass, a baud off by more than the UART tolerance is refused in one line', () => {
  const p = checkBaud(ib, 12e6, 1_000_000);
  assert.equal([p.clksPerBit, p.deviceBaud, p.mismatch], [12, 1_000_000, 0]);
  assert.is(checkBaud(ib, 12e6, 3_000_000).clksPerBit, 4);
  assert.is(checkBaud(ib, 12e6, 115_200).clksPerBit, 104);
  assert.is(checkBaud(ib, 12e6, 921_600).clksPerBit, 13);
  // tolerance: (0.5 - 1/cpb) / 9.5 / 2
  assert.ok(Math.abs(baudTolerance(4) - 0.25 / 19) < 1e-12);
  // 12 MHz / 2.5 Mbaud = 4.8 -> 5 clocks: 2.4 Mbaud; FTDI's divisor 4.8 -> 4.75 (eighths): 2526316 baud; 5.1 % apart
  const off = errorOf(() => checkBaud(ib, 12e6, 2_500_000));
  assert.match(off, /^2500000 is a baud the icebreaker board cannot do: 5 clocks per bit of the 12 MHz clock make 2400000 baud and the FT2232H makes 2526316, 5\.1 % apart, more than the 1\.6 % the UART tolerates; bauds it can do from this clock: 3000000, 2000000, 1500000, 1000000$/);
  assert.match(errorOf(() => checkBaud(ib, 12e6, 4_000_000)), /^4000000 is a baud the icebreaker board cannot do: the 12 MHz clock gives 3\.00 clocks per bit and the link's UART needs at least 4; bauds it can do/);
  assert.match(errorOf(() => checkBaud(ib, 120e6, 13_000_000)), /^13000000 is a baud the icebreaker board cannot do: its FT2232H reaches 12 Mbaud; bauds it can do from this clock: 12000000, 6000000/);
  assert.match(errorOf(() => checkBaud(getBoard('icesugar'), 12e6, 1_000_000)), /^1000000 is a baud the icesugar board cannot do: its iCELink .* reaches 115200 baud; bauds it can do from this clock: 115200$/);
  assert.is(planBaud(ib.uart.bridge, 12e6, 2_500_000), null);
});

test('WRITE_STREAM frames: header, then blocks of words each followed by its CRC-8 (the last block shorter)', () => {
  const data = new Uint8Array(40).map((_, i) => i * 7 + 1); // 10 words in blocks of 4: 4, 4, 2
  const f = encodeStream(9, 0x100, data, 4);
  assert.equal([...f.subarray(0, 9)], [0xa5, Cmd.WRITE_STREAM, 9, 0, 1, 0, 0, 10, 0]);
  assert.is(f[9], crc8(f.subarray(0, 9)));
  const body = f.subarray(10);
  assert.is(body.length, 40 + 3);
  assert.equal([...body.subarray(0, 16)], [...data.subarray(0, 16)]);
  assert.is(body[16], crc8(data.subarray(0, 16)));
  assert.is(body[33], crc8(data.subarray(16, 32)));
  assert.equal([...body.subarray(34, 42)], [...data.subarray(32, 40)]);
  assert.is(body[42], crc8(data.subarray(32, 40)));
});

test('vtw run: a baud the board cannot do is one line, before any port is opened or simulation built', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vtw-linkfast-'));
  const d = deriveConfig(PRESETS.find((p) => p.name === 'up5k-1x2')!.json);
  const prog = join(tmp, 'p.json');
  writeFileSync(prog, serializeProgram(conformanceCases(d)[0].build(d, 1).program));
  for (const [baud, re] of [['2500000', /2500000 is a baud the icebreaker board cannot do: 5 clocks per bit/], ['24000000', /24000000 is a baud the icebreaker board cannot do: its FT2232H reaches 12 Mbaud/]] as const) {
    for (const where of [['--sim'], ['--port', '/dev/vtw-no-such-port']]) {
      const r = await runCli('run', prog, '--board', 'icebreaker', ...where, '--baud', baud);
      assert.is.not(r.code, 0);
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
    }
  }
});

// The demo top's link at 12 clocks per bit (1 Mbaud from 12 MHz) with WRITE_STREAM in blocks of 8 words.
const BLOCK = 8;
let sim: SimTransport | undefined;
let startError: unknown = null;
test.before(async () => {
  if (verilatorMissing()) return;
  try {
    sim = await SimTransport.start(demoTop(ib, { clksPerBit: 12, timeoutCycles: 480, memWords: 1024, streamBlockWords: BLOCK, top: 'vtw_demo_stream' }));
  } catch (e) {
    startError = e;
  }
});
test.after(async () => {
  await sim?.close();
});
const simHost = (opts: ConstructorParameters<typeof LinkHost>[1] = {}) => {
  if (startError || !sim) throw startError ?? new Error('no simulation');
  return new LinkHost(sim, { timeoutMs: 3000, deviceTimeoutMs: 20, baud: 20_000, ...opts });
};

verilatorTest('the streaming link at 1 Mbaud: PING offers it, streamed writes read back bit for bit, at the line rate in simulated time', async () => {
  const h = simHost({ streamWords: 100 });
  const ping = await h.ping();
  assert.equal([ping.memWords, ping.streamBlockWords], [1024, BLOCK]);
  const data = new Uint8Array(4 * 1000).map((_, i) => (i * 37 + (i >> 8)) & 0xff); // 10 streams of 100 words (12 full blocks + 4 words)
  const c0 = await sim!.linkCycles();
  await h.writeMem(0, data);
  const c1 = await sim!.linkCycles();
  assert.equal([...(await h.readMem(0, data.length))], [...data]);
  // Unaligned ends go through read-merge-write; the words between stream.
  await h.writeMem(4 * 1000 + 2, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
  assert.equal([...(await h.readMem(4 * 1000, 12))], [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
  // Simulated time of the writes: 10 frames of 400 payload bytes, 13 block CRCs, 10-byte header, 5-byte response,
  // 10 bits of 12 cycles a byte; the link adds at most a few cycles per frame.
  const wire = 10 * (400 + 13 + 10 + 5);
  const active = c1.cycles - c1.hostCycles - (c0.cycles - c0.hostCycles);
  assert.ok(active >= wire * 120 - 10 * 12 && active < wire * 120 + 10 * 200, `${active} cycles for ${wire} bytes on the wire`);
});

verilatorTest('a damaged stream block: NAK_CRC after the whole stream (no loss of step), and the driver sends the stream again', async () => {
  const h = simHost({ retries: 0 });
  await h.ping();
  const data = new Uint8Array(4 * 24).map((_, i) => 255 - i);
  // A bad CRC on the second block, by hand: the device reads the rest and answers once.
  const frame = encodeStream(3, 0x40, data, BLOCK);
  frame[10 + 2 * (4 * BLOCK + 1) - 1] ^= 0x10;
  await sim!.write(frame);
  const resp = await sim!.read(5, 3000);
  assert.equal([resp[0], resp[1], resp[2], resp[3]], [0x5a, Status.NAK_CRC, 3, Cmd.WRITE_STREAM]);
  // The link is in step: the next request is answered, and a clean stream lands.
  await h.writeMem(0x40, data);
  assert.equal([...(await h.readMem(0x40, data.length))], [...data]);
});

test.run();
