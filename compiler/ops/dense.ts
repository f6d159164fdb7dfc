/**
 * dense: out[M, N] = requant(data[M, K] . weight[N, K]^T) with VTA's packed layouts
 * (vta-reference Part B §5.11): data [M/B][K/BI][B][BI], weight [N/BO][K/BI][BO][BI]. Knobs:
 * tile_b (batch blocks per tile), tile_ci (reduction chunk), tile_co (output blocks per tile),
 * oc_nthread; the others are 1. Knobs are chosen with the conv2d model on the equivalent 1x1
 * convolution of 1x1 images (the same instruction pattern).
 */
import type { Derived } from '../../src/config/derive.ts';
import { CompileError } from '../errors.ts';
import { add, cast, div, int, lt, mod, mul, select } from '../ir/expr.ts';
import { lower } from '../te/lower.ts';
import { createSchedule, type Schedule } from '../te/schedule.ts';
import { compute, placeholder, reduceAxis, sum, type Tensor } from '../te/tensor.ts';
import { buildVta } from '../vta/build.ts';
import { GEMM_INTRIN, vtaTarget, type VtaTarget } from '../vta/env.ts';
import { packActivations, packBias, unpackActivations } from '../vta/pack.ts';
import { requantExpr, requantize } from './requant.ts';
import { allOf, blockedIndex, blockedShape, naturalRow, type BlockSpec } from './layout.ts';
import { ceilDiv, checkDim, checkOperatorBytes, type Knobs } from './common.ts';
import { denseValues } from './compute.ts';
import { convGeom, type CompileOptions, type ConvGeom, type ConvTypes } from './conv2d.ts';
import { knobCandidates } from './conv2d_op.ts';
import { convCost, convKnobError, convKnobSpace, rankConvKnobs } from './conv_knobs.ts';
import { firstFitting, gemmOperands, type OpInstance, type OperandLayout } from './op.ts';
import { denseRef } from './reference.ts';

export interface DenseSpec {
  m: number;
  k: number;
  n: number;
  shift: number;
  bias: boolean;
  clip?: [number, number];
}

export interface DenseDef {
  data: Tensor;
  weight: Tensor;
  bias?: Tensor;
  res: Tensor;
  alu: Tensor[];
  biasAdd?: Tensor;
  out: Tensor;
  MB: number;
  KB: number;
  NBk: number;
}

/** The equivalent convolution geometry (for knob checks and the cost model). */
export function denseGeom(s: DenseSpec, d: Derived): ConvGeom {
  return convGeom({ batch: s.m, h: 1, w: 1, cin: s.k, cout: s.n, k: 1, pad: 0, stride: 1, groups: 1, shift: s.shift, bias: s.bias, clip: s.clip }, d);
}

/**
 * THE dense definition for a block spec: data [M/B][K/BI][B][BI] x weight [N/BO][K/BI][BO][BI] ->
 * res [M/B][N/BO][B][BO] reduced over (rk, ri), then the requantization. 'blocked' io (VTA): packed
 * placeholders and output, one stage per requantization step; 'natural' io (host targets): [M][K]
 * data packed in the function, the requantization fused into the unpack to the [M][N] output, unit
 * block dimensions dropped (blocks of 1: plain [M][K] x [N][K] loops). The weights are a constant,
 * packed when bound.
 */
