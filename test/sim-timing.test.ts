import { conformanceCases } from '../src/runtime/conformance.ts';
import { loadConfig as loadPreset } from '../src/config/load.ts';
/**
 * Cycle counts of the TypeScript simulator against values worked out by hand from docs/microarch.md.
 * Each expected number is derived in the comment next to it.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, type Derived } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/load.ts';
import { assemble } from '../src/program/asm.ts';
import type { RunResult } from '../src/engine/index.ts';
import { runSync } from '../sim/ts/engine.ts';
import { toChromeTrace } from '../sim/ts/trace.ts';
import { ProgBuilder } from './helpers/simprog.ts';

function span(r: RunResult, index: number): [number, number] {
  const t = r.insnTiming!.find((x) => x.index === index)!;
  return [t.start, t.end];
}

function sumsToCycles(r: RunResult): void {
  for (const [name, m] of Object.entries(r.counters.modules)) {
    assert.is(m.busy + m.waitToken + m.waitMemory + m.queueFull + m.idle, r.counters.cycles, `${name} counters add up`);
    for (const v of Object.values(m)) assert.ok(v >= 0, `${name} counter ${v} >= 0`);
  }
}

test('gemm-tiny: every instruction start/end matches the worked example of docs/microarch.md §11', () => {
  const p = assemble(readFileSync('examples/gemm-tiny.vasm', 'utf8'));
  const r = runSync(p);
  assert.is(r.error, undefined);
  // fetch: one 14-beat burst granted in cycle 0, beats 12..25; insn i available 14 + 2i, dispatched then.
  // 0 LOAD UOP: start 15, 1 beat granted 15, beat 27 -> end 28
  // 1 LOAD ACC: 8 beats granted 28, beats 40..47 -> end 48 (push g2l visible 48)
  // 2 LOAD WGT: pops g2l at 48; 32 beats as 16+16, granted 48, 49; beats 60..91 -> end 92
  // 3 LOAD INP: 2 beats granted 92, beats 104..105 -> end 106 (push l2g visible 106)
  // 4 GEMM: 1 micro-op issued 106, written end of 106+3+1 = 110 -> end 111
  // 5 STORE: 2-beat write granted 111, beats 112..113, response 113+12 = 125 -> end 126
  // 6 FINISH: 126 -> 127
  assert.equal(
    r.insnTiming!.map((x) => [x.index, x.start, x.end]),
    [[0, 15, 28], [1, 28, 48], [2, 48, 92], [3, 92, 106], [4, 106, 111], [5, 111, 126], [6, 126, 127]],
  );
  assert.is(r.counters.cycles, 127);
  assert.is(r.counters.utilization, 1 / 127);
  assert.equal(r.counters.bytes, { insn: 112, uop: 4, wgt: 256, inp: 16, acc: 64, out: 16 });
  assert.is(r.counters.modules.fetch.busy, 7);
  assert.is(r.counters.modules.fetch.waitMemory, 20); // 14 cycles before insn 0, then 1 between each of the next six
  sumsToCycles(r);
});

/** LOAD UOP of `uops`, then one compute instruction, then FINISH. */
function computeProgram(d: Derived, uops: Array<{ dst_idx: number; src_idx?: number }>, insn: Record<string, unknown>) {
  const p = new ProgBuilder(d);
  const uA = p.uops('uops', uops.map((u) => ({ dst_idx: u.dst_idx, src_idx: u.src_idx ?? 0, wgt_idx: 0 })));
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: uops.length, x_stride: uops.length });
  p.insn(insn);
  p.insn({ opcode: 'FINISH' });
  return runSync(p.build());
}

const seq = (n: number) => Array.from({ length: n }, (_, i) => ({ dst_idx: i, src_idx: i }));

