/**
 * Tests that need an external tool (src/prereq.ts lists them) skip with a printed reason when it
 * is missing, instead of failing one by one: `SKIP <test name>: <reason>` (docs/testing.md), which
 * the runner counts as skipped, not passed. `npm test` checks these tools before it starts, so the
 * skips show up when a file is run on its own or with --no-prereq.
 */
import { test } from 'uvu';
import { TOOLS, checkTool, installCommand } from '../../src/prereq.ts';

const cache = new Map<string, string | null>();

/** Why the tools `ids` cannot be used here (one line, with the install command), or null. */
export function toolsMissing(...ids: string[]): string | null {
  const key = ids.join(',');
  if (!cache.has(key)) {
    const tools = ids.map((id) => {
      const t = TOOLS.find((x) => x.id === id);
      if (!t) throw new Error(`no tool '${id}' in src/prereq.ts`);
      return t;
    });
    const bad = tools.map((t) => checkTool(t)).filter((s) => !s.ok);
    const why = bad.length ? `${bad.map((s) => `${s.name} ${s.problem}`).join(', ')} (install: ${installCommand(tools.filter((t) => bad.some((b) => b.id === t.id)))})` : null;
    cache.set(key, why);
  }
  return cache.get(key)!;
}

/** What building and running a Verilator model needs: verilator itself, a C++ compiler and make. */
export const verilatorMissing = (): string | null => toolsMissing('verilator', 'cxx', 'make');

/** Like uvu's `test`, but when `missing()` gives a reason the test prints `SKIP <name>: <reason>` and returns. */
export function testNeeding(missing: () => string | null) {
  return (name: string, fn: () => unknown): void =>
    test(name, async () => {
      const why = missing();
      if (why) {
        console.log(`SKIP ${name}: ${why}`);
        return;
      }
      await fn();
    });
}

/** A test that needs Verilator (and the C++ compiler and make it builds with). */
export const verilatorTest = testNeeding(verilatorMissing);
