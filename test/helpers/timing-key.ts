/**
 * A timing-contract key changes when things happen, never what they compute: run every conformance
 * case of `off` on the TS simulator with and without the key (`on`: the same configuration with it),
 * assert the results are right and the DRAM identical, and return each case's two cycle counts for
 * the caller's own timing assertions (COMPUTE_READ_REG, READ_DONE_REG, TOKEN_PUSH_REG tests).
 */
import * as assert from 'uvu/assert';
import type { Derived } from '../../src/config/derive.ts';
import { conformanceCases } from '../../src/runtime/conformance.ts';
import { runSync } from '../../sim/ts/engine.ts';

export function conformanceCyclesWithKey(off: Derived, on: Derived): Array<{ name: string; off: number; on: number }> {
  return conformanceCases(off).map((c) => {
    const built = c.build(off, 2);
    const r0 = runSync(built.program);
    const r1 = runSync({ ...built.program, config: on });
    assert.ok(built.check(r1).ok, `${c.name}: ${built.check(r1).message}`);
    assert.equal(r1.dram, r0.dram, c.name);
    return { name: c.name, off: r0.counters.cycles, on: r1.counters.cycles };
  });
}
