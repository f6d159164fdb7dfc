/**
 * The compute module (docs/microarch.md §7): LOAD UOP / LOAD ACC through its read engine (one for both),
 * GEMM and ALU on one micro-op pipeline, FINISH, in program order with in-order completion.
 *
 * Issue (§7.2). Micro-op k of an instruction started in s is *considered* for issue in cycle t >= s;
 * its micro-op is read from the UOP SRAM in the cycle before it is decided, so the decision for
 * cycle t is taken in t + 1 with its indices known. A decision for t fixes everything that happens
 * from t + 2 on (ACC/INP/WGT read at the end of t + 2, so it sees every write of a cycle < t + 2;
 * ALU vector source at the end of t + 3; GEMM groups in t + 3 .. t + 2 + II_G; the write at the end
 * of w = t + 3 + II_G for GEMM, t + 2 + II_A for ALU), so the observable timing is the contract's. Rules: t >= previous issue + II (across instructions), w_k > w_{k-1},
 * and no ACC read before a pending write to the same index (the last two micro-ops), evaluated on
 * relative write times kept as count-downs. A GEMM/ALU starts when the issue stage is free for it
 * (no micro-op of the previous one left after this cycle's decision and its II elapsed) and no
 * LOAD/FINISH is in flight; LOAD UOP/ACC and FINISH start when nothing is in flight.
 *
 * Completion (§4.3, §7.4): started instructions wait in a small in-flight list (program order) with
 * their push flags; an instruction is done in its last active cycle (GEMM/ALU: the write of its last
 * micro-op; LOAD: the engine's last write; FINISH, dependency-only LOADs and GEMM/ALU without
 * micro-ops: the start cycle). Each cycle the longest prefix of done instructions whose pushes fit
 * the token queues completes; several may complete in one cycle. Without a full token queue at
 * most 5 instructions are ever in flight (the last micro-op's write is at most 3 + II cycles after
 * the issue stage frees); the list has 8 entries, and a GEMM/ALU waits for a free entry, which
 * only happens while completions hold on a full (255-token) queue.
 *
 * Index checks of §9.1 that need the micro-ops are made on every micro-op when it is decided
 * (index = micro-op field + loop offsets, offsets saturating above the depth).
 */
import type { Derived } from '../../src/config/derive.ts';
import { MEM_TYPES, OPCODES } from '../../src/isa/constants.ts';
import { COMPUTE_INFLIGHT, TOKEN_QUEUE_DEPTH } from '../../sim/ts/params.ts';
import { add, eq, lit, repeat, sext, sub, type Expr, type Module, type Signal } from '../hdl/index.ts';
import { OBS } from './fetch.ts';
import { Fields, entryLayout, unpackEntry } from './insn.ts';
import { ERROR_CODE_BITS, errorCode } from './regs.ts';
import { bankOf, type SramGeom } from './sram.ts';
import { MULTI_PUSH_BITS, TOKEN_BITS } from './tokens.ts';
import { dotWidth } from './gemm.ts';
import {
  F, Mb, T, addw, all, any, bitsFor, c, catRev, dec, eqc, gec, gtc, inc, inst, inv, isZero, laneOf, log2i, ltc, nonZero, pick,
  rz, satDec, sel, uge, ult,
} from '../hdl/index.ts';

/** Entries of the in-flight list (the timing model's, sim/ts/params.ts). */
export const INFLIGHT = COMPUTE_INFLIGHT;

export interface ComputeGeoms {
  uop: SramGeom;
  inp: SramGeom;
  wgt: SramGeom;
  acc: SramGeom;
  out: SramGeom;
}

