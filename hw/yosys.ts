/**
 * Yosys (the @yowasp/yosys WebAssembly build) on in-memory files: structural checks of generated
 * Verilog, and later synthesis. Failures become one-line VtwErrors carrying yosys's ERROR text.
 */
import { runYosys } from '@yowasp/yosys';
import { VtwError } from '../src/errors.ts';
import { yosysErrorLines } from './yosys-errors.ts';

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
