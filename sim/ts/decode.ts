/**
 * Instruction pre-decoding: every instruction is decoded once into a flat record with its module,
 * dependency queues, DRAM segments and the static legality checks of Part A.6 (those that need no
 * SRAM contents). docs/microarch.md §2 lists the checks.
 */
import type { Derived } from '../../src/config/derive.ts';
import { decodeInsn, type AluInsn, type GemmInsn, type Insn, type MemInsn } from '../../src/isa/insn.ts';
import { ALU_OPCODES, aluOpUnavailable } from '../../src/isa/alu.ts';
import type { LoopInsn, SramName } from './datapath.ts';
import { INSN_BYTES } from '../../src/isa/constants.ts';
import { countBeats, type Segment } from './memory.ts';

import { MODULES, moduleOf, timingOf, TOKEN_QUEUES, tokenQueuesOf } from '../../src/uarch/index.ts';

/** Module indices into MODULES. */
export const LOAD = 0;
export const COMPUTE = 1;
export const STORE = 2;

export type Kind = 'nop' | 'load' | 'store' | 'gemm' | 'alu' | 'finish';

export interface Illegal {
  field: string;
  reason: string;
}

export interface DInsn {
  index: number;
  insn?: Insn;
  /** Executing module (LOAD, COMPUTE, STORE); -1 when undecodable. */
  module: number;
  kind: Kind;
  buf?: SramName;
  popPrev: boolean;
  popNext: boolean;
  pushPrev: boolean;
  pushNext: boolean;
  loop?: LoopInsn;
  /** DRAM byte ranges (rows) of a LOAD/STORE, and the SRAM element each row starts at. */
  segs?: Segment[];
  rowSram?: number[];
  /** Data beats of a LOAD/STORE's bursts (all of them, §10's busy share). */
  beats: number;
  /** Padding elements a LOAD zero-fills. */
  pad: number;
  /** Payload bytes (fsim counters). */
  bytes: number;
  illegal?: Illegal;
  label: string;
  /** Token queues it pops before it starts and pushes when it completes (indices into TOKEN_QUEUES). */
  popQ: number[];
  pushQ: number[];
}

function fieldOfDecodeError(msg: string): string {
  if (/^opcode/.test(msg)) return 'opcode';
  for (const f of ['memory_type', 'alu_opcode']) if (msg.includes(f)) return f;
  if (msg.includes('reserved bits')) return 'reserved';
  return 'opcode';
}

function flags(i: Insn): Pick<DInsn, 'popPrev' | 'popNext' | 'pushPrev' | 'pushNext'> {
  return { popPrev: !!i.pop_prev_dep, popNext: !!i.pop_next_dep, pushPrev: !!i.push_prev_dep, pushNext: !!i.push_next_dep };
}

export function predecode(d: Derived, bytes: Uint8Array, count: number, dramSize: number): DInsn[] {
  const out: DInsn[] = [];
  const tm = timingOf(d);
  for (let i = 0; i < count; i++) {
    const di = decodeOne(d, bytes, i, dramSize);
    if (di.segs) di.beats = countBeats(di.segs, tm.busBytes, tm.burstBeats).beats;
    if (di.module >= 0) {
      const r = tokenQueuesOf(MODULES[di.module], di);
      di.popQ = r.pops.map((n) => TOKEN_QUEUES.indexOf(n));
      di.pushQ = r.pushes.map((n) => TOKEN_QUEUES.indexOf(n));
    }
    out.push(di);
  }
  return out;
}

/**
 * The last decode of each instruction stream (by its bytes object), reused while the bytes, the
 * configuration and the DRAM size are the same: a program run many times with other data (a model
 * run image after image) decodes once. The bytes are compared with a copy, so a stream edited in
 * place is decoded again. Decoded instructions are never modified by a run.
 */
const decoded = new WeakMap<Uint8Array, { d: Derived; copy: Uint8Array; count: number; dramSize: number; insns: DInsn[] }>();