/** Element read of a banked SRAM: every bank reads idx / banks; the bank idx mod banks is selected. */
function elemRead(mb: Mb, g: SramGeom, prefix: string, ren: Expr, idx: Expr, rdata: Expr): { raddr: Expr; data: Expr } {
  const bo = bankOf(g, idx);
  const raddr = repeat(g.banks, bo.addr);
  if (g.banks === 1) return { raddr, data: rdata };
  const selq = mb.reg(`${prefix}_sel_q`, bo.bank.width, null);
  mb.next(selq, bo.bank, ren);
  const banks = Array.from({ length: g.banks }, (_, b) => laneOf(rdata, b, g.ew));
  return { raddr, data: mb.w(`${prefix}_elem`, pick(selq, banks)) };
}

/** Element write of a banked SRAM (every part of the element). */
function elemWrite(g: SramGeom, we: Expr, idx: Expr, data: Expr): { we: Expr; waddr: Expr; wdata: Expr } {
  const bo = bankOf(g, idx);
  const wes = Array.from({ length: g.banks * g.parts }, (_, k) => all(we, g.banks === 1 ? T : eqc(bo.bank, Math.floor(k / g.parts))));
  return { we: catRev(wes), waddr: repeat(g.banks, bo.addr), wdata: repeat(g.banks, data) };
}

/** a + b saturating at all ones (unsigned, a's width). */
function satAdd(a: Expr, b: Expr): Expr {
  const w = a.width;
  const s = addw(a, b, w + 1);
  return sel(s.bit(w), lit(w, (1n << BigInt(w)) - 1n), s.slice(w - 1, 0));
}

/**
 * Its read engine (UOP and ACC; with DMA_READ_ENGINES 1 the one it shares with the load module)
 * sits beside it in the top: `dma_start` starts a LOAD UOP/ACC with x_size > 0 on it, which needs
 * `dma_ready`; `dma_done`, `dma_done_at_start`, `dma_busy` and its ACC write port (merged here with
 * the pipeline's) are the engine's for this module.
 */
