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
  multipliers: { doc: 'GEMM multipliers (BATCH x BLOCK x BLOCK / GEMM_II)' },
  sram_bits: { doc: 'bits of the five on-chip buffers' },
  cycles: { doc: 'simulated cycles of all workloads (layers x count)' },
  latency_us: { doc: 'cycles / CLOCK_MHZ, microseconds' },
  energy_uj: { doc: 'energy estimate from the counters and the energy table, microjoules' },
  dram_bytes: { doc: 'bytes moved to and from DRAM (instructions included)' },
  utilization: { doc: 'ideal cycles (MACs / MACs per cycle) / cycles, over all workloads' },
};
