/**
 * The LOAD DMA engine (hw/vta/dma.ts) simulated in Verilator with a memory model in the testbench
 * (the timing of docs/microarch.md §8.3: every request accepted, beats in f + j*CPB with
 * f = max(g + RL, channel free)), on random padded 2-D loads. Checked against references written
 * here: the burst split of §8.2, the SRAM footprint of the padded load (vta-reference Part B §2.5:
 * zero fill, rows at sram_base + (y_pad_0 + y)*W + x_pad_0), every element (every part of an
 * element wider than the bus) written exactly once, padding one whole element per cycle only in
 * cycles without a beat, the end workEnd = max(dataEnd, start + 1 + beats + P) of §6.1, and the §10
 * busy cycles. Cases cover elements narrower than the bus (lanes of one wide write, unaligned rows),
 * wider (a part per beat, split across bursts), as wide, a buffer kept in registers, bursts longer
 * than a page, and engines shared by two buffers (as in the load and compute modules) loading them
 * in random order: only the loaded buffer's request line and SRAM port may be active.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, type BufferName, type Derived } from '../src/config/derive.ts';
import { encodeInsnWords } from '../src/isa/insn.ts';
import type { MemTypeName } from '../src/isa/constants.ts';
import { Rng } from '../src/util/rng.ts';
import { printModule, verilateAndRun } from '../hw/hdl/index.ts';
import { dmaReadModule } from '../hw/vta/dma.ts';
import { entryLayout } from '../hw/vta/insn.ts';
import { sramGeom, type SramGeom } from '../hw/vta/sram.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verilatorTest } from './helpers/tools.ts';

const DRAM = 1 << 16;

interface Load {
  sram_base: number;
  dram_base: number;
  y_size: number;
  x_size: number;
  x_stride: number;
  y_pad_0: number;
  y_pad_1: number;
  x_pad_0: number;
  x_pad_1: number;
}

function randomLoad(d: Derived, buf: BufferName, rng: Rng): Load {
  const E = d.elemBytes[buf];
  for (;;) {
    const pad = () => (buf === 'uop' ? 0 : rng.pick([0, 0, 1, 2, 3]));
    const l: Load = {
      sram_base: 0, dram_base: 0, y_size: buf === 'uop' ? 1 : rng.int(0, 4), x_size: rng.int(1, 6), x_stride: 0,
      y_pad_0: pad(), y_pad_1: pad(), x_pad_0: pad(), x_pad_1: pad(),
    };
    if (l.y_size === 0 && l.y_pad_0 === 0) l.y_pad_0 = 1;
    l.x_stride = l.x_size + rng.int(0, 3);
    const W = l.x_pad_0 + l.x_size + l.x_pad_1;
    const H = l.y_pad_0 + l.y_size + l.y_pad_1;
    if (W * H > d.depth[buf]) continue;
    l.sram_base = rng.int(0, d.depth[buf] - W * H);
    const span = ((Math.max(l.y_size, 1) - 1) * l.x_stride + l.x_size) * E;
    if (span >= DRAM) continue;
    // sometimes just below a 4 KiB page boundary, so that bursts split there
    const near = rng.bool(0.4) ? Math.floor((4096 * rng.int(1, DRAM / 4096 - 1) - rng.int(0, 3) * E) / E) : rng.int(0, Math.floor((DRAM - span) / E));
    l.dram_base = Math.min(near, Math.floor((DRAM - span) / E));
    return l;
  }
}

const MEMTYPE: Record<BufferName, MemTypeName> = { uop: 'UOP', inp: 'INP', wgt: 'WGT', acc: 'ACC', out: 'OUT' };

function entryOf(d: Derived, buf: BufferName, l: Load): bigint {
  const w = encodeInsnWords(d, { opcode: 'LOAD', memory_type: MEMTYPE[buf], pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0, ...l });
  let insn = 0n;
  for (let i = 3; i >= 0; i--) insn = (insn << 32n) | BigInt(w[i]);
  const W = l.x_pad_0 + l.x_size + l.x_pad_1;
  const H = l.y_pad_0 + l.y_size + l.y_pad_1;
  const fpEnd = BigInt(l.sram_base + W * H);
  const s0 = BigInt(l.sram_base + W * l.y_pad_0 + l.x_pad_0);
  const pads = BigInt(W * H - l.x_size * l.y_size);
  const X = BigInt(entryLayout(d).extraBits);
  return insn | (fpEnd << 128n) | (s0 << (128n + X)) | (pads << (128n + 2n * X)) | (0n << (128n + 3n * X));
}

/** §8.2: bursts of one byte range, as [address of the first word, beats]. */
function bursts(d: Derived, addr: number, len: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const BB = d.busBytes;
  let a = addr;
  const end = addr + len;
  while (a < end) {
    const w0 = Math.floor(a / BB);
    const e = Math.min(end, (Math.floor(a / 4096) + 1) * 4096, (w0 + d.mem.burstBeats) * BB);
    out.push([w0 * BB, Math.ceil(e / BB) - w0]);
    a = e;
  }
  return out;
}

