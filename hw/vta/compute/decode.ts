/**
 * Compute stage 1, instruction decode (tvm-vta's Compute.scala decode): the fields of the
 * instruction at the head of compute's queue, the kind of work it is, and whether its pop tokens
 * are there. Its start decision (`startHead`) also needs the issue unit and the in-flight list.
 */
import type { Derived } from '../../../src/config/derive.ts';
import { MEM_TYPES, OPCODES } from '../../../src/isa/constants.ts';
import { all, any, eqc, inv, isZero, nonZero, sel, ult, type Expr, type Mb, type Signal } from '../../hdl/index.ts';
import { Fields, entryLayout, unpackEntry, type Entry } from '../insn.ts';

export interface Head {
  entry: Entry;
  fields: Fields;
  isLoad: Expr;
  isGemm: Expr;
  isAlu: Expr;
  isFinish: Expr;
  /** A LOAD with x_size = 0 (dependency only). */
  xs0: Expr;
  memType: Expr;
  loadUop: Signal;
  loadAcc: Signal;
  /** GEMM or ALU: runs on the micro-op pipeline. */
  pipe: Signal;
  uopBgn: Expr;
  uopEnd: Expr;
  iterOut: Expr;
  iterIn: Expr;
  /** A GEMM/ALU with at least one micro-op to issue. */
  hasUops: Signal;
  popPrev: Expr;
  popNext: Expr;
  pushPrev: Expr;
  pushNext: Expr;
  /** Its pop tokens are there (l2g for pop_prev, s2g for pop_next). */
  tokOk: Signal;
}

/** Decode `entry` (the head of compute's queue); `tokens`: the l2g / s2g counts it pops from. */
export function decodeHead(mb: Mb, d: Derived, entry: Expr, tokens: { l2g: Expr; s2g: Expr }): Head {
  const e = unpackEntry(entryLayout(d), entry);
  const f = new Fields(d, e.insn);
  const op = mb.w('h_opcode', f.opcode);
  const isLoad = eqc(op, OPCODES.LOAD);
  const isGemm = eqc(op, OPCODES.GEMM);
  const isAlu = eqc(op, OPCODES.ALU);
  const isFinish = eqc(op, OPCODES.FINISH);
  const xs0 = isZero(f.mem('x_size'));
  const memType = f.mem('memory_type');
  const loadUop = mb.w('h_load_uop', all(isLoad, inv(xs0), eqc(memType, MEM_TYPES.UOP)));
  const loadAcc = mb.w('h_load_acc', all(isLoad, inv(xs0), eqc(memType, MEM_TYPES.ACC)));
  const pipe = mb.w('h_pipe', any(isGemm, isAlu));
  const G = (n: string) => f.gemm(n);
  const uopBgn = G('uop_bgn');
  const uopEnd = G('uop_end');
  const iterOut = G('iter_out');
  const iterIn = G('iter_in');
  const hasUops = mb.w('h_has_uops', all(nonZero(iterOut), nonZero(iterIn), ult(uopBgn, uopEnd)));
  const popPrev = f.flag('pop_prev_dep');
  const popNext = f.flag('pop_next_dep');
  const pushPrev = f.flag('push_prev_dep');
  const pushNext = f.flag('push_next_dep');
  const tokOk = mb.w('tok_ok', all(any(inv(popPrev), nonZero(tokens.l2g)), any(inv(popNext), nonZero(tokens.s2g))));
  return {
    entry: e, fields: f, isLoad, isGemm, isAlu, isFinish, xs0, memType, loadUop, loadAcc, pipe, uopBgn, uopEnd, iterOut, iterIn, hasUops,
    popPrev, popNext, pushPrev, pushNext, tokOk,
  };
}

export interface Start {
  /** compute can take the head now (its kind's resources are free). */
  free: Signal;
  start: Signal;
  /** A GEMM/ALU with micro-ops starts: the issue unit loads its loop state. */
  startPipeU: Signal;
  /** A LOAD UOP/ACC with data (on the read engine). */
  loadMem: Expr;
  /** The instruction is done in its start cycle (no micro-ops, dependency-only, FINISH, an engine done at once). */
  doneAtStart: Signal;
}

/**
 * Whether the head starts this cycle: a GEMM/ALU when `pipeFree` (issue stage free for it, a free
 * in-flight entry, no LOAD/FINISH in flight), anything else when `idle` (nothing in flight); a
 * LOAD UOP/ACC also needs the read engine (`dmaReady`; waiting for it is idle time, not waitToken).
 * Drives `dma_start`.
 */
export function startHead(
  mb: Mb, h: Head, c: { run: Expr; qValid: Expr; dmaReady: Expr; engDoneAtStart: Expr; pipeFree: Expr; idle: Expr },
): Start {
  const free = mb.w('free', sel(h.pipe, c.pipeFree, c.idle));
  const loadMem = any(h.loadUop, h.loadAcc);
  const start = mb.w('start', all(c.run, c.qValid, free, h.tokOk, any(inv(loadMem), c.dmaReady)));
  const startPipeU = mb.w('start_pipe_u', all(start, h.pipe, h.hasUops));
  mb.output('dma_start', all(start, loadMem));
  const doneAtStart = mb.w(
    'done_at_start',
    any(all(h.pipe, inv(h.hasUops)), all(h.isLoad, h.xs0), h.isFinish, all(loadMem, c.engDoneAtStart)),
  );
  return { free, start, startPipeU, loadMem, doneAtStart };
}
