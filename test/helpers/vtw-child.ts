/** Run the vtw CLI in a child process (for what is about the process: exit status, one line, time limit). */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const VTW_BIN = fileURLToPath(new URL('../../bin/vtw.js', import.meta.url));

export interface ChildResult {
  code: number | undefined;
  stdout: string;
  stderr: string;
  seconds: number;
  timedOut: boolean;
}

export async function runVtw(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ChildResult> {
  const t0 = performance.now();
  const r = await execa(process.execPath, [VTW_BIN, ...args], {
    cwd: opts.cwd, reject: false, timeout: opts.timeoutMs ?? 20_000, stdin: 'ignore', env: { VTW_DEBUG: '', ...opts.env },
  });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), seconds: (performance.now() - t0) / 1000, timedOut: Boolean(r.timedOut) };
}

/** The lines of stderr that are vtw's error lines. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('vtw:'));
}