export function predecodeCached(d: Derived, bytes: Uint8Array, count: number, dramSize: number): DInsn[] {
  const hit = decoded.get(bytes);
  if (hit && hit.d === d && hit.count === count && hit.dramSize === dramSize && Buffer.compare(hit.copy, bytes) === 0) return hit.insns;
  const insns = predecode(d, bytes, count, dramSize);
  decoded.set(bytes, { d, copy: bytes.slice(), count, dramSize, insns });
  return insns;
}

function decodeOne(d: Derived, bytes: Uint8Array, index: number, dramSize: number): DInsn {
  let insn: Insn;
  try {
    insn = decodeInsn(d, bytes, index * INSN_BYTES);
  } catch (e) {
    const msg = (e as Error).message;
    return {
      index, module: -1, kind: 'nop', popPrev: false, popNext: false, pushPrev: false, pushNext: false, pad: 0, bytes: 0,
      illegal: { field: fieldOfDecodeError(msg), reason: msg }, label: 'ILLEGAL', popQ: [], pushQ: [], beats: 0,
    };
  }
  const base = { index, insn, ...flags(insn), pad: 0, bytes: 0, popQ: [] as number[], pushQ: [] as number[], beats: 0 };
  switch (insn.opcode) {
    case 'LOAD':
    case 'STORE':
      return decodeMem(d, insn, base, dramSize);
    case 'FINISH':
      return { ...base, module: MODULES.indexOf(moduleOf(insn)), kind: 'finish', label: 'FINISH' };
    case 'GEMM':
    case 'ALU':
      return decodeLoop(d, insn, base);
  }
}

type Base = Pick<DInsn, 'index' | 'insn' | 'popPrev' | 'popNext' | 'pushPrev' | 'pushNext' | 'pad' | 'bytes' | 'popQ' | 'pushQ' | 'beats'>;

function decodeMem(d: Derived, m: MemInsn, base: Base, dramSize: number): DInsn {
  const isStore = m.opcode === 'STORE';
  const type = m.memory_type;
  const module = MODULES.indexOf(moduleOf(m));
  const label = `${m.opcode} ${type}`;
  const r: DInsn = { ...base, module, kind: 'nop', label };
  const bad = (field: string, reason: string): DInsn => ({ ...r, illegal: { field, reason } });
  // Dependency flags the executing module has no queue for (vta-reference §3.2).
  if (module === LOAD) {
    if (m.pop_prev_dep) return bad('pop_prev_dep', 'the load module has no previous stage to pop a token from');
    if (m.push_prev_dep) return bad('push_prev_dep', 'the load module has no previous stage to push a token to');
  }
  if (module === STORE) {
    if (m.pop_next_dep) return bad('pop_next_dep', 'the store module has no next stage to pop a token from');
    if (m.push_next_dep) return bad('push_next_dep', 'the store module has no next stage to push a token to');
  }
  if (m.x_size === 0) return r; // dependency-only no-op (Part A.5)
  const buf = type.toLowerCase() as SramName | 'out';
  if (isStore) {
    if (type !== 'OUT') return bad('memory_type', `STORE reads only from OUT, not ${type}`);
    for (const p of ['y_pad_0', 'y_pad_1', 'x_pad_0', 'x_pad_1'] as const) {
      if (m[p] !== 0) return bad(p, 'STORE takes no padding');
    }
    const n = m.x_size * m.y_size;
    if (m.sram_base + n > d.depth.out) {
      return bad('sram_base', `STORE reads OUT elements ${m.sram_base}..${m.sram_base + n - 1}, past the OUT depth ${d.depth.out}`);
    }
  } else {
    if (type === 'OUT') return bad('memory_type', 'LOAD cannot write OUT (only GEMM and ALU write it)');
    if (type === 'UOP') {
      if (m.y_size !== 1) return bad('y_size', `a UOP load needs y_size = 1 (got ${m.y_size})`);
      for (const p of ['y_pad_0', 'y_pad_1', 'x_pad_0', 'x_pad_1'] as const) {
        if (m[p] !== 0) return bad(p, 'a UOP load takes no padding');
      }
    }
    const rows = m.y_pad_0 + m.y_size + m.y_pad_1;
    const w = m.x_pad_0 + m.x_size + m.x_pad_1;
    const depth = d.depth[buf as SramName];
    if (m.sram_base + rows * w > depth) {
      return bad(
        'sram_base',
        `LOAD ${type} writes elements ${m.sram_base}..${m.sram_base + rows * w - 1} (${w} x ${rows} with padding), past the ${type} depth ${depth}`,
      );
    }
  }
  const eb = d.elemBytes[buf];
  if (m.y_size > 0) {
    const endByte = (m.dram_base + (m.y_size - 1) * m.x_stride + m.x_size) * eb;
    if (endByte > dramSize) {
      return bad('dram_base', `${m.opcode} ${type} touches DRAM bytes up to 0x${endByte.toString(16)}, past the end of DRAM (0x${dramSize.toString(16)})`);
    }
  }
  const segs: Segment[] = [];
  const rowSram: number[] = [];
  const w = isStore ? m.x_size : m.x_pad_0 + m.x_size + m.x_pad_1;
  const s0 = isStore ? m.sram_base : m.sram_base + w * m.y_pad_0 + m.x_pad_0;
  for (let y = 0; y < m.y_size; y++) {
    segs.push({ addr: (m.dram_base + y * m.x_stride) * eb, len: m.x_size * eb });
    rowSram.push(s0 + y * w);
  }
  const total = (m.x_pad_0 + m.x_size + m.x_pad_1) * (m.y_pad_0 + m.y_size + m.y_pad_1);
  return {
    ...r,
    kind: isStore ? 'store' : 'load',
    buf: isStore ? undefined : (buf as SramName),
    segs,
    rowSram,
    pad: isStore ? 0 : total - m.x_size * m.y_size,
    bytes: m.x_size * m.y_size * eb,
  };
}

