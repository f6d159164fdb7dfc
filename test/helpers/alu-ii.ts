/**
 * ALU_II (docs/microarch.md §16): configurations the co-simulation tests cover, a directed
 * program that runs the interlock cases a random program avoids (same-dst chains, a vector source
 * written by the previous instruction, a reset GEMM between ALU ops), and one co-simulation pass.
 */
import { readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import type { Derived } from '../../src/config/derive.ts';
import { loadConfig } from '../../src/config/index.ts';
import { conformanceCases } from '../../src/runtime/conformance.ts';
import { randomProgram } from '../../src/runtime/random.ts';
import type { Program } from '../../src/program/container.ts';
import type { RunResult } from '../../src/engine/index.ts';
import { compareResults } from '../../sim/compare.ts';
import { runSync } from '../../sim/ts/engine.ts';
import type { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { Rng } from '../../src/util/rng.ts';
import { ProgBuilder, packLanes } from './simprog.ts';

/** LOAD UOP, one ALU instruction over `uops` ([dst, src] pairs), FINISH, on the TS simulator: its [start, end). */
export function aluSpan(d: Derived, uops: Array<[number, number]>, alu: Record<string, unknown>): { span: [number, number]; r: RunResult } {
  const p = new ProgBuilder(d);
  const uA = p.uops('u', uops.map(([dst, src]) => ({ dst_idx: dst, src_idx: src, wgt_idx: 0 })));
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: uops.length, x_stride: uops.length });
  p.insn({ opcode: 'ALU', uop_bgn: 0, uop_end: uops.length, iter_out: 1, ...alu });
  p.insn({ opcode: 'FINISH' });
  const r = runSync(p.build());
  assert.is(r.error, undefined);
  const t = r.insnTiming!.find((x) => x.index === 1)!;
  return { span: [t.start, t.end], r };
}

/** The 1x4 of issue 17 (docs/results/up5k-1x4/1x4-c.json) with ALU_II 2. */
export const UP5K_1X4_ALU_II = 'docs/results/up5k-1x4/1x4-c-aluii2.json';

/**
 * The npm-test configuration: the 1x4's core (4 lanes of 16 bits, two per group) with ALU_II 2 and
 * ALU_REQUANT, on full 32-bit DRAM addresses (so the directed program's page-aligned buffers fit).
 */
export function fastConfigText(): string {
  const { MEM_ADDR_BITS: _a, BOARD: _b, ...core } = JSON.parse(readFileSync(UP5K_1X4_ALU_II, 'utf8')) as Record<string, unknown>;
  return JSON.stringify({ ...core, ALU_REQUANT: true });
}

/** The slow tier's configurations (label, config text). */
export const ALU_II_SLOW_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['1x4-c-aluii2 (the measured UP5K 1x4)', UP5K_1X4_ALU_II],
  ['2x4, ALU_II 4, ALU_MUL, ALU_REQUANT, GEMM_II 2', JSON.stringify({
    TARGET: 'ice40', LOG_BATCH: 1, LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10,
    LOG_ACC_BUFF_SIZE: 11, DSP_BUDGET: 16, GEMM_II: 2, ALU_II: 4, ALU_MUL: true, ALU_REQUANT: true,
  })],
  ['1x4, 32-bit ACC, ALU_II 4 (one lane), ALU_REQUANT, one read engine, no queues', JSON.stringify({
    TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12,
    ALU_II: 4, ALU_REQUANT: true, DMA_READ_ENGINES: 1, CMD_QUEUE_DEPTH: 0,
  })],
];

/**
 * ACC elements 0..7 loaded with random values, then ALU and GEMM instructions whose micro-ops
 * wait on the interlock (§7.2), and OUT 0..7 stored: every ALU opcode the config has, in both forms.
 */
