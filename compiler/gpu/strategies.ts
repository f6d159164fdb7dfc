/**
 * GPU schedules of the natural-layout definitions (compiler/ops/compute.ts), shared by the CUDA and
 * OpenCL dialects: the output's axes are fused and split into blocks × threads (`bind` to
 * blockIdx.x / threadIdx.x), one output element — or a register tile of `tile_co` output channels
 * (`tile_n` for dense) — per thread. The reduction is computed per thread into a private accumulator
 * (compute_at the thread axis, scope `local`) with the tile's channels innermost, so every data
 * value a thread loads is used `tile` times from registers; the requantize tail reads the
 * accumulator in the same kernel. A stage the output does not absorb (conv2d's pad / pack stage) is
 * its own kernel with the same element-per-thread binding.
 *
 * conv2d's `shared` = 1 form is the GPU one: blocks over (output-channel group, spatial chunk),
 * threads over (spatial position, channel tile), and the block's weights for `tile_ci` input
 * channels at a time staged in shared memory (cache_read into `shared`, computed at the reduction's
 * outer channel loop, copied cooperatively by all the block's threads between barriers).
 *
 * Knobs: `threads` (per block: the candidates that divide the work), the register tile, and for
 * conv2d `shared`, `threads_co`, `tile_ci`, `double_buffer` (two alternating weight tiles: the next
 * one is filled while this one is used, one barrier per step — the GPU form of the latency hiding
 * VTA does with virtual threads).
 */
import { divisors } from '../ops/common.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { createSchedule, type Schedule, type Stage } from '../te/schedule.ts';
import type { IterVar } from '../te/tensor.ts';
import { DP4A } from './codegen.ts';
import type { GpuStrategy, HostKnobs, KnobSpace } from '../target/strategy.ts';

/** Threads per block offered: multiples of a warp that divide the work (else its largest divisor up to 256). */
export function threadChoices(work: number): number[] {
  const warpMultiples = [32, 64, 128, 256, 512].filter((t) => work % t === 0);
  if (warpMultiples.length) return warpMultiples;
  return [divisors(work).filter((t) => t <= 256).pop()!];
}

/** The default: 128 threads where they divide the work, else the nearest candidate. */
function defaultThreads(work: number): number {
  const c = threadChoices(work);
  return c.includes(128) ? 128 : c.reduce((best, t) => (Math.abs(Math.log2(t / 128)) < Math.abs(Math.log2(best / 128)) ? t : best));
}

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Fuse leaf axes (outermost first) into one. */
function fuseAll(st: Stage, axes: IterVar[]): IterVar {
  return axes.slice(1).reduce((f, a) => st.fuse(f, a), axes[0]);
}

/** Fuse `axes`, split by `threads` and bind: blocks × threads. Returns the thread axis. */
function bindElements(st: Stage, axes: IterVar[], threads: number): IterVar {
  const [bx, tx] = st.split(fuseAll(st, axes), threads);
  st.bind(bx, 'blockIdx.x');
  st.bind(tx, 'threadIdx.x');
  return tx;
}

/** Every root stage besides the output (a pad / pack stage): one element per thread. */
function bindOtherRoots(sch: Schedule, def: OpDefinition): void {
  for (const st of sch.stages) {
    if (st.isPlaceholder || st.tensor === def.output || st.attach.k !== 'root') continue;
    const work = product(st.tensor.shape);
    bindElements(st, [...st.leaf], defaultThreads(work));
  }
}

/** Whether conv2d's products are int8 × int8 into int32 (what DP4A computes). */
function dp4aApplies(def: OpDefinition): boolean {
  return def.inputs[0].dtype === 'int8' && def.inputs[1].dtype === 'int8' && def.stages.reduce?.dtype === 'int32';
}

/**
 * Register tiles offered: the divisors of the largest divisor of the channel count up to 8, so the
 * work left for threads with any tile is a multiple of the work with the largest (threads that
 * divide the one divide them all).
 */
const tileChoices = (n: number): number[] => divisors(divisors(n).filter((x) => x <= 8).pop()!);

