/**
 * FETCH_DECODE_SERIAL co-simulation campaign (npm run test:slow): `verilator -Wall` (generic and
 * iCE40) and the TS simulator against the Verilated RTL, bit for bit and cycle for cycle, on the
 * conformance suite, 200 random programs (VTW_SERDEC_RANDOM), the DRAM range check at dram_size
 * per memory type, and the illegal instructions whose
 * checks need the products, per configuration: 1x4-c without queues and with the fetch buffer in
 * block RAM (test/fetch-serial.test.ts runs a small instance of it); 1x4-c with queues of 2, the
 * buffer in flip-flops and 128-bit beats exactly the decode's 5 cycles apart; and 9-bit operands
 * (latency 6) with 64-bit beats 3 cycles apart, queues of 4, the buffer in block RAM and 32-bit
 * DRAM addresses; and 1x4-c with ALU_II 2 as well (docs/results/up5k-1x4/1x4-c-aluii2-serdec.json), and
 * with ALU_II 4 and the three timing cuts (1x4-c-aluii4-serdec-rdr-crr-tpr.json, the issue-17 measurement).
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../../src/config/derive.ts';
import { timingOf } from '../../src/uarch/index.ts';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { lintVta } from '../helpers/lint-vta.ts';
import { SERIAL_CONFIGS, cosimSuite, dramLimitChecks, productChecks } from '../helpers/fetch-serial.ts';

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_SERDEC_RANDOM ?? 200);
const WIDE = {
  TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 11,
  LOG_BUS_WIDTH: 6, MEM_CYCLES_PER_BEAT: 3, CMD_QUEUE_DEPTH: 4, FETCH_BUFFER_BRAM: true, FETCH_DECODE_SERIAL: true,
};
const CONFIGS: Array<[string, Record<string, unknown>]> = [
  ...SERIAL_CONFIGS,
  ['1x4, 9-bit operands, 64-bit beats 3 cycles apart, queues of 4', WIDE],
  // with the other issue-17 saving: a two-lane ALU (ALU_II 2)
  ['1x4-c with ALU_II 2', JSON.parse(readFileSync('docs/results/up5k-1x4/1x4-c-aluii2-serdec.json', 'utf8')) as Record<string, unknown>],
  // the issue-17 measurement: ALU_II 4 and the three timing cuts (READ_DONE_REG, COMPUTE_READ_REG, TOKEN_PUSH_REG)
  ['1x4-c with ALU_II 4 and the three timing cuts', JSON.parse(readFileSync('docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr.json', 'utf8')) as Record<string, unknown>],
];

for (const [label, cfg] of CONFIGS) {
  verilatorTest(`FETCH_DECODE_SERIAL ${label}: lint, conformance, ${RANDOM} random programs and the product checks match exactly`, async () => {
    const d = deriveConfig(cfg);
    assert.ok(timingOf(d).fetchDecodeDelay > 0);
    await lintVta(d, 'generic');
    await lintVta(d, 'ice40');
    await cosimSuite(rtl, cfg, RANDOM, 5000);
    // (the product checks' instructions are written for 1x4-c's depths and 13-bit addresses)
    if (cfg !== WIDE) await productChecks(rtl, label, cfg);
    await dramLimitChecks(rtl, label, cfg);
  });
}

test.run();
