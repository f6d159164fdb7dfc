/** The fast tier of the bad-input fuzz (test/slow/fuzz-inputs.test.ts runs 2,400 cases): 200 mutated containers and configs. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzInputs } from './helpers/fuzz-inputs.ts';

test('200 mutated containers and configs: no internal error, no hang, every error one line <= 300 characters', async () => {
  const r = await fuzzInputs(200, 19);
  console.log(`  fuzz: ${r.cases} runs, ${r.accepted} accepted, ${r.refused} refused (${r.ranAndStopped} of them by the engine: illegal, deadlock, timeout), ${r.internal.length} internal errors, ${r.slow.length} slow, ${r.seconds.toFixed(1)} s`);
  assert.equal(r.internal, []);
  assert.equal(r.slow, []);
  assert.equal(r.badLines, []);
  assert.ok(r.refused > 50 && r.accepted > 10, 'the mutations reach both outcomes');
});

test.run();
