/**
 * The load module (LOAD INP / WGT) and the store module (STORE), docs/microarch.md §4 and §6: one
 * instruction at a time, in order. The head of the command queue starts in the first cycle in which
 * the module is free (the previous instruction has ended) and its pop token is visible; a
 * dependency-only instruction (x_size = 0) ends the cycle after its start; otherwise a DMA engine
 * moves the data. In its last active cycle the instruction pushes its token if the queue has room
 * (fewer than 255 tokens), else it holds and retries every cycle (§4.3).
 */
import type { Derived } from '../../src/config/derive.ts';
import { TOKEN_QUEUE_DEPTH } from '../../src/uarch/index.ts';
import { cat, declarePorts, lit, type Expr, type Module } from '../hdl/index.ts';
import { Fields, entryLayout, unpackEntry } from './insn.ts';
import { OBS } from './fetch.ts';
import { memBus } from './ports.ts';
import { Mb, T, all, any, c, inst, inv, isZero, ltc, nonZero, sel } from '../hdl/index.ts';
import type { SramGeom } from './sram.ts';

/**
 * Shared sequencing: start, completion with the push-room check, observation state.
 * `popTok` / `pushTok`: this module's pop / push token counts (8 bits, start of cycle).
 */
function sequencer(
  mb: Mb, run: Expr, qValid: Expr, popFlag: Expr, pushFlag: Expr, popTok: Expr, pushTok: Expr,
  engine: (start: Expr) => { doneAtStart: Expr; done: Expr; busy: Expr },
  engineOk: Expr = T,
): { start: Expr; push: Expr } {
  const busyQ = mb.reg('insn_busy', 1);
  const blocked = mb.reg('blocked', 1);
  const pushQ = mb.reg('push_flag', 1);
  const tokOk = any(inv(popFlag), nonZero(popTok));
  // engineOk: the DMA engine can take the head (a wait for it is idle time, not waitToken)
  const start = mb.w('start', all(run, qValid, inv(busyQ), tokOk, engineOk));
  const eng = engine(start);
  const workDone = any(all(start, eng.doneAtStart), all(busyQ, inv(blocked), eng.done));
  const want = any(workDone, blocked);
  const needPush = sel(start, pushFlag, pushQ);
  const room = ltc(pushTok, TOKEN_QUEUE_DEPTH);
  const complete = mb.w('complete', all(want, any(inv(needPush), room)));
  mb.next(busyQ, any(all(start, inv(complete)), all(busyQ, inv(complete))));
  mb.next(blocked, all(want, inv(complete)));
  mb.next(pushQ, needPush);
  const endQ = mb.reg('end_q', 1);
  mb.next(endQ, complete);
  const state = sel(
    start, c(3, OBS.busy),
    sel(busyQ, sel(blocked, c(3, OBS.queueFull), sel(eng.busy, c(3, OBS.busy), c(3, OBS.waitMemory))),
      sel(all(run, qValid, inv(tokOk)), c(3, OBS.waitToken), c(3, OBS.idle))),
  );
  mb.output('obs_state', state);
  mb.output('obs_start', start);
  mb.output('obs_end', cat(lit(1, 0), endQ));
  return { start, push: all(complete, needPush) };
}

const TOK = 8;

/**
 * The load module. Its read engine (INP and WGT, which never load at once; with DMA_READ_ENGINES 1
 * the engine it shares with compute) sits beside it in the top: `dma_start` starts a LOAD with
 * x_size > 0 on it, which needs `dma_ready` (the engine is idle, and with a shared engine the load
 * module has it first); `dma_done`, `dma_done_at_start`, `dma_busy` are the engine's for this module.
 */
export function loadModule(name: string, d: Derived): Mb {
  const mb = new Mb(name, ['load module: LOAD INP / WGT, one at a time, g2l pop and l2g push']);
  const run = mb.input('run');
  const qValid = mb.input('q_valid');
  const entry = mb.input('q_entry', entryLayout(d).bits);
  const g2l = mb.input('g2l_count', TOK);
  const l2g = mb.input('l2g_count', TOK);
  const ready = mb.input('dma_ready');
  const doneIn = mb.input('dma_done');
  const doneAtStartIn = mb.input('dma_done_at_start');
  const busyIn = mb.input('dma_busy');
  const e = unpackEntry(entryLayout(d), entry);
  const f = new Fields(d, e.insn);
  const xs0 = isZero(f.mem('x_size'));
  const seq = sequencer(mb, run, qValid, f.flag('pop_next_dep'), f.flag('push_next_dep'), g2l, l2g, (start) => {
    mb.output('dma_start', all(start, inv(xs0)));
    return { doneAtStart: any(xs0, doneAtStartIn), done: doneIn, busy: busyIn };
  }, any(xs0, ready));
  mb.output('q_pop', seq.start);
  mb.output('pop_g2l', all(seq.start, f.flag('pop_next_dep')));
  mb.output('push_l2g', seq.push);
  mb.sink(e.index, e.fpEnd, e.s0, e.pads, e.insn);
  return mb;
}

/** The store module with its write engine; the OUT SRAM read port is driven from here. */
export function storeModule(name: string, d: Derived, engine: Module, gOut: SramGeom): Mb {
  const mb = new Mb(name, ['store module: STORE, one at a time, g2s pop and s2g push']);
  const run = mb.input('run');
  const qValid = mb.input('q_valid');
  const entry = mb.input('q_entry', entryLayout(d).bits);
  const g2s = mb.input('g2s_count', TOK);
  const s2g = mb.input('s2g_count', TOK);
  const grant = mb.input('grant');
  const { wready, bvalid } = declarePorts(mb.m, memBus(d).only('wready', 'bvalid'), 'mem_').ports;
  const rdata = mb.input('out_rdata', gOut.banks * gOut.ew);
  const e = unpackEntry(entryLayout(d), entry);
  const f = new Fields(d, e.insn);
  const xs0 = isZero(f.mem('x_size'));
  const seq = sequencer(mb, run, qValid, f.flag('pop_prev_dep'), f.flag('push_prev_dep'), g2s, s2g, (start) => {
    const en = inst(mb, engine, 'u_wr', { start: all(start, inv(xs0)), entry, grant, wready, bvalid, rdata });
    mb.output('req', en.req);
    mb.output('addr', en.req_addr);
    mb.output('beats', en.req_beats);
    // the write data channel of the memory port (the top passes it on)
    const wr = declarePorts(mb.m, memBus(d).only('wdata', 'wstrb', 'wvalid'), 'mem_').ports;
    for (const n of ['wdata', 'wstrb', 'wvalid'] as const) mb.drive(wr[n], en[`mem_${n}`]);
    mb.output('out_ren', en.sram_ren);
    mb.output('out_raddr', en.sram_raddr);
    return { doneAtStart: any(xs0, en.done_at_start), done: en.done, busy: en.busy };
  });
  mb.output('q_pop', seq.start);
  mb.output('pop_g2s', all(seq.start, f.flag('pop_prev_dep')));
  mb.output('push_s2g', seq.push);
  mb.sink(e.index, e.fpEnd, e.s0, e.pads, e.insn);
  return mb;
}
