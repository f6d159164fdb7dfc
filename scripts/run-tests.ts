/**
 * Runs every test/*.test.ts with uvu in this process and ends with one line `N passed, N failed`
 * (uvu's own summary is not in that form). Usage: tsx scripts/run-tests.ts [pattern]
 */
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const pattern = process.argv[2] ? new RegExp(process.argv[2]) : /\.test\.ts$/;
const { suites } = await parse('test', pattern, { cwd: process.cwd() });
if (suites.length === 0) {
  console.log('no test files matched');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// uvu prints "Total / Passed / Skipped" when done; capture them from its output.
let captured = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

await run(suites, { bail: false });
process.stdout.write = write;

const plain = captured.replace(/\x1b\[[0-9;]*m/g, '');
const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN);
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped');
if (!Number.isFinite(total) || !Number.isFinite(passed)) {
  console.log('0 passed, 1 failed  (the test run ended before uvu printed its summary)');
  process.exit(1);
}
const failed = total - passed - (Number.isFinite(skipped) ? skipped : 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || skipped > 0 ? 1 : 0);
