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
 * LOAD/FINISH is in flight; LOAD UOP/ACC and FINISH start when nothing is in flight. With
 * UOP_ISSUE_REG (§20) the indices pass a register (the issue stage) before the rules decide them,
 * one micro-op per cycle, and a GEMM/ALU starts when the index stage is empty.
 *
 * Completion (§4.3, §7.4): started instructions wait in a small in-flight list (program order) with
 * their push flags; an instruction is done in its last active cycle (GEMM/ALU: the write of its last
 * micro-op; LOAD: the engine's last write; FINISH, dependency-only LOADs and GEMM/ALU without
 * micro-ops: the start cycle). Each cycle the longest prefix of done instructions whose pushes fit
 * the token queues completes; several may complete in one cycle (with COMPUTE_DONE_REG, §22, only
 * the oldest). Without a full token queue at most 5 instructions are ever in flight (the last
 * micro-op's write is at most 3 + II cycles after the issue stage frees; the §22 keys can add one
 * or two); the list has 8 entries, and a GEMM/ALU waits for a free entry, which only happens while
 * completions hold on a full (255-token) queue.
 *
 * Index checks of §9.1 that need the micro-ops are made on every micro-op when it is decided
 * (index = micro-op field + loop offsets, offsets saturating above the depth).
 *
 * The module is built in stages, each in compute/ (after tvm-vta's Chisel Compute / TensorGemm /
 * TensorAlu): decode.ts (the head instruction and its start), issue.ts (micro-op fetch and loop
 * counters, index checks, timing rules), pipeline.ts (operand stages, GEMM, ALU, write-back) and
 * completion.ts (in-flight list, completion and tokens, observation). This file declares the ports
 * and wires the stages together in that order.
 */
import type { Derived } from '../../src/config/derive.ts';
import { COMPUTE_INFLIGHT, TOKEN_QUEUE_DEPTH } from '../../src/uarch/index.ts';
import { Mb, all, inv, rz, type Module } from '../hdl/index.ts';
import { entryLayout } from './insn.ts';
import { MULTI_PUSH_BITS, TOKEN_BITS } from './tokens.ts';
import type { ComputeGeoms } from './compute/common.ts';
import { InflightList, completion, observation } from './compute/completion.ts';
import { decodeHead, startHead } from './compute/decode.ts';
import { issueUnit } from './compute/issue.ts';
import { aluStage, gemmStage, operandStages, writeBack } from './compute/pipeline.ts';

export type { ComputeGeoms } from './compute/common.ts';

/** Entries of the in-flight list (the micro-architecture contract's, src/uarch). */
export const INFLIGHT = COMPUTE_INFLIGHT;

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
  const run = mb.input('run');
  const qValid = mb.input('q_valid');
  const entry = mb.input('q_entry', entryLayout(d).bits);
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

  // 1. decode the head instruction; 2. the in-flight list and the issue unit it starts into
  const h = decodeHead(mb, d, entry, { l2g, s2g });
  const fl = new InflightList(mb, INFLIGHT);
  const iss = issueUnit(mb, d, g, run, uopRd, fl.slotBits);
  const st = startHead(mb, h, {
    run, qValid, dmaReady, engDoneAtStart: eng.done_at_start,
    pipeFree: all(inv(fl.npBusy), iss.issueFree, inv(fl.full())), idle: fl.empty(),
  });
  const tailSlot = fl.tail();
  iss.accept(h, st.startPipeU, tailSlot, st.start);

  // 3. operand stages, GEMM, ALU; 4. write-back
  const ops = operandStages(mb, d, g, iss, { inp: inpRd, wgt: wgtRd, acc: accRdIn });
  const gs = gemmStage(mb, d, ops, mods.gemm);
  const aluResult = aluStage(mb, d, ops, mods.alu, gs);
  const wr = writeBack(mb, d, g, ops, gs, aluResult);
  mb.output('acc_ren', ops.accRen);
  mb.output('acc_raddr', ops.accRaddr);
  mb.output('uop_ren', iss.uopRen);
  mb.output('uop_raddr', iss.uopRaddr);

  // 5. completion and tokens
  const done = completion(
    mb, fl, { start: st.start, tailSlot, doneAtStart: st.doneAtStart, pipe: h.pipe, pushPrev: h.pushPrev, pushNext: h.pushNext, isFinish: h.isFinish },
    wr, eng.done, g2l, g2s, TOKEN_QUEUE_DEPTH,
  );
  mb.output('push_g2l', rz(done.pushPrev, MULTI_PUSH_BITS));
  mb.output('push_g2s', rz(done.pushNext, MULTI_PUSH_BITS));
  mb.output('finish', done.finish);
  mb.output('q_pop', st.start);
  mb.output('pop_l2g', all(st.start, h.popPrev));
  mb.output('pop_s2g', all(st.start, h.popNext));
  mb.output('err', iss.oob);
  mb.output('err_code', iss.errCode);
  mb.output('err_index', iss.index);

  // observation
  const obs = observation(mb, fl, done, { run, qValid, free: st.free, tokOk: h.tokOk, start: st.start, engBusy: eng.busy });
  mb.output('obs_state', obs.state);
  mb.output('obs_start', st.start);
  mb.output('obs_end', obs.end);
  const e = h.entry;
  mb.sink(e.fpEnd, e.s0, e.pads, e.insn, iss.uopData, iss.srcFull, iss.wgtFull, iss.dstFull, h.memType, ops.b.imm);
  return mb;
}