test('GEMM of N micro-ops takes (N-1)*II + 4 + II cycles', () => {
  const d = loadConfig('default');
  // 10 uops x iter_in 3 (dst +10) = 30 micro-ops, II 1: end - start = 29 + 5 = 34
  let r = computeProgram(d, seq(10), { opcode: 'GEMM', uop_bgn: 0, uop_end: 10, iter_out: 1, iter_in: 3, dst_factor_in: 10 });
  let [s, e] = span(r, 1);
  assert.is(e - s, 34);
  assert.is(span(r, 2)[0], e, 'FINISH starts when the GEMM has drained');
  assert.is(r.counters.gemm_uops, 30);
  // GEMM_II = 4: 29*4 + 4 + 4 = 124
  const d4 = deriveConfig({ GEMM_II: 4 });
  r = computeProgram(d4, seq(10), { opcode: 'GEMM', uop_bgn: 0, uop_end: 10, iter_out: 1, iter_in: 3, dst_factor_in: 10 });
  [s, e] = span(r, 1);
  assert.is(e - s, 124);
  sumsToCycles(r);
});

test('GEMM accumulator hazards stall the issue stage', () => {
  const d = loadConfig('default');
  // one uop, iter_in 4, dst_factor 0: every uop hits the previous one -> issue every 3 cycles
  // issues s, s+3, s+6, s+9 -> end s+9+5 = s+14, 6 stall cycles
  let r = computeProgram(d, [{ dst_idx: 0 }], { opcode: 'GEMM', uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 4 });
  let [s, e] = span(r, 1);
  assert.is(e - s, 14);
  assert.is(r.counters.gemmHazardStalls, 6);
  // dst sequence 0,1,0,1,0,1: issues s, s+1, s+3, s+4, s+6, s+7 -> end s+12, 2 stalls
  r = computeProgram(d, [{ dst_idx: 0 }, { dst_idx: 1 }], { opcode: 'GEMM', uop_bgn: 0, uop_end: 2, iter_out: 3, iter_in: 1 });
  [s, e] = span(r, 1);
  assert.is(e - s, 12);
  assert.is(r.counters.gemmHazardStalls, 2);
  // reset micro-ops read nothing: no stall
  r = computeProgram(d, [{ dst_idx: 0 }], { opcode: 'GEMM', reset_reg: 1, uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 4 });
  [s, e] = span(r, 1);
  assert.is(e - s, 3 + 5);
});

test('ALU: II 1 with an immediate (N + 3 cycles), II 2 with a vector operand (2N + 3)', () => {
  const d = loadConfig('default');
  let r = computeProgram(d, seq(8), { opcode: 'ALU', alu_opcode: 'ADD', use_imm: 1, imm: 1, uop_bgn: 0, uop_end: 8, iter_out: 1, iter_in: 1 });
  let [s, e] = span(r, 1);
  assert.is(e - s, 8 + 3);
  r = computeProgram(
    d,
    Array.from({ length: 8 }, (_, i) => ({ dst_idx: i, src_idx: 100 + i })),
    { opcode: 'ALU', alu_opcode: 'MAX', use_imm: 0, uop_bgn: 0, uop_end: 8, iter_out: 1, iter_in: 1 },
  );
  [s, e] = span(r, 1);
  assert.is(e - s, 2 * 8 + 3);
  assert.is(r.counters.alu_uops, 8);
});

test('back-to-back GEMMs overlap in the pipeline; a GEMM after an immediate ALU waits for the write port', () => {
  const d = loadConfig('default');
  const p = new ProgBuilder(d);
  const uA = p.uops('uops', seq(4).map((u) => ({ ...u, wgt_idx: 0 })));
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: 4, x_stride: 4 });
  p.insn({ opcode: 'GEMM', uop_bgn: 0, uop_end: 2, iter_out: 1, iter_in: 1 });
  p.insn({ opcode: 'GEMM', uop_bgn: 2, uop_end: 4, iter_out: 1, iter_in: 1 });
  p.insn({ opcode: 'FINISH' });
  const r = runSync(p.build());
  const [s1, e1] = span(r, 1);
  const [s2, e2] = span(r, 2);
  // GEMM 1 issues s1, s1+1 -> end s1+6; GEMM 2 starts s1+2, issues s1+2, s1+3 -> end s1+8
  assert.is(e1, s1 + 6);
  assert.is(s2, s1 + 2);
  assert.is(e2, s1 + 8);
});

