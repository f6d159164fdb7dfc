/**
 * READ_DONE_REG (docs/microarch.md §18, docs/config.md): off by default; the TS simulator's timing
 * with it against values worked out by hand from the contract (a LOAD that writes beats or pads
 * ends one cycle later: workEnd = max(dataEnd, e + 1 + beats + P) + 1; one that moves nothing is
 * unchanged; the shared engine frees at the new workEnd; its pushed token is visible there);
 * results independent of the key; and the Verilated RTL agrees with the TS simulator bit for bit
 * and cycle for cycle (the measured UP5K 1x4 with the key: conformance cases, random and directed
 * programs) and `verilator -Wall` is clean on it and on two read engines. Two read engines in
 * co-simulation, more configurations and programs: test/slow/cosim-read-done-reg.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import type { RunResult } from '../src/engine/index.ts';
import { timingOf } from '../src/uarch/index.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { conformanceCyclesWithKey } from './helpers/timing-key.ts';
import { ProgBuilder, span } from './helpers/simprog.ts';
import { cosimConfig } from './helpers/alu-ii.ts';
import { RDR_TWO_ENGINES, UP5K_1X4_RDR, rdrFastConfigText } from './helpers/read-done-reg.ts';
import { verilatorTest } from './helpers/tools.ts';
import { lintVta } from './helpers/lint-vta.ts';
import { printModule } from '../hw/hdl/index.ts';
import { generateVta } from '../hw/vta/index.ts';

/**
 * `first` (a LOAD of the load or compute module), then `after` load-module instructions (the last
 * pushes to compute), then FINISH popping l2g when `first` or `after` pushes; key on or off.
 */
function run(keys: Record<string, unknown>, on: boolean, first: Record<string, unknown>, after: Array<Record<string, unknown>> = []): RunResult {
  const p = new ProgBuilder(deriveConfig({ ...keys, READ_DONE_REG: on }));
  const u = p.uops('uops', Array.from({ length: 8 }, (_, i) => ({ dst_idx: i, src_idx: 0, wgt_idx: 0 }))) / 4;
  const a = p.data('inp', new Uint8Array(64 * 16)) / 16;
  const pushes = first.push_next_dep === 1 || after.length > 0;
  p.insn({ opcode: 'LOAD', ...first, dram_base: first.memory_type === 'UOP' ? u : a });
  after.forEach((i, k) => p.insn({ ...i, dram_base: a, push_next_dep: k === after.length - 1 ? 1 : 0 }));
  p.insn({ opcode: 'FINISH', pop_prev_dep: pushes ? 1 : 0 });
  const r = runSync(p.build());
  assert.is(r.error, undefined);
  return r;
}
const len = (r: RunResult, i: number) => span(r, i)[1] - span(r, i)[0];

test('READ_DONE_REG: off by default (same variant, no delay); a bad value gets one line', () => {
  assert.is(deriveConfig({}).readDoneReg, false);
  assert.is(timingOf(deriveConfig({})).readDoneDelay, 0);
  assert.is(timingOf(deriveConfig({ READ_DONE_REG: true })).readDoneDelay, 1);
  assert.is(deriveConfig({ READ_DONE_REG: true }).variant, deriveConfig({}).variant);
  assert.throws(() => deriveConfig({ READ_DONE_REG: 1 }), /READ_DONE_REG/);
  assert.is(loadConfig(UP5K_1X4_RDR).readDoneReg, true);
  assert.equal({ ...loadConfig(UP5K_1X4_RDR).keys, READ_DONE_REG: false }, loadConfig('docs/results/up5k-1x4/1x4-c-aluii4-serdec.json').keys);
});

// the default configuration: 8-byte bus, RL 12, CPB 1, two read engines; UOP 4 bytes, INP 16 bytes
const DEF = {};
test('TS simulator: a LOAD with beats or pads ends one cycle later (hand-worked from §6.1, §8.3, §18)', () => {
  const RL = deriveConfig(DEF).mem.readLatency;
  // compute's LOAD UOP of two micro-ops = 8 bytes = one beat, granted in s: beat in s + RL,
  // workEnd = s + RL + 1 off, s + RL + 2 on (the registered done's cycle)
  const uop = { memory_type: 'UOP', y_size: 1, x_size: 2, x_stride: 2 };
  const off = run(DEF, false, uop);
  const on = run(DEF, true, uop);
  assert.is(len(off, 0), RL + 1);
  assert.is(len(on, 0), RL + 2);
  assert.is(span(on, 0)[0], span(off, 0)[0], 'it starts in the same cycle');
  // busy: min(workEnd - s, 1 + beats*CPB + P) = 2 both; the added cycle is waitMemory
  assert.is(on.counters.modules.compute.busy, off.counters.modules.compute.busy);
  assert.is(on.counters.modules.compute.waitMemory - off.counters.modules.compute.waitMemory, 1);
  // the load module's LOAD INP of one element (16 bytes = 2 beats in s + RL, s + RL + 1): RL + 2 off, RL + 3 on
  const inp = { memory_type: 'INP', y_size: 1, x_size: 1, x_stride: 1, push_next_dep: 1 };
  assert.is(len(run(DEF, false, inp), 0), RL + 2);
  const onI = run(DEF, true, inp);
  assert.is(len(onI, 0), RL + 3);
  // its l2g token is visible at its end: FINISH pops it and starts there
  assert.is(span(onI, 1)[0], span(onI, 0)[1]);
  // pads dominate: x_pad 7 + 7, y_pad_0 1 around one element: W = 15, H = 2, P = 29; workEnd =
  // max(s + RL + 2, s + 1 + 2 + 29) = s + 32 off, s + 33 on
  const padded = { ...inp, x_pad_0: 7, x_pad_1: 7, y_pad_0: 1 };
  assert.is(len(run(DEF, false, padded), 0), 32);
  assert.is(len(run(DEF, true, padded), 0), 33);
  // pads only (y_size 0, y_pad_0 1, x_size 2: P = 2): s + 3 off, s + 4 on
  const padsOnly = { memory_type: 'INP', y_size: 0, x_size: 2, x_stride: 2, y_pad_0: 1, push_next_dep: 1 };
  assert.is(len(run(DEF, false, padsOnly), 0), 3);
  assert.is(len(run(DEF, true, padsOnly), 0), 4);
  // moving nothing (y_size 0, no pads): s + 1 either way
  const nothing = { ...padsOnly, y_pad_0: 0 };
  assert.is(len(run(DEF, false, nothing), 0), 1);
  assert.is(len(run(DEF, true, nothing), 0), 1);
});

