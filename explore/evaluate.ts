/**
 * The work of one design point, as a worker does it: generate the RTL and measure its area, and
 * compile and simulate each workload layer on the TypeScript simulator. Tasks and results are
 * plain JSON (they cross process boundaries); every failure becomes a message in the result.
 */
import { deriveConfig } from '../src/config/index.ts';
import { generateDesign } from '../hw/gen.ts';
import { yosys } from '../hw/yosys.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { buildProgram, idealCycles } from '../compiler/ops/op.ts';
import { runSync } from '../sim/ts/engine.ts';
import type { Layer } from './space.ts';
import type { RunCounts } from './energy.ts';

export interface AreaResult {
  /** Content hash of the generated RTL (hw/gen.ts manifest). */
  rtl_hash: string;
  multipliers: number;
  sram_bits: number;
  /** Generic synthesis only. */
  area_cells?: number;
  memory_bits?: number;
}

export interface Task {
  id: number;
  /** The point's configuration JSON (fixed and varied keys). */
  config: Record<string, unknown>;
  /** Measure area this way (absent: not needed, or cached). */
  area?: 'generic' | 'estimate';
  layers: { key: string; layer: Layer }[];
}

export type Outcome<T> = { ok: T } | { error: string };

export interface TaskResult {
  id: number;
  area?: Outcome<AreaResult>;
  layers: { key: string; result: Outcome<RunCounts> }[];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Yosys generic synthesis: memory bits after elaboration, cells after coarse synthesis and techmap. */
export const GENERIC_SYNTH = (top: string) =>
  `synth -flatten -top ${top} -run begin:coarse; proc; flatten; tee -q -o mem.txt stat; ` +
  `synth -flatten -top ${top} -run coarse:fine; opt -fast -full; techmap; opt -fast; tee -q -o cells.txt stat`;

function statNumber(text: string, what: string): number {
  const all = [...text.matchAll(new RegExp(`Number of ${what}:\\s+(\\d+)`, 'g'))];
  if (!all.length) throw new Error(`yosys stat printed no "Number of ${what}"`);
  return Number(all[all.length - 1][1]);
}

export async function measureArea(config: Record<string, unknown>, method: 'generic' | 'estimate'): Promise<AreaResult> {
  const d = deriveConfig(config);
  const { files, manifest } = generateDesign(d, 'generic');
  const out: AreaResult = { rtl_hash: manifest.contentHash, multipliers: manifest.resources.multipliers, sram_bits: manifest.resources.sramBitsTotal };
  if (method === 'generic') {
    const reads = Object.keys(files).map((f) => `read_verilog ${f}`).join('; ');
    const r = await yosys(`${reads}; ${GENERIC_SYNTH(manifest.top)}`, files);
    const text = (f: string) => {
      const v = r.files[f];
      if (v === undefined) throw new Error(`yosys wrote no ${f}`);
      return typeof v === 'string' ? v : new TextDecoder().decode(v);
    };
    out.memory_bits = statNumber(text('mem.txt'), 'memory bits');
    out.area_cells = statNumber(text('cells.txt'), 'cells');
  }
  return out;
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

export async function evaluateTask(t: Task): Promise<TaskResult> {
  const res: TaskResult = { id: t.id, layers: [] };
  if (t.area) {
    try {
      res.area = { ok: await measureArea(t.config, t.area) };
    } catch (e) {
      res.area = { error: message(e) };
    }
  }
  for (const { key, layer } of t.layers) {
    try {
      res.layers.push({ key, result: { ok: runLayer(t.config, layer) } });
    } catch (e) {
      res.layers.push({ key, result: { error: message(e) } });
    }
  }
  return res;
}
