/**
 * DMA engines of docs/microarch.md §6: the read engine of LOAD and the write engine of STORE.
 *
 * One read engine per module serves every buffer that module loads (the load module: INP and WGT;
 * the compute module: UOP and ACC), or with DMA_READ_ENGINES 1 one engine all four (§6: a LOAD then
 * also waits for the engine): a module runs one LOAD at a time (§6, §8.1), so the request
 * side, the §10 busy budget, the pad walker and the row/element counters are shared, and only the
 * per-buffer constants (element bytes, lanes, slices, banks, depth) are selected by the memory type
 * of the transfer in progress (taken from the command-queue head in the start cycle, then latched).
 * Each buffer keeps its own SRAM write port (`<buf>_we/_waddr/_wdata`) and its own request line
 * (`req_<buf>`, for the arbiter's client priority); the address and beat count are common.
 *
 * Requests: the rows of the transfer split into bursts by §8.2 (burst.ts, in bus words: the word of
 * the next burst and the words of its row already requested); the first request is asserted in the
 * start cycle (from the command-queue head), the next from the cycle after each grant.
 * Read data: every beat is written into the SRAM in the cycle it arrives (lanes of one wide write
 * when elements are narrower than the bus; one part of the element, with its own write enable, when
 * they are wider). Padding: one zero element per cycle in cycles without a beat of this
 * transfer, from start + 1: forwards from sram_base over the top rows and the left pad of the first
 * data row, then over the gap (right pad + left pad) between consecutive data rows, then backwards
 * from the footprint end over the rest; a count of the pads left ends it. Done (the last active
 * cycle) when the last beat and the last pad are written: workEnd = max(dataEnd, start + 1 + beats + P);
 * with READ_DONE_REG a register holds that done for one cycle more (workEnd one later, §18).
 * Write data: the OUT SRAM is read one beat ahead, so the beat the memory takes in cycle c was read in
 * c - 1; done when the response of the last burst arrives.
 * Observation: `busy` for the first min(workEnd - start, 1 + beats*CPB + P) cycles (§10), a
 * count-down of that budget (only the observation ports use it; a board's synthesis removes it).
 *
 * Widths: only legal instructions are dispatched (§9.1, checked by fetch), so for a transfer with
 * x_size > 0 the footprint W*H (W = x_pad_0 + x_size + x_pad_1, H = y_pad_0 + y_size + y_pad_1)
 * fits the buffer: x_size, y_size (when H > 0), the pad count, sram_base + W*H and every SRAM index
 * are at most the depth, and every row lies below 2^MEM_ADDR_BITS bytes. Counters are therefore
 * log2(depth) + 1 bits of the largest buffer and addresses MEM_ADDR_BITS bits (a LOAD with
 * y_size = 0 and no pad rows, whose x_size is unbounded, moves nothing and ends at its start).
 */
import type { BufferName, Derived } from '../../src/config/derive.ts';
import { MEM_TYPES } from '../../src/isa/constants.ts';
import {
  HdlError, add, and, cat, eq, lit, repeat, sext, sub, Const, F, Mb, T, all, any, bitsFor, c, catRev, dec, eqc, gtc, inc, inv, isZero,
  laneOf, laneRotl, laneRotr, laneShl, laneShr, lec, log2i, mulConst, nonZero, pick, rz, satDec, sel, ule, ult, umin, type Expr,
  type Signal,
} from '../hdl/index.ts';
import { burstWords } from './burst.ts';
import { Fields, entryLayout, unpackEntry } from './insn.ts';
import { type SramGeom, bankOf } from './sram.ts';

const MEM_TYPE_OF: Record<BufferName, number> = {
  uop: MEM_TYPES.UOP, wgt: MEM_TYPES.WGT, inp: MEM_TYPES.INP, acc: MEM_TYPES.ACC, out: MEM_TYPES.OUT,
};

const shlE = (x: Expr, k: number) => (k ? cat(x, lit(k, 0)) : x);

/** e - 1 saturating at 0, as one subtraction of e != 0. */
const decSat = (e: Expr) => sub(e, rz(nonZero(e), e.width));

/** xs[i] for the buffer i selected by t (null: one buffer); equal constants are not multiplexed. */
function per(t: Expr | null, xs: Expr[]): Expr {
  if (xs.length === 1 || t === null) return xs[0];
  if (xs.some((x) => x.width !== xs[0].width)) throw new HdlError(`per: values of ${xs.map((x) => x.width).join(', ')} bits`);
  const a = xs[0];
  const same = (b: Expr) => a === b || (a instanceof Const && b instanceof Const && a.value === b.value);
  if (xs.every(same)) return a;
  if (xs.length === 2) return sel(t, xs[1], xs[0]);
  return pick(t, xs);
}

/** The transfer's instruction fields in the start cycle (the command-queue head), narrowed. */
interface StartFields {
  dram: Expr;
  sb: Expr;
  x: Expr;
  y: Expr;
  stride: Expr;
  xp0: Expr;
  xp1: Expr;
  yp0: Expr;
  s0: Expr;
  fpEnd: Expr;
  pads: Expr;
}