export const gpuConv2d: GpuStrategy = {
  knobSpace(def): KnobSpace {
    const [n, co, oh, ow] = def.output.shape;
    const tile_co = tileChoices(co);
    const cibg = def.shape.cin / def.shape.groups;
    return {
      tile_co,
      // Threads over output positions (the spatial work divides by each choice, whatever the tile).
      threads: threadChoices(n * oh * ow),
      // shared = 1: weights staged in shared memory per block, tile_ci input channels at a time.
      shared: [0, 1],
      threads_co: divisors(co / Math.max(...tile_co)).filter((x) => x <= 16),
      tile_ci: divisors(cibg).filter((x) => x <= 32),
      // With shared = 1: two alternating weight tiles, the next filled while this one is used.
      double_buffer: [0, 1],
      // dp4a = 1: the input channels in groups of 4 innermost, one int8 dot product each (DP4A).
      ...(dp4aApplies(def) && cibg % 4 === 0 ? { dp4a: [0, 1] } : {}),
    };
  },
  defaultKnobs(def, t): HostKnobs {
    const space = this.knobSpace(def, t);
    const [n, , oh, ow] = def.output.shape;
    const threads_co = space.threads_co.filter((x) => x <= 4).pop()!;
    return {
      tile_co: space.tile_co.filter((x) => x <= 4).pop()!,
      threads: defaultThreads(n * oh * ow),
      // Shared staging is what a GPU wants (each weight read once per block); on PoCL, which runs
      // work-groups on CPU cores, local memory is ordinary memory and the barriers cost: ResNet-18 C5
      // on this host 66.6 ms without, 133.6 ms with. So the opencl default is 0 (the tuner's knob).
      shared: t.kind === 'cuda' && def.shape.groups === 1 ? 1 : 0,
      threads_co,
      tile_ci: space.tile_ci.filter((x) => x <= 16).pop()!,
      double_buffer: t.kind === 'cuda' ? 1 : 0,
      // OpenCL prints DP4A as plain int arithmetic: the extra loop buys nothing there.
      ...(space.dp4a ? { dp4a: t.kind === 'cuda' ? 1 : 0 } : {}),
    };
  },
  schedule(def, k): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const sc = sch.stage(def.stages.reduce!);
    const [n, co, y, x] = so.axis;
    const [coo, coi] = so.split(co, k.tile_co);
    const [cn, cco, cy, cx] = sc.axis;
    if (!k.shared) {
      so.reorder(n, coo, y, x, coi);
      const tx = bindElements(so, [n, coo, y, x], k.threads);
      sc.computeAt(so, tx);
      sc.setScope('local');
      // The register tile innermost: each data value loaded once serves tile_co accumulators.
      const [ric, ...rest] = sc.reduceAxis;
      if (k.dp4a) {
        const [rcq, rc4] = sc.split(ric, 4);
        sc.reorder(cn, cy, cx, rcq, ...rest, cco, rc4);
        sc.tensorize(rc4, DP4A);
      } else {
        sc.reorder(cn, cy, cx, ric, ...rest, cco);
      }
    } else {
      // Blocks: (output-channel group, spatial chunk); threads: (spatial position, channel tile).
      const [cob, cot] = so.split(coo, k.threads_co);
      so.reorder(cob, n, y, x, cot, coi);
      const [sb, st] = so.split(fuseAll(so, [n, y, x]), k.threads);
      so.bind(cob, 'blockIdx.y');
      so.bind(sb, 'blockIdx.x');
      so.bind(st, 'threadIdx.x');
      so.bind(cot, 'threadIdx.y');
      sc.computeAt(so, cot);
      sc.setScope('local');
      const [ric, ...rest] = sc.reduceAxis;
      const [rco, rci] = sc.split(ric, k.tile_ci);
      if (k.dp4a && k.tile_ci % 4 === 0) {
        // Groups of 4 input channels innermost: one int8 dot product per accumulator (DP4A).
        const [rcq, rc4] = sc.split(rci, 4);
        sc.reorder(cn, cy, cx, rco, rcq, ...rest, cco, rc4);
        sc.tensorize(rc4, DP4A);
      } else {
        sc.reorder(cn, cy, cx, rco, rci, ...rest, cco);
      }
      // The block's weights for tile_ci input channels, copied by all its threads, read by all.
      const weight = def.inputs[1];
      const ws = sch.stage(sch.cacheRead(weight, 'shared', [def.stages.reduce!]));
      ws.computeAt(sc, rco);
      ws.bind(fuseAll(ws, [...ws.leaf]), 'threadIdx.x');
      if (k.double_buffer) ws.doubleBuffer();
    }
    bindOtherRoots(sch, def);
    return sch;
  },
};

export const gpuDense: GpuStrategy = {
  knobSpace(def): KnobSpace {
    const [m, n] = def.output.shape;
    const tile_n = tileChoices(n);
    return { tile_n, threads: threadChoices(m * (n / Math.max(...tile_n))) };
  },
  defaultKnobs(def, t): HostKnobs {
    const space = this.knobSpace(def, t);
    const [m, n] = def.output.shape;
    return { tile_n: space.tile_n.filter((x) => x <= 4).pop()!, threads: defaultThreads(m * (n / Math.max(...space.tile_n))) };
  },
  schedule(def, k): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const [m, n] = so.axis;
    const [no, ni] = so.split(n, k.tile_n);
    const tx = bindElements(so, [m, no], k.threads);
    const sr = sch.stage(def.stages.reduce!);
    sr.computeAt(so, tx);
    sr.setScope('local');
    const [rm, rn] = sr.axis;
    sr.reorder(rm, ...sr.reduceAxis, rn);
    void ni;
    bindOtherRoots(sch, def);
    return sch;
  },
};

/** Element-wise operators (add) and pooling: one output element per thread, the window reduced in registers. */
export const gpuElementwise: GpuStrategy = {
  knobSpace: (def) => ({ threads: threadChoices(product(def.output.shape)) }),
  defaultKnobs: (def) => ({ threads: defaultThreads(product(def.output.shape)) }),
  schedule(def, k): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const tx = bindElements(so, [...so.axis], k.threads);
    if (def.stages.reduce) {
      const sr = sch.stage(def.stages.reduce);
      sr.computeAt(so, tx);
      sr.setScope('local');
    }
    bindOtherRoots(sch, def);
    return sch;
  },
};
