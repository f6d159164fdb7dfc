/**
 * DMA engines of docs/microarch.md §6: the read engine of a LOAD (one per buffer: INP, WGT in the load
 * module, UOP, ACC in the compute module) and the write engine of a STORE.
 *
 * Requests: the rows of the transfer split into bursts by §8.2 (burst.ts); the first request is
 * asserted in the start cycle (from the command-queue head), the next from the cycle after each grant.
 * Read data: every beat is written into the SRAM in the cycle it arrives (lanes of one wide write
 * when elements are narrower than the bus; a staging register when they are wider, the element
 * written with its last slice). Padding: one zero element per cycle in cycles without a beat of this
 * transfer, from start + 1 (top rows and the padded columns of data rows forwards, bottom rows
 * backwards from the footprint end). Done (the last active cycle) when the last beat and the last
 * pad are written: workEnd = max(dataEnd, start + 1 + beats + P).
 * Write data: the OUT SRAM is read one beat ahead, so the beat the memory takes in cycle c was read in
 * c - 1; done when the response of the last burst arrives.
 * Observation: `busy` for the first min(workEnd - start, 1 + beats*CPB + P) cycles (§10); the beat
 * total is counted one row per cycle from the start, which keeps the partial budget ahead of the
 * elapsed cycles, so the flag is exact.
 */
import type { Derived } from '../../src/config/derive.ts';
import { add, cat, lit, sub, type Expr, type Signal } from '../hdl/index.ts';
import { burstCalc } from './burst.ts';
import { Fields, unpackEntry, ENTRY_BITS } from './insn.ts';
import { type SramGeom, bankOf } from './sram.ts';
import {
  Mb, T, addw, all, any, bitsFor, c, catRev, eqc, inc, inv, isZero, laneOf, laneRotl, laneRotr, laneShl, laneShr, log2i, mulConst,
  nonZero, rz, satDec, sel, ueq, ult, umin, dec, F, lec,
} from './util.ts';
import { eq } from '../hdl/index.ts';

interface ReqSide {
  req: Expr;
  addr: Expr;
  beats: Expr;
  lastGrant: Expr;
}

interface MemFields {
  sramBase: Expr;
  dramBase: Expr;
  ySize: Expr;
  xSize: Expr;
  xStride: Expr;
  yp0: Expr;
  yp1: Expr;
  xp0: Expr;
  xp1: Expr;
}

function memFields(d: Derived, insn: Expr): MemFields {
  const f = new Fields(d, insn);
  return {
    sramBase: f.mem('sram_base'),
    dramBase: f.mem('dram_base'),
    ySize: f.mem('y_size'),
    xSize: f.mem('x_size'),
    xStride: f.mem('x_stride'),
    yp0: f.mem('y_pad_0'),
    yp1: f.mem('y_pad_1'),
    xp0: f.mem('x_pad_0'),
    xp1: f.mem('x_pad_1'),
  };
}

/** The entry of the transfer in progress: the queue head in the start cycle, then a register. */
function latchEntry(mb: Mb, start: Expr, entry: Signal): Expr {
  const q = mb.reg('entry_q', entry.width, null);
  mb.next(q, entry, start);
  return mb.w('cur_entry', sel(start, entry, q));
}

const shlE = (x: Expr, logE: number) => (logE ? cat(x, lit(logE, 0)) : x);

