/** Helpers shared by the compute stages: banked SRAM element access and small counting circuits. */
import { add, all, catRev, eqc, inv, laneOf, lit, pick, repeat, rz, sel, ult, addw, T, type Expr, type Mb } from '../../hdl/index.ts';
import { bankOf, type SramGeom } from '../sram.ts';

export interface ComputeGeoms {
  uop: SramGeom;
  inp: SramGeom;
  wgt: SramGeom;
  acc: SramGeom;
  out: SramGeom;
}

/** Element read of a banked SRAM: every bank reads idx / banks; the bank idx mod banks is selected. */
export function elemRead(mb: Mb, g: SramGeom, prefix: string, ren: Expr, idx: Expr, rdata: Expr): { raddr: Expr; data: Expr } {
  const bo = bankOf(g, idx);
  const raddr = repeat(g.banks, bo.addr);
  if (g.banks === 1) return { raddr, data: rdata };
  const selq = mb.reg(`${prefix}_sel_q`, bo.bank.width, null);
  mb.next(selq, bo.bank, ren);
  const banks = Array.from({ length: g.banks }, (_, b) => laneOf(rdata, b, g.ew));
  return { raddr, data: mb.w(`${prefix}_elem`, pick(selq, banks)) };
}

/** Element write of a banked SRAM (every part of the element). */
export function elemWrite(g: SramGeom, we: Expr, idx: Expr, data: Expr): { we: Expr; waddr: Expr; wdata: Expr } {
  const bo = bankOf(g, idx);
  const wes = Array.from({ length: g.banks * g.parts }, (_, k) => all(we, g.banks === 1 ? T : eqc(bo.bank, Math.floor(k / g.parts))));
  return { we: catRev(wes), waddr: repeat(g.banks, bo.addr), wdata: repeat(g.banks, data) };
}

/** a + b saturating at all ones (unsigned, a's width). */
export function satAdd(a: Expr, b: Expr): Expr {
  const w = a.width;
  const s = addw(a, b, w + 1);
  return sel(s.bit(w), lit(w, (1n << BigInt(w)) - 1n), s.slice(w - 1, 0));
}

/** How many of the 1-bit xs are set, as a w-bit count (an adder tree). */
export function count(xs: Expr[], w: number): Expr {
  if (xs.length === 1) return rz(xs[0], w);
  const h = xs.length >> 1;
  return add(count(xs.slice(0, h), w), count(xs.slice(h), w));
}

/** a <= b for a small count a and an 8-bit room b. */
export function ule8(a: Expr, b: Expr): Expr {
  const w = Math.max(a.width, b.width);
  return inv(ult(rz(b, w), rz(a, w)));
}
