/**
 * conv2d (and grouped / depthwise conv2d, and dense as a 1x1 convolution of 1x1 images) for VTA:
 * the packed tensor-expression definition (vta-reference Part B §5.10), fused with the
 * requantization (>> shift, + bias, clip / relu, cast), and its schedule template with VTA's knobs.
 *
 * Packing (pack.ts) turns NCHW into NCHW{BATCH}n{BLOCK}c, pads channels and batch to whole blocks,
 * and packs groups smaller than a block several per block with block-diagonal weights.
 */
import type { Derived } from '../../src/config/derive.ts';
import { CompileError } from '../errors.ts';
import { add, and, cast, div, ge, int, lt, mod, mul, select, sub, type DType, type Expr } from '../ir/expr.ts';
import { createSchedule, type Schedule } from '../te/schedule.ts';
import { compute, placeholder, reduceAxis, sum, type Tensor } from '../te/tensor.ts';
import { GEMM_INTRIN } from '../vta/env.ts';
import { requantExpr, requantize, type RequantTypes } from './requant.ts';
import { allOf, blockedIndex, blockedShape, naturalChannel, naturalRow, packedChannelExpr, type BlockSpec, type ChannelPacking } from './layout.ts';
import { ceilDiv, checkDim, checkOperatorBytes, type Knobs } from './common.ts';

export interface Conv2dSpec {
  batch: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  pad: number;
  stride: number;
  groups: number;
  /** Requantization: arithmetic shift right, then bias add, then clip to [lo, hi]. */
  shift: number;
  bias: boolean;
  clip?: [number, number];
}

/** Options of every operator's compile function. */
export interface CompileOptions {
  /** Knob overrides; unspecified knobs come from the chooser. */
  knobs?: Partial<Knobs>;
  /** false: one virtual thread (no overlap of load, compute and store). */
  latencyHiding?: boolean;
}

/** The packed geometry of a convolution on a configuration. */
export interface ConvGeom {
  spec: Conv2dSpec;
  B: number;
  BI: number;
  BO: number;
  /** Batch blocks. */
  NB: number;
  /** Groups packed into one block-diagonal supergroup. */
  gs: number;
  /** Supergroups. */
  G: number;
  /** Input / output channels of one supergroup, and their blocks. */
  cinG: number;
  coutG: number;
  cibg: number;
  cobg: number;
  CIB: number;
  COB: number;
  OH: number;
  OW: number;
  K: number;
  /** Row step of the input stage: the stride for 1xK kernels (rows in between are never read), else 1. */
  rs: number;
  /** Rows and columns of the (padded) input stage. */
  Hr: number;
  Wp: number;
}

export function outDims(s: { h: number; w: number; k: number; pad: number; stride: number }): { oh: number; ow: number } {
  return { oh: Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1, ow: Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1 };
}

export function checkConvSpec(s: Conv2dSpec): void {
  const pos = (v: number, n: string) => checkDim('conv2d', n, v);
  pos(s.batch, 'batch');
  pos(s.h, 'H');
  pos(s.w, 'W');
  pos(s.cin, 'CI');
  pos(s.cout, 'CO');
  pos(s.k, 'K');
  pos(s.stride, 'STRIDE');
  pos(s.groups, 'groups');
  checkDim('conv2d', 'PAD', s.pad, 0);
  if (s.cin % s.groups || s.cout % s.groups) throw new CompileError(`conv2d: CI ${s.cin} and CO ${s.cout} must be multiples of groups ${s.groups}`);
  const { oh, ow } = outDims(s);
  if (oh < 1 || ow < 1) throw new CompileError(`conv2d: a ${s.k}x${s.k} kernel does not fit a ${s.h}x${s.w} input with padding ${s.pad}`);
  if (!Number.isInteger(s.shift) || s.shift < 0) throw new CompileError(`conv2d: shift must be a non-negative integer, got ${s.shift}`);
  if (s.clip && s.clip[0] > s.clip[1]) throw new CompileError(`conv2d: clip [${s.clip[0]}, ${s.clip[1]}] is empty`);
}

/** Largest number of groups to pack per supergroup (channels per group smaller than a block). */
function groupsPerBlock(s: Conv2dSpec, BI: number, BO: number): number {
  const cinG = s.cin / s.groups;
  const coutG = s.cout / s.groups;
  let best = 1;
  for (let gs = 1; gs <= s.groups; gs++) {
    if (s.groups % gs) continue;
    if (gs * cinG <= Math.max(BI, cinG) && gs * coutG <= Math.max(BO, coutG)) best = gs;
  }
  return best;
}

