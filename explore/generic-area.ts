/**
 * Generic-synthesis area of a generated design, module by module: each module is synthesized on
 * its own (its submodules read as blackboxes), and the design's cells and memory bits are the sum
 * over the module tree, each module counted once per instance. A module's result is cached on disk
 * under a hash of its text with the design's name prefix taken out (and its children's texts, for
 * their port lists), so the points of a sweep that share a module synthesize it once: the GEMM
 * array — four fifths of the default configuration's cells and most of its synthesis time —
 * depends only on the GEMM shape and widths, not on the buffer sizes or bus width around it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { join, resolve } from 'node:path';
import { version as yosysVersion } from '@yowasp/yosys';
import { yosys } from '../hw/yosys.ts';

/**
 * Where module results are kept: VTW_GENERIC_CACHE names another folder, or `off` for none (every
 * module synthesized at every point: the worker-pool benchmark measures independent points).
 */
export const genericCacheDir = (): string | null => {
  const v = process.env.VTW_GENERIC_CACHE;
  return v === 'off' ? null : v ?? resolve('.cache', 'generic-synth');
};

/** Memory bits after elaboration, cells after coarse synthesis and techmap (yosys's generic cell library). */
const SCRIPT = (top: string) =>
  `synth -top ${top} -run begin:coarse; proc; tee -q -o mem.txt stat; ` +
  `synth -top ${top} -run coarse:fine; opt -fast -full; techmap; opt -fast; tee -q -o cells.txt stat`;

/** Bump when the script or the counting changes: cached results of the old one no longer apply. */
const METHOD = 'generic-per-module-1';

export interface ModuleArea {
  /** Cells and memory bits of the module itself, its submodules not included. */
  cells: number;
  memory_bits: number;
}

export interface GenericArea {
  cells: number;
  memory_bits: number;
  /** Per module (its name without the design's prefix): own cells and memory bits, and instances in the design. */
  modules: Record<string, ModuleArea & { instances: number }>;
  /** Modules synthesized now (the rest came from the cache). */
  synthesized: number;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function lastNumber(text: string, what: string): number {
  const all = [...text.matchAll(new RegExp(`Number of ${what}:\\s+(\\d+)`, 'g'))];
  if (!all.length) throw new Error(`yosys stat printed no "Number of ${what}"`);
  return Number(all[all.length - 1][1]);
}

export interface GenericAreaOptions {
  /**
   * Called once when every module left to measure is being synthesized by another worker (their
   * results are awaited after it): the caller's other work for the point, such as its simulations.
   */
  whileWaiting?: () => void | Promise<void>;
}

const WAIT_MS = 250;

function readCached(file: string): ModuleArea | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ModuleArea;
  } catch {
    return undefined;
  }
}

/*
 * Module locks. Workers sharing the cache (the pool's threads, other vtw processes) synthesize
 * each module once: the first to need it creates `HASH.json.lock` (`pid threadId`) and the others
 * wait for `HASH.json`. A lock whose process is gone is taken over; the pool removes the locks of
 * a thread that ended (dropThreadLocks).
 */
const lockOf = (file: string) => `${file}.lock`;

function claim(file: string): boolean {
  const lock = lockOf(file);
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(lock, `${process.pid} ${threadId}\n`, { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (!stale(lock)) return false;
    rmSync(lock, { force: true });
  }
  return false;
}

/** A lock left by a process that no longer runs (or by this very thread: a job it abandoned). */
function stale(lock: string): boolean {
  let pid: number, tid: number;
  try {
    [pid, tid] = readFileSync(lock, 'utf8').trim().split(' ').map(Number);
  } catch {
    return false; // gone meanwhile: the next claim decides
  }
  if (pid === process.pid) return tid === threadId;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function synthesizeClaimed(file: string, run: () => Promise<ModuleArea>, store: (file: string, a: ModuleArea) => void): Promise<ModuleArea> {
  try {
    // the worker that held the lock may have written the result just before this claim
    const done = readCached(file);
    if (done) return done;
    const area = await run();
    store(file, area);
    return area;
  } finally {
    rmSync(lockOf(file), { force: true });
  }
}

/** Remove the module locks of a worker thread of this process that ended (explore/pool.ts). */
export function dropThreadLocks(tid: number, cacheDir = genericCacheDir()): void {
  if (!cacheDir) return;
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.endsWith('.lock')) continue;
    const lock = join(cacheDir, name);
    try {
      if (readFileSync(lock, 'utf8').trim() === `${process.pid} ${tid}`) rmSync(lock, { force: true });
    } catch {
      /* gone meanwhile */
    }
  }
}

/**
 * `files`: one module per file (hw/gen.ts), `top` the design's top module, whose name prefixes
 * every other module's.
 */
