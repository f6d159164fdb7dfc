/**
 * Knob space and default knob chooser of the conv2d template (also used by dense and grouped
 * convolution). The space is every combination of divisors (tile_b | batch blocks, tile_h | OH,
 * tile_w | OW, tile_ci | input blocks per group, tile_co | output blocks) and thread counts in
 * {1, 2}, filtered by what the configuration can hold (vta-reference Part B §5.12): the SRAMs
 * (each virtual thread has its own buffers), the micro-op buffer and the instruction fields.
 *
 * The chooser ranks feasible knobs with an analytical model of the machine (docs/microarch.md):
 * compute time (GEMM micro-ops, ALU micro-ops at their configuration's interval, resets), load-module time
 * (per LOAD: memory latency plus beats, or the outstanding-burst limit for short rows), store time,
 * plus the pipeline fill (the first chunk's loads) and drain (the last tile's ALU work and store).
 * With two or more virtual threads loads overlap compute; with one they alternate. On co-design
 * configurations (ALU_REQUANT, docs/microarch.md §15) the model also knows what their compiler does
 * (fused requantization, resident weights, early stores with GEMM_REQUANT) and the memory slots that
 * short rows hold; VTA's configurations keep VTA's model.
 */
import type { Derived } from '../../src/config/derive.ts';
import { aluInterval } from '../../src/uarch/index.ts';
import { CompileError } from '../errors.ts';
import { biasResident, columnsInHardwareLoop, type ConvGeom } from './conv2d.ts';
import { divisors, type Knobs } from './common.ts';

export interface ConvCost {
  cycles: number;
  compute: number;
  load: number;
  store: number;
  fill: number;
  drain: number;
  uops: number;
  sram: { inp: number; wgt: number; acc: number };
}

/** Input channel blocks one tile reads per chunk (all of a group's blocks when a tile spans groups). */
function chunkBlocks(g: ConvGeom, k: Knobs): number {
  return k.tile_co > g.cobg ? (k.tile_co / g.cobg) * g.cibg : k.tile_ci;
}

/** Why a knob setting is not valid for this convolution (undefined if it is). */
export function convKnobError(g: ConvGeom, d: Derived, k: Knobs): string | undefined {
  const s = g.spec;
  const div = (a: number, b: number, what: string) => (a % b ? `${what} ${b} does not divide ${a}` : undefined);
  const err =
    div(g.NB, k.tile_b, 'tile_b') ?? div(g.OH, k.tile_h, 'tile_h') ?? div(g.OW, k.tile_w, 'tile_w') ??
    div(g.cibg, k.tile_ci, 'tile_ci') ?? div(g.COB, k.tile_co, 'tile_co');
  if (err) return err;
  if (k.oc_nthread < 1 || k.h_nthread < 1) return 'thread counts must be at least 1';
  if ((g.COB / k.tile_co) % k.oc_nthread) return `oc_nthread ${k.oc_nthread} does not divide the ${g.COB / k.tile_co} output-channel tiles`;
  if ((g.OH / k.tile_h) % k.h_nthread) return `h_nthread ${k.h_nthread} does not divide the ${g.OH / k.tile_h} row tiles`;
  if (g.G > 1) {
    if (k.tile_co > g.cobg) {
      if (k.tile_co % g.cobg) return `tile_co ${k.tile_co} must be a multiple or a divisor of the ${g.cobg} output blocks of a group`;
      if (k.tile_ci !== g.cibg) return `a tile spanning several groups needs tile_ci = ${g.cibg} (all of a group's input blocks)`;
    } else if (g.cobg % k.tile_co) return `tile_co ${k.tile_co} must be a multiple or a divisor of the ${g.cobg} output blocks of a group`;
  }
  const T = k.oc_nthread * k.h_nthread;
  const ih = g.rs > 1 ? k.tile_h : (k.tile_h - 1) * s.stride + g.K;
  const iw = (k.tile_w - 1) * s.stride + g.K;
  const inp = k.tile_b * chunkBlocks(g, k) * ih * iw * T;
  const wgt = k.tile_co * (k.tile_co > g.cobg ? g.cibg : k.tile_ci) * g.K * g.K * T;
  const acc = k.tile_b * k.tile_co * k.tile_h * k.tile_w * T + (s.bias ? (biasResident(g, k, d.depth.acc) ? g.COB : k.tile_co * T) : 0);
  if (inp > d.depth.inp) return `the input tiles need ${inp} INP elements, the buffer has ${d.depth.inp}`;
  if (wgt > d.depth.wgt) return `the weight tiles need ${wgt} WGT elements, the buffer has ${d.depth.wgt}`;
  if (acc > d.depth.acc) return `the output tiles need ${acc} ACC elements, the buffer has ${d.depth.acc}`;
  if (gemmKernelUops(g, k) > d.depth.uop) return `a GEMM kernel of ${gemmKernelUops(g, k)} micro-ops exceeds the ${d.depth.uop}-entry micro-op buffer`;
  return undefined;
}