function testbench(d: Derived, gs: SramGeom[], dut: string, dir: string, count: number): string {
  const BUS = d.busWidth;
  const BB = d.busBytes;
  const ports = gs.map((g) => `.req_${g.buf}(req${g.buf}), .${g.buf}_we(we${g.buf}), .${g.buf}_waddr(wa${g.buf}), .${g.buf}_wdata(wd${g.buf})`).join(', ');
  const decl = gs.map((g) => `wire req${g.buf}; wire [${g.banks * g.parts - 1}:0] we${g.buf}; wire [${g.banks * g.baw - 1}:0] wa${g.buf}; wire [${g.banks * g.ew - 1}:0] wd${g.buf};`).join('\n  ');
  const req = gs.map((g) => `req${g.buf}`).join(' | ');
  return `module tb;
  reg clk = 1'b0; reg rst = 1'b1; reg start = 1'b0;
  reg [${entryLayout(d).bits - 1}:0] entry;
  wire req; wire [31:0] req_addr; wire [8:0] req_beats;
  reg rbeat = 1'b0; reg [${BUS - 1}:0] rdata;
  ${decl}
  assign req = ${req};
  wire done, done_at_start, busy;
  ${dut} dut (.clk(clk), .rst(rst), .start(start), .entry(entry), .grant(req), .rbeat(rbeat), .rdata(rdata),
    ${ports}, .req_addr(req_addr), .req_beats(req_beats), .done(done), .done_at_start(done_at_start), .busy(busy));
  reg [7:0] dram [0:${DRAM - 1}];
  reg [${entryLayout(d).bits - 1}:0] entries [0:${count - 1}];
  integer qa [0:4095]; integer qf [0:4095]; integer qn [0:4095];
  integer qh, qt, chan, cyc, k, j, f, b, startAt, active;
  initial begin
    $readmemh("${join(dir, 'dram.hex')}", dram);
    $readmemh("${join(dir, 'entries.hex')}", entries);
    qh = 0; qt = 0; chan = 0; cyc = 0; k = 0; startAt = 2; active = 0; rdata = 0; entry = 0;
    clk = 1'b1; #1; clk = 1'b0; #1; clk = 1'b1; #1; clk = 1'b0; rst = 1'b0;
    while ((k < ${count} || active != 0) && cyc < 200000) begin
      rbeat = 1'b0;
      if (qh < qt && cyc >= qf[qh] && ((cyc - qf[qh]) % ${d.mem.cyclesPerBeat}) == 0) begin
        j = (cyc - qf[qh]) / ${d.mem.cyclesPerBeat};
        rbeat = 1'b1;
        for (b = 0; b < ${BB}; b = b + 1) rdata[b * 8 +: 8] = dram[qa[qh] + j * ${BB} + b];
        if (j == qn[qh] - 1) qh = qh + 1;
      end
      start = (active == 0 && k < ${count} && cyc == startAt);
      if (start) entry = entries[k];
      #1;
      if (start) begin $display("S %0d", cyc); active = 1; end
      if (req) begin
        f = cyc + ${d.mem.readLatency}; if (chan > f) f = chan;
        qa[qt] = req_addr; qn[qt] = req_beats; qf[qt] = f; chan = f + req_beats * ${d.mem.cyclesPerBeat}; qt = qt + 1;
        $display("R %0d %0d %0d %b", cyc, req_addr, req_beats, {${gs.map((g) => `req${g.buf}`).reverse().join(', ')}});
      end
      if (rbeat) $display("B %0d", cyc);
${gs.map((g, i) => `      if (|we${g.buf}) $display("W %0d %h %h %h ${i}", cyc, we${g.buf}, wa${g.buf}, wd${g.buf});`).join('\n')}
      if (busy) $display("O %0d", cyc);
      if (done) begin $display("D %0d", cyc); active = 0; k = k + 1; startAt = cyc + 1 + (k % 3); end
      clk = 1'b1; #1; clk = 1'b0; cyc = cyc + 1;
    end
    $finish;
  end
endmodule
`;
}

