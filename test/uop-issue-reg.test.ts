/**
 * UOP_ISSUE_REG (docs/microarch.md §20, docs/config.md): off by default; the TS simulator's timing
 * with it against §20's example worked by hand (a first micro-op issues in start + 1 at the
 * earliest, a GEMM/ALU starts once the index stage is empty: max(s_L, t_{L-1}) + 2); results
 * independent of the key on the conformance suite; and the Verilated RTL agrees with the TS
 * simulator bit for bit and cycle for cycle (the measured 1x4 with all four cuts: part of the
 * conformance suite, random programs, the example and an index error behind a full issue stage).
 * More configurations and programs, and `verilator -Wall`: test/slow/cosim-uop-issue-reg.test.ts.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import type { RunResult } from '../src/engine/index.ts';
import { compareResults } from '../sim/compare.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { conformanceCyclesWithKey } from './helpers/timing-key.ts';
import { runCli } from './helpers/cli.ts';
import { cosimConfig } from './helpers/alu-ii.ts';
import { UP5K_1X4_CUTS, UP5K_1X4_UIR, exampleProgram, oobProgram } from './helpers/uop-issue-reg.ts';
import { verilatorTest } from './helpers/tools.ts';

const spans = (r: RunResult) => r.insnTiming!.map((x) => [x.index, x.start, x.end]);

test('UOP_ISSUE_REG: off by default (same variant, no delay); a bad value gets one line', async () => {
  assert.is(deriveConfig({}).uopIssueReg, false);
  assert.is(deriveConfig({ UOP_ISSUE_REG: true }).variant, deriveConfig({}).variant);
  assert.throws(() => deriveConfig({ UOP_ISSUE_REG: 1 }), /config key UOP_ISSUE_REG = 1 is invalid: expected true or false/);
  assert.is(loadConfig(UP5K_1X4_UIR).uopIssueReg, true);
  assert.equal({ ...loadConfig(UP5K_1X4_UIR).keys, UOP_ISSUE_REG: false }, loadConfig(UP5K_1X4_CUTS).keys);
  const r = await runCli('test', '--config', '{"UOP_ISSUE_REG":"yes"}');
  assert.is(r.code, 1);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /UOP_ISSUE_REG/);
});

test('TS simulator: §20 example, worked by hand (first issue s + 1, start when the index stage is empty)', () => {
  const off = runSync(exampleProgram('{"UOP_ISSUE_REG":false}'));
  const on = runSync(exampleProgram('{"UOP_ISSUE_REG":true}'));
  assert.is(off.error, undefined);
  assert.is(on.error, undefined);
  // off (§7.3): GEMM 1 issues 30, 31 (writes 34, 35); 2 starts at 31 + 1, issues 32; 3 starts 33
  // and waits one cycle for ACC[1] (read 36 > write 35); the vector ALU 35, 37; the immediate ALU
  // starts at 37 + 2 = 39
  assert.equal(spans(off), [[0, 15, 30], [1, 30, 36], [2, 32, 37], [3, 33, 39], [4, 35, 42], [5, 39, 43], [6, 43, 44]]);
  assert.is(off.counters.gemmHazardStalls, 1);
  // on (§20): GEMM 1 issues 31, 32; 2 starts max(30, 31) + 2 = 33, issues 34; 3 starts
  // max(33, 32) + 2 = 35, issues 36 without a stall (read 38 > write 36); the vector ALU starts
  // max(35, 34) + 2 = 37, issues 38, 40; the immediate ALU starts max(37, 38) + 2 = 40 (before the
  // II of 40 ends) and issues 42
  assert.equal(spans(on), [[0, 15, 30], [1, 30, 37], [2, 33, 39], [3, 35, 41], [4, 37, 45], [5, 40, 46], [6, 46, 47]]);
  assert.is(on.counters.gemmHazardStalls, 0);
  assert.equal(on.dram, off.dram);
});

test('TS simulator: UOP_ISSUE_REG changes cycles, never results (conformance on the measured 1x4)', () => {
  const rows = conformanceCyclesWithKey(loadConfig(UP5K_1X4_CUTS), loadConfig(UP5K_1X4_UIR));
  const off = rows.reduce((s, r) => s + r.off, 0);
  const on = rows.reduce((s, r) => s + r.on, 0);
  // about one cycle per GEMM/ALU instruction at most, never less than without the key here
  for (const r of rows) assert.ok(r.on >= r.off, r.name);
  assert.ok(on > off && on < off * 1.02, `${on} vs ${off}`);
});

const fastCases = (name: string): boolean => /^(blocked_gemm_test\.vt2\.plain|gemm_test|alu_test\.add\.plain|insn\.(gemm|alu\.add|relu))/.test(name);
const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
verilatorTest('co-simulation, the measured 1x4 with UOP_ISSUE_REG: conformance cases, 4 random programs, the example and an index error match exactly', async () => {
  const r = await cosimConfig(rtl, UP5K_1X4_UIR, 4, 6400, fastCases);
  assert.ok(r.cases >= 8, `${r.cases} cases`);
  const text = readFileSync(UP5K_1X4_UIR, 'utf8');
  for (const [what, p] of [['example', exampleProgram(text)], ['index error', oobProgram(text)]] as const) {
    const a = runSync(p);
    const b = await rtl.run(p);
    if (what === 'index error') {
      assert.is(a.error?.kind, 'illegal', what);
      assert.is(a.error?.kind === 'illegal' && a.error.insnIndex, 3, what);
    } else assert.is(a.error, undefined, what);
    const mm = compareResults(p, a, b);
    assert.equal(mm, [], `${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
  }
});

test.run();
