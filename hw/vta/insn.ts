/**
 * Instruction fields as slices of the 128-bit instruction (bit positions from `d.layout`), the
 * command-queue entry format (instruction plus values fetch precomputes when it dispatches), and the
 * reserved-bit ranges of each layout.
 */
import type { Derived } from '../../src/config/derive.ts';
import type { StructLayout } from '../../src/isa/layout.ts';
import { INSN_BITS } from '../../src/isa/constants.ts';
import { HdlError, cat, bitsFor, type Expr } from '../hdl/index.ts';

export function field(insn: Expr, layout: StructLayout, name: string): Expr {
  const f = layout.byName[name];
  if (!f) throw new HdlError(`no field ${name} in this layout`);
  return insn.slice(f.lsb + f.width - 1, f.lsb);
}

/** Bit ranges [lsb, width] not covered by a field (VTA leaves them zero). */
export function reservedRanges(layout: StructLayout): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let pos = 0;
  for (const f of layout.fields) {
    if (f.lsb > pos) out.push([pos, f.lsb - pos]);
    pos = f.lsb + f.width;
  }
  if (pos < layout.totalBits) out.push([pos, layout.totalBits - pos]);
  return out;
}

/**
 * A command-queue entry: the instruction (bits 127..0), then `fp_end` = sram_base + W*H (LOAD
 * footprint end), `s0` = sram_base + W*y_pad_0 + x_pad_0 (first data element), `pads` = padding
 * elements, and the instruction's index in the program (for error reports).
 */
export interface Entry {
  insn: Expr;
  fpEnd: Expr;
  s0: Expr;
  pads: Expr;
  index: Expr;
}

/** Widths of an entry for a configuration: only as wide as a legal instruction's values get. */
export interface EntryLayout {
  /** fp_end, s0 and pads of a legal LOAD are at most the largest depth: bitsFor(largest depth + 1). */
  extraBits: number;
  /** Instruction indices: a program fits 2^MEM_ADDR_BITS bytes (MEM_ADDR_BITS - 3 bits; 32 for the full space). */
  indexBits: number;
  bits: number;
  /**
   * Bits each command queue stores (the low bits of an entry; the rest reads as zero): STORE needs
   * only the instruction, LOAD INP/WGT also the precomputed values, compute everything (its index
   * for the errors found while a GEMM/ALU runs).
   */
  queueBits: { load: number; compute: number; store: number };
}

export function entryLayout(d: Derived): EntryLayout {
  const extraBits = bitsFor(Math.max(...(['uop', 'wgt', 'inp', 'acc', 'out'] as const).map((b) => d.depth[b])) + 1);
  const indexBits = d.mem.addrBits < 32 ? d.mem.addrBits - 3 : 32;
  const bits = INSN_BITS + 3 * extraBits + indexBits;
  return { extraBits, indexBits, bits, queueBits: { load: INSN_BITS + 3 * extraBits, compute: bits, store: INSN_BITS } };
}

export function packEntry(l: EntryLayout, e: Entry): Expr {
  const x = cat(e.index, e.pads, e.s0, e.fpEnd, e.insn);
  if (x.width !== l.bits) throw new Error(`entry of ${x.width} bits, layout says ${l.bits}`);
  return x;
}

export function unpackEntry(l: EntryLayout, x: Expr): Entry {
  let p = 0;
  const take = (w: number) => {
    const s = x.slice(p + w - 1, p);
    p += w;
    return s;
  };
  const insn = take(INSN_BITS);
  const fpEnd = take(l.extraBits);
  const s0 = take(l.extraBits);
  const pads = take(l.extraBits);
  const index = take(l.indexBits);
  return { insn, fpEnd, s0, pads, index };
}

/** Field accessors of one instruction for the three layouts. */
export class Fields {
  constructor(
    readonly d: Derived,
    readonly insn: Expr,
  ) {}
  mem(name: string): Expr {
    return field(this.insn, this.d.layout.mem, name);
  }
  gemm(name: string): Expr {
    return field(this.insn, this.d.layout.gemm, name);
  }
  alu(name: string): Expr {
    return field(this.insn, this.d.layout.alu, name);
  }
  get opcode(): Expr {
    return this.mem('opcode');
  }
  flag(name: 'pop_prev_dep' | 'pop_next_dep' | 'push_prev_dep' | 'push_next_dep'): Expr {
    return this.mem(name);
  }
}