/** Row/burst request generator (§6.1, §8.2); `start` loads the first row combinationally. */
function requestSide(mb: Mb, d: Derived, logE: number, start: Expr, f: MemFields, grant: Expr): ReqSide {
  const a0 = mb.w('rq_a0', rz(shlE(f.dramBase, logE), 32));
  const len = mb.w('rq_len', rz(shlE(f.xSize, logE), 33));
  const stride = mb.w('rq_stride', rz(shlE(f.xStride, logE), 32));
  const active = mb.reg('rq_active', 1);
  const rowAddr = mb.reg('rq_row', 32);
  const cur = mb.reg('rq_cur', 33);
  const rowEnd = mb.reg('rq_row_end', 33);
  const rows = mb.reg('rq_rows', 16);
  const activeE = mb.w('rq_active_e', sel(start, nonZero(f.ySize), active));
  const rowAddrE = mb.w('rq_row_e', sel(start, a0, rowAddr));
  const curE = mb.w('rq_cur_e', sel(start, rz(a0, 33), cur));
  const rowEndE = mb.w('rq_row_end_e', sel(start, add(rz(a0, 33), len), rowEnd));
  const rowsE = mb.w('rq_rows_e', sel(start, f.ySize, rows));
  const bc = burstCalc(mb, 'rq', d, curE, rowEndE);
  const rowDone = mb.w('rq_row_done', eq(bc.end, rowEndE));
  const lastRow = eqc(rowsE, 1);
  const g = mb.w('rq_g', all(grant, activeE));
  const nextRow = mb.w('rq_next_row', add(rowAddrE, stride));
  const gRow = all(g, rowDone);
  mb.next(active, sel(all(gRow, lastRow), F, activeE));
  mb.next(rowAddr, sel(gRow, nextRow, rowAddrE));
  mb.next(cur, sel(g, sel(rowDone, rz(nextRow, 33), bc.end), curE));
  mb.next(rowEnd, sel(gRow, add(rz(nextRow, 33), len), rowEndE));
  mb.next(rows, sel(gRow, dec(rowsE), rowsE));
  return { req: activeE, addr: rz(bc.addr, 32), beats: bc.beats, lastGrant: all(gRow, lastRow) };
}

/**
 * The §10 busy budget: 1 + P + beats*CPB cycles from the start, with the beats of one row added
 * per cycle. Returns the busy flag for cycles after the start.
 */
function busyBudget(mb: Mb, d: Derived, logE: number, start: Expr, f: MemFields, pads: Expr): Expr {
  const lb = log2i(d.busBytes);
  const BW = 44;
  const oa = mb.reg('ob_addr', 32);
  const orows = mb.reg('ob_rows', 16);
  const left = mb.reg('ob_left', BW);
  const oaE = sel(start, rz(shlE(f.dramBase, logE), 32), oa);
  const orowsE = sel(start, f.ySize, orows);
  const leftE = sel(start, addw(pads, c(1, 1), BW), left);
  const len = rz(shlE(f.xSize, logE), 33);
  const a33 = rz(oaE, 33);
  const lastByte = sub(add(a33, len), lit(33, 1));
  const words = mb.w('ob_words', rz(inc(sub(lastByte.slice(32, lb), a33.slice(32, lb))), BW));
  const addBeats = sel(nonZero(orowsE), mulConst(words, d.mem.cyclesPerBeat, BW), lit(BW, 0));
  mb.next(left, satDec(add(leftE, addBeats)));
  mb.next(oa, add(oaE, rz(shlE(f.xStride, logE), 32)));
  mb.next(orows, satDec(orowsE));
  return nonZero(left);
}

