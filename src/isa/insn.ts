/**
 * Instructions and micro-ops as objects with VTA's field names, and their table-driven encoding
 * for any configuration. The JSON shape (`vtw isa encode/decode`, assembly) is this object shape.
 */
import type { Derived } from '../config/derive.ts';
import { IsaError, didYouMean } from '../errors.ts';
import { bytesToWords, getBits, setBits, wordsToBytes, wordsToHex } from './bits.ts';
import { ALU_OPCODES, ALU_OP_NAMES, type AluOpName } from './alu.ts';
import {
  DEP_FLAGS, INSN_BYTES, MEM_TYPES, MEM_TYPE_ACC_8BIT, MEM_TYPE_NAMES, OPCODES, OPCODE_NAMES, UOP_BYTES, type MemTypeName,
} from './constants.ts';
import type { StructLayout } from './layout.ts';
import { quoteUser } from '../util/quote.ts';

export interface DepFields {
  pop_prev_dep: number;
  pop_next_dep: number;
  push_prev_dep: number;
  push_next_dep: number;
}

export interface MemInsn extends DepFields {
  opcode: 'LOAD' | 'STORE';
  memory_type: MemTypeName;
  sram_base: number;
  dram_base: number;
  y_size: number;
  x_size: number;
  x_stride: number;
  y_pad_0: number;
  y_pad_1: number;
  x_pad_0: number;
  x_pad_1: number;
}

interface LoopFields extends DepFields {
  reset_reg: number;
  uop_bgn: number;
  uop_end: number;
  iter_out: number;
  iter_in: number;
  dst_factor_out: number;
  dst_factor_in: number;
  src_factor_out: number;
  src_factor_in: number;
}

/** GEMM, and FINISH, which VTA encodes with the GEMM layout (normally all fields but flags zero). */
export interface GemmInsn extends LoopFields {
  opcode: 'GEMM' | 'FINISH';
  wgt_factor_out: number;
  wgt_factor_in: number;
  /** GEMM_REQUANT only (vtw extension, docs/isa.md): write the requantized sum (absent elsewhere). */
  requant?: number;
}

export interface AluInsn extends LoopFields {
  opcode: 'ALU';
  alu_opcode: AluOpName;
  use_imm: number;
  imm: number;
}

export type Insn = MemInsn | GemmInsn | AluInsn;

export interface Uop {
  dst_idx: number;
  src_idx: number;
  wgt_idx: number;
}

/** Fields whose JSON/assembly value is a name rather than a number. */
const ENUMS: Record<string, { names: readonly string[]; values: Record<string, number> }> = {
  opcode: { names: OPCODE_NAMES, values: OPCODES },
  memory_type: { names: MEM_TYPE_NAMES, values: MEM_TYPES },
  alu_opcode: { names: ALU_OP_NAMES, values: ALU_OPCODES },
};

export function isEnumField(name: string): boolean {
  return name in ENUMS;
}

export function layoutOf(d: Derived, opcode: Insn['opcode']): StructLayout {
  switch (opcode) {
    case 'LOAD':
    case 'STORE':
      return d.layout.mem;
    case 'GEMM':
    case 'FINISH':
      return d.layout.gemm;
    case 'ALU':
      return d.layout.alu;
  }
}

function checkRange(what: string, field: { name: string; width: number; signed: boolean }, v: number): void {
  const lo = field.signed ? -(2 ** (field.width - 1)) : 0;
  const hi = field.signed ? 2 ** (field.width - 1) - 1 : 2 ** field.width - 1;
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new IsaError(`${what} field ${field.name} = ${v} does not fit in ${field.width} bits (valid: ${lo}..${hi})`);
  }
}

function enumValue(field: string, value: unknown): number {
  const e = ENUMS[field];
  if (typeof value === 'string' && value.toUpperCase() in e.values) return e.values[value.toUpperCase()];
  throw new IsaError(
    `${field} = ${JSON.stringify(value)} is not valid${typeof value === 'string' ? didYouMean(value, e.names) : ''}; use one of ${e.names.join(', ')}`,
  );
}

