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
export async function verilatorLint(files: Record<string, string>, top: string, libraries: string[] = []): Promise<LintResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-lint-'));
  try {
    const paths = Object.entries(files).map(([name, text]) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    });
    let r;
    try {
      // Library files (vendor cell models) are read for their ports, with their own warnings off;
      // they carry a timescale our modules do not need, hence -Wno-TIMESCALEMOD with them.
      const vlt = join(dir, 'libs.vlt');
      writeFileSync(vlt, '`verilator_config\n' + libraries.map((l) => `lint_off -file "${l}"\n`).join(''));
      r = await execa('verilator', ['--lint-only', '-Wall', '+define+NO_ICE40_DEFAULT_ASSIGNMENTS', '--top-module', top, vlt, ...(libraries.length ? ['-Wno-TIMESCALEMOD'] : []), ...libraries.flatMap((l) => ['-v', l]), ...paths], { reject: false });
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
