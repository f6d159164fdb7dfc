/** Verilator lint of generated Verilog (`verilator --lint-only -Wall`), through execa. */
import { execa } from 'execa';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VtwError } from '../../src/errors.ts';

export interface LintResult {
  ok: boolean;
  /** Verilator's warnings and errors, one per line. */
  messages: string[];
}

/** Lint a set of files (name → text) with `top` as the top module. */
export async function verilatorLint(files: Record<string, string>, top: string): Promise<LintResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-lint-'));
  try {
    const paths = Object.entries(files).map(([name, text]) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    });
    let r;
    try {
      r = await execa('verilator', ['--lint-only', '-Wall', '--top-module', top, ...paths], { reject: false });
    } catch (e) {
      throw new VtwError(`cannot run verilator (${(e as Error).message}); install it with: apt-get install verilator`);
    }
    if ((r as { code?: string }).code === 'ENOENT' || (r.failed && r.exitCode === undefined)) {
      throw new VtwError('verilator is not installed; install it with: apt-get install verilator');
    }
    const messages = r.stderr.split('\n').filter((l) => /^%(Warning|Error)/.test(l));
    return { ok: r.exitCode === 0 && messages.length === 0, messages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
