import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SerialPortMock } from 'serialport';
import { getBoard } from '../fpga/boards/index.ts';
import { DEMO_ID, demoTop } from '../fpga/demo.ts';
import { LinkCorrupt, LinkHost, LinkNak } from '../fpga/link/host.ts';
import { Cmd, Status, crc8, encodeRequest } from '../fpga/link/protocol.ts';
import { SerialTransport } from '../fpga/link/serial.ts';
import { SimTransport } from '../fpga/link/sim.ts';
import type { ByteStream } from '../fpga/link/stream.ts';
import { verilatorLint } from '../hw/hdl/index.ts';
import { runCli } from './helpers/cli.ts';
import { verilatorMissing, verilatorTest } from './helpers/tools.ts';

/** Passes bytes through, flipping bits of the next write or the next read when asked. */
class Tamper implements ByteStream {
  nextWrite: { index: number; mask: number } | null = null;
  nextRead: { index: number; mask: number } | null = null;
  constructor(readonly inner: ByteStream) {}
  async write(d: Uint8Array): Promise<void> {
    const t = this.nextWrite;
    if (t && t.index < d.length) {
      this.nextWrite = null;
      const c = d.slice();
      c[t.index] ^= t.mask;
      return this.inner.write(c);
    }
    return this.inner.write(d);
  }
  async read(n: number, ms: number): Promise<Uint8Array> {
    const d = await this.inner.read(n, ms);
    const t = this.nextRead;
    if (t && t.index < d.length) {
      this.nextRead = null;
      const c = d.slice();
      c[t.index] ^= t.mask;
      return c;
    }
    if (t) t.index -= d.length;
    return d;
  }
  discard(): void {
    this.inner.discard();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const design = demoTop(getBoard('icebreaker'), { clksPerBit: 4, timeoutCycles: 400, memWords: 512 });
let sim: SimTransport | undefined;
let tamper: Tamper;
/** Why the simulation did not start (uvu drops a before hook's error: each test that needs it reports it). */
let startError: unknown = null;
const host = (retries = 3, burstWords = 256) => {
  if (startError) throw startError;
  return new LinkHost(tamper, { timeoutMs: 2000, deviceTimeoutMs: 20, retries, burstWords });
};

test.before(async () => {
  if (verilatorMissing()) return; // the tests that need it print SKIP
  try {
    sim = await SimTransport.start(design);
    tamper = new Tamper(sim);
  } catch (e) {
    startError = e;
  }
});
test.after(async () => {
  await sim?.close();
});

test('CRC-8 is CRC-8/SMBUS (check value 0xF4) and frames are laid out as documented', () => {
  assert.is(crc8(new TextEncoder().encode('123456789')), 0xf4);
  const f = encodeRequest(Cmd.WRITE_REG, 7, 0x0c, 1, new Uint8Array([1, 2, 3, 4]));
  assert.equal([...f.subarray(0, 9)], [0xa5, 0x03, 7, 0x0c, 0, 0, 0, 1, 0]);
  assert.is(f[9], crc8(f.subarray(0, 9)));
  assert.is(f.length, 15);
  assert.is(f[14], crc8(new Uint8Array([1, 2, 3, 4])));
});

verilatorTest('the link RTL lints clean under verilator -Wall', async () => {
  const r = await verilatorLint(design.files, design.top);
  assert.ok(r.ok, r.messages.join('\n'));
});

verilatorTest('Verilator: ping, registers, and memory round trips (bursts, unaligned ends)', async () => {
  const h = host(3, 64);
  assert.equal(await h.ping(), { magic: 0x4c575456, memWords: 512, streamBlockWords: 0 });
  assert.is(await h.readReg(0x18), DEMO_ID);
  await h.writeReg(0x00, 0xdeadbeef);
  assert.is(await h.readReg(0x00), 0xdeadbeef);
  const c1 = await h.readReg(0x04);
  const c2 = await h.readReg(0x04);
  assert.ok(c2 > c1, 'the cycle counter runs');
  const data = new Uint8Array(2048).map((_, i) => (i * 131 + 7) & 0xff);
  await h.writeMem(0, data);
  assert.equal([...(await h.readMem(0, 2048))], [...data]);
  await h.writeMem(5, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
  const around = await h.readMem(0, 20);
  assert.equal([...around], [...data.subarray(0, 5), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...data.subarray(16, 20)]);
  assert.equal(h.retried, {});
});

verilatorTest('out-of-range requests get NAK_RANGE, are not retried, and change nothing', async () => {
  const h = host();
  await h.writeWords(2040, new Uint8Array([9, 9, 9, 9, 8, 8, 8, 8]));
  const e1 = await h.readWords(2048, 1).catch((e) => e);
  assert.instance(e1, LinkNak);
  assert.is(e1.status, Status.NAK_RANGE);
  const e2 = await h.writeWords(2044, new Uint8Array(8).fill(1)).catch((e) => e);
  assert.is(e2.status, Status.NAK_RANGE);
  assert.equal([...(await h.readWords(2040, 2))], [9, 9, 9, 9, 8, 8, 8, 8]);
  const e3 = await h.writeReg(0x40, 1).catch((e) => e);
  assert.is(e3.status, Status.NAK_RANGE);
  const e4 = await h.readReg(0x02).catch((e) => e);
  assert.is(e4.status, Status.NAK_RANGE);
  // Addresses whose only set bits lie above the memory (the link keeps those as one flag), and a
  // request after them that is in range again.
  for (const a of [0x800, 0x10000, 0x80000000]) {
    const e = await h.readWords(a, 1).catch((x) => x);
    assert.is(e.status, Status.NAK_RANGE, `READ_MEM at 0x${a.toString(16)}`);
    const w = await h.writeWords(a, new Uint8Array(4).fill(7)).catch((x) => x);
    assert.is(w.status, Status.NAK_RANGE, `WRITE_MEM at 0x${a.toString(16)}`);
  }
  for (const a of [0x100, 0x1000000, 0x80000000]) {
    const e = await h.readReg(a).catch((x) => x);
    assert.is(e.status, Status.NAK_RANGE, `READ_REG at 0x${a.toString(16)}`);
  }
  assert.equal([...(await h.readWords(2040, 2))], [9, 9, 9, 9, 8, 8, 8, 8]);
  assert.equal(h.retried, {});
  assert.is((await h.ping()).memWords, 512);
});

verilatorTest('a corrupted memory burst is rejected (NAK_CRC); the retry leaves the right data', async () => {
  const h0 = host(0);
  const a = new Uint8Array(64).fill(0xaa);
  const b = new Uint8Array(64).map((_, i) => i);
  await h0.writeWords(256, a);
  tamper.nextWrite = { index: 10 + 17, mask: 0x10 };
  const e = await h0.writeWords(256, b).catch((x) => x);
  assert.instance(e, LinkNak);
  assert.is(e.status, Status.NAK_CRC);
  const h = host(2);
  tamper.nextWrite = { index: 10 + 40, mask: 0x01 };
  await h.writeWords(256, b);
  assert.equal(h.retried, { NAK_CRC: 1 });
  assert.equal([...(await h.readWords(256, 16))], [...b]);
});

verilatorTest('a corrupted register write is rejected and does not write the register', async () => {
  const h = host(0);
  await h.writeReg(0x00, 0x11111111);
  tamper.nextWrite = { index: 11, mask: 0x80 };
  const e = await h.writeReg(0x00, 0x22222222).catch((x) => x);
  assert.instance(e, LinkNak);
  assert.is(e.status, Status.NAK_CRC);
  assert.is(await h.readReg(0x00), 0x11111111);
  // With retries the write goes through.
  const r = host(1);
  tamper.nextWrite = { index: 12, mask: 0x02 };
  await r.writeReg(0x00, 0x33333333);
  assert.is(await r.readReg(0x00), 0x33333333);
});

verilatorTest('a corrupted header is answered NAK_HDR once the line is quiet; unknown command NAK_CMD; truncated frame NAK_TIMEOUT', async () => {
  const h = host(0);
  await h.writeWords(0, new Uint8Array([1, 2, 3, 4]));
  tamper.nextWrite = { index: 4, mask: 0x04 };
  const r = await h.exchange(Cmd.WRITE_MEM, 0, 1, new Uint8Array([5, 6, 7, 8]));
  assert.is(r.status, Status.NAK_HDR);
  assert.equal([...(await h.readWords(0, 1))], [1, 2, 3, 4]);
  assert.is((await h.exchange(0x7e, 0, 0)).status, Status.NAK_CMD);
  // Half a frame: the device gives up after its timeout and says so, echoing the cmd and seq it got.
  await sim!.write(encodeRequest(Cmd.READ_MEM, 0x42, 0, 1).subarray(0, 5));
  const resp = await sim!.read(5, 2000);
  assert.equal([...resp.subarray(0, 4)], [0x5a, Status.NAK_TIMEOUT, 0x42, Cmd.READ_MEM]);
  assert.is(resp[4], crc8(resp.subarray(0, 4)));
  assert.is((await h.ping()).memWords, 512);
});

verilatorTest('a damaged response is detected by its CRC and the read is repeated', async () => {
  const h = host(2);
  await h.writeReg(0x00, 0x01020304);
  tamper.nextRead = { index: 5, mask: 0x40 };
  assert.is(await h.readReg(0x00), 0x01020304);
  assert.equal(h.retried, { 'corrupt response': 1 });
  // A register write whose response is damaged is not repeated: it may have happened.
  tamper.nextRead = { index: 1, mask: 0x01 };
  const e = await host(2).writeReg(0x00, 5).catch((x) => x);
  assert.instance(e, LinkCorrupt);
  assert.match(e.message, 'not repeated');
  await new Promise((r) => setTimeout(r, 30));
  sim!.discard();
});

verilatorTest('vtw link --sim: ping, registers, memory; refusals are one-line errors', async () => {
  const p = await runCli('link', '--sim', 'ping');
  assert.is(p.code, 0, p.stderr);
  assert.match(p.stdout, 'vtw link ok: 512 words (2048 bytes) of memory');
  const r = await runCli('link', '--sim', 'reg-read', '0x18');
  assert.is(r.stdout.trim(), '0x76747730');
  const m = await runCli('link', '--sim', 'mem-read', '0x1000', '4');
  assert.is(m.code, 1);
  assert.match(m.stderr, 'vtw: error: READ_MEM at 0x1000 rejected by the device: NAK_RANGE');
  const n = await runCli('link', 'ping');
  assert.match(n.stderr, 'give --port DEVICE');
});

test('serial transport: bytes through serialport (mock binding); a missing port is one clear error', async () => {
  SerialPortMock.binding.createPort('/dev/vtwmock', { echo: true });
  const t = await SerialTransport.open('/dev/vtwmock', 115200, (path, baudRate) => new SerialPortMock({ path, baudRate, autoOpen: false }));
  const frame = encodeRequest(Cmd.PING, 1, 0, 0);
  await t.write(frame);
  assert.equal([...(await t.read(frame.length, 1000))], [...frame]);
  await t.close();
  const e = await SerialTransport.open('/dev/vtw-no-such-port').catch((x) => x);
  assert.match(e.message, 'serial port /dev/vtw-no-such-port does not exist');
});

test.run();
