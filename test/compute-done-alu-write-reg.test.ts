/**
 * COMPUTE_DONE_REG and ALU_WRITE_REG (docs/microarch.md §22, docs/config.md): off by default; the TS
 * simulator's timing with them against values worked out by hand from the contract (compute
 * completes one instruction a cycle; an ALU micro-op writes in t + 3 + II_A, the interlock follows);
 * results independent of the keys, and COMPUTE_DONE_REG's cycles too on the conformance suite; the
 * generated Verilog without them is the one before; and the Verilated RTL agrees with the TS
 * simulator bit for bit and cycle for cycle on the measured 1x4 with both keys. More configurations
 * and programs, and `verilator -Wall`: test/slow/cosim-compute-done-alu-write-reg.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, type Derived } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import type { RunResult } from '../src/engine/index.ts';
import { compareResults } from '../sim/compare.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { conformanceCyclesWithKey } from './helpers/timing-key.ts';
import { runCli } from './helpers/cli.ts';
import { aluSpan, cosimConfig } from './helpers/alu-ii.ts';
import { UP5K_1X4_CUTS, UP5K_1X4_CUTS_KEYS, doneTogetherProgram, withKeys } from './helpers/compute-done-alu-write-reg.ts';
import { span } from './helpers/simprog.ts';
import { verilatorTest } from './helpers/tools.ts';

test('COMPUTE_DONE_REG, ALU_WRITE_REG: off by default (same variant); bad values and GEMM_REQUANT get one line', async () => {
  assert.is(deriveConfig({}).computeDoneReg, false);
  assert.is(deriveConfig({}).aluWriteReg, false);
  assert.is(deriveConfig({ COMPUTE_DONE_REG: true, ALU_WRITE_REG: true }).variant, deriveConfig({}).variant);
  assert.throws(() => deriveConfig({ ALU_WRITE_REG: 1 }), /config key ALU_WRITE_REG = 1 is invalid: expected true or false/);
  assert.throws(
    () => deriveConfig({ ALU_WRITE_REG: true, ALU_REQUANT: true, GEMM_REQUANT: true }),
    /ALU_WRITE_REG cannot be combined with GEMM_REQUANT.*set ALU_WRITE_REG: false or GEMM_REQUANT: false/,
  );
  assert.ok(deriveConfig({ COMPUTE_DONE_REG: true, ALU_REQUANT: true, GEMM_REQUANT: true }).computeDoneReg);
  const on = loadConfig(UP5K_1X4_CUTS_KEYS);
  assert.ok(on.computeDoneReg && on.aluWriteReg);
  assert.equal({ ...on.keys, COMPUTE_DONE_REG: false, ALU_WRITE_REG: false }, loadConfig(UP5K_1X4_CUTS).keys);
  const r = await runCli('test', '--config', '{"COMPUTE_DONE_REG":"yes"}');
  assert.is(r.code, 1);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /COMPUTE_DONE_REG/);
});

/** LOAD UOP, one ALU instruction, FINISH: the ALU's end - start and the interlock's stall cycles. */
function aluCycles(d: Derived, uops: Array<[number, number]>, alu: Record<string, unknown>): [number, number] {
  const { span: [s, e], r } = aluSpan(d, uops, alu);
  return [e - s, r.counters.gemmHazardStalls ?? 0];
}

test('TS simulator, ALU_WRITE_REG: N micro-ops take (N-1)*II_A + 4 + II_A (one more than §16)', () => {
  const distinct = Array.from({ length: 8 }, (_, i): [number, number] => [i, 100 + i]);
  for (const n of [1, 2, 4]) {
    const d = deriveConfig({ ALU_II: n, ALU_WRITE_REG: true });
    assert.equal(aluCycles(d, distinct, { alu_opcode: 'ADD', use_imm: 1, imm: 5, iter_in: 1 }), [7 * n + 4 + n, 0], `ALU_II ${n} immediate`);
    assert.equal(aluCycles(d, distinct, { alu_opcode: 'MAX', use_imm: 0, iter_in: 1 }), [7 * (n + 1) + 4 + n + 1, 0], `ALU_II ${n} vector`);
  }
});

test('TS simulator, ALU_WRITE_REG: the interlock waits for the later write (worked by hand, ALU_II 1)', () => {
  const off = deriveConfig({});
  const on = deriveConfig({ ALU_WRITE_REG: true });
  // dst 0 four times, immediate: reads in t_k + 2 > w_{k-1} = t_{k-1} + 3 (off) / + 4 (on): t_k =
  // t_{k-1} + 2 / + 3: issues s, s+2, s+4, s+6 -> end s+10, 3 stalls; on s, s+3, s+6, s+9 -> s+14, 6
  const same = { alu_opcode: 'ADD', use_imm: 1, imm: 1, iter_in: 4, dst_factor_in: 0 };
  assert.equal(aluCycles(off, [[0, 0]], same), [10, 3]);
  assert.equal(aluCycles(on, [[0, 0]], same), [14, 6]);
  // dst 0, 1, 0, 1: on, the third reads dst 0 in t + 2 > s + 4 (the write two back): t = s + 3,
  // one stall; the fourth (s + 4) reads dst 1 in s + 6 > s + 5: none; end s + 4 + 4 + 1 = s + 9
  const alt = { alu_opcode: 'ADD', use_imm: 1, imm: 1, iter_in: 2, dst_factor_in: 0 };
  assert.equal(aluCycles(off, [[0, 0], [1, 0]], alt), [7, 0]);
  assert.equal(aluCycles(on, [[0, 0], [1, 0]], alt), [9, 1]);
  // vector: dst 0 (source 5), then dst 1 with source 0: the source read t' + 3 > w = s + 5 (on):
  // t' = s + 3 instead of s + 2 (one stall), write s + 3 + 5 -> end s + 9 (off: s + 7, no stall)
  const vec = { alu_opcode: 'MAX', use_imm: 0, iter_in: 1 };
  assert.equal(aluCycles(off, [[0, 5], [1, 0]], vec), [7, 0]);
  assert.equal(aluCycles(on, [[0, 5], [1, 0]], vec), [9, 1]);
});

