/**
 * Generic logic helpers over the IR (ir.ts): widths of counts and indices, 1-bit logic that folds
 * constants, comparisons that never produce a constant comparison (Verilator CMPCONST), resizing
 * arithmetic, constant multiplies and lane/bank arithmetic on vectors. No text is produced here.
 */
import {
  add, and, cat, eq, gt, lit, lt, mux, ne, not, or, reduceOr, shl, shr, sub, zext, type Expr,
  HdlError, Const,
} from './ir.ts';

/** ceil(log2(n)) with a minimum of 1 (a width able to index n items). */
export function clog2(n: number): number {
  return Math.max(1, Math.ceil(Math.log2(n)));
}
/** Bits needed to hold the value n (n >= 0). */
export function bitsFor(n: number): number {
  return Math.max(1, Math.ceil(Math.log2(n + 1)));
}
export function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}
export function log2i(n: number): number {
  if (!isPow2(n)) throw new HdlError(`${n} is not a power of two`);
  return Math.round(Math.log2(n));
}

export const T = lit(1, 1);
export const F = lit(1, 0);
export const b1 = (v: boolean): Expr => (v ? T : F);

/** The value of a constant expression, or undefined. */
export function constOf(e: Expr): bigint | undefined {
  return e instanceof Const ? e.value : undefined;
}

/** Logical AND / OR of 1-bit terms, folding constants. */
export function all(...xs: Expr[]): Expr {
  const terms = xs.filter((x) => constOf(x) !== 1n);
  if (terms.some((x) => constOf(x) === 0n)) return F;
  if (terms.length === 0) return T;
  return terms.reduce((a, b) => and(a, b));
}
export function any(...xs: Expr[]): Expr {
  const terms = xs.filter((x) => constOf(x) !== 0n);
  if (terms.some((x) => constOf(x) === 1n)) return T;
  if (terms.length === 0) return F;
  return terms.reduce((a, b) => or(a, b));
}
export function inv(x: Expr): Expr {
  const c = constOf(x);
  if (c !== undefined) return b1(c === 0n);
  return not(x);
}
export function sel(c: Expr, a: Expr, b: Expr): Expr {
  const k = constOf(c);
  if (k !== undefined) return k ? a : b;
  return mux(c, a, b);
}

/** Resize by zero-extension or truncation. */
export function rz(e: Expr, w: number): Expr {
  return w <= e.width ? e.slice(w - 1, 0) : zext(e, w);
}
export function c(w: number, v: number | bigint): Expr {
  return lit(w, v);
}
/** a + b with both zero-extended (or truncated) to w bits. */
export function addw(a: Expr, b: Expr, w: number): Expr {
  return add(rz(a, w), rz(b, w));
}
export function subw(a: Expr, b: Expr, w: number): Expr {
  return sub(rz(a, w), rz(b, w));
}
export function inc(e: Expr): Expr {
  return add(e, lit(e.width, 1));
}
export function dec(e: Expr): Expr {
  return sub(e, lit(e.width, 1));
}
/** e - 1 saturating at 0. */
export function satDec(e: Expr): Expr {
  return mux(eqc(e, 0), e, dec(e));
}
export function isZero(e: Expr): Expr {
  return inv(reduceOr(e));
}
export function nonZero(e: Expr): Expr {
  return reduceOr(e);
}

const maxOf = (w: number) => (1n << BigInt(w)) - 1n;

/** Comparisons of an unsigned value with a constant, folded when the result is constant. */
export function eqc(e: Expr, k: number | bigint): Expr {
  const v = BigInt(k);
  if (v < 0n || v > maxOf(e.width)) return F;
  return eq(e, lit(e.width, v));
}
export function nec(e: Expr, k: number | bigint): Expr {
  return inv(eqc(e, k));
}
export function ltc(e: Expr, k: number | bigint): Expr {
  const v = BigInt(k);
  if (v <= 0n) return F;
  if (v > maxOf(e.width)) return T;
  return lt(e, lit(e.width, v));
}
export function gec(e: Expr, k: number | bigint): Expr {
  return inv(ltc(e, k));
}
export function gtc(e: Expr, k: number | bigint): Expr {
  const v = BigInt(k);
  if (v < 0n) return T;
  if (v >= maxOf(e.width)) return F;
  return gt(e, lit(e.width, v));
}
export function lec(e: Expr, k: number | bigint): Expr {
  return inv(gtc(e, k));
}
/** Unsigned comparisons of two values of possibly different widths. */
export function ult(a: Expr, b: Expr): Expr {
  const w = Math.max(a.width, b.width);
  return lt(rz(a, w), rz(b, w));
}
export function ugt(a: Expr, b: Expr): Expr {
  return ult(b, a);
}
export function uge(a: Expr, b: Expr): Expr {
  return inv(ult(a, b));
}
export function ule(a: Expr, b: Expr): Expr {
  return inv(ult(b, a));
}
export function ueq(a: Expr, b: Expr): Expr {
  const w = Math.max(a.width, b.width);
  return eq(rz(a, w), rz(b, w));
}
export function une(a: Expr, b: Expr): Expr {
  const w = Math.max(a.width, b.width);
  return ne(rz(a, w), rz(b, w));
}
export function umin(a: Expr, b: Expr): Expr {
  return mux(ult(a, b), a, b);
}

