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
import { add, and, cast, div, ge, int, lt, max, min, mul, select, shr, sub, type Expr } from '../ir/expr.ts';
import { createSchedule, type Schedule } from '../te/schedule.ts';
import { compute, placeholder, reduceAxis, sum, type Tensor } from '../te/tensor.ts';
import { GEMM_INTRIN, type VtaTarget } from '../vta/env.ts';
import { requantize } from './requant.ts';
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

export function convGeom(s: Conv2dSpec, d: Derived): ConvGeom {
  checkConvSpec(s);
  const out = outDims(s);
  checkOperatorBytes('conv2d', [
    ['input', s.batch * s.h * s.w * s.cin, d.inpWidth],
    ['weight', s.cout * (s.cin / s.groups) * s.k * s.k, d.wgtWidth],
    ['bias', s.bias ? s.cout : 0, d.accWidth],
    ['output', s.batch * out.oh * out.ow * s.cout, d.outWidth],
  ], d);
  const B = d.batch;
  const BI = d.blockIn;
  const BO = d.blockOut;
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

export interface ConvDef {
  geom: ConvGeom;
  data: Tensor;
  kernel: Tensor;
  bias?: Tensor;
  inp: Tensor;
  conv: Tensor;
  /** Element-wise accumulator stages after the convolution, in order. */
  alu: Tensor[];
  biasAdd?: Tensor;
  out: Tensor;
}

/** The packed tensor-expression definition. */
export function conv2dDef(g: ConvGeom, t: VtaTarget): ConvDef {
  const s = g.spec;
  const { B, BI, BO, NB, CIB, COB, OH, OW, K, rs } = g;
  const p = s.pad;
  const st = s.stride;
  const acc = t.accDtype;
  const data = placeholder([NB, CIB, s.h, s.w, B, BI], t.inpDtype, 'data');
  const kernel = placeholder([COB, g.cibg, K, K, BO, BI], t.wgtDtype, 'kernel');
  const inp = compute([NB, CIB, g.Hr, g.Wp, B, BI], (n, c, r, x, b, i) => {
    const yy = rs > 1 ? sub(mul(r, rs), p) : sub(r, p);
    const xx = sub(x, p);
    const v = data.at(n, c, yy, xx, b, i);
    if (!p) return v;
    return select(and(ge(yy, 0), lt(yy, s.h), ge(xx, 0), lt(xx, s.w)), v, int(0, t.inpDtype));
  }, 'data_pad', ['n', 'c', 'r', 'x', 'b', 'i'].map((a) => `pad.${a}`));
  const ric = reduceAxis(g.cibg, 'ric');
  const ry = reduceAxis(K, 'ry');
  const rx = reduceAxis(K, 'rx');
  const rii = reduceAxis(BI, 'rii');
  const shape = [NB, COB, OH, OW, B, BO];
  const names = ['n', 'co', 'y', 'x', 'b', 'o'];
  const conv = compute(shape, (n, co, y, x, b, o) => {
    const c: Expr = g.G > 1 ? add(mul(div(co, g.cobg), g.cibg), ric.e) : ric.e;
    const row = rs > 1 ? y : add(mul(y, st), ry.e);
    const col = add(mul(x, st), rx.e);
    return sum(mul(cast(acc, inp.at(n, c, row, col, b, rii.e)), cast(acc, kernel.at(co, ric.e, ry.e, rx.e, o, rii.e))), [ric, ry, rx, rii]);
  }, 'conv', names.map((a) => `conv.${a}`));
  const { alu, bias, biasAdd, out } = requantize(conv, shape, names, s, t, [COB, B, BO], (i) => [i[1], i[4], i[5]]);
  return { geom: g, data, kernel, bias, inp, conv, alu, biasAdd, out };
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
