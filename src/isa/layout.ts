/**
 * Instruction and micro-op field layout for a configuration, computed with the rule of VTA's C
 * headers (vta-reference Part B §2.1, §2.10): fields are allocated LSB-first, in declaration order,
 * into 64-bit units (32-bit for a micro-op); a field that does not fit in what is left of the current
 * unit starts at the next unit. Every consumer (encoder, simulators, Verilog generator) reads bit
 * positions from here.
 */
import { ConfigError } from '../errors.ts';
import {
  ALU_OPCODE_BITS, ALUOP_IMM_BITS, INSN_BITS, INSN_UNIT_BITS, LOOP_ITER_BITS, MEMOP_DRAM_ADDR_BITS,
  MEMOP_ID_BITS, MEMOP_PAD_BITS, MEMOP_SIZE_BITS, MEMOP_SRAM_ADDR_BITS, MEMOP_STRIDE_BITS, OPCODE_BITS,
  UOP_BITS,
} from './constants.ts';

/** log2 depths (in elements) of the on-chip buffers, the only inputs of the layout. */
export interface LogDepths {
  uop: number;
  inp: number;
  wgt: number;
  acc: number;
}

export interface Field {
  name: string;
  /** Bit position of the least significant bit in the 128-bit instruction (or 32-bit uop). */
  lsb: number;
  width: number;
  /** Two's complement field (only the ALU immediate). */
  signed: boolean;
}

export interface StructLayout {
  /** Fields in declaration order. */
  fields: readonly Field[];
  byName: Readonly<Record<string, Field>>;
  /** Bits up to and including the last field (gaps included). */
  usedBits: number;
  /** Total size of the struct in bits (128 for instructions, 32 for the uop). */
  totalBits: number;
}

export interface IsaLayout {
  /** LOAD and STORE. */
  mem: StructLayout;
  /** GEMM; FINISH uses the same layout. */
  gemm: StructLayout;
  alu: StructLayout;
  uop: StructLayout;
}

/** A field declaration: width, and the configuration key that sets it (for overflow messages). */
interface FieldDecl {
  name: string;
  width: number;
  signed?: boolean;
  param?: BuffParam;
}

type BuffParam = 'LOG_UOP_BUFF_SIZE' | 'LOG_INP_BUFF_SIZE' | 'LOG_WGT_BUFF_SIZE' | 'LOG_ACC_BUFF_SIZE';

const HEADER: FieldDecl[] = [
  { name: 'opcode', width: OPCODE_BITS },
  { name: 'pop_prev_dep', width: 1 },
  { name: 'pop_next_dep', width: 1 },
  { name: 'push_prev_dep', width: 1 },
  { name: 'push_next_dep', width: 1 },
];

export function memDecls(): FieldDecl[] {
  return [
    ...HEADER,
    { name: 'memory_type', width: MEMOP_ID_BITS },
    { name: 'sram_base', width: MEMOP_SRAM_ADDR_BITS },
    { name: 'dram_base', width: MEMOP_DRAM_ADDR_BITS },
    { name: 'y_size', width: MEMOP_SIZE_BITS },
    { name: 'x_size', width: MEMOP_SIZE_BITS },
    { name: 'x_stride', width: MEMOP_STRIDE_BITS },
    { name: 'y_pad_0', width: MEMOP_PAD_BITS },
    { name: 'y_pad_1', width: MEMOP_PAD_BITS },
    { name: 'x_pad_0', width: MEMOP_PAD_BITS },
    { name: 'x_pad_1', width: MEMOP_PAD_BITS },
  ];
}

/** The part GEMM and ALU share: header, reset, micro-op range and loop counts. */
function loopHeader(d: LogDepths): FieldDecl[] {
  return [
    ...HEADER,
    { name: 'reset_reg', width: 1 },
    { name: 'uop_bgn', width: d.uop, param: 'LOG_UOP_BUFF_SIZE' },
    { name: 'uop_end', width: d.uop + 1, param: 'LOG_UOP_BUFF_SIZE' },
    { name: 'iter_out', width: LOOP_ITER_BITS },
    { name: 'iter_in', width: LOOP_ITER_BITS },
  ];
}

export function gemmDecls(d: LogDepths): FieldDecl[] {
  return [
    ...loopHeader(d),
    { name: 'dst_factor_out', width: d.acc, param: 'LOG_ACC_BUFF_SIZE' },
    { name: 'dst_factor_in', width: d.acc, param: 'LOG_ACC_BUFF_SIZE' },
    { name: 'src_factor_out', width: d.inp, param: 'LOG_INP_BUFF_SIZE' },
    { name: 'src_factor_in', width: d.inp, param: 'LOG_INP_BUFF_SIZE' },
    { name: 'wgt_factor_out', width: d.wgt, param: 'LOG_WGT_BUFF_SIZE' },
    { name: 'wgt_factor_in', width: d.wgt, param: 'LOG_WGT_BUFF_SIZE' },
  ];
}

export function aluDecls(d: LogDepths): FieldDecl[] {
  return [
    ...loopHeader(d),
    { name: 'dst_factor_out', width: d.acc, param: 'LOG_ACC_BUFF_SIZE' },
    { name: 'dst_factor_in', width: d.acc, param: 'LOG_ACC_BUFF_SIZE' },
    // ALU sources index the accumulator, so these take the ACC depth (VTAAluInsn).
    { name: 'src_factor_out', width: d.acc, param: 'LOG_ACC_BUFF_SIZE' },
    { name: 'src_factor_in', width: d.acc, param: 'LOG_ACC_BUFF_SIZE' },
    { name: 'alu_opcode', width: ALU_OPCODE_BITS },
    { name: 'use_imm', width: 1 },
    { name: 'imm', width: ALUOP_IMM_BITS, signed: true },
  ];
}

