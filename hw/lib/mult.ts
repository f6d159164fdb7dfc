/**
 * Multipliers, the one place the generator decides how a product is built for a target:
 * - generic: Verilog `*` on sign/zero-extended operands (synthesis picks LUTs or DSPs);
 * - ice40 with DSP_BUDGET = n > 0: SB_MAC16 instances in 8x8 mode, two independent products per
 *   DSP (operands of at most 8 bits), and an error when the array needs more than 2n products;
 * - ice40 with DSP_BUDGET = 0: LUT multipliers written as shift-and-add rows, one conditional
 *   carry-chain add per multiplier bit (shiftAddProduct below), not `*`: yosys maps `*` to a
 *   carry-save array of 2 LUT4s per full adder (173 LUT4s for a signed 8x8 product), the rows to
 *   about one logic cell per adder bit (80 LUT4s + 50 carries). Same products, bit for bit.
 *
 * SB_MAC16 in 8x8 mode (Lattice TN1295; yosys share/ice40/cells_sim.v): with MODE_8x8 = 1 and
 * TOPOUTPUT_SELECT = BOTOUTPUT_SELECT = 2'b10 the output is O[31:16] = A[15:8] * B[15:8] and
 * O[15:0] = A[7:0] * B[7:0], unregistered; A_SIGNED / B_SIGNED make both halves signed.
 */
import { VtwError } from '../../src/errors.ts';
import { Module, add, cat, lit, mul, mux, sext, sub, zext, type Expr, type Signal } from '../hdl/ir.ts';

export type HwTarget = 'generic' | 'ice40';
export const HW_TARGETS: readonly HwTarget[] = ['generic', 'ice40'];

export interface MulCtx {
  target: HwTarget;
  dspBudget: number | null;
}

export interface MulPair {
  a: Expr;
  b: Expr;
}

/** The SB_MAC16 primitive's ports, as a black box (the cell library defines it). */
let sbMac16: Module | undefined;
export function sbMac16Primitive(): Module {
  if (sbMac16) return sbMac16;
  const m = new Module('SB_MAC16', ['iCE40 DSP primitive (cell library)'], true);
  for (const [name, width] of [
    ['CLK', 1], ['CE', 1], ['C', 16], ['A', 16], ['B', 16], ['D', 16], ['AHOLD', 1], ['BHOLD', 1], ['CHOLD', 1], ['DHOLD', 1],
    ['IRSTTOP', 1], ['IRSTBOT', 1], ['ORSTTOP', 1], ['ORSTBOT', 1], ['OLOADTOP', 1], ['OLOADBOT', 1], ['ADDSUBTOP', 1], ['ADDSUBBOT', 1],
    ['OHOLDTOP', 1], ['OHOLDBOT', 1], ['CI', 1], ['ACCUMCI', 1], ['SIGNEXTIN', 1],
  ] as const) m.input(name, width);
  for (const [name, width] of [['O', 32], ['CO', 1], ['ACCUMCO', 1], ['SIGNEXTOUT', 1]] as const) m.output(name, width);
  return (sbMac16 = m);
}

/** DSPs (SB_MAC16) an array of `count` products of the given operand widths needs on iCE40. */
export function dspsNeeded(count: number, aWidth: number, bWidth: number): number {
  if (aWidth > 8 || bWidth > 8) return count; // one 16x16 multiplier per product
  return Math.ceil(count / 2);
}

/** Check a multiplier array against the target's DSP budget; one line naming what to change. */
export function checkDspBudget(ctx: MulCtx, count: number, aWidth: number, bWidth: number, hint: string): void {
  if (ctx.target !== 'ice40' || ctx.dspBudget === null || ctx.dspBudget === 0) return;
  const need = dspsNeeded(count, aWidth, bWidth);
  if (need > ctx.dspBudget) {
    throw new VtwError(
      `the GEMM array needs ${count} multipliers = ${need} SB_MAC16 (two 8x8 products each), more than DSP_BUDGET = ${ctx.dspBudget}; ${hint}, raise DSP_BUDGET to ${need}, or set DSP_BUDGET 0 for LUT multipliers`,
    );
  }
}

/**
 * Unsigned control-path products (fetch decode) the generator may put on spare DSPs, in the order
 * they get them: the decode's two range products (footprint W x H, DRAM extent), then the two that
 * give a LOAD's first element and pad count.
 */