function wgtLoadTime(keys: Record<string, unknown>, elems = 1): number {
  const d = deriveConfig(keys);
  const p = new ProgBuilder(d);
  const wA = p.data('wgt', new Uint8Array(d.elemBytes.wgt * elems));
  p.insn({ opcode: 'LOAD', memory_type: 'WGT', dram_base: wA / d.elemBytes.wgt, y_size: 1, x_size: elems, x_stride: elems, push_next_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_prev_dep: 1 });
  const r = runSync(p.build());
  assert.is(r.error, undefined);
  sumsToCycles(r);
  const [s, e] = span(r, 0);
  return e - s;
}

test('memory timing: latency, burst length, outstanding limit, cycles per beat', () => {
  // 256 B = 32 beats of 8 B in 8 bursts of 4. One outstanding: the load starts in cycle s = 8 while
  // fetch's 4-beat burst (beats 5..8) holds the only slot, so burst k is granted s+1+9k, its beats
  // are s+9k+6..s+9k+9; the last ends s+72 -> 73
  assert.is(wgtLoadTime({ MEM_BURST_BEATS: 4, MEM_OUTSTANDING: 1, MEM_READ_LATENCY: 5 }), 73);
  // four outstanding: the data channel is the limit: beats s+5 .. s+36 -> end s+37
  assert.is(wgtLoadTime({ MEM_BURST_BEATS: 4, MEM_OUTSTANDING: 4, MEM_READ_LATENCY: 5 }), 37);
  // two cycles per beat: last beat s+5+31*2 = s+67 -> end s+68
  assert.is(wgtLoadTime({ MEM_BURST_BEATS: 4, MEM_OUTSTANDING: 4, MEM_READ_LATENCY: 5, MEM_CYCLES_PER_BEAT: 2 }), 68);
  // 128-bit bus: 16 beats in one burst: beats s+12..s+27 -> end s+28
  assert.is(wgtLoadTime({ LOG_BUS_WIDTH: 7 }), 28);
  // default: 32 beats in 2 bursts, beats s+12 .. s+43 -> end s+44
  assert.is(wgtLoadTime({}), 44);
});

test('bursts never cross a 4 KiB page; padding costs one cycle per element beyond free write cycles', () => {
  // One outstanding read: as above, the load (s = 8) gets its first grant in s+1, after fetch's burst.
  const d = deriveConfig({ MEM_OUTSTANDING: 1, MEM_READ_LATENCY: 5 });
  const run = (offset: number, pad: number): number => {
    const p = new ProgBuilder(d);
    const a = p.data('inp', new Uint8Array(8192));
    p.insn({ opcode: 'LOAD', memory_type: 'INP', dram_base: (a + offset) / 16, y_size: 1, x_size: 4, x_stride: 4, x_pad_0: pad, push_next_dep: 1 });
    p.insn({ opcode: 'FINISH', pop_prev_dep: 1 });
    const r = runSync(p.build());
    assert.is(r.error, undefined);
    const [s, e] = span(r, 0);
    return e - s;
  };
  // 64 B in one 8-beat burst granted s+1: beats s+6..s+13 -> 14
  assert.is(run(0, 0), 14);
  // 32 B each side of the page: burst 1 beats s+6..s+9, burst 2 granted s+10, beats s+15..s+18 -> 19
  assert.is(run(4096 - 32, 0), 19);
  // 15 pad elements: max(dataEnd s+14, s + 1 + 8 beats + 15) = s+24
  assert.is(run(0, 15), 24);
  // 3 pad elements fit in the free write cycles: 14
  assert.is(run(0, 3), 14);
});

