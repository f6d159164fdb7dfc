/**
 * UOP_ISSUE_REG (docs/microarch.md §20): the configurations its tests cover and its directed
 * programs (§20's hand-worked example, and a micro-op index out of range behind a full issue
 * stage). The co-simulation pass for conformance, random and hazard programs is
 * test/helpers/alu-ii.ts's `cosimConfig`.
 */
import { readFileSync } from 'node:fs';
import { assemble } from '../../src/program/index.ts';
import type { Program } from '../../src/program/container.ts';

/** The UP5K 1x4 with the three earlier cuts (docs/fpga.md, issue 17), and the same with the key. */
export const UP5K_1X4_CUTS = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr.json';
export const UP5K_1X4_UIR = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr-uir.json';

/** A configuration file's keys with UOP_ISSUE_REG set, as inline JSON. */
export function withKey(file: string, on = true): string {
  return JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), UOP_ISSUE_REG: on });
}

/** A program of micro-ops (`dst_idx` each; src and wgt 0) loaded by one LOAD UOP, then `insns` and FINISH. */
function uopProgram(name: string, config: string, dsts: number[], insns: string[]): Program {
  const uops = dsts.map((d) => `    uop dst_idx=${d} src_idx=0 wgt_idx=0`);
  const n = dsts.length;
  const text = ['.buffer uops kind=uop', ...uops, '.text', `    LOAD UOP sram_base=0 dram_base=@uops y_size=1 x_size=${n} x_stride=${n}`, ...insns.map((i) => `    ${i}`), '    FINISH', ''];
  return assemble(text.join('\n'), `<${name}>`, config);
}

/**
 * §20's example: micro-ops with dst 0, 1, 2, 1, 3; two reset GEMMs, a GEMM reading ACC[1] right
 * after the write of it, a vector ALU of two micro-ops, an immediate ALU, FINISH. `config`: the
 * configuration (preset or inline JSON).
 */
export function exampleProgram(config: string): Program {
  return uopProgram('uop-issue-reg example', config, [0, 1, 2, 1, 3], [
    'GEMM reset_reg uop_bgn=0 uop_end=2 iter_out=1 iter_in=1',
    'GEMM reset_reg uop_bgn=2 uop_end=3 iter_out=1 iter_in=1',
    'GEMM uop_bgn=3 uop_end=4 iter_out=1 iter_in=1',
    'ALU ADD uop_bgn=0 uop_end=2 iter_out=1 iter_in=1',
    'ALU ADD use_imm imm=1 uop_bgn=4 uop_end=5 iter_out=1 iter_in=1',
  ]);
}

/**
 * Back-to-back GEMMs, then one whose second outer iteration reaches ACC index 100 + 64 past a
 * 128-element accumulator (the 1x4's): its first micro-op is in the issue stage while the failing
 * one is in the index stage. Both engines must report the same illegal instruction (index 3).
 */
export function oobProgram(config: string): Program {
  return uopProgram('uop-issue-reg index error', config, [0, 100], [
    'GEMM reset_reg uop_bgn=0 uop_end=2 iter_out=1 iter_in=1',
    'GEMM reset_reg uop_bgn=0 uop_end=2 iter_out=1 iter_in=1',
    'GEMM reset_reg uop_bgn=1 uop_end=2 iter_out=2 iter_in=1 dst_factor_out=64',
  ]);
}

/** The slow tier's configurations (label, config text). */
export const UIR_SLOW_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['1x4-c-aluii4-serdec-rdr-crr-tpr-uir (the measured UP5K 1x4 with all four cuts)', UP5K_1X4_UIR],
  ['the same core on 32-bit DRAM addresses (room for the hazard programs)', JSON.stringify({
    ...JSON.parse(readFileSync(UP5K_1X4_UIR, 'utf8')), MEM_ADDR_BITS: 32, BOARD: null,
  })],
  ['2x4, ALU_II 4, ALU_MUL, ALU_REQUANT, GEMM_II 2', JSON.stringify({
    TARGET: 'ice40', LOG_BATCH: 1, LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10,
    LOG_ACC_BUFF_SIZE: 11, DSP_BUDGET: 16, GEMM_II: 2, ALU_II: 4, ALU_MUL: true, ALU_REQUANT: true, UOP_ISSUE_REG: true,
  })],
  ['1x4, 32-bit ACC, ALU_II 1, GEMM_REQUANT, two read engines, command queues of 16', JSON.stringify({
    TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12,
    ALU_REQUANT: true, GEMM_REQUANT: true, CMD_QUEUE_DEPTH: 16, UOP_ISSUE_REG: true,
  })],
];