export const CONTROL_PRODUCT_TIERS = [2, 4] as const;

/**
 * Where the control-path products go: with an iCE40 DSP budget whose spare SB_MAC16s (after the
 * GEMM array) hold a tier of CONTROL_PRODUCT_TIERS, and operands of at most 16 bits, that many on
 * DSPs (16x16 mode, one product each; the largest tier that fits); otherwise none (plain `*`, LUTs on
 * iCE40). Returns the context for the DSP products and how many there are.
 */
export function controlMulPlan(ctx: MulCtx, gemmDsps: number, operandBits: number): { ctx: MulCtx; dsps: number } {
  const spare = ctx.target === 'ice40' && ctx.dspBudget ? ctx.dspBudget - gemmDsps : 0;
  const tier = operandBits <= 16 ? [...CONTROL_PRODUCT_TIERS].reverse().find((n) => n <= spare) : undefined;
  if (tier) return { ctx: { target: 'ice40', dspBudget: tier }, dsps: tier };
  return { ctx: { target: 'generic', dspBudget: null }, dsps: 0 };
}

/**
 * Full-width products a*b (width a+b) of every pair, signed or unsigned. On iCE40 with a DSP
 * budget the products come from SB_MAC16 instances named `${prefix}_dsp<k>`.
 */
export function products(m: Module, prefix: string, pairs: MulPair[], signed: boolean | 'a', ctx: MulCtx): Expr[] {
  // signed: both operands signed (true), both unsigned (false), or a signed and b unsigned ('a')
  const aSigned = signed !== false;
  const bSigned = signed === true;
  const useDsp = ctx.target === 'ice40' && ctx.dspBudget !== null && ctx.dspBudget > 0;
  if (ctx.target === 'ice40' && ctx.dspBudget === 0) {
    return pairs.map((p, k) => shiftAddProduct(m, `${prefix}_sa${k}`, p.a, p.b, aSigned, bSigned));
  }
  if (!useDsp) {
    if (signed !== 'a') return pairs.map((p) => mul(p.a, p.b, signed));
    return pairs.map((p) => mul(p.a, zext(p.b, p.b.width + 1), true).slice(p.a.width + p.b.width - 1, 0));
  }
  const aw = Math.max(...pairs.map((p) => p.a.width));
  const bw = Math.max(...pairs.map((p) => p.b.width));
  checkDspBudget(ctx, pairs.length, aw, bw, 'reduce LOG_BLOCK or LOG_BATCH, raise GEMM_II');
  const extA = (e: Expr, w: number) => (aSigned ? sext(e, w) : zext(e, w));
  const extB = (e: Expr, w: number) => (bSigned ? sext(e, w) : zext(e, w));
  const prim = sbMac16Primitive();
  const zero1 = lit(1, 0);
  const zero16 = lit(16, 0);
  const out: Expr[] = [];
  const pack = aw <= 8 && bw <= 8;
  const perDsp = pack ? 2 : 1;
  for (let k = 0; k * perDsp < pairs.length; k++) {
    const group = pairs.slice(k * perDsp, k * perDsp + perDsp);
    const o = m.wire(`${prefix}_dsp${k}_o`, 32);
    const a = pack
      ? cat(extA(group[1]?.a ?? lit(1, 0), 8), extA(group[0].a, 8))
      : extA(group[0].a, 16);
    const b = pack
      ? cat(extB(group[1]?.b ?? lit(1, 0), 8), extB(group[0].b, 8))
      : extB(group[0].b, 16);
    const bit = (v: number) => lit(1, v);
    m.instance(prim, `${prefix}_dsp${k}`, {
      CLK: zero1, CE: bit(1), C: zero16, A: a, B: b, D: zero16,
      AHOLD: zero1, BHOLD: zero1, CHOLD: zero1, DHOLD: zero1, IRSTTOP: zero1, IRSTBOT: zero1, ORSTTOP: zero1, ORSTBOT: zero1,
      OLOADTOP: zero1, OLOADBOT: zero1, ADDSUBTOP: zero1, ADDSUBBOT: zero1, OHOLDTOP: zero1, OHOLDBOT: zero1,
      CI: zero1, ACCUMCI: zero1, SIGNEXTIN: zero1,
      O: o, CO: unusedWire(m, `${prefix}_dsp${k}_co`), ACCUMCO: unusedWire(m, `${prefix}_dsp${k}_accumco`), SIGNEXTOUT: unusedWire(m, `${prefix}_dsp${k}_signextout`),
    }, {
      NEG_TRIGGER: lit(1, 0), C_REG: lit(1, 0), A_REG: lit(1, 0), B_REG: lit(1, 0), D_REG: lit(1, 0),
      TOP_8x8_MULT_REG: lit(1, 0), BOT_8x8_MULT_REG: lit(1, 0), PIPELINE_16x16_MULT_REG1: lit(1, 0), PIPELINE_16x16_MULT_REG2: lit(1, 0),
      TOPOUTPUT_SELECT: lit(2, pack ? 2 : 3), TOPADDSUB_LOWERINPUT: lit(2, 0), TOPADDSUB_UPPERINPUT: lit(1, 0), TOPADDSUB_CARRYSELECT: lit(2, 0),
      BOTOUTPUT_SELECT: lit(2, pack ? 2 : 3), BOTADDSUB_LOWERINPUT: lit(2, 0), BOTADDSUB_UPPERINPUT: lit(1, 0), BOTADDSUB_CARRYSELECT: lit(2, 0),
      MODE_8x8: lit(1, pack ? 1 : 0), A_SIGNED: lit(1, aSigned ? 1 : 0), B_SIGNED: lit(1, bSigned ? 1 : 0),
    });
    group.forEach((p, i) => {
      const w = p.a.width + p.b.width;
      const full = pack ? o.slice(16 * i + 15, 16 * i) : o;
      // a product narrower than the DSP's output leaves its top bits unread (named *_unused for lint)
      if (w < full.width) m.assign(m.wire(`${prefix}_dsp${k}_p${i}_unused`, full.width - w), full.slice(full.width - 1, w));
      out.push(full.slice(w - 1, 0));
    });
    // an 8x8 DSP holding one product leaves its top half unread
    if (pack && group.length === 1) m.assign(m.wire(`${prefix}_dsp${k}_top_unused`, 16), o.slice(31, 16));
  }
  return out;
}

