/**
 * COMPUTE_DONE_REG and ALU_WRITE_REG (docs/microarch.md §22): the configurations their
 * co-simulation tests cover and the directed programs (several compute instructions done in one
 * cycle; ALU micro-ops on the interlock). The co-simulation pass for conformance and random programs
 * is test/helpers/alu-ii.ts's `cosimConfig`.
 */
import { readFileSync } from 'node:fs';
import { assemble } from '../../src/program/index.ts';
import type { Program } from '../../src/program/container.ts';

/** The measured 1x4 of issue 17 with every timing cut, with both keys / without them. */
export const UP5K_1X4_CUTS_KEYS = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr-cdr-awr.json';
export const UP5K_1X4_CUTS = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr.json';
/** The same with UOP_ISSUE_REG and MEM_REQ_REG (docs/microarch.md §20, §21) too. */
export const UP5K_1X4_ALL_KEYS = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr-uir-mrr-cdr-awr.json';

/** `base` (a config file) with the keys set as given, as config text. */
export function withKeys(base: string, keys: { COMPUTE_DONE_REG?: boolean; ALU_WRITE_REG?: boolean }): string {
  return JSON.stringify({ ...JSON.parse(readFileSync(base, 'utf8')), ...keys });
}

/**
 * Compute instructions that are done together: a GEMM of `uops` reset micro-ops pushing g2s, then
 * `zeros` GEMMs without micro-ops (done in their start cycle), each pushing g2s or (every other
 * one) g2l, or nothing when `noPush`; STOREs and LOADs that move nothing pop them (the last of each
 * hands a token to FINISH). Without COMPUTE_DONE_REG they complete with the first GEMM, with it one
 * a cycle. Assembled for `config` (a config text or file): it fits the 8 KiB board DRAM.
 */
export function doneTogetherProgram(config: string, zeros: number, uops = 4, noPush = false): Program {
  const lines = ['.buffer uops kind=uop', ...Array.from({ length: uops }, (_, i) => `    uop dst_idx=${i} src_idx=0 wgt_idx=0`), '.text'];
  lines.push(`    LOAD UOP sram_base=0 dram_base=@uops y_size=1 x_size=${uops} x_stride=${uops}`);
  lines.push(`    GEMM reset_reg=1 uop_bgn=0 uop_end=${uops} iter_out=1 iter_in=1 push_next_dep`);
  let g2s = 1;
  let g2l = 0;
  for (let i = 0; i < zeros; i++) {
    const prev = !noPush && i % 2 === 1;
    const next = !noPush && i % 2 === 0;
    lines.push(`    GEMM uop_bgn=0 uop_end=0 iter_out=1 iter_in=1${prev ? ' push_prev_dep' : ''}${next ? ' push_next_dep' : ''}`);
    if (prev) g2l++;
    if (next) g2s++;
  }
  for (let i = 0; i < g2s; i++) lines.push(`    STORE OUT sram_base=0 dram_base=0 y_size=0 x_size=0 x_stride=0 pop_prev_dep${i === g2s - 1 ? ' push_prev_dep' : ''}`);
  for (let i = 0; i < g2l; i++) lines.push(`    LOAD INP sram_base=0 dram_base=0 y_size=0 x_size=0 x_stride=0 pop_next_dep${i === g2l - 1 ? ' push_next_dep' : ''}`);
  lines.push(`    FINISH pop_next_dep${g2l ? ' pop_prev_dep' : ''}`);
  return assemble(`${lines.join('\n')}\n`, '<done together>', config);
}

/** The slow tier's configurations (label, config text). */
export const CDR_AWR_SLOW_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['the measured UP5K 1x4 with every timing cut and both keys (ALU_II 4, one read engine, no command queues)', readFileSync(UP5K_1X4_CUTS_KEYS, 'utf8')],
  ['the same with UOP_ISSUE_REG and MEM_REQ_REG too (every issue-17 key)', readFileSync(UP5K_1X4_ALL_KEYS, 'utf8')],
  ['1x4, ALU_II 1, ALU_REQUANT, two read engines, command queues of 16, both keys', JSON.stringify({
    TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12,
    ALU_REQUANT: true, COMPUTE_DONE_REG: true, ALU_WRITE_REG: true,
  })],
  ['2x4 16-bit ACC, ALU_II 2, GEMM_II 2, ALU_MUL, GEMM_REQUANT, COMPUTE_DONE_REG only', JSON.stringify({
    TARGET: 'sim', LOG_BATCH: 1, LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12,
    GEMM_II: 2, ALU_MUL: true, ALU_REQUANT: true, COMPUTE_DONE_REG: true,
  })],
  ['1x4 32-bit ACC, ALU_II 2, one read engine, no command queues, ALU_WRITE_REG only', JSON.stringify({
    TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12,
    ALU_II: 2, DMA_READ_ENGINES: 1, CMD_QUEUE_DEPTH: 0, ALU_WRITE_REG: true,
  })],
];
