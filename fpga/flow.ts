/**
 * The iCE40 flow as a library: yosys `synth_ice40` → nextpnr-ice40 (board device, package, pin
 * constraints, clock constraint, `--report`) → icepack → bitstream, with a summary of what the
 * design uses and how fast it runs.
 *
 * The tools are injected (`FlowTools`); by default they are the YoWASP WebAssembly builds, so the
 * flow needs nothing but npm. Tests replace them with fakes. Every failure becomes a VtwError with
 * the tool's own `ERROR:` line: nextpnr's WASM build reports a fatal error as a trap
 * (`RuntimeError: unreachable`) rather than an exit status, so its log is captured and searched.
 */
import { VtwError } from '../src/errors.ts';
import { yosysErrorLines } from '../hw/yosys-errors.ts';
import type { Board } from './boards/types.ts';
import { DEVICES, RESOURCE_NAMES } from './devices.ts';

/** In-memory file tree, as the YoWASP tools take and return it. */
export type Tree = { [name: string]: Tree | string | Uint8Array };

/** One tool invocation: arguments, input files, output sinks; resolves with the file tree after the run. */
export type ToolCommand = (
  args: string[],
  files: Tree,
  options: { stdout: (b: Uint8Array | null) => void; stderr: (b: Uint8Array | null) => void },
) => Promise<Tree | undefined> | Tree | undefined;

export interface FlowTools {
  yosys: ToolCommand;
  nextpnr: ToolCommand;
  icepack: ToolCommand;
  /** Package versions of the tools, reported in the summary. */
  versions: { yosys: string; nextpnr: string };
}

/** The YoWASP WebAssembly tools (loaded on first use: the nextpnr package carries 220 MB of chip databases). */
export async function wasmTools(): Promise<FlowTools> {
  const [y, n] = await Promise.all([import('@yowasp/yosys'), import('@yowasp/nextpnr-ice40')]);
  return {
    yosys: y.runYosys as ToolCommand,
    nextpnr: n.runNextpnrIce40 as ToolCommand,
    icepack: n.runIcepack as ToolCommand,
    versions: { yosys: `@yowasp/yosys ${y.version}`, nextpnr: `@yowasp/nextpnr-ice40 ${n.version}` },
  };
}

export type FlowStep = 'synth' | 'pnr' | 'pack';

export interface FlowProgress {
  step: FlowStep;
  /** 'start', 'end', or the phase of the tool that just began (e.g. 'routing'). */
  phase: string;
  /** Seconds since the step began. */
  elapsedS: number;
}

/** nextpnr's routers (`--router`). */
export const NEXTPNR_ROUTERS = ['router1', 'router2'] as const;
export type NextpnrRouter = (typeof NEXTPNR_ROUTERS)[number];

export interface FlowInput {
  board: Board;
  /** Verilog sources, file name → text (`.sv` files are read with `-sv`). */
  files: Record<string, string>;
  top: string;
  /** Pin constraints; default `boardPcf(board)`. */
  pcf?: string;
  /** Clock constraint in MHz for nextpnr `--freq`; default the board clock. */
  freqMhz?: number;
  seed?: number;
  /**
   * Map `*` operators to SB_MAC16 blocks (`synth_ice40 -dsp`). Off by default: yosys maps every
   * multiplier without a budget, so generators that budget DSPs instantiate SB_MAC16 themselves
   * (those instances need no flag). Only parts with DSPs (UP5K) accept it.
   */
  dsp?: boolean;
  /**
   * nextpnr's router: `router1` (nextpnr's default, the flow's: the better clock on a full part) or
   * `router2` (faster; on up5k-1x4 place and route 70.9 s against 94.6 s, 13.37 MHz against 14.34;
   * docs/fpga.md). Left out: nextpnr's default, no argument.
   */
  router?: NextpnrRouter;
  /** Continue to a bitstream when timing fails (the summary says so); default true. */
  allowTimingFail?: boolean;
  /** Appended to a "does not fit" error (e.g. the name of a smaller configuration). */
  fitHint?: string;
  tools?: Partial<FlowTools>;
  progress?: (p: FlowProgress) => void;
}

export interface Used {
  used: number;
  available: number;
}

export interface ClockTiming {
  /** nextpnr's clock net name. */
  clock: string;
  achievedMhz: number;
  constraintMhz: number;
  met: boolean;
}

