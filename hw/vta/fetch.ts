/**
 * Fetch (docs/microarch.md §2, §9.1): reads the instruction stream through the memory port in bursts
 * (§8.2) while the fetch buffer has room, assembles instructions from bus beats into the buffer,
 * and each cycle decodes the next instruction in program order: an illegal one stops the machine
 * (error code of regs.ts), a legal one is dispatched to its command queue unless that queue is full.
 * The dispatched entry carries values the modules need at their start cycle and that take
 * multipliers (LOAD footprint end, first data element, padding count) so no module multiplies.
 */
import type { Derived } from '../../src/config/derive.ts';
import { aluOpsKnown } from '../../src/isa/alu.ts';
import { MEM_TYPES, OPCODES } from '../../src/isa/constants.ts';
import { FETCH_SERIAL_DIGIT, fetchBufferDepth, fetchDecodeSerialSteps } from '../../src/uarch/index.ts';
import { add, cat, eq, lit, mux, sub, type Expr } from '../hdl/index.ts';
import { controlMulPlan, dspsNeeded, products, type MulCtx } from '../lib/mult.ts';
import { burstCalc } from './burst.ts';
import { Fields, entryLayout, packEntry, reservedRanges } from './insn.ts';
import { ERROR_CODE_BITS, errorCode } from './regs.ts';
import {
  Mb, T, addw, all, any, bitsFor, c, constOf, eqc, gtc, inc, inv, isZero, log2i, mulNarrow, nonZero, pick, rz, sel, subw, ugt, ult,
  ule, umin,
} from '../hdl/index.ts';

export const OBS = { idle: 0, busy: 1, waitToken: 2, waitMemory: 3, queueFull: 4 } as const;
export const OBS_BITS = 3;

/** Bits of the clamped footprint operands: the largest depth + 1 (the entry's extra fields). */
const footprintBits = (d: Derived) => entryLayout(d).extraBits;

/**
 * Where the decode's two products (footprint W x H, DRAM extent (y_size-1) x x_stride) go: on spare
 * SB_MAC16s when the iCE40 DSP budget leaves two after the GEMM array, else LUTs (hw/lib/mult.ts).
 */
export function fetchMulPlan(d: Derived, ctx: MulCtx): { ctx: MulCtx; dsps: number } {
  // predecoding a bus word of several instructions takes a decoder each: their products stay in LUTs
  // (as do the serial unit's adders, FETCH_DECODE_SERIAL)
  if ((predecodes(d) && d.busWidth > 128) || d.fetchDecodeSerial) return { ctx: { target: 'generic', dspBudget: null }, dsps: 0 };
  const K = footprintBits(d);
  const plan = controlMulPlan(ctx, dspsNeeded(d.multipliers, d.inpWidth, d.wgtWidth), K);
  if (!plan.dsps) return plan;
  // the SB_MAC16s they take: W x H and (y_size-1) x x_stride one each, W x y_pad_0 and x_size x
  // y_size (second tier) one together when K-bit operands pack two to a DSP (K <= 8)
  return { ctx: plan.ctx, dsps: dspsNeeded(1, K, K) + dspsNeeded(1, K, 16) + (plan.dsps >= 4 ? dspsNeeded(2, K, K) : 0) };
}

/**
 * Without command queues (CMD_QUEUE_DEPTH 0) the decode would sit between fetch's head and the
 * modules' starts (and the memory requests they make in that cycle): each instruction is decoded
 * as it arrives instead and the results are stored beside it in the fetch buffer. The serial decode
 * (FETCH_DECODE_SERIAL) always works on arriving instructions.
 */
export const predecodes = (d: Derived) => d.cmdQueueDepth === 0 || d.fetchDecodeSerial;

/**
 * FETCH_DECODE_SERIAL (docs/microarch.md §2.1): what the decode reads after its products. Its
 * products come from a shift-and-add unit that takes FETCH_SERIAL_DIGIT multiplier bits a cycle,
 * and every value of the instruction the checks combine with them is held from the cycle the
 * instruction enters the unit (`late`).
 */
export interface SerialStage {
  /** x as it was in the cycle the instruction entered the unit. */
  late(x: Expr): Expr;
  /** a * b, a.width + b.width rounded up to whole digits bits; valid in the unit's last cycle. */
  product(name: string, a: Expr, b: Expr): Expr;
}