test('TS simulator, COMPUTE_DONE_REG: instructions done together complete one a cycle (worked by hand)', () => {
  const run = (on: boolean): RunResult => {
    const r = runSync(doneTogetherProgram(JSON.stringify({ COMPUTE_DONE_REG: on }), 3));
    assert.is(r.error, undefined);
    return r;
  };
  const off = run(false);
  const on = run(true);
  // GEMM 1 (4 reset micro-ops from 34) writes last in 41 and ends in 42; the GEMMs 2, 3, 4 without
  // micro-ops start in 38, 39, 40 and are done at once. Off they complete with GEMM 1 (end 42); on
  // one a cycle: 43, 44, 45
  assert.equal([1, 2, 3, 4].map((i) => span(off, i)), [[34, 42], [38, 42], [39, 42], [40, 42]]);
  assert.equal([1, 2, 3, 4].map((i) => span(on, i)), [[34, 42], [38, 43], [39, 44], [40, 45]]);
  // their consumers: STORE 6 pops GEMM 2's token (visible 43: it starts as off, the store module
  // being busy until 43), STORE 7 GEMM 4's (45 instead of 44), LOAD 8 GEMM 3's (44 instead of 42);
  // FINISH waits for STORE 7 (s2g pushed in 45): 46 -> 47
  assert.equal([5, 6, 7, 8, 9].map((i) => span(off, i)), [[42, 43], [43, 44], [44, 45], [42, 43], [45, 46]]);
  assert.equal([5, 6, 7, 8, 9].map((i) => span(on, i)), [[42, 43], [43, 44], [45, 46], [44, 45], [46, 47]]);
  // compute holds done instructions that have not completed in 42, 43, 44: queueFull (§10)
  assert.is(off.counters.modules.compute.queueFull, 0);
  assert.is(on.counters.modules.compute.queueFull, 3);
  // without pushes they complete one a cycle too (the rule is per instruction, not per queue):
  // GEMM 1 from 29 ends 37, the others 38, 39, 40 (off: all 37)
  const np = runSync(doneTogetherProgram(JSON.stringify({ COMPUTE_DONE_REG: true }), 3, 4, true));
  assert.equal([1, 2, 3, 4].map((i) => span(np, i)), [[29, 37], [33, 38], [34, 39], [35, 40]]);
});

test('TS simulator: COMPUTE_DONE_REG changes no cycle of the conformance suite, ALU_WRITE_REG only the ALU\'s (measured 1x4)', () => {
  const d0 = loadConfig(UP5K_1X4_CUTS);
  const cdr = conformanceCyclesWithKey(d0, loadConfig(withKeys(UP5K_1X4_CUTS, { COMPUTE_DONE_REG: true })));
  for (const r of cdr) assert.is(r.on, r.off, r.name);
  const both = conformanceCyclesWithKey(d0, loadConfig(UP5K_1X4_CUTS_KEYS));
  let more = 0;
  for (const r of both) {
    assert.ok(r.on >= r.off && r.on <= r.off + 8, `${r.name}: ${r.off} -> ${r.on}`);
    if (r.on > r.off) more++;
  }
  assert.ok(more >= 20, `${more} cases take longer`);
  assert.is(both.reduce((s, r) => s + r.on - r.off, 0), 91);
});

const fastCases = (name: string): boolean => /^(alu_test\.(min|shr)\.(imm|vec)\.plain|insn\.(alu\.add_vec|relu|gemm\.default)|blocked_gemm_test\.vt2\.plain)/.test(name);
const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
verilatorTest('co-simulation, the measured 1x4 with both keys: conformance cases, 4 random and the done-together programs match exactly', async () => {
  const r = await cosimConfig(rtl, UP5K_1X4_CUTS_KEYS, 4, 6600, fastCases);
  assert.ok(r.cases >= 7, `${r.cases} cases`);
  for (const noPush of [false, true]) {
    const p = doneTogetherProgram(UP5K_1X4_CUTS_KEYS, 5, 3, noPush);
    const a = runSync(p);
    const b = await rtl.run(p);
    const mm = compareResults(p, a, b);
    assert.equal(mm, [], mm.map((m) => `${m.what}: ${m.detail}`).join(' | '));
  }
});

test.run();
