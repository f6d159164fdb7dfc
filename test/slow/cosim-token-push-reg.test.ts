/**
 * TOKEN_PUSH_REG co-simulation campaign (npm run test:slow, docs/microarch.md §19): the TypeScript
 * simulator and the Verilated RTL agree bit for bit and cycle for cycle on the whole conformance
 * suite, 200 random programs and the directed programs (ALU hazards where the DRAM has room, and
 * four programs that fill each token queue past 255) on three configurations: the measured UP5K
 * 1x4 (one read engine, no command queues, serial decode, ALU_II 4), a 1x4 with two read engines,
 * command queues of 16 and READ_DONE_REG, and up5k-1x2 with COMPUTE_READ_REG (no command queues).
 * `verilator --lint-only -Wall` is clean on all three (the iCE40 ones with the iCE40 cells). The fast
 * version is in test/token-push-reg.test.ts. VTW_TPR_RANDOM sets the number of random programs per
 * configuration.
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
import { TPR_SLOW_CONFIGS, fullQueuePrograms } from '../helpers/token-push-reg.ts';

verilatorTest('verilator -Wall is clean with TOKEN_PUSH_REG on the three configurations', async () => {
  for (const [label, config] of TPR_SLOW_CONFIGS) {
    const d = loadConfig(config);
    assert.ok(d.tokenPushReg, label);
    await lintVta(d, d.keys.TARGET === 'ice40' ? 'ice40' : 'generic', label);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_TPR_RANDOM ?? 200);

TPR_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`TOKEN_PUSH_REG ${label}: conformance + ${RANDOM} random programs + directed programs match exactly`, async () => {
    const r = await cosimConfig(rtl, config, RANDOM, 27000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
    // the full-queue programs need 8.3 KB of instructions: not on the 8 KiB board DRAM
    const d = loadConfig(config);
    if (d.mem.addrBits < 14) return;
    for (const [what, p] of fullQueuePrograms(config)) {
      const a = runSync(p);
      const b = await rtl.run(p);
      // without command queues a held LOAD INP / STORE also holds the instructions behind it at
      // fetch, so the l2g and s2g programs deadlock (§3, §9.2): then both engines must say so alike
      const stuck = d.cmdQueueDepth === 0 && /^(l2g|s2g)/.test(what);
      assert.is(a.error?.kind, stuck ? 'deadlock' : undefined, what);
      const mm = compareResults(p, a, b);
      assert.equal(mm, [], `${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
    }
  });
});

test.run();
