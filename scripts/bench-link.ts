/**
 * Host-link throughput of the simulated board top (docs/fpga.md, "Host link throughput"):
 * `tsx scripts/bench-link.ts [BAUD] [--no-stream] [--config C] [--board B] [--bytes N]` builds the
 * board top (Verilator, cached) with the divider of BAUD at the configuration's clock, writes N
 * bytes (default 32 KiB) through the host driver, reads them back, checks them, and prints bytes
 * per second of simulated time (host turnaround excluded) and the wall time.
 */
import { loadConfig } from '../src/config/index.ts';
import { getBoard } from '../fpga/boards/index.ts';
import { startSimBoard } from '../fpga/top/sim.ts';

const args = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : def;
};
const stream = !args.includes('--no-stream');
const config = flag('--config', 'up5k-1x2');
const d = loadConfig(config);
const board = getBoard(flag('--board', d.board ?? 'icebreaker'));
const n = Number(flag('--bytes', '32768'));
const baud = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000);

const sb = await startSimBoard(d, board, { baud, linkStream: stream }, (m) => console.error(m));
const ping = await sb.host.ping();
const data = new Uint8Array(n).map((_, i) => (i * 131 + 7) & 0xff);
const s0 = await sb.linkSeconds();
let t = performance.now();
await sb.host.writeMem(0, data);
const s1 = await sb.linkSeconds();
const wallW = performance.now() - t;
t = performance.now();
const back = await sb.host.readMem(0, n);
const s2 = await sb.linkSeconds();
const wallR = performance.now() - t;
await sb.close();
const same = back.every((b, i) => b === data[i]);
console.log(`${config} on ${board.name}, ${baud} baud (${sb.design.clksPerBit} clocks per bit of ${sb.clockHz / 1e6} MHz), ${ping.streamBlockWords ? `WRITE_STREAM (blocks of ${ping.streamBlockWords} words)` : 'WRITE_MEM bursts of 256 words'}`);
console.log(`write ${n} bytes: ${((s1 - s0) * 1e3).toFixed(2)} ms simulated, ${Math.round(n / (s1 - s0))} bytes/s (${((100 * n) / (s1 - s0) / (baud / 10)).toFixed(1)} % of baud/10); wall ${(wallW / 1e3).toFixed(1)} s`);
console.log(`read  ${n} bytes: ${((s2 - s1) * 1e3).toFixed(2)} ms simulated, ${Math.round(n / (s2 - s1))} bytes/s (${((100 * n) / (s2 - s1) / (baud / 10)).toFixed(1)} % of baud/10); wall ${(wallR / 1e3).toFixed(1)} s`);
console.log(same ? 'read back bit for bit' : 'MISMATCH');
if (!same) process.exitCode = 1;
