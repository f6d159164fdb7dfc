/**
 * ALU_II (docs/microarch.md §16, docs/config.md): validation with one clear line; the TS
 * simulator's timing against values worked out by hand from the contract (II_A = ALU_II with an
 * immediate, ALU_II + 1 with a vector operand, write at issue + 2 + II_A, interlock as §7.2); the
 * results do not depend on ALU_II; and the Verilated RTL agrees with the TS simulator bit for bit
 * and cycle for cycle (1x4, ALU_II 2, ALU_REQUANT: the ALU's conformance cases, random and directed
 * hazard programs). The whole suite and 200 random programs on three more configurations:
 * test/slow/cosim-alu-ii.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, type Derived } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { generateVta } from '../hw/vta/index.ts';
import { UP5K_1X4_ALU_II, aluSpan, cosimConfig, fastCases, fastConfigText, hazardProgram } from './helpers/alu-ii.ts';
import { verilatorTest } from './helpers/tools.ts';

const err = (json: Record<string, unknown>): string => {
  try {
    deriveConfig(json);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
};

test('ALU_II: default 1 (same variant as before), _aiiN otherwise; bad values get one line naming the fix', () => {
  assert.is(deriveConfig({}).aluII, 1);
  assert.is(deriveConfig({ ALU_II: 1 }).variant, deriveConfig({}).variant);
  assert.ok(deriveConfig({ ALU_II: 4 }).variant.endsWith('_aii4'));
  assert.match(err({ ALU_II: 3 }), /ALU_II.*power of two/);
  assert.match(err({ ALU_II: 0 }), /ALU_II/);
  // 1x16: 16 lanes, so 32 does not divide them
  const lanes = err({ ALU_II: 32 });
  assert.match(lanes, /ALU_II = 32 does not divide the 16 ALU lanes .*use ALU_II <= 16/);
  assert.not.match(lanes, /\n/);
  assert.match(err({ ALU_II: 2, ALU_REQUANT: true, GEMM_REQUANT: true }), /ALU_II = 2 cannot be combined with GEMM_REQUANT.*set ALU_II: 1 or GEMM_REQUANT: false/);
});

test('the generator builds BATCH*BLOCK_OUT / ALU_II lanes', () => {
  const alu = (d: Derived) => generateVta(d, { target: 'generic', configId: 1 }).find((m) => m.name.endsWith('_alu'))!;
  const width = (d: Derived) => alu(d).ports().find((p) => p.name === 'x')!.width;
  assert.is(width(deriveConfig({})), 16 * 32);
  assert.is(width(deriveConfig({ ALU_II: 4 })), 4 * 32);
  assert.is(width(deriveConfig({ ALU_II: 16 })), 32);
});

test('TS simulator: N micro-ops take (N-1)*II_A + 3 + II_A, II_A = ALU_II (immediate) or ALU_II + 1 (vector)', () => {
  const distinct = Array.from({ length: 8 }, (_, i): [number, number] => [i, 100 + i]);
  for (const n of [1, 2, 4]) {
    const d = deriveConfig({ ALU_II: n });
    const imm = aluSpan(d, distinct, { alu_opcode: 'ADD', use_imm: 1, imm: 5, iter_in: 1 });
    assert.is(imm.span[1] - imm.span[0], 7 * n + 3 + n, `ALU_II ${n} immediate`); // n=2: 19, n=4: 35
    const vec = aluSpan(d, distinct, { alu_opcode: 'MAX', use_imm: 0, iter_in: 1 });
    assert.is(vec.span[1] - vec.span[0], 7 * (n + 1) + 3 + n + 1, `ALU_II ${n} vector`); // n=2: 27, n=4: 43
    assert.is(vec.r.counters.gemmHazardStalls, 0);
  }
});

test('TS simulator: a micro-op reading the previous one\'s dst waits for its write (ALU_II 2)', () => {
  const d = deriveConfig({ ALU_II: 2 });
  // immediate, dst 0 four times: micro-op k reads in t_k + 2 > write t_{k-1} + 4, so t_k = t_{k-1} + 3
  // (one stall each): issues s, s+3, s+6, s+9, last write s+13 -> end s+14, 3 stalls
  let x = aluSpan(d, [[0, 0]], { alu_opcode: 'ADD', use_imm: 1, imm: 1, iter_in: 4, dst_factor_in: 0 });
  assert.is(x.span[1] - x.span[0], 14);
  assert.is(x.r.counters.gemmHazardStalls, 3);
  // vector, dst 0 (source 5) three times: write t + 5, next read t' + 2 > t + 5, t' = t + 4 (II 3 + 1 stall):
  // issues s, s+4, s+8 -> write s+13 -> end s+14, 2 stalls
  x = aluSpan(d, [[0, 5]], { alu_opcode: 'MAX', use_imm: 0, iter_in: 3, dst_factor_in: 0 });
  assert.is(x.span[1] - x.span[0], 14);
  assert.is(x.r.counters.gemmHazardStalls, 2);
  // dst 0, 1 alternating (VTA's hazard distance 2 is broken every other micro-op): with II_A 2 only
  // the previous micro-op can conflict, so no stall: 6 micro-ops -> 5*2 + 5 = 15
  x = aluSpan(d, [[0, 0], [1, 0]], { alu_opcode: 'ADD', use_imm: 1, imm: 1, iter_in: 3, dst_factor_in: 0 });
  assert.is(x.span[1] - x.span[0], 15);
  assert.is(x.r.counters.gemmHazardStalls, 0);
});

test('TS simulator: ALU_II changes cycles, never results (conformance and the hazard program)', () => {
  const d2 = loadConfig(fastConfigText());
  const d1 = deriveConfig({ ...JSON.parse(fastConfigText()), ALU_II: 1 });
  for (const c of conformanceCases(d2).filter((x) => x.name.startsWith('alu_test'))) {
    const built = c.build(d2, 3);
    const r2 = runSync(built.program);
    assert.ok(built.check(r2).ok, `${c.name}: ${built.check(r2).message}`);
    const r1 = runSync({ ...built.program, config: d1 });
    assert.ok(r2.counters.cycles > r1.counters.cycles, `${c.name}: ${r1.counters.cycles} -> ${r2.counters.cycles} cycles`);
  }
  for (const s of [1, 2, 3]) {
    const p = hazardProgram(d2, s);
    const r2 = runSync(p);
    const r1 = runSync({ ...p, config: d1 });
    assert.is(r2.error, undefined);
    assert.equal(r2.dram, r1.dram, `hazard program ${s}: DRAM differs between ALU_II 1 and 2`);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
verilatorTest('co-simulation, 1x4 with ALU_II 2 and ALU_REQUANT: ALU conformance cases, 6 random and the hazard programs match exactly', async () => {
  const r = await cosimConfig(rtl, fastConfigText(), 6, 7100, fastCases);
  assert.is(r.cases, 21, 'ALU conformance cases (RQ included) and a blocked GEMM');
  assert.ok(r.stalls > 0, 'the interlock stalled');
  assert.ok(r.aluUops > 500, `${r.aluUops} ALU micro-ops`);
});

test('the measured 1x4 (docs/results/up5k-1x4/1x4-c-aluii2.json) is 1x4-c.json with ALU_II 2', () => {
  const d = loadConfig(UP5K_1X4_ALU_II);
  const base = loadConfig('docs/results/up5k-1x4/1x4-c.json');
  assert.equal({ ...d.keys, ALU_II: 1 }, base.keys);
  assert.is(d.aluII, 2);
});

test.run();
