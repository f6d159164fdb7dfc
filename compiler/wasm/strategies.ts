/**
 * The wasm target's conv2d schedule on THE blocked definition (compiler/ops/conv2d.ts `conv2dDef`,
 * natural io) with blocks that suit 128-bit SIMD: WASM_BLOCKS = (1, 2, 4) — four output channels in
 * the i32x4 lanes of an accumulator, two input channels per lane for `i32x4.dot_i16x8_s` (int8
 * sign-extended to int16 on load). The weights are packed once when bound ([COB][CIBg][K][K][4][2]),
 * the data by the definition's pack stage ([CIB][H+2p][W+2p][2], padding folded in).
 *
 * conv is reordered to (n, co-block, y, x-block, ric, ry, rx, co-vector, column, lane, rii): the
 * (lane, rii) nest is tensorized with WASM_DOT_I16X8 and the co-vector and column loops are
 * unrolled, so the printer (compiler/wasm/codegen.ts) keeps the reg_co × reg_w accumulators of one
 * register block in v128 locals over the whole reduction and stores them once. The requantization
 * tail reads the accumulators into the natural NCHW output, vectorized along the row.
 *
 * Knobs: reg_co (output-channel vectors of 4 per register block), reg_h (output rows), reg_w (output
 * columns per register block), unroll_k. Their product bounds the live v128 accumulators (x86-64
 * has 16 xmm registers).
 */
import { divisors } from '../ops/common.ts';
import { blockGeom } from '../ops/conv2d.ts';
import type { OpDefinition } from '../ops/compute.ts';
import type { BlockSpec } from '../ops/layout.ts';
import { createSchedule, type Schedule } from '../te/schedule.ts';
import type { HostKnobs, HostStrategy, KnobSpace } from '../target/strategy.ts';

/** The tensorize intrinsic: acc.i32x4[o] += sum over 2 lanes k of int16(A[k]) * int16(W[o][k]). */
export const WASM_DOT_I16X8 = 'vtw.wasm_dot_i16x8';

/** Block spec of the wasm conv2d: batch 1, 2 input channels (one i16 pair), 4 output channels (i32x4). */
export const WASM_BLOCKS: BlockSpec = { B: 1, BI: 2, BO: 4 };

/**
 * Most accumulators of one register block by default: x86-64 has 16 xmm registers; 14 accumulators
 * leave two for operands (V8 reloads the rest), which measured as fast as 8 and better on 7-14
 * column rows (docs/benchmarks.md).
 */
const MAX_ACCUMULATORS = 14;
/**
 * Most accumulators + live input pairs by default (V8 spills the excess; what that costs depends
 * on the body): measured, ResNet-18 C1 (7x7, stride 2) 8.7 ms at 2 x 7 columns (33 live) and
 * 5.6 ms at 2 x 4 (21); the 3x3 stride-2 layers equal or faster at 29 (docs/benchmarks.md).
 */
const MAX_LIVE = 30;
/** Accumulators + input pairs + weight blocks of a spill-free register block (16 xmm registers less V8's scratch and the product). */
const SPILL_FREE_VALUES = 14;

/** Whether conv2d runs on the blocked wasm schedule: int8 operands into int32 accumulators (else the CPU strategy's natural nest). */
export function wasmConvApplies(def: OpDefinition): boolean {
  return def.blocked !== undefined && def.withBlocks !== undefined && def.inputs[0].dtype === 'int8' && def.inputs[1].dtype === 'int8' &&
    def.stages.reduce?.dtype === 'int32';
}