function decodeLoop(d: Derived, g: GemmInsn | AluInsn, base: Base): DInsn {
  const isAlu = g.opcode === 'ALU';
  const label = isAlu ? `ALU ${(g as AluInsn).alu_opcode}${(g as AluInsn).use_imm ? ' imm' : ''}` : g.reset_reg ? 'GEMM reset' : (g as GemmInsn).requant ? 'GEMM requant' : 'GEMM';
  const r: DInsn = { ...base, module: MODULES.indexOf(moduleOf(g)), kind: isAlu ? 'alu' : 'gemm', label };
  if (g.uop_end > d.depth.uop) {
    return { ...r, illegal: { field: 'uop_end', reason: `uop_end ${g.uop_end} is past the micro-op buffer depth ${d.depth.uop}` } };
  }
  let aluOp = 0;
  let useImm = false;
  let imm = 0;
  if (isAlu) {
    const a = g as AluInsn;
    aluOp = ALU_OPCODES[a.alu_opcode];
    const unavailable = aluOpUnavailable(a.alu_opcode, d);
    if (unavailable) return { ...r, illegal: { field: 'alu_opcode', reason: unavailable } };
    useImm = !!a.use_imm;
    imm = a.imm;
  }
  const gw = g as GemmInsn;
  r.loop = {
    reset: !isAlu && !!g.reset_reg,
    requant: !isAlu && !!gw.requant,
    uopBgn: g.uop_bgn,
    uopEnd: g.uop_end,
    iterOut: g.iter_out,
    iterIn: g.iter_in,
    dstOut: g.dst_factor_out,
    dstIn: g.dst_factor_in,
    srcOut: g.src_factor_out,
    srcIn: g.src_factor_in,
    wgtOut: isAlu ? 0 : gw.wgt_factor_out,
    wgtIn: isAlu ? 0 : gw.wgt_factor_in,
    aluOp,
    useImm,
    imm,
  };
  return r;
}
