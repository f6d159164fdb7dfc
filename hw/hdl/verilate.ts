/**
 * Build and run a Verilator simulation (`verilator --binary`) of generated modules with a
 * testbench, through execa; returns what the testbench printed. Used by hardware unit tests.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { VtwError } from '../../src/errors.ts';
import { holdTemp, releaseTemp, runBuildCommand } from '../../src/util/child-builds.ts';

/** yosys's iCE40 cell models (shipped inside @yowasp/yosys), to simulate SB_MAC16 instances. */
export function ice40CellsSim(): string {
  // The package's entry point is gen/bundle.js; its share/ folder sits beside it.
  const entry = createRequire(import.meta.url).resolve('@yowasp/yosys');
  return join(dirname(entry), 'share', 'ice40', 'cells_sim.v');
}

export interface VerilateOptions {
  /** Extra library files (e.g. ice40CellsSim()), read with lint warnings off. */
  libraries?: string[];
  timeoutMs?: number;
}

/** Testbench runs are short: compiling their C++ without optimization costs less than it would save. */
const CXX_OPT = 'OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0';

export async function verilateAndRun(files: Record<string, string>, testbenchTop: string, opts: VerilateOptions = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-vl-'));
  holdTemp(dir);
  try {
    const paths = Object.entries(files).map(([name, text]) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    });
    const vlt = join(dir, 'libs.vlt');
    writeFileSync(vlt, '`verilator_config\n' + (opts.libraries ?? []).map((l) => `lint_off -file "${l}"\n`).join(''));
    const args = ['--binary', '-j', '2', '-MAKEFLAGS', CXX_OPT, '--top-module', testbenchTop, '-Wno-fatal', '+define+NO_ICE40_DEFAULT_ASSIGNMENTS', '--Mdir', join(dir, 'obj'), vlt, ...(opts.libraries ?? []), ...paths];
    const build = await runBuildCommand('verilator', args, { timeout: opts.timeoutMs ?? 120000 });
    if (build.exitCode !== 0) {
      if (build.code === 'ENOENT') throw new VtwError('verilator is not installed; install it with: apt-get install verilator');
      throw new VtwError(`verilator build failed: ${build.stderr.split('\n').filter((l) => l.startsWith('%Error')).slice(0, 3).join(' | ') || build.stderr.slice(0, 400)}`);
    }
    const run = await execa(join(dir, 'obj', `V${testbenchTop}`), [], { reject: false, timeout: opts.timeoutMs ?? 120000 });
    if (run.exitCode !== 0) throw new VtwError(`simulation failed (exit ${run.exitCode}): ${run.stderr.slice(0, 400)}`);
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    releaseTemp(dir);
  }
}
