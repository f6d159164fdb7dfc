/**
 * READ_DONE_REG co-simulation campaign (npm run test:slow, docs/microarch.md §18): the TypeScript
 * simulator and the Verilated RTL agree bit for bit and cycle for cycle on the whole conformance
 * suite, 200 random programs and the directed programs on three configurations (the measured UP5K
 * 1x4 with the key: one read engine, no command queues, 2 cycles per beat; a 1x4 with two read
 * engines and queues of 16; a 1x4 with one read engine, COMPUTE_READ_REG, queues of 2 and 2 cycles
 * per beat), and `verilator --lint-only -Wall` is clean on all three (the UP5K 1x4 with the iCE40
 * cells). The fast version is in test/read-done-reg.test.ts. VTW_RDR_RANDOM sets the number of
 * random programs per configuration.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { loadConfig } from '../../src/config/index.ts';
import { lintVta } from '../helpers/lint-vta.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { cosimConfig } from '../helpers/alu-ii.ts';
import { RDR_SLOW_CONFIGS } from '../helpers/read-done-reg.ts';

verilatorTest('verilator -Wall is clean with READ_DONE_REG on the three configurations', async () => {
  for (const [label, config] of RDR_SLOW_CONFIGS) {
    const d = loadConfig(config);
    assert.ok(d.readDoneReg, label);
    const ice40 = d.keys.TARGET === 'ice40';
    await lintVta(d, ice40 ? 'ice40' : 'generic', label);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_RDR_RANDOM ?? 200);

RDR_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`READ_DONE_REG ${label}: conformance + ${RANDOM} random programs + directed programs match exactly`, async () => {
    const r = await cosimConfig(rtl, config, RANDOM, 27000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
  });
});

test.run();
