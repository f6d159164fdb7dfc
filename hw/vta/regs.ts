/**
 * The control-register block of docs/rtl.md (register bus, launch / finish / error, cycle counter,
 * instruction count and base, error detail, configuration id) and the error-code table: one code
 * per check of docs/microarch.md §9.1, in that order, then the index checks made when a GEMM/ALU
 * runs. `errorCodeName` gives the field the simulator reports for a code.
 */
import { cat, lit, Mb, T, all, any, c, eqc, inc, inv, nonZero, pick, rz, sel, type Expr } from '../hdl/index.ts';

export interface ErrorCode {
  code: number;
  field: string;
  check: string;
}

const CODES: Array<[string, string]> = [
  ['opcode', 'opcode not 0-4'],
  ['memory_type', 'memory type not UOP/WGT/INP/ACC/OUT'],
  ['alu_opcode', 'ALU opcode 5-7'],
  ['reserved', 'non-zero reserved bits'],
  ['pop_prev_dep', 'LOAD INP/WGT with pop_prev_dep'],
  ['push_prev_dep', 'LOAD INP/WGT with push_prev_dep'],
  ['pop_next_dep', 'STORE with pop_next_dep'],
  ['push_next_dep', 'STORE with push_next_dep'],
  ['memory_type', 'STORE from a memory other than OUT'],
  ['y_pad_0', 'STORE with padding'],
  ['y_pad_1', 'STORE with padding'],
  ['x_pad_0', 'STORE with padding'],
  ['x_pad_1', 'STORE with padding'],
  ['sram_base', 'STORE reading OUT past its depth'],
  ['memory_type', 'LOAD into OUT'],
  ['y_size', 'UOP load with y_size != 1'],
  ['y_pad_0', 'UOP load with padding'],
  ['y_pad_1', 'UOP load with padding'],
  ['x_pad_0', 'UOP load with padding'],
  ['x_pad_1', 'UOP load with padding'],
  ['sram_base', 'LOAD footprint past the SRAM depth'],
  ['dram_base', 'DRAM range past the end of DRAM (dram_size register)'],
  ['uop_end', 'GEMM/ALU uop_end past the UOP depth'],
  ['alu_opcode', 'ALU MUL with ALU_MUL = false'],
  ['dst_idx', 'GEMM/ALU accumulator index past the ACC depth'],
  ['src_idx', 'GEMM input index past the INP depth, or ALU source past the ACC depth'],
  ['wgt_idx', 'GEMM weight index past the WGT depth'],
];

/** Error codes (1-based; 0 = no error). */
export const ERROR_CODES: readonly ErrorCode[] = CODES.map(([field, check], i) => ({ code: i + 1, field, check }));
export const ERROR_CODE_BITS = 8;

/** Code of a check, by its position name `field#n` (n = occurrence of that field, from 1). */
export function errorCode(field: string, occurrence = 1): number {
  const hits = ERROR_CODES.filter((e) => e.field === field);
  const e = hits[occurrence - 1];
  if (!e) throw new Error(`no error code for ${field} #${occurrence}`);
  return e.code;
}

/** The field the simulator reports for an error code (as RunError.field). */
export function errorCodeName(code: number): string {
  return ERROR_CODES.find((e) => e.code === code)?.field ?? `unknown(${code})`;
}

export const REG = {
  control: 0x00,
  cycles: 0x04,
  insnCount: 0x08,
  insnBase: 0x0c,
  errorInsn: 0x10,
  errorCode: 0x14,
  configId: 0x18,
  /** Extension: DRAM size in bytes for the dram_base check of §9.1 (0 = no check). */
  dramSize: 0x1c,
} as const;

/**
 * The register block. Inputs from the core: `finish_set` (FINISH completes in this cycle, so the
 * finish bit reads 1 from the next cycle, its `end`), `err_set` with `err_index` / `err_code` (an
 * illegal instruction stops the machine in this cycle). Outputs: `launch` (a write of 1 to
 * control.launch at this edge: the core restarts, cycle 0 is the next cycle) and `run`.
 */