test('fetch stalls on a full command queue and counters add up', () => {
  const d = loadConfig('default');
  const p = new ProgBuilder(d);
  const a = p.data('inp', new Uint8Array(16 * 64));
  for (let i = 0; i < 40; i++) p.insn({ opcode: 'LOAD', memory_type: 'INP', sram_base: i, dram_base: a / 16 + i, y_size: 1, x_size: 1, x_stride: 1 });
  p.insn({ opcode: 'LOAD', memory_type: 'INP', x_size: 0, push_next_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_prev_dep: 1 });
  const r = runSync(p.build());
  assert.is(r.error, undefined);
  assert.ok(r.counters.modules.fetch.queueFull > 0, 'fetch waited on the full load queue');
  assert.ok(r.counters.modules.load.waitMemory > 0);
  // each 2-beat load takes at least 12 + 2 = 14 cycles (more when a fetch burst holds the data channel)
  for (let i = 0; i < 40; i++) {
    const [s, e] = span(r, i);
    assert.ok(e - s >= 14);
    if (i) assert.is(s, span(r, i - 1)[1], 'loads run back to back');
  }
  // busy = 1 + 2 beats per load, 1 for the no-op
  assert.is(r.counters.modules.load.busy, 40 * 3 + 1);
  sumsToCycles(r);
});

test('CMD_QUEUE_DEPTH 0: gemm-tiny starts each instruction at fetch, one cycle before a queue would', () => {
  const src = readFileSync('examples/gemm-tiny.vasm', 'utf8');
  const p = assemble(src);
  const r = runSync({ ...p, config: deriveConfig({ ...p.config.keys, CMD_QUEUE_DEPTH: 0 }) });
  assert.is(r.error, undefined);
  // fetch as in the worked example: insn i at fetch's head from 14 + 2i; no queue, so a module starts it there
  // 0 LOAD UOP: start 14, granted 14, beat 26 (after fetch's beats 12..25) -> end 27
  // 1 LOAD ACC: compute free at 27; 8 beats granted 27, beats 39..46 -> end 47
  // 2 LOAD WGT: g2l visible 47; 16+16 beats granted 47, 48, beats 59..90 -> end 91
  // 3 LOAD INP: load module free at 91; beats 103..104 -> end 105
  // 4 GEMM 105 -> 110; 5 STORE: granted 110, beats 111..112, response 124 -> end 125; 6 FINISH 125 -> 126
  assert.equal(
    r.insnTiming!.map((x) => [x.index, x.start, x.end]),
    [[0, 14, 27], [1, 27, 47], [2, 47, 91], [3, 91, 105], [4, 105, 110], [5, 110, 125], [6, 125, 126]],
  );
  assert.is(r.counters.cycles, 126);
  sumsToCycles(r);
});

/**
 * A program on the default config with `keys`: a 64-element INP buffer at `a` and one micro-op at
 * `u` (element addresses), the instructions `insns(a, u)`; runs it, checks it ends cleanly.
 */
function runLoads(keys: Record<string, unknown>, insns: (a: number, u: number) => Array<Record<string, unknown>>): RunResult {
  const p = new ProgBuilder(deriveConfig(keys));
  const a = p.data('inp', new Uint8Array(16 * 64)) / 16;
  const u = p.uops('uops', [{ dst_idx: 0, src_idx: 0, wgt_idx: 0 }]) / 4;
  for (const i of insns(a, u)) p.insn(i);
  const r = runSync(p.build());
  assert.is(r.error, undefined);
  sumsToCycles(r);
  return r;
}

test('CMD_QUEUE_DEPTH 0: the instruction at fetch waits for its busy module and holds back the ones behind it', () => {
  const run = (depth: number) => runLoads({ CMD_QUEUE_DEPTH: depth }, (a, u) => [
    { opcode: 'LOAD', memory_type: 'INP', dram_base: a, y_size: 1, x_size: 64, x_stride: 64 },
    { opcode: 'LOAD', memory_type: 'INP', sram_base: 64, dram_base: a, y_size: 1, x_size: 1, x_stride: 1, push_next_dep: 1 },
    { opcode: 'LOAD', memory_type: 'UOP', dram_base: u, y_size: 1, x_size: 1, x_stride: 1 },
    { opcode: 'FINISH', pop_prev_dep: 1 },
  ]);
  const q1 = run(1);
  // a queue of one holds LOAD #1 while #0 runs, so fetch hands the LOAD UOP to compute meanwhile
  assert.ok(span(q1, 2)[0] < span(q1, 0)[1]);
  const q0 = run(0);
  // without queues #1 stays at fetch until the load module is free; #2 only reaches fetch's head after it
  assert.is(span(q0, 1)[0], span(q0, 0)[1]);
  assert.ok(span(q0, 2)[0] > span(q0, 1)[0]);
  assert.ok(q0.counters.modules.fetch.queueFull >= span(q0, 0)[1] - span(q0, 0)[0] - 2, 'fetch counts the wait as queueFull');
});

