/**
 * FETCH_DECODE_SERIAL co-simulation campaign (npm run test:slow): the TS simulator and the Verilated
 * RTL agree bit for bit and cycle for cycle on 200 random programs (VTW_SERDEC_RANDOM) per
 * configuration: the two of test/fetch-serial.test.ts (1x4-c without queues, block-RAM buffer; with
 * queues, flip-flop buffer, 128-bit beats exactly the decode's 5 cycles apart) and one with 9-bit
 * operands (latency 6), 64-bit beats 3 cycles apart, queues of 4 and the buffer in block RAM.
 */
import { deriveConfig } from '../../src/config/derive.ts';
import { randomProgram } from '../../src/runtime/random.ts';
import { timingOf } from '../../src/uarch/index.ts';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { verilatorTest } from '../helpers/tools.ts';
import { SERIAL_CONFIGS, agreeEngines } from '../helpers/fetch-serial.ts';

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_SERDEC_RANDOM ?? 200);
const WIDE = {
  TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 11,
  LOG_BUS_WIDTH: 6, MEM_CYCLES_PER_BEAT: 3, CMD_QUEUE_DEPTH: 4, FETCH_BUFFER_BRAM: true, FETCH_DECODE_SERIAL: true,
};

for (const [label, cfg] of [...SERIAL_CONFIGS, ['1x4, 9-bit operands, 64-bit beats 3 cycles apart, queues of 4', WIDE] as const]) {
  verilatorTest(`FETCH_DECODE_SERIAL ${label}: ${RANDOM} random programs match exactly`, async () => {
    const d = deriveConfig(cfg);
    assert.ok(timingOf(d).fetchDecodeDelay > 0);
    for (let s = 1; s <= RANDOM; s++) await agreeEngines(rtl, randomProgram(d, 5000 + s).program, `seed ${5000 + s}`);
  });
}

test.run();