/**
 * With MEM_ADDR_BITS = L < 32 the registers keep only what a 2^L-byte memory can use (the rest
 * reads as zero): insn_count and the error index L - 3 bits (instructions in 2^L bytes), insn_base
 * bits L-1..12, and dram_size saturated at 2^(L+1) (L + 2 bits; the §9.1 check never fails past 2^L).
 */
export function regsModule(name: string, configId: number, addrBits = 32): Mb {
  const mb = new Mb(name, ['control registers (docs/rtl.md): launch/finish/error, counters, instruction stream, error detail']);
  const wen = mb.input('reg_wen');
  const addr = mb.input('reg_addr', 6);
  const wdata = mb.input('reg_wdata', 32);
  const finishSet = mb.input('finish_set');
  const errSet = mb.input('err_set');
  const errIndex = mb.input('err_index', 32);
  const errCode = mb.input('err_code', ERROR_CODE_BITS);

  const running = mb.reg('running', 1);
  const finish = mb.reg('finish_q', 1);
  const error = mb.reg('error_q', 1);
  const L = addrBits;
  const narrow = L < 32;
  const IW = narrow ? L - 3 : 32;
  const cycles = mb.reg('cycles_q', 32);
  const count = mb.reg('insn_count_q', IW);
  const base = mb.reg('insn_base_q', (narrow ? L : 32) - 12);
  const eIdx = mb.reg('error_insn_q', IW);
  const eCode = mb.reg('error_code_q', ERROR_CODE_BITS);
  const dram = mb.reg('dram_size_q', narrow ? L + 2 : 32);

  const wr = (a: number) => all(wen, eqc(addr, a));
  const launch = mb.w('launch_now', all(wr(REG.control), wdata.bit(0)));
  const stopErr = all(running, errSet);
  const stopFin = all(running, finishSet);
  mb.next(running, sel(launch, T, all(running, inv(any(errSet, finishSet)))));
  mb.next(finish, sel(launch, lit(1, 0), any(finish, stopFin)));
  mb.next(error, sel(launch, lit(1, 0), any(error, stopErr)));
  // cycles counts cycle 0, 1, ... of the run; it reads the FINISH end when finish is set, and the
  // cycle of an illegal instruction when error is set.
  mb.next(cycles, sel(launch, lit(32, 0), inc(cycles)), any(launch, all(running, inv(errSet))));
  mb.next(count, wdata.slice(IW - 1, 0), wr(REG.insnCount));
  mb.next(base, wdata.slice(base.width + 11, 12), wr(REG.insnBase));
  const dramIn = narrow ? sel(nonZero(wdata.slice(31, L + 1)), c(L + 2, 2 ** (L + 1)), rz(wdata, L + 2)) : wdata;
  mb.next(dram, dramIn, wr(REG.dramSize));
  mb.next(eIdx, errIndex.slice(IW - 1, 0), stopErr);
  mb.next(eCode, errCode, stopErr);
  if (narrow) mb.sink(errIndex.slice(31, IW));

  const ctrl = cat(lit(29, 0), error, finish, running);
  const baseW = rz(cat(base, lit(12, 0)), 32);
  const regs: Expr[] = [ctrl, cycles, rz(count, 32), baseW, rz(eIdx, 32), cat(lit(32 - ERROR_CODE_BITS, 0), eCode), c(32, configId >>> 0), rz(dram, 32)];
  const slot = addr.slice(5, 2);
  const rd = pick(slot, [...regs, ...Array.from({ length: 16 - regs.length }, () => lit(32, 0))]);
  mb.output('reg_rdata', rd);
  mb.output('launch', launch);
  mb.output('run', running);
  mb.output('insn_count', rz(count, 32));
  mb.output('insn_base', baseW);
  mb.output('dram_size', rz(dram, 32));
  mb.sink(addr.slice(1, 0));
  return mb;
}