export function gemmKernelUops(g: ConvGeom, k: Knobs): number {
  const px = k.tile_b * k.tile_co * k.tile_h;
  return columnsInHardwareLoop(g, k) ? g.K * g.K * px : g.K * px * k.tile_w;
}

/** Cycles of one LOAD of `rows` rows of `rowBytes` bytes (docs/microarch.md §6.1, §8). */
export function loadCycles(d: Derived, rows: number, rowBytes: number, padElems = 0, rounds = false): number {
  if (rows <= 0 || rowBytes <= 0) return 2 + padElems;
  const m = d.mem;
  const BB = d.busBytes;
  const beatsPerRow = Math.ceil(rowBytes / BB);
  const burstsPerRow = Math.ceil(beatsPerRow / m.burstBeats);
  const beats = rows * beatsPerRow;
  const bursts = rows * burstsPerRow;
  const avg = beats / bursts;
  const stream = beats * m.cyclesPerBeat;
  // `rounds` (co-design configurations): whole rounds of `outstanding` bursts, the last one's latency included
  const slots = (rounds ? Math.ceil(bursts / m.outstanding) * m.outstanding : bursts) * (m.readLatency + avg * m.cyclesPerBeat) / m.outstanding;
  return Math.max(m.readLatency + stream, slots, 1 + beats + padElems) + 2;
}

export function storeCycles(d: Derived, rows: number, rowBytes: number, slots = false): number {
  const m = d.mem;
  const beatsPerRow = Math.ceil(rowBytes / d.busBytes);
  const beats = rows * beatsPerRow;
  const stream = beats * m.cyclesPerBeat + m.writeLatency + 2;
  if (!slots) return stream;
  // short rows: each burst holds one of the outstanding write slots until its response (§8.4)
  const bursts = rows * Math.ceil(beatsPerRow / m.burstBeats);
  return Math.max(stream, (bursts * (m.writeLatency + 1 + (beats / bursts) * m.cyclesPerBeat)) / m.outstanding + m.writeLatency + 2);
}

export interface PipelineShape {
  /** Virtual threads, tile groups (T tiles each), reduction chunks per tile. */
  T: number;
  groups: number;
  nChunks: number;
  /** Cycles: GEMM per chunk, loads per chunk (one thread), ALU per tile, reset per tile, store per tile. */
  G: number;
  L: number;
  A: number;
  R: number;
  S: number;
  /**
   * Each thread's store may start when its last GEMM ends (GEMM_REQUANT, 1x1 without bias: the
   * requantization is in that GEMM, compiler/vta/emit.ts); otherwise after the group's ALU work.
   */
  earlyStore?: boolean;
  /** Loads per chunk of the first group when it differs from L (weights loaded once, ALU_REQUANT). */
  L0?: number;
  /**
   * No command queues (CMD_QUEUE_DEPTH 0): a module takes its instruction from fetch's head, so no
   * task starts before the one ahead of it in program order has started.
   */
  inOrder?: boolean;
}