/** The blocked geometry of a convolution for any block spec (VTA's, the CPU's, or blocks of 1). */
export function blockGeom(s: Conv2dSpec, block: BlockSpec): ConvGeom {
  checkConvSpec(s);
  const { B, BI, BO } = block;
  const gs = groupsPerBlock(s, BI, BO);
  const G = s.groups / gs;
  const cinG = (s.cin / s.groups) * gs;
  const coutG = (s.cout / s.groups) * gs;
  const cibg = ceilDiv(cinG, BI);
  const cobg = ceilDiv(coutG, BO);
  const { oh, ow } = outDims(s);
  const rs = s.k === 1 ? s.stride : 1;
  return {
    spec: s, B, BI, BO, NB: ceilDiv(s.batch, B), gs, G, cinG, coutG, cibg, cobg, CIB: G * cibg, COB: G * cobg,
    OH: oh, OW: ow, K: s.k, rs, Hr: rs > 1 ? oh : s.h + 2 * s.pad, Wp: s.w + 2 * s.pad,
  };
}

/** The geometry on a VTA configuration: its block spec, after the size checks of its memories. */
export function convGeom(s: Conv2dSpec, d: Derived): ConvGeom {
  checkConvSpec(s);
  const out = outDims(s);
  checkOperatorBytes('conv2d', [
    ['input', s.batch * s.h * s.w * s.cin, d.inpWidth],
    ['weight', s.cout * (s.cin / s.groups) * s.k * s.k, d.wgtWidth],
    ['bias', s.bias ? s.cout : 0, d.accWidth],
    ['output', s.batch * out.oh * out.ow * s.cout, d.outWidth],
  ], d);
  return blockGeom(s, { B: d.batch, BI: d.blockIn, BO: d.blockOut });
}

/** How the input / output channels of a geometry sit in blocks (compiler/ops/layout.ts). */
export function inputPacking(g: ConvGeom): ChannelPacking {
  return { perGroup: g.spec.cin / g.spec.groups, groups: g.spec.groups, gs: g.gs, blocks: g.cibg, block: g.BI };
}
export function outputPacking(g: ConvGeom): ChannelPacking {
  return { perGroup: g.spec.cout / g.spec.groups, groups: g.spec.groups, gs: g.gs, blocks: g.cobg, block: g.BO };
}

export interface ConvDef {
  geom: ConvGeom;
  /** 'blocked': data, bias and output are blocked tensors; 'natural': NCHW data in, NCHW output out. */
  io: 'blocked' | 'natural';
  data: Tensor;
  kernel: Tensor;
  bias?: Tensor;
  /** With a data offset: the per-output-channel constant that removes it (offset × the channel's weight sum). */
  offsetCorrection?: Tensor;
  /** The pack stage: padded (and, with natural io, blocked) input. */
  inp: Tensor;
  conv: Tensor;
  /** Element-wise accumulator stages after the convolution, in order (blocked io only). */
  alu: Tensor[];
  biasAdd?: Tensor;
  out: Tensor;
}

/** Value types of an operator's operands and results (a VtaTarget is one). */
export interface ConvTypes extends RequantTypes {
  inpDtype: DType;
  wgtDtype: DType;
}

export interface ConvDefOptions {
  /**
   * 'blocked' (VTA): the placeholders and the output are blocked tensors, packed and unpacked by the
   * host (compiler/vta/pack.ts), the requantization is one stage per step (ALU instructions).
   * 'natural' (host targets): NCHW data is packed (padding folded in) by the `inp` stage, the
   * requantization is fused into the stage that unpacks the accumulators into the NCHW output;
   * block dimensions of extent 1 are dropped, so blocks of 1 give plain NCHW / OIHW loops.
   * The weights (and bias) are constants: packed once when the operator is bound to them.
   */
  io?: 'blocked' | 'natural';
  /**
   * Added to every data value by the pack stage, whose type becomes uint8 (128: the unsigned
   * operand of x86's vpdpbusd); the result is corrected by a per-output-channel constant computed
   * with the packed weights (offset × sum of the channel's weights), exact in wrap-around int32.
   */
  dataOffset?: number;
}

/**
 * THE convolution definition (vta-reference Part B §5.10) for a block spec: data
 * [NB][CIB][H][W][B][BI], kernel [COB][CIBg][K][K][BO][BI], conv [NB][COB][OH][OW][B][BO] reduced
 * over (ric, ry, rx, rii), then the requantization. Grouped convolutions read their supergroup's
 * input blocks (block-diagonal weights when several groups share a block).
 */