export function computeModule(
  name: string, d: Derived, g: ComputeGeoms, mods: { gemm: Module; alu: Module },
): Mb {
  const mb = new Mb(name, ['compute module: LOAD UOP/ACC, GEMM and ALU micro-op pipeline, FINISH, in-order completion']);
  const II_G = d.gemmII;
  const ldU = g.uop.ld;
  const ldA = g.acc.ld;
  const ldI = g.inp.ld;
  const ldW = g.wgt.ld;
  const ldS = Math.max(ldA, ldI);
  const N = d.batch * d.blockOut;
  const AW = d.accWidth;

  const run = mb.input('run');
  const qValid = mb.input('q_valid');
  const el = entryLayout(d);
  const entry = mb.input('q_entry', el.bits);
  const l2g = mb.input('l2g_count', TOKEN_BITS);
  const s2g = mb.input('s2g_count', TOKEN_BITS);
  const g2l = mb.input('g2l_count', TOKEN_BITS);
  const g2s = mb.input('g2s_count', TOKEN_BITS);
  const dmaReady = mb.input('dma_ready');
  const eng = { done: mb.input('dma_done'), done_at_start: mb.input('dma_done_at_start'), busy: mb.input('dma_busy') };
  const uopRd = mb.input('uop_rdata', g.uop.banks * g.uop.ew);
  const inpRd = mb.input('inp_rdata', g.inp.banks * g.inp.ew);
  const wgtRd = mb.input('wgt_rdata', g.wgt.banks * g.wgt.ew);
  const accRdIn = mb.input('acc_rdata', g.acc.banks * g.acc.ew);

  // ---------------------------------------------------------------- the head instruction
  const e = unpackEntry(el, entry);
  const f = new Fields(d, e.insn);
  const op = mb.w('h_opcode', f.opcode);
  const hIsLoad = eqc(op, OPCODES.LOAD);
  const hIsGemm = eqc(op, OPCODES.GEMM);
  const hIsAlu = eqc(op, OPCODES.ALU);
  const hIsFinish = eqc(op, OPCODES.FINISH);
  const hXs0 = isZero(f.mem('x_size'));
  const hMt = f.mem('memory_type');
  const hLoadUop = mb.w('h_load_uop', all(hIsLoad, inv(hXs0), eqc(hMt, MEM_TYPES.UOP)));
  const hLoadAcc = mb.w('h_load_acc', all(hIsLoad, inv(hXs0), eqc(hMt, MEM_TYPES.ACC)));
  const hPipe = mb.w('h_pipe', any(hIsGemm, hIsAlu));
  const G = (n: string) => f.gemm(n);
  const A = (n: string) => f.alu(n);
  const hUopBgn = G('uop_bgn');
  const hUopEnd = G('uop_end');
  const hIterOut = G('iter_out');
  const hIterIn = G('iter_in');
  const hHasUops = mb.w('h_has_uops', all(nonZero(hIterOut), nonZero(hIterIn), ult(hUopBgn, hUopEnd)));
  const popPrev = f.flag('pop_prev_dep');
  const popNext = f.flag('pop_next_dep');
  const pushPrev = f.flag('push_prev_dep');
  const pushNext = f.flag('push_next_dep');
  const tokOk = mb.w('tok_ok', all(any(inv(popPrev), nonZero(l2g)), any(inv(popNext), nonZero(s2g))));

  // ---------------------------------------------------------------- in-flight list
  const NF = INFLIGHT;
  const lnf = log2i(NF);
  const hp = mb.reg('fl_head', lnf);
  const fc = mb.reg('fl_count', bitsFor(NF));
  const npBusy = mb.reg('np_busy', 1);
  const slotDone: Signal[] = [];
  const slotPp: Signal[] = [];
  const slotPn: Signal[] = [];
  const slotFin: Signal[] = [];
  for (let s = 0; s < NF; s++) {
    slotDone.push(mb.reg(`fl_done${s}`, 1));
    slotPp.push(mb.reg(`fl_pp${s}`, 1, null));
    slotPn.push(mb.reg(`fl_pn${s}`, 1, null));
    slotFin.push(mb.reg(`fl_fin${s}`, 1, null));
  }

  // ---------------------------------------------------------------- issue unit state
  const pend = mb.reg('is_pend', 1);
  const cAlu = mb.reg('is_alu', 1, null);
  const cReset = mb.reg('is_reset', 1, null);
  const cAluOp = mb.reg('is_alu_op', 3, null);
  const cUseImm = mb.reg('is_use_imm', 1, null);
  const cImm = mb.reg('is_imm', 16, null);
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
  const cTag = mb.reg('is_tag', lnf, null);
  const cIndex = mb.reg('is_index', el.indexBits, null);
  const u = mb.reg('is_u', ldU, null);
  const iIn = mb.reg('is_i_in', 14, null);
  const iOut = mb.reg('is_i_out', 14, null);
  const offD = [mb.reg('is_off_d_out', ldA + 1, null), mb.reg('is_off_d_in', ldA + 1, null)];
  const offS = [mb.reg('is_off_s_out', ldS + 1, null), mb.reg('is_off_s_in', ldS + 1, null)];
  const offW = [mb.reg('is_off_w_out', ldW + 1, null), mb.reg('is_off_w_in', ldW + 1, null)];
  const maxWOff = 3 + II_G;
  const rw = bitsFor(maxWOff);
  const a1 = mb.reg('hz_a1', ldA, null);
  const a2 = mb.reg('hz_a2', ldA, null);
  const rem1 = mb.reg('hz_rem1', rw);
  const rem2 = mb.reg('hz_rem2', rw);
  const iiw = bitsFor(Math.max(II_G, 2));
  const wait = mb.reg('is_wait', iiw);

  // micro-op under decision (read in an earlier cycle)
  const uopRen = mb.wireLater('uop_ren_c', 1);
  const uopRaddr = mb.wireLater('uop_idx', ldU);
  const ur = elemRead(mb, g.uop, 'uop', uopRen, uopRaddr, uopRd);
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

  // timing rules
  const wOff = sel(cAlu, sel(cUseImm, c(rw, 3), c(rw, 4)), c(rw, 3 + II_G));
  const iiM1 = sel(cAlu, sel(cUseImm, c(iiw, 0), c(iiw, 1)), c(iiw, II_G - 1));
  const okWp = ult(rem1, wOff);
  const dstReads = any(cAlu, inv(cReset));
  const srcL = rz(srcIx, ldA);
  const hz = any(
    all(dstReads, any(all(eq(dstIx, a1), gec(rem1, 2)), all(eq(dstIx, a2), gec(rem2, 2)))),
    all(vecC, any(all(eq(srcL, a1), gec(rem1, 3)), all(eq(srcL, a2), gec(rem2, 3)))),
  );
  const issue = mb.w('issue', all(run, pend, isZero(wait), okWp, inv(hz), inv(oob)));
  const uNext = inc(rz(u, ldU + 1));
  const uWrap = mb.w('is_u_wrap', eq(uNext, cEnd));
  const iInNext = inc(iIn);
  const inWrap = mb.w('is_in_wrap', eq(iInNext, cIterIn));
  const outWrap = eq(inc(iOut), cIterOut);
  const lastPos = mb.w('is_last', all(uWrap, inWrap, outWrap));
  const moreAfter = all(pend, inv(all(issue, lastPos)));
  const waitNext = mb.w('is_wait_next', sel(issue, iiM1, satDec(wait)));
  const issueFree = mb.w('issue_free', all(inv(moreAfter), isZero(waitNext)));

  // ---------------------------------------------------------------- start
  const flFull = gec(fc, NF);
  const freePipe = all(inv(npBusy), issueFree, inv(flFull));
  const freeNp = isZero(fc);
  const free = mb.w('free', sel(hPipe, freePipe, freeNp));
  const hLoadMem = any(hLoadUop, hLoadAcc);
  // a wait for the read engine is idle time (not waitToken)
  const start = mb.w('start', all(run, qValid, free, tokOk, any(inv(hLoadMem), dmaReady)));
  const startPipeU = mb.w('start_pipe_u', all(start, hPipe, hHasUops));
  mb.output('dma_start', all(start, hLoadMem));
  const doneAtStart = mb.w(
    'done_at_start',
    any(all(hPipe, inv(hHasUops)), all(hIsLoad, hXs0), hIsFinish, all(hLoadMem, eng.done_at_start)),
  );

  // ---------------------------------------------------------------- issue: loop state
  const immIn = A('imm');
  mb.next(cAlu, hIsAlu, startPipeU);
  mb.next(cReset, all(hIsGemm, G('reset_reg')), startPipeU);
  mb.next(cAluOp, A('alu_opcode'), startPipeU);
  mb.next(cUseImm, A('use_imm'), startPipeU);
  mb.next(cImm, immIn, startPipeU);
  mb.next(cBgn, hUopBgn, startPipeU);
  mb.next(cEnd, hUopEnd, startPipeU);
  mb.next(cIterOut, hIterOut, startPipeU);
  mb.next(cIterIn, hIterIn, startPipeU);
  mb.next(cDfo, G('dst_factor_out'), startPipeU);
  mb.next(cDfi, G('dst_factor_in'), startPipeU);
  mb.next(cSfo, sel(hIsAlu, rz(A('src_factor_out'), ldS), rz(G('src_factor_out'), ldS)), startPipeU);
  mb.next(cSfi, sel(hIsAlu, rz(A('src_factor_in'), ldS), rz(G('src_factor_in'), ldS)), startPipeU);
  mb.next(cWfo, sel(hIsAlu, lit(ldW, 0), G('wgt_factor_out')), startPipeU);
  mb.next(cWfi, sel(hIsAlu, lit(ldW, 0), G('wgt_factor_in')), startPipeU);
  mb.next(cIndex, e.index, startPipeU);
  const tailSlot = mb.w('fl_tail', rz(add(hp, rz(fc, lnf)), lnf));
  mb.next(cTag, tailSlot, startPipeU);
  // advance of the loop position when the pending micro-op issues
  const adv = issue;
  const innerStep = all(uWrap, inv(inWrap));
  const outerStep = all(uWrap, inWrap);
  mb.next(u, sel(startPipeU, hUopBgn, sel(uWrap, cBgn, rz(uNext, ldU))), any(startPipeU, adv));
  mb.next(iIn, sel(any(startPipeU, outerStep), lit(14, 0), sel(uWrap, iInNext, iIn)), any(startPipeU, adv));
  mb.next(iOut, sel(startPipeU, lit(14, 0), sel(outerStep, inc(iOut), iOut)), any(startPipeU, adv));
  const offNext = (off: Signal[], fo: Expr, fi: Expr) => {
    mb.next(off[0], sel(startPipeU, lit(off[0].width, 0), sel(outerStep, satAdd(off[0], fo), off[0])), any(startPipeU, adv));
    mb.next(off[1], sel(any(startPipeU, outerStep), lit(off[1].width, 0), sel(innerStep, satAdd(off[1], fi), off[1])), any(startPipeU, adv));
  };
  offNext(offD, cDfo, cDfi);
  offNext(offS, cSfo, cSfi);
  offNext(offW, cWfo, cWfi);
  mb.next(pend, any(startPipeU, all(pend, inv(all(issue, lastPos)))));
  mb.drive(uopRen, any(startPipeU, all(issue, inv(lastPos))));
  mb.drive(uopRaddr, sel(startPipeU, hUopBgn, sel(uWrap, cBgn, rz(uNext, ldU))));
  // hazard count-downs (relative to the cycle under decision)
  mb.next(a1, dstIx, issue);
  mb.next(a2, a1, issue);
  mb.next(rem1, sel(issue, dec(wOff), satDec(rem1)));
  mb.next(rem2, sel(issue, satDec(rem1), satDec(rem2)));
  mb.next(wait, waitNext);

  // ---------------------------------------------------------------- pipeline
  // stage A (t + 2): INP/WGT/ACC[dst] reads; B (t + 3): GEMM group 0, ALU imm op + write, ALU vector
  // source read; C (t + 4): ALU vector op + write; GEMM groups until t + 2 + II_G, write in t + 3 + II_G.
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
  mb.next(aV, issue);
  mb.next(aAlu, cAlu, issue);
  mb.next(aReset, cReset, issue);
  mb.next(aUseImm, cUseImm, issue);
  mb.next(aOp, cAluOp, issue);
  mb.next(aImm, cImm, issue);
  mb.next(aDst, dstIx, issue);
  mb.next(aSrc, srcIx, issue);
  mb.next(aWgt, wgtIx, issue);
  mb.next(aLast, lastPos, issue);
  mb.next(aTag, cTag, issue);

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

  const aGemmRead = all(aV, inv(aAlu), inv(aReset));
  const aAccRead = all(aV, any(aAlu, inv(aReset)));
  const bVec = mb.w('b_vec', all(bV, bAlu, inv(bUseImm)));
  const bImmOp = mb.w('b_imm_op', all(bV, bAlu, bUseImm));
  const bGemm = mb.w('b_gemm', all(bV, inv(bAlu)));
  const accRen = mb.w('acc_ren_c', any(aAccRead, bVec));
  const accIdx = sel(bVec, bSrc, aDst);
  const accR = elemRead(mb, g.acc, 'accr', accRen, accIdx, accRdIn);
  const inpR = elemRead(mb, g.inp, 'inpr', aGemmRead, rz(aSrc, ldI), inpRd);
  const wgtR = elemRead(mb, g.wgt, 'wgtr', aGemmRead, aWgt, wgtRd);
  mb.output('inp_ren', aGemmRead);
  mb.output('inp_raddr', inpR.raddr);
  mb.output('wgt_ren', aGemmRead);
  mb.output('wgt_raddr', wgtR.raddr);

  // accumulator value read in t + 2, held for the write
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

  // GEMM phases: group g in cycle t + 3 + g, write when gph = II_G
  const gpw = bitsFor(II_G);
  const gph = mb.reg('g_phase', gpw);
  const gDst = mb.reg('g_dst', ldA, null);
  const gReset = mb.reg('g_reset', 1, null);
  const gLast = mb.reg('g_last', 1, null);
  const gTag = mb.reg('g_tag', lnf, null);
  const inGroups = all(nonZero(gph), ltc(gph, II_G));
  mb.next(gph, sel(bGemm, rz(lit(1, 1), gpw), sel(inGroups, inc(gph), lit(gpw, 0))));
  mb.next(gDst, bDst, bGemm);
  mb.next(gReset, bReset, bGemm);
  mb.next(gLast, bLast, bGemm);
  mb.next(gTag, bTag, bGemm);
  const gselW = Math.max(1, log2i(II_G));
  const gsel = sel(bGemm, lit(gselW, 0), rz(gph, gselW));
  const gEn = any(all(bGemm, inv(bReset)), all(inGroups, inv(gReset)));
  const gm = inst(mb, mods.gemm, 'u_gemm', { inp: inpR.data, wgt: wgtR.data, gsel, en: gEn });
  const gWrite = mb.w('g_write', eqc(gph, II_G));

  // ALU
  const immVec = (imm: Expr) => repeat(N, AW <= 16 ? imm.slice(AW - 1, 0) : sext(imm, AW));
  const alu = inst(mb, mods.alu, 'u_alu', {
    op: sel(bImmOp, bOp, cOp),
    x: sel(bImmOp, accR.data, accHold),
    y: sel(bImmOp, immVec(bImm), accR.data),
  });

  // write port: GEMM (t + 3 + II_G), ALU imm (t + 3), ALU vector (t + 4); never two in one cycle
  const dw = dotWidth(d);
  const gemmVal: Expr[] = [];
  for (let l = 0; l < N; l++) {
    const acc = laneOf(accHold, l, AW);
    const dot = laneOf(gm.dots, l, dw);
    gemmVal.push(sel(gReset, lit(AW, 0), add(acc, dw === AW ? dot : sext(dot, AW))));
  }
  const aluW = any(bImmOp, cV);
  const wrValid = mb.w('wr_valid', any(gWrite, aluW));
  const wrDst = sel(gWrite, gDst, sel(bImmOp, bDst, cDst));
  const wrVal = mb.w('wr_value', sel(gWrite, catRev(gemmVal), alu.r));
  const wrOut = all(wrValid, inv(all(gWrite, gReset)));
  const wrLast = mb.w('wr_last', all(wrValid, sel(gWrite, gLast, sel(bImmOp, bLast, cLast))));
  const wrTag = mb.w('wr_tag', sel(gWrite, gTag, sel(bImmOp, bTag, cTagQ)));
  const outVal = catRev(Array.from({ length: N }, (_, l) => laneOf(wrVal, l, AW).slice(d.outWidth - 1, 0)));
  const ow = elemWrite(g.out, wrOut, wrDst, outVal);
  mb.output('out_we', ow.we);
  mb.output('out_waddr', ow.waddr);
  mb.output('out_wdata', ow.wdata);
  const aw = elemWrite(g.acc, wrValid, wrDst, wrVal);
  // ACC: written by the pipeline or by LOAD ACC (never in the same cycle)
  const engAcc = { we: mb.input('dma_acc_we', aw.we.width), waddr: mb.input('dma_acc_waddr', aw.waddr.width), wdata: mb.input('dma_acc_wdata', aw.wdata.width) };
  mb.output('acc_we', any(aw.we, engAcc.we));
  mb.output('acc_waddr', sel(nonZero(engAcc.we), engAcc.waddr, aw.waddr));
  mb.output('acc_wdata', sel(nonZero(engAcc.we), engAcc.wdata, aw.wdata));
  mb.output('acc_ren', accRen);
  mb.output('acc_raddr', accR.raddr);
  mb.output('uop_ren', uopRen);
  mb.output('uop_raddr', ur.raddr);

  // ---------------------------------------------------------------- completion
  // Entry j of the in-flight list (slot hp + j) completes in this cycle when it and every entry
  // before it are done and the pushes of entries 0..j fit the token queues. That set is a prefix
  // of the list; it is found with prefix ANDs and prefix counts of the push flags side by side
  // (not a chain through the entries), which keeps the logic a few levels deep.
  const engDone = eng.done;
  const roomPrev = mb.w('room_g2l', sub(c(TOKEN_BITS, TOKEN_QUEUE_DEPTH), g2l));
  const roomNext = mb.w('room_g2s', sub(c(TOKEN_BITS, TOKEN_QUEUE_DEPTH), g2s));
  const cw = bitsFor(NF + 1);
  const tagRel = mb.w('wr_tag_rel', rz(sub(wrTag, hp), lnf));
  const valid: Expr[] = [];
  const dn: Expr[] = [];
  const pp: Expr[] = [];
  const pn: Expr[] = [];
  const fin: Expr[] = [];
  for (let j = 0; j < NF; j++) {
    const slot = rz(add(hp, c(lnf, j)), lnf);
    valid.push(gtc(fc, j));
    const own = any(all(wrLast, eqc(tagRel, j)), j === 0 ? all(npBusy, engDone) : F);
    dn.push(all(valid[j], any(pick(slot, slotDone), own)));
    pp.push(pick(slot, slotPp));
    pn.push(pick(slot, slotPn));
    fin.push(pick(slot, slotFin));
  }
  const ok: Expr[] = [];
  for (let j = 0; j < NF; j++) {
    const upTo = (xs: Expr[]) => xs.slice(0, j + 1);
    ok.push(mb.w(`fl_ok${j}`, all(...upTo(dn), ule8(count(upTo(pp), cw), roomPrev), ule8(count(upTo(pn), cw), roomNext))));
  }
  const cumP = count(ok.map((o, j) => all(o, pp[j])), cw);
  const cumN = count(ok.map((o, j) => all(o, pn[j])), cw);
  // ok is a prefix (thermometer code): its length in binary, without an adder tree
  const kCount = thermometerCount(ok, cw);
  const finDone = any(...ok.map((o, j) => all(o, fin[j])));
  const cumPW = mb.w('cum_prev', cumP);
  const cumNW = mb.w('cum_next', cumN);
  // The starting instruction completes with the list when every entry does: then the pushes are
  // those of all valid entries (counted without the prefix logic) plus its own, and they fit.
  const allDn = all(...valid.map((v, j) => any(inv(v), dn[j])));
  const inP = add(count(valid.map((v, j) => all(v, pp[j])), cw), rz(pushPrev, cw));
  const inN = add(count(valid.map((v, j) => all(v, pn[j])), cw), rz(pushNext, cw));
  const completeIn = mb.w('complete_in', all(start, doneAtStart, allDn, ule8(inP, roomPrev), ule8(inN, roomNext)));
  const kW = mb.w('fl_k', kCount);
  const append = mb.w('fl_append', all(start, inv(completeIn)));
  mb.next(hp, rz(add(hp, rz(kW, lnf)), lnf));
  mb.next(fc, add(sub(fc, rz(kW, fc.width)), rz(append, fc.width)));
  // A starting instruction writes the slot past the list's end even when it completes at once
  // (the list does not grow then, so the slot stays outside it): the slot writes wait for no
  // completion logic. A start always finds a free slot (a GEMM/ALU needs fl_count < NF, others 0).
  for (let s = 0; s < NF; s++) {
    const here = all(start, eqc(tailSlot, s));
    const own = all(wrLast, eqc(wrTag, s));
    mb.next(slotDone[s], sel(here, doneAtStart, any(slotDone[s], own, all(npBusy, engDone, eqc(hp, s)))));
    mb.next(slotPp[s], pushPrev, here);
    mb.next(slotPn[s], pushNext, here);
    mb.next(slotFin[s], hIsFinish, here);
  }
  mb.next(npBusy, any(all(append, inv(hPipe)), all(npBusy, isZero(kW))));
  const pushP = sel(completeIn, inP, cumPW);
  const pushN = sel(completeIn, inN, cumNW);
  mb.output('push_g2l', rz(pushP, MULTI_PUSH_BITS));
  mb.output('push_g2s', rz(pushN, MULTI_PUSH_BITS));
  mb.output('finish', any(finDone, all(completeIn, hIsFinish)));
  mb.output('q_pop', start);
  mb.output('pop_l2g', all(start, popPrev));
  mb.output('pop_s2g', all(start, popNext));
  mb.output('err', oob);
  mb.output('err_code', errCode);
  mb.output('err_index', cIndex);

  // ---------------------------------------------------------------- observation
  const endQ = mb.reg('end_q', cw);
  mb.next(endQ, add(kW, rz(completeIn, cw)));
  let anyWork: Expr = F;
  let anyDone: Expr = F;
  for (let j = 0; j < NF; j++) {
    const slot = rz(add(hp, c(lnf, j)), lnf);
    const valid = gtc(fc, j);
    const dq = pick(slot, slotDone);
    anyWork = any(anyWork, all(valid, inv(dq), j === 0 ? inv(npBusy) : T));
    anyDone = any(anyDone, all(valid, dq));
  }
  const npWorking = all(npBusy, inv(pick(hp, slotDone)));
  const engBusy = eng.busy;
  const state = sel(
    any(start, anyWork, all(npWorking, engBusy)), c(3, OBS.busy),
    sel(npWorking, c(3, OBS.waitMemory),
      sel(anyDone, c(3, OBS.queueFull),
        sel(all(run, qValid, free, inv(tokOk)), c(3, OBS.waitToken), c(3, OBS.idle)))),
  );
  mb.output('obs_state', state);
  mb.output('obs_start', start);
  mb.output('obs_end', endQ);
  mb.sink(e.fpEnd, e.s0, e.pads, e.insn, ur.data, srcFull, wgtFull, dstFull, hMt, bImm);
  return mb;
}

