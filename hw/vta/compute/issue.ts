/**
 * Compute stage 2, micro-op fetch and loop counters (the issue unit of docs/microarch.md §7.2; in
 * tvm-vta's Chisel the uop fetch and loop nest of TensorGemm / TensorAlu): the state of the GEMM/ALU
 * instruction being issued, the micro-op read from the UOP SRAM a cycle before it is decided, its
 * ACC / INP / WGT indices with the loop offsets and the §9.1 index checks, and the timing rules
 * (II, write order, read-after-write hazards on the last two writes) that decide `issue`. With
 * UOP_ISSUE_REG (docs/microarch.md §20) the indices pass registers (the issue stage) first.
 */
import type { Derived } from '../../../src/config/derive.ts';
import {
  all, any, bitsFor, c, dec, eq, eqc, gec, inc, inv, isZero, lit, rz, satDec, sel, uge, ult, addw,
  type Expr, type Mb, type Signal,
} from '../../hdl/index.ts';
import { ALU_OPCODES, RQ_CLEAR_BIT } from '../../../src/isa/alu.ts';
import { aluInterval, aluWriteOffset, timingOf } from '../../../src/uarch/index.ts';
import { entryLayout } from '../insn.ts';
import { ERROR_CODE_BITS, errorCode } from '../regs.ts';
import { elemRead, satAdd, type ComputeGeoms } from './common.ts';
import type { Head } from './decode.ts';

export interface IssueUnit {
  /** A micro-op is pending (the instruction has micro-ops left to issue). */
  pend: Signal;
  /** The instruction's kind and operands, held while it issues. */
  alu: Signal;
  reset: Signal;
  aluOp: Signal;
  useImm: Signal;
  /** ALU: the immediate; GEMM (GEMM_REQUANT): the RQ parameter register P in its low bits. */
  imm: Signal;
  /** GEMM_REQUANT: the GEMM's requant bit. */
  rq?: Signal;
  /** Its in-flight list slot and instruction index (for errors). */
  tag: Signal;
  index: Signal;
  /** The pending micro-op's element indices (loop offsets added). */
  dstIx: Signal;
  srcIx: Signal;
  wgtIx: Signal;
  /** Unsliced index sums (their high bits only feed the checks). */
  dstFull: Signal;
  srcFull: Signal;
  wgtFull: Signal;
  /** The pending micro-op fails an index check (an error; it never issues). */
  oob: Signal;
  errCode: Expr;
  /** The pending micro-op issues this cycle. */
  issue: Signal;
  /** It is the instruction's last. */
  lastPos: Signal;
  /** The issue stage can take the next GEMM/ALU in this cycle's start decision. */
  issueFree: Signal;
  /** The UOP SRAM read. */
  uopRen: Signal;
  uopRaddr: Expr;
  uopData: Expr;
  /**
   * Load the loop state of a starting GEMM/ALU (`startPipeU`) into `tag`, and advance it on each
   * issue; `start`: any instruction starts (GEMM_REQUANT: an ALU RQ sets P, with micro-ops or not).
   */
  accept(h: Head, startPipeU: Expr, tailSlot: Expr, start: Expr): void;
}

/**
 * The issue unit. `run`: the core runs; `uopRdata`: the UOP SRAM's read data; `tagBits`: width of
 * an in-flight list slot number.
 */