/**
 * Cycles of the three-module pipeline the schedule produces, from its task durations and
 * dependencies: per group and chunk, each thread's loads (waiting for that thread's previous GEMM
 * to free its buffers), then each thread's GEMM (waiting for its loads, and in the first chunk for
 * the thread's previous store to drain OUT); per group the threads' resets and ALU work, then their
 * stores. The first groups are scheduled exactly; later ones repeat the steady-state period.
 */
export function pipelineCycles(p: PipelineShape): number {
  const { T, nChunks } = p;
  const lastG = new Array<number>(T).fill(0);
  const storeEnd = new Array<number>(T).fill(0);
  const gEnd = new Array<number>(T).fill(0);
  const loadEnd = new Array<number>(T).fill(0);
  let loadFree = 0;
  let comp = 0;
  let storeFree = 0;
  // the latest start so far (inOrder: the next task in program order starts no earlier)
  let issued = 0;
  const begin = (ready: number) => (p.inOrder ? (issued = Math.max(issued, ready)) : ready);
  const ends: number[] = [];
  const simulated = Math.min(p.groups, 8);
  for (let k = 0; k < simulated; k++) {
    comp = begin(comp) + T * p.R;
    const load = (c: number, t: number) => {
      const start = begin(Math.max(loadFree, c === 0 ? lastG[t] : gEnd[t]));
      loadEnd[t] = start + (k === 0 ? p.L0 ?? p.L : p.L);
      loadFree = loadEnd[t];
    };
    const gemm = (c: number, t: number) => {
      const start = begin(Math.max(comp, loadEnd[t], c === 0 ? storeEnd[t] : 0));
      gEnd[t] = start + p.G;
      comp = gEnd[t];
    };
    for (let c = 0; c < nChunks; c++) {
      // program order of the virtual threads' tasks (what inOrder follows): each thread's loads, then
      // its GEMM (compiler/vta/vthread.ts interleaves them per chunk)
      if (p.inOrder) {
        for (let t = 0; t < T; t++) {
          load(c, t);
          gemm(c, t);
        }
      } else {
        for (let t = 0; t < T; t++) load(c, t);
        for (let t = 0; t < T; t++) gemm(c, t);
      }
    }
    for (let t = 0; t < T; t++) {
      lastG[t] = gEnd[t];
      comp = begin(comp) + p.A;
      const start = begin(Math.max(storeFree, p.earlyStore ? gEnd[t] : comp));
      storeEnd[t] = start + p.S;
      storeFree = storeEnd[t];
    }
    ends.push(Math.max(comp, storeFree));
  }
  const end = ends[ends.length - 1];
  if (p.groups <= simulated) return end;
  const period = (ends[simulated - 1] - ends[simulated - 5]) / 4;
  return end + (p.groups - simulated) * period;
}

/**
 * Whether the requantization of `s` becomes one RQ instruction on `d` (ALU_REQUANT; the pattern
 * compiler/vta/emit.ts fuses: a shift of 0..31, a clip to the OUT range or to [0, OUT max]).
 */
export function requantFuses(s: ConvGeom['spec'], d: Derived): boolean {
  if (!d.aluRequant || !s.clip) return false;
  const hi = 2 ** (d.outWidth - 1) - 1;
  return s.clip[1] === hi && (s.clip[0] === 0 || s.clip[0] === -hi - 1) && (s.shift ?? 0) >= 0 && (s.shift ?? 0) < 32;
}

/**
 * Cycles of `imm` immediate and `vec` vector ALU micro-ops issued back to back: each takes its
 * interval (src/uarch aluInterval: VTA's 1 and 2, ALU_II and ALU_II + 1 with a time-multiplexed ALU).
 */
export function aluCycles(d: Derived, imm: number, vec: number): number {
  return imm * aluInterval(d.aluII, true) + vec * aluInterval(d.aluII, false);
}