/** What every engine shares: the buffer selection, the start-cycle fields and the latched ones. */
interface Ctx {
  mb: Mb;
  d: Derived;
  bufs: SramGeom[];
  logE: number[];
  start: Expr;
  /** Buffer index (log2 of the buffers; null with one): from the queue head (S), latched (Q), effective (E). */
  tS: Expr | null;
  tQ: Expr | null;
  tE: Expr | null;
  /** SRAM index width (largest buffer), element-count width, address width, log2 bus bytes. */
  ldm: number;
  XW: number;
  AW: number;
  lb: number;
  s: StartFields;
  /** x_pad_0 + x_pad_1 = W - x_size: at the start (gapS), latched (gapQ). */
  gapS: Expr;
  gapQ: Expr;
  /** x_size and x_stride: latched at the start (q), or the queue head's in the start cycle (e). */
  xQ: Expr;
  strideQ: Expr;
  xE: Expr;
  strideE: Expr;
  /** Bus word of the first row (queue head, start cycle). */
  a0: Expr;
}

function context(mb: Mb, d: Derived, bufs: SramGeom[], start: Expr, entry: Expr, withPads: boolean): Ctx {
  const e = unpackEntry(entryLayout(d), entry);
  const f = new Fields(d, e.insn);
  const ldm = Math.max(...bufs.map((g) => g.ld));
  const XW = ldm + 1;
  const AW = Math.min(32, d.mem.addrBits);
  const lb = log2i(d.busBytes);
  const logE = bufs.map((g) => log2i(d.elemBytes[g.buf]));
  let tS: Expr | null = null;
  let tQ: Expr | null = null;
  let tE: Expr | null = null;
  if (bufs.length > 1) {
    // the index of the buffer whose memory type the head names (a legal LOAD names one of them)
    const tw = log2i(bufs.length);
    const mt = f.mem('memory_type');
    const bit = (k: number) => any(...bufs.map((g, i) => ((i >> k) & 1 ? eqc(mt, MEM_TYPE_OF[g.buf]) : F)));
    tS = mb.w('buf_s', catRev(Array.from({ length: tw }, (_, k) => bit(k))));
    const q = mb.reg('buf_q', tw, null);
    mb.next(q, tS, start);
    tQ = q;
    tE = mb.w('buf_e', sel(start, tS, q));
  }
  const s: StartFields = {
    dram: f.mem('dram_base'),
    sb: rz(f.mem('sram_base'), ldm),
    x: rz(f.mem('x_size'), XW),
    y: rz(f.mem('y_size'), XW),
    stride: f.mem('x_stride'),
    xp0: f.mem('x_pad_0'),
    xp1: f.mem('x_pad_1'),
    yp0: f.mem('y_pad_0'),
    s0: rz(e.s0, ldm),
    fpEnd: rz(e.fpEnd, ldm),
    pads: rz(e.pads, XW),
  };
  mb.sink(entry);
  const xQ = mb.reg('x_q', XW, null);
  const strideQ = mb.reg('stride_q', s.stride.width, null);
  mb.next(xQ, s.x, start);
  mb.next(strideQ, s.stride, start);
  const a0 = mb.w('a0_word', per(tS, logE.map((k) => rz(k >= lb ? shlE(s.dram, k - lb) : s.dram.slice(31, lb - k), AW - lb))));
  let gapS: Expr = lit(5, 0);
  let gapQ: Expr = lit(5, 0);
  if (withPads) {
    gapS = mb.w('gap_s', add(rz(s.xp0, 5), rz(s.xp1, 5)));
    const q = mb.reg('gap_q', 5, null);
    mb.next(q, gapS, start);
    gapQ = q;
  }
  return {
    mb, d, bufs, logE, start, tS, tQ, tE, ldm, XW, AW, lb, s, gapS, gapQ, xQ, strideQ,
    // (with MEM_REQ_REG the request side reads x_q and stride_q: no named wires, which it would leave unused)
    xE: d.memReqReg ? sel(start, s.x, xQ) : mb.w('x_e', sel(start, s.x, xQ)),
    strideE: d.memReqReg ? sel(start, s.stride, strideQ) : mb.w('stride_e', sel(start, s.stride, strideQ)),
    a0,
  };
}

/** Width of a row's word count (rowWords). */
function rowWordsWidth(cx: Ctx): number {
  return Math.max(...cx.logE.map((k) => (k >= cx.lb ? cx.XW + k - cx.lb : cx.XW + 1)));
}

/** log2 of the elements of buffer i in one bus word (0 for elements as wide as the bus or wider). */
const laneBitsOf = (cx: Ctx, i: number) => Math.max(0, cx.lb - cx.logE[i]);

/** Width of a row start's lane (the largest laneBitsOf; 0 when every element fills a word). */
const laneWidth = (cx: Ctx) => Math.max(...cx.bufs.map((_, i) => laneBitsOf(cx, i)));