export function denseDef(s: DenseSpec, block: BlockSpec, t: ConvTypes, io: 'blocked' | 'natural' = 'blocked'): DenseDef {
  const { B, BI, BO } = block;
  const drop = io === 'natural';
  const MB = ceilDiv(s.m, B);
  const KB = ceilDiv(s.k, BI);
  const NBk = ceilDiv(s.n, BO);
  const acc = t.accDtype;
  let data: Tensor;
  let packed: Tensor;
  if (io === 'blocked') data = packed = placeholder([MB, KB, B, BI], t.inpDtype, 'data');
  else {
    data = placeholder([s.m, s.k], t.inpDtype, 'data');
    // The pack stage (a plain read of the data on blocks of 1).
    packed = B === 1 && BI === 1 ? data : compute(blockedShape([MB, KB], [B, BI], drop), (...ax) => {
      const [m, kb] = ax.splice(0, 2);
      const b = drop && B === 1 ? int(0) : ax.shift()!;
      const i = drop && BI === 1 ? int(0) : ax.shift()!;
      const row = naturalRow(m, b, B, s.m);
      const col = BI > 1 ? add(mul(kb, BI), i) : kb;
      const valid = allOf(row.valid, s.k % BI ? lt(col, s.k) : undefined);
      const v = data.at(row.n, col);
      return valid ? select(valid, v, int(0, t.inpDtype)) : v;
    }, 'data_pack');
  }
  const weight = placeholder(blockedShape([NBk, KB], [BO, BI], drop), t.wgtDtype, 'weight');
  const rk = reduceAxis(KB, 'rk');
  const ri = drop && BI === 1 ? undefined : reduceAxis(BI, 'ri');
  const rie = ri ? ri.e : int(0);
  const shape = blockedShape([MB, NBk], [B, BO], drop);
  const names = ['m', 'n', 'b', 'o'].filter((_, d) => d < 2 || !drop || [B, BO][d - 2] > 1);
  const res = compute(shape, (...ax) => {
    const [m, n] = ax.splice(0, 2);
    const b = drop && B === 1 ? int(0) : ax.shift()!;
    const o = drop && BO === 1 ? int(0) : ax.shift()!;
    const a = packed.at(...blockedIndex([m, rk.e], [[b, B], [rie, BI]], drop));
    const w = weight.at(...blockedIndex([n, rk.e], [[o, BO], [rie, BI]], drop));
    return sum(mul(cast(acc, a), cast(acc, w)), ri ? [rk, ri] : [rk]);
  }, 'res', names.map((a) => `res.${a}`));
  if (io === 'blocked') {
    const { alu, bias, biasAdd, out } = requantize(res, shape, names, s, t, [NBk, B, BO], (i) => [i[1], i[2], i[3]]);
    return { data, weight, bias, res, alu, biasAdd, out, MB, KB, NBk };
  }
  const bias = s.bias ? placeholder([s.n], acc, 'bias') : undefined;
  const out = compute([s.m, s.n], (i, j) => {
    const idx = blockedIndex([B > 1 ? div(i, B) : i, BO > 1 ? div(j, BO) : j], [[B > 1 ? mod(i, B) : int(0), B], [BO > 1 ? mod(j, BO) : int(0), BO]], drop);
    return requantExpr(res.at(...idx), s, t, bias?.at(j));
  }, 'out', ['out.m', 'out.n']);
  return { data, weight, bias, res, alu: [], out, MB, KB, NBk };
}

function denseSchedule(def: DenseDef, k: Knobs, accDepth: number): Schedule {
  const sch = createSchedule(def.out);
  const so = sch.stage(def.out);
  const [m, n, b, o] = so.axis;
  const [mo, mi] = so.split(m, k.tile_b);
  const [no, ni] = so.split(n, k.tile_co);
  so.reorder(mo, no, mi, ni, b, o);
  if (k.oc_nthread > 1) {
    const [no2, vt] = so.split(no, k.oc_nthread);
    so.reorder(vt, mo, no2);
    so.vthread(vt);
  }
  so.pragma(mi, 'dma_copy');
  const attachAt = so.leaf[so.leaf.indexOf(mi) - 1];
  const sr = sch.stage(def.res);
  sr.setScope('acc');
  sr.computeAt(so, attachAt);
  const [rm, rn, rb, ro] = sr.axis;
  const [rk, ri] = sr.reduceAxis;
  const [rko, rki] = sr.split(rk, k.tile_ci);
  sr.reorder(rko, rki, rm, rn, rb, ro, ri);
  sr.tensorize(rb, GEMM_INTRIN);
  for (const [t, scope] of [[def.data, 'inp'], [def.weight, 'wgt']] as const) {
    const c = sch.stage(sch.cacheRead(t, scope, [def.res]));
    c.computeAt(sr, rko);
    c.pragma(c.axis[0], 'dma_copy');
  }
  for (const a of def.alu) {
    const sa = sch.stage(a);
    sa.setScope('acc');
    sa.computeAt(so, attachAt);
    sa.pragma(sa.axis[0], 'alu');
  }
  if (def.bias && def.biasAdd) {
    const sb = sch.stage(sch.cacheRead(def.bias, 'acc', [def.biasAdd]));
    if (k.tile_b * k.tile_co * k.oc_nthread + def.NBk > accDepth) sb.computeAt(so, attachAt);
    sb.pragma(sb.axis[0], 'dma_copy');
  }
  return sch;
}

