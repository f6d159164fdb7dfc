/**
 * TOKEN_PUSH_REG (docs/microarch.md §19, docs/config.md): off by default; the TS simulator's timing
 * with it against values worked out by hand from the contract (a token pushed in c is visible from
 * c + 2, the pushing instruction still ends in c + 1, the room check counts the registered push);
 * results independent of the key; and the Verilated RTL agrees with the TS simulator bit for bit
 * and cycle for cycle (the measured 1x4 with the key: part of the conformance suite and random
 * programs; ice40-tiny with the key: four programs that fill each token queue). More
 * configurations and programs, and `verilator -Wall`: test/slow/cosim-token-push-reg.test.ts.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import { assemble } from '../src/program/index.ts';
import type { RunResult } from '../src/engine/index.ts';
import { compareResults } from '../sim/compare.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { conformanceCyclesWithKey } from './helpers/timing-key.ts';
import { runCli } from './helpers/cli.ts';
import { cosimConfig } from './helpers/alu-ii.ts';
import { UP5K_1X4, UP5K_1X4_TPR, fullQueuePrograms, tinyTprText } from './helpers/token-push-reg.ts';
import { span } from './helpers/simprog.ts';
import { verilatorTest } from './helpers/tools.ts';

const spans = (r: RunResult) => r.insnTiming!.map((x) => [x.index, x.start, x.end]);

test('TOKEN_PUSH_REG: off by default (same variant, no delay); a bad value gets one line', async () => {
  assert.is(deriveConfig({}).tokenPushReg, false);
  assert.is(deriveConfig({ TOKEN_PUSH_REG: true }).variant, deriveConfig({}).variant);
  assert.throws(() => deriveConfig({ TOKEN_PUSH_REG: 1 }), /config key TOKEN_PUSH_REG = 1 is invalid: expected true or false/);
  assert.is(loadConfig(UP5K_1X4_TPR).tokenPushReg, true);
  assert.equal({ ...loadConfig(UP5K_1X4_TPR).keys, TOKEN_PUSH_REG: false }, loadConfig(UP5K_1X4).keys);
  const r = await runCli('test', '--config', '{"TOKEN_PUSH_REG":"yes"}');
  assert.is(r.code, 1);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /TOKEN_PUSH_REG/);
});

test('TS simulator: gemm-tiny with the key, worked by hand from §11 and §19 (each waiting consumer starts one cycle later)', () => {
  const p = assemble(readFileSync('examples/gemm-tiny.vasm', 'utf8'));
  const off = runSync(p);
  const on = runSync({ ...p, config: deriveConfig({ TOKEN_PUSH_REG: true }) });
  assert.is(on.error, undefined);
  // §11 without the key (test/sim-timing.test.ts checks it too)
  assert.equal(spans(off), [[0, 15, 28], [1, 28, 48], [2, 48, 92], [3, 92, 106], [4, 106, 111], [5, 111, 126], [6, 126, 127]]);
  // with it: 0, 1 unchanged (no token to wait for); LOAD ACC pushes g2l in 47: visible 49, LOAD WGT
  // starts 49, bursts granted 49, 50, beats 61..92 -> 93; LOAD INP 93 (module free, no token), beats
  // 105, 106 -> 107, pushes l2g in 106: GEMM starts 108, writes end of 108 + 3 + 1 -> 113, pushes g2s
  // in 112: STORE starts 114, beats 115, 116, response 128 -> 129, pushes s2g in 128: FINISH 130 -> 131
  assert.equal(spans(on), [[0, 15, 28], [1, 28, 48], [2, 49, 93], [3, 93, 107], [4, 108, 113], [5, 114, 129], [6, 130, 131]]);
  assert.is(on.counters.cycles, 131);
  // the four consumers that waited for their token: the producer's end without, end + 1 with the key
  for (const [producer, consumer] of [[1, 2], [3, 4], [4, 5], [5, 6]]) {
    assert.is(span(off, consumer)[0], span(off, producer)[1], `off: ${consumer} starts at ${producer}'s end`);
    assert.is(span(on, consumer)[0], span(on, producer)[1] + 1, `on: ${consumer} starts one cycle after ${producer}'s end`);
  }
  // the extra cycles are waitToken: load 1 (WGT), compute 4 (GEMM 2 and FINISH 2), store 3 (1 + 2 for the GEMM's)
  assert.is(on.counters.modules.load.waitToken - off.counters.modules.load.waitToken, 1);
  assert.is(on.counters.modules.compute.waitToken - off.counters.modules.compute.waitToken, 4);
  assert.is(on.counters.modules.store.waitToken - off.counters.modules.store.waitToken, 3);
  for (const m of Object.values(on.counters.modules)) assert.is(m.busy + m.waitToken + m.waitMemory + m.queueFull + m.idle, 131);
});

test('TS simulator: a full queue (s2g, 258 STOREs before their GEMMs): the room check counts the push still in the register', () => {
  const [, , , [, sOff]] = fullQueuePrograms(tinyTprText(false), 258);
  const [, , , [, sOn]] = fullQueuePrograms(tinyTprText(true), 258);
  for (const [label, p] of [['off', sOff], ['on', sOn]] as const) {
    const r = runSync(p);
    assert.is(r.error, undefined, label);
    // STORE 255 finds 255 tokens: it holds until the first GEMM (258) pops, pushes the cycle after
    // (the slot is free from pop + 1) and ends the cycle after that
    assert.ok(span(r, 255)[1] - span(r, 255)[0] > 1, `${label}: STORE 255 held`);
    assert.is(span(r, 255)[1], span(r, 258)[0] + 2, label);
    // STORE 256 starts when 255 ends and could push at once, but the queue holds 254 counted tokens
    // plus 255's push (in the register with the key): it waits for the second pop (GEMM 259)
    assert.is(span(r, 256)[0], span(r, 255)[1], label);
    assert.ok(span(r, 259)[0] > span(r, 256)[0], label);
    assert.is(span(r, 256)[1], span(r, 259)[0] + 2, label);
  }
});

test('TS simulator: TOKEN_PUSH_REG changes cycles, never results (conformance on the measured 1x4)', () => {
  const d1 = loadConfig(UP5K_1X4_TPR);
  const d0 = loadConfig(UP5K_1X4);
  let more = 0;
  let n = 0;
  for (const r of conformanceCyclesWithKey(d0, d1)) {
    assert.ok(r.on >= r.off, r.name);
    if (r.on > r.off) more++;
    n++;
  }
  assert.ok(more >= n / 2, `${more} of ${n} cases take longer`);
});

const fastCases = (name: string): boolean => /^(blocked_gemm_test|gemm_test|alu_test\.add|insn\.(padded_load|gemm|save_load_out))/.test(name);
const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
verilatorTest('co-simulation, the measured 1x4 with TOKEN_PUSH_REG: conformance cases and 4 random programs match exactly', async () => {
  const r = await cosimConfig(rtl, UP5K_1X4_TPR, 4, 5400, fastCases);
  assert.ok(r.cases >= 10, `${r.cases} cases`);
});

verilatorTest('co-simulation, ice40-tiny with TOKEN_PUSH_REG: each token queue filled past 255 matches exactly', async () => {
  for (const [what, p] of fullQueuePrograms(tinyTprText(true))) {
    const a = runSync(p);
    const b = await rtl.run(p);
    assert.is(a.error, undefined, what);
    const mm = compareResults(p, a, b);
    assert.equal(mm, [], `${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
    // a producer was held by the full queue (queueFull counted), on both engines alike
    const held = Object.values(a.counters.modules).reduce((s, m) => s + m.queueFull, 0);
    assert.ok(held > 0, `${what}: a producer waited for room`);
  }
});

test.run();