/** The lane of the first row (element dram_base in its bus word), per the buffer selection `t`. */
function firstLane(cx: Ctx, t: Expr | null): Expr {
  const lLm = laneWidth(cx);
  return per(t, cx.bufs.map((_, i) => (laneBitsOf(cx, i) ? rz(cx.s.dram.slice(laneBitsOf(cx, i) - 1, 0), lLm) : lit(lLm, 0))));
}

/**
 * Bus words spanned by a row of `x` elements of buffer i whose first element is in lane `lane` of
 * its bus word: x*E/BB for elements as wide as the bus or wider (rows are then word aligned), else
 * ceil((lane + x) / lanes).
 */
function rowWords(cx: Ctx, i: number, lane: Expr, x: Expr): Expr {
  const k = cx.logE[i];
  const RW = rowWordsWidth(cx);
  if (k >= cx.lb) return rz(shlE(x, k - cx.lb), RW);
  const lL = laneBitsOf(cx, i);
  const w = Math.max(x.width, lL) + 2;
  const sum = add(add(rz(x, w), rz(rz(lane, lL), w)), c(w, (1 << lL) - 1));
  return rz(sum.slice(w - 1, lL), RW);
}

/**
 * From a row starting in lane `lane` of its bus word to the next row (x_stride elements on): the
 * words between their first words and the next row's lane.
 */
function rowAdvance(cx: Ctx, i: number, lane: Expr, stride: Expr, w: number): { words: Expr; lane: Expr } {
  const k = cx.logE[i];
  const lLm = laneWidth(cx);
  if (k >= cx.lb) return { words: rz(shlE(stride, k - cx.lb), w), lane: lit(Math.max(1, lLm), 0) };
  const lL = laneBitsOf(cx, i);
  const sum = add(rz(stride, stride.width + 1), rz(rz(lane, lL), stride.width + 1));
  return { words: rz(sum.slice(sum.width - 1, lL), w), lane: rz(sum.slice(lL - 1, 0), lLm) };
}

interface ReqSide {
  active: Expr;
  /** This engine is granted (its request granted while active). */
  g: Expr;
  addr: Expr;
  beats: Expr;
  lastGrant: Expr;
}

/**
 * Row/burst request generator (§6.1, §8.2), in bus words: the word of the next burst, the words of
 * the row already requested, the row's first lane and the rows left. After the last burst of a row
 * the word moves back to the row's first word and on to the next row's. The start cycle takes the
 * queue head's row 0.
 *
 * MEM_REQ_REG (§21): the arbiter grants a request from the cycle after it rises, so never in the
 * start cycle. The request line still rises in the start cycle (from the head's y_size), but the
 * burst (address, beats) and the next state are computed from the registers only (loaded with the
 * head's row 0 in the start cycle): no path from the queue head or the grant runs through the burst
 * arithmetic.
 */
function requestSide(cx: Ctx, grant: Expr): ReqSide {
  const { mb, d, start, s, AW, lb, XW } = cx;
  const RW = rowWordsWidth(cx);
  const WA = AW - lb;
  const lLm = laneWidth(cx);
  const rows = mb.reg('rq_rows', XW);
  const cur = mb.reg('rq_word', WA, null);
  const off = mb.reg('rq_done', RW, null);
  const rowsE = mb.w('rq_rows_e', sel(start, s.y, rows));
  const active = mb.w('rq_active', nonZero(rowsE));
  // the values the burst is computed from, and what the start cycle loads (`load`: the registers'
  // next value; without MEM_REQ_REG the start is already in the values, so nothing)
  let v: { rows: Expr; active: Expr; cur: Expr; off: Expr; lane: Expr; x: Expr; stride: Expr; t: Expr | null };
  let laneR: Signal | null = null;
  let load: (init: () => Expr, x: Expr) => Expr = (_, x) => x;
  if (d.memReqReg) {
    // MEM_REQ_REG: the registers (the start cycle loads them; it is never granted)
    if (lLm > 0) laneR = mb.reg('rq_lane', lLm, null);
    v = { rows, active: mb.w('rq_active_q', nonZero(rows)), cur, off, lane: laneR ?? lit(1, 0), x: cx.xQ, stride: cx.strideQ, t: cx.tQ };
    load = (init, x) => sel(start, init(), x);
  } else {
    const curE = mb.w('rq_word_e', sel(start, cx.a0, cur));
    const offE = sel(start, lit(RW, 0), off);
    let laneE: Expr = lit(1, 0);
    if (lLm > 0) {
      laneR = mb.reg('rq_lane', lLm, null);
      laneE = mb.w('rq_lane_e', sel(start, firstLane(cx, cx.tS), laneR));
    }
    v = { rows: rowsE, active, cur: curE, off: offE, lane: laneE, x: cx.xE, stride: cx.strideE, t: cx.tE };
  }
  const total = per(v.t, cx.bufs.map((_, i) => rowWords(cx, i, v.lane, v.x)));
  const left = mb.w('rq_left', sub(total, v.off));
  const bw = burstWords(mb, 'rq', d, v.cur, left);
  const g = mb.w('rq_g', all(grant, v.active));
  const gRow = all(g, bw.last);
  const lastRow = eqc(v.rows, 1);
  // after a row's last burst: back by the words requested, on by the words to the next row
  const AV = Math.max(...cx.bufs.map((_, i) => v.stride.width + Math.max(0, cx.logE[i] - lb)));
  const advs = cx.bufs.map((_, i) => rowAdvance(cx, i, v.lane, v.stride, AV));
  const adv = per(v.t, advs.map((a) => a.words));
  const DW = Math.max(AV, RW) + 1;
  const delta = sub(rz(adv, DW), rz(v.off, DW));
  const stepW = sel(bw.last, DW >= WA ? rz(delta, WA) : sext(delta, WA), rz(bw.step, WA));
  const step = rz(bw.step, RW);
  mb.next(rows, load(() => s.y, sub(v.rows, rz(gRow, XW))));
  mb.next(cur, load(() => cx.a0, sel(g, add(v.cur, stepW), v.cur)));
  mb.next(off, load(() => lit(RW, 0), sel(g, sel(bw.last, lit(RW, 0), add(v.off, step)), v.off)));
  if (laneR) mb.next(laneR, load(() => firstLane(cx, cx.tS), sel(gRow, per(v.t, advs.map((a) => a.lane)), v.lane)));
  return { active, g, addr: rz(cat(v.cur, lit(lb, 0)), 32), beats: bw.beats, lastGrant: all(gRow, lastRow) };
}