/**
 * a*b (width a+b, modulo nothing: the full product) as rows added one multiplier bit at a time,
 * the partial sum's low bit leaving at each row: with A = a extended by one bit (sign or zero),
 *   U_0 = b_0 ? A : 0,   U_j = (U_{j-1} >> 1, its top bit repeated if a is signed) +/- (b_j ? A : 0),
 * the last row subtracting when b is signed (its top bit weighs -2^(bw-1)); the product is U_(bw-1)
 * above the leaving bits U_(bw-2)[0] .. U_0[0]. Every U_j fits aw+1 bits (|sum of the first j+1
 * rows| < 2^(aw+j) signed, 2^(aw+j+1) unsigned), so each row is one (aw+1)-bit add. Written as
 * `b_j ? x + A : x`, each bit of a row maps onto one iCE40 logic cell: the carry chain adds x and A
 * whatever b_j is, and the LUT picks the sum or x (b_j on the LUT input the carry leaves free).
 * Operands of one bit fall back to `*`.
 */
export function shiftAddProduct(m: Module, name: string, a: Expr, b: Expr, aSigned: boolean, bSigned: boolean): Expr {
  const aw = a.width;
  const bw = b.width;
  if (aw < 2 || bw < 2) return aSigned === bSigned ? mul(a, b, aSigned) : mul(a, zext(b, bw + 1), true).slice(aw + bw - 1, 0);
  const w = aw + 1;
  const A = aSigned ? sext(a, w) : zext(a, w);
  const zero = lit(w, 0);
  const rows: Signal[] = [];
  let u = m.wire(`${name}_u0`, w);
  m.assign(u, mux(b.bit(0), A, zero));
  rows.push(u);
  for (let j = 1; j < bw; j++) {
    const x = cat(aSigned ? u.bit(w - 1) : lit(1, 0), u.slice(w - 1, 1));
    const next = m.wire(`${name}_u${j}`, w);
    m.assign(next, mux(b.bit(j), bSigned && j === bw - 1 ? sub(x, A) : add(x, A), x));
    rows.push(next);
    u = next;
  }
  return cat(u, ...rows.slice(0, -1).reverse().map((r) => r.bit(0)));
}

function unusedWire(m: Module, name: string): Signal {
  return m.wire(`${name}_unused`, 1);
}