/** The analytical cost of a knob setting. */
export function convCost(g: ConvGeom, d: Derived, k: Knobs): ConvCost {
  const s = g.spec;
  const T = k.oc_nthread * k.h_nthread;
  const tiles = (g.NB / k.tile_b) * (g.OH / k.tile_h) * (g.OW / k.tile_w) * (g.COB / k.tile_co);
  const multi = k.tile_co > g.cobg;
  const nChunks = multi ? 1 : g.cibg / k.tile_ci;
  const tci = multi ? g.cibg : k.tile_ci;
  const nAcc = k.tile_b * k.tile_co * k.tile_h * k.tile_w;
  const gemmChunk = nAcc * tci * g.K * g.K * d.gemmII;
  const resident = biasResident(g, k, d.depth.acc);
  // ALU_REQUANT: the chain is one RQ micro-op per element (2 cycles with the bias) and the resets
  // after the first tile of each thread are skipped (compiler/vta/emit.ts RequantFuser)
  const fused = requantFuses(s, d);
  // GEMM_REQUANT: without the bias, a 1x1 tile's last GEMM step requantizes (no ALU micro-op;
  // larger kernels keep the window in the micro-ops, where the emitter leaves the RQ)
  const inGemm = fused && !s.bias && d.gemmRequant && g.K === 1;
  // ALU cycles per accumulator element: each micro-op's interval (aluCycles), plus one of overhead
  // on the unfused chain (calibrated against the simulator at ALU_II 1)
  const imm = aluCycles(d, 1, 0);
  const vec = aluCycles(d, 0, 1);
  const aluPerAcc = fused ? (s.bias ? vec : inGemm ? 0 : imm) : 1 + (s.shift ? imm : 0) + (s.bias ? vec : 0) + (s.clip ? 2 * imm : 0);
  const aluTile = nAcc * aluPerAcc + (s.bias && !resident ? loadCycles(d, 1, k.tile_co * d.elemBytes.acc) + 8 : 0);
  // Input rows / columns actually read (padding is zero-filled, not loaded).
  const ih = g.rs > 1 ? k.tile_h : (k.tile_h - 1) * s.stride + g.K;
  const iw = (k.tile_w - 1) * s.stride + g.K;
  const rows = Math.min(ih, g.rs > 1 ? k.tile_h : s.h);
  const cols = Math.min(iw, s.w);
  const padAvg = ih * iw - rows * cols;
  // DMA inference merges rows into one contiguous transfer when the tile spans whole unpadded
  // rows, and channel blocks too when it spans whole images (dense: one LOAD per chunk).
  const E = d.elemBytes.inp;
  const blocks = chunkBlocks(g, k);
  let inpChunk: number;
  if (s.pad === 0 && g.rs === 1 && iw === s.w && ih === s.h) inpChunk = loadCycles(d, k.tile_b, blocks * ih * iw * E);
  else if (s.pad === 0 && g.rs === 1 && iw === s.w) inpChunk = k.tile_b * blocks * loadCycles(d, 1, ih * iw * E);
  else inpChunk = k.tile_b * blocks * loadCycles(d, rows, cols * E, padAvg, d.aluRequant);
  const wgtChunk = loadCycles(d, k.tile_co, tci * g.K * g.K * d.elemBytes.wgt, 0, d.aluRequant);
  // ALU_REQUANT: a thread that keeps one output-channel tile and one reduction chunk finds its
  // weights in the SRAM after its first tile (compiler/vta/emit.ts ResidentLoads).
  const wgtResident = d.aluRequant && nChunks === 1 && g.COB / k.tile_co === k.oc_nthread;
  const loadChunk = inpChunk + (wgtResident ? 0 : wgtChunk);
  // ALU_REQUANT configurations (co-design): the write slots of short store rows are modelled too
  const storeTile = storeCycles(d, k.tile_b * k.tile_co * (k.tile_w === g.OW ? 1 : k.tile_h), (k.tile_w === g.OW ? k.tile_h * k.tile_w : k.tile_w) * d.elemBytes.out, d.aluRequant);
  const compute = tiles * (nChunks * gemmChunk + aluTile);
  const load = tiles * nChunks * loadChunk + (wgtResident ? T * wgtChunk : 0);
  const store = tiles * storeTile;
  const uops = T * (gemmKernelUops(g, k) + 2 + 4);
  const fill = 30 + (resident ? loadCycles(d, 1, g.COB * d.elemBytes.acc) : 0);
  const drain = storeTile;
  let cycles = pipelineCycles({ T, groups: tiles / T, nChunks, G: gemmChunk + 4, L: loadChunk, A: aluTile, R: fused ? 0 : nAcc, S: storeTile, earlyStore: inGemm, inOrder: d.cmdQueueDepth === 0 && T === 1, ...(wgtResident ? { L0: loadChunk + wgtChunk } : {}) }) + fill;
  // Kernels that do not fit the micro-op buffer are reloaded (each load drains the pipeline).
  if (uops > d.depth.uop) cycles += tiles * nChunks * (gemmKernelUops(g, k) * 4 / d.busBytes + d.mem.readLatency + 10);
  const sram = {
    inp: k.tile_b * chunkBlocks(g, k) * ih * iw * T,
    wgt: k.tile_co * tci * g.K * g.K * T,
    acc: nAcc * T + (s.bias ? (resident ? g.COB : k.tile_co * T) : 0),
  };
  return { cycles: Math.round(cycles), compute, load, store, fill, drain, uops, sram };
}