/**
 * The §10 busy budget: 1 + P + beats*CPB cycles from the start; busy while it lasts. When every
 * buffer's elements fill whole bus words the beats are x_size*y_size*E/BB, with x_size*y_size =
 * fp_end - sram_base - P from the queue entry; otherwise (and for STORE, whose entries carry only the
 * instruction) the beats of one row are added per cycle from the start, which keeps the partial
 * budget ahead of the elapsed cycles. The budget is at most 1 + depth*CPB*max(1, E/BB)
 * (beats <= x_size*y_size*max(1, E/BB), P + x_size*y_size <= depth). Returns the busy flag for
 * cycles after the start.
 */
function busyBudget(cx: Ctx, pads: { count: Expr; fpEnd: Expr } | null): Expr {
  const { mb, d, start, s, lb, XW } = cx;
  const CPB = d.mem.cyclesPerBeat;
  const BW = Math.max(...cx.bufs.map((g, i) => bitsFor(1 + g.depth * CPB * Math.max(1, 2 ** (cx.logE[i] - lb)))));
  const left = mb.reg('ob_left', BW);
  if (pads && laneWidth(cx) === 0) {
    // left after the start cycle: B - 1 = P + CPB*beats, beats = (W*H - P)*E/BB, W*H = fp_end - sram_base
    const wh = sub(pads.fpEnd, rz(s.sb, XW));
    const xy = sub(wh, pads.count);
    const beats = per(cx.tS, cx.logE.map((k) => rz(shlE(xy, k - lb), BW)));
    const b1 = add(rz(pads.count, BW), mulConst(beats, CPB, BW));
    mb.next(left, sel(start, b1, decSat(left)));
    return nonZero(left);
  }
  const base = pads ? inc(rz(pads.count, BW)) : c(BW, 1);
  const lLm = laneWidth(cx);
  const leftE = sel(start, base, left);
  const orows = mb.reg('ob_rows', XW);
  const orowsE = sel(start, s.y, orows);
  let laneE: Expr = lit(1, 0);
  let laneR: Signal | null = null;
  if (lLm > 0) {
    laneR = mb.reg('ob_lane', lLm, null);
    laneE = sel(start, firstLane(cx, cx.tS), laneR);
  }
  const words = mb.w('ob_words', rz(per(cx.tE, cx.bufs.map((_, i) => rowWords(cx, i, laneE, cx.xE))), BW));
  const addBeats = sel(nonZero(orowsE), mulConst(words, CPB, BW), lit(BW, 0));
  mb.next(left, decSat(add(leftE, addBeats)));
  if (laneR) mb.next(laneR, per(cx.tE, cx.bufs.map((_, i) => rowAdvance(cx, i, laneE, cx.strideE, 1).lane)));
  mb.next(orows, satDec(orowsE));
  return nonZero(left);
}

/**
 * Pad walker: writes the P padding elements of the footprint, one per cycle in which it is not
 * `blocked`. Forwards from sram_base to the first data element s0 (top rows, left pad of row 0),
 * then, while data rows follow, over the gap [row start + x_size, next row start) (right pad of a
 * row and left pad of the next), then backwards from the footprint end; the count of pads left ends
 * it. Returns {write, addr, idle after this cycle}.
 */