/** Pad walker state machine; returns {write, addr, done-after-this-cycle}. */
function padWalker(mb: Mb, g: SramGeom, start: Expr, f: MemFields, fpEnd: Expr, blocked: Expr): { write: Expr; addr: Expr; phaseNext: Expr } {
  const ld = g.ld;
  const TOP = 0;
  const MID = 1;
  const BOT = 2;
  const DONE = 3;
  const W = mb.w('pw_w', addw(addw(f.xp0, f.xSize, 17), f.xp1, 17));
  const xs = rz(f.xSize, ld);
  const phase = mb.reg('pw_phase', 2, DONE);
  const pa = mb.reg('pw_addr', ld);
  const pcol = mb.reg('pw_col', 17);
  const prow = mb.reg('pw_row', 16);
  const inA = mb.reg('pw_in_a', 1);
  const run = mb.reg('pw_run', 4);
  const hasTop = nonZero(f.yp0);
  const hasMid = all(nonZero(f.ySize), any(nonZero(f.xp0), nonZero(f.xp1)));
  const hasBot = nonZero(f.yp1);
  const botAddr = mb.w('pw_bot_addr', rz(sub(fpEnd, lit(fpEnd.width, 1)), ld));
  const xp0nz = nonZero(f.xp0);
  const xp1nz = nonZero(f.xp1);
  const xp0m1 = dec(f.xp0);
  const xp1m1 = dec(f.xp1);

  // "mid or bottom or done" entered at data-region address `a`
  type St = { phase: Expr; pa: Expr; pcol: Expr; prow: Expr; inA: Expr; run: Expr };
  const botOrDone = (): St => ({
    phase: sel(hasBot, c(2, BOT), c(2, DONE)), pa: botAddr, pcol: lit(17, 0), prow: lit(16, 0), inA: F, run: lit(4, 0),
  });
  const midStart = (a: Expr, row: Expr): St => ({
    phase: c(2, MID), pa: sel(xp0nz, a, add(a, xs)), pcol: lit(17, 0), prow: row, inA: xp0nz, run: sel(xp0nz, xp0m1, xp1m1),
  });
  const choose = (cond: Expr, x: St, y: St): St => ({
    phase: sel(cond, x.phase, y.phase), pa: sel(cond, x.pa, y.pa), pcol: sel(cond, x.pcol, y.pcol), prow: sel(cond, x.prow, y.prow),
    inA: sel(cond, x.inA, y.inA), run: sel(cond, x.run, y.run),
  });
  const midOrBot = (a: Expr): St => choose(hasMid, midStart(a, lit(16, 0)), botOrDone());
  const sb = rz(f.sramBase, ld);
  const init = choose(hasTop, { phase: c(2, TOP), pa: sb, pcol: lit(17, 0), prow: lit(16, 0), inA: F, run: lit(4, 0) }, midOrBot(sb));

  const pa1 = mb.w('pw_addr1', inc(pa));
  const lastCol = mb.w('pw_last_col', eq(inc(pcol), W));
  const colNext = sel(lastCol, lit(17, 0), inc(pcol));
  const rowNext = sel(lastCol, inc(prow), prow);
  // TOP: forwards over W*y_pad_0 elements
  const topLast = all(lastCol, ueq(inc(prow), f.yp0));
  const topAdv = choose(topLast, midOrBot(pa1), { phase: c(2, TOP), pa: pa1, pcol: colNext, prow: rowNext, inA: F, run: lit(4, 0) });
  // MID: x_pad_0 run, jump over the data, x_pad_1 run, next row
  const runEnd = isZero(run);
  const rowLast = ueq(inc(prow), f.ySize);
  const rowStartNext = mb.w('pw_row_next', add(pa1, sel(inA, xs, lit(ld, 0))));
  const midRowEnd = choose(rowLast, botOrDone(), midStart(rowStartNext, inc(prow)));
  const midAdv = choose(
    inv(runEnd),
    { phase: c(2, MID), pa: pa1, pcol: lit(17, 0), prow, inA, run: dec(run) },
    choose(all(inA, xp1nz), { phase: c(2, MID), pa: add(pa1, xs), pcol: lit(17, 0), prow, inA: F, run: xp1m1 }, midRowEnd),
  );
  // BOT: backwards from the footprint end over W*y_pad_1 elements
  const botLast = all(lastCol, ueq(inc(prow), f.yp1));
  const botAdv: St = {
    phase: sel(botLast, c(2, DONE), c(2, BOT)), pa: dec(pa), pcol: colNext, prow: rowNext, inA: F, run: lit(4, 0),
  };
  const isTop = eqc(phase, TOP);
  const isMid = eqc(phase, MID);
  const adv = choose(isTop, topAdv, choose(isMid, midAdv, botAdv));
  const write = mb.w('pw_write', all(inv(eqc(phase, DONE)), inv(blocked)));
  const hold: St = { phase, pa, pcol, prow, inA, run };
  const nxt = choose(start, init, choose(write, adv, hold));
  const phaseNext = mb.w('pw_phase_next', nxt.phase);
  mb.next(phase, phaseNext);
  mb.next(pa, nxt.pa);
  mb.next(pcol, nxt.pcol);
  mb.next(prow, nxt.prow);
  mb.next(inA, nxt.inA);
  mb.next(run, nxt.run);
  return { write, addr: pa, phaseNext };
}

