/**
 * COMPUTE_READ_REG (docs/microarch.md §17, docs/config.md): off by default; the TS simulator's
 * timing with it against values worked out by hand from the contract (a compute LOAD reaches its
 * engine in e = s + 1: workEnd = max(dataEnd, e + 1 + beats + P), busy one cycle longer, the shared
 * engine taken from e); results independent of the key; and the Verilated RTL of up5k-1x2 with the
 * key agrees with the TS simulator bit for bit and cycle for cycle (part of the conformance suite,
 * random and directed programs). More configurations and programs, and `verilator -Wall`:
 * test/slow/cosim-compute-read-reg.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import type { RunResult } from '../src/engine/index.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { conformanceCyclesWithKey } from './helpers/timing-key.ts';
import { ProgBuilder, span } from './helpers/simprog.ts';
import { cosimConfig } from './helpers/alu-ii.ts';
import { UP5K_1X2_CRR, crrFastConfigText } from './helpers/compute-read-reg.ts';
import { verilatorTest } from './helpers/tools.ts';

/**
 * A LOAD UOP of x micro-ops (y = 1), or with y = 0 a LOAD ACC of y_size 0 (it moves nothing; a UOP
 * load needs y_size 1), then `after` load-module instructions (the last pushes to compute), then
 * FINISH (popping it); with the key on or off.
 */
function run(keys: Record<string, unknown>, on: boolean, load: { x: number; y: number }, after: Array<Record<string, unknown>> = []): RunResult {
  const p = new ProgBuilder(deriveConfig({ ...keys, COMPUTE_READ_REG: on }));
  const u = p.uops('uops', Array.from({ length: 8 }, (_, i) => ({ dst_idx: i, src_idx: 0, wgt_idx: 0 }))) / 4;
  const a = p.data('inp', new Uint8Array(64 * 16)) / 16;
  p.insn({ opcode: 'LOAD', memory_type: load.y ? 'UOP' : 'ACC', dram_base: load.y ? u : 0, y_size: load.y, x_size: load.x, x_stride: load.x });
  after.forEach((i, k) => p.insn({ ...i, dram_base: a, push_next_dep: k === after.length - 1 ? 1 : 0 }));
  p.insn({ opcode: 'FINISH', pop_prev_dep: after.length ? 1 : 0 });
  const r = runSync(p.build());
  assert.is(r.error, undefined);
  return r;
}

test('COMPUTE_READ_REG: off by default (same variant, no delay); bad values get one line; one or two read engines', () => {
  assert.is(deriveConfig({}).computeReadReg, false);
  assert.is(deriveConfig({ COMPUTE_READ_REG: true, DMA_READ_ENGINES: 1 }).variant, deriveConfig({ DMA_READ_ENGINES: 1 }).variant);
  assert.throws(() => deriveConfig({ COMPUTE_READ_REG: 1 }), /COMPUTE_READ_REG/);
  assert.is(deriveConfig({ COMPUTE_READ_REG: true, DMA_READ_ENGINES: 2 }).computeReadReg, true);
  assert.is(loadConfig(UP5K_1X2_CRR).computeReadReg, true);
  // the up5k-1x2 preset as docs/fpga.md measured the key on it (the preset has since taken MEM_REQ_REG and COMPUTE_DONE_REG)
  assert.equal({ ...loadConfig(UP5K_1X2_CRR).keys, COMPUTE_READ_REG: false }, { ...loadConfig('up5k-1x2').keys, MEM_REQ_REG: false, COMPUTE_DONE_REG: false });
});

const ONE = { DMA_READ_ENGINES: 1 };
test('TS simulator: a compute LOAD reaches its engine one cycle after its start (hand-worked from §6.1, §8.3, §17)', () => {
  const d = deriveConfig(ONE);
  const RL = d.mem.readLatency;
  // two micro-ops = 8 bytes = one beat, granted at once (nothing else requests): off g = s, beat in
  // s + RL, workEnd = s + RL + 1; on g = s + 1, workEnd = s + RL + 2
  const off = run(ONE, false, { x: 2, y: 1 });
  const on = run(ONE, true, { x: 2, y: 1 });
  assert.is(span(off, 0)[1] - span(off, 0)[0], RL + 1);
  assert.is(span(on, 0)[1] - span(on, 0)[0], RL + 2);
  assert.is(span(on, 0)[0], span(off, 0)[0], 'compute starts it in the same cycle');
  // busy: min(workEnd - s, 1 + beats*CPB + P) = 2 off, min(.., 2 + 1) = 3 on; the rest waitMemory (RL - 1 both)
  assert.is(off.counters.modules.compute.busy - on.counters.modules.compute.busy, -1);
  assert.is(on.counters.modules.compute.waitMemory, off.counters.modules.compute.waitMemory);
  // y_size 0 (x_size > 0, no pads): nothing moves; workEnd = e + 1 = s + 2 (s + 1 without the key)
  assert.is(span(run(ONE, false, { x: 2, y: 0 }), 0).reduce((a, b) => b - a), 1);
  assert.is(span(run(ONE, true, { x: 2, y: 0 }), 0).reduce((a, b) => b - a), 2);
  // load-module LOADs are unchanged (an INP load after it takes the same span)
  const inp = [{ opcode: 'LOAD', memory_type: 'INP', y_size: 1, x_size: 4, x_stride: 4 }];
  const offI = run(ONE, false, { x: 2, y: 1 }, inp);
  const onI = run(ONE, true, { x: 2, y: 1 }, inp);
  assert.is(span(onI, 1)[1] - span(onI, 1)[0], span(offI, 1)[1] - span(offI, 1)[0]);
});

