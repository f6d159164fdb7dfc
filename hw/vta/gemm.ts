/**
 * The GEMM core (docs/microarch.md §7.1 S3): BATCH x BLOCK_OUT dot products of BLOCK_IN signed
 * products each, with adder trees. With GEMM_II = n the multipliers (MACs / n of them) are shared
 * over n groups of output lanes: group g is computed in the g-th cycle of the micro-op and shifted
 * into the dot register, which holds every lane after n cycles. Dots are kept modulo
 * 2^ACC_WIDTH (they are added to the accumulator, which wraps).
 */
import type { Derived } from '../../src/config/derive.ts';
import { add, cat, sext, Mb, catRev, log2i, pick, type Expr } from '../hdl/index.ts';
import { products, type MulCtx } from '../lib/mult.ts';

export function dotWidth(d: Derived): number {
  return Math.min(d.inpWidth + d.wgtWidth + d.logBlockIn, d.accWidth);
}

/** Sum of signed values as a balanced adder tree, modulo 2^w. */
export function adderTree(xs: Expr[], w: number): Expr {
  let level = xs.map((x) => (x.width >= w ? x.slice(w - 1, 0) : sext(x, w)));
  while (level.length > 1) {
    const nextLevel: Expr[] = [];
    for (let i = 0; i < level.length; i += 2) nextLevel.push(i + 1 < level.length ? add(level[i], level[i + 1]) : level[i]);
    level = nextLevel;
  }
  return level[0];
}

/**
 * Ports: `inp` (an INP element, [b][k]), `wgt` (a WGT element, [o][k]), `gsel` (the lane group of
 * this cycle), `en` (shift the group's dots in); output `dots` ([b][o], dotWidth bits each).
 */
export function gemmModule(name: string, d: Derived, ctx: MulCtx): Mb {
  const mb = new Mb(name, [
    `GEMM core: ${d.batch}x${d.blockIn} . ${d.blockIn}x${d.blockOut}, ${d.multipliers} multipliers, II ${d.gemmII}`,
  ]);
  const B = d.batch;
  const BI = d.blockIn;
  const BO = d.blockOut;
  const II = d.gemmII;
  const iw = d.inpWidth;
  const ww = d.wgtWidth;
  const dw = dotWidth(d);
  const inp = mb.input('inp', B * BI * iw);
  const wgt = mb.input('wgt', BO * BI * ww);
  const gsel = mb.input('gsel', Math.max(1, log2i(II)));
  const en = mb.input('en');
  const lanes = B * BO;
  const lpg = lanes / II;
  const inpRow = (b: number) => inp.slice((b + 1) * BI * iw - 1, b * BI * iw);
  // Operand rows of this cycle's group: lane l of the group is (b, o) = divmod(g*lpg + l, BO).
  let inpRows: Expr; // rows for the group, as a vector of (lpg > BO ? lpg/BO : 1) INP rows
  let wgtRows: Expr; // (lpg >= BO ? BO : lpg) WGT rows
  if (II === 1) {
    inpRows = inp;
    wgtRows = wgt;
  } else if (lpg >= BO) {
    const rowsPer = lpg / BO;
    const chunks = Array.from({ length: B / rowsPer }, (_, i) => inp.slice((i + 1) * rowsPer * BI * iw - 1, i * rowsPer * BI * iw));
    inpRows = mb.w('grp_inp', pick(gsel, chunks));
    wgtRows = wgt;
  } else {
    const per = BO / lpg; // groups per INP row
    const chunks = Array.from({ length: per }, (_, i) => wgt.slice((i + 1) * lpg * BI * ww - 1, i * lpg * BI * ww));
    const rowIdx = log2i(II) > log2i(per) ? gsel.slice(log2i(II) - 1, log2i(per)) : undefined;
    const rows = Array.from({ length: B }, (_, b) => inpRow(b));
    inpRows = mb.w('grp_inp', rowIdx ? pick(rowIdx, rows) : rows[0]);
    wgtRows = mb.w('grp_wgt', per > 1 ? pick(gsel.slice(log2i(per) - 1, 0), chunks) : chunks[0]);
  }
  const lane = (v: Expr, i: number, w: number) => v.slice(i * w + w - 1, i * w);
  const pairs: Array<{ a: Expr; b: Expr }> = [];
  for (let l = 0; l < lpg; l++) {
    const bi = lpg >= BO ? Math.floor(l / BO) : 0;
    const oi = lpg >= BO ? l % BO : l;
    for (let k = 0; k < BI; k++) pairs.push({ a: lane(inpRows, bi * BI + k, iw), b: lane(wgtRows, oi * BI + k, ww) });
  }
  const prods = products(mb.m, 'mac', pairs, true, ctx);
  const dots: Expr[] = [];
  for (let l = 0; l < lpg; l++) dots.push(adderTree(prods.slice(l * BI, (l + 1) * BI), dw));
  const group = mb.w('group_dots', catRev(dots));
  const buf = mb.reg('dot_q', lanes * dw, null);
  mb.next(buf, II === 1 ? group : cat(group, buf.slice(lanes * dw - 1, lpg * dw)), en);
  mb.output('dots', buf);
  if (II === 1) mb.sink(gsel);
  return mb;
}
