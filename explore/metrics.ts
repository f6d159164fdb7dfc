/**
 * The metrics of a design point that objectives can name (docs/explore.md). Workload metrics are
 * sums over every layer of every workload, each layer counted as often as its network uses it.
 */
import type { AreaMethod } from './space.ts';

export interface MetricSpec {
  doc: string;
  /** Measurements that produce it (absent: every point has it). */
  area?: AreaMethod[];
}

export const METRICS: Readonly<Record<string, MetricSpec>> = {
  area_cells: { doc: 'yosys generic-synthesis cells (gates and flip-flops after techmap; memories counted apart)', area: ['generic'] },
  memory_bits: { doc: 'bits of the memories yosys infers from the RTL', area: ['generic'] },
  logic_cells: { doc: 'iCE40 logic cells (nextpnr ICESTORM_LC) after place and route', area: ['ice40'] },
  lut4: { doc: 'SB_LUT4 cells of the synthesized iCE40 netlist', area: ['ice40'] },
  flip_flops: { doc: 'SB_DFF* cells of the synthesized iCE40 netlist', area: ['ice40'] },
  dsps: { doc: 'SB_MAC16 DSP blocks used', area: ['ice40'] },
  ram_blocks: { doc: 'SB_RAM40_4K block RAMs used', area: ['ice40'] },
  spram_blocks: { doc: 'SB_SPRAM256KA blocks used (UP5K)', area: ['ice40'] },
  fmax_mhz: { doc: 'achieved clock frequency after place and route (nextpnr), MHz', area: ['ice40'] },
  latency_fmax_us: { doc: 'cycles / fmax_mhz: the workloads\' latency if the point ran at its achieved fmax, microseconds', area: ['ice40'] },
  multipliers: { doc: 'GEMM multipliers (BATCH x BLOCK x BLOCK / GEMM_II)' },
  sram_bits: { doc: 'bits of the five on-chip buffers' },
  cycles: { doc: 'simulated cycles of all workloads (layers x count)' },
  latency_us: { doc: 'cycles / CLOCK_MHZ, microseconds' },
  energy_uj: { doc: 'energy estimate from the counters and the energy table, microjoules' },
  dram_bytes: { doc: 'bytes moved to and from DRAM (instructions included)' },
  utilization: { doc: 'ideal cycles (MACs / MACs per cycle) / cycles, over all workloads' },
};
