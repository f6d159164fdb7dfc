/**
 * The tensor ALU (vta-reference Part A.4): per lane of an accumulator element, MIN / MAX / ADD as
 * signed ACC_WIDTH-bit operations (ADD wraps), SHR by a signed amount b (b >= 0: arithmetic right
 * shift by min(b, W-1); b < 0: left shift by min(-b, W-1), wrapping) and, with ALU_MUL, MUL (low W
 * bits of the product) and, with ALU_REQUANT, RQ (shift through the SHR shifter, vector add, clip to
 * the OUT range; docs/isa.md). Combinational; the compute pipeline registers around it.
 */
import type { Derived } from '../../src/config/derive.ts';
import { ALU_OPCODES, RQ_RELU_BIT, RQ_SHIFT_BITS } from '../../src/isa/alu.ts';
import { ALU_OPCODE_BITS } from '../../src/isa/constants.ts';
import { add, cat, lit, lt, not, shr, xor, type Expr } from '../hdl/index.ts';
import { dspsNeeded, products, type MulCtx } from '../lib/mult.ts';
import { fetchMulPlan } from './fetch.ts';
import { Mb, all, any, catRev, eqc, inc, inv, isZero, laneOf, log2i, nonZero, rz, sel } from '../hdl/index.ts';

const bitRev = (x: Expr): Expr => catRev(Array.from({ length: x.width }, (_, k) => x.bit(x.width - 1 - k)));

/** ALU multipliers are W x W; they are plain products (never DSP primitives, whose operands are 16 bits). */
const ALU_MUL_CTX: MulCtx = { target: 'generic', dspBudget: null };

/**
 * Where the lanes' shifts go: on SB_MAC16s (one per lane, a x 2^e) when the iCE40 DSP budget
 * leaves one per lane after the GEMM array and the fetch decode's products and the accumulator is
 * at most 16 bits; otherwise barrel shifters in LUTs.
 */
export function aluShiftPlan(d: Derived, ctx: MulCtx): { ctx: MulCtx; dsps: number } {
  const lanes = aluLanes(d);
  const dsps = dspsNeeded(lanes, d.accWidth, d.accWidth);
  const used = dspsNeeded(d.multipliers, d.inpWidth, d.wgtWidth) + fetchMulPlan(d, ctx).dsps;
  if (ctx.target === 'ice40' && ctx.dspBudget && d.accWidth <= 16 && ctx.dspBudget - used >= dsps) {
    return { ctx: { target: 'ice40', dspBudget: dsps }, dsps };
  }
  return { ctx: { target: 'generic', dspBudget: null }, dsps: 0 };
}

/** Lanes the ALU is built with: an accumulator element's BATCH * BLOCK_OUT, over ALU_II (one lane group per cycle). */
export function aluLanes(d: Derived): number {
  return (d.batch * d.blockOut) / d.aluII;
}

/**
 * SHR's shift per lane (and RQ's, from its parameter word p[4:0] when `rq.is`): `neg` (a left
 * shift) and the amount min(|b|, W-1) of lane value b. `name` names each amount's wire.
 */
export function shiftAmounts(
  mb: Mb, W: number, ys: Expr[], rq: { is: Expr; prm: Expr } | undefined, name: (i: number) => string,
): { neg: Expr; amt: Expr }[] {
  const lw = log2i(W);
  const shiftBy = rq ? ys.map((b) => sel(rq.is, rz(rq.prm.slice(RQ_SHIFT_BITS - 1, 0), W), b)) : ys;
  return shiftBy.map((b, i) => {
    const neg = b.bit(W - 1);
    const hi = b.slice(W - 1, lw);
    const lo = b.slice(lw - 1, 0);
    const big = sel(neg, inv(all(isZero(not(hi)), nonZero(lo))), nonZero(hi));
    return { neg, amt: mb.w(name(i), sel(big, lit(lw, W - 1), sel(neg, inc(not(lo)), lo))) };
  });
}