/** Encode one instruction into four little-endian 32-bit words. */
export function encodeInsnWords(d: Derived, insn: Insn): Uint32Array {
  const layout = layoutOf(d, insn.opcode);
  const w = new Uint32Array(4);
  const rec = insn as unknown as Record<string, unknown>;
  for (const f of layout.fields) {
    const raw = rec[f.name] ?? 0;
    let v = f.name in ENUMS ? enumValue(f.name, raw) : (raw as number);
    checkRange(insn.opcode, f, v);
    if (f.signed && v < 0) v += 2 ** f.width;
    setBits(w, f.lsb, f.width, v);
  }
  return w;
}

export function encodeInsn(d: Derived, insn: Insn): Uint8Array {
  return wordsToBytes(encodeInsnWords(d, insn));
}

export function encodeInsnHex(d: Derived, insn: Insn): string {
  return wordsToHex(encodeInsnWords(d, insn));
}

/** Bit ranges of a layout not covered by any field: VTA leaves them zero. */
function reservedRanges(layout: StructLayout): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let pos = 0;
  for (const f of layout.fields) {
    if (f.lsb > pos) out.push([pos, f.lsb - pos]);
    pos = f.lsb + f.width;
  }
  if (pos < layout.totalBits) out.push([pos, layout.totalBits - pos]);
  return out;
}

const reservedCache = new WeakMap<StructLayout, Array<[number, number]>>();

/** Decode four words. Throws IsaError naming the field for anything VTA could not execute. */
export function decodeInsnWords(d: Derived, w: Uint32Array): Insn {
  const op = getBits(w, 0, 3);
  const opcode = OPCODE_NAMES[op];
  if (opcode === undefined) throw new IsaError(`opcode ${op} is not a VTA opcode (0 LOAD, 1 STORE, 2 GEMM, 3 FINISH, 4 ALU)`);
  const layout = layoutOf(d, opcode);
  const out: Record<string, unknown> = {};
  for (const f of layout.fields) {
    let v = getBits(w, f.lsb, f.width);
    if (f.signed && v >= 2 ** (f.width - 1)) v -= 2 ** f.width;
    if (f.name in ENUMS) {
      const name = ENUMS[f.name].names[v];
      if (name === undefined) {
        const why = f.name === 'memory_type' && v === MEM_TYPE_ACC_8BIT
          ? 'ACC_8BIT (5) is a VTA functional-simulator extension vtw does not support'
          : `${v} is not a valid ${f.name} (${ENUMS[f.name].names.map((n, i) => `${i} ${n}`).join(', ')})`;
        throw new IsaError(`${opcode} ${f.name}: ${why}`);
      }
      out[f.name] = name;
    } else {
      out[f.name] = v;
    }
  }
  let reserved = reservedCache.get(layout);
  if (!reserved) reservedCache.set(layout, (reserved = reservedRanges(layout)));
  for (const [lsb, width] of reserved) {
    for (let b = lsb; b < lsb + width; b += 32) {
      if (getBits(w, b, Math.min(32, lsb + width - b)) !== 0) {
        throw new IsaError(`${opcode}: reserved bits [${lsb + width - 1}:${lsb}] are not zero`);
      }
    }
  }
  return out as unknown as Insn;
}

export function decodeInsn(d: Derived, bytes: Uint8Array, offset = 0): Insn {
  if (offset + INSN_BYTES > bytes.length) throw new IsaError(`instruction at byte ${offset} is truncated`);
  return decodeInsnWords(d, bytesToWords(bytes, offset, 4));
}

/** Parse 32 hex digits (most significant first; optional 0x, spaces and underscores ignored). */
export function hexToInsnWords(hex: string): Uint32Array {
  const clean = hex.trim().replace(/^0x/i, '').replace(/[\s_]/g, '');
  if (!/^[0-9a-fA-F]+$/.test(clean)) throw new IsaError(`${quoteUser(hex)} is not hexadecimal`);
  if (clean.length !== 32) {
    throw new IsaError(`an instruction is 128 bits = 32 hex digits; got ${clean.length} digits`);
  }
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[3 - i] = parseInt(clean.slice(i * 8, i * 8 + 8), 16) >>> 0;
  return w;
}

