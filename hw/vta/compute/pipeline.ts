/**
 * Compute stages 3 to 5, the micro-op pipeline after issue (docs/microarch.md §7.2): stage A
 * (t + 2) reads INP / WGT / ACC[dst]; B (t + 3) runs GEMM group 0, the ALU immediate op and its
 * write, and reads the ALU vector source; C (t + 4) the ALU vector op and its write; GEMM groups run
 * until t + 2 + II_G and write in t + 3 + II_G. As in tvm-vta's Chisel, the GEMM (TensorGemm) and
 * the ALU (TensorAlu) each have their stage; one write-back merges their writes (never two in a
 * cycle) with the read engine's LOAD ACC writes.
 */
import type { Derived } from '../../../src/config/derive.ts';
import {
  add, all, any, bitsFor, cat, catRev, eqc, inc, inst, inv, laneOf, lit, log2i, ltc, nonZero, pick, repeat, rz, sel, sext,
  type Expr, type Mb, type Module, type Signal,
} from '../../hdl/index.ts';
import { ALU_OPCODES, RQ_CLEAR_BIT, RQ_RELU_BIT } from '../../../src/isa/alu.ts';
import { shiftAmounts } from '../alu.ts';
import { dotWidth } from '../gemm.ts';
import { elemRead, elemWrite, type ComputeGeoms } from './common.ts';
import type { IssueUnit } from './issue.ts';

/** One pipeline stage's registers (the micro-op it carries). */
interface StageRegs {
  valid: Signal;
  alu: Signal;
  reset: Signal;
  useImm: Signal;
  op: Signal;
  imm: Signal;
  dst: Signal;
  last: Signal;
  tag: Signal;
}

export interface OperandStages {
  a: StageRegs & { src: Signal; wgt: Signal };
  /** `rq`: (GEMM_REQUANT) a GEMM with the requant bit; its `imm` then holds P. */
  b: StageRegs & { src: Signal; rq?: Signal };
  /** Stage C: the ALU vector op. */
  c: { valid: Signal; op: Signal; dst: Signal; last: Signal; tag: Signal; prm?: Signal };
  /** Stage B carries an ALU vector op / an ALU immediate op / a GEMM. */
  bVec: Signal;
  bImmOp: Signal;
  bGemm: Signal;
  accRen: Signal;
  accRaddr: Expr;
  /** Element read in stage A (ACC[dst], or in B the ALU vector source). */
  accData: Expr;
  inpData: Expr;
  wgtData: Expr;
  /** The accumulator value read in t + 2, held for the write. */
  accHold: Signal;
  /**
   * COMPUTE_DONE_REG (§22): next cycle's values of stage B's and C's `last` / `tag` (their
   * registers' inputs) and whether B then holds an ALU immediate op.
   */
  ahead: { bLast: Expr; bTag: Expr; cLast: Expr; cTag: Expr; bImmOp: Expr };
}

