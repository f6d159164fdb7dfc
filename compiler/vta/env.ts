/**
 * What the VTA passes need to know about a configuration: element geometry (lanes per SRAM
 * element), the dtypes of the four data types, SRAM depths and instruction field widths
 * (vta-reference Part B §1.3, §2). Everything is derived from the config, never assumed.
 */
import type { Derived } from '../../src/config/derive.ts';
import { intDtype, type DType } from '../ir/expr.ts';
import type { Scope } from '../ir/buffer.ts';
import type { DmaMem } from '../ir/stmt.ts';

export interface VtaTarget {
  d: Derived;
  batch: number;
  blockIn: number;
  blockOut: number;
  inpDtype: DType;
  wgtDtype: DType;
  accDtype: DType;
  outDtype: DType;
  /** Lanes of one SRAM element per scope / memory type. */
  lanes: Record<'inp' | 'wgt' | 'acc', number>;
  depth: { inp: number; wgt: number; acc: number; uop: number };
  /** Largest hardware loop trip count and factor limits (from the instruction layout). */
  maxIter: number;
  gemmFactorMax: { dst: number; src: number; wgt: number };
  aluFactorMax: { dst: number; src: number };
  maxImm: number;
  minImm: number;
}

const cache = new WeakMap<Derived, VtaTarget>();

export function vtaTarget(d: Derived): VtaTarget {
  let t = cache.get(d);
  if (t) return t;
  const w = (s: 'gemm' | 'alu', f: string) => 2 ** d.layout[s].byName[f].width - 1;
  const fmax = (s: 'gemm' | 'alu', a: string) => Math.min(w(s, `${a}_factor_out`), w(s, `${a}_factor_in`));
  t = {
    d,
    batch: d.batch,
    blockIn: d.blockIn,
    blockOut: d.blockOut,
    inpDtype: intDtype(d.inpWidth),
    wgtDtype: intDtype(d.wgtWidth),
    accDtype: intDtype(d.accWidth),
    outDtype: intDtype(d.outWidth),
    lanes: { inp: d.batch * d.blockIn, wgt: d.blockOut * d.blockIn, acc: d.batch * d.blockOut },
    depth: { inp: d.depth.inp, wgt: d.depth.wgt, acc: d.depth.acc, uop: d.depth.uop },
    maxIter: Math.min(w('gemm', 'iter_out'), w('gemm', 'iter_in')),
    gemmFactorMax: { dst: fmax('gemm', 'dst'), src: fmax('gemm', 'src'), wgt: fmax('gemm', 'wgt') },
    aluFactorMax: { dst: fmax('alu', 'dst'), src: fmax('alu', 'src') },
    maxImm: 2 ** (d.layout.alu.byName.imm.width - 1) - 1,
    minImm: -(2 ** (d.layout.alu.byName.imm.width - 1)),
  };
  cache.set(d, t);
  return t;
}

export function lanesOf(t: VtaTarget, scope: Scope | DmaMem): number {
  switch (scope) {
    case 'inp':
    case 'INP':
      return t.lanes.inp;
    case 'wgt':
    case 'WGT':
      return t.lanes.wgt;
    default:
      return t.lanes.acc;
  }
}

/** The tensorize intrinsic name of VTA's GEMM (vta-reference Part B §5.2). */
export const GEMM_INTRIN = 'vta.gemm';