export const wasmConv2d: HostStrategy = {
  knobSpace(def): KnobSpace {
    const g = blockGeom(def.blocked!.geom.spec, WASM_BLOCKS);
    // unroll_k: 1 the kernel-column loop unrolled too (adjacent columns share their input pairs), 2 the kernel rows as well.
    // reg_h: output rows per register block (a block of 2 x 2 positions fits where a row is 7 or 14 wide).
    return { reg_co: divisors(g.cobg).filter((x) => x <= 4), reg_w: divisors(g.OW).filter((x) => x <= 8), unroll_k: [0, 1, 2], reg_h: divisors(g.OH).filter((x) => x <= 4) };
  },
  defaultKnobs(def, t): HostKnobs {
    const space = this.knobSpace(def, t);
    const { k, stride } = def.blocked!.geom.spec;
    // V8 loads all of an iteration's operands before its arithmetic, so a block whose accumulators,
    // input pairs and weight blocks fit the 15 usable xmm registers (one is V8's scratch, one the
    // product) runs without spills: measured 8-31 % faster than the 2 x 7 block below on ResNet-18
    // C1-C5 (docs/benchmarks.md). The largest such block of at least 8 accumulators, if any.
    const spillFree = (c: number, h: number, w: number, u: number) =>
      c * h * w + (u ? h * ((w - 1) * stride + k) + c * k : h * w + c) <= SPILL_FREE_VALUES;
    let fit: HostKnobs | undefined;
    for (const unroll_k of [1, 0]) {
      for (const reg_co of space.reg_co.filter((c) => c <= 2)) {
        for (const reg_h of space.reg_h) {
          for (const reg_w of space.reg_w) {
            const accs = reg_co * reg_h * reg_w;
            if (accs < 8 || !spillFree(reg_co, reg_h, reg_w, unroll_k)) continue;
            const best = fit ? fit.reg_co * fit.reg_h * fit.reg_w : 0;
            // more accumulators first; on a tie, fewer rows (the rows' input pairs are not shared)
            if (accs > best || (accs === best && reg_h < fit!.reg_h)) fit = { reg_co, reg_w, unroll_k, reg_h };
          }
        }
      }
    }
    if (fit) return fit;
    // With the kernel columns unrolled, one kernel row's distinct input pairs are live with the
    // accumulators: (reg_w - 1) * stride + K of them.
    const live = (reg_co: number, reg_w: number) => reg_co * reg_w + (reg_w - 1) * stride + k;
    // The largest register block within the accumulator and live-value budgets; on a tie, two
    // channel vectors (each input pair then feeds two dot products).
    let best = { reg_co: 1, reg_w: 1 };
    for (const reg_co of space.reg_co.filter((c) => c <= 2)) {
      const reg_w = space.reg_w.filter((w) => w * reg_co <= MAX_ACCUMULATORS && live(reg_co, w) <= MAX_LIVE).pop() ?? 1;
      if (reg_co * reg_w >= best.reg_co * best.reg_w) best = { reg_co, reg_w };
    }
    return { ...best, unroll_k: 1, reg_h: 1 };
  },
  blocks: () => ({ block: WASM_BLOCKS, dataOffset: 0 }),
  schedule(def, k): Schedule {
    // def: the operator on WASM_BLOCKS (`blocks`).
    const cd = def.blocked!.def;
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const [on, oc, oy, ox] = so.axis;
    // The four channels of one accumulator vector requantized row after row: their rows share cache lines.
    if (oc.extent % WASM_BLOCKS.BO === 0) {
      const [oco, oci] = so.split(oc, WASM_BLOCKS.BO);
      so.reorder(on, oco, oy, oci, ox);
    }
    so.pragma(ox, 'vectorize');
    const sc = sch.stage(cd.conv);
    const [n, co, y, x, o] = sc.axis;
    const [ric, ry, rx, rii] = sc.reduceAxis;
    const [coo, coi] = sc.split(co, k.reg_co);
    const [yo, yi] = sc.split(y, k.reg_h ?? 1);
    const [xo, xi] = sc.split(x, k.reg_w);
    sc.reorder(n, coo, yo, xo, ric, ry, rx, coi, yi, xi, o, rii);
    sc.pragma(coi, 'unroll');
    sc.pragma(yi, 'unroll');
    sc.pragma(xi, 'unroll');
    if (k.unroll_k >= 1) sc.pragma(rx, 'unroll');
    if (k.unroll_k >= 2) sc.pragma(ry, 'unroll');
    sc.tensorize(o, WASM_DOT_I16X8);
    // The pack stage writes the two channels of a pair in one iteration.
    const sp = sch.stage(cd.inp);
    sp.pragma(sp.axis[sp.axis.length - 1], 'unroll');
    return sch;
  },
};