/** Stages A, B and C with the buffer reads; drives the INP and WGT read ports. */
export function operandStages(
  mb: Mb, d: Derived, g: ComputeGeoms, iss: IssueUnit, rd: { inp: Expr; wgt: Expr; acc: Expr },
): OperandStages {
  const ldA = g.acc.ld;
  const ldI = g.inp.ld;
  const ldW = g.wgt.ld;
  const ldS = Math.max(ldA, ldI);
  const lnf = iss.tag.width;
  const N = d.batch * d.blockOut;
  const AW = d.accWidth;

  const aV = mb.reg('a_valid', 1);
  const aAlu = mb.reg('a_alu', 1, null);
  const aReset = mb.reg('a_reset', 1, null);
  const aUseImm = mb.reg('a_use_imm', 1, null);
  const aOp = mb.reg('a_op', 3, null);
  const aImm = mb.reg('a_imm', 16, null);
  const aDst = mb.reg('a_dst', ldA, null);
  const aSrc = mb.reg('a_src', ldS, null);
  const aWgt = mb.reg('a_wgt', ldW, null);
  const aLast = mb.reg('a_last', 1, null);
  const aTag = mb.reg('a_tag', lnf, null);
  const issue = iss.issue;
  mb.next(aV, issue);
  mb.next(aAlu, iss.alu, issue);
  mb.next(aReset, iss.reset, issue);
  mb.next(aUseImm, iss.useImm, issue);
  mb.next(aOp, iss.aluOp, issue);
  mb.next(aImm, iss.imm, issue);
  mb.next(aDst, iss.dstIx, issue);
  mb.next(aSrc, iss.srcIx, issue);
  mb.next(aWgt, iss.wgtIx, issue);
  mb.next(aLast, iss.lastPos, issue);
  mb.next(aTag, iss.tag, issue);
  const aRq = iss.rq ? mb.reg('a_rq', 1, null) : undefined;
  if (aRq && iss.rq) mb.next(aRq, iss.rq, issue);

  const bV = mb.reg('b_valid', 1);
  const bAlu = mb.reg('b_alu', 1, null);
  const bReset = mb.reg('b_reset', 1, null);
  const bUseImm = mb.reg('b_use_imm', 1, null);
  const bOp = mb.reg('b_op', 3, null);
  const bImm = mb.reg('b_imm', 16, null);
  const bDst = mb.reg('b_dst', ldA, null);
  const bSrc = mb.reg('b_src', ldA, null);
  const bLast = mb.reg('b_last', 1, null);
  const bTag = mb.reg('b_tag', lnf, null);
  mb.next(bV, aV);
  mb.next(bAlu, aAlu, aV);
  mb.next(bReset, aReset, aV);
  mb.next(bUseImm, aUseImm, aV);
  mb.next(bOp, aOp, aV);
  mb.next(bImm, aImm, aV);
  mb.next(bDst, aDst, aV);
  mb.next(bSrc, rz(aSrc, ldA), aV);
  mb.next(bLast, aLast, aV);
  mb.next(bTag, aTag, aV);
  const bRq = aRq ? mb.reg('b_rq', 1, null) : undefined;
  if (bRq && aRq) mb.next(bRq, aRq, aV);

  const aGemmRead = all(aV, inv(aAlu), inv(aReset));
  const aAccRead = all(aV, any(aAlu, inv(aReset)));
  const bVec = mb.w('b_vec', all(bV, bAlu, inv(bUseImm)));
  const bImmOp = mb.w('b_imm_op', all(bV, bAlu, bUseImm));
  const bGemm = mb.w('b_gemm', all(bV, inv(bAlu)));
  const accRen = mb.w('acc_ren_c', any(aAccRead, bVec));
  const accIdx = sel(bVec, bSrc, aDst);
  const accR = elemRead(mb, g.acc, 'accr', accRen, accIdx, rd.acc);
  const inpR = elemRead(mb, g.inp, 'inpr', aGemmRead, rz(aSrc, ldI), rd.inp);
  const wgtR = elemRead(mb, g.wgt, 'wgtr', aGemmRead, aWgt, rd.wgt);
  mb.output('inp_ren', aGemmRead);
  mb.output('inp_raddr', inpR.raddr);
  mb.output('wgt_ren', aGemmRead);
  mb.output('wgt_raddr', wgtR.raddr);

  const accHold = mb.reg('acc_hold', AW * N, null);
  mb.next(accHold, accR.data, bV);

  // stage C (ALU vector)
  const cV = mb.reg('c_valid', 1);
  const cOp = mb.reg('c_op', 3, null);
  const cDst = mb.reg('c_dst', ldA, null);
  const cLast = mb.reg('c_last', 1, null);
  const cTagQ = mb.reg('c_tag', lnf, null);
  mb.next(cV, bVec);
  mb.next(cOp, bOp, bVec);
  mb.next(cDst, bDst, bVec);
  mb.next(cLast, bLast, bVec);
  mb.next(cTagQ, bTag, bVec);
  // RQ's parameter word (the vector form's immediate) for its op in stage C
  const cPrm = d.aluRequant ? mb.reg('c_prm', RQ_CLEAR_BIT + 1, null) : undefined;
  if (cPrm) mb.next(cPrm, bImm.slice(RQ_CLEAR_BIT, 0), bVec);

  return {
    a: { valid: aV, alu: aAlu, reset: aReset, useImm: aUseImm, op: aOp, imm: aImm, dst: aDst, src: aSrc, wgt: aWgt, last: aLast, tag: aTag },
    b: { valid: bV, alu: bAlu, reset: bReset, useImm: bUseImm, op: bOp, imm: bImm, dst: bDst, src: bSrc, last: bLast, tag: bTag, ...(bRq ? { rq: bRq } : {}) },
    c: { valid: cV, op: cOp, dst: cDst, last: cLast, tag: cTagQ, ...(cPrm ? { prm: cPrm } : {}) },
    bVec, bImmOp, bGemm, accRen, accRaddr: accR.raddr, accData: accR.data, inpData: inpR.data, wgtData: wgtR.data, accHold,
    ahead: {
      bLast: sel(aV, aLast, bLast), bTag: sel(aV, aTag, bTag), cLast: sel(bVec, bLast, cLast), cTag: sel(bVec, bTag, cTagQ),
      bImmOp: all(aV, aAlu, aUseImm),
    },
  };
}

