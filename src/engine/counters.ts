/**
 * Counters that follow from the instruction stream alone (micro-op counts, bytes per memory type,
 * fsim's counters), as docs/microarch.md §10 defines them for a program that runs to FINISH.
 * Engines that cannot observe them directly (the RTL) report these.
 */
import type { Insn } from '../isa/insn.ts';
import type { Program } from '../program/container.ts';
import type { RunCounters } from './index.ts';

export function staticCounters(p: Program, insns: Insn[], cycles: number): Omit<RunCounters, 'modules'> {
  const d = p.config;
  const bytes = { insn: insns.length * 16, uop: 0, wgt: 0, inp: 0, acc: 0, out: 0 };
  const fsim = { inp_load_nbytes: 0, wgt_load_nbytes: 0, acc_load_nbytes: 0, uop_load_nbytes: 0, out_store_nbytes: 0, gemm_counter: 0, alu_counter: 0 };
  let gemmUops = 0;
  let aluUops = 0;
  for (const i of insns) {
    if ((i.opcode === 'LOAD' || i.opcode === 'STORE') && i.x_size > 0) {
      const key = i.memory_type.toLowerCase() as 'uop' | 'wgt' | 'inp' | 'acc' | 'out';
      const n = i.x_size * i.y_size * d.elemBytes[key];
      bytes[key] += n;
      fsim[`${key}_${i.opcode === 'STORE' ? 'store' : 'load'}_nbytes` as keyof typeof fsim] += n;
    } else if (i.opcode === 'GEMM' || i.opcode === 'ALU') {
      const n = i.iter_out * i.iter_in * Math.max(0, i.uop_end - i.uop_bgn);
      if (i.opcode === 'GEMM') {
        gemmUops += n;
        if (!i.reset_reg) fsim.gemm_counter += n;
      } else {
        aluUops += n;
        fsim.alu_counter += n;
      }
    }
  }
  return {
    cycles,
    gemm_uops: gemmUops,
    alu_uops: aluUops,
    utilization: cycles > 0 ? (fsim.gemm_counter * d.gemmII) / cycles : 0,
    bytes,
    fsim,
  };
}
