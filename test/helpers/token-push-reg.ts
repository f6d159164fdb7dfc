/**
 * TOKEN_PUSH_REG (docs/microarch.md §19): the configurations its co-simulation tests cover and the
 * directed programs that fill each dependency-token queue (the room check with a registered push).
 * The co-simulation pass for conformance and random programs is test/helpers/alu-ii.ts's
 * `cosimConfig`.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.ts';
import { assemble } from '../../src/program/index.ts';
import type { Program } from '../../src/program/container.ts';

/** The 1x4 of issue 17 with the key (the configuration docs/fpga.md measures). */
export const UP5K_1X4_TPR = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-tpr.json';
/** The same without the key. */
export const UP5K_1X4 = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec.json';

/** ice40-tiny with the key (room for 500-instruction programs), or without. */
export function tinyTprText(on = true): string {
  return JSON.stringify({ ...loadConfig('ice40-tiny').keys, TOKEN_PUSH_REG: on });
}

/**
 * Programs whose producer pushes `n` tokens into one queue before its consumer pops any: with n >
 * 255 the producer blocks on a full queue (§4.3) until the consumer's first pop, so the room check
 * must count the push still in the register (§19). One per queue: l2g (LOAD INP -> GEMM), g2l (GEMM
 * -> LOAD INP), g2s (GEMM -> STORE), s2g (STORE -> GEMM). Nothing moves data (no micro-ops, no sizes).
 */
export function fullQueuePrograms(config: string, n = 260): Array<[string, Program]> {
  const pairs: Array<[string, string, string]> = [
    ['l2g', 'LOAD INP push_next_dep', 'GEMM pop_prev_dep'],
    ['g2l', 'GEMM push_prev_dep', 'LOAD INP pop_next_dep'],
    ['g2s', 'GEMM push_next_dep', 'STORE OUT pop_prev_dep'],
    ['s2g', 'STORE OUT push_prev_dep', 'GEMM pop_next_dep'],
  ];
  return pairs.map(([q, push, pop]) => {
    const lines = [...Array.from({ length: n }, () => `  ${push}`), ...Array.from({ length: n }, () => `  ${pop}`), '  FINISH'];
    return [`${q} filled with ${n} pushes`, assemble(`.text\n${lines.join('\n')}\n`, `<${q}>`, config)];
  });
}

/** Keys of the measured configuration, as text (the npm-test co-simulation runs it as measured). */
export function measuredText(): string {
  return readFileSync(UP5K_1X4_TPR, 'utf8');
}

/** The slow tier's configurations (label, config text). */
export const TPR_SLOW_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['1x4-c-aluii4-serdec-tpr (the measured UP5K 1x4: one read engine, no command queues, serial decode)', UP5K_1X4_TPR],
  ['1x4, two read engines, command queues of 16, ALU_REQUANT, READ_DONE_REG', JSON.stringify({
    TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12,
    ALU_REQUANT: true, READ_DONE_REG: true, TOKEN_PUSH_REG: true,
  })],
  // (with command queues of 2 this configuration mismatches without TOKEN_PUSH_REG too: a
  // COMPUTE_READ_REG case, docs/microarch.md §19; so it runs as measured, without queues)
  ['up5k-1x2 with COMPUTE_READ_REG (no command queues, 2 cycles per beat), 32-bit DRAM addresses', JSON.stringify({
    ...JSON.parse(readFileSync('docs/results/timing/up5k-1x2-crr.json', 'utf8')), MEM_ADDR_BITS: 32, BOARD: null, TOKEN_PUSH_REG: true,
  })],
];