export interface GemmStage {
  /** The GEMM's write is this cycle (t + 3 + II_G), of `dst`, `last`, `tag`; `reset`: a reset GEMM (writes zero, not to OUT). */
  write: Signal;
  dst: Signal;
  reset: Signal;
  last: Signal;
  tag: Signal;
  /** The values written: accumulator + dot product per lane (zero for a reset). */
  value: Expr;
  /** GEMM_REQUANT: the write is requantized (requant bit, not a reset) with parameter word `prm` (P). */
  rq?: { on: Expr; prm: Signal };
  /** COMPUTE_DONE_REG (§22): the GEMM writes next cycle, of `last` / `tag`. */
  ahead: { write: Expr; last: Expr; tag: Expr };
}

/** The GEMM: group g of a micro-op in cycle t + 3 + g on the `gemm` array, its write when the phase reaches II_G. */
export function gemmStage(mb: Mb, d: Derived, p: OperandStages, gemm: Module): GemmStage {
  const II_G = d.gemmII;
  const N = d.batch * d.blockOut;
  const AW = d.accWidth;
  const gpw = bitsFor(II_G);
  const gph = mb.reg('g_phase', gpw);
  const gDst = mb.reg('g_dst', p.b.dst.width, null);
  const gReset = mb.reg('g_reset', 1, null);
  const gLast = mb.reg('g_last', 1, null);
  const gTag = mb.reg('g_tag', p.b.tag.width, null);
  const bGemm = p.bGemm;
  const inGroups = all(nonZero(gph), ltc(gph, II_G));
  const gphNext = sel(bGemm, rz(lit(1, 1), gpw), sel(inGroups, inc(gph), lit(gpw, 0)));
  mb.next(gph, gphNext);
  mb.next(gDst, p.b.dst, bGemm);
  mb.next(gReset, p.b.reset, bGemm);
  mb.next(gLast, p.b.last, bGemm);
  mb.next(gTag, p.b.tag, bGemm);
  const gselW = Math.max(1, log2i(II_G));
  const gsel = sel(bGemm, lit(gselW, 0), rz(gph, gselW));
  const gEn = any(all(bGemm, inv(p.b.reset)), all(inGroups, inv(gReset)));
  const gm = inst(mb, gemm, 'u_gemm', { inp: p.inpData, wgt: p.wgtData, gsel, en: gEn });
  const write = mb.w('g_write', eqc(gph, II_G));
  const dw = dotWidth(d);
  const lanes: Expr[] = [];
  for (let l = 0; l < N; l++) {
    const acc = laneOf(p.accHold, l, AW);
    const dot = laneOf(gm.dots, l, dw);
    lanes.push(sel(gReset, lit(AW, 0), add(acc, dw === AW ? dot : sext(dot, AW))));
  }
  let rq: GemmStage['rq'];
  if (p.b.rq) {
    const gRq = mb.reg('g_rq', 1, null);
    const gPrm = mb.reg('g_prm', RQ_CLEAR_BIT + 1, null);
    mb.next(gRq, p.b.rq, bGemm);
    mb.next(gPrm, p.b.imm.slice(RQ_CLEAR_BIT, 0), bGemm);
    rq = { on: mb.w('g_rq_wb', all(write, gRq, inv(gReset))), prm: gPrm };
  }
  const ahead = { write: eqc(gphNext, II_G), last: sel(bGemm, p.b.last, gLast), tag: sel(bGemm, p.b.tag, gTag) };
  return { write, dst: gDst, reset: gReset, last: gLast, tag: gTag, value: catRev(lanes), ...(rq ? { rq } : {}), ahead };
}

/** The tensor ALU's inputs: opcode, operands and (ALU_REQUANT) RQ's parameter word p[6:0] and form. */
interface AluInputs {
  op: Expr;
  x: Expr;
  y: Expr;
  prm?: Expr;
  vec?: Expr;
}