export function conv2dDef(g: ConvGeom, t: ConvTypes, o: ConvDefOptions = {}): ConvDef {
  const s = g.spec;
  const { B, BI, BO, NB, CIB, COB, OH, OW, K, rs } = g;
  const io = o.io ?? 'blocked';
  const drop = io === 'natural';
  const p = s.pad;
  const st = s.stride;
  const acc = t.accDtype;
  const offset = o.dataOffset ?? 0;
  const inpDtype: DType = offset ? 'uint8' : t.inpDtype;
  // The block axes of a compute's axis list: the given ones, or 0 where a unit block was dropped.
  const blockAxes = (rest: Expr[], sizes: number[]): Expr[] => sizes.map((n) => (drop && n === 1 ? int(0) : rest.shift()!));
  const data = io === 'natural' ? placeholder([s.batch, s.cin, s.h, s.w], t.inpDtype, 'data') : placeholder([NB, CIB, s.h, s.w, B, BI], t.inpDtype, 'data');
  const kernel = placeholder(blockedShape([COB, g.cibg, K, K], [BO, BI], drop), t.wgtDtype, io === 'natural' ? 'weight' : 'kernel');
  // Natural io on blocks of 1 without padding or offset: the pack would be a copy; read the data.
  const identityPack = io === 'natural' && !p && !offset && B === 1 && BI === 1;
  const inp = identityPack ? data : compute(blockedShape([NB, CIB, g.Hr, g.Wp], [B, BI], drop), (...ax) => {
    const [n, c, r, x] = ax.splice(0, 4);
    const [b, i] = blockAxes(ax, [B, BI]);
    const yy = rs > 1 ? sub(mul(r, rs), p) : sub(r, p);
    const xx = sub(x, p);
    const inImage = p ? and(ge(yy, 0), lt(yy, s.h), ge(xx, 0), lt(xx, s.w)) : undefined;
    if (io === 'blocked') {
      const v = data.at(n, c, yy, xx, b, i);
      return inImage ? select(inImage, v, int(0, t.inpDtype)) : v;
    }
    const row = naturalRow(n, b, B, s.batch);
    const ch = naturalChannel(inputPacking(g), BI > 1 ? add(mul(c, BI), i) : c);
    let v = data.at(row.n, ch.c, yy, xx);
    if (offset) v = cast('uint8', add(cast(acc, v), int(offset, acc)));
    const valid = allOf(row.valid, ch.valid, inImage);
    return valid ? select(valid, v, int(offset, inpDtype)) : v;
  }, io === 'natural' ? 'data_pack' : 'data_pad', ['n', 'c', 'r', 'x', 'b', 'i'].filter((_, d) => d < 4 || !drop || [B, BI][d - 4] > 1).map((a) => `pad.${a}`));
  const ric = reduceAxis(g.cibg, 'ric');
  const ry = reduceAxis(K, 'ry');
  const rx = reduceAxis(K, 'rx');
  const rii = drop && BI === 1 ? undefined : reduceAxis(BI, 'rii');
  const ri = rii ? rii.e : int(0);
  const shape = blockedShape([NB, COB, OH, OW], [B, BO], drop);
  const names = ['n', 'co', 'y', 'x', 'b', 'o'].filter((_, d) => d < 4 || !drop || [B, BO][d - 4] > 1);
  const conv = compute(shape, (...ax) => {
    const [n, co, y, x] = ax.splice(0, 4);
    const [b, ol] = blockAxes(ax, [B, BO]);
    const c: Expr = g.G > 1 ? add(mul(div(co, g.cobg), g.cibg), ric.e) : ric.e;
    const row = rs > 1 && !identityPack ? y : add(mul(y, st), ry.e);
    const col = add(mul(x, st), rx.e);
    const a = inp.at(...blockedIndex([n, c, row, col], [[b, B], [ri, BI]], drop));
    const w = kernel.at(...blockedIndex([co, ric.e, ry.e, rx.e], [[ol, BO], [ri, BI]], drop));
    return sum(mul(cast(acc, a), cast(acc, w)), rii ? [ric, ry, rx, rii] : [ric, ry, rx]);
  }, 'conv', names.map((a) => `conv.${a}`));
  if (io === 'blocked') {
    const { alu, bias, biasAdd, out } = requantize(conv, shape, names, s, t, [COB, B, BO], (i) => [i[1], i[4], i[5]]);
    return { geom: g, io, data, kernel, bias, inp, conv, alu, biasAdd, out };
  }
  const bias = s.bias ? placeholder([s.cout], acc, 'bias') : undefined;
  const offsetCorrection = offset ? placeholder([s.cout], acc, 'offset_correction') : undefined;
  const outPacking = outputPacking(g);
  const out = compute([s.batch, s.cout, OH, OW], (n, c, y, x) => {
    const pc = packedChannelExpr(outPacking, c);
    const idx = blockedIndex([B > 1 ? div(n, B) : n, BO > 1 ? div(pc, BO) : pc, y, x], [[B > 1 ? mod(n, B) : int(0), B], [BO > 1 ? mod(pc, BO) : int(0), BO]], drop);
    let v = conv.at(...idx);
    if (offsetCorrection) v = sub(v, offsetCorrection.at(c));
    return requantExpr(v, s, t, bias?.at(c));
  }, 'out', ['n', 'c', 'y', 'x'].map((a) => `out.${a}`));
  return { geom: g, io, data, kernel, bias, offsetCorrection, inp, conv, alu: [], out };
}