/**
 * The serial unit: `start` (the cycle an instruction's last beat is written) loads the products'
 * multipliers; steps 1..N add one digit each; in step N + 1 (`done`) the products are complete and
 * the decode is stored. Instructions arrive at least N + 1 cycles apart (the configuration checks).
 */
function serialStage(mb: Mb, d: Derived, start: Expr): { stage: SerialStage; done: Expr } {
  const N = fetchDecodeSerialSteps(Math.max(...Object.values(d.depth)));
  const R = FETCH_SERIAL_DIGIT;
  const SW = bitsFor(N + 1);
  const step = mb.reg('sd_step', SW);
  const done = mb.w('sd_done', eqc(step, N + 1));
  mb.next(step, sel(start, c(SW, 1), sel(any(isZero(step), done), c(SW, 0), inc(step))));
  const held = new Map<Expr, Expr>();
  const late = (x: Expr): Expr => {
    const had = held.get(x);
    if (had) return had;
    if (constOf(x) !== undefined) return x;
    const r = mb.reg(`sd_held${held.size}`, x.width, null);
    mb.next(r, x, start);
    held.set(x, r);
    mb.sink(r);
    return r;
  };
  const product = (name: string, a: Expr, b: Expr): Expr => {
    // shift-right product register: multiplier digits leave at the bottom, partial sums enter at the top
    const nb = Math.ceil(b.width / R);
    const Br = nb * R;
    const A = a.width;
    const p = mb.reg(`sd_${name}`, A + Br, null);
    const sum = add(rz(p.slice(A + Br - 1, Br), A + R), mulNarrow(late(a), p.slice(R - 1, 0), A + R));
    const stepped = Br > R ? cat(sum, p.slice(Br - 1, R)) : sum;
    mb.next(p, mux(start, cat(lit(A, 0), rz(b, Br)), stepped), any(start, all(nonZero(step), ule(step, c(SW, nb)))));
    mb.sink(p);
    return p;
  };
  return { stage: { late, product }, done };
}

/** The stored decode results: illegal, error code, to load, to store, fp_end, s0, pads (LSB first). */
function predecodeBits(d: Derived): number {
  return 1 + ERROR_CODE_BITS + 2 + 3 * footprintBits(d);
}

function packDecode(dec: DecodeResult): Expr {
  return cat(dec.pads, dec.s0, dec.fpEnd, dec.toStore, dec.toLoad, dec.code, dec.illegal);
}

function unpackDecode(d: Derived, x: Expr): DecodeResult {
  const K = footprintBits(d);
  let p = 0;
  const take = (w: number) => x.slice((p += w) - 1, p - w);
  const illegal = take(1);
  const code = take(ERROR_CODE_BITS);
  const toLoad = take(1);
  const toStore = take(1);
  const fpEnd = take(K);
  const s0 = take(K);
  const pads = take(K);
  return { illegal, code, toLoad, toStore, toCompute: all(inv(toLoad), inv(toStore)), fpEnd, s0, pads };
}

export interface DecodeResult {
  illegal: Expr;
  code: Expr;
  toLoad: Expr;
  toStore: Expr;
  toCompute: Expr;
  fpEnd: Expr;
  s0: Expr;
  pads: Expr;
}