export async function genericArea(files: Record<string, string>, top: string, cacheDir = genericCacheDir(), opts: GenericAreaOptions = {}): Promise<GenericArea> {
  const PREFIX = 'M';
  // module name -> text with the header comment dropped and the design's name replaced
  const texts = new Map<string, string>();
  for (const [file, text] of Object.entries(files)) {
    const name = file.replace(/\.v$/, '');
    texts.set(name, text.split('\n').filter((l) => !l.startsWith('//')).join('\n').split(top).join(PREFIX));
  }
  if (!texts.has(top)) throw new Error(`generic area: no file for the top module ${top}`);
  const short = (name: string) => name.split(top).join(PREFIX);
  // instances of each other module in each module's text
  const children = new Map<string, Map<string, number>>();
  for (const [name, text] of texts) {
    const kids = new Map<string, number>();
    for (const other of texts.keys()) {
      if (other === name || other === top) continue;
      const n = [...text.matchAll(new RegExp(`\\b${escape(short(other))}\\s+(#\\s*\\([^;]*?\\)\\s*)?[A-Za-z_]\\w*\\s*\\(`, 'g'))].length;
      if (n) kids.set(other, n);
    }
    children.set(name, kids);
  }

  let synthesized = 0;
  const own = new Map<string, ModuleArea>();
  if (cacheDir) mkdirSync(cacheDir, { recursive: true });
  const synthesize = async (name: string, kids: string[]): Promise<ModuleArea> => {
    const text = texts.get(name)!;
    const sources: Record<string, string> = { [`${short(name)}.v`]: text };
    for (const k of kids) sources[`${short(k)}.v`] = texts.get(k)!;
    const libs = kids.map((k) => `read_verilog -lib ${short(k)}.v; `).join('');
    const r = await yosys(`${libs}read_verilog ${short(name)}.v; ${SCRIPT(short(name))}`, sources);
    const out = (f: string) => {
      const v = r.files[f];
      if (v === undefined) throw new Error(`yosys wrote no ${f}`);
      return typeof v === 'string' ? v : new TextDecoder().decode(v);
    };
    // the submodule instances are cells of the module's own count: take them out
    const instances = [...children.get(name)!.values()].reduce((a, b) => a + b, 0);
    synthesized++;
    return { cells: lastNumber(out('cells.txt'), 'cells') - instances, memory_bits: lastNumber(out('mem.txt'), 'memory bits') };
  };
  const store = (file: string, area: ModuleArea) => {
    const tmp = `${file}.tmp-${process.pid}-${threadId}`;
    writeFileSync(tmp, JSON.stringify(area) + '\n');
    renameSync(tmp, file); // atomic: another worker may be reading it
  };
  // modules another worker is synthesizing now: taken from the cache when it is done
  const busy: { name: string; kids: string[]; file: string }[] = [];
  for (const name of texts.keys()) {
    const kids = [...children.get(name)!.keys()].sort();
    const hash = createHash('sha256').update(`${METHOD}\0${yosysVersion}\0${texts.get(name)!}`);
    for (const k of kids) hash.update('\0').update(texts.get(k)!);
    if (!cacheDir) {
      own.set(name, await synthesize(name, kids));
      continue;
    }
    const file = join(cacheDir, `${hash.digest('hex')}.json`);
    const cached = readCached(file);
    if (cached) own.set(name, cached);
    else if (claim(file)) own.set(name, await synthesizeClaimed(file, () => synthesize(name, kids), store));
    else busy.push({ name, kids, file });
  }
  if (busy.length) {
    await opts.whileWaiting?.();
    for (const { name, kids, file } of busy) {
      for (;;) {
        const cached = readCached(file);
        if (cached) {
          own.set(name, cached);
          break;
        }
        if (claim(file)) {
          own.set(name, await synthesizeClaimed(file, () => synthesize(name, kids), store));
          break;
        }
        await new Promise((r) => setTimeout(r, WAIT_MS));
      }
    }
  }

  // instances of each module in the design, from the top down
  const count = new Map<string, number>([[top, 1]]);
  const visit = (name: string, times: number) => {
    for (const [k, n] of children.get(name)!) {
      count.set(k, (count.get(k) ?? 0) + n * times);
      visit(k, n * times);
    }
  };
  visit(top, 1);
  const modules: GenericArea['modules'] = {};
  let cells = 0, memoryBits = 0;
  for (const name of texts.keys()) {
    const a = own.get(name)!;
    const n = count.get(name) ?? 0;
    modules[short(name)] = { ...a, instances: n };
    cells += a.cells * n;
    memoryBits += a.memory_bits * n;
  }
  return { cells, memory_bits: memoryBits, modules, synthesized };
}
