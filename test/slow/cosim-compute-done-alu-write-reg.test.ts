/**
 * COMPUTE_DONE_REG / ALU_WRITE_REG co-simulation campaign (npm run test:slow, docs/microarch.md §22):
 * the TypeScript simulator and the Verilated RTL agree bit for bit and cycle for cycle on the whole
 * conformance suite, 200 random programs and the directed programs (several compute instructions
 * done together, with and without pushes; the ALU interlock programs and the queue-filling programs
 * where the DRAM has room) on five configurations: the measured UP5K 1x4 with every timing cut and
 * both keys, and with UOP_ISSUE_REG and MEM_REQ_REG too; a 1x4 with ALU_II 1, ALU_REQUANT, two
 * read engines and command queues with both keys; a 2x4 16-bit ACC with ALU_II 2, GEMM_II 2, ALU_MUL and GEMM_REQUANT with COMPUTE_DONE_REG alone;
 * a 1x4 with ALU_II 2, one read engine, no queues with ALU_WRITE_REG alone. `verilator --lint-only
 * -Wall` is clean on all five. The fast version is in test/compute-done-alu-write-reg.test.ts.
 * VTW_CDR_AWR_RANDOM sets the number of random programs per configuration.
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
import { CDR_AWR_SLOW_CONFIGS, doneTogetherProgram } from '../helpers/compute-done-alu-write-reg.ts';
import { fullQueuePrograms } from '../helpers/token-push-reg.ts';

verilatorTest('verilator -Wall is clean with COMPUTE_DONE_REG / ALU_WRITE_REG on the five configurations', async () => {
  for (const [label, config] of CDR_AWR_SLOW_CONFIGS) {
    const d = loadConfig(config);
    assert.ok(d.computeDoneReg || d.aluWriteReg, label);
    await lintVta(d, d.keys.TARGET === 'ice40' ? 'ice40' : 'generic', label);
  }
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_CDR_AWR_RANDOM ?? 200);

CDR_AWR_SLOW_CONFIGS.forEach(([label, config], i) => {
  verilatorTest(`COMPUTE_DONE_REG / ALU_WRITE_REG, ${label}: conformance + ${RANDOM} random programs + directed programs match exactly`, async () => {
    const r = await cosimConfig(rtl, config, RANDOM, 31000 + 1000 * i);
    assert.ok(r.cases >= 40, `${r.cases} conformance cases`);
    const d = loadConfig(config);
    const directed: Array<[string, ReturnType<typeof doneTogetherProgram>]> = [];
    for (const zeros of [1, 2, 7]) {
      for (const noPush of [false, true]) directed.push([`${zeros} done together${noPush ? ', no pushes' : ''}`, doneTogetherProgram(config, zeros, 3, noPush)]);
    }
    // the full-queue programs need 8.3 KB of instructions: not on the 8 KiB board DRAM; without
    // command queues their l2g and s2g programs deadlock (test/slow/cosim-token-push-reg.test.ts)
    if (d.mem.addrBits >= 14 && d.cmdQueueDepth > 0) directed.push(...fullQueuePrograms(config));
    for (const [what, p] of directed) {
      const a = runSync(p);
      const b = await rtl.run(p);
      assert.is(a.error, undefined, what);
      const mm = compareResults(p, a, b);
      assert.equal(mm, [], `${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
    }
  });
});

test.run();