/** The static checks of §9.1 on one instruction, in order, and the values dispatched with it. */
export function decodeChecks(mb: Mb, d: Derived, insn: Expr, dramSize: Expr, mulCtx: MulCtx, px = 'dec', st?: SerialStage): DecodeResult {
  const Lh = st ? st.late : (x: Expr) => x;
  // a check that combines instruction values (en) with product-derived ones (late)
  const gate = (en: Expr[], late: Expr) => (st ? all(Lh(all(...en)), late) : all(...en, late));
  const f = new Fields(d, insn);
  const op = mb.w(`${px}_opcode`, f.opcode);
  const isLoad = eqc(op, OPCODES.LOAD);
  const isStore = eqc(op, OPCODES.STORE);
  const isGemm = eqc(op, OPCODES.GEMM);
  const isFinish = eqc(op, OPCODES.FINISH);
  const isAlu = eqc(op, OPCODES.ALU);
  const isMem = any(isLoad, isStore);
  const mt = mb.w(`${px}_mtype`, f.mem('memory_type'));
  const aluOp = f.alu('alu_opcode');
  const flag = (n: 'pop_prev_dep' | 'pop_next_dep' | 'push_prev_dep' | 'push_next_dep') => f.flag(n);
  const toLoadModule = mb.w(`${px}_to_load`, all(isLoad, any(eqc(mt, MEM_TYPES.INP), eqc(mt, MEM_TYPES.WGT))));

  // reserved bits of the layout of this opcode
  const reservedOf = (l: typeof d.layout.mem) => any(...reservedRanges(l).map(([lsb, w]) => nonZero(insn.slice(lsb + w - 1, lsb))));
  const reserved = any(
    all(isMem, reservedOf(d.layout.mem)),
    all(any(isGemm, isFinish), reservedOf(d.layout.gemm)),
    all(isAlu, reservedOf(d.layout.alu)),
  );

  const xSize = f.mem('x_size');
  const ySize = f.mem('y_size');
  const xStride = f.mem('x_stride');
  const sramBase = f.mem('sram_base');
  const dramBase = f.mem('dram_base');
  const yp0 = f.mem('y_pad_0');
  const yp1 = f.mem('y_pad_1');
  const xp0 = f.mem('x_pad_0');
  const xp1 = f.mem('x_pad_1');
  const xs0 = isZero(xSize);
  const pads = [yp0, yp1, xp0, xp1];
  const padNames = ['y_pad_0', 'y_pad_1', 'x_pad_0', 'x_pad_1'];

  // W = x_pad_0 + x_size + x_pad_1, H = y_pad_0 + y_size + y_pad_1 (17 bits each)
  const W = mb.w(`${px}_w`, addw(addw(xp0, xSize, 17), xp1, 17));
  const H = mb.w(`${px}_h`, addw(addw(yp0, ySize, 17), yp1, 17));
  // W and H clamped to the largest depth + 1: the product is exact whenever the footprint can fit
  // (W*H <= depth) and still exceeds every depth when it cannot, so the multiplier is K x K bits.
  const dMax = Math.max(...(['uop', 'wgt', 'inp', 'acc', 'out'] as const).map((b) => d.depth[b]));
  const K = footprintBits(d);
  const clamp = (x: Expr) => (dMax + 1 < 2 ** x.width ? rz(umin(x, c(x.width, dMax + 1)), K) : x);
  const Wc = mb.w(`${px}_w_clamped`, clamp(W));
  const Hc = mb.w(`${px}_h_clamped`, clamp(H));
  const [wh] = st ? [st.product('fp', Wc, Hc)] : products(mb.m, `${px}_fp`, [{ a: Wc, b: Hc }], false, mulCtx);
  // (serial: a product of two K-bit operands, 2K bits)
  const WH = mb.w(`${px}_wh`, rz(wh, st ? Math.min(34, 2 * K) : 34));
  // serial: sram_base's bits from K up only say "past every depth" (one held bit for them)
  const sramHeld = () => (sramBase.width > K ? cat(Lh(nonZero(sramBase.slice(sramBase.width - 1, K))), Lh(rz(sramBase, K))) : Lh(sramBase));
  // (serial: K + 1 held bits plus a 2K-bit product fit 2K + 1 bits)
  const FW = st ? Math.min(35, 2 * K + 1) : 35;
  const fpEndWide = mb.w(`${px}_fp_end`, addw(st ? sramHeld() : sramBase, WH, FW));
  const mtL = Lh(mt);
  const isStoreL = Lh(isStore);
  const depthOf = (t: number) => {
    const name = (['uop', 'wgt', 'inp', 'acc', 'out'] as const)[t];
    return d.depth[name];
  };
  const depthSel = (w: number) =>
    sel(eqc(mtL, MEM_TYPES.UOP), c(w, depthOf(0)), sel(eqc(mtL, MEM_TYPES.WGT), c(w, depthOf(1)), sel(eqc(mtL, MEM_TYPES.INP), c(w, depthOf(2)), c(w, depthOf(3)))));
  const footprintBad = ugt(fpEndWide, depthSel(FW));
  const storeBad = ugt(fpEndWide, c(FW, d.depth.out));

  // DRAM range: (dram_base + (y_size-1)*x_stride + x_size) * elem_bytes > dram_size (when set)
  // y_size clamped like W and H: a y_size past the largest depth fails the footprint check first
  const [ys] = st
    ? [st.product('dr', xStride, clamp(sub(ySize, lit(16, 1))))]
    : products(mb.m, `${px}_dr`, [{ a: clamp(sub(ySize, lit(16, 1))), b: xStride }], false, mulCtx);
  // Element arithmetic in EL bits: 34 for the full address space; with MEM_ADDR_BITS = L < 32 only
  // L + 2 bits, the bits of dram_base and of the product at or above L going to `hiElem` (any of
  // them set puts the range past 2^L bytes, as every element is at least a byte).
  const L = d.mem.addrBits;
  const narrow = L < 32;
  const EL = narrow ? L + 2 : 34;
  const hiOf = (x: Expr) => (narrow && x.width > L ? nonZero(x.slice(x.width - 1, L)) : lit(1, 0));
  const hiElem = any(Lh(hiOf(dramBase)), hiOf(ys));
  const dramN = narrow ? rz(dramBase, L) : dramBase;
  const ysN = narrow ? rz(ys, Math.min(L, ys.width)) : ys;
  // serial: dram_base + x_size is added as the instruction arrives, the product to it later
  const lastElem = mb.w(`${px}_last_elem`, st ? addw(Lh(addw(dramN, xSize, EL)), ysN, EL) : addw(addw(dramN, ysN, EL), xSize, EL));
  const eb = (name: 'uop' | 'wgt' | 'inp' | 'acc' | 'out') => log2i(d.elemBytes[name]);
  const maxShift = Math.max(eb('uop'), eb('wgt'), eb('inp'), eb('acc'), eb('out'));
  const EW = EL + maxShift;
  const typed = (of: (name: 'uop' | 'wgt' | 'inp' | 'acc' | 'out') => Expr) =>
    sel(isStoreL, of('out'), sel(eqc(mtL, MEM_TYPES.UOP), of('uop'), sel(eqc(mtL, MEM_TYPES.WGT), of('wgt'), sel(eqc(mtL, MEM_TYPES.INP), of('inp'), of('acc')))));
  let dramBad: Expr;
  if (st) {
    // serial: the end in bytes passes its limit (2^L, or dram_size when set and smaller) exactly
    // when the last element passes the limit divided by the element bytes (rounded down), which
    // is held with the instruction (dram_size is fixed during a run): the product meets one comparison
    const LW = L + 1;
    const sizeOn = narrow ? all(nonZero(dramSize), isZero(dramSize.slice(31, L + 1))) : nonZero(dramSize);
    const space = c(LW, 2 ** L);
    const lim = sel(sizeOn, umin(rz(dramSize, LW), space), space);
    const limOf = (name: 'uop' | 'wgt' | 'inp' | 'acc' | 'out') => (eb(name) ? rz(lim.slice(LW - 1, eb(name)), LW) : lim);
    const limElems = sel(isStore, limOf('out'), sel(eqc(mt, MEM_TYPES.UOP), limOf('uop'), sel(eqc(mt, MEM_TYPES.WGT), limOf('wgt'), sel(eqc(mt, MEM_TYPES.INP), limOf('inp'), limOf('acc')))));
    dramBad = all(Lh(nonZero(ySize)), any(hiElem, ugt(lastElem, rz(Lh(limElems), EL))));
  } else {
    const bytesEnd = (name: 'uop' | 'wgt' | 'inp' | 'acc' | 'out') => rz(eb(name) ? cat(lastElem, lit(eb(name), 0)) : lastElem, EW);
    const endBytes = mb.w(`${px}_dram_end`, typed(bytesEnd));
    // past the 2^MEM_ADDR_BITS bytes the address arithmetic covers, and past dram_size (when set).
    // Within 2^L bytes the end fits L + 1 bits, so a dram_size at or above 2^(L+1) never fails and
    // the comparison is L + 1 bits wide.
    const pastSpace = any(hiElem, L < EW ? ugt(endBytes, c(EW, 2 ** L)) : lit(1, 0));
    const sizeBad = narrow
      ? all(nonZero(dramSize), isZero(dramSize.slice(31, L + 1)), ugt(rz(endBytes, L + 1), rz(dramSize, L + 1)))
      : all(nonZero(dramSize), ugt(endBytes, dramSize));
    dramBad = all(Lh(nonZero(ySize)), any(pastSpace, sizeBad));
  }

  const uopEnd = f.gemm('uop_end');
  // opcodes past the ones this configuration's ISA has are illegal (an extension switched off does not exist)
  const known = aluOpsKnown(d);
  const storeCheck = gate([isStore, inv(xs0)], storeBad);
  const footprintCheck = gate([isLoad, inv(xs0)], footprintBad);
  const dramCheck = gate([isMem, inv(xs0)], dramBad);
  const checks: Array<[Expr, number]> = [
    [gtc(op, 4), errorCode('opcode')],
    [all(isMem, gtc(mt, 4)), errorCode('memory_type', 1)],
    [all(isAlu, gtc(aluOp, known.length - 1)), errorCode('alu_opcode', 1)],
    [reserved, errorCode('reserved')],
    [all(toLoadModule, flag('pop_prev_dep')), errorCode('pop_prev_dep')],
    [all(toLoadModule, flag('push_prev_dep')), errorCode('push_prev_dep')],
    [all(isStore, flag('pop_next_dep')), errorCode('pop_next_dep')],
    [all(isStore, flag('push_next_dep')), errorCode('push_next_dep')],
    [all(isStore, inv(xs0), inv(eqc(mt, MEM_TYPES.OUT))), errorCode('memory_type', 2)],
    ...pads.map((p, i): [Expr, number] => [all(isStore, inv(xs0), nonZero(p)), errorCode(padNames[i], 1)]),
    [storeCheck, errorCode('sram_base', 1)],
    [all(isLoad, inv(xs0), eqc(mt, MEM_TYPES.OUT)), errorCode('memory_type', 3)],
    [all(isLoad, inv(xs0), eqc(mt, MEM_TYPES.UOP), inv(eqc(ySize, 1))), errorCode('y_size')],
    ...pads.map((p, i): [Expr, number] => [all(isLoad, inv(xs0), eqc(mt, MEM_TYPES.UOP), nonZero(p)), errorCode(padNames[i], 2)]),
    [footprintCheck, errorCode('sram_base', 2)],
    [dramCheck, errorCode('dram_base')],
    [all(any(isGemm, isAlu), gtc(rz(uopEnd, Math.max(uopEnd.width, bitsFor(d.depth.uop))), d.depth.uop)), errorCode('uop_end')],
    // an opcode whose configuration switch is off (ALU MUL without ALU_MUL)
    ...known.filter((o) => o.requires).map((o): [Expr, number] => [
      all(isAlu, eqc(aluOp, o.opcode), d[o.requires!.flag] ? lit(1, 0) : T), errorCode('alu_opcode', 2),
    ]),
  ];
  // serial: the checks without products are held as the instruction arrives
  const productChecks = new Set([storeCheck, footprintCheck, dramCheck]);
  const held = st ? checks.map(([x, k]): [Expr, number] => [productChecks.has(x) ? x : Lh(x), k]) : checks;
  const first = (xs: Array<[Expr, number]>, rest: Expr) => xs.reduceRight((r, [x, k]) => sel(x, c(ERROR_CODE_BITS, k), r), rest);
  let code: Expr;
  let illegal: Expr;
  if (st) {
    // serial: the held checks are priority-encoded on their own (from registers, beside the
    // products); a product check whose earlier checks all pass overrides that code, the DRAM range
    // last: the path from the products ends in a few gates rather than the whole chain
    code = first(held.filter(([x]) => !productChecks.has(x)), lit(ERROR_CODE_BITS, 0));
    const before: Expr[] = [];
    for (const [x, k] of held) {
      if (productChecks.has(x)) code = sel(all(x, before.length ? inv(any(...before)) : T), c(ERROR_CODE_BITS, k), code);
      before.push(x);
    }
    code = mb.w(`${px}_code`, code);
    illegal = mb.w(`${px}_illegal`, any(...held.map(([x]) => x)));
  } else {
    code = mb.w(`${px}_code`, first(held, lit(ERROR_CODE_BITS, 0)));
    illegal = mb.w(`${px}_illegal`, nonZero(code));
  }
  const codeW = code;

  // Values dispatched with a LOAD (only meaningful for a legal LOAD with x_size > 0).
  // A legal LOAD has s0 <= pads-free footprint end and pads <= W*H <= depth <= dMax < 2^K: both are
  // computed modulo 2^K from the clamped W and y_size (illegal instructions are never dispatched).
  // With two more spare DSPs: W*y_pad_0 and x_size*y_size there, pads = W*H - x_size*y_size; else
  // shift-and-add products by the 4- and 5-bit pad fields.
  const PW = K;
  let wy0: Expr;
  let padCount: Expr;
  if (st) {
    wy0 = rz(st.product('wy0', Wc, yp0), PW);
    padCount = sub(rz(WH, PW), rz(st.product('xy', clamp(xSize), clamp(ySize)), PW));
  } else if (mulCtx.target === 'ice40' && (mulCtx.dspBudget ?? 0) >= 4) {
    const [p0, xy] = products(mb.m, `${px}_ld`, [{ a: Wc, b: yp0 }, { a: clamp(xSize), b: clamp(ySize) }], false, { target: 'ice40', dspBudget: 2 });
    wy0 = rz(p0, PW);
    padCount = sub(rz(WH, PW), rz(xy, PW));
  } else {
    wy0 = mulNarrow(Wc, yp0, PW);
    padCount = add(mulNarrow(rz(Wc, PW), addw(yp0, yp1, 5), PW), mulNarrow(rz(clamp(ySize), PW), addw(xp0, xp1, 5), PW));
  }
  const s0 = st ? addw(Lh(addw(sramBase, xp0, PW)), wy0, PW) : addw(addw(sramBase, wy0, PW), xp0, PW);
  const toLoadL = Lh(toLoadModule);
  return {
    illegal,
    code: codeW,
    toLoad: toLoadL,
    toStore: isStoreL,
    toCompute: all(inv(toLoadL), inv(isStoreL)),
    fpEnd: rz(fpEndWide, K),
    s0: rz(s0, K),
    pads: rz(padCount, K),
  };
}

