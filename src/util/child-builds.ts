/**
 * External builds (Verilator → make → g++) that never outlive vtw: each runs in a process group
 * of its own, killed as a whole when vtw exits or is interrupted (SIGINT, SIGTERM, SIGHUP), and
 * its temporary folder is removed then too. A build killed harder (SIGKILL) leaves its temporary
 * folder named after vtw's pid; the next build in that folder removes it once that pid is dead.
 * Signals reach only a process's main thread: a build started in a worker thread (explore/pool.ts)
 * is announced to the main thread, which kills its group with its own (adoptBuildGroup).
 */
import { execa } from 'execa';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort } from 'node:worker_threads';

const groups = new Set<number>();
const temps = new Set<string>();
let installed = false;

function killAll(): void {
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  groups.clear();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
  temps.clear();
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

function onSignal(sig: keyof typeof SIGNALS): void {
  killAll();
  process.exit(128 + SIGNALS[sig]);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const s of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.on(s, onSignal);
}

function uninstallIfIdle(): void {
  if (!installed || groups.size || temps.size) return;
  installed = false;
  process.off('exit', killAll);
  for (const s of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.off(s, onSignal);
}

/** What a worker thread posts to its parent about a build's process group: `{ buildGroup, alive }`. */
export interface BuildGroupMessage {
  buildGroup: number;
  alive: boolean;
}

export const isBuildGroupMessage = (m: unknown): m is BuildGroupMessage => typeof (m as BuildGroupMessage | null)?.buildGroup === 'number';

/** In the main thread: kill a worker thread's build group with this process's own (or stop tracking it). */
export function adoptBuildGroup({ buildGroup, alive }: BuildGroupMessage): void {
  if (alive) {
    install();
    groups.add(buildGroup);
  } else {
    groups.delete(buildGroup);
    uninstallIfIdle();
  }
}

const announce = (buildGroup: number, alive: boolean) => {
  if (!isMainThread) parentPort?.postMessage({ buildGroup, alive } satisfies BuildGroupMessage);
};

export interface BuildResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** 'ENOENT' when the command is not installed. */
  code?: string;
  /** Killed for running past `timeout`. */
  timedOut?: boolean;
}

/** Run a build command in its own process group; the whole group dies with vtw (and with the timeout). */
export async function runBuildCommand(file: string, args: readonly string[], opts: { timeout?: number; cwd?: string } = {}): Promise<BuildResult> {
  install();
  const child = execa(file, args, { reject: false, ...opts, detached: true, stdin: 'ignore' });
  const pgid = child.pid;
  if (pgid !== undefined) {
    groups.add(pgid);
    announce(pgid, true);
  }
  try {
    const r = await child;
    return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), code: (r as { code?: string }).code, timedOut: r.timedOut };
  } finally {
    if (pgid !== undefined) {
      // Whatever the build left running in its group (a timed-out make's g++) goes with it.
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* the group is empty */
      }
      groups.delete(pgid);
      announce(pgid, false);
    }
    uninstallIfIdle();
  }
}

/** A temporary folder name beside `base` that says which process owns it: `${base}.tmp-<pid>-<n>`. */
export function ownedTempName(base: string): string {
  return `${base}.tmp-${process.pid}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Remove `dir` when vtw exits or is interrupted before `release(dir)`. */
export function holdTemp(dir: string): void {
  install();
  temps.add(dir);
}

export function releaseTemp(dir: string): void {
  temps.delete(dir);
  uninstallIfIdle();
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Age after which a temporary folder without an owner pid in its name counts as stale. */
const UNOWNED_STALE_MS = 60 * 60 * 1000;

/**
 * Remove stale build temporaries in `parent` (`*.tmp-<pid>-*` whose process is dead, or older
 * `*.tmp-*` without a pid). Returns the names removed.
 */
export function cleanStaleTemps(parent: string, prefix = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /\.tmp-(?:(\d+)(?:-|$))?/.exec(n);
    if (!m) continue;
    const path = join(parent, n);
    let stale: boolean;
    if (m[1] !== undefined) {
      const pid = Number(m[1]);
      stale = pid !== process.pid && !pidAlive(pid);
    } else {
      try {
        stale = Date.now() - statSync(path).mtimeMs > UNOWNED_STALE_MS;
      } catch {
        stale = false;
      }
    }
    if (stale) {
      rmSync(path, { recursive: true, force: true });
      removed.push(n);
    }
  }
  return removed;
}
