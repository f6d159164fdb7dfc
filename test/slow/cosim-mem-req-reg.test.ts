/**
 * MEM_REQ_REG co-simulation campaign (npm run test:slow, docs/microarch.md §21): the TypeScript
 * simulator and the Verilated RTL agree bit for bit and cycle for cycle on the whole conformance
 * suite, 200 random programs and the directed programs (ALU hazards where the DRAM has room, and
 * memory clients competing: test/helpers/mem-req-reg.ts) on three configurations: the measured UP5K
 * 1x4 with every cut of issue 17 (one read engine, no command queues, MEM_OUTSTANDING 1), a 1x4
 * with two read engines, command queues of 16, MEM_OUTSTANDING 4 and READ_DONE_REG, and up5k-1x2
 * with COMPUTE_READ_REG. The measured 1x4's board top (its memory controller, through the simulated
 * UART link: `vtw test --engine board`) runs the conformance suite with the TS simulator's cycles.
 * `verilator --lint-only -Wall` is clean on all three. The fast version is test/mem-req-reg.test.ts.
 * VTW_MRR_RANDOM sets the number of random programs per configuration.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { compareResults } from '../../sim/compare.ts';
import { runSync } from '../../sim/ts/engine.ts';
import { loadConfig } from '../../src/config/index.ts';
import { lintVta } from '../helpers/lint-vta.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { cosimConfig } from '../helpers/alu-ii.ts';
import { runCli } from '../helpers/cli.ts';
import { MRR_SLOW_CONFIGS, UP5K_1X4_MRR, competingPrograms } from '../helpers/mem-req-reg.ts';

verilatorTest('verilator -Wall is clean with MEM_REQ_REG on the three configurations', async () => {
  for (const [label, config] of MRR_SLOW_CONFIGS) {
    const d = loadConfig(config);
    assert.ok(d.memReqReg, label);
    await lintVta(d, d.keys.TARGET === 'ice40' ? 'ice40' : 'generic', label);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_MRR_RANDOM ?? 200);

MRR_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`MEM_REQ_REG ${label}: conformance + ${RANDOM} random programs + directed programs match exactly`, async () => {
    const r = await cosimConfig(rtl, config, RANDOM, 31000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
    for (const [what, p] of competingPrograms(config)) {
      const a = runSync(p);
      const b = await rtl.run(p);
      assert.is(a.error, undefined, what);
      const mm = compareResults(p, a, b);
      assert.equal(mm, [], `${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
    }
  });
});

verilatorTest('MEM_REQ_REG: the measured 1x4\'s board top (memory controller, UART link) runs the conformance suite with the TS simulator\'s cycles', async () => {
  const r = await runCli('test', '--config', UP5K_1X4_MRR, '--engine', 'board', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.passed >= 40 && j.failed === 0, `${j.passed} passed, ${j.failed} failed`);
});

test.run();
