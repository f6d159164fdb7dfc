/**
 * CPU schedules of the host definitions (compiler/ops/compute.ts). conv2d with an int8
 * dot-product instruction: THE blocked definition on (1, 4, lanes) blocks, register tiles
 * tensorized with GEMM_TILE (dotConvSchedule). Otherwise, blocks of 1: the outer loop over (batch,
 * output-channel tile) runs in parallel on `threads` threads (the generated code's thread pool);
 * the reduction is computed per tile into a small local accumulator (compute_at), reduction loops
 * outside and the output row innermost, so the inner loop is a contiguous int8 x int8 -> int32
 * multiply-add over a row the compiler vectorises; the requantize tail reads the accumulator tile.
 */
import { availableParallelism } from 'node:os';
import { divisors } from '../ops/common.ts';
import type { OpDefinition } from '../ops/compute.ts';
import { createSchedule, type Schedule } from '../te/schedule.ts';
import { knobProduct, type HostKnobs, type HostStrategy, type HostTargetSpec, type KnobSpace } from '../target/strategy.ts';
import type { CpuTargetSpec } from '../target/target.ts';
import { DOT_LANES, dotIsaOf, GEMM_TILE, MAX_TILE_ACCS } from './codegen.ts';
import type { BlockSpec } from '../ops/layout.ts';

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

/** The block spec and data offset of the dot-product kernel on a target: (1, 4, lanes), data + 128 (uint8). */
export function dotBlocks(t: HostTargetSpec): { block: BlockSpec; dataOffset: number } | undefined {
  const isa = t.kind === 'cpu' ? dotIsaOf(t.features) : undefined;
  return isa ? { block: { B: 1, BI: 4, BO: DOT_LANES[isa] }, dataOffset: 128 } : undefined;
}

/**
 * Whether conv2d can run on the target's int8 dot-product instruction: it has one, and the
 * operands are int8 into an int32 accumulator (any channel counts: blocks are padded).
 */
function convDotApplies(def: OpDefinition, t: HostTargetSpec): boolean {
  return dotBlocks(t) !== undefined && def.withBlocks !== undefined &&
    def.inputs[0].dtype === 'int8' && def.inputs[1].dtype === 'int8' && def.stages.reduce?.dtype === 'int32';
}

const upTo = (n: number, limit: number) => divisors(n).filter((x) => x <= limit);

/**
 * The dot-product kernel's knobs: output-channel blocks per parallel task (co_task), output rows
 * per task (rows), the register tile (col_block output columns x co_block channel blocks, one
 * accumulator register each), the reduction order (order 0: input-channel blocks outermost, the
 * weights in memory order; 1: kernel rows and columns outermost).
 */
function dotKnobSpace(def: OpDefinition, t: HostTargetSpec): KnobSpace {
  const { cout } = def.shape;
  const [, , oh, ow] = def.output.shape;
  const L = dotBlocks(t)!.block.BO;
  const cob = Math.ceil(cout / L);
  return {
    co_task: cout % L ? [cob] : divisors(cob),
    rows: upTo(oh, 28),
    col_block: upTo(ow, MAX_TILE_ACCS[dotIsaOf((t as CpuTargetSpec).features)!]),
    co_block: [1, 2, 3, 4],
    order: [0, 1],
  };
}

/** Default register tile and task size of the dot-product kernel. */
function dotDefaults(def: OpDefinition, t: HostTargetSpec, space: KnobSpace): HostKnobs {
  const { cout } = def.shape;
  const [, , oh, ow] = def.output.shape;
  const isa = dotIsaOf((t as CpuTargetSpec).features)!;
  const L = DOT_LANES[isa];
  const cob = Math.ceil(cout / L);
  // Tasks of up to 4 channel blocks (64 channels on 16 lanes): a task's weights stay in L2.
  const co_task = largestAtMost(space.co_task, 4);
  // The register tile: most accumulators per load (x columns x c blocks: x + c loads for x·c instructions).
  let best = { col_block: 1, co_block: 1, score: 0 };
  for (const c of divisors(Math.min(co_task, cob)).filter((x) => x <= 4)) {
    const x = largestAtMost(space.col_block, Math.floor(MAX_TILE_ACCS[isa] / c));
    const score = (x * c) / (x + c);
    if (score > best.score) best = { col_block: x, co_block: c, score };
  }
  // Rows per task: the task's accumulators (co_task blocks x rows x columns) within TILE_BYTES.
  const rows = largestAtMost(space.rows, Math.max(1, Math.floor(TILE_BYTES / (4 * L * co_task * ow))));
  return { co_task, rows: Math.min(rows, oh), col_block: best.col_block, co_block: best.co_block, order: 0 };
}