/** Whether the GEMM kernel keeps output columns in a hardware loop (VTA's order) or unrolls them. */
export function columnsInHardwareLoop(g: ConvGeom, k: Knobs): boolean {
  return k.tile_b * k.tile_co * k.tile_h >= 3 || k.tile_w === 1;
}

/** Whether the bias is loaded once for the whole operator (it fits beside the output tiles). */
export function biasResident(g: ConvGeom, k: Knobs, accDepth: number): boolean {
  const T = k.oc_nthread * k.h_nthread;
  return g.spec.bias && k.tile_b * k.tile_co * k.tile_h * k.tile_w * T + g.COB <= accDepth;
}

/** The schedule template (VTA's conv2d schedule, §5.10, with the knobs of §5.12). */
export function conv2dSchedule(def: ConvDef, k: Knobs, accDepth: number): Schedule {
  const g = def.geom;
  const sch = createSchedule(def.out);
  const so = sch.stage(def.out);
  const [n, co, y, x, b, o] = so.axis;
  const [no, ni] = so.split(n, k.tile_b);
  const [coo, coi] = so.split(co, k.tile_co);
  const [yo, yi] = so.split(y, k.tile_h);
  const [xo, xi] = so.split(x, k.tile_w);
  so.reorder(no, yo, coo, xo, ni, coi, yi, xi, b, o);
  if (k.oc_nthread > 1) {
    const [coo2, vt] = so.split(coo, k.oc_nthread);
    so.reorder(vt, no, yo, coo2);
    so.vthread(vt);
  }
  if (k.h_nthread > 1) {
    const yoIdx = so.leaf.findIndex((iv) => iv === yo);
    if (yoIdx < 0) throw new CompileError('internal: h axis moved');
    const [yo2, vt] = so.split(yo, k.h_nthread);
    const front = so.leaf.slice(0, so.leaf.indexOf(yo2) + 1).filter((iv) => iv !== vt);
    so.reorder(vt, ...front);
    so.vthread(vt);
  }
  so.pragma(ni, 'dma_copy');

  const sc = sch.stage(def.conv);
  sc.setScope('acc');
  sc.computeAt(so, xo);
  const [cn, cco, cy, cx, cb, cob] = sc.axis;
  const [ric, ry, rx, rii] = sc.reduceAxis;
  const [rico, rici] = sc.split(ric, k.tile_ci);
  if (columnsInHardwareLoop(g, k)) sc.reorder(rico, rici, cx, ry, rx, cn, cco, cy, cb, cob, rii);
  else sc.reorder(rico, rici, ry, rx, cn, cco, cy, cx, cb, cob, rii);
  sc.tensorize(cb, GEMM_INTRIN);

  const si = sch.stage(def.inp);
  si.setScope('inp');
  si.computeAt(sc, rico);
  si.pragma(si.axis[0], 'dma_copy');
  const kw = sch.cacheRead(def.kernel, 'wgt', [def.conv]);
  const sk = sch.stage(kw);
  sk.computeAt(sc, rico);
  sk.pragma(sk.axis[0], 'dma_copy');

  for (const a of def.alu) {
    const sa = sch.stage(a);
    sa.setScope('acc');
    sa.computeAt(so, xo);
    sa.pragma(sa.axis[0], 'alu');
  }
  if (def.bias && def.biasAdd) {
    // The whole bias stays in the accumulator SRAM when it fits next to the tiles (one load);
    // otherwise each tile loads its channels.
    const bc = sch.cacheRead(def.bias, 'acc', [def.biasAdd]);
    const sb = sch.stage(bc);
    if (!biasResident(g, k, accDepth)) sb.computeAt(so, xo);
    sb.pragma(sb.axis[0], 'dma_copy');
  }
  return sch;
}