function padWalker(cx: Ctx, blocked: Expr): { write: Expr; addr: Expr; idleNext: Expr } {
  const { mb, start, s, ldm, XW } = cx;
  const pc = mb.reg('pw_left', XW);
  const back = mb.reg('pw_back', 1, null);
  const pa = mb.reg('pw_addr', ldm, null);
  const nd = mb.reg('pw_row', ldm, null);
  const rl = mb.reg('pw_rows', XW, null);
  const fpm1Q = mb.reg('pw_fp_q', ldm, null);
  const fpm1S = dec(s.fpEnd);
  mb.next(fpm1Q, fpm1S, start);
  const hasTL = any(nonZero(s.yp0), nonZero(s.xp0));
  const hasX = any(nonZero(s.xp0), nonZero(s.xp1));
  // the next data row start `base` (s0 in the start cycle): its gap starts at base + x_size, the
  // following row at base + W; `rl` counts the data rows whose start is still ahead
  // (added for the start cycle, from the queue head, and for later cycles, from the registers,
  // apart: the start selects the sums rather than the operands of two chained adders)
  const gapS = add(s.s0, rz(s.x, ldm));
  const gapQ = add(nd, rz(cx.xQ, ldm));
  const jPa = mb.w('pw_gap_addr', sel(start, gapS, gapQ));
  const jNd = mb.w('pw_next_row', sel(start, add(gapS, rz(cx.gapS, ldm)), add(gapQ, rz(cx.gapQ, ldm))));
  const rlE = sel(start, sel(hasX, s.y, c(XW, 1)), rl);
  const rlDec = dec(rlE);
  // pc != 0 and pc == 1, kept in registers beside the count so that the write (and the SRAM write
  // enables and next address behind it) starts from flip-flops rather than a compare of the count
  const any0 = mb.reg('pw_any', 1);
  const one = mb.reg('pw_one', 1);
  const write = mb.w('pw_write', all(any0, inv(blocked)));
  // pa + 1 forwards, pa - 1 backwards
  const paStep = mb.w('pw_addr_step', add(pa, sel(back, lit(ldm, -1), lit(ldm, 1))));
  const hit = all(inv(back), eq(paStep, nd));
  // in the start cycle: forwards from sram_base if there is a top/left pad, else as at a row start
  const more = gtc(rlE, 1);
  const jump = sel(start, all(inv(hasTL), more), all(write, hit, more));
  // (the jump's address enters last, and the write (a late beat) selects the rest without the jump)
  const paNext = sel(jump, jPa, sel(start, sel(hasTL, s.sb, fpm1S), sel(write, sel(hit, fpm1Q, paStep), pa)));
  mb.next(pa, paNext);
  mb.next(nd, sel(jump, jNd, sel(start, s.s0, nd)));
  mb.next(rl, sel(jump, rlDec, rlE));
  mb.next(back, sel(start, all(inv(hasTL), inv(more)), any(back, all(write, hit, inv(more)))));
  mb.next(pc, sel(start, s.pads, sel(write, dec(pc), pc)));
  mb.next(any0, sel(start, nonZero(s.pads), sel(write, inv(one), any0)));
  mb.next(one, sel(start, eqc(s.pads, 1), sel(write, eqc(pc, 2), one)));
  const idleNext = any(inv(any0), all(one, inv(blocked)));
  return { write, addr: pa, idleNext };
}

/**
 * Read engine of one or more buffers (two for one module, four shared; the memory type of the LOAD
 * selects one). Ports: start (a LOAD with x_size > 0 of one of these buffers starts; `entry` is its
 * command-queue entry in that cycle), grant, rbeat/rdata (this engine's); outputs req_<buf> (the
 * request line of the buffer being loaded), req_addr/req_beats, the SRAM write ports per buffer and
 * bank, `done` (this is the last active cycle), `done_at_start` (nothing to move: workEnd =
 * start + 1), `busy` (§10 busy rather than waitMemory, while in flight).
 */
