/**
 * READ_DONE_REG (docs/microarch.md §18): the configurations its co-simulation tests cover. The
 * co-simulation pass is test/helpers/alu-ii.ts's `cosimConfig` (conformance, random programs, the
 * directed program with its LOAD UOP / LOAD ACC), which does not depend on the ALU.
 */
import { readFileSync } from 'node:fs';

/** The UP5K 1x4 of issue 17 with the key (the configuration docs/fpga.md measures). */
export const UP5K_1X4_RDR = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr.json';

/** The npm-test configuration: the measured one on full 32-bit DRAM addresses (room for the directed program). */
export function rdrFastConfigText(): string {
  const { MEM_ADDR_BITS: _a, BOARD: _b, ...core } = JSON.parse(readFileSync(UP5K_1X4_RDR, 'utf8')) as Record<string, unknown>;
  return JSON.stringify(core);
}

const CORE_1X4 = { TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12, READ_DONE_REG: true };

/** Two read engines and command queues of 16 (the key needs neither one engine nor COMPUTE_READ_REG). */
export const RDR_TWO_ENGINES = JSON.stringify(CORE_1X4);

/** The slow tier's configurations (label, config text). */
export const RDR_SLOW_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['1x4-c-aluii4-serdec-rdr (the measured UP5K 1x4: one read engine, no command queues, 2 cycles per beat)', UP5K_1X4_RDR],
  ['1x4, two read engines, command queues of 16', RDR_TWO_ENGINES],
  ['1x4, one read engine with COMPUTE_READ_REG, command queues of 2, 2 cycles per beat, ALU_REQUANT', JSON.stringify({
    ...CORE_1X4, DMA_READ_ENGINES: 1, COMPUTE_READ_REG: true, CMD_QUEUE_DEPTH: 2, MEM_CYCLES_PER_BEAT: 2, ALU_REQUANT: true,
  })],
];