export function uopDecls(d: LogDepths): FieldDecl[] {
  // src_idx addresses INP for GEMM and ACC for ALU: it takes the wider of the two depths
  // (VTA's headers disagree between versions; they coincide on every shipped config, see docs/isa.md).
  const srcParam: BuffParam = d.acc >= d.inp ? 'LOG_ACC_BUFF_SIZE' : 'LOG_INP_BUFF_SIZE';
  return [
    { name: 'dst_idx', width: d.acc, param: 'LOG_ACC_BUFF_SIZE' },
    { name: 'src_idx', width: Math.max(d.acc, d.inp), param: srcParam },
    { name: 'wgt_idx', width: d.wgt, param: 'LOG_WGT_BUFF_SIZE' },
  ];
}

/** Why a struct did not fit: the first field that overflows and the keys that size its fields. */
export interface Overflow {
  struct: string;
  field: string;
  width: number;
  endBit: number;
  totalBits: number;
  params: BuffParam[];
}

/** Pack declarations with the C bit-field rule; returns the layout or the first overflow. */
export function pack(
  struct: string, decls: readonly FieldDecl[], unitBits: number, totalBits: number,
): StructLayout | Overflow {
  const fields: Field[] = [];
  let pos = 0;
  for (const decl of decls) {
    const used = pos % unitBits;
    if (used + decl.width > unitBits) pos += unitBits - used;
    if (pos + decl.width > totalBits) {
      const params = [...new Set(decls.filter((x) => x.param).map((x) => x.param!))];
      return { struct, field: decl.name, width: decl.width, endBit: pos + decl.width, totalBits, params };
    }
    fields.push({ name: decl.name, lsb: pos, width: decl.width, signed: decl.signed ?? false });
    pos += decl.width;
  }
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
  return { fields, byName, usedBits: pos, totalBits };
}

/**
 * GEMM_REQUANT (a vtw extension, docs/isa.md): VTA's GEMM layout plus a 1-bit field `requant` in
 * its lowest reserved bit (bit 63 on VTA's default buffer sizes), so that every VTA field — the
 * loop fields the compute module decodes alike for GEMM and ALU among them — keeps its place.
 */
function withRequantBit(l: StructLayout): StructLayout | Overflow {
  let bit = 0;
  for (const f of l.fields) {
    if (f.lsb > bit) break;
    bit = f.lsb + f.width;
  }
  if (bit >= l.totalBits) {
    const params: BuffParam[] = ['LOG_UOP_BUFF_SIZE', 'LOG_ACC_BUFF_SIZE', 'LOG_INP_BUFF_SIZE', 'LOG_WGT_BUFF_SIZE'];
    return { struct: 'GEMM', field: 'requant', width: 1, endBit: l.totalBits + 1, totalBits: l.totalBits, params };
  }
  const f: Field = { name: 'requant', lsb: bit, width: 1, signed: false };
  const fields = [...l.fields.filter((x) => x.lsb < bit), f, ...l.fields.filter((x) => x.lsb > bit)];
  return { fields, byName: { ...l.byName, requant: f }, usedBits: Math.max(l.usedBits, bit + 1), totalBits: l.totalBits };
}

function isOverflow(x: StructLayout | Overflow): x is Overflow {
  return 'endBit' in x;
}

/**
 * Lay out every struct; returns the first overflow instead when one does not fit. The caller
 * (config derivation) turns an overflow into a ConfigError naming the key to change.
 */
export function tryComputeLayout(d: LogDepths, gemmRequant = false): IsaLayout | Overflow {
  const mem = pack('LOAD/STORE', memDecls(), INSN_UNIT_BITS, INSN_BITS);
  if (isOverflow(mem)) return mem;
  const packed = pack('GEMM', gemmDecls(d), INSN_UNIT_BITS, INSN_BITS);
  if (isOverflow(packed)) return packed;
  const gemm = gemmRequant ? withRequantBit(packed) : packed;
  if (isOverflow(gemm)) return gemm;
  const alu = pack('ALU', aluDecls(d), INSN_UNIT_BITS, INSN_BITS);
  if (isOverflow(alu)) return alu;
  const uop = pack('micro-op', uopDecls(d), UOP_BITS, UOP_BITS);
  if (isOverflow(uop)) return uop;
  return { mem, gemm, alu, uop };
}

export function computeLayout(d: LogDepths, gemmRequant = false): IsaLayout {
  const r = tryComputeLayout(d, gemmRequant);
  if ('endBit' in r) {
    throw new ConfigError(
      `${r.struct} field ${r.field} (${r.width} bits) would end at bit ${r.endBit}, past the ` +
        `${r.totalBits}-bit ${r.struct === 'micro-op' ? 'micro-op' : 'instruction'}; reduce ${r.params.join(' or ')}`,
    );
  }
  return r;
}

export function layoutOverflows(d: LogDepths, gemmRequant = false): Overflow | undefined {
  const r = tryComputeLayout(d, gemmRequant);
  return 'endBit' in r ? r : undefined;
}