export function dmaReadModule(name: string, d: Derived, bufs: SramGeom[]): Mb {
  const names = bufs.map((g) => g.buf.toUpperCase()).join(' / ');
  const mb = new Mb(name, [`DMA read engine for ${names}: bursts, beat-to-SRAM writes, zero padding`]);
  const start = mb.input('start');
  const entryIn = mb.input('entry', entryLayout(d).bits);
  const grant = mb.input('grant');
  const rbeat = mb.input('rbeat');
  const rdata = mb.input('rdata', d.busWidth);
  const cx = context(mb, d, bufs, start, entryIn, true);
  const { s, ldm, XW } = cx;
  const BUS = d.busWidth;

  const rq = requestSide(cx, grant);
  bufs.forEach((g, i) => mb.output(`req_${g.buf}`, all(rq.active, isBuf(cx.tE, i))));
  mb.output('req_addr', rq.addr);
  mb.output('req_beats', rq.beats);

  // ---- beats: shared element counters; lanes (narrow elements) and slices (wide ones) per buffer
  const dataDone = mb.reg('data_done', 1, 1);
  const ptr = mb.reg('d_ptr', ldm, null);
  const cnt = mb.reg('d_cnt', XW, null);
  const drows = mb.reg('d_rows', XW, null);
  const maxLanes = Math.max(...bufs.map((g) => g.lanes));
  const maxSlices = Math.max(...bufs.map((g) => g.slices));

  // wide elements: beat k of an element is written into part k mod slices (sram.ts), the element
  // pointer advances with the last one
  let lastSlice: Expr = T;
  let slice: Expr = lit(1, 0);
  if (maxSlices > 1) {
    const sw = log2i(maxSlices);
    const sl = mb.reg('d_slice', sw, null);
    mb.next(sl, sel(start, lit(sw, 0), inc(sl)), any(start, rbeat));
    // the low bits of the slice count cycle through a buffer's own slices
    lastSlice = per(cx.tQ, bufs.map((g) => (g.slices > 1 ? eqc(sl.slice(log2i(g.slices) - 1, 0), g.slices - 1) : T)));
    slice = sl;
  }
  const ew = mb.w('d_elem_write', all(rbeat, lastSlice));

  let n: Expr = lit(1, 1);
  let lo: Expr = lit(1, 0);
  let laneNext = (_rowEnd: Expr) => {};
  // a row ends with the next element write when its count fits the lanes left in the beat
  let rowEndOf = (cn: Expr, _lo: Expr, _t: Expr | null): Expr => lec(cn, 1);
  // the first lane of the next element write: in the start cycle, and after it
  let loStart: Expr = lit(1, 0);
  let loRun = (_rowEnd: Expr): Expr => lit(1, 0);
  if (maxLanes > 1) {
    // elements narrower than the bus: lanes lo .. lo+n-1 of the beat are elements ptr .. ptr+n-1
    const lL = log2i(maxLanes);
    const loR = mb.reg('d_lo', lL, null);
    const dlow = mb.reg('d_dlow', lL, null);
    const maskS = per(cx.tS, bufs.map((g) => c(lL, g.lanes - 1)));
    const maskQ = per(cx.tQ, bufs.map((g) => c(lL, g.lanes - 1)));
    const lanesQ = per(cx.tQ, bufs.map((g) => c(lL + 1, g.lanes)));
    const room = mb.w('d_room', sub(lanesQ, rz(loR, lL + 1)));
    const w = Math.max(XW, lL + 1);
    n = mb.w('d_n', rz(umin(rz(cnt, w), rz(room, w)), lL + 1));
    const init0 = and(rz(s.dram, lL), maskS);
    const newLow = and(add(dlow, rz(cx.strideQ, lL)), maskQ);
    lo = loR;
    laneNext = (rowEnd) => {
      mb.next(loR, sel(start, init0, sel(rowEnd, newLow, lit(lL, 0))), any(start, ew));
      mb.next(dlow, sel(start, init0, newLow), any(start, all(ew, rowEnd)));
    };
    rowEndOf = (cn, l, t) => ule(rz(cn, w), rz(sub(per(t, bufs.map((g) => c(lL + 1, g.lanes))), rz(l, lL + 1)), w));
    loStart = init0;
    loRun = (rowEnd) => sel(ew, sel(rowEnd, newLow, lit(lL, 0)), loR);
  }
  const cntA = sub(cnt, rz(n, XW));
  const rowEnd = mb.w('d_row_end', isZero(cntA));
  laneNext(rowEnd);
  // `ends`: the next element write is the transfer's last (its row ends, and it is the last row),
  // registered from the counters' next values so that `done` waits for no arithmetic
  const endsQ = mb.reg('d_ends', 1, null);
  // (the start cycle's from the queue head and the later ones' from the counters, the start selecting last)
  const cntRun = sel(ew, sel(rowEnd, cx.xQ, cntA), cnt);
  const drowsRun = sel(all(ew, rowEnd), dec(drows), drows);
  mb.next(endsQ, sel(start, all(rowEndOf(s.x, loStart, cx.tS), eqc(s.y, 1)), all(rowEndOf(cntRun, loRun(rowEnd), cx.tQ), eqc(drowsRun, 1))));
  const lastBeat = mb.w('d_last_beat', all(ew, endsQ));
  // next element: ptr + n, and at a row end past the row's pads to the next row (W = x + gap)
  const kw = Math.max(n.width, 5) + 1;
  const ptrStep = add(rz(n, kw), sel(rowEnd, rz(cx.gapQ, kw), lit(kw, 0)));
  mb.next(cnt, sel(start, s.x, sel(rowEnd, cx.xQ, cntA)), any(start, ew));
  mb.next(drows, sel(start, s.y, dec(drows)), any(start, all(ew, rowEnd)));
  mb.next(ptr, sel(start, s.s0, add(ptr, rz(ptrStep, ldm))), any(start, ew));
  mb.next(dataDone, sel(start, isZero(s.y), any(dataDone, lastBeat)));

  // zero padding in cycles without a beat of this transfer
  const pw = padWalker(cx, rbeat);

  // SRAM write ports: data gated to zero in pad cycles (shared by the buffers)
  const rdG = mb.w('d_rdata_g', sel(rbeat, rdata, lit(BUS, 0)));
  bufs.forEach((g, i) => {
    const me = isBuf(cx.tQ, i);
    const nb = g.banks;
    const lnb = log2i(nb);
    const p = rz(ptr, g.ld);
    const beatWe: Expr[] = [];
    const beatAddr: Expr[] = [];
    const beatData: Expr[] = [];
    if (g.lanes > 1) {
      const v1 = laneShr(rdG, rz(lo, log2i(g.lanes)), g.ew).slice(nb * g.ew - 1, 0);
      const pLow = nb > 1 ? p.slice(lnb - 1, 0) : lit(1, 0);
      // bank b takes lane lo + ((b - ptr) mod nb)
      const v2 = mb.w(`${g.buf}_lanes`, nb > 1 ? laneRotl(v1, pLow, g.ew, nb) : v1);
      for (let b = 0; b < nb; b++) {
        const j = nb > 1 ? sub(c(lnb, b), pLow) : lit(1, 0);
        beatWe.push(all(ew, ult(j, n)));
        beatAddr.push(bankOf(g, add(p, rz(j, g.ld))).addr);
        beatData.push(laneOf(v2, b, g.ew));
      }
    } else {
      // an element per beat, or a part per beat (parts = slices)
      const bo = bankOf(g, p);
      for (let b = 0; b < nb; b++) {
        for (let k = 0; k < g.parts; k++) {
          const partHere = g.parts > 1 ? eqc(slice.slice(log2i(g.parts) - 1, 0), k) : T;
          beatWe.push(all(rbeat, partHere, nb > 1 ? eqc(bo.bank, b) : T));
        }
        beatAddr.push(bo.addr);
        beatData.push(repeat(g.parts, rdG));
      }
    }
    const pb = bankOf(g, rz(pw.addr, g.ld));
    const we: Expr[] = [];
    const wa: Expr[] = [];
    for (let b = 0; b < nb; b++) {
      const padHere = all(pw.write, nb > 1 ? eqc(pb.bank, b) : T);
      for (let k = 0; k < g.parts; k++) we.push(all(me, any(beatWe[b * g.parts + k], padHere)));
      wa.push(sel(rbeat, beatAddr[b], pb.addr));
    }
    mb.output(`${g.buf}_we`, catRev(we));
    mb.output(`${g.buf}_waddr`, catRev(wa));
    mb.output(`${g.buf}_wdata`, catRev(beatData));
  });

  // in flight from the cycle after start; done in the last active cycle
  const inflight = mb.reg('inflight', 1);
  const atStart = mb.w('at_start', all(isZero(s.y), isZero(s.pads)));
  const done = mb.w('done_w', all(inflight, any(dataDone, lastBeat), pw.idleNext));
  if (d.readDoneReg) {
    // READ_DONE_REG (docs/microarch.md §18): the completion passes a register, so the LOAD's last
    // active cycle is the one after its last beat or pad and `done` (the modules' push, compute's
    // completion, the shared engine's idle) runs from no read beat of this cycle. `done_w` holds
    // in that cycle too (data and pads are over): the register takes it once.
    const doneQ = mb.reg('done_q', 1);
    mb.next(doneQ, all(done, inv(doneQ)));
    mb.next(inflight, sel(start, inv(atStart), all(inflight, inv(doneQ))));
    mb.output('done', doneQ);
  } else {
    mb.next(inflight, sel(start, inv(atStart), all(inflight, inv(done))));
    mb.output('done', done);
  }
  mb.output('done_at_start', atStart);
  // idle: takes a start this cycle (a transfer's registers are all loaded by its start)
  mb.output('idle', inv(inflight));
  const busy = busyBudget(cx, { count: s.pads, fpEnd: rz(unpackEntry(entryLayout(d), entryIn).fpEnd, XW) });
  mb.output('busy', all(inflight, busy));
  mb.sink(rq.lastGrant);
  return mb;
}

