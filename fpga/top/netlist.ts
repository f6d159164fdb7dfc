/**
 * Gate-level verification of the board top: the design yosys `synth_ice40` makes of it (the flow's
 * own synthesis step, fpga/flow.ts `synthIce40`), written as Verilog of iCE40 cells and simulated
 * with yosys's cell models (share/ice40/cells_sim.v of the @yowasp/yosys package) in the same
 * Verilator harness, UART link and host driver as the RTL board top (fpga/top/sim.ts).
 *
 * Netlists are cached by content (sources, top, yosys version) under the OS temp folder
 * (`vtw-netlist-<hash>/top.v` and `top.json`); the Verilator build of the harness is cached by fpga/link/sim.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ice40CellsSim } from '../../hw/hdl/index.ts';
import { VtwError } from '../../src/errors.ts';
import { writeFileAtomic } from '../../src/program/container.ts';
import { TOOLS, checkTool, installCommand } from '../../src/prereq.ts';
import { synthIce40, type ToolCommand } from '../flow.ts';
import type { SimDesign } from '../link/sim.ts';

export interface NetlistOptions {
  /** yosys to synthesize with (default: the WebAssembly build). */
  yosys?: ToolCommand;
  /** Package version of that yosys (part of the cache key). */
  yosysVersion?: string;
  onProgress?: (msg: string) => void;
}

export interface Netlist {
  /** The synthesized netlist as Verilog (one flattened module, the design's top). */
  verilog: string;
  /** The same netlist as yosys JSON (what nextpnr reads; fpga/timing-estimate.ts analyses it). */
  json: string;
  /** Where it is cached. */
  path: string;
  cached: boolean;
  /** Synthesis wall time (0 when cached). */
  seconds: number;
}

/** One line when Verilator (or the C++ compiler and make its builds need) is missing, else null. */
export function verilatorMissing(): string | null {
  const tools = TOOLS.filter((t) => ['verilator', 'cxx', 'make'].includes(t.id));
  const bad = tools.filter((t) => !checkTool(t).ok);
  return bad.length ? `${bad.map((t) => t.name).join(', ')} not found (install: ${installCommand(bad)})` : null;
}

/** The synthesized netlist of a design (yosys synth_ice40, no -dsp, as `vtw synth --config` runs it), cached by content. */
export async function synthNetlist(design: { top: string; files: Record<string, string> }, opts: NetlistOptions = {}): Promise<Netlist> {
  let yosys = opts.yosys;
  let version = opts.yosysVersion;
  if (!yosys) {
    const y = await import('@yowasp/yosys');
    yosys = y.runYosys as ToolCommand;
    version = `@yowasp/yosys ${y.version}`;
  }
  const h = createHash('sha256').update('synth_ice40 netlist v1\0').update(version ?? 'custom yosys').update('\0').update(design.top);
  for (const name of Object.keys(design.files).sort()) h.update('\0').update(name).update('\0').update(design.files[name]);
  const dir = join(tmpdir(), `vtw-netlist-${h.digest('hex').slice(0, 16)}`);
  const path = join(dir, 'top.v');
  const jsonPath = join(dir, 'top.json');
  if (existsSync(path) && existsSync(jsonPath)) {
    return { verilog: readFileSync(path, 'utf8'), json: readFileSync(jsonPath, 'utf8'), path, cached: true, seconds: 0 };
  }
  opts.onProgress?.(`synthesizing ${design.top} (yosys synth_ice40, about half a minute)...`);
  const r = await synthIce40({ yosys, files: design.files, top: design.top, verilog: true });
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(jsonPath, r.json);
  writeFileAtomic(path, r.verilog!);
  return { verilog: r.verilog!, json: r.json, path, cached: false, seconds: r.seconds };
}

/**
 * The simulation design for the synthesized netlist of `design`: the netlist in place of the RTL,
 * the iCE40 cell models as its library (the same UART harness parameters).
 */
export async function netlistSimDesign<D extends SimDesign>(design: D, opts: NetlistOptions = {}): Promise<SimDesign> {
  const why = verilatorMissing();
  if (why) throw new VtwError(`a gate-level simulation needs Verilator: ${why}`);
  const n = await synthNetlist(design, opts);
  return { ...design, files: { [`${design.top}_netlist.v`]: n.verilog }, libraries: [ice40CellsSim()] };
}