/** dense's operand layouts (data, weight, bias; output). */
export function denseLayout(s: DenseSpec, d: Derived): OperandLayout {
  const t = vtaTarget(d);
  const KB = ceilDiv(s.k, t.blockIn);
  const NBk = ceilDiv(s.n, t.blockOut);
  const ident = (c: number) => c;
  return {
    pack: [
      (v) => packActivations(v, s.m, s.k, 1, 1, t.batch, t.blockIn, ident, KB),
      (v) => packActivations(v, s.n, s.k, 1, 1, t.blockOut, t.blockIn, ident, KB),
      (v) => packBias({ COB: NBk, B: t.batch, BO: t.blockOut }, v, ident),
    ],
    unpack: (v) => unpackActivations(v, s.m, s.n, 1, 1, t.batch, t.blockOut, ident, NBk),
  };
}

export function compileDense(s: DenseSpec, d: Derived, opts: CompileOptions = {}): OpInstance {
  for (const [n, v] of [['M', s.m], ['K', s.k], ['N', s.n]] as const) checkDim('dense', n, v);
  checkOperatorBytes('dense', [['data', s.m * s.k, d.inpWidth], ['weight', s.n * s.k, d.wgtWidth], ['bias', s.bias ? s.n : 0, d.accWidth], ['output', s.m * s.n, d.outWidth]], d);
  if (opts.knobs) {
    for (const [name, v] of Object.entries(opts.knobs)) {
      if ((name === 'tile_h' || name === 'tile_w' || name === 'h_nthread') && v !== 1) throw new CompileError(`dense has no ${name} knob (it must be 1)`);
    }
  }
  const g = denseGeom(s, d);
  const t = vtaTarget(d);
  const fixedDense = { tile_h: 1, tile_w: 1, h_nthread: 1 };
  const fixed = { ...opts, knobs: { ...fixedDense, ...(opts.knobs ?? {}) } };
  return firstFitting(d, knobCandidates(fixed, (k) => convKnobError(g, d, k), (o) => rankConvKnobs(g, d, o)), (knobs) => {
    const def = denseDef(s, { B: t.batch, BI: t.blockIn, BO: t.blockOut }, t);
    const func = lower(denseSchedule(def, knobs, d.depth.acc), 'dense');
    const module = buildVta(func, d);
    const buf = (x: Tensor) => func.bufferOf.get(x)!;
    return {
      op: 'dense',
      shape: { m: s.m, k: s.k, n: s.n },
      d, knobs, module, macs: s.m * s.k * s.n,
      knobSpace: (o) => convKnobSpace(g, d, { ...o, fixed: fixedDense }),
      analyticCost: (k) => convCost(g, d, k),
      estimate: (k) => convCost(g, d, k).cycles,
      operands: (seed) => {
        const { data, weight, bias, requant } = denseValues(s, d, seed);
        return {
          ...gemmOperands(buf, def, denseLayout(s, d), { data, weight, bias }),
          expected: () => denseRef(s.m, s.k, s.n, data, weight, requant),
        };
      },
    };
  });
}