export function issueUnit(mb: Mb, d: Derived, g: ComputeGeoms, run: Expr, uopRdata: Expr, tagBits: number): IssueUnit {
  const II_G = d.gemmII;
  const ldU = g.uop.ld;
  const ldA = g.acc.ld;
  const ldW = g.wgt.ld;
  const ldS = Math.max(ldA, g.inp.ld);
  const el = entryLayout(d);

  const pend = mb.reg('is_pend', 1);
  const cAlu = mb.reg('is_alu', 1, null);
  const cReset = mb.reg('is_reset', 1, null);
  const cAluOp = mb.reg('is_alu_op', 3, null);
  const cUseImm = mb.reg('is_use_imm', 1, null);
  const cImm = mb.reg('is_imm', 16, null);
  // GEMM_REQUANT: the GEMM's requant bit, and the RQ parameter register P (p[6:0], reset 0)
  const cRq = d.gemmRequant ? mb.reg('is_rq', 1, null) : undefined;
  const rqP = d.gemmRequant ? mb.reg('rq_p', RQ_CLEAR_BIT + 1) : undefined;
  const cBgn = mb.reg('is_uop_bgn', ldU, null);
  const cEnd = mb.reg('is_uop_end', ldU + 1, null);
  const cIterOut = mb.reg('is_iter_out', 14, null);
  const cIterIn = mb.reg('is_iter_in', 14, null);
  const cDfo = mb.reg('is_dst_fo', ldA, null);
  const cDfi = mb.reg('is_dst_fi', ldA, null);
  const cSfo = mb.reg('is_src_fo', ldS, null);
  const cSfi = mb.reg('is_src_fi', ldS, null);
  const cWfo = mb.reg('is_wgt_fo', ldW, null);
  const cWfi = mb.reg('is_wgt_fi', ldW, null);
  const cTag = mb.reg('is_tag', tagBits, null);
  const cIndex = mb.reg('is_index', el.indexBits, null);
  const u = mb.reg('is_u', ldU, null);
  const iIn = mb.reg('is_i_in', 14, null);
  const iOut = mb.reg('is_i_out', 14, null);
  const offD = [mb.reg('is_off_d_out', ldA + 1, null), mb.reg('is_off_d_in', ldA + 1, null)];
  const offS = [mb.reg('is_off_s_out', ldS + 1, null), mb.reg('is_off_s_in', ldS + 1, null)];
  const offW = [mb.reg('is_off_w_out', ldW + 1, null), mb.reg('is_off_w_in', ldW + 1, null)];
  const II_A = d.aluII; // ALU: II_A cycles with an immediate, II_A + 1 with a vector operand
  const awd = timingOf(d).aluWriteDelay; // ALU_WRITE_REG (§22): the ALU writes a cycle later
  const maxWOff = Math.max(3 + II_G, aluWriteOffset(II_A, false, awd));
  const rw = bitsFor(maxWOff);
  const a1 = mb.reg('hz_a1', ldA, null);
  const a2 = mb.reg('hz_a2', ldA, null);
  const rem1 = mb.reg('hz_rem1', rw);
  const rem2 = mb.reg('hz_rem2', rw);
  const iiw = bitsFor(Math.max(II_G, aluInterval(II_A, false)));
  const wait = mb.reg('is_wait', iiw);

  // micro-op under decision (read in an earlier cycle)
  const uopRen = mb.wireLater('uop_ren_c', 1);
  const uopRaddr = mb.wireLater('uop_idx', ldU);
  const ur = elemRead(mb, g.uop, 'uop', uopRen, uopRaddr, uopRdata);
  const uf = d.layout.uop.byName;
  const fld = (n: string) => ur.data.slice(uf[n].lsb + uf[n].width - 1, uf[n].lsb);
  const uDst = fld('dst_idx');
  const uSrc = fld('src_idx');
  const uWgt = fld('wgt_idx');
  const dstFull = mb.w('ix_dst_full', addw(addw(uDst, offD[0], ldA + 2), offD[1], ldA + 2));
  const srcFull = mb.w('ix_src_full', addw(addw(uSrc, offS[0], ldS + 2), offS[1], ldS + 2));
  const wgtFull = mb.w('ix_wgt_full', addw(addw(uWgt, offW[0], ldW + 2), offW[1], ldW + 2));
  const dstIx = mb.w('ix_dst', dstFull.slice(ldA - 1, 0));
  const srcIx = mb.w('ix_src', srcFull.slice(ldS - 1, 0));
  const wgtIx = mb.w('ix_wgt', wgtFull.slice(ldW - 1, 0));
  const isGemmC = inv(cAlu);
  const vecC = all(cAlu, inv(cUseImm));
  const oobDst = gec(dstFull, d.depth.acc);
  const oobSrc = all(any(isGemmC, vecC), uge(srcFull, sel(cAlu, c(ldS + 2, d.depth.acc), c(ldS + 2, d.depth.inp))));
  const oobWgt = all(isGemmC, inv(cReset), gec(wgtFull, d.depth.wgt));
  const oob = mb.w('ix_oob', all(pend, run, any(oobDst, oobSrc, oobWgt)));
  const errCode = sel(oobDst, c(ERROR_CODE_BITS, errorCode('dst_idx')), sel(oobSrc, c(ERROR_CODE_BITS, errorCode('src_idx')), c(ERROR_CODE_BITS, errorCode('wgt_idx'))));

  // UOP_ISSUE_REG (docs/microarch.md §20): the index stage's micro-op (the one read above, at the loop
  // position below) passes to the issue stage's registers, where the timing rules decide it; without
  // the key the timing rules decide the index stage's micro-op itself
  const ir = d.uopIssueReg ? {
    v: mb.reg('id_valid', 1),
    alu: mb.reg('id_alu', 1, null), reset: mb.reg('id_reset', 1, null), aluOp: mb.reg('id_alu_op', 3, null),
    useImm: mb.reg('id_use_imm', 1, null), imm: mb.reg('id_imm', 16, null), rq: cRq ? mb.reg('id_rq', 1, null) : undefined,
    tag: mb.reg('id_tag', tagBits, null), dst: mb.reg('id_dst', ldA, null), src: mb.reg('id_src', ldS, null),
    wgt: mb.reg('id_wgt', ldW, null), last: mb.reg('id_last', 1, null),
  } : undefined;
  const sAlu = ir?.alu ?? cAlu;
  const sUseImm = ir?.useImm ?? cUseImm;
  const sDst = ir?.dst ?? dstIx;

  // timing rules
  const aluImm = aluInterval(II_A, true);
  const aluVec = aluInterval(II_A, false);
  const wOff = sel(sAlu, sel(sUseImm, c(rw, aluWriteOffset(II_A, true, awd)), c(rw, aluWriteOffset(II_A, false, awd))), c(rw, 3 + II_G));
  const iiM1 = sel(sAlu, sel(sUseImm, c(iiw, aluImm - 1), c(iiw, aluVec - 1)), c(iiw, II_G - 1));
  const okWp = ult(rem1, wOff);
  const dstReads = any(sAlu, inv(ir?.reset ?? cReset));
  const srcL = rz(ir?.src ?? srcIx, ldA);
  const hz = any(
    all(dstReads, any(all(eq(sDst, a1), gec(rem1, 2)), all(eq(sDst, a2), gec(rem2, 2)))),
    all(ir ? all(sAlu, inv(sUseImm)) : vecC, any(all(eq(srcL, a1), gec(rem1, 3)), all(eq(srcL, a2), gec(rem2, 3)))),
  );
  // (with the key an out-of-range micro-op never issues: its error, raised in the index stage, stops the run)
  const issue = mb.w('issue', ir ? all(run, ir.v, isZero(wait), okWp, inv(hz)) : all(run, pend, isZero(wait), okWp, inv(hz), inv(oob)));
  const uNext = inc(rz(u, ldU + 1));
  const uWrap = mb.w('is_u_wrap', eq(uNext, cEnd));
  const iInNext = inc(iIn);
  const inWrap = mb.w('is_in_wrap', eq(iInNext, cIterIn));
  const outWrap = eq(inc(iOut), cIterOut);
  const lastPos = mb.w('is_last', all(uWrap, inWrap, outWrap));
  // the index stage's micro-op advances: it issues (no key), or passes to a free issue stage
  const adv = ir ? mb.w('id_move', all(pend, any(inv(ir.v), issue))) : issue;
  const waitNext = mb.w('is_wait_next', sel(issue, iiM1, satDec(wait)));
  // the next GEMM/ALU can start: no micro-op left after this cycle's decision and its II elapsed, or
  // with the key the index stage empty (registers only; the issue stage may still hold a micro-op)
  const issueFree = ir ? mb.w('issue_free', inv(pend)) : mb.w('issue_free', all(inv(all(pend, inv(all(issue, lastPos)))), isZero(waitNext)));

  const accept = (h: Head, startPipeU: Expr, tailSlot: Expr, start: Expr): void => {
    const G = (n: string) => h.fields.gemm(n);
    const A = (n: string) => h.fields.alu(n);
    const immIn = A('imm');
    mb.next(cAlu, h.isAlu, startPipeU);
    mb.next(cReset, all(h.isGemm, G('reset_reg')), startPipeU);
    mb.next(cAluOp, A('alu_opcode'), startPipeU);
    mb.next(cUseImm, A('use_imm'), startPipeU);
    if (cRq && rqP) {
      // an ALU RQ sets P when it starts; a GEMM carries P in the immediate's place
      mb.next(rqP, immIn.slice(RQ_CLEAR_BIT, 0), all(start, h.isAlu, eqc(A('alu_opcode'), ALU_OPCODES.RQ)));
      mb.next(cRq, all(h.isGemm, G('requant')), startPipeU);
      mb.next(cImm, sel(h.isAlu, immIn, rz(rqP, 16)), startPipeU);
    } else {
      mb.next(cImm, immIn, startPipeU);
    }
    mb.next(cBgn, h.uopBgn, startPipeU);
    mb.next(cEnd, h.uopEnd, startPipeU);
    mb.next(cIterOut, h.iterOut, startPipeU);
    mb.next(cIterIn, h.iterIn, startPipeU);
    mb.next(cDfo, G('dst_factor_out'), startPipeU);
    mb.next(cDfi, G('dst_factor_in'), startPipeU);
    mb.next(cSfo, sel(h.isAlu, rz(A('src_factor_out'), ldS), rz(G('src_factor_out'), ldS)), startPipeU);
    mb.next(cSfi, sel(h.isAlu, rz(A('src_factor_in'), ldS), rz(G('src_factor_in'), ldS)), startPipeU);
    mb.next(cWfo, sel(h.isAlu, lit(ldW, 0), G('wgt_factor_out')), startPipeU);
    mb.next(cWfi, sel(h.isAlu, lit(ldW, 0), G('wgt_factor_in')), startPipeU);
    mb.next(cIndex, h.entry.index, startPipeU);
    mb.next(cTag, tailSlot, startPipeU);
    // advance of the loop position when the pending micro-op advances
    const innerStep = all(uWrap, inv(inWrap));
    const outerStep = all(uWrap, inWrap);
    mb.next(u, sel(startPipeU, h.uopBgn, sel(uWrap, cBgn, rz(uNext, ldU))), any(startPipeU, adv));
    mb.next(iIn, sel(any(startPipeU, outerStep), lit(14, 0), sel(uWrap, iInNext, iIn)), any(startPipeU, adv));
    mb.next(iOut, sel(startPipeU, lit(14, 0), sel(outerStep, inc(iOut), iOut)), any(startPipeU, adv));
    const offNext = (off: Signal[], fo: Expr, fi: Expr) => {
      mb.next(off[0], sel(startPipeU, lit(off[0].width, 0), sel(outerStep, satAdd(off[0], fo), off[0])), any(startPipeU, adv));
      mb.next(off[1], sel(any(startPipeU, outerStep), lit(off[1].width, 0), sel(innerStep, satAdd(off[1], fi), off[1])), any(startPipeU, adv));
    };
    offNext(offD, cDfo, cDfi);
    offNext(offS, cSfo, cSfi);
    offNext(offW, cWfo, cWfi);
    mb.next(pend, any(startPipeU, all(pend, inv(all(adv, lastPos)))));
    mb.drive(uopRen, any(startPipeU, all(adv, inv(lastPos))));
    if (ir) {
      mb.next(ir.v, any(adv, all(ir.v, inv(issue))));
      for (const [q, x] of [[ir.alu, cAlu], [ir.reset, cReset], [ir.aluOp, cAluOp], [ir.useImm, cUseImm], [ir.imm, cImm], [ir.tag, cTag], [ir.dst, dstIx], [ir.src, srcIx], [ir.wgt, wgtIx], [ir.last, lastPos]] as const) {
        mb.next(q, x, adv);
      }
      if (ir.rq && cRq) mb.next(ir.rq, cRq, adv);
    }
    mb.drive(uopRaddr, sel(startPipeU, h.uopBgn, sel(uWrap, cBgn, rz(uNext, ldU))));
    // hazard count-downs (relative to the cycle under decision)
    mb.next(a1, sDst, issue);
    mb.next(a2, a1, issue);
    mb.next(rem1, sel(issue, dec(wOff), satDec(rem1)));
    mb.next(rem2, sel(issue, satDec(rem1), satDec(rem2)));
    mb.next(wait, waitNext);
  };

  const full = { dstFull, srcFull, wgtFull, oob, errCode, issue, issueFree, index: cIndex, uopRen, uopRaddr: ur.raddr, uopData: ur.data, accept };
  if (ir) {
    // the micro-op under decision is the issue stage's; the index checks (and the error's
    // instruction) stay the index stage's
    return {
      pend: ir.v, alu: ir.alu, reset: ir.reset, aluOp: ir.aluOp, useImm: ir.useImm, imm: ir.imm, ...(ir.rq ? { rq: ir.rq } : {}), tag: ir.tag,
      dstIx: ir.dst, srcIx: ir.src, wgtIx: ir.wgt, lastPos: ir.last, ...full,
    };
  }
  return {
    pend, alu: cAlu, reset: cReset, aluOp: cAluOp, useImm: cUseImm, imm: cImm, ...(cRq ? { rq: cRq } : {}), tag: cTag,
    dstIx, srcIx, wgtIx, lastPos, ...full,
  };
}