export function aluModule(name: string, d: Derived, ctx: MulCtx = { target: 'generic', dspBudget: null }): Mb {
  const shiftPlan = aluShiftPlan(d, ctx);
  const N = aluLanes(d);
  const groups = d.aluII > 1 ? ` (one of ${d.aluII} lane groups per cycle)` : '';
  const mb = new Mb(name, [`tensor ALU: ${N} lanes of ${d.accWidth} bits${groups}${d.aluMul ? ', with MUL' : ''}${d.aluRequant ? ', with RQ' : ''}`]);
  const W = d.accWidth;
  const op = mb.input('op', ALU_OPCODE_BITS);
  const x = mb.input('x', N * W);
  const y = mb.input('y', N * W);
  const lw = log2i(W);
  const xs: Expr[] = [];
  const ys: Expr[] = [];
  for (let i = 0; i < N; i++) {
    xs.push(laneOf(x, i, W));
    ys.push(laneOf(y, i, W));
  }
  // RQ (ALU_REQUANT): its parameter word's shift and relu bits (p[5:0]) and whether it is the
  // vector form (which adds y after the shift); the shift goes through the SHR barrel shifter
  const rq = d.aluRequant
    ? { prm: mb.input('prm', RQ_RELU_BIT + 1), vec: mb.input('vec', 1), is: mb.w('op_rq', eqc(op, ALU_OPCODES.RQ)) }
    : undefined;
  const muls = d.aluMul ? products(mb.m, 'alu_mul', xs.map((a, i) => ({ a, b: ys[i] })), true, ALU_MUL_CTX) : [];
  // opcode decode, shared by the lanes: MIN and MAX are one select of a or b
  const isMinMax = mb.w('op_minmax', any(eqc(op, ALU_OPCODES.MIN), eqc(op, ALU_OPCODES.MAX)));
  const isMax = mb.w('op_max', eqc(op, ALU_OPCODES.MAX));
  const isAdd = mb.w('op_add', eqc(op, ALU_OPCODES.ADD));
  const isShr = mb.w('op_shr', eqc(op, ALU_OPCODES.SHR));
  // SHR by b: the amount is min(|b|, W-1), from b's low bits and whether its high bits exceed W-1;
  // with ALU_WRITE_REG (docs/microarch.md §22) computed before the ALU's input register (sh_neg, sh_amt)
  const amts = d.aluWriteReg
    ? (() => {
        const neg = mb.input('sh_neg', N);
        const amt = mb.input('sh_amt', N * lw);
        if (rq) mb.sink(rq.prm.slice(RQ_SHIFT_BITS - 1, 0)); // RQ's shift: in sh_amt
        return xs.map((_, i) => ({ neg: neg.bit(i), amt: laneOf(amt, i, lw) }));
      })()
    : shiftAmounts(mb, W, ys, rq, (i) => `amt${i}`);
  let shifted: Expr[];
  if (shiftPlan.dsps) {
    // a x 2^e (a signed, 2^e unsigned), the lanes' products made together (8x8 DSPs hold two): a
    // left shift by k is the low W bits with e = k, an arithmetic right shift by k >= 1 the high
    // W bits with e = W - k
    const right = amts.map(({ neg, amt }) => all(inv(neg), nonZero(amt)));
    const pairs = xs.map((a, i) => {
      const e = sel(right[i], inc(not(amts[i].amt)), amts[i].amt);
      return { a, b: catRev(Array.from({ length: W }, (_, j) => eqc(e, j))) };
    });
    shifted = products(mb.m, 'alu_shift', pairs, 'a', shiftPlan.ctx)
      .map((p, i) => mb.w(`shifted${i}`, sel(right[i], p.slice(2 * W - 1, W), p.slice(W - 1, 0))));
  } else {
    // one barrel shifter per lane: a left shift is a logical right shift of the bit-reversed value
    shifted = xs.map((a, i) => {
      const { neg, amt } = amts[i];
      const xv = sel(neg, bitRev(a), a);
      const yv = shr(cat(sel(neg, lit(1, 0), a.bit(W - 1)), xv), rz(amt, lw), true).slice(W - 1, 0);
      return mb.w(`shifted${i}`, sel(neg, bitRev(yv), yv));
    });
  }
  const res: Expr[] = [];
  for (let i = 0; i < N; i++) {
    const a = xs[i];
    const b = ys[i];
    // one signed comparator for MIN and MAX (equal operands give the same value either way)
    const aLess = mb.w(`lt${i}`, lt(a, b, true));
    const mm = sel(xor(aLess, isMax), a, b);
    let r: Expr = a;
    if (d.aluMul) r = sel(eqc(op, ALU_OPCODES.MUL), muls[i].slice(W - 1, 0), r);
    r = sel(isShr, shifted[i], r);
    // one adder for ADD (a + b) and RQ's vector form (shifted a + b)
    const sum = rq ? mb.w(`sum${i}`, add(sel(rq.is, shifted[i], a), b)) : add(a, b);
    r = sel(isAdd, sum, r);
    r = sel(isMinMax, mm, r);
    if (rq) {
      // clip (shifted a, plus b in the vector form) to [relu ? 0 : OUT min, OUT max]
      const O = d.outWidth;
      const v = mb.w(`rq_v${i}`, sel(rq.vec, sum, shifted[i]));
      const hiC = lit(W, 2 ** (O - 1) - 1);
      const loC = sel(rq.prm.bit(RQ_RELU_BIT), lit(W, 0), lit(W, 2n ** BigInt(W) - 2n ** BigInt(O - 1)));
      r = sel(rq.is, sel(lt(hiC, v, true), hiC, sel(lt(v, loC, true), loC, v)), r);
    }
    res.push(r);
  }
  mb.output('r', catRev(res));
  return mb;
}