/** e * k for a constant k >= 0, as shifts and adds (no multiplier), result `w` bits. */
export function mulConst(e: Expr, k: number, w: number): Expr {
  let acc: Expr | undefined;
  for (let i = 0; (k >> i) > 0; i++) {
    if (((k >> i) & 1) === 0) continue;
    const term = i === 0 ? rz(e, w) : rz(cat(e, lit(i, 0)), w);
    acc = acc ? add(acc, term) : term;
  }
  return acc ?? lit(w, 0);
}

/**
 * a * b for a narrow unsigned b (a few bits, e.g. a 4-bit pad count), as a sum of shifted copies
 * of a selected by the bits of b; result `w` bits. For wide products use hw/lib/mult.ts.
 */
export function mulNarrow(a: Expr, b: Expr, w: number): Expr {
  if (b.width > 6) throw new HdlError(`mulNarrow: ${b.width}-bit multiplier operand is not narrow; use products()`);
  let acc: Expr = lit(w, 0);
  for (let i = 0; i < b.width; i++) {
    const term = rz(i === 0 ? a : cat(a, lit(i, 0)), w);
    acc = add(acc, mux(b.bit(i), term, lit(w, 0)));
  }
  return acc;
}

/** x << k for a constant k, same width. */
export function shlc(x: Expr, k: number): Expr {
  if (k === 0) return x;
  if (k >= x.width) return lit(x.width, 0);
  return cat(x.slice(x.width - k - 1, 0), lit(k, 0));
}

/** items[idx] for equal-width items (idx unsigned), as a shift of their concatenation. */
export function pick(idx: Expr, items: Expr[]): Expr {
  if (items.length === 1) return items[0];
  const w = items[0].width;
  if (items.some((i) => i.width !== w)) throw new HdlError('pick: items of different widths');
  const n = items.length;
  const iw = clog2(n);
  const ix = rz(idx, Math.max(idx.width, iw));
  const all = cat(...[...items].reverse());
  if (isPow2(w)) {
    const amount = w === 1 ? ix : cat(ix, lit(log2i(w), 0));
    return shr(all, amount, false).slice(w - 1, 0);
  }
  // Non power-of-two widths: a mux chain on the index.
  let r = items[n - 1];
  for (let k = n - 2; k >= 0; k--) r = mux(eqc(ix, k), items[k], r);
  return r;
}

/** Bit offset of lane n (n * laneW). */
function laneBits(n: Expr, laneW: number): Expr {
  if (laneW === 1) return n;
  return isPow2(laneW) ? cat(n, lit(log2i(laneW), 0)) : mulConst(n, laneW, n.width + bitsFor(laneW));
}
/** Lanes of `laneW` bits of x shifted right (towards lane 0) by `n` lanes (zero fill). */
export function laneShr(x: Expr, n: Expr, laneW: number): Expr {
  if (x.width === laneW) return x;
  return shr(x, laneBits(n, laneW), false);
}
export function laneShl(x: Expr, n: Expr, laneW: number): Expr {
  if (x.width === laneW) return x;
  return shl(x, laneBits(n, laneW));
}
/** Rotate a vector of `lanes` lanes left by `n` lanes (lane i moves to lane i + n). */
export function laneRotl(x: Expr, n: Expr, laneW: number, lanes: number): Expr {
  if (lanes === 1) return x;
  const k = rz(n, log2i(lanes));
  // rotl(x, k) = low half of ({x, x} >> (lanes - k) lanes) = {x,x} >> ((-k) mod lanes)
  const back = sub(lit(k.width, 0), k);
  return laneShr(cat(x, x), back, laneW).slice(x.width - 1, 0);
}
export function laneRotr(x: Expr, n: Expr, laneW: number, lanes: number): Expr {
  if (lanes === 1) return x;
  const k = rz(n, log2i(lanes));
  return laneShr(cat(x, x), k, laneW).slice(x.width - 1, 0);
}
/** Concatenate with item 0 in the least significant bits. */
export function catRev(xs: Expr[]): Expr {
  return cat(...[...xs].reverse());
}
export function laneOf(x: Expr, i: number, laneW: number): Expr {
  return x.slice(i * laneW + laneW - 1, i * laneW);
}

/** Next power of two >= n. */
export function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