test('TS simulator, one shared read engine: a load-module LOAD waits for the delayed compute LOAD to end', () => {
  const keys = { DMA_READ_ENGINES: 1 };
  const inp = [{ opcode: 'LOAD', memory_type: 'INP', y_size: 1, x_size: 4, x_stride: 4 }];
  for (const on of [false, true]) {
    const r = run(keys, on, { x: 2, y: 1 }, inp);
    // the INP LOAD can start in the cycle the UOP LOAD has ended (it reached the engine first)
    assert.is(span(r, 1)[0], span(r, 0)[1], `key ${on}`);
    assert.is(span(r, 0)[1] - span(r, 0)[0], deriveConfig({}).mem.readLatency + (on ? 2 : 1));
  }
  // moving nothing, it frees the engine at s + 2: the INP LOAD then starts there, not in the register cycle s + 1
  const r = run(keys, true, { x: 2, y: 0 }, inp);
  assert.is(span(r, 1)[0], span(r, 0)[0] + 2);
});

test('TS simulator, command queues of 1: the delayed LOAD frees its queue slot for a dispatch in e + 1 (§3, §17)', () => {
  // #1 LOAD UOP (started s1 after #0's token, every instruction fetched by then) fills compute's
  // queue; #2 (compute) waits for its slot: dispatched in e1 + 1, e1 = s1 + 1 with the key (e1 = s1
  // without); #3 (a STORE: no read engine, no token to wait for) one cycle later (one dispatch a
  // cycle), started the cycle after its dispatch. Nothing else happens in e1 + 1: the TS simulator
  // once woke fetch only at the next event (the LOAD's end), 11 cycles late against the RTL on
  // up5k-1x2 with queues of 2.
  for (const on of [false, true]) {
    const p = new ProgBuilder(deriveConfig({ ...ONE, CMD_QUEUE_DEPTH: 1, COMPUTE_READ_REG: on }));
    const u = p.uops('uops', Array.from({ length: 16 }, (_, i) => ({ dst_idx: i, src_idx: 0, wgt_idx: 0 }))) / 4;
    const a = p.data('inp', new Uint8Array(64 * 16)) / 16;
    p.insn({ opcode: 'LOAD', memory_type: 'INP', dram_base: a, y_size: 4, x_size: 4, x_stride: 4, push_next_dep: 1 });
    p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: u, y_size: 1, x_size: 16, x_stride: 16, pop_prev_dep: 1 });
    p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: u, y_size: 1, x_size: 2, x_stride: 2 });
    p.insn({ opcode: 'STORE', memory_type: 'OUT', dram_base: a, y_size: 1, x_size: 1, x_stride: 1, push_prev_dep: 1 });
    p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
    const r = runSync(p.build());
    assert.is(r.error, undefined);
    const s1 = span(r, 1)[0];
    assert.ok(span(r, 1)[1] > s1 + 6, 'the UOP LOAD is still running when #3 starts');
    assert.is(span(r, 3)[0], s1 + (on ? 4 : 3), `key ${on}: #2 dispatched in s1 + ${on ? 2 : 1}, #3 then, started a cycle later`);
  }
});

test('TS simulator: COMPUTE_READ_REG changes cycles, never results (conformance on up5k-1x2)', () => {
  const d1 = loadConfig(UP5K_1X2_CRR);
  const d0 = deriveConfig({ ...loadConfig(UP5K_1X2_CRR).keys, COMPUTE_READ_REG: false });
  let more = 0;
  for (const r of conformanceCyclesWithKey(d0, d1)) {
    assert.ok(r.on >= r.off, r.name);
    if (r.on > r.off) more++;
  }
  assert.ok(more >= 30, `${more} cases take longer`);
});

const fastCases = (name: string): boolean => /^(blocked_gemm_test|gemm_test|alu_test\.add|insn\.(padded_load|gemm|save_load_out))/.test(name);
const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
verilatorTest('co-simulation, up5k-1x2 with COMPUTE_READ_REG: conformance cases, 4 random and the directed programs match exactly', async () => {
  const r = await cosimConfig(rtl, crrFastConfigText(), 4, 4400, fastCases);
  assert.is(r.cases, 18);
});

test.run();