export interface FlowSummary {
  board: string;
  device: string;
  package: string;
  top: string;
  resources: {
    logicCells: Used;
    /** From the synthesized netlist: SB_DFF* cells, SB_LUT4 cells and SB_CARRY cells. */
    flipFlops: number;
    lut4: number;
    carries: number;
    ramBlocks: Used;
    spram: Used;
    dsps: Used;
    io: Used;
    plls: Used;
    globals: Used;
  };
  timing: {
    constraintMhz: number;
    clocks: ClockTiming[];
    /** Slowest clock's achieved fmax (null when the design has no clocked logic). */
    fmaxMhz: number | null;
    met: boolean;
  };
  options: { seed: number | null; dsp: boolean; router: NextpnrRouter };
  tools: { yosys: string; nextpnr: string; icepack: string };
  /** Wall time of each step, seconds. */
  seconds: { synth: number; pnr: number; pack: number; total: number };
  bitstreamBytes: number;
}

export interface FlowResult {
  bitstream: Uint8Array;
  summary: FlowSummary;
  pcf: string;
  /** nextpnr's --report JSON as parsed. */
  report: NextpnrReport;
  logs: { yosys: string; nextpnr: string; icepack: string };
}

/** A design that needs more of some resource than the part has. */
export class FitError extends VtwError {
  constructor(
    message: string,
    readonly over: ReadonlyArray<{ resource: string; cellType: string; used: number; available: number }>,
  ) {
    super(message);
  }
}

/** A tool failed; the message carries its ERROR line. */
export class FlowError extends VtwError {}

export interface NextpnrReport {
  utilization?: Record<string, { used: number; available: number }>;
  fmax?: Record<string, { achieved: number; constraint: number }>;
  [k: string]: unknown;
}

/** Pin constraints for a board's named ports (`-nowarn`: a top may use any subset). */
export function boardPcf(board: Board): string {
  const d = DEVICES[board.device];
  const lines = [
    `# ${board.title}: ${d.part} ${board.package.toUpperCase()} (generated by vtw from fpga/boards/${board.name}.ts)`,
    `set_io -nowarn clk ${board.clock.pin}`,
  ];
  board.leds.forEach((l, i) => {
    // A one-bit port is named `led`, a vector's bits `led[i]`.
    if (i === 0) lines.push(`set_io -nowarn led ${l.pin}`);
    lines.push(`set_io -nowarn led[${i}] ${l.pin}`);
  });
  lines.push(`set_io -nowarn uart_rx ${board.uart.rx}`, `set_io -nowarn uart_tx ${board.uart.tx}`);
  for (const t of board.tie) lines.push(`set_io -nowarn ${t.port} ${t.pin}`);
  return lines.join('\n') + '\n';
}

const dec = new TextDecoder();

interface Captured {
  text: string;
  sink: (b: Uint8Array | null) => void;
}

function capture(onLine?: (line: string) => void): Captured {
  const c: Captured = { text: '', sink: () => {} };
  let partial = '';
  c.sink = (b) => {
    if (!b) return;
    const s = dec.decode(b, { stream: true });
    c.text += s;
    if (onLine) {
      const lines = (partial + s).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    }
  };
  return c;
}

/** nextpnr's and icepack's `ERROR:` lines (yosys's, which may carry a source location, are read by hw/yosys-errors.ts). */
function errorLines(log: string): string[] {
  return log.split('\n').filter((l) => l.startsWith('ERROR:')).map((l) => l.replace(/^ERROR:\s*/, '').trim());
}

function asText(v: Tree[string] | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return dec.decode(v);
  return undefined;
}

function asBytes(v: Tree[string] | undefined): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new TextEncoder().encode(v);
  return undefined;
}

/** Parse nextpnr's "Device utilisation" table (printed after packing, before placement). */
export function parseUtilisation(log: string): Record<string, Used> {
  const out: Record<string, Used> = {};
  const start = log.indexOf('Device utilisation:');
  if (start < 0) return out;
  for (const line of log.slice(start).split('\n').slice(1)) {
    const m = /^Info:\s+([A-Z0-9_]+):\s+(\d+)\s*\/\s*(\d+)/.exec(line);
    if (!m) {
      if (out && Object.keys(out).length) break;
      continue;
    }
    out[m[1]] = { used: Number(m[2]), available: Number(m[3]) };
  }
  return out;
}