/** The transfer is for buffer i (t: the buffer index, null with one buffer). */
function isBuf(t: Expr | null, i: number): Expr {
  if (t === null) return T;
  return eqc(t, i);
}

/**
 * Write engine of STORE. Ports: start/entry, grant, mem_wready, mem_bvalid, the OUT SRAM read
 * (ren, raddr per bank, rdata); outputs the request, mem_wdata/wstrb/wvalid, done, done_at_start, busy.
 */
export function dmaWriteModule(name: string, d: Derived, g: SramGeom): Mb {
  const mb = new Mb(name, ['DMA write engine for STORE: bursts, OUT read ahead, beats with byte enables, responses']);
  const start = mb.input('start');
  const entryIn = mb.input('entry', entryLayout(d).bits);
  const grant = mb.input('grant');
  const wready = mb.input('wready');
  const bvalid = mb.input('bvalid');
  const rdata = mb.input('rdata', g.banks * g.ew);
  const cx = context(mb, d, [g], start, entryIn, false);
  const { s, XW } = cx;
  const ld = g.ld;
  const nb = g.banks;
  const lnb = log2i(nb);
  const BUS = d.busWidth;
  const BB = d.busBytes;

  const rq = requestSide(cx, grant);
  mb.output('req', rq.active);
  mb.output('req_addr', rq.addr);
  mb.output('req_beats', rq.beats);

  // responses: done when the last burst's response arrives
  const pend = mb.reg('resp_pend', bitsFor(d.mem.outstanding) + 1);
  const reqDone = mb.reg('req_done', 1, 1);
  const g1 = d.memReqReg ? rq.g : all(grant, rq.active);
  mb.next(pend, sub(add(pend, rz(g1, pend.width)), rz(all(bvalid, nonZero(pend)), pend.width)));
  mb.next(reqDone, any(rq.lastGrant, sel(start, isZero(s.y), reqDone)));
  const inflight = mb.reg('inflight', 1);
  const atStart = mb.w('at_start', isZero(s.y));
  const done = mb.w('done_w', all(inflight, bvalid, eqc(pend, 1), reqDone));
  mb.next(inflight, sel(start, inv(atStart), all(inflight, inv(done))));
  mb.output('done', done);
  mb.output('done_at_start', atStart);
  // beats granted and not yet taken (mem_wvalid): at most MEM_OUTSTANDING bursts
  const wpend = mb.reg('wpend', bitsFor(d.mem.outstanding * d.mem.burstBeats));
  mb.next(wpend, sub(add(wpend, sel(g1, rz(rq.beats, wpend.width), lit(wpend.width, 0))), rz(wready, wpend.width)));
  mb.output('mem_wvalid', nonZero(wpend));

  // beat walker: state of the beat presented this cycle (read in the previous cycle)
  const sb = rz(s.sb, ld);
  const ptr = mb.reg('w_ptr', ld, null);
  const raddr: Expr[] = [];
  let wdata: Expr;
  let wstrb: Expr;
  if (g.lanes > 1) {
    const L = g.lanes;
    const lL = log2i(L);
    const E = d.elemBytes.out;
    const cnt = mb.reg('w_cnt', XW, null);
    const lo = mb.reg('w_lo', lL, null);
    const dlow = mb.reg('w_dlow', lL, null);
    const init0 = rz(s.dram, lL);
    const ptrE = mb.w('w_ptr_e', sel(start, sb, ptr));
    const cntE = mb.w('w_cnt_e', sel(start, s.x, cnt));
    const loE = mb.w('w_lo_e', sel(start, init0, lo));
    const dlowE = mb.w('w_dlow_e', sel(start, init0, dlow));
    const strideLow = rz(cx.strideE, lL);
    const stepOf = (p: Expr, cn: Expr, l: Expr, dl: Expr) => {
      const room = sub(c(lL + 1, L), rz(l, lL + 1));
      const w = Math.max(XW, lL + 1);
      const n = rz(umin(rz(cn, w), rz(room, w)), lL + 1);
      const cntA = sub(cn, rz(n, XW));
      const rowEnd = isZero(cntA);
      const newLow = add(dl, strideLow);
      return {
        n,
        next: {
          ptr: add(p, rz(n, ld)),
          cnt: sel(rowEnd, cx.xE, cntA),
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
    mb.next(ptr, sel(wready, nx.ptr, ptrE));
    mb.next(cnt, sel(wready, nx.cnt, cntE));
    mb.next(lo, sel(wready, nx.lo, loE));
    mb.next(dlow, sel(wready, nx.dlow, dlowE));
    // read the beat presented next cycle (the next state)
    const rp = mb.w('w_rd_ptr', sel(wready, nx.ptr, ptrE));
    const pLow = nb > 1 ? rp.slice(lnb - 1, 0) : lit(1, 0);
    for (let b = 0; b < nb; b++) {
      const j = nb > 1 ? sub(c(lnb, b), pLow) : lit(1, 0);
      raddr.push(bankOf(g, add(rp, rz(j, ld))).addr);
    }
    if (g.bankDepth === 1) mb.sink(rp); // banks of one register: the bank alone is the address
    // the beat presented this cycle is the state's (its elements were read in the previous cycle;
    // the start cycle presents none): lane j of the rotated bank data is element ptr + j, it goes to
    // lane lo + j
    const v1 = nb > 1 ? laneRotr(rdata, ptr.slice(lnb - 1, 0), g.ew, nb) : rdata;
    wdata = mb.w('w_data', laneShl(rz(v1, BUS), lo, g.ew));
    const strb: Expr[] = [];
    for (let i = 0; i < L; i++) {
      const on = all(lec(lo, i), ult(c(lL + 1, i), add(rz(lo, lL + 1), curN)));
      for (let k = 0; k < E; k++) strb.push(on);
    }
    wstrb = catRev(strb);
  } else {
    const r = g.slices;
    const ptrE = mb.w('w_ptr_e', sel(start, sb, ptr));
    let rp: Expr;
    if (r > 1) {
      const slice = mb.reg('w_slice', log2i(r), null);
      const sliceE = sel(start, lit(log2i(r), 0), slice);
      const wrap = eqc(sliceE, r - 1);
      const ptrN = sel(wrap, inc(ptrE), ptrE);
      mb.next(slice, sel(wready, inc(sliceE), sliceE));
      mb.next(ptr, sel(wready, ptrN, ptrE));
      rp = mb.w('w_rd_ptr', sel(wready, ptrN, ptrE));
      // the slice presented this cycle is the state's
      wdata = mb.w('w_data', laneShr(rdata, slice, BUS).slice(BUS - 1, 0));
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
  const busy = busyBudget(cx, null);
  mb.output('busy', all(inflight, busy));
  return mb;
}