/**
 * The `alu` module's ports, and RQ's ACC clear (p[6]) of the op it computes. ALU_WRITE_REG
 * (docs/microarch.md §22): the inputs pass a register (`alu_in_*_q`), so the ALU computes in the
 * cycle after its operands are read and selected, and its result goes to the write of that cycle.
 */
function aluPorts(mb: Mb, d: Derived, v: AluInputs): { ports: Record<string, Expr>; clear?: Expr } {
  const q = (name: string, e: Expr): Expr => {
    if (!d.aluWriteReg) return e;
    const r = mb.reg(`alu_in_${name}_q`, e.width, null);
    mb.next(r, e);
    return r;
  };
  const op = q('op', v.op);
  const ports: Record<string, Expr> = { op, x: q('x', v.x), y: q('y', v.y) };
  if (d.aluWriteReg) {
    // SHR's (and RQ's) shift amounts, ahead of the register too (the ALU takes them as sh_neg / sh_amt)
    const AW = d.accWidth;
    const ys = Array.from({ length: v.y.width / AW }, (_, i) => laneOf(v.y, i, AW));
    const rq = v.prm ? { is: eqc(v.op, ALU_OPCODES.RQ), prm: v.prm } : undefined;
    const amts = shiftAmounts(mb, AW, ys, rq, (i) => `alu_amt${i}`);
    ports.sh_neg = q('sh_neg', catRev(amts.map((a) => a.neg)));
    ports.sh_amt = q('sh_amt', catRev(amts.map((a) => a.amt)));
  }
  if (!v.prm || !v.vec) return { ports };
  const prm = q('prm', v.prm);
  ports.prm = prm.slice(RQ_RELU_BIT, 0);
  ports.vec = q('vec', v.vec);
  return { ports, clear: mb.w('alu_rq_clear', all(eqc(op, ALU_OPCODES.RQ), prm.bit(RQ_CLEAR_BIT))) };
}

/**
 * The ALU: an immediate op in stage B (ACC[dst] op imm), a vector op in stage C (the held ACC[dst]
 * op the ACC[src] read in B), on the `alu` module; returns its result. GEMM_REQUANT: in a GEMM's
 * requantized write cycle (no ALU op writes then) the ALU runs RQ (immediate form, parameter
 * word P) on the GEMM's sums instead.
 */
export function aluStage(mb: Mb, d: Derived, p: OperandStages, alu: Module, gs?: GemmStage): AluResult {
  if (d.aluII > 1) return aluGroupStage(mb, d, p, alu);
  const N = d.batch * d.blockOut;
  const AW = d.accWidth;
  const immVec = (imm: Expr) => repeat(N, AW <= 16 ? imm.slice(AW - 1, 0) : sext(imm, AW));
  const gq = gs?.rq;
  const aluOp = sel(p.bImmOp, p.b.op, p.c.op);
  const op = gq ? sel(gq.on, lit(3, ALU_OPCODES.RQ), aluOp) : aluOp;
  const aluX = sel(p.bImmOp, p.accData, p.accHold);
  const v: AluInputs = {
    op,
    x: gq && gs ? sel(gq.on, gs.value, aluX) : aluX,
    y: sel(p.bImmOp, immVec(p.b.imm), p.accData),
  };
  if (p.c.prm) {
    // RQ: the parameter word is the immediate (both forms carry it); p[6] clears ACC
    const aluPrm = sel(p.bImmOp, p.b.imm.slice(RQ_CLEAR_BIT, 0), p.c.prm);
    v.prm = gq ? sel(gq.on, gq.prm, aluPrm) : aluPrm;
    v.vec = gq ? all(inv(gq.on), inv(p.bImmOp)) : inv(p.bImmOp);
  }
  const { ports, clear } = aluPorts(mb, d, v);
  const r = inst(mb, alu, 'u_alu', ports);
  return { value: r.r, ...(clear ? { clear } : {}), ...(gq ? { gemmRq: gq.on } : {}) };
}