/** Every valid knob setting (the autotuner's search space). */
export interface ChooseOptions {
  latencyHiding?: boolean;
  /** Knobs the user fixed; the others are chosen. */
  fixed?: Partial<Knobs>;
}

export function convKnobSpace(g: ConvGeom, d: Derived, opts: ChooseOptions = {}): Knobs[] {
  const out: Knobs[] = [];
  const threads = opts.latencyHiding === false ? [1] : [1, 2];
  const f = opts.fixed ?? {};
  const ok = (k: Knobs) => Object.entries(f).every(([n, v]) => k[n as keyof Knobs] === v);
  for (const tile_b of divisors(g.NB))
    for (const tile_h of divisors(g.OH))
      for (const tile_w of divisors(g.OW))
        for (const tile_ci of divisors(g.cibg))
          for (const tile_co of divisors(g.COB))
            for (const oc_nthread of threads)
              for (const h_nthread of threads) {
                const k: Knobs = { tile_b, tile_h, tile_w, tile_ci, tile_co, oc_nthread, h_nthread };
                if (ok(k) && !convKnobError(g, d, k)) out.push(k);
              }
  return out;
}

/** Knob settings sorted by a cost, lowest first (ties keep the space's order). */
export function byCost(space: readonly Knobs[], cost: (k: Knobs) => number): Knobs[] {
  return space.map((k) => ({ k, c: cost(k) })).sort((a, b) => a.c - b.c).map((x) => x.k);
}

/** Every valid knob setting, the lowest modelled cost first; a clear error if nothing fits. */
export function rankConvKnobs(g: ConvGeom, d: Derived, opts: ChooseOptions = {}): Knobs[] {
  const space = convKnobSpace(g, d, opts);
  if (!space.length) {
    const smallest: Knobs = { tile_b: 1, tile_h: 1, tile_w: 1, tile_ci: 1, tile_co: 1, oc_nthread: 1, h_nthread: 1 };
    const why = convKnobError(g, d, smallest);
    if (why) throw new CompileError(`this convolution does not fit ${d.variant} even with the smallest tiles: ${why}`);
    const fixed = opts.fixed ?? {};
    throw new CompileError(`knobs ${JSON.stringify(fixed)} leave no valid setting: ${convKnobError(g, d, { ...smallest, ...fixed }) ?? 'the other knobs cannot be chosen to fit'}`);
  }
  return byCost(space, (k) => convCost(g, d, k).cycles);
}

/**
 * The knob setting with the lowest modelled cost (the compile also checks that its program fits the
 * DRAM: ops/op.ts firstFitting); a clear error if nothing fits the buffers.
 */
export function chooseConvKnobs(g: ConvGeom, d: Derived, opts: ChooseOptions = {}): Knobs {
  return rankConvKnobs(g, d, opts)[0];
}