/** Resources used beyond what the part has, as a FitError (or null when everything fits). */
export function fitError(util: Record<string, Used>, board: Board, hint?: string): FitError | null {
  const over = Object.entries(util)
    .filter(([, u]) => u.used > u.available)
    .map(([t, u]) => ({ cellType: t, resource: RESOURCE_NAMES[t] ?? t, used: u.used, available: u.available }));
  if (!over.length) return null;
  const part = DEVICES[board.device].part;
  const what = over
    .map((o) => `${o.resource}: needs ${o.used}, the ${part} has ${o.available} (${o.used - o.available} too many, ${Math.round((100 * o.used) / Math.max(1, o.available))}%)`)
    .join('; ');
  // a design over in block RAM or DSPs only: say what its logic takes (what a smaller memory would leave)
  const lc = util.ICESTORM_LC;
  const cells = lc && lc.used <= lc.available ? `; logic cells fit: ${lc.used} of ${lc.available} (${Math.round((100 * lc.used) / Math.max(1, lc.available))}%)` : '';
  return new FitError(`design does not fit ${board.name} (${part}): ${what}${cells}${hint ? `; ${hint}` : ''}`, over);
}

/** Count cell types in a yosys JSON netlist (all modules; synth_ice40 flattens the design). */
export function countCells(netlistJson: string): Record<string, number> {
  const counts: Record<string, number> = {};
  const j = JSON.parse(netlistJson) as { modules?: Record<string, { cells?: Record<string, { type: string }> }> };
  for (const mod of Object.values(j.modules ?? {})) {
    for (const c of Object.values(mod.cells ?? {})) counts[c.type] = (counts[c.type] ?? 0) + 1;
  }
  return counts;
}

const YOSYS_PHASE = /^\d+\.\d+\. Executing (.+)$/;

