/**
 * COMPUTE_READ_REG (docs/microarch.md §17): the configurations its co-simulation tests cover. The
 * co-simulation pass itself is test/helpers/alu-ii.ts's `cosimConfig` (conformance, random programs,
 * the directed program with its LOAD UOP / LOAD ACC), which does not depend on the ALU.
 */
import { readFileSync } from 'node:fs';

/** up5k-1x2 with the key (the configuration docs/fpga.md measures). */
export const UP5K_1X2_CRR = 'docs/results/timing/up5k-1x2-crr.json';

/** The npm-test configuration: the measured one on full 32-bit DRAM addresses (room for the directed program). */
export function crrFastConfigText(): string {
  const { MEM_ADDR_BITS: _a, BOARD: _b, ...core } = JSON.parse(readFileSync(UP5K_1X2_CRR, 'utf8')) as Record<string, unknown>;
  return JSON.stringify(core);
}

const CORE_1X4 = { TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12, COMPUTE_READ_REG: true };

/** The slow tier's configurations (label, config text). */
export const CRR_SLOW_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['up5k-1x2 with COMPUTE_READ_REG (one read engine, no command queues)', UP5K_1X2_CRR],
  ['1x4, one read engine, command queues of 16', JSON.stringify({ ...CORE_1X4, DMA_READ_ENGINES: 1 })],
  ['1x4, one read engine, command queues of 2, 2 cycles per beat, ALU_REQUANT', JSON.stringify({
    ...CORE_1X4, DMA_READ_ENGINES: 1, CMD_QUEUE_DEPTH: 2, MEM_CYCLES_PER_BEAT: 2, ALU_REQUANT: true,
  })],
  // the two configurations where the TS simulator once dispatched a cycle late (docs/microarch.md §17)
  ['1x4, two read engines, command queues of 16', JSON.stringify({ ...CORE_1X4, DMA_READ_ENGINES: 2 })],
  ['up5k-1x2 with COMPUTE_READ_REG and command queues of 2', JSON.stringify({ ...JSON.parse(crrFastConfigText()), CMD_QUEUE_DEPTH: 2 })],
];
