/**
 * ALU_II co-simulation campaign (npm run test:slow): the TypeScript simulator and the Verilated RTL
 * agree bit for bit and cycle for cycle on the conformance suite, 200 random programs (every ALU
 * opcode the configuration has, both forms, 0-2 loops, mixed with GEMMs, loads and stores) and the
 * directed hazard programs, on three configurations: the measured UP5K 1x4 (ALU_II 2), a 2x4 with
 * ALU_II 4, ALU_MUL, ALU_REQUANT and GEMM_II 2, and a 1x4 with one ALU lane (ALU_II 4) on 32-bit
 * accumulators; and `verilator --lint-only -Wall` of the measured 1x4 (iCE40 target) and a 1x2 with
 * ALU_II 2. The fast version (one configuration, the ALU's conformance cases, 6 programs) is in
 * test/alu-ii.test.ts.
 * VTW_ALU_II_RANDOM sets the number of random programs per configuration.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { loadConfig } from '../../src/config/index.ts';
import { lintVta } from '../helpers/lint-vta.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { ALU_II_SLOW_CONFIGS, UP5K_1X4_ALU_II, cosimConfig } from '../helpers/alu-ii.ts';

verilatorTest('verilator -Wall is clean on the measured UP5K 1x4 with ALU_II 2 (iCE40 target) and a 1x2 with ALU_II 2, ALU_REQUANT', async () => {
  const small = JSON.stringify({
    TARGET: 'sim', LOG_BLOCK: 1, LOG_ACC_WIDTH: 3, ALU_II: 2, ALU_REQUANT: true, LOG_UOP_BUFF_SIZE: 5, LOG_INP_BUFF_SIZE: 5, LOG_WGT_BUFF_SIZE: 6, LOG_ACC_BUFF_SIZE: 6,
  });
  for (const [config, target] of [[UP5K_1X4_ALU_II, 'ice40'], [small, 'generic']] as const) await lintVta(loadConfig(config), target);
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_ALU_II_RANDOM ?? 200);

ALU_II_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`ALU_II ${label}: conformance + ${RANDOM} random programs + hazard programs match exactly`, async () => {
    const r = await cosimConfig(rtl, config, RANDOM, 9000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
    assert.ok(r.aluUops > 0);
  });
});

test.run();
