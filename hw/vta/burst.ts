/**
 * The burst rule of docs/microarch.md §8.2 as combinational logic: a burst starting at byte
 * address `cur` covers bus words from floor(cur/BB) and ends at the first of the range end, the next
 * 4 KiB page boundary and (w0 + MAXB) * BB; its beat count is ceil(end/BB) - w0.
 */
import type { Derived } from '../../src/config/derive.ts';
import { add, cat, lit, sub, type Expr } from '../hdl/index.ts';
import { type Mb, log2i, rz, umin } from './util.ts';

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
