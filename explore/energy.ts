/**
 * Energy estimate of a workload run from the simulator's counters and a per-event energy table
 * (in the spirit of Accelergy/Timeloop: events x energy per event). The defaults are order-of-
 * magnitude figures for a 45 nm process after Horowitz, "Computing's energy problem" (ISSCC 2014):
 * an 8-bit multiply 0.2 pJ + 32-bit add 0.1 pJ ≈ 0.3 pJ per MAC, a 32-bit add/compare 0.1 pJ per
 * ALU lane, small SRAM ≈ 1.25 pJ per byte (8 KiB, 64-bit access ≈ 10 pJ), DRAM ≈ 160 pJ per byte
 * (1.3-2.6 nJ per 64 bits). A space file's `energy` object overrides any entry (docs/explore.md).
 *
 * Events, from the counters (src/engine/index.ts RunCounters) and the configuration:
 * - DRAM bytes: every byte loaded or stored, instructions included;
 * - SRAM writes: bytes LOADed into UOP/INP/WGT/ACC; per GEMM micro-op one ACC and one OUT element;
 *   per ALU micro-op one ACC and one OUT element;
 * - SRAM reads: bytes STOREd from OUT; per non-reset GEMM micro-op one INP, one WGT and one ACC
 *   element; per ALU micro-op two ACC elements (destination and source: an upper bound, the
 *   counters do not say which use an immediate); per GEMM or ALU micro-op one 4-byte micro-op;
 * - MACs: non-reset GEMM micro-ops x BATCH x BLOCK x BLOCK; ALU ops: ALU micro-ops x BATCH x BLOCK.
 */
import { BUFFER_NAMES, type BufferName, type Derived } from '../src/config/index.ts';

export interface EnergyTable {
  dram_pj_per_byte: number;
  sram_read_pj_per_byte: Record<BufferName, number>;
  sram_write_pj_per_byte: Record<BufferName, number>;
  mac_pj: number;
  alu_op_pj: number;
}

const perBuffer = (v: number) => Object.fromEntries(BUFFER_NAMES.map((b) => [b, v])) as Record<BufferName, number>;

export const DEFAULT_ENERGY: Readonly<EnergyTable> = Object.freeze({
  dram_pj_per_byte: 160,
  sram_read_pj_per_byte: perBuffer(1.25),
  sram_write_pj_per_byte: perBuffer(1.25),
  mac_pj: 0.3,
  alu_op_pj: 0.1,
});

/** What a workload run leaves in the cache: the counters energy and the metrics need. */
export interface RunCounts {
  cycles: number;
  ideal_cycles: number;
  /** GEMM micro-ops, resets included, and those that accumulate (fsim's gemm_counter). */
  gemm_uops: number;
  gemm_macs_uops: number;
  alu_uops: number;
  bytes: Record<'insn' | 'uop' | 'wgt' | 'inp' | 'acc' | 'out', number>;
}

export interface EnergyEvents {
  dram_bytes: number;
  sram_read_bytes: Record<BufferName, number>;
  sram_write_bytes: Record<BufferName, number>;
  macs: number;
  alu_ops: number;
}

export function energyEvents(d: Derived, c: RunCounts): EnergyEvents {
  const e = d.elemBytes;
  const resets = c.gemm_uops - c.gemm_macs_uops;
  const computeUops = c.gemm_uops + c.alu_uops;
  return {
    dram_bytes: Object.values(c.bytes).reduce((a, b) => a + b, 0),
    sram_write_bytes: {
      uop: c.bytes.uop,
      inp: c.bytes.inp,
      wgt: c.bytes.wgt,
      acc: c.bytes.acc + (c.gemm_macs_uops + resets + c.alu_uops) * e.acc,
      out: (c.gemm_macs_uops + resets + c.alu_uops) * e.out,
    },
    sram_read_bytes: {
      uop: computeUops * d.uopBytes,
      inp: c.gemm_macs_uops * e.inp,
      wgt: c.gemm_macs_uops * e.wgt,
      acc: (c.gemm_macs_uops + 2 * c.alu_uops) * e.acc,
      out: c.bytes.out,
    },
    macs: c.gemm_macs_uops * d.macsPerUop,
    alu_ops: c.alu_uops * d.batch * d.blockOut,
  };
}

/** Energy in picojoules of the events under `t`. */
export function energyPj(ev: EnergyEvents, t: EnergyTable): number {
  let pj = ev.dram_bytes * t.dram_pj_per_byte + ev.macs * t.mac_pj + ev.alu_ops * t.alu_op_pj;
  for (const b of BUFFER_NAMES) pj += ev.sram_read_bytes[b] * t.sram_read_pj_per_byte[b] + ev.sram_write_bytes[b] * t.sram_write_pj_per_byte[b];
  return pj;
}