/**
 * Read engine of one buffer. Ports: start (the LOAD with x_size > 0 starts; `entry` is its
 * command-queue entry in that cycle), grant, rbeat/rdata; outputs req/req_addr/req_beats, the SRAM
 * write ports (per bank), `done` (this is the last active cycle), `done_at_start` (nothing to move:
 * workEnd = start + 1), `busy` (§10 busy rather than waitMemory, while in flight).
 */
export function dmaReadModule(name: string, d: Derived, g: SramGeom): Mb {
  const mb = new Mb(name, [`DMA read engine for ${g.buf.toUpperCase()}: bursts, beat-to-SRAM writes, zero padding`]);
  const logE = log2i(d.elemBytes[g.buf]);
  const start = mb.input('start');
  const entryIn = mb.input('entry', ENTRY_BITS);
  const grant = mb.input('grant');
  const rbeat = mb.input('rbeat');
  const rdata = mb.input('rdata', d.busWidth);
  const e = unpackEntry(latchEntry(mb, start, entryIn));
  const f = memFields(d, e.insn);
  const ld = g.ld;
  const nb = g.banks;
  const lnb = log2i(nb);

  const rq = requestSide(mb, d, logE, start, f, grant);
  mb.output('req', rq.req);
  mb.output('req_addr', rq.addr);
  mb.output('req_beats', rq.beats);

  const W = addw(addw(f.xp0, f.xSize, 17), f.xp1, 17);
  const Wl = rz(W, ld);
  const s0 = rz(e.s0, ld);
  const dataDone = mb.reg('data_done', 1, 1);
  const ptr = mb.reg('d_ptr', ld);
  const rowSram = mb.reg('d_row', ld);
  const cnt = mb.reg('d_cnt', 16);
  const drows = mb.reg('d_rows', 16);
  const zeroData = isZero(f.ySize);

  let lastBeat: Expr;
  const beatWe: Expr[] = [];
  const beatAddr: Expr[] = [];
  const beatData: Expr[] = [];
  if (g.lanes > 1) {
    // elements narrower than the bus: lanes lo .. lo+n-1 of the beat are elements ptr .. ptr+n-1
    const L = g.lanes;
    const lL = log2i(L);
    const lo = mb.reg('d_lo', lL);
    const dlow = mb.reg('d_dlow', lL);
    const strideLow = rz(f.xStride, lL);
    const room = mb.w('d_room', sub(c(lL + 1, L), rz(lo, lL + 1)));
    const n = mb.w('d_n', rz(umin(rz(cnt, 17), rz(room, 17)), lL + 1));
    const cntA = sub(cnt, rz(n, 16));
    const rowEnd = mb.w('d_row_end', isZero(cntA));
    lastBeat = mb.w('d_last_beat', all(rbeat, rowEnd, eqc(drows, 1)));
    const newLow = add(dlow, strideLow);
    const rowNext = add(rowSram, Wl);
    const init0 = rz(f.dramBase, lL);
    mb.next(lo, sel(start, init0, sel(rowEnd, newLow, lit(lL, 0))), any(start, rbeat));
    mb.next(dlow, sel(start, init0, newLow), any(start, all(rbeat, rowEnd)));
    mb.next(cnt, sel(start, f.xSize, sel(rowEnd, f.xSize, cntA)), any(start, rbeat));
    mb.next(drows, sel(start, f.ySize, dec(drows)), any(start, all(rbeat, rowEnd)));
    mb.next(rowSram, sel(start, s0, rowNext), any(start, all(rbeat, rowEnd)));
    mb.next(ptr, sel(start, s0, sel(rowEnd, rowNext, add(ptr, rz(n, ld)))), any(start, rbeat));
    // bank b takes lane lo + ((b - ptr) mod nb)
    const v1 = laneShr(rdata, lo, g.ew).slice(nb * g.ew - 1, 0);
    const pLow = nb > 1 ? ptr.slice(lnb - 1, 0) : lit(1, 0);
    const v2 = mb.w('d_lanes', nb > 1 ? laneRotl(v1, pLow, g.ew, nb) : v1);
    for (let b = 0; b < nb; b++) {
      const j = nb > 1 ? sub(c(lnb, b), pLow) : lit(1, 0);
      const elem = add(ptr, rz(j, ld));
      beatWe.push(all(rbeat, ult(j, n)));
      beatAddr.push(bankOf(g, elem).addr);
      beatData.push(laneOf(v2, b, g.ew));
    }
  } else {
    // an element per beat, or per `slices` beats (staged, written with the last slice)
    const r = g.slices;
    let lastSlice: Expr = T;
    let element: Expr = rdata;
    if (r > 1) {
      const slice = mb.reg('d_slice', log2i(r));
      const stage = mb.reg('d_stage', (r - 1) * d.busWidth, null);
      lastSlice = eqc(slice, r - 1);
      mb.next(slice, sel(start, lit(log2i(r), 0), inc(slice)), any(start, rbeat));
      mb.next(stage, r === 2 ? rdata : cat(rdata, stage.slice((r - 1) * d.busWidth - 1, d.busWidth)), rbeat);
      element = cat(rdata, stage);
    }
    const ew = all(rbeat, lastSlice);
    const cntA = dec(cnt);
    const rowEnd = mb.w('d_row_end', isZero(cntA));
    lastBeat = mb.w('d_last_beat', all(ew, rowEnd, eqc(drows, 1)));
    const rowNext = add(rowSram, Wl);
    mb.next(cnt, sel(start, f.xSize, sel(rowEnd, f.xSize, cntA)), any(start, ew));
    mb.next(drows, sel(start, f.ySize, dec(drows)), any(start, all(ew, rowEnd)));
    mb.next(rowSram, sel(start, s0, rowNext), any(start, all(ew, rowEnd)));
    mb.next(ptr, sel(start, s0, sel(rowEnd, rowNext, inc(ptr))), any(start, ew));
    for (let b = 0; b < nb; b++) {
      const bo = bankOf(g, ptr);
      beatWe.push(all(ew, nb > 1 ? eqc(bo.bank, b) : T));
      beatAddr.push(bo.addr);
      beatData.push(element);
    }
  }
  mb.next(dataDone, sel(start, zeroData, any(dataDone, lastBeat)));

  // zero padding in cycles without a beat of this transfer
  const pw = padWalker(mb, g, start, f, e.fpEnd, rbeat);
  const pb = bankOf(g, pw.addr);
  const we: Expr[] = [];
  const wa: Expr[] = [];
  const wd: Expr[] = [];
  for (let b = 0; b < nb; b++) {
    const padHere = all(pw.write, nb > 1 ? eqc(pb.bank, b) : T);
    we.push(any(beatWe[b], padHere));
    wa.push(sel(rbeat, beatAddr[b], pb.addr));
    wd.push(sel(rbeat, beatData[b], lit(g.ew, 0)));
  }
  mb.output('sram_we', catRev(we));
  mb.output('sram_waddr', catRev(wa));
  mb.output('sram_wdata', catRev(wd));

  // in flight from the cycle after start; done in the last active cycle
  const inflight = mb.reg('inflight', 1);
  const atStart = mb.w('at_start', all(zeroData, isZero(e.pads)));
  const done = mb.w('done_w', all(inflight, any(dataDone, lastBeat), eqc(pw.phaseNext, 3)));
  mb.next(inflight, sel(start, inv(atStart), all(inflight, inv(done))));
  mb.output('done', done);
  mb.output('done_at_start', atStart);
  const busy = busyBudget(mb, d, logE, start, f, e.pads);
  mb.output('busy', all(inflight, busy));
  mb.sink(e.index, e.insn, e.s0, e.fpEnd, rq.lastGrant);
  return mb;
}