export function fetchModule(name: string, d: Derived, ctx: MulCtx): Mb {
  const mb = new Mb(name, ['fetch: instruction bursts, fetch buffer, decode and static checks, dispatch to the command queues']);
  const BUS = d.busWidth;
  const FB = fetchBufferDepth(d.mem.burstBeats * d.busBytes);
  const ipl = Math.max(1, BUS / 128);
  const bpi = Math.max(1, 128 / BUS);
  const lines = FB / ipl;
  const lfb = log2i(FB);
  const lipl = log2i(ipl);

  const run = mb.input('run');
  const count = mb.input('insn_count', 32);
  const base = mb.input('insn_base', 32);
  const dramSize = mb.input('dram_size', 32);
  const grant = mb.input('grant');
  const rbeat = mb.input('rbeat');
  const rdata = mb.input('rdata', BUS);
  // CMD_QUEUE_DEPTH 0: no command queues; the module the head goes to takes it (`take`) in the
  // cycle it starts it. Otherwise the head is pushed into its module's queue unless that is full.
  const direct = d.cmdQueueDepth === 0;
  const take = direct ? mb.input('take') : null;
  const fullLoad = direct ? null : mb.input('full_load');
  const fullCompute = direct ? null : mb.input('full_compute');
  const fullStore = direct ? null : mb.input('full_store');

  // Instruction counters and stream offsets are as wide as a program that fits 2^MEM_ADDR_BITS bytes
  // needs (32 / 36 bits for the full address space); the host never gives a longer stream.
  const L = d.mem.addrBits;
  const IW = entryLayout(d).indexBits;
  const OW = IW + 4;
  const cnt = mb.w('insn_count_n', rz(count, IW));
  if (L < 32) mb.sink(count.slice(31, IW), base.slice(31, L));
  const D = mb.reg('dispatched', IW);
  const arrived = mb.reg('arrived', IW);
  const off = mb.reg('req_off', OW);

  // ---- requests (§2): one contiguous range split into bursts; at most FETCH_BUF reserved
  const total = mb.w('total_bytes', cat(cnt, lit(4, 0)));
  const bc = burstCalc(mb, 'rq', d, off, total);
  const k = mb.w('rq_k', add(bc.end, lit(OW, 15)).slice(OW - 1, 4));
  const room = ule(subw(k, D, IW + 1), c(IW + 1, FB));
  const req = mb.w('req_w', all(run, ult(off, total), room));
  mb.next(off, bc.end, all(grant));
  mb.output('req', req);
  mb.output('req_addr', L < 32 ? rz(add(rz(base, L), rz(bc.addr, L)), 32) : add(base, rz(bc.addr, 32)));
  mb.output('req_beats', bc.beats);

  // ---- fetch buffer: `ipl` banks of 128-bit instructions, written from beats
  // In block RAM (FETCH_BUFFER_BRAM) the head is the RAM's read register; a write to the slot read
  // in the same cycle is forwarded after it (no_rw_check: that read's data is never used).
  const blockBuf = d.fetchBufferBram;
  const mulCtx = fetchMulPlan(d, ctx).ctx;
  const PB = predecodes(d) ? predecodeBits(d) : 0;
  // FETCH_DECODE_SERIAL: the decode is stored in its own bank when the serial unit is done with it
  const serial = d.fetchDecodeSerial;
  const EW = serial ? 128 : 128 + PB;
  const banks = Array.from({ length: ipl }, (_, b) => mb.m.memory(`buf${b}`, EW, lines, blockBuf ? { noRwCheck: true, blockRam: true } : {}));
  let asmQ: Expr | null = null;
  const bankAw = banks[0].addrWidth;
  const we: Expr[] = [];
  const wdata: Expr[] = [];
  let waddr: Expr;
  if (bpi > 1) {
    const lbpi = log2i(bpi);
    const pos = mb.reg('beat_pos', lbpi);
    const asm = mb.reg('asm_q', (bpi - 1) * BUS, null);
    const last = eqc(pos, bpi - 1);
    mb.next(pos, inc(pos), rbeat);
    mb.next(asm, bpi === 2 ? rdata : cat(rdata, asm.slice((bpi - 1) * BUS - 1, BUS)), rbeat);
    asmQ = asm;
    we.push(mb.w('buf_we0', all(rbeat, last)));
    wdata.push(cat(rdata, asm));
    waddr = rz(arrived, lfb);
    mb.next(arrived, inc(arrived), we[0]);
  } else {
    const remaining = mb.w('rx_remaining', sub(cnt, arrived));
    for (let b = 0; b < ipl; b++) {
      we.push(mb.w(`buf_we${b}`, all(rbeat, gtc(remaining, b))));
      wdata.push(rdata.slice(b * 128 + 127, b * 128));
    }
    waddr = rz(arrived.slice(IW - 1, lipl), lfb - lipl);
    mb.next(arrived, umin(addw(arrived, c(IW, ipl), IW), cnt), rbeat);
  }
  const waddrW = mb.w('buf_waddr', rz(waddr, bankAw));
  // predecode: each bank's instruction decoded as it is written (dram_size is fixed during a run)
  const stored = wdata.map((w, b) => (PB && !serial ? cat(packDecode(decodeChecks(mb, d, w, dramSize, mulCtx, ipl > 1 ? `pd${b}` : 'pd')), w) : w));
  // serial decode (one bank: the configuration allows one instruction per beat at most): it takes
  // the instruction in the cycle its last beat is written and stores the decode when done, into
  // the slot of the oldest instruction not decoded yet; `decoded` counts the available ones
  let sd: { dec: DecodeResult; done: Expr; decoded: Expr } | null = null;
  if (serial) {
    const { stage, done } = serialStage(mb, d, we[0]);
    const dec = decodeChecks(mb, d, wdata[0], dramSize, mulCtx, 'sd', stage);
    const decoded = mb.reg('decoded', IW);
    mb.next(decoded, inc(decoded), done);
    sd = { dec, done, decoded };
  }

  // ---- head: registered read of the next instruction (written-this-cycle data forwarded)
  const dispatch = mb.wireLater('dispatch', 1);
  const nd = mb.w('next_head', add(D, rz(dispatch, IW)));
  const raddr = mb.w('buf_raddr', rz(nd.slice(lfb - 1, lipl || 0), bankAw));
  const qs = banks.map((bank, b) => {
    mb.m.seq(mb.clk, (s) => s.if(we[b], (t) => t.write(bank, waddrW, stored[b])));
    if (sd) {
      // the head is read again every cycle and is not used before the decode is stored, cycles after
      // the write: no forwarding
      const q = mb.reg(blockBuf ? `buf_rd${b}` : `head${b}`, EW, null);
      mb.next(q, bank.read(raddr));
      return q;
    }
    if (blockBuf) {
      const rd = mb.reg(`buf_rd${b}`, EW, null);
      mb.next(rd, bank.read(raddr));
      const fwd = mb.reg(`buf_fwd${b}`, 1);
      mb.next(fwd, all(we[b], eq(waddrW, raddr)));
      // the instruction written last cycle: with beats narrower than an instruction, the beat
      // register has shifted its last beat in and only its first beat needs keeping
      let fv: Expr;
      if (asmQ) {
        const b0 = mb.reg('buf_beat0', BUS, null);
        mb.next(b0, asmQ.slice(BUS - 1, 0), we[b]);
        fv = cat(asmQ, b0);
        if (PB) {
          const pq = mb.reg('buf_predecode', PB, null);
          mb.next(pq, stored[b].slice(EW - 1, 128), we[b]);
          fv = cat(pq, fv);
        }
      } else {
        const wq = mb.reg(`buf_wq${b}`, EW, null);
        mb.next(wq, stored[b], we[b]);
        fv = wq;
      }
      return mb.w(`head_q${b}`, mux(fwd, fv, rd));
    }
    const q = mb.reg(`head${b}`, EW, null);
    mb.next(q, mux(all(we[b], eq(waddrW, raddr)), stored[b], bank.read(raddr)));
    return q;
  });
  let headE: Expr;
  if (ipl > 1) {
    const hsel = mb.reg('head_sel', lipl, null);
    mb.next(hsel, nd.slice(lipl - 1, 0));
    headE = pick(hsel, qs);
  } else {
    headE = qs[0];
  }
  const head = mb.w('head', headE.slice(127, 0));
  const avail = mb.w('avail', ugt(sd ? sd.decoded : arrived, D));

  // ---- decode, checks, dispatch
  let dec: DecodeResult;
  if (sd) {
    // the decode bank, written when the unit is done (and forwarded to a head read in that cycle)
    const pdBank = mb.m.memory('pdbuf', PB, lines, blockBuf ? { noRwCheck: true, blockRam: true } : {});
    const pdW = mb.w('pd_waddr', rz(rz(sd.decoded, lfb), pdBank.addrWidth));
    const pdData = mb.w('pd_wdata', packDecode(sd.dec));
    mb.m.seq(mb.clk, (s) => s.if(sd!.done, (t) => t.write(pdBank, pdW, pdData)));
    const hit = all(sd.done, eq(pdW, raddr));
    let pq: Expr;
    if (blockBuf) {
      const rd = mb.reg('pd_rd', PB, null);
      mb.next(rd, pdBank.read(raddr));
      const fwd = mb.reg('pd_fwd', 1);
      mb.next(fwd, hit);
      const wq = mb.reg('pd_wq', PB, null);
      mb.next(wq, pdData, sd.done);
      pq = mux(fwd, wq, rd);
    } else {
      const q = mb.reg('pd_head', PB, null);
      mb.next(q, mux(hit, pdData, pdBank.read(raddr)));
      pq = q;
    }
    dec = unpackDecode(d, mb.w('head_decoded', pq));
  } else {
    dec = PB ? unpackDecode(d, mb.w('head_decoded', headE.slice(EW - 1, 128))) : decodeChecks(mb, d, head, dramSize, mulCtx);
  }
  const legal = all(run, avail, inv(dec.illegal));
  if (take) {
    mb.drive(dispatch, take);
    mb.output('head_load', all(legal, dec.toLoad));
    mb.output('head_store', all(legal, dec.toStore));
    mb.output('head_compute', all(legal, dec.toCompute));
  } else {
    const full = sel(dec.toLoad, fullLoad!, sel(dec.toStore, fullStore!, fullCompute!));
    mb.drive(dispatch, all(legal, inv(full)));
    mb.output('push_load', all(dispatch, dec.toLoad));
    mb.output('push_store', all(dispatch, dec.toStore));
    mb.output('push_compute', all(dispatch, dec.toCompute));
  }
  mb.next(D, inc(D), dispatch);
  const err = mb.w('err_w', all(run, avail, dec.illegal));
  const el = entryLayout(d);
  const entry = packEntry(el, { insn: head, fpEnd: dec.fpEnd, s0: dec.s0, pads: dec.pads, index: rz(D, el.indexBits) });
  mb.output('entry', entry);
  mb.output('err', err);
  mb.output('err_code', dec.code);
  mb.output('err_index', rz(D, 32));
  const pending = ult(D, cnt);
  const state = sel(dispatch, c(3, OBS.busy), sel(all(run, pending), sel(avail, c(3, OBS.queueFull), c(3, OBS.waitMemory)), c(3, OBS.idle)));
  mb.output('obs_state', state);
  mb.sink(nd);
  return mb;
}
