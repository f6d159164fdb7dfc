/**
 * The work of one design point, as a worker does it: generate the RTL and measure its area, and
 * compile and simulate each workload layer on the TypeScript simulator. Tasks and results are
 * plain JSON (they cross process boundaries); every failure becomes a message in the result.
 */
import { deriveConfig } from '../src/config/index.ts';
import { generateDesign } from '../hw/gen.ts';
import { genericArea } from './generic-area.ts';
import { yosysWarm } from '../hw/yosys.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { buildProgram, idealCycles } from '../compiler/ops/op.ts';
import { runSync } from '../sim/ts/engine.ts';
import { FitError, runFlow } from '../fpga/flow.ts';
import { getBoard } from '../fpga/boards/index.ts';
import { vtaBoardTop } from '../fpga/top/index.ts';
import { fileURLToPath } from 'node:url';
import { runBuildCommand } from '../src/util/child-builds.ts';
import type { AreaMethod, Layer, Measure } from './space.ts';
import type { RunCounts } from './energy.ts';

export interface AreaResult {
  /** Content hash of the generated RTL (hw/gen.ts manifest). */
  rtl_hash: string;
  multipliers: number;
  sram_bits: number;
  /** Generic synthesis only (explore/generic-area.ts: module by module, summed over the instances). */
  area_cells?: number;
  memory_bits?: number;
  /** `ice40` only: synthesis and place and route of the VTA board top on the point's BOARD. */
  ice40?: Ice40Area;
}

export interface Ice40Area {
  board: string;
  device: string;
  /** The board top's clock (CLOCK_MHZ through the PLL), the constraint nextpnr was given. */
  clock_mhz: number;
  fits: boolean;
  /** Why it does not fit, with the numbers (fpga/flow.ts FitError). */
  reason?: string;
  over?: { resource: string; used: number; available: number }[];
  logic_cells?: number;
  lut4?: number;
  flip_flops?: number;
  dsps?: number;
  ram_blocks?: number;
  spram_blocks?: number;
  fmax_mhz?: number | null;
  timing_met?: boolean;
  seconds: number;
}

export interface Task {
  id: number;
  /** The point's configuration JSON (fixed and varied keys). */
  config: Record<string, unknown>;
  /** Measure area this way (absent: not needed, or cached). */
  area?: Exclude<AreaMethod, 'none'>;
  /** ice40: the nextpnr placement seed (absent: nextpnr's default). */
  seed?: number;
  /** The area measurement's time limit in seconds (measure.timeout_s); absent: none. */
  timeout_s?: number;
  layers: { key: string; layer: Layer }[];
}

/**
 * A measurement's result or its error; `timed_out`: the time limit (seconds) it ran past — the
 * point is failed, not infeasible, and a sweep with a longer limit measures it again.
 */
export type Outcome<T> = { ok: T } | { error: string; timed_out?: number };