export function hazardProgram(d: Derived, seed: number): Program {
  const rng = new Rng(seed);
  const p = new ProgBuilder(d);
  const lanes = d.batch * d.blockOut;
  const E = 8;
  const vals = Array.from({ length: E * lanes }, () => rng.int(-(2 ** 12), 2 ** 12));
  const accA = p.data('acc', packLanes(vals, d.accWidth));
  const outA = p.output('out', E * d.elemBytes.out);
  // micro-ops: 0 {dst 0}, 1 {dst 1, src 0}, 2 {dst 2, src 3}, 3 {dst 3, src 2}, 4 {dst 4}, 5 {dst 5, src 4}
  const uA = p.uops('uops', [[0, 0], [1, 0], [2, 3], [3, 2], [4, 0], [5, 4]].map(([dst, src]) => ({ dst_idx: dst, src_idx: src, wgt_idx: 0 })));
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: 6, x_stride: 6 });
  p.insn({ opcode: 'LOAD', memory_type: 'ACC', dram_base: accA / d.elemBytes.acc, y_size: 1, x_size: E, x_stride: E });
  const alu = (op: string, bgn: number, end: number, iterIn: number, dstIn: number, srcIn: number, imm?: number) =>
    p.insn({
      opcode: 'ALU', alu_opcode: op, uop_bgn: bgn, uop_end: end, iter_out: 1, iter_in: iterIn, dst_factor_in: dstIn, src_factor_in: srcIn,
      use_imm: imm === undefined ? 0 : 1, imm: imm ?? 0,
    });
  alu('ADD', 0, 1, 4, 0, 0, 3); // dst 0 four times in a row (immediate)
  alu('MAX', 1, 2, 3, 0, 0); // dst 1 three times, source 0 = the previous instruction's last write
  alu('SHR', 0, 1, 2, 0, 0, -2); // left shifts of dst 0
  alu('MIN', 2, 4, 2, 0, 0); // 2 <- min(2, 3), 3 <- min(3, 2): each source the previous micro-op's dst
  alu('SHR', 2, 4, 1, 0, 0, 1);
  p.insn({ opcode: 'GEMM', reset_reg: 1, uop_bgn: 4, uop_end: 5, iter_out: 1, iter_in: 1 }); // dst 4 := 0
  alu('ADD', 4, 5, 2, 0, 0, -7); // reads the reset's write
  alu('ADD', 5, 6, 2, 0, 0); // dst 5 += dst 4, twice
  if (d.aluMul) alu('MUL', 2, 3, 2, 0, 0);
  if (d.aluRequant) {
    alu('RQ', 5, 6, 1, 0, 0); // vector form: parameter word 0 (no shift, signed clip)
    alu('RQ', 0, 1, 2, 0, 0, 0x22); // immediate form: shift 2, relu, twice on dst 0
  }
  p.insn({ opcode: 'GEMM', reset_reg: 1, uop_bgn: 4, uop_end: 5, iter_out: 1, iter_in: 1, push_next_dep: 1 });
  p.insn({ opcode: 'STORE', memory_type: 'OUT', sram_base: 0, dram_base: outA / d.elemBytes.out, y_size: 1, x_size: E, x_stride: E, pop_prev_dep: 1, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
  return p.build();
}

function agreeOrThrow(p: Program, a: RunResult, b: RunResult, what: string): void {
  const mm = compareResults(p, a, b);
  if (mm.length) throw new Error(`${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
}

/** The conformance cases the fast test runs: the ALU's (one of each pair plain/compressed) and a blocked GEMM with its ALU epilogue. */
export const fastCases = (name: string): boolean =>
  /^(alu_test\..*\.plain|insn\.(alu\.|relu|shift_and_scale)|blocked_gemm_test\.vt2\.plain)/.test(name);

/**
 * The TypeScript simulator and the Verilated RTL on `config`: the conformance suite (the cases
 * `only` keeps; each also checked against its reference), `random` random programs and two seeds of
 * the hazard program. Throws on the first mismatch; returns the conformance cases run, and the ALU
 * micro-ops and interlock stall cycles of everything run.
 */
export async function cosimConfig(
  rtl: VerilatorEngine, config: string, random: number, seedBase: number, only: (name: string) => boolean = () => true,
): Promise<{ aluUops: number; stalls: number; cases: number }> {
  const d = loadConfig(config);
  let aluUops = 0;
  let stalls = 0;
  const cases = conformanceCases(d).filter((c) => only(c.name));
  const run = async (p: Program, what: string) => {
    const a = runSync(p);
    const b = await rtl.run(p);
    agreeOrThrow(p, a, b, what);
    aluUops += a.counters.alu_uops;
    stalls += a.counters.gemmHazardStalls ?? 0;
    return b;
  };
  for (const c of cases) {
    const built = c.build(d, 1);
    const b = await run(built.program, c.name);
    const ok = built.check(b);
    if (!ok.ok) throw new Error(`${c.name} on the RTL: ${ok.message}`);
  }
  for (let s = 1; s <= random; s++) await run(randomProgram(d, seedBase + s).program, `seed ${seedBase + s}`);
  if (d.mem.addrBits >= 16) for (const s of [1, 2]) await run(hazardProgram(d, s), `hazard program ${s}`);
  return { aluUops, stalls, cases: cases.length };
}
