/**
 * COMPUTE_READ_REG co-simulation campaign (npm run test:slow, docs/microarch.md §17): the TypeScript
 * simulator and the Verilated RTL agree bit for bit and cycle for cycle on the whole conformance
 * suite, 200 random programs and the directed programs on three configurations (the measured
 * up5k-1x2 with the key: no command queues; a 1x4 with queues of 16; a 1x4 with queues of 2 and 2
 * cycles per beat; all with one read engine, which the key needs), and `verilator --lint-only -Wall`
 * is clean on all three (up5k-1x2 with the iCE40 cells). The fast version is in
 * test/compute-read-reg.test.ts. VTW_CRR_RANDOM sets the number of random programs per configuration.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { loadConfig } from '../../src/config/index.ts';
import { ice40CellsSim, printModule, verilatorLint } from '../../hw/hdl/index.ts';
import { generateVta } from '../../hw/vta/index.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { cosimAluII } from '../helpers/alu-ii.ts';
import { CRR_SLOW_CONFIGS } from '../helpers/compute-read-reg.ts';

verilatorTest('verilator -Wall is clean with COMPUTE_READ_REG on the three configurations', async () => {
  for (const [label, config] of CRR_SLOW_CONFIGS) {
    const d = loadConfig(config);
    assert.ok(d.computeReadReg, label);
    const ice40 = d.keys.TARGET === 'ice40';
    const mods = generateVta(d, { target: ice40 ? 'ice40' : 'generic', configId: 0x1234abcd });
    const files = Object.fromEntries(mods.map((m) => [`${m.name}.v`, printModule(m)]));
    const r = await verilatorLint(files, mods[mods.length - 1].name, ice40 ? [ice40CellsSim()] : []);
    assert.ok(r.ok, `${label}:\n${r.messages.slice(0, 10).join('\n')}`);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_CRR_RANDOM ?? 200);

CRR_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`COMPUTE_READ_REG ${label}: conformance + ${RANDOM} random programs + directed programs match exactly`, async () => {
    const r = await cosimAluII(rtl, config, RANDOM, 17000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
  });
});

test.run();
