/**
 * Test suites over an engine: the conformance cases (checked against plain references) and random
 * programs (which must run without error). Shared by `vtw test` and the uvu tests.
 */
import type { Derived } from '../src/config/derive.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { randomProgram } from '../src/runtime/random.ts';
import type { Engine, RunResult } from '../src/engine/index.ts';

export interface SuiteResult {
  name: string;
  ok: boolean;
  message: string;
  cycles: number;
  description: string;
}

export interface SuiteOptions {
  suite: 'conformance' | 'random';
  seed: number;
  /** Random programs to run (random suite only). */
  count: number;
  onResult?: (r: SuiteResult) => void;
}

export function suiteSize(d: Derived, o: SuiteOptions): number {
  return o.suite === 'conformance' ? conformanceCases(d).length : o.count;
}

export async function runSuite(d: Derived, engine: Engine, o: SuiteOptions): Promise<SuiteResult[]> {
  const results: SuiteResult[] = [];
  const record = (r: SuiteResult) => {
    results.push(r);
    o.onResult?.(r);
  };
  if (o.suite === 'conformance') {
    for (const c of conformanceCases(d)) {
      const built = c.build(d, o.seed);
      const result = await engine.run(built.program);
      const check = built.check(result);
      record({ name: c.name, ok: check.ok, message: check.message, cycles: result.counters.cycles, description: built.description });
    }
  } else {
    for (let i = 0; i < o.count; i++) {
      const seed = o.seed + i;
      const rp = randomProgram(d, seed);
      const result: RunResult = await engine.run(rp.program);
      const ok = !result.error;
      record({
        name: `random#${seed}`,
        ok,
        message: result.error ? `${result.error.kind}: ${result.error.message}` : 'ran to FINISH',
        cycles: result.counters.cycles,
        description: `${rp.description.length} tasks`,
      });
    }
  }
  return results;
}
