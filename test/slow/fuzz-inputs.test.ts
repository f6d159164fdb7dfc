/**
 * Slow tier: the bad-input fuzz campaign (issue 19, item 6): 2,400 seeded mutations of valid
 * containers and configs (bit flips, truncation, field edits, huge numbers, wrong types, flipped
 * instruction bits) through `vtw sim`, `vtw disasm` and `vtw config show` in process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzInputs } from '../helpers/fuzz-inputs.ts';

test('2,400 mutated containers and configs: 0 internal errors, 0 hangs, every error one line <= 300 characters', async () => {
  const r = await fuzzInputs(2400, 2026);
  console.log(`  fuzz: ${r.cases} runs of 2400 cases, ${r.accepted} accepted, ${r.refused} refused (${r.ranAndStopped} of them by the engine: illegal, deadlock, timeout), ${r.internal.length} internal errors, ${r.slow.length} slow (> 5 s), ${r.badLines.length} bad lines, ${r.seconds.toFixed(1)} s`);
  for (const x of [...r.internal, ...r.slow, ...r.badLines].slice(0, 10)) console.log(`  ${x}`);
  assert.equal(r.internal, []);
  assert.equal(r.slow, []);
  assert.equal(r.badLines, []);
});

test.run();
