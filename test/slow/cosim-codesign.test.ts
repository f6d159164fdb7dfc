/**
 * ALU_REQUANT + GEMM_REQUANT co-simulation campaign (npm run test:slow): the TypeScript simulator
 * and the Verilated RTL agree bit for bit and cycle for cycle on the conformance suite (its RQ cases
 * and insn.gemm.requant included) and 200 random programs per configuration (RQ in both forms,
 * random parameter words: shift, relu, clear; GEMMs with the requant bit, 0-2 loops; RQs without
 * micro-ops that set P) on three configurations with both options on. The fast version (ALU_REQUANT
 * alone, 25 programs) is in test/codesign.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config/index.ts';
import { conformanceCases } from '../../src/runtime/conformance.ts';
import { randomProgram } from '../../src/runtime/random.ts';
import { compareResults } from '../../sim/compare.ts';
import { runSync } from '../../sim/ts/engine.ts';
import { VerilatorEngine } from '../../sim/verilator/engine.ts';
import { verilatorTest } from '../helpers/tools.ts';
import { CODESIGN_CONFIGS } from '../helpers/codesign.ts';

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
const RANDOM = Number(process.env.VTW_CODESIGN_RANDOM ?? 200);

for (const [label, json] of CODESIGN_CONFIGS) {
  verilatorTest(`ALU_REQUANT + GEMM_REQUANT ${label}: conformance + ${RANDOM} random programs match exactly`, async () => {
    const d = loadConfig(json);
    assert.ok(d.aluRequant && d.gemmRequant);
    const cases = conformanceCases(d);
    assert.ok(cases.some((c) => c.name.startsWith('alu_test.rq')), 'the conformance suite has RQ cases');
    assert.ok(cases.some((c) => c.name === 'insn.gemm.requant'), 'the conformance suite has the GEMM requant case');
    for (const c of cases) {
      const built = c.build(d, 1);
      const b = await rtl.run(built.program);
      const mm = compareResults(built.program, runSync(built.program), b);
      assert.equal(mm, [], `${c.name}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
      assert.ok(built.check(b).ok, `${c.name} on the RTL: ${built.check(b).message}`);
    }
    let requant = 0;
    for (let s = 1; s <= RANDOM; s++) {
      const rp = randomProgram(d, 5000 + s);
      requant += rp.description.filter((x) => x.includes(' requant')).length;
      const p = rp.program;
      const mm = compareResults(p, runSync(p), await rtl.run(p));
      assert.equal(mm, [], `seed ${5000 + s}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
    }
    assert.ok(requant >= 4 * RANDOM, `GEMMs with the requant bit in ${RANDOM} programs: ${requant}`);
  });
}

test.run();
