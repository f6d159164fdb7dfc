import { PRESETS } from '../../src/config/presets.ts';

/**
 * Configurations with ALU_REQUANT and GEMM_REQUANT on that the co-simulation tests cover (label,
 * config text); ALU_REQUANT alone generates the same RTL as before GEMM_REQUANT existed.
 */
export const CODESIGN_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['default-codesign (1x16, 32-bit ACC)', 'default-codesign'],
  ['hx8k-1x2 (1x2, 16-bit ACC, queues of 1, one outstanding burst)', JSON.stringify({ ...PRESETS.find((p) => p.name === 'hx8k-1x2')!.json, ALU_REQUANT: true, GEMM_REQUANT: true })],
  ['2x4, 16-bit ACC, ALU_MUL, GEMM_II 2', JSON.stringify({
    TARGET: 'ice40', LOG_BATCH: 1, LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10,
    LOG_ACC_BUFF_SIZE: 11, DSP_BUDGET: 16, GEMM_II: 2, ALU_MUL: true, ALU_REQUANT: true, GEMM_REQUANT: true,
  })],
];