async function dmaCase(json: Record<string, unknown>, bufNames: BufferName[], seed: number, count = 12): Promise<void> {
  const d = deriveConfig(json);
  const gs = bufNames.map((b) => sramGeom(d, b));
  const m = dmaReadModule('dma_t', d, gs).finish();
  const rng = new Rng(seed);
  const dram = Uint8Array.from({ length: DRAM }, () => rng.int(0, 255));
  const which = Array.from({ length: count }, () => rng.int(0, gs.length - 1));
  const loads = which.map((i) => randomLoad(d, gs[i].buf, rng));
  const dir = mkdtempSync(join(tmpdir(), 'vtw-dma-'));
  let out: string;
  try {
    writeFileSync(join(dir, 'dram.hex'), Array.from(dram, (x) => x.toString(16).padStart(2, '0')).join('\n') + '\n');
    writeFileSync(join(dir, 'entries.hex'), loads.map((l, k) => entryOf(d, gs[which[k]].buf, l).toString(16).padStart(Math.ceil(entryLayout(d).bits / 4), '0')).join('\n') + '\n');
    out = await verilateAndRun({ 'dma_t.v': printModule(m), 'tb.sv': testbench(d, gs, 'dma_t', dir, count) }, 'tb');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = out.split('\n').map((l) => l.trim().split(' ')).filter((f) => /^[SRBWOD]$/.test(f[0]));
  assert.is(lines.filter((f) => f[0] === 'D').length, count, 'every load completes');
  let i = 0;
  for (let k = 0; k < count; k++) {
    const l = loads[k];
    const g = gs[which[k]];
    const E = d.elemBytes[g.buf];
    const elemOf = (bytes: Uint8Array, at: number) => {
      let v = 0n;
      for (let i = E - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
      return v;
    };
    const what = `load ${k} (${g.buf}) ${JSON.stringify(l)}`;
    // this load's events, from its S line to its D line
    while (lines[i][0] !== 'S') i++;
    const start = Number(lines[i][1]);
    const ev: string[][] = [];
    for (i++; lines[i][0] !== 'D'; i++) ev.push(lines[i]);
    const doneAt = Number(lines[i][1]);
    // requests: the rows' bursts, the first in the start cycle, then one per cycle (always granted)
    const expected: Array<[number, number]> = [];
    for (let y = 0; y < l.y_size; y++) expected.push(...bursts(d, (l.dram_base + y * l.x_stride) * E, l.x_size * E));
    const reqs = ev.filter((f) => f[0] === 'R').map((f) => [Number(f[1]), Number(f[2]), Number(f[3])]);
    assert.equal(reqs.map((r) => [r[1], r[2]]), expected, `${what}: bursts`);
    const line = gs.map((_, j) => (j === which[k] ? '1' : '0')).reverse().join('');
    for (const f of ev.filter((x) => x[0] === 'R')) assert.is(f[4], line, `${what}: request line of the loaded buffer only`);
    reqs.forEach((r, n) => assert.is(r[0], start + n, `${what}: request ${n} cycle`));
    // SRAM writes
    const W = l.x_pad_0 + l.x_size + l.x_pad_1;
    const H = l.y_pad_0 + l.y_size + l.y_pad_1;
    const want = new Map<number, bigint>();
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        const y = r - l.y_pad_0;
        const x = c - l.x_pad_0;
        const isData = y >= 0 && y < l.y_size && x >= 0 && x < l.x_size;
        want.set(l.sram_base + r * W + c, isData ? elemOf(dram, (l.dram_base + y * l.x_stride + x) * E) : 0n);
      }
    }
    const beatCycles = new Set(ev.filter((f) => f[0] === 'B').map((f) => Number(f[1])));
    // an element is written whole, or (wide elements, sram.ts) part by part: `parts` write enables per bank
    const np = g.parts;
    const pw = g.ew / np;
    const gotParts = new Map<number, Array<bigint | undefined>>();
    for (const f of ev.filter((x) => x[0] === 'W')) {
      assert.is(Number(f[5]), which[k], `${what}: SRAM write to another buffer`);
      const cyc = Number(f[1]);
      const we = BigInt(`0x${f[2]}`);
      const wa = BigInt(`0x${f[3]}`);
      const wd = BigInt(`0x${f[4]}`);
      const written = new Map<number, number>();
      for (let b = 0; b < g.banks; b++) {
        for (let q = 0; q < np; q++) {
          if (!((we >> BigInt(b * np + q)) & 1n)) continue;
          const addr = Number((wa >> BigInt(b * g.baw)) & ((1n << BigInt(g.baw)) - 1n));
          const e = g.banks === 1 ? addr : g.regBanks ? b : addr * g.banks + b;
          const parts = gotParts.get(e) ?? Array.from({ length: np }, () => undefined);
          assert.is(parts[q], undefined, `${what}: element ${e} part ${q} written twice`);
          parts[q] = (wd >> BigInt(b * g.ew + q * pw)) & ((1n << BigInt(pw)) - 1n);
          gotParts.set(e, parts);
          written.set(e, (written.get(e) ?? 0) + 1);
        }
      }
      const pads = [...written.keys()].filter((e) => want.get(e) === 0n && isPad(l, e));
      if (beatCycles.has(cyc)) assert.is(pads.length, 0, `${what}: a pad written in beat cycle ${cyc}`);
      else assert.equal([...written.values()], [np], `${what}: one whole pad per cycle without a beat (cycle ${cyc})`);
    }
    const got = new Map<number, bigint>();
    for (const [e, parts] of gotParts) {
      assert.ok(parts.every((x) => x !== undefined), `${what}: element ${e} partly written`);
      got.set(e, parts.reduceRight((v: bigint, x) => (v << BigInt(pw)) | x!, 0n));
    }
    assert.equal([...got.keys()].sort((a, b) => a - b), [...want.keys()].sort((a, b) => a - b), `${what}: elements written`);
    for (const [e, v] of want) assert.is(got.get(e), v, `${what}: element ${e}`);
    // timing: workEnd = max(dataEnd, start + 1 + beats + P); done in workEnd - 1
    const beats = beatCycles.size;
    const P = W * H - l.x_size * l.y_size;
    const dataEnd = beats ? Math.max(...beatCycles) + 1 : start + 1;
    const workEnd = Math.max(dataEnd, start + 1 + beats + P);
    assert.is(doneAt, workEnd - 1, `${what}: done cycle`);
    // §10: busy for min(workEnd - start, 1 + beats*CPB + P) cycles (the start cycle counts as busy)
    const busy = 1 + ev.filter((f) => f[0] === 'O' && Number(f[1]) > start).length;
    assert.is(busy, Math.min(workEnd - start, 1 + beats * d.mem.cyclesPerBeat + P), `${what}: busy cycles`);
  }
}