/**
 * ALU_II = n > 1: the `alu` module has N / n lanes and runs lane group g of a micro-op in its
 * (g+1)-th cycle: an immediate op from stage B (t + 3 .. t + 2 + n), a vector op from stage C
 * (t + 4 .. t + 3 + n). Nothing is re-read: the ACC read register keeps ACC[dst] (immediate) or
 * ACC[src] (vector), and `acc_hold` the vector op's ACC[dst], until the next micro-op's read, which
 * the II (n, n + 1) puts after the last group; stages B and C keep the op, immediate, dst, last and
 * tag as long. Groups 0 .. n-2 shift into a result register; the last group's cycle writes them
 * with it (the write cycle t + 2 + II of §7.1). GEMM_REQUANT is refused with ALU_II > 1 (config).
 */
function aluGroupStage(mb: Mb, d: Derived, p: OperandStages, alu: Module): AluResult {
  const n = d.aluII;
  const AW = d.accWidth;
  const G = (d.batch * d.blockOut) / n;
  const gw = G * AW;
  const pw = log2i(n);
  // phase: the group of the micro-op in progress after its first (0: none in progress)
  const first = mb.w('alu_first', any(p.bImmOp, p.c.valid));
  const ph = mb.reg('alu_phase', pw);
  const more = nonZero(ph);
  const phNext = sel(first, rz(lit(1, 1), pw), sel(all(more, ltc(ph, n - 1)), inc(ph), lit(pw, 0)));
  mb.next(ph, phNext);
  const vecQ = mb.reg('alu_vec_q', 1, null);
  mb.next(vecQ, p.c.valid, first);
  // COMPUTE_DONE_REG: next cycle's write and operand stage (alu_write and alu_imm_sel a cycle ahead)
  const ahead = { write: eqc(phNext, n - 1), imm: any(p.ahead.bImmOp, all(nonZero(phNext), inv(sel(first, p.c.valid, vecQ)))) };
  // the op in progress is an immediate one (its operands in stage B), else a vector one (stage C)
  const imm = mb.w('alu_imm_sel', any(p.bImmOp, all(more, inv(vecQ))));
  const group = (v: Expr) => pick(ph, Array.from({ length: n }, (_, g) => v.slice((g + 1) * gw - 1, g * gw)));
  const immLane = AW <= 16 ? p.b.imm.slice(AW - 1, 0) : sext(p.b.imm, AW);
  const v: AluInputs = {
    op: sel(imm, p.b.op, p.c.op),
    x: sel(imm, group(p.accData), group(p.accHold)),
    y: sel(imm, repeat(G, immLane), group(p.accData)),
  };
  if (p.c.prm) {
    v.prm = sel(imm, p.b.imm.slice(RQ_CLEAR_BIT, 0), p.c.prm);
    v.vec = inv(imm);
  }
  const { ports, clear } = aluPorts(mb, d, v);
  const r = inst(mb, alu, 'u_alu', ports);
  // groups 0 .. n-2 of this micro-op, group 0 lowest (shifted in every cycle: the last n-1 cycles')
  const res = mb.reg('alu_res_q', (n - 1) * gw, null);
  mb.next(res, n === 2 ? r.r : cat(r.r, res.slice((n - 1) * gw - 1, gw)));
  return { value: cat(r.r, res), write: mb.w('alu_write', eqc(ph, n - 1)), imm, ...(clear ? { clear } : {}), ahead };
}

/**
 * The ALU's result; `write` and `imm` (ALU_II > 1): the ALU writes this cycle, of the op in stage B
 * (`imm`) or C (else); without them it writes in stage B's immediate op and C's vector op; `clear`: (ALU_REQUANT) an RQ with p[6] writes zero to ACC (OUT still gets the
 * value); `gemmRq`: (GEMM_REQUANT) this cycle's GEMM write takes the ALU's result.
 */
export interface AluResult {
  value: Expr;
  write?: Expr;
  imm?: Expr;
  /** (ALU_II > 1) `write` and `imm` of the next cycle, for COMPUTE_DONE_REG. */
  ahead?: { write: Expr; imm: Expr };
  clear?: Expr;
  gemmRq?: Expr;
}

export interface WriteBack {
  /** A micro-op writes ACC this cycle; `last` / `tag`: it is its instruction's last, and the instruction's slot. */
  valid: Signal;
  last: Signal;
  tag: Signal;
  /** COMPUTE_DONE_REG (§22): `last` and `tag` of next cycle's write, from this cycle's pipeline registers' inputs. */
  ahead?: { last: Expr; tag: Expr };
}

