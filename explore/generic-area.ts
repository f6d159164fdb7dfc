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
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

/**
 * `files`: one module per file (hw/gen.ts), `top` the design's top module, whose name prefixes
 * every other module's.
 */
export async function genericArea(files: Record<string, string>, top: string, cacheDir = genericCacheDir()): Promise<GenericArea> {
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
  for (const [name, text] of texts) {
    const kids = [...children.get(name)!.keys()].sort();
    const hash = createHash('sha256').update(`${METHOD}\0${yosysVersion}\0${text}`);
    for (const k of kids) hash.update('\0').update(texts.get(k)!);
    const file = cacheDir && join(cacheDir, `${hash.digest('hex')}.json`);
    let area: ModuleArea | undefined;
    try {
      if (!file) throw new Error('no cache');
      area = JSON.parse(readFileSync(file, 'utf8')) as ModuleArea;
    } catch {
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
      area = { cells: lastNumber(out('cells.txt'), 'cells') - instances, memory_bits: lastNumber(out('mem.txt'), 'memory bits') };
      if (file) {
        const tmp = `${file}.tmp-${process.pid}`;
        writeFileSync(tmp, JSON.stringify(area) + '\n');
        renameSync(tmp, file); // atomic: another worker may be writing the same module
      }
      synthesized++;
    }
    own.set(name, area);
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
  for (const [name, a] of own) {
    const n = count.get(name) ?? 0;
    modules[short(name)] = { ...a, instances: n };
    cells += a.cells * n;
    memoryBits += a.memory_bits * n;
  }
  return { cells, memory_bits: memoryBits, modules, synthesized };
}
