/**
 * Yosys (the @yowasp/yosys WebAssembly build) on in-memory files: structural checks of generated
 * Verilog, and later synthesis. Failures become one-line VtwErrors carrying yosys's ERROR text.
 */
import { readFileSync } from 'node:fs';
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
/** This thread's compiled yosys is in hand (compiled here, or arrived from another thread). */
let warm = false;
/** Modules compiled in another thread and not here yet: this thread's runs wait for them (expectYosysModules). */
let arriving: Promise<void> | undefined;

/**
 * Whether a yosys run in this thread could start now without waiting for yosys's WebAssembly to be
 * compiled or to arrive from the thread that compiles it: a worker with other work (simulations)
 * does that first.
 */
export function yosysWarm(): boolean {
  return warm;
}

let compiling: Promise<{ done: Promise<YosysModules | null> }> | undefined;

/**
 * Start compiling yosys's WebAssembly in this thread (about 0.5 s of CPU for 30 MB, on V8's
 * background threads): resolves as soon as the compile is under way, to `done`, the compiled
 * modules; the thread can meanwhile run other work, even synchronous work. Null where the package's
 * layout is not the expected one.
 */
export function startYosysCompile(): Promise<{ done: Promise<YosysModules | null> }> {
  if (compiling) return compiling;
  compiling = (async () => {
    const table = await resourceTable();
    if (!table) return { done: Promise.resolve(null) };
    const out: YosysModules = {};
    const jobs: Promise<unknown>[] = [];
    for (const [name, v] of Object.entries(table)) {
      if (v instanceof WA.Module) out[name] = v;
      else if (v instanceof URL) jobs.push(WA.compile(readFileSync(v)).then((m) => (out[name] = table[name] = m)));
      else return { done: Promise.resolve(null) };
    }
    return {
      done: Promise.all(jobs).then(
        () => {
          warm = true;
          return out;
        },
        () => null, // the package compiles for itself on the first run, and reports what fails
      ),
    };
  })().catch(() => ({ done: Promise.resolve(null) }));
  compiled ??= compiling.then((c) => c.done);
  return compiling;
}

/**
 * Compile yosys's WebAssembly once in this thread and use it for this thread's runs; worker
 * threads given the result (useYosysModules) share the machine code, V8's optimized tiers
 * included, instead of compiling and warming up their own. Null where the package's layout is not
 * the expected one.
 */
export function yosysModules(): Promise<YosysModules | null> {
  if (compiled) return compiled;
  void startYosysCompile();
  return compiled!;
}

/** Run this thread's yosys on modules compiled elsewhere (yosysModules in the parent thread). */
export async function useYosysModules(modules: YosysModules): Promise<void> {
  const table = await resourceTable();
  if (!table || !Object.keys(modules).every((name) => name in table)) return;
  Object.assign(table, modules);
  compiled = Promise.resolve(modules);
  warm = true;
}

/**
 * Yosys compiled in another thread, on its way (a worker thread's first message): this thread's
 * yosys runs wait for it rather than compiling their own, and work without yosys can go first.
 * Null: nothing compiled for this thread (it compiles its own on its first run).
 */
export function expectYosysModules(modules: Promise<YosysModules | null>): void {
  arriving = modules.then((m) => (m ? useYosysModules(m) : undefined));
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
    // a compile in flight (this thread's, or another thread's on its way): use it, not a second one
    await (arriving ?? compiled);
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