export interface TaskResult {
  id: number;
  area?: Outcome<AreaResult>;
  layers: { key: string; result: Outcome<RunCounts> }[];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** `whileWaiting`: other work to do while a module of generic synthesis is being synthesized by another worker (explore/generic-area.ts). */
export async function measureArea(config: Record<string, unknown>, method: Exclude<AreaMethod, 'none'>, opts: Omit<Measure, 'area'> = {}, whileWaiting?: () => void): Promise<AreaResult> {
  const d = deriveConfig(config);
  if (method === 'ice40') return measureIce40(d, opts.seed);
  const { files, manifest } = generateDesign(d, 'generic');
  const out: AreaResult = { rtl_hash: manifest.contentHash, multipliers: manifest.resources.multipliers, sram_bits: manifest.resources.sramBitsTotal };
  if (method === 'generic') {
    const a = await genericArea(files, manifest.top, undefined, { whileWaiting });
    out.memory_bits = a.memory_bits;
    out.area_cells = a.cells;
  }
  return out;
}

/**
 * The VTA board top of `d` on its BOARD through synthesis and place and route (the flow of
 * `vtw synth`, no bitstream kept). A point that does not fit is a result, not an error: `fits`
 * false with the resources over the part's limits.
 */
async function measureIce40(d: ReturnType<typeof deriveConfig>, seed?: number): Promise<AreaResult> {
  if (d.target !== 'ice40') throw new Error(`measure.area ice40 needs TARGET ice40, the point has ${d.target}`);
  if (!d.board) throw new Error('measure.area ice40 needs a BOARD');
  const board = getBoard(d.board);
  const design = await vtaBoardTop(d, board);
  const { manifest } = generateDesign(d, 'ice40');
  const base: AreaResult = { rtl_hash: manifest.contentHash, multipliers: manifest.resources.multipliers, sram_bits: manifest.resources.sramBitsTotal };
  const t0 = performance.now();
  const ice40: Ice40Area = { board: board.name, device: board.device, clock_mhz: design.clockMhz, fits: true, seconds: 0 };
  try {
    const { summary: s } = await runFlow({ board, files: design.files, top: design.top, freqMhz: design.clockMhz, seed });
    const r = s.resources;
    Object.assign(ice40, {
      logic_cells: r.logicCells.used, lut4: r.lut4, flip_flops: r.flipFlops, dsps: r.dsps.used, ram_blocks: r.ramBlocks.used, spram_blocks: r.spram.used,
      fmax_mhz: s.timing.fmaxMhz, timing_met: s.timing.met,
    });
  } catch (e) {
    if (!(e instanceof FitError)) throw e;
    ice40.fits = false;
    ice40.reason = e.message;
    ice40.over = e.over.map((o) => ({ resource: o.resource, used: o.used, available: o.available }));
  }
  ice40.seconds = +((performance.now() - t0) / 1000).toFixed(1);
  return { ...base, ice40 };
}

/** Compile one convolution layer for the configuration and run it on the TypeScript simulator. */
export function runLayer(config: Record<string, unknown>, layer: Layer): RunCounts {
  const d = deriveConfig(config);
  const inst = compileConv2d({ ...layer.spec, shift: 8, bias: false, clip: [0, 127] }, d, { latencyHiding: true });
  const r = runSync(buildProgram(inst).program, { insnTiming: false });
  if (r.error) throw new Error(`simulation stopped (${r.error.kind}): ${r.error.message}`);
  const c = r.counters;
  return {
    cycles: c.cycles, ideal_cycles: idealCycles(inst), gemm_uops: c.gemm_uops, gemm_macs_uops: c.fsim.gemm_counter, alu_uops: c.alu_uops,
    bytes: { ...c.bytes },
  };
}

const AREA_CHILD = fileURLToPath(new URL('./area-child.ts', import.meta.url));

/** measureArea in a child process killed after `timeoutS` seconds (explore/area-child.ts). */
async function measureAreaWithin(t: Task & { area: Exclude<AreaMethod, 'none'> }, timeoutS: number): Promise<Outcome<AreaResult>> {
  const args = ['--import', import.meta.resolve('tsx'), AREA_CHILD, JSON.stringify({ config: t.config, method: t.area, seed: t.seed })];
  const r = await runBuildCommand(process.execPath, args, { timeout: timeoutS * 1000 });
  const what = t.area === 'ice40' ? 'synthesis and place and route' : `${t.area} synthesis`;
  if (r.timedOut) return { error: `${what} did not finish within measure.timeout_s = ${timeoutS} s`, timed_out: timeoutS };
  if (r.exitCode !== 0) return { error: r.stderr.trim().split('\n').pop() || `the area process ended with status ${r.exitCode}` };
  return { ok: JSON.parse(r.stdout.trim().split('\n').pop()!) as AreaResult };
}

export async function evaluateTask(t: Task): Promise<TaskResult> {
  const res: TaskResult = { id: t.id, layers: [] };
  let simulated = false;
  const simulate = () => {
    if (simulated) return;
    simulated = true;
    for (const { key, layer } of t.layers) {
      try {
        res.layers.push({ key, result: { ok: runLayer(t.config, layer) } });
      } catch (e) {
        res.layers.push({ key, result: { error: message(e) } });
      }
    }
  };
  // yosys still compiling (a thread's first point): the simulations first, the synthesis after
  if (t.area && !t.timeout_s && !yosysWarm()) simulate();
  if (t.area) {
    try {
      // while another worker synthesizes a module this point needs too, this point's simulations run
      res.area = t.timeout_s ? await measureAreaWithin({ ...t, area: t.area }, t.timeout_s) : { ok: await measureArea(t.config, t.area, { seed: t.seed }, simulate) };
    } catch (e) {
      res.area = { error: message(e) };
    }
  }
  simulate();
  return res;
}