/** How many of the 1-bit xs are set, as a w-bit count (an adder tree). */
function count(xs: Expr[], w: number): Expr {
  if (xs.length === 1) return rz(xs[0], w);
  const h = xs.length >> 1;
  return add(count(xs.slice(0, h), w), count(xs.slice(h), w));
}

/** The number of leading ones of a thermometer code (xs[0..k-1] set, the rest clear), as w bits. */
function thermometerCount(xs: Expr[], w: number): Expr {
  const bits: Expr[] = [];
  for (let b = 0; b < w; b++) {
    // bit b of k is set for k in [m * 2^(b+1) + 2^b, (m + 1) * 2^(b+1)): ones up to m*2^(b+1)+2^b-1, not past (m+1)*2^(b+1)-1
    const terms: Expr[] = [];
    for (let lo = 1 << b; lo <= xs.length; lo += 2 << b) {
      const hi = lo + (1 << b);
      terms.push(all(xs[lo - 1], hi - 1 < xs.length ? inv(xs[hi - 1]) : T));
    }
    bits.push(any(F, ...terms));
  }
  return catRev(bits);
}

/** a <= b for a small count a and an 8-bit room b. */
function ule8(a: Expr, b: Expr): Expr {
  const w = Math.max(a.width, b.width);
  return inv(ult(rz(b, w), rz(a, w)));
}
