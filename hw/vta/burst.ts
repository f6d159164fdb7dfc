/**
 * The burst rule of docs/microarch.md §8.2 as combinational logic: a burst starting at byte
 * address `cur` covers bus words from floor(cur/BB) and ends at the first of the range end, the next
 * 4 KiB page boundary and (w0 + MAXB) * BB; its beat count is ceil(end/BB) - w0.
 *
 * `burstCalc` works on byte addresses (fetch); `burstWords` on bus words (the DMA engines): with
 * `rw` = ceil(range end / BB) - w0 the words left in the range, the burst is
 * min(rw, words to the page end, MAXB) beats (ceil is monotone and the page end and w0 + MAXB are
 * whole words), and when it does not reach the range end it ends on a word boundary, so the next
 * burst starts at word w0 + beats with rw - beats words left. Only the word offset in the page
 * (12 - log2 BB bits) and rw take part, never a full-width address.
 */
import type { Derived } from '../../src/config/derive.ts';
import { add, cat, lit, sub, T, c, inv, isZero, log2i, rz, sel, ule, umin, type Expr, type Mb } from '../hdl/index.ts';

export const PAGE_LOG = 12;
/** Width of the beat count of a request (mem_req_beats). */
export const BEATS_BITS = 9;

export interface BurstCalc {
  /** Byte address of the first bus word. */
  addr: Expr;
  beats: Expr;
  /** Byte address just past the burst (same width as cur). */
  end: Expr;
}

export function burstCalc(mb: Mb, prefix: string, d: Derived, cur: Expr, rangeEnd: Expr): BurstCalc {
  const W = cur.width;
  const lb = log2i(d.busBytes);
  const w0 = cur.slice(W - 1, lb);
  const page = cur.slice(W - 1, PAGE_LOG);
  const pageEnd = mb.w(`${prefix}_page_end`, cat(add(page, lit(page.width, 1)), lit(PAGE_LOG, 0)));
  const maxEnd = mb.w(`${prefix}_max_end`, cat(add(w0, lit(w0.width, d.mem.burstBeats)), lit(lb, 0)));
  const end = mb.w(`${prefix}_end`, umin(umin(rz(rangeEnd, W), pageEnd), maxEnd));
  const endWords = add(end, lit(W, d.busBytes - 1)).slice(W - 1, lb);
  const beats = mb.w(`${prefix}_beats`, rz(sub(endWords, w0), BEATS_BITS));
  const addr = cat(w0, lit(lb, 0));
  return { addr, beats, end };
}

export interface BurstWords {
  /** Beats of the burst (BEATS_BITS). */
  beats: Expr;
  /** The burst reaches the end of the range. */
  last: Expr;
  /** Beats of the burst when it does not reach the range end: min(words to the page end, MAXB). */
  step: Expr;
}

/** §8.2 for a burst starting at bus word `w` (word address) with `rw` >= 1 words left in its range. */
export function burstWords(mb: Mb, prefix: string, d: Derived, w: Expr, rw: Expr): BurstWords {
  const pw = PAGE_LOG - log2i(d.busBytes);
  const maxb = d.mem.burstBeats;
  // min(words to the page end, MAXB) = MAXB - (w mod MAXB) in the last MAXB words of a page, else
  // MAXB (MAXB is a power of two; with MAXB >= words per page, the words to the page end)
  const lm = Math.min(log2i(maxb), pw);
  const sw = lm + 1;
  const tail = lm < pw ? isZero(inv(w.slice(pw - 1, lm))) : T;
  const step = mb.w(`${prefix}_step`, lm === 0 ? c(1, 1) : sel(tail, sub(c(sw, 1 << lm), rz(w.slice(lm - 1, 0), sw)), c(sw, 1 << lm)));
  const last = mb.w(`${prefix}_last`, ule(rw, step));
  const beats = mb.w(`${prefix}_beats`, rz(sel(last, rz(rw, sw), step), BEATS_BITS));
  return { beats, last, step };
}