/**
 * The write port: GEMM (t + 3 + II_G), ALU immediate (t + 3), ALU vector (t + 4), never two in one
 * cycle; ACC and (narrowed) OUT are written, except OUT for a reset GEMM. The read engine's LOAD
 * ACC writes (`dma_acc_*` inputs) share the ACC write port (never in the same cycle). Drives the
 * OUT and ACC write ports.
 */
export function writeBack(mb: Mb, d: Derived, g: ComputeGeoms, p: OperandStages, gs: GemmStage, alu: AluResult): WriteBack {
  const aluResult = alu.value;
  const N = d.batch * d.blockOut;
  const AW = d.accWidth;
  const aluW = alu.write ?? any(p.bImmOp, p.c.valid);
  const aluB = alu.imm ?? p.bImmOp;
  // the ALU's write: this cycle's (its metadata in stage B or C), or with ALU_WRITE_REG (§22) the
  // one selected a cycle ago, held in alu_wr_* beside the ALU's input register
  const aluNow = {
    write: aluW, dst: sel(aluB, p.b.dst, p.c.dst), last: sel(aluB, p.b.last, p.c.last), tag: sel(aluB, p.b.tag, p.c.tag),
  };
  let aluWr = aluNow;
  if (d.aluWriteReg) {
    const q = (name: string, e: Expr, init: number | null = null) => {
      const r = mb.reg(`alu_wr_${name}`, e.width, init);
      mb.next(r, e);
      return r;
    };
    aluWr = { write: q('valid', aluNow.write, 0), dst: q('dst', aluNow.dst), last: q('last', aluNow.last), tag: q('tag', aluNow.tag) };
  }
  const wrValid = mb.w('wr_valid', any(gs.write, aluWr.write));
  const wrDst = sel(gs.write, gs.dst, aluWr.dst);
  const wrVal = mb.w('wr_value', alu.gemmRq ? sel(all(gs.write, inv(alu.gemmRq)), gs.value, aluResult) : sel(gs.write, gs.value, aluResult));
  const wrOut = all(wrValid, inv(all(gs.write, gs.reset)));
  const wrLast = mb.w('wr_last', all(wrValid, sel(gs.write, gs.last, aluWr.last)));
  const wrTag = mb.w('wr_tag', sel(gs.write, gs.tag, aluWr.tag));
  let ahead: WriteBack['ahead'];
  if (d.computeDoneReg) {
    // COMPUTE_DONE_REG: the same selection one cycle ahead, from the registers' inputs
    let a: { write: Expr; last: Expr; tag: Expr };
    if (d.aluWriteReg) a = aluNow;
    else {
      const imm = alu.ahead ? alu.ahead.imm : p.ahead.bImmOp;
      const write = alu.ahead ? alu.ahead.write : any(p.ahead.bImmOp, p.bVec);
      a = { write, last: sel(imm, p.ahead.bLast, p.ahead.cLast), tag: sel(imm, p.ahead.bTag, p.ahead.cTag) };
    }
    const gA = gs.ahead;
    ahead = { last: sel(gA.write, gA.last, all(a.write, a.last)), tag: sel(gA.write, gA.tag, a.tag) };
  }
  const outVal = catRev(Array.from({ length: N }, (_, l) => laneOf(wrVal, l, AW).slice(d.outWidth - 1, 0)));
  const ow = elemWrite(g.out, wrOut, wrDst, outVal);
  mb.output('out_we', ow.we);
  mb.output('out_waddr', ow.waddr);
  mb.output('out_wdata', ow.wdata);
  const clearOk = alu.gemmRq ? any(inv(gs.write), alu.gemmRq) : inv(gs.write);
  const accVal = alu.clear ? sel(all(clearOk, alu.clear), lit(wrVal.width, 0), wrVal) : wrVal;
  const aw = elemWrite(g.acc, wrValid, wrDst, accVal);
  const engAcc = { we: mb.input('dma_acc_we', aw.we.width), waddr: mb.input('dma_acc_waddr', aw.waddr.width), wdata: mb.input('dma_acc_wdata', aw.wdata.width) };
  mb.output('acc_we', any(aw.we, engAcc.we));
  mb.output('acc_waddr', sel(nonZero(engAcc.we), engAcc.waddr, aw.waddr));
  mb.output('acc_wdata', sel(nonZero(engAcc.we), engAcc.wdata, aw.wdata));
  return { valid: wrValid, last: wrLast, tag: wrTag, ...(ahead ? { ahead } : {}) };
}