/**
 * Write engine of STORE. Ports: start/entry, grant, mem_wready, mem_bvalid, the OUT SRAM read
 * (ren, raddr per bank, rdata); outputs the request, mem_wdata/wstrb/wvalid, done, done_at_start, busy.
 */
export function dmaWriteModule(name: string, d: Derived, g: SramGeom): Mb {
  const mb = new Mb(name, ['DMA write engine for STORE: bursts, OUT read ahead, beats with byte enables, responses']);
  const logE = log2i(d.elemBytes.out);
  const start = mb.input('start');
  const entryIn = mb.input('entry', ENTRY_BITS);
  const grant = mb.input('grant');
  const wready = mb.input('wready');
  const bvalid = mb.input('bvalid');
  const rdata = mb.input('rdata', g.banks * g.ew);
  const e = unpackEntry(latchEntry(mb, start, entryIn));
  const f = memFields(d, e.insn);
  const ld = g.ld;
  const nb = g.banks;
  const lnb = log2i(nb);
  const BUS = d.busWidth;
  const BB = d.busBytes;

  const rq = requestSide(mb, d, logE, start, f, grant);
  mb.output('req', rq.req);
  mb.output('req_addr', rq.addr);
  mb.output('req_beats', rq.beats);

  // responses: done when the last burst's response arrives
  const pend = mb.reg('resp_pend', bitsFor(d.mem.outstanding) + 1);
  const reqDone = mb.reg('req_done', 1, 1);
  const g1 = all(grant, rq.req);
  mb.next(pend, sub(add(pend, rz(g1, pend.width)), rz(all(bvalid, nonZero(pend)), pend.width)));
  mb.next(reqDone, any(rq.lastGrant, sel(start, isZero(f.ySize), reqDone)));
  const inflight = mb.reg('inflight', 1);
  const atStart = mb.w('at_start', isZero(f.ySize));
  const done = mb.w('done_w', all(inflight, bvalid, eqc(pend, 1), reqDone));
  mb.next(inflight, sel(start, inv(atStart), all(inflight, inv(done))));
  mb.output('done', done);
  mb.output('done_at_start', atStart);
  // beats granted and not yet taken (mem_wvalid)
  const wpend = mb.reg('wpend', 16);
  mb.next(wpend, sub(add(wpend, sel(g1, rz(rq.beats, 16), lit(16, 0))), rz(wready, 16)));
  mb.output('mem_wvalid', nonZero(wpend));

  // beat walker: state of the beat presented this cycle (read in the previous cycle)
  const sb = rz(f.sramBase, ld);
  const ptr = mb.reg('w_ptr', ld);
  const raddr: Expr[] = [];
  let wdata: Expr;
  let wstrb: Expr;
  if (g.lanes > 1) {
    const L = g.lanes;
    const lL = log2i(L);
    const E = d.elemBytes.out;
    const cnt = mb.reg('w_cnt', 16);
    const lo = mb.reg('w_lo', lL);
    const dlow = mb.reg('w_dlow', lL);
    const init0 = rz(f.dramBase, lL);
    const ptrE = mb.w('w_ptr_e', sel(start, sb, ptr));
    const cntE = mb.w('w_cnt_e', sel(start, f.xSize, cnt));
    const loE = mb.w('w_lo_e', sel(start, init0, lo));
    const dlowE = mb.w('w_dlow_e', sel(start, init0, dlow));
    const stepOf = (p: Expr, cn: Expr, l: Expr, dl: Expr) => {
      const room = sub(c(lL + 1, L), rz(l, lL + 1));
      const n = rz(umin(rz(cn, 17), rz(room, 17)), lL + 1);
      const cntA = sub(cn, rz(n, 16));
      const rowEnd = isZero(cntA);
      const newLow = add(dl, rz(f.xStride, lL));
      return {
        n,
        next: {
          ptr: add(p, rz(n, ld)),
          cnt: sel(rowEnd, f.xSize, cntA),
          lo: sel(rowEnd, newLow, lit(lL, 0)),
          dlow: sel(rowEnd, newLow, dl),
        },
      };
    };
    const cur = stepOf(ptrE, cntE, loE, dlowE);
    const curN = mb.w('w_n', cur.n);
    const nx = {
      ptr: mb.w('w_ptr_n', cur.next.ptr),
      cnt: mb.w('w_cnt_n', cur.next.cnt),
      lo: mb.w('w_lo_n', cur.next.lo),
      dlow: mb.w('w_dlow_n', cur.next.dlow),
    };
    const nn = stepOf(nx.ptr, nx.cnt, nx.lo, nx.dlow).n;
    mb.next(ptr, sel(wready, nx.ptr, ptrE));
    mb.next(cnt, sel(wready, nx.cnt, cntE));
    mb.next(lo, sel(wready, nx.lo, loE));
    mb.next(dlow, sel(wready, nx.dlow, dlowE));
    // read the beat presented next cycle
    const rp = mb.w('w_rd_ptr', sel(wready, nx.ptr, ptrE));
    const rLo = sel(wready, nx.lo, loE);
    const rN = sel(wready, nn, curN);
    const pLow = nb > 1 ? rp.slice(lnb - 1, 0) : lit(1, 0);
    for (let b = 0; b < nb; b++) {
      const j = nb > 1 ? sub(c(lnb, b), pLow) : lit(1, 0);
      raddr.push(bankOf(g, add(rp, rz(j, ld))).addr);
    }
    const loQ = mb.reg('w_lo_q', lL, null);
    const nQ = mb.reg('w_n_q', lL + 1, null);
    const pQ = mb.reg('w_p_q', Math.max(1, lnb), null);
    mb.next(loQ, rLo);
    mb.next(nQ, rN);
    mb.next(pQ, rz(pLow, Math.max(1, lnb)));
    // lane j of the rotated bank data is element ptr + j; it goes to lane lo + j
    const v1 = nb > 1 ? laneRotr(rdata, pQ, g.ew, nb) : rdata;
    wdata = mb.w('w_data', laneShl(rz(v1, BUS), loQ, g.ew));
    const strb: Expr[] = [];
    for (let i = 0; i < L; i++) {
      const on = all(lec(loQ, i), ult(c(lL + 1, i), add(rz(loQ, lL + 1), nQ)));
      for (let k = 0; k < E; k++) strb.push(on);
    }
    wstrb = catRev(strb);
  } else {
    const r = g.slices;
    const ptrE = mb.w('w_ptr_e', sel(start, sb, ptr));
    let rp: Expr;
    if (r > 1) {
      const slice = mb.reg('w_slice', log2i(r));
      const sliceE = sel(start, lit(log2i(r), 0), slice);
      const wrap = eqc(sliceE, r - 1);
      const ptrN = sel(wrap, inc(ptrE), ptrE);
      mb.next(slice, sel(wready, inc(sliceE), sliceE));
      mb.next(ptr, sel(wready, ptrN, ptrE));
      rp = mb.w('w_rd_ptr', sel(wready, ptrN, ptrE));
      const sQ = mb.reg('w_slice_q', log2i(r), null);
      mb.next(sQ, sel(wready, inc(sliceE), sliceE));
      wdata = mb.w('w_data', laneShr(rdata, sQ, BUS).slice(BUS - 1, 0));
    } else {
      mb.next(ptr, sel(wready, inc(ptrE), ptrE));
      rp = mb.w('w_rd_ptr', sel(wready, inc(ptrE), ptrE));
      wdata = rdata;
    }
    raddr.push(bankOf(g, rp).addr);
    wstrb = lit(BB, (1n << BigInt(BB)) - 1n);
  }
  mb.output('mem_wdata', wdata);
  mb.output('mem_wstrb', wstrb);
  mb.output('sram_ren', T);
  mb.output('sram_raddr', catRev(raddr));
  const busy = busyBudget(mb, d, logE, start, f, lit(1, 0));
  mb.output('busy', all(inflight, busy));
  mb.sink(e.index, e.insn, e.s0, e.fpEnd, e.pads);
  return mb;
}
