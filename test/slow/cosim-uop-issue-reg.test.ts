/**
 * UOP_ISSUE_REG co-simulation campaign (npm run test:slow, docs/microarch.md §20): the TypeScript
 * simulator and the Verilated RTL agree bit for bit and cycle for cycle on the whole conformance
 * suite, 200 random programs, the ALU/GEMM hazard programs (where the DRAM has room), §20's example
 * and an index error behind a full issue stage, on four configurations: the measured UP5K 1x4 with
 * all four cuts, the same core on 32-bit DRAM addresses, a 2x4 with ALU_II 4 and GEMM_II 2, and a
 * 1x4 with ALU_II 1 (immediate ALU ops back to back), GEMM_REQUANT and command queues.
 * `verilator --lint-only -Wall` is clean on all four (the iCE40 ones with the iCE40 cells). The fast
 * version is in test/uop-issue-reg.test.ts. VTW_UIR_RANDOM sets the number of random programs per
 * configuration.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { compareResults } from '../../sim/compare.ts';
import { runSync } from '../../sim/ts/engine.ts';
import { loadConfig } from '../../src/config/index.ts';
import { lintVta } from '../helpers/lint-vta.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { cosimConfig } from '../helpers/alu-ii.ts';
import { UIR_SLOW_CONFIGS, exampleProgram, oobProgram } from '../helpers/uop-issue-reg.ts';

verilatorTest('verilator -Wall is clean with UOP_ISSUE_REG on the four configurations', async () => {
  for (const [label, config] of UIR_SLOW_CONFIGS) {
    const d = loadConfig(config);
    assert.ok(d.uopIssueReg, label);
    await lintVta(d, d.keys.TARGET === 'ice40' ? 'ice40' : 'generic', label);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_UIR_RANDOM ?? 200);

UIR_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`UOP_ISSUE_REG ${label}: conformance + ${RANDOM} random programs + directed programs match exactly`, async () => {
    const r = await cosimConfig(rtl, config, RANDOM, 31000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
    const d = loadConfig(config);
    const programs = [['example', exampleProgram(config)], ...(d.depth.acc === 128 ? [['index error', oobProgram(config)] as const] : [])] as const;
    for (const [what, p] of programs) {
      const a = runSync(p);
      const b = await rtl.run(p);
      assert.is(a.error?.kind, what === 'index error' ? 'illegal' : undefined, what);
      const mm = compareResults(p, a, b);
      assert.equal(mm, [], `${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
    }
  });
});

test.run();
