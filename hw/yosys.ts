/**
 * Yosys (the @yowasp/yosys WebAssembly build) on in-memory files: structural checks of generated
 * Verilog, and later synthesis. Failures become one-line VtwErrors carrying yosys's ERROR text.
 */
import { readFile } from 'node:fs/promises';
import { runYosys } from '@yowasp/yosys';
import { VtwError } from '../src/errors.ts';
import { yosysErrorLines } from './yosys-errors.ts';

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
const WA = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object; compile(bytes: Uint8Array): Promise<object> } }).WebAssembly;

/** Yosys's compiled WebAssembly.Modules by file name (structured-clonable to worker threads). */
export type YosysModules = Record<string, object>;

/**
 * The @yowasp/yosys resource table: its `modules` map each .wasm file's name to a URL, which the
 * package compiles on its first run in each thread; an entry that is already a WebAssembly.Module
 * is used as it is. (An internal file of the package: when its layout changes, null, and every
 * thread compiles for itself as before.)
 */
async function resourceTable(): Promise<Record<string, unknown> | null> {
  try {
    const res = (await import(new URL('./resources-yosys.js', import.meta.resolve('@yowasp/yosys')).href)) as { modules?: unknown };
    return res.modules && typeof res.modules === 'object' ? (res.modules as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

let compiled: Promise<YosysModules | null> | undefined;

/**
 * Compile yosys's WebAssembly once in this thread (about 0.5 s of CPU for 30 MB, on V8's background
 * threads) and use it for this thread's runs; worker threads given the result (useYosysModules)
 * share the machine code, V8's optimized tiers included, instead of compiling and warming up
 * their own. Null where the package's layout is not the expected one.
 */
export function yosysModules(): Promise<YosysModules | null> {
  return (compiled ??= (async () => {
    const table = await resourceTable();
    if (!table) return null;
    const out: YosysModules = {};
    for (const [name, v] of Object.entries(table)) {
      if (v instanceof WA.Module) out[name] = v;
      else if (v instanceof URL) out[name] = table[name] = await WA.compile(await readFile(v));
      else return null;
    }
    return out;
  })());
}

/** Run this thread's yosys on modules compiled elsewhere (yosysModules in the parent thread). */
export async function useYosysModules(modules: YosysModules): Promise<void> {
  const table = await resourceTable();
  if (!table || !Object.keys(modules).every((name) => name in table)) return;
  Object.assign(table, modules);
  compiled = Promise.resolve(modules);
}

export interface YosysRun {
  log: string;
  files: Record<string, string | Uint8Array>;
}

export async function yosys(script: string, files: Record<string, string>): Promise<YosysRun> {
  let log = '';
  const dec = new TextDecoder();
  const sink = (bytes: Uint8Array | null) => {
    if (bytes) log += dec.decode(bytes);
  };
  try {
    const out = await runYosys(['-q', '-l', 'yosys.log', '-p', script], { ...files }, { stdout: sink, stderr: sink });
    const tree = (out ?? {}) as Record<string, string | Uint8Array>;
    const logFile = tree['yosys.log'];
    return { log: typeof logFile === 'string' ? logFile : logFile ? dec.decode(logFile) : log, files: tree };
  } catch (e) {
    throw new VtwError(`yosys: ${yosysErrorLines(log)[0] ?? (e as Error).message}`);
  }
}

/**
 * Read every file, elaborate `top`, and run `proc; opt; check -assert`: fails on latches, multiple
 * drivers, combinational loops and undriven signals. `ice40` reads the iCE40 cell library for
 * primitives such as SB_MAC16.
 */
export async function yosysCheck(files: Record<string, string>, top: string, ice40 = false): Promise<string> {
  const reads = Object.keys(files).map((f) => `read_verilog ${f}`).join('; ');
  const lib = ice40 ? 'read_verilog -lib +/ice40/cells_sim.v; ' : '';
  const r = await yosys(`${lib}${reads}; hierarchy -check -top ${top}; proc; opt; check -assert -noinit`, files);
  if (/Latch inferred|\$dlatch/.test(r.log)) throw new VtwError(`yosys: a latch was inferred in ${top}`);
  return r.log;
}
