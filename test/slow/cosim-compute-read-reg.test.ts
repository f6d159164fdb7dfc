/**
 * COMPUTE_READ_REG co-simulation campaign (npm run test:slow, docs/microarch.md §17): the TypeScript
 * simulator and the Verilated RTL agree bit for bit and cycle for cycle on the whole conformance
 * suite, 200 random programs and the directed programs on five configurations (the measured
 * up5k-1x2 with the key: no command queues; a 1x4 with queues of 16; a 1x4 with queues of 2 and 2
 * cycles per beat; a 1x4 with two read engines; up5k-1x2 with queues of 2 — the last two are where
 * the TS simulator once dispatched into a freed queue slot a cycle late), and `verilator
 * --lint-only -Wall` is clean on all five (the up5k-1x2 ones with the iCE40 cells). The fast version is in
 * test/compute-read-reg.test.ts. VTW_CRR_RANDOM sets the number of random programs per configuration.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { loadConfig } from '../../src/config/index.ts';
import { lintVta } from '../helpers/lint-vta.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { cosimConfig } from '../helpers/alu-ii.ts';
import { CRR_SLOW_CONFIGS } from '../helpers/compute-read-reg.ts';

verilatorTest('verilator -Wall is clean with COMPUTE_READ_REG on the five configurations', async () => {
  for (const [label, config] of CRR_SLOW_CONFIGS) {
    const d = loadConfig(config);
    assert.ok(d.computeReadReg, label);
    const ice40 = d.keys.TARGET === 'ice40';
    await lintVta(d, ice40 ? 'ice40' : 'generic', label);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_CRR_RANDOM ?? 200);

CRR_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`COMPUTE_READ_REG ${label}: conformance + ${RANDOM} random programs + directed programs match exactly`, async () => {
    const r = await cosimConfig(rtl, config, RANDOM, 17000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
  });
});

test.run();