export const cpuConv2d: HostStrategy = {
  knobSpace(def, t): KnobSpace {
    const [, co, oh] = def.output.shape;
    const space: KnobSpace = { tile_co: divisors(co).filter((x) => x <= 64), tile_h: divisors(oh).filter((x) => x <= 16), threads: threadChoices() };
    // dot = 1: THE blocked definition on (1, 4, lanes) blocks with the target's dot-product
    // instruction (tile_co / tile_h then unused); dot = 0: blocks of 1, the plain vectorized nest.
    if (convDotApplies(def, t)) Object.assign(space, { dot: [0, 1] }, dotKnobSpace(def, t));
    return space;
  },
  defaultKnobs(def, t): HostKnobs {
    const space = this.knobSpace(def, t);
    const ow = def.output.shape[3];
    const tile_co = largestAtMost(space.tile_co, 16);
    const tile_h = largestAtMost(space.tile_h, Math.max(1, Math.floor(TILE_BYTES / (4 * tile_co * ow))));
    const plain = { tile_co, tile_h, threads: DEFAULT_THREADS };
    if (!space.dot) return plain;
    // Grouped convolutions pack several groups per block (block-diagonal weights): the plain nest
    // wastes fewer multiplies there.
    return { ...plain, dot: def.shape.groups === 1 ? 1 : 0, ...dotDefaults(def, t, space) };
  },
  candidates(def, t): HostKnobs[] {
    const space = this.knobSpace(def, t);
    const base = this.defaultKnobs(def, t);
    const pick = (names: string[]) => knobProduct(Object.fromEntries(names.map((n) => [n, space[n]])));
    const plain = pick(['tile_co', 'tile_h', 'threads']);
    if (!space.dot) return plain;
    // Each branch varies only the knobs its schedule reads; the others keep their defaults.
    const dotNames = Object.keys(dotKnobSpace(def, t));
    const out = plain.map((k) => ({ ...base, ...k, dot: 0 }));
    const L = dotBlocks(t)!.block.BO;
    const maxAccs = MAX_TILE_ACCS[dotIsaOf((t as CpuTargetSpec).features)!];
    for (const k of pick([...dotNames, 'threads'])) {
      // Leave out settings the schedule would clamp to another one (dotConvSchedule's rules).
      const taskBlocks = Math.ceil((def.shape.cout % L ? def.shape.cout : Math.min(def.shape.cout, k.co_task * L)) / L);
      if (k.co_block !== divisorAtMost(taskBlocks, Math.min(k.co_block, Math.floor(maxAccs / k.col_block)))) continue;
      out.push({ ...base, ...k, dot: 1 });
    }
    return out;
  },
  blocks(def, t, k) {
    return k.dot ? dotBlocks(t) : undefined;
  },
  schedule(def, k): Schedule {
    if (def.blocked && def.blocked.block.BI > 1) return dotConvSchedule(def, k);
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
    sc.reorder(cn, cy, rc, ry, rx, cco, cx);
    sc.pragma(cx, 'vectorize');
    if (def.stages.pad) {
      const sp = sch.stage(def.stages.pad);
      const [pn, pc, , px] = sp.axis;
      sp.pragma(sp.fuse(pn, pc), 'parallel');
      sp.pragma(px, 'vectorize');
    }
    return sch;
  },
};

/** The largest divisor of n that is at most `limit` (at least 1). */
const divisorAtMost = (n: number, limit: number) => largestAtMost(divisors(n), Math.max(1, limit));

/**
 * The dot-product schedule of THE blocked conv2d on (1, 4, L) blocks: a parallel loop over tasks
 * (batch x output-channel blocks x row tiles), each computing its accumulators (conv, compute_at)
 * in register tiles of col_block columns x co_block channel blocks tensorized with GEMM_TILE
 * (vpdpbusd, the reduction inside the tile), then requantizing and unpacking them to the NCHW
 * output; the data is packed (+128, padded, 4 channels per word) by its own parallel stage first.
 */
function dotConvSchedule(def: OpDefinition, k: HostKnobs): Schedule {
  const { geom: g, def: cd } = def.blocked!;
  const L = g.BO;
  const cout = g.spec.cout;
  const sch = createSchedule(def.output);
  const so = sch.stage(def.output);
  const [n, c, y, x] = so.axis;
  const taskChannels = cout % L ? cout : Math.min(cout, k.co_task * L);
  const [coo, coi] = so.split(c, taskChannels);
  const rows = divisorAtMost(g.OH, k.rows);
  const [yo, yi] = so.split(y, rows);
  so.reorder(n, coo, yo, yi, coi, x);
  const task = so.fuse(so.fuse(n, coo), yo);
  so.pragma(task, 'parallel');
  so.pragma(x, 'vectorize');

  const sc = sch.stage(cd.conv);
  sc.computeAt(so, task);
  const [cn, cco, cy, cx, co] = sc.axis;
  const [ric, ry, rx, rii] = sc.reduceAxis;
  const taskBlocks = Math.ceil(taskChannels / L);
  // The register tile within the registers the instruction set has (else GEMM_TILE prints plain loops).
  const cols = divisorAtMost(g.OW, k.col_block);
  const maxAccs = MAX_TILE_ACCS[L === DOT_LANES.avx512vnni ? 'avx512vnni' : 'avxvnni'];
  const [cxo, cxi] = sc.split(cx, cols);
  const [ccoo, ccoi] = sc.split(cco, divisorAtMost(taskBlocks, Math.min(k.co_block, Math.floor(maxAccs / cols))));
  const red = k.order ? [ry, rx, ric] : [ric, ry, rx];
  sc.reorder(cn, cy, cxo, ccoo, ...red, cxi, ccoi, co, rii);
  sc.tensorize(ccoo, GEMM_TILE);

  const sp = sch.stage(cd.inp);
  const [pn, pc] = sp.axis;
  sp.pragma(sp.fuse(pn, pc), 'parallel');
  return sch;
}

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