test('DMA_READ_ENGINES 1: a LOAD waits while the other module loads on the shared engine (idle, not waitToken)', () => {
  const run = (engines: number) => runLoads({ DMA_READ_ENGINES: engines }, (a, u) => [
    { opcode: 'LOAD', memory_type: 'INP', dram_base: a, y_size: 1, x_size: 64, x_stride: 64, push_next_dep: 1 },
    { opcode: 'LOAD', memory_type: 'UOP', dram_base: u, y_size: 1, x_size: 1, x_stride: 1 },
    { opcode: 'LOAD', memory_type: 'ACC', x_size: 0, pop_prev_dep: 1 },
    { opcode: 'FINISH' },
  ]);
  const two = run(2);
  // with its own engine the LOAD UOP runs while the 64-element INP load is in flight
  assert.ok(span(two, 1)[0] < span(two, 0)[1]);
  const one = run(1);
  // shared: it starts in the cycle the INP load has ended (its last write was the cycle before)
  assert.is(span(one, 1)[0], span(one, 0)[1]);
  assert.is(one.counters.modules.compute.waitToken, 0, 'the wait for the engine is not a token wait');
  assert.ok(one.counters.cycles > two.counters.cycles);
});

test('trace: one span per instruction per module track, exported as Chrome trace events', () => {
  const p = assemble(readFileSync('examples/gemm-tiny.vasm', 'utf8'));
  const r = runSync(p, { trace: true });
  const spans = r.trace!.filter((s) => ['load', 'compute', 'store'].includes(s.module));
  assert.is(spans.length, 7);
  const gemm = spans.find((s) => s.name.startsWith('GEMM'))!;
  assert.equal([gemm.module, gemm.start, gemm.end], ['compute', 106, 111]);
  const json = toChromeTrace(r.trace!, { clockMhz: 100 });
  const x = json.traceEvents.filter((e) => (e as { ph: string }).ph === 'X');
  assert.is(x.length, r.trace!.length);
  const names = json.traceEvents.filter((e) => (e as { name: string }).name === 'thread_name').map((e) => (e as { args: { name: string } }).args.name);
  assert.equal(names, ['fetch', 'load', 'compute', 'store', 'memory']);
  const ev = x.find((e) => (e as { args: { startCycle: number } }).args.startCycle === 106) as { ts: number; dur: number };
  assert.is(ev.ts, 1.06);
  assert.is(ev.dur, 0.05);
  assert.not.ok(runSync(p).trace);
});

test('instructions straddling two fetch bursts (32-bit bus, 2-beat bursts) are fetched, not deadlocked', () => {
  const d = loadPreset('{"TARGET": "ice40", "LOG_BLOCK": 1, "LOG_UOP_BUFF_SIZE": 9, "LOG_INP_BUFF_SIZE": 8, "LOG_WGT_BUFF_SIZE": 8, "LOG_ACC_BUFF_SIZE": 10, "MEM_BURST_BEATS": 2}');
  for (const c of conformanceCases(d).slice(0, 4)) {
    const b = c.build(d, 1);
    const r = runSync(b.program);
    assert.is(r.error, undefined, `${c.name}: ${r.error?.message}`);
    assert.ok(b.check(r).ok, c.name);
    // every instruction needs two bursts of 8 bytes: the fetch counts each byte once
    assert.is(r.counters.bytes.insn, b.program.buffers.find((x) => x.kind === 'insn')!.size);
  }
});

test.run();
