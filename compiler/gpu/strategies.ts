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
 * Knobs: `threads` (per block: the candidates that divide the work) and the register tile.
 */
import { divisors } from '../ops/common.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { createSchedule, type Schedule, type Stage } from '../te/schedule.ts';
import type { IterVar } from '../te/tensor.ts';
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
    // threads must divide the work of every tile choice: offer the ones that divide the smallest.
    const work = n * (co / Math.max(...tile_co)) * oh * ow;
    return { tile_co, threads: threadChoices(work) };
  },
  defaultKnobs(def, t): HostKnobs {
    const space = this.knobSpace(def, t);
    const tile_co = space.tile_co.filter((x) => x <= 4).pop()!;
    const [n, co, oh, ow] = def.output.shape;
    const work = n * (co / Math.max(...space.tile_co)) * oh * ow;
    return { tile_co, threads: defaultThreads(work) };
  },
  schedule(def, k): Schedule {
    const sch = createSchedule(def.output);
    const so = sch.stage(def.output);
    const [n, co, y, x] = so.axis;
    const [coo, coi] = so.split(co, k.tile_co);
    so.reorder(n, coo, y, x, coi);
    const tx = bindElements(so, [n, coo, y, x], k.threads);
    const sc = sch.stage(def.stages.reduce!);
    sc.computeAt(so, tx);
    sc.setScope('local');
    const [cn, cco, cy, cx] = sc.axis;
    // The register tile innermost: each data value loaded once serves tile_co accumulators.
    sc.reorder(cn, cy, cx, ...sc.reduceAxis, cco);
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