function isPad(l: Load, e: number): boolean {
  const W = l.x_pad_0 + l.x_size + l.x_pad_1;
  const r = Math.floor((e - l.sram_base) / W);
  const c = (e - l.sram_base) % W;
  const y = r - l.y_pad_0;
  const x = c - l.x_pad_0;
  return !(y >= 0 && y < l.y_size && x >= 0 && x < l.x_size);
}

const SMALL = { LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 10, LOG_WGT_BUFF_SIZE: 12, LOG_ACC_BUFF_SIZE: 11 };

verilatorTest('LOAD INP, elements narrower than the bus (8 lanes per beat), unaligned rows, bursts of 4 beats', async () => {
  await dmaCase({ ...SMALL, LOG_BLOCK: 1, LOG_BUS_WIDTH: 7, MEM_BURST_BEATS: 4, MEM_READ_LATENCY: 3 }, ['inp'], 11);
});

verilatorTest('LOAD WGT, elements wider than the bus (2 slices), one-beat bursts, 2 cycles per beat', async () => {
  await dmaCase({ ...SMALL, LOG_BLOCK: 2, MEM_BURST_BEATS: 1, MEM_CYCLES_PER_BEAT: 2, MEM_READ_LATENCY: 5 }, ['wgt'], 12);
});

verilatorTest('LOAD ACC, elements as wide as the bus, read latency 1', async () => {
  await dmaCase({ ...SMALL, LOG_BLOCK: 2, LOG_BUS_WIDTH: 7, MEM_READ_LATENCY: 1 }, ['acc'], 13);
});