/** The instruction-JSON shape of the CLI: VTA field names, enums by name, missing fields = 0. */
export function insnFromJson(d: Derived, json: unknown): Insn {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new IsaError('an instruction must be a JSON object such as {"opcode": "GEMM", "uop_end": 1}');
  }
  const src = json as Record<string, unknown>;
  if (!('opcode' in src)) throw new IsaError(`instruction JSON needs an opcode (${OPCODE_NAMES.join(', ')})`);
  const opcode = OPCODE_NAMES[enumValue('opcode', src.opcode)];
  const layout = layoutOf(d, opcode);
  const names = layout.fields.map((f) => f.name);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (!names.includes(k)) {
      throw new IsaError(`${k} is not a field of ${opcode}${didYouMean(k, names)}; fields: ${names.join(', ')}`);
    }
  }
  for (const f of layout.fields) {
    const v = src[f.name];
    if (f.name in ENUMS) {
      out[f.name] = v === undefined ? ENUMS[f.name].names[0] : ENUMS[f.name].names[enumValue(f.name, v)];
    } else if (v === undefined) {
      out[f.name] = 0;
    } else if (typeof v === 'boolean' && f.width === 1) {
      out[f.name] = v ? 1 : 0;
    } else if (typeof v === 'number') {
      checkRange(opcode, f, v);
      out[f.name] = v;
    } else {
      throw new IsaError(`${opcode} field ${f.name} must be a number, got ${JSON.stringify(v)}`);
    }
  }
  return out as unknown as Insn;
}

/** A fully populated instruction of the given opcode with every field zero (flags off). */
export function blankInsn(d: Derived, opcode: Insn['opcode']): Insn {
  return insnFromJson(d, { opcode });
}

export function depFlagsOf(insn: Insn): DepFields {
  const r = insn as unknown as Record<string, number>;
  return Object.fromEntries(DEP_FLAGS.map((f) => [f, r[f]])) as unknown as DepFields;
}

// ---- micro-ops ----

export function encodeUopWord(d: Derived, uop: Uop): number {
  const w = new Uint32Array(1);
  const rec = uop as unknown as Record<string, number>;
  for (const f of d.layout.uop.fields) {
    const v = rec[f.name] ?? 0;
    checkRange('micro-op', f, v);
    setBits(w, f.lsb, f.width, v);
  }
  return w[0];
}

export function decodeUopWord(d: Derived, word: number): Uop {
  const w = Uint32Array.of(word >>> 0);
  const out: Record<string, number> = {};
  for (const f of d.layout.uop.fields) out[f.name] = getBits(w, f.lsb, f.width);
  const used = d.layout.uop.usedBits;
  if (used < 32 && word >>> used !== 0) {
    throw new IsaError(`micro-op 0x${(word >>> 0).toString(16)}: reserved bits [31:${used}] are not zero`);
  }
  return out as unknown as Uop;
}

export function encodeUops(d: Derived, uops: readonly Uop[]): Uint8Array {
  const out = new Uint8Array(uops.length * UOP_BYTES);
  const view = new DataView(out.buffer);
  uops.forEach((u, i) => view.setUint32(i * UOP_BYTES, encodeUopWord(d, u), true));
  return out;
}

export function decodeUops(d: Derived, bytes: Uint8Array): Uop[] {
  if (bytes.length % UOP_BYTES) throw new IsaError(`micro-op data of ${bytes.length} bytes is not a multiple of 4`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: Uop[] = [];
  for (let i = 0; i < bytes.length; i += UOP_BYTES) out.push(decodeUopWord(d, view.getUint32(i, true)));
  return out;
}

export function uopFromJson(d: Derived, json: unknown): Uop {
  if (typeof json !== 'object' || json === null) throw new IsaError('a micro-op must be a JSON object {dst_idx, src_idx, wgt_idx}');
  const names = d.layout.uop.fields.map((f) => f.name);
  const src = json as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    if (!names.includes(k)) throw new IsaError(`${k} is not a micro-op field${didYouMean(k, names)}; fields: ${names.join(', ')}`);
  }
  const out: Record<string, number> = {};
  for (const f of d.layout.uop.fields) {
    const v = src[f.name] ?? 0;
    if (typeof v !== 'number') throw new IsaError(`micro-op field ${f.name} must be a number, got ${JSON.stringify(v)}`);
    checkRange('micro-op', f, v);
    out[f.name] = v;
  }
  return out as unknown as Uop;
}