test('TS simulator, one shared read engine: the next LOAD takes it at the registered end', () => {
  const keys = { DMA_READ_ENGINES: 1 };
  const RL = deriveConfig(keys).mem.readLatency;
  const uop = { memory_type: 'UOP', y_size: 1, x_size: 2, x_stride: 2 };
  const inp = [{ opcode: 'LOAD', memory_type: 'INP', y_size: 1, x_size: 4, x_stride: 4 }];
  for (const on of [false, true]) {
    const r = run(keys, on, uop, inp);
    assert.is(len(r, 0), RL + (on ? 2 : 1), `key ${on}`);
    // the INP LOAD (load module, waiting only for the engine) starts in the cycle the UOP LOAD ends
    assert.is(span(r, 1)[0], span(r, 0)[1], `key ${on}`);
    // with COMPUTE_READ_REG as well: one cycle to reach the engine, one after the beat
    const c = run({ ...keys, COMPUTE_READ_REG: true }, on, uop, inp);
    assert.is(len(c, 0), RL + (on ? 3 : 2), `key ${on} with COMPUTE_READ_REG`);
    assert.is(span(c, 1)[0], span(c, 0)[1]);
  }
});

test('TS simulator: READ_DONE_REG changes cycles, never results (conformance on the UP5K 1x4)', () => {
  const d1 = loadConfig(UP5K_1X4_RDR);
  const d0 = loadConfig('docs/results/up5k-1x4/1x4-c-aluii4-serdec.json');
  let more = 0;
  for (const r of conformanceCyclesWithKey(d0, d1)) {
    assert.ok(r.on > r.off, `${r.name}: every case loads data`);
    more++;
  }
  assert.ok(more >= 40, `${more} cases`);
});

test('RTL: the key changes the read engine alone, whose done becomes the register done_q (no read beat in it)', () => {
  const gen = (file: string) => generateVta(loadConfig(file), { target: 'ice40', configId: 1 }).map((m) => ({ name: m.name, v: printModule(m) }));
  const off = gen('docs/results/up5k-1x4/1x4-c-aluii4-serdec.json');
  const on = gen(UP5K_1X4_RDR);
  assert.equal(on.map((m) => m.name), off.map((m) => m.name));
  const differ = on.filter((m, i) => m.v !== off[i].v).map((m) => m.name);
  assert.equal(differ, off.filter((m) => m.name.endsWith('_dma_read')).map((m) => m.name));
  const eng = on.find((m) => m.name.endsWith('_dma_read'))!.v;
  assert.match(eng, /assign done = done_q;/);
  assert.match(eng, /done_q <= \(done_w & \(~done_q\)\);/);
  assert.match(off.find((m) => m.name.endsWith('_dma_read'))!.v, /assign done = done_w;/);
});

const fastCases = (name: string): boolean => /^(blocked_gemm_test|gemm_test|alu_test\.add|insn\.(padded_load|gemm|save_load_out))/.test(name);
const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
verilatorTest('co-simulation, the UP5K 1x4 with READ_DONE_REG: conformance cases, 4 random and the directed programs match exactly', async () => {
  const r = await cosimConfig(rtl, rdrFastConfigText(), 4, 5400, fastCases);
  assert.ok(r.cases >= 10, `${r.cases} cases`);
});
// (two read engines with the key: test/slow/cosim-read-done-reg.test.ts, 200 random programs)

verilatorTest('verilator -Wall is clean with READ_DONE_REG: the UP5K 1x4 (iCE40 cells) and two read engines', async () => {
  await lintVta(loadConfig(UP5K_1X4_RDR), 'ice40');
  await lintVta(loadConfig(RDR_TWO_ENGINES), 'generic');
});

test.run();