verilatorTest('LOAD UOP into a buffer of registers (16 micro-ops per 512-bit beat, 8 entries)', async () => {
  await dmaCase({ ...SMALL, LOG_BLOCK: 1, LOG_UOP_BUFF_SIZE: 5, LOG_BUS_WIDTH: 9 }, ['uop'], 14);
});

verilatorTest('one engine for INP (2 lanes per beat) and WGT (as wide as the bus), loads in random order (ice40-tiny shape)', async () => {
  await dmaCase({ ...SMALL, LOG_BLOCK: 1, LOG_BUS_WIDTH: 5, LOG_INP_BUFF_SIZE: 8, LOG_WGT_BUFF_SIZE: 8, MEM_READ_LATENCY: 2 }, ['inp', 'wgt'], 15, 16);
});

verilatorTest('one engine for UOP (2 per beat) and ACC (8 slices), 2 cycles per beat, short bursts', async () => {
  await dmaCase({ ...SMALL, LOG_BLOCK: 4, LOG_BUS_WIDTH: 6, MEM_BURST_BEATS: 2, MEM_CYCLES_PER_BEAT: 2, MEM_READ_LATENCY: 4 }, ['uop', 'acc'], 16, 16);
});

verilatorTest('one engine for INP (2 slices) and WGT (4 slices), read latency 1', async () => {
  await dmaCase({ ...SMALL, LOG_BATCH: 1, LOG_BLOCK: 2, LOG_BUS_WIDTH: 5, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, MEM_READ_LATENCY: 1 }, ['inp', 'wgt'], 17, 16);
});

verilatorTest('one engine for INP (4 lanes) and WGT (4 slices) on a 512-bit bus, bursts of up to 128 beats (more than a page)', async () => {
  await dmaCase({ ...SMALL, LOG_BLOCK: 4, LOG_BUS_WIDTH: 9, MEM_BURST_BEATS: 128, MEM_READ_LATENCY: 2 }, ['inp', 'wgt'], 18, 16);
});

test.run();
