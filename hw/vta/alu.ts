/**
 * The tensor ALU (vta-reference Part A.4): per lane of an accumulator element, MIN / MAX / ADD as
 * signed ACC_WIDTH-bit operations (ADD wraps), SHR by a signed amount b (b >= 0: arithmetic right
 * shift by min(b, W-1); b < 0: left shift by min(-b, W-1), wrapping) and, with ALU_MUL, MUL (low W
 * bits of the product). Combinational; the compute pipeline registers around it.
 */
import type { Derived } from '../../src/config/derive.ts';
import { ALU_OPCODES } from '../../src/isa/constants.ts';
import { add, gt, lit, lt, not, shl, shr, type Expr } from '../hdl/index.ts';
import { products, type MulCtx } from '../lib/mult.ts';
import { Mb, catRev, eqc, gtc, inc, laneOf, log2i, rz, sel } from './util.ts';

/** ALU multipliers are W x W; they are plain products (never DSP primitives, whose operands are 16 bits). */
const ALU_MUL_CTX: MulCtx = { target: 'generic', dspBudget: null };

export function aluModule(name: string, d: Derived): Mb {
  const mb = new Mb(name, [`tensor ALU: ${d.batch * d.blockOut} lanes of ${d.accWidth} bits${d.aluMul ? ', with MUL' : ''}`]);
  const W = d.accWidth;
  const N = d.batch * d.blockOut;
  const op = mb.input('op', 3);
  const x = mb.input('x', N * W);
  const y = mb.input('y', N * W);
  const lw = log2i(W);
  const xs: Expr[] = [];
  const ys: Expr[] = [];
  for (let i = 0; i < N; i++) {
    xs.push(laneOf(x, i, W));
    ys.push(laneOf(y, i, W));
  }
  const muls = d.aluMul ? products(mb.m, 'alu_mul', xs.map((a, i) => ({ a, b: ys[i] })), true, ALU_MUL_CTX) : [];
  const res: Expr[] = [];
  for (let i = 0; i < N; i++) {
    const a = xs[i];
    const b = ys[i];
    const minv = sel(lt(a, b, true), a, b);
    const maxv = sel(gt(a, b, true), a, b);
    const sum = add(a, b);
    const neg = b.bit(W - 1);
    const mag = mb.w(`mag${i}`, sel(neg, inc(not(b)), b));
    const amt = sel(gtc(mag, W - 1), lit(lw, W - 1), rz(mag, lw));
    const shifted = sel(neg, shl(a, amt), shr(a, amt, true));
    let r: Expr = a;
    if (d.aluMul) r = sel(eqc(op, ALU_OPCODES.MUL), muls[i].slice(W - 1, 0), r);
    r = sel(eqc(op, ALU_OPCODES.SHR), shifted, r);
    r = sel(eqc(op, ALU_OPCODES.ADD), sum, r);
    r = sel(eqc(op, ALU_OPCODES.MAX), maxv, r);
    r = sel(eqc(op, ALU_OPCODES.MIN), minv, r);
    res.push(r);
  }
  mb.output('r', catRev(res));
  return mb;
}