/** "HIERARCHY pass (managing design hierarchy)." → "HIERARCHY"; "Verilog-2005 frontend: a.v" → "Verilog-2005 frontend". */
function yosysPhase(text: string): string {
  return text.replace(/\s*[(:].*$/, '').replace(/\.$/, '').replace(/ pass$/, '').trim();
}
const NEXTPNR_PHASES: Array<[RegExp, string]> = [
  [/^Info: Packing constants/, 'packing'],
  [/^Info: Device utilisation/, 'utilisation'],
  [/^Info: Creating initial analytic placement/, 'placing (analytic)'],
  [/^Info: Running simulated annealing placer/, 'placing (annealing)'],
  [/^Info: Routing\.\./, 'routing'],
  [/^Info: Critical path report/, 'timing analysis'],
];

export interface SynthInput {
  yosys: ToolCommand;
  /** Verilog sources, file name → text (`.sv` files are read with `-sv`). */
  files: Record<string, string>;
  top: string;
  /** `synth_ice40 -dsp` (see FlowInput.dsp). */
  dsp?: boolean;
  /** Also write the netlist as Verilog (`write_verilog -noattr`), for a gate-level simulation. */
  verilog?: boolean;
  progress?: (p: FlowProgress) => void;
}

export interface SynthResult {
  /** The JSON netlist nextpnr reads. */
  json: string;
  /** The same netlist as Verilog of iCE40 cells (SB_LUT4, SB_DFF*, ...), when asked for. */
  verilog?: string;
  cells: Record<string, number>;
  log: string;
  seconds: number;
}

/** The flow's synthesis step: yosys `synth_ice40` on the sources (runFlow's first step; fpga/top/netlist.ts's netlist). */
export async function synthIce40(input: SynthInput): Promise<SynthResult> {
  const progress = input.progress ?? (() => {});
  const t0 = performance.now();
  const secs = () => (performance.now() - t0) / 1000;
  progress({ step: 'synth', phase: 'start', elapsedS: 0 });
  let lastPhase = '';
  const ylog = capture((line) => {
    const m = YOSYS_PHASE.exec(line);
    const phase = m ? yosysPhase(m[1]) : '';
    if (phase && phase !== lastPhase) {
      lastPhase = phase;
      progress({ step: 'synth', phase, elapsedS: secs() });
    }
  });
  const reads = Object.keys(input.files).map((n) => `read_verilog ${n.endsWith('.sv') ? '-sv ' : ''}${n}`).join('; ');
  const script = `${reads}; synth_ice40 -top ${input.top}${input.dsp ? ' -dsp' : ''} -json top.json${input.verilog ? '; write_verilog -noattr top.v' : ''}`;
  let ytree: Tree | undefined;
  try {
    ytree = (await input.yosys(['-p', script], { ...input.files }, { stdout: ylog.sink, stderr: ylog.sink })) ?? undefined;
  } catch (e) {
    const err = yosysErrorLines(ylog.text)[0] ?? (e as Error).message;
    throw new FlowError(`yosys: ${err}`);
  }
  const json = asText(ytree?.['top.json']);
  const verilog = input.verilog ? asText(ytree?.['top.v']) : undefined;
  if (!json || (input.verilog && !verilog)) throw new FlowError(`yosys: no netlist was produced${yosysErrorLines(ylog.text)[0] ? `: ${yosysErrorLines(ylog.text)[0]}` : ''}`);
  const seconds = secs();
  progress({ step: 'synth', phase: 'end', elapsedS: seconds });
  return { json, ...(verilog !== undefined ? { verilog } : {}), cells: countCells(json), log: ylog.text, seconds };
}

/** Run synthesis, place-and-route and packing for one board. */
export async function runFlow(input: FlowInput): Promise<FlowResult> {
  const needDefaults = !input.tools?.yosys || !input.tools?.nextpnr || !input.tools?.icepack || !input.tools?.versions;
  const tools: FlowTools = { ...(needDefaults ? await wasmTools() : ({} as FlowTools)), ...input.tools } as FlowTools;
  const board = input.board;
  const dev = DEVICES[board.device];
  const dsp = input.dsp ?? false;
  if (dsp && dev.dsps === 0) throw new VtwError(`--dsp: the ${dev.part} on ${board.name} has no DSP blocks`);
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(input.top)) throw new VtwError(`top module name '${input.top}' is not a Verilog identifier`);
  const names = Object.keys(input.files);
  if (!names.length) throw new VtwError('no Verilog sources given');
  const badName = names.find((n) => !/^[\w.-]+$/.test(n));
  if (badName) throw new VtwError(`source file name '${badName}' has characters a yosys script cannot take`);
  const freq = input.freqMhz ?? board.clock.mhz;
  if (!(freq > 0)) throw new VtwError(`clock constraint must be a positive frequency in MHz, got ${freq}`);
  const pcf = input.pcf ?? boardPcf(board);
  const progress = input.progress ?? (() => {});
  const t0 = performance.now();
  const secs = (from: number) => (performance.now() - from) / 1000;

  // ---- synthesis ----
  const syn = await synthIce40({ yosys: tools.yosys, files: input.files, top: input.top, dsp, progress });
  const { json: netlist, cells, log: ylogText } = syn;
  const synthS = syn.seconds;

  // ---- place and route ----
  let tStep = performance.now();
  progress({ step: 'pnr', phase: 'start', elapsedS: 0 });
  let lastPnrPhase = '';
  const plog = capture((line) => {
    for (const [re, phase] of NEXTPNR_PHASES) {
      if (re.test(line) && phase !== lastPnrPhase) {
        lastPnrPhase = phase;
        progress({ step: 'pnr', phase, elapsedS: secs(tStep) });
      }
    }
  });
  const pargs = [
    `--${board.device}`, '--package', board.package, '--json', 'top.json', '--pcf', 'top.pcf', '--asc', 'top.asc',
    '--report', 'report.json', '--freq', String(freq),
  ];
  if (input.seed !== undefined) pargs.push('--seed', String(input.seed));
  if (input.router !== undefined) pargs.push('--router', input.router);
  if (input.allowTimingFail ?? true) pargs.push('--timing-allow-fail');
  let ptree: Tree | undefined;
  try {
    ptree = (await tools.nextpnr(pargs, { 'top.json': netlist, 'top.pcf': pcf }, { stdout: plog.sink, stderr: plog.sink })) ?? undefined;
  } catch (e) {
    const fit = fitError(parseUtilisation(plog.text), board, input.fitHint);
    if (fit) throw fit;
    const err = errorLines(plog.text)[0] ?? (e as Error).message;
    throw new FlowError(`nextpnr-ice40: ${err}`);
  }
  const util0 = parseUtilisation(plog.text);
  const fit = fitError(util0, board, input.fitHint);
  if (fit) throw fit;
  const asc = asText(ptree?.['top.asc']);
  const reportText = asText(ptree?.['report.json']);
  if (!asc || !reportText) {
    const err = errorLines(plog.text)[0];
    throw new FlowError(`nextpnr-ice40: ${err ?? 'no placed design was produced'}`);
  }
  const report = JSON.parse(reportText) as NextpnrReport;
  const pnrS = secs(tStep);
  progress({ step: 'pnr', phase: 'end', elapsedS: pnrS });

  // ---- pack ----
  tStep = performance.now();
  progress({ step: 'pack', phase: 'start', elapsedS: 0 });
  const klog = capture();
  let ktree: Tree | undefined;
  try {
    ktree = (await tools.icepack(['top.asc', 'top.bin'], { 'top.asc': asc }, { stdout: klog.sink, stderr: klog.sink })) ?? undefined;
  } catch (e) {
    throw new FlowError(`icepack: ${klog.text.trim().split('\n').pop() || (e as Error).message}`);
  }
  const bitstream = asBytes(ktree?.['top.bin']);
  if (!bitstream?.length) throw new FlowError('icepack: no bitstream was produced');
  const packS = secs(tStep);
  progress({ step: 'pack', phase: 'end', elapsedS: packS });

  const util = { ...util0, ...(report.utilization ?? {}) };
  const u = (type: string, avail = 0): Used => util[type] ?? { used: 0, available: avail };
  const clocks: ClockTiming[] = Object.entries(report.fmax ?? {}).map(([clock, f]) => ({
    clock,
    achievedMhz: round2(f.achieved),
    constraintMhz: round2(f.constraint),
    met: f.achieved >= f.constraint,
  }));
  const yosysBanner = /^\s*Yosys (\S+)/m.exec(ylogText);
  const count = (re: RegExp) => Object.entries(cells).filter(([t]) => re.test(t)).reduce((n, [, c]) => n + c, 0);
  const summary: FlowSummary = {
    board: board.name,
    device: dev.part,
    package: board.package,
    top: input.top,
    resources: {
      logicCells: u('ICESTORM_LC', dev.logicCells),
      flipFlops: count(/^SB_DFF/),
      lut4: count(/^SB_LUT4$/),
      carries: count(/^SB_CARRY$/),
      ramBlocks: u('ICESTORM_RAM', dev.ramBlocks),
      spram: u('ICESTORM_SPRAM', dev.spram),
      dsps: u('ICESTORM_DSP', dev.dsps),
      io: u('SB_IO'),
      plls: u('ICESTORM_PLL', dev.plls),
      globals: u('SB_GB'),
    },
    timing: {
      constraintMhz: freq,
      clocks,
      fmaxMhz: clocks.length ? Math.min(...clocks.map((c) => c.achievedMhz)) : null,
      met: clocks.every((c) => c.met),
    },
    options: { seed: input.seed ?? null, dsp, router: input.router ?? 'router1' },
    tools: {
      yosys: yosysBanner ? `Yosys ${yosysBanner[1]} (${tools.versions.yosys})` : tools.versions.yosys,
      nextpnr: tools.versions.nextpnr,
      icepack: `icepack (${tools.versions.nextpnr})`,
    },
    seconds: { synth: round2(synthS), pnr: round2(pnrS), pack: round2(packS), total: round2(secs(t0)) },
    bitstreamBytes: bitstream.length,
  };
  return { bitstream, summary, pcf, report, logs: { yosys: ylogText, nextpnr: plog.text, icepack: klog.text } };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The summary as a readable table (for `vtw synth`). */
export function formatSummary(s: FlowSummary): string {
  const pct = (u: Used) => (u.available ? `${Math.round((100 * u.used) / u.available)}%` : '-');
  const row = (name: string, u: Used) => `  ${name.padEnd(22)} ${String(u.used).padStart(6)} / ${String(u.available).padEnd(6)} ${pct(u).padStart(4)}`;
  const r = s.resources;
  const lines = [
    `${s.top} on ${s.board} (${s.device} ${s.package.toUpperCase()})`,
    row('logic cells', r.logicCells),
    `  ${'  flip-flops'.padEnd(22)} ${String(r.flipFlops).padStart(6)}`,
    `  ${'  LUT4 / carry'.padEnd(22)} ${String(r.lut4).padStart(6)} / ${r.carries}`,
    row('block RAM (4 Kbit)', r.ramBlocks),
    row('SPRAM (256 Kbit)', r.spram),
    row('DSP (SB_MAC16)', r.dsps),
    row('I/O pins', r.io),
    row('PLLs', r.plls),
    row('global buffers', r.globals),
    '',
    `  timing (constraint ${s.timing.constraintMhz} MHz): ${s.timing.fmaxMhz === null ? 'no clocked logic' : s.timing.met ? 'met' : 'NOT MET'}`,
    ...s.timing.clocks.map((c) => `    ${c.clock}: ${c.achievedMhz.toFixed(2)} MHz (${c.met ? 'PASS' : 'FAIL'} at ${c.constraintMhz} MHz)`),
    '',
    `  wall time: synth ${s.seconds.synth.toFixed(1)} s, place & route ${s.seconds.pnr.toFixed(1)} s, pack ${s.seconds.pack.toFixed(1)} s (total ${s.seconds.total.toFixed(1)} s)`,
    `  tools: ${s.tools.yosys}; ${s.tools.nextpnr}`,
    `  bitstream: ${s.bitstreamBytes} bytes${s.options.seed !== null ? `, seed ${s.options.seed}` : ''}${s.options.dsp ? ', -dsp' : ''}${s.options.router !== 'router1' ? `, ${s.options.router}` : ''}`,
  ];
  return lines.join('\n');
}
