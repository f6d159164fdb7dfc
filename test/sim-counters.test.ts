import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/index.ts';
import { programInsns } from '../src/program/index.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { staticCounters } from '../src/engine/counters.ts';
import { runSync } from '../sim/ts/engine.ts';

// The RTL engine reports counters derived from the instruction stream; they must equal what the
// TypeScript simulator counts while executing, or `--engine both` would compare apples to pears.
for (const preset of ['default', 'ice40-tiny']) {
  test(`counters from the instruction stream equal the simulator's (${preset})`, () => {
    const d = loadConfig(preset);
    const programs = [...conformanceCases(d).map((c) => c.build(d, 3).program), ...[1, 2, 3].map((s) => randomProgram(d, s).program)];
    for (const p of programs) {
      const r = runSync(p);
      assert.is(r.error, undefined);
      const { modules: _m, ...dynamic } = r.counters as typeof r.counters & { gemmHazardStalls?: number };
      const s = staticCounters(p, programInsns(p), r.counters.cycles);
      assert.equal(s.bytes, dynamic.bytes);
      assert.equal(s.fsim, dynamic.fsim);
      assert.is(s.gemm_uops, dynamic.gemm_uops);
      assert.is(s.alu_uops, dynamic.alu_uops);
      assert.is(s.utilization, dynamic.utilization);
    }
  });
}

test.run();
