/**
 * CPU schedules of the natural-layout definitions (compiler/ops/compute.ts): the outer loop over
 * (batch, output-channel tile) runs in parallel on `threads` OpenMP threads; the reduction is
 * computed per tile into a small local accumulator (compute_at), reduction loops outside and the
 * output row innermost, so the inner loop is a contiguous int8 x int8 -> int32 multiply-add over a
 * row the compiler vectorises; the requantize tail reads the accumulator tile.
 */
import { availableParallelism } from 'node:os';
import { divisors } from '../ops/common.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { createSchedule, type Schedule } from '../te/schedule.ts';
import type { HostKnobs, HostStrategy, HostTargetSpec, KnobSpace } from '../target/strategy.ts';
import type { CpuTargetSpec } from '../target/target.ts';
import { DOT_I8X4, DOT_LANES, dotIsaOf } from './codegen.ts';

/** Thread counts offered: 1 up to the host's cores. */
export function threadChoices(): number[] {
  return Array.from({ length: Math.max(1, availableParallelism()) }, (_, i) => i + 1);
}

/**
 * Default thread count: both cores of a 2-core host (more cores are the tuner's knob, not measured
 * yet). Measured here (gcc 12, -O3 -march=native, 2 shared cores, build/bench-cpu.json): ResNet-18
 * C2 7.1 ms on 1 thread, 4.6 ms on 2; the parallel form is vectorized like the serial one since
 * loop indices are pointer-wide (compiler/cpu/codegen.ts, vtw_index). On a quiet host 2 threads beat
 * 1 on 8-9 of ResNet-18's 11 conv layers; on a host whose cores other jobs hold (load average > 2)
 * a worker that loses its core costs a scheduler tick (~4 ms) per call and 1 thread wins: the
 * tuner's knob, or 1 here, on such a machine (docs/benchmarks.md, CPU section).
 */
const DEFAULT_THREADS = Math.min(2, Math.max(1, availableParallelism()));

const largestAtMost = (cands: readonly number[], limit: number): number => cands.filter((c) => c <= limit).pop() ?? cands[0];

/** Bytes of int32 accumulator tile the defaults aim for (fits L1 with the input rows). */
const TILE_BYTES = 16 * 1024;

/**
 * Whether conv2d's reduction can be tensorized with DOT_I8X4 on target `t`: the target has an int8
 * dot-product instruction, operands are int8 into an int32 accumulator, the input channels come in
 * groups of 4, and the convolution is not grouped (the data read must not depend on the output channel).
 */
function convDotApplies(def: OpDefinition, t: HostTargetSpec): boolean {
  const { cin, groups } = def.shape;
  return t.kind === 'cpu' && dotIsaOf(t.features) !== undefined && groups === 1 && cin % 4 === 0 &&
    def.inputs[0].dtype === 'int8' && def.inputs[1].dtype === 'int8' && def.stages.reduce?.dtype === 'int32';
}

export const cpuConv2d: HostStrategy = {
  knobSpace(def, t): KnobSpace {
    const [, co, oh] = def.output.shape;
    const space: KnobSpace = { tile_co: divisors(co).filter((x) => x <= 64), tile_h: divisors(oh).filter((x) => x <= 16), threads: threadChoices() };
    // dot = 1: the input-channel reduction in groups of 4 on the target's dot-product instruction.
    if (convDotApplies(def, t)) space.dot = [0, 1];
    return space;
  },
  defaultKnobs(def, t): HostKnobs {
    const space = this.knobSpace(def, t);
    const ow = def.output.shape[3];
    // With dot products, the packed 4-channel groups of a row are shared by every output channel of
    // the tile: a wider tile amortizes the packing (C2, 1 thread: 8.8 ms at 16, 6.9 ms at 64).
    // Rows narrower than one instruction's lanes leave lanes idle: there the plain vectorized nest
    // is as fast or faster (measured: C9, 14 columns, 13.4 ms plain, 18.6 ms with 16-lane dot).
    const dot = space.dot && t.kind === 'cpu' && ow >= DOT_LANES[dotIsaOf(t.features)!] ? 1 : 0;
    const tile_co = largestAtMost(space.tile_co, dot ? 64 : 16);
    const tile_h = largestAtMost(space.tile_h, Math.max(1, Math.floor(TILE_BYTES / (4 * tile_co * ow))));
    return { tile_co, tile_h, threads: DEFAULT_THREADS, ...(space.dot ? { dot } : {}) };
  },
  schedule(def, k): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const [n, co, y, x] = so.axis;
    const [coo, coi] = so.split(co, k.tile_co);
    const [yo, yi] = so.split(y, k.tile_h);
    so.reorder(n, coo, yo, coi, yi, x);
    so.pragma(so.fuse(n, coo), 'parallel');
    so.pragma(x, 'vectorize');
    const sc = sch.stage(def.stages.reduce!);
    sc.computeAt(so, yo);
    const [cn, cco, cy, cx] = sc.axis;
    const [rc, ry, rx] = sc.reduceAxis;
    if (k.dot) {
      // Output channel × row position × 4 input channels: one dot-product instruction per lane block.
      const [rco, rci] = sc.split(rc, 4);
      sc.reorder(cn, cy, rco, ry, rx, cco, cx, rci);
      sc.tensorize(cco, DOT_I8X4);
    } else {
      sc.reorder(cn, cy, rc, ry, rx, cco, cx);
      sc.pragma(cx, 'vectorize');
    }
    if (def.stages.pad) {
      const sp = sch.stage(def.stages.pad);
      const [pn, pc, , px] = sp.axis;
      sp.pragma(sp.fuse(pn, pc), 'parallel');
      sp.pragma(px, 'vectorize');
    }
    return sch;
  },
};

export const cpuDense: HostStrategy = {
  knobSpace(def): KnobSpace {
    return { tile_n: divisors(def.output.shape[1]).filter((x) => x <= 64), threads: threadChoices() };
  },
  defaultKnobs(def, t): HostKnobs {
    const space = this.knobSpace(def, t);
    return { tile_n: largestAtMost(space.tile_n, 32), threads: DEFAULT_THREADS };
  },
  schedule(def, k): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const [m, n] = so.axis;
    const [no, ni] = so.split(n, k.tile_n);
    const outer = so.fuse(m, no);
    so.pragma(outer, 'parallel');
    so.pragma(ni, 'vectorize');
    // One dot product per output: the reduction over K is the inner loop (a vectorised widening sum).
    sch.stage(def.stages.reduce!).computeAt(so, outer);
    return sch;
  },
};

export const cpuAdd: HostStrategy = {
  knobSpace: () => ({ threads: threadChoices() }),
  defaultKnobs: () => ({ threads: DEFAULT_THREADS }),
  schedule(def): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const [n, c, y, x] = so.axis;
    so.pragma(so.fuse(n, c), 'parallel');
    so.pragma(so.fuse(y, x), 'vectorize');
    return sch;
  },
};

export const cpuMaxPool: HostStrategy = {
  knobSpace: () => ({ threads: threadChoices() }),
  defaultKnobs: () => ({ threads: DEFAULT_THREADS }),
  schedule(def): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const [n, c, y, x] = so.axis;
    so.pragma(so.fuse(n, c), 'parallel');
    so.pragma(x, 'vectorize');
    const sp = sch.stage(def.stages.reduce!);
    sp.computeAt(so, y);
    const [pn, pc, py, px] = sp.axis;
    const [ry, rx] = sp.reduceAxis;
    sp.reorder(pn, pc, py, ry, rx, px);
    sp.pragma(px, 'vectorize');
    return sch;
  },
};
