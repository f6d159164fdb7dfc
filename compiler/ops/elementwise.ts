/**
 * ALU-only operators: element-wise add (a residual add: a + b, clipped, cast) and max-pool (with
 * implicit -infinity padding), on packed [N/B][C/BO][H][W][B][BO] accumulator-typed tensors. They
 * run entirely on the ALU: operands are loaded into the accumulator SRAM (LOAD ACC on the compute
 * queue), combined in place with vector ADD / MAX micro-ops, and stored through OUT. Knobs: tile_b,
 * tile_h, tile_w, tile_co (channel blocks per tile), oc_nthread, h_nthread (tile_ci is 1).
 *
 * Max-pool keeps padding out of the maximum with per-micro-op conditions (border tiles get kernels
 * without the out-of-range window positions) and initializes with the accumulator type's minimum.
 */
import type { Derived } from '../../src/config/derive.ts';
import { CompileError } from '../errors.ts';
import { add, and, cast, dtypeMin, ge, int, lt, max, min, mul, select, sub, type Expr } from '../ir/expr.ts';
import { lower } from '../te/lower.ts';
import { createSchedule, type Schedule, type Stage } from '../te/schedule.ts';
import { compute, placeholder, reduceAxis, reduceMax, type Tensor } from '../te/tensor.ts';
import { buildVta } from '../vta/build.ts';
import { vtaTarget } from '../vta/env.ts';
import { packActivations, unpackActivations } from '../vta/pack.ts';
import { ceilDiv, checkDim, checkOperatorBytes, divisors, type Knobs } from './common.ts';
import { addValues, maxPoolValues } from './compute.ts';
import { outDims, type CompileOptions } from './conv2d.ts';
import { knobCandidates } from './conv2d_op.ts';
import { aluCycles, byCost, loadCycles, storeCycles } from './conv_knobs.ts';
import { firstFitting, type OpInstance, type OperandLayout } from './op.ts';
import { addRef, maxPoolRef } from './reference.ts';

interface Geom {
  NB: number;
  CB: number;
  OH: number;
  OW: number;
  /** Input rows / columns one output tile reads. */
  inRows: (th: number) => number;
  inCols: (tw: number) => number;
  /** Accumulator elements of inputs per output element of a tile (add: 2). */
  inputsPerTile: (k: Knobs) => number;
  /** ALU cycles per tile. */
  aluCycles: (k: Knobs) => number;
}

function knobError(g: Geom, d: Derived, k: Knobs): string | undefined {
  if (k.tile_ci !== 1) return 'tile_ci must be 1 (no reduction over channels)';
  for (const [n, v, e] of [['tile_b', k.tile_b, g.NB], ['tile_co', k.tile_co, g.CB], ['tile_h', k.tile_h, g.OH], ['tile_w', k.tile_w, g.OW]] as const) {
    if (e % v) return `${n} ${v} does not divide ${e}`;
  }
  if ((g.CB / k.tile_co) % k.oc_nthread) return `oc_nthread ${k.oc_nthread} does not divide the ${g.CB / k.tile_co} channel tiles`;
  if ((g.OH / k.tile_h) % k.h_nthread) return `h_nthread ${k.h_nthread} does not divide the ${g.OH / k.tile_h} row tiles`;
  const T = k.oc_nthread * k.h_nthread;
  const acc = (g.inputsPerTile(k) + k.tile_b * k.tile_co * k.tile_h * k.tile_w) * T;
  if (acc > d.depth.acc) return `the tiles need ${acc} ACC elements, the buffer has ${d.depth.acc}`;
  return undefined;
}

function cost(g: Geom, d: Derived, k: Knobs): number {
  const T = k.oc_nthread * k.h_nthread;
  const tiles = (g.NB / k.tile_b) * (g.CB / k.tile_co) * (g.OH / k.tile_h) * (g.OW / k.tile_w);
  const rows = k.tile_b * k.tile_co * g.inRows(k.tile_h);
  const loads = (g.inputsPerTile(k) / (rows * g.inCols(k.tile_w))) * loadCycles(d, rows, g.inCols(k.tile_w) * d.elemBytes.acc);
  const store = storeCycles(d, k.tile_b * k.tile_co * k.tile_h, k.tile_w * d.elemBytes.out);
  const compute = loads + g.aluCycles(k) + 10;
  return tiles * (T >= 2 ? Math.max(compute, store) : compute + store);
}

/** Every valid knob setting of an ALU-only operator. */
function knobSpace(g: Geom, d: Derived, o: { latencyHiding?: boolean; fixed?: Partial<Knobs> } = {}): Knobs[] {
  const threads = o.latencyHiding === false ? [1] : [1, 2];
  const f = o.fixed ?? {};
  const out: Knobs[] = [];
  for (const tile_b of divisors(g.NB))
    for (const tile_co of divisors(g.CB))
      for (const tile_h of divisors(g.OH))
        for (const tile_w of divisors(g.OW))
          for (const oc_nthread of threads)
            for (const h_nthread of threads) {
              const k: Knobs = { tile_b, tile_h, tile_w, tile_ci: 1, tile_co, oc_nthread, h_nthread };
              if (Object.entries(f).every(([n, v]) => k[n as keyof Knobs] === v) && !knobError(g, d, k)) out.push(k);
            }
  return out;
}

/** Every valid knob setting, the lowest modelled cost first; a clear error if nothing fits. */
function rank(g: Geom, d: Derived, o: { latencyHiding?: boolean; fixed?: Partial<Knobs> }): Knobs[] {
  const space = knobSpace(g, d, o);
  if (!space.length) {
    const smallest: Knobs = { tile_b: 1, tile_h: 1, tile_w: 1, tile_ci: 1, tile_co: 1, oc_nthread: 1, h_nthread: 1, ...(o.fixed ?? {}) };
    throw new CompileError(`this operator does not fit ${d.variant} even with the smallest tiles: ${knobError(g, d, smallest) ?? 'the fixed knobs leave no choice'}`);
  }
  return byCost(space, (k) => cost(g, d, k));
}

/** Output tiling shared by both operators: split, thread, store at the tile loop. */
function tileOutput(sch: ReturnType<typeof createSchedule>, out: Tensor, k: Knobs): { so: Stage; at: Stage['leaf'][number] } {
  const so = sch.stage(out);
  const [n, c, y, x, b, o] = so.axis;
  const [no, ni] = so.split(n, k.tile_b);
  const [co, ci] = so.split(c, k.tile_co);
  const [yo, yi] = so.split(y, k.tile_h);
  const [xo, xi] = so.split(x, k.tile_w);
  so.reorder(no, yo, co, xo, ni, ci, yi, xi, b, o);
  if (k.oc_nthread > 1) {
    const [co2, vt] = so.split(co, k.oc_nthread);
    so.reorder(vt, no, yo, co2);
    so.vthread(vt);
  }
  if (k.h_nthread > 1) {
    const [yo2, vt] = so.split(yo, k.h_nthread);
    const front = so.leaf.slice(0, so.leaf.indexOf(yo2) + 1).filter((iv) => iv !== vt);
    so.reorder(vt, ...front);
    so.vthread(vt);
  }
  so.pragma(ni, 'dma_copy');
  return { so, at: xo };
}

// ---- element-wise add ----

export interface AddSpec {
  batch: number;
  h: number;
  w: number;
  c: number;
  clip?: [number, number];
}

/** add's operand layouts (a, b; output): accumulator-typed [N/B][C/BO][H][W][B][BO]. */
export function addLayout(s: AddSpec, d: Derived): OperandLayout {
  const t = vtaTarget(d);
  const CB = ceilDiv(s.c, t.blockOut);
  const ident = (c: number) => c;
  const pk = (v: ArrayLike<number>) => packActivations(v, s.batch, s.c, s.h, s.w, t.batch, t.blockOut, ident, CB);
  return { pack: [pk, pk], unpack: (v) => unpackActivations(v, s.batch, s.c, s.h, s.w, t.batch, t.blockOut, ident, CB) };
}

export function compileAdd(s: AddSpec, d: Derived, opts: CompileOptions = {}): OpInstance {
  for (const [n, v] of [['batch', s.batch], ['H', s.h], ['W', s.w], ['C', s.c]] as const) checkDim('add', n, v);
  const elems = s.batch * s.h * s.w * s.c;
  checkOperatorBytes('add', [['a', elems, d.accWidth], ['b', elems, d.accWidth], ['output', elems, d.outWidth]], d);
  const t = vtaTarget(d);
  const B = t.batch;
  const BO = t.blockOut;
  const NB = ceilDiv(s.batch, B);
  const CB = ceilDiv(s.c, BO);
  const shape = [NB, CB, s.h, s.w, B, BO];
  const names = ['n', 'c', 'y', 'x', 'b', 'o'];
  const acc = t.accDtype;
  const g: Geom = {
    NB, CB, OH: s.h, OW: s.w,
    inRows: (th) => th,
    inCols: (tw) => tw,
    inputsPerTile: (k) => 2 * k.tile_b * k.tile_co * k.tile_h * k.tile_w,
    aluCycles: (k) => k.tile_b * k.tile_co * k.tile_h * k.tile_w * aluCycles(d, s.clip ? 2 : 0, 1),
  };
  const fixed = { ...opts, knobs: { tile_ci: 1, ...(opts.knobs ?? {}) } };
  return firstFitting(d, knobCandidates(fixed, (k) => knobError(g, d, k), (o) => rank(g, d, o)), (knobs) => {
    // defined afresh for each setting tried: scheduling rewrites the tensors' reads (cacheRead)
    const a = placeholder(shape, acc, 'a');
    const b2 = placeholder(shape, acc, 'b');
    const stages: Tensor[] = [];
    let cur = compute(shape, (...i) => add(a.at(...i), b2.at(...i)), 'sum', names.map((n) => `sum.${n}`));
    const sumT = cur;
    stages.push(cur);
    if (s.clip) {
      const [lo, hi] = s.clip;
      const p1 = cur;
      cur = compute(shape, (...i) => min(p1.at(...i), int(hi, acc)), 'clip_hi', names.map((n) => `clip_hi.${n}`));
      stages.push(cur);
      const p2 = cur;
      cur = compute(shape, (...i) => max(p2.at(...i), int(lo, acc)), 'clip_lo', names.map((n) => `clip_lo.${n}`));
      stages.push(cur);
    }
    const last = cur;
    const out = compute(shape, (...i) => cast(t.outDtype, last.at(...i)), 'out', names.map((n) => `out.${n}`));
    const sch: Schedule = createSchedule(out);
    const { so, at } = tileOutput(sch, out, knobs);
    for (const src of [a, b2]) {
      const st = sch.stage(sch.cacheRead(src, 'acc', [sumT]));
      st.computeAt(so, at);
      st.pragma(st.axis[0], 'dma_copy');
    }
    for (const x of stages) {
      const st = sch.stage(x);
      st.setScope('acc');
      st.computeAt(so, at);
      st.pragma(st.axis[0], 'alu');
    }
    const func = lower(sch, 'add');
    const module = buildVta(func, d);
    const buf = (x: Tensor) => func.bufferOf.get(x)!;
    return {
      op: 'add',
      shape: { batch: s.batch, h: s.h, w: s.w, c: s.c },
      d, knobs, module, macs: 0,
      knobSpace: (o) => knobSpace(g, d, o),
      estimate: (k) => Math.round(cost(g, d, k)),
      operands: (seed) => {
        const [va, vb] = addValues(s, d, seed);
        const io = addLayout(s, d);
        return {
          tensors: [
            { buf: buf(a), role: 'input', values: io.pack[0](va) },
            { buf: buf(b2), role: 'input', values: io.pack[1](vb) },
            { buf: buf(out), role: 'output' },
          ],
          output: buf(out),
          unpack: io.unpack,
          expected: () => addRef(va, vb, s.clip, d.accWidth, d.outWidth),
        };
      },
    };
  });
}

// ---- max-pool ----

export interface MaxPoolSpec {
  batch: number;
  h: number;
  w: number;
  c: number;
  k: number;
  pad: number;
  stride: number;
}

/** maxpool's operand layouts (data; output): accumulator-typed in, [N/B][C/BO][OH][OW][B][BO] out. */
export function maxPoolLayout(s: MaxPoolSpec, d: Derived): OperandLayout {
  const t = vtaTarget(d);
  const CB = ceilDiv(s.c, t.blockOut);
  const { oh, ow } = outDims(s);
  const ident = (c: number) => c;
  return {
    pack: [(v) => packActivations(v, s.batch, s.c, s.h, s.w, t.batch, t.blockOut, ident, CB)],
    unpack: (v) => unpackActivations(v, s.batch, s.c, oh, ow, t.batch, t.blockOut, ident, CB),
  };
}

export function compileMaxPool(s: MaxPoolSpec, d: Derived, opts: CompileOptions = {}): OpInstance {
  for (const [n, v] of [['batch', s.batch], ['H', s.h], ['W', s.w], ['C', s.c], ['K', s.k], ['STRIDE', s.stride]] as const) checkDim('maxpool', n, v);
  checkDim('maxpool', 'PAD', s.pad, 0);
  if (s.pad >= s.k) throw new CompileError(`maxpool: padding ${s.pad} must be smaller than the window ${s.k} (a window would hold only padding)`);
  const OH = Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1;
  const OW = Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1;
  if (OH < 1 || OW < 1) throw new CompileError(`maxpool: a ${s.k}x${s.k} window does not fit ${s.h}x${s.w}`);
  checkOperatorBytes('maxpool', [['input', s.batch * s.h * s.w * s.c, d.accWidth], ['output', s.batch * OH * OW * s.c, d.outWidth]], d);
  const t = vtaTarget(d);
  const B = t.batch;
  const BO = t.blockOut;
  const NB = ceilDiv(s.batch, B);
  const CB = ceilDiv(s.c, BO);
  const acc = t.accDtype;
  const p = s.pad;
  const g: Geom = {
    NB, CB, OH, OW,
    inRows: (th) => (th - 1) * s.stride + s.k,
    inCols: (tw) => (tw - 1) * s.stride + s.k,
    inputsPerTile: (k) => k.tile_b * k.tile_co * ((k.tile_h - 1) * s.stride + s.k) * ((k.tile_w - 1) * s.stride + s.k),
    // per output: an initialization of three immediate micro-ops and one MAX per window position
    // (fewer on border tiles), plus one cycle of overhead; per window position a kernel's issue
    aluCycles: (k) => k.tile_b * k.tile_co * k.tile_h * k.tile_w * (1 + aluCycles(d, 3, s.k * s.k)) + s.k * s.k * 10,
  };
  const fixed = { ...opts, knobs: { tile_ci: 1, ...(opts.knobs ?? {}) } };
  return firstFitting(d, knobCandidates(fixed, (k) => knobError(g, d, k), (o) => rank(g, d, o)), (knobs) => {
    // defined afresh for each setting tried, as add's
    const data = placeholder([NB, CB, s.h, s.w, B, BO], acc, 'data');
    const inRange = (e: Expr, n: number) => and(ge(e, 0), lt(e, n));
    const inp = compute([NB, CB, s.h + 2 * p, s.w + 2 * p, B, BO], (n, c, r, x, b, o) => {
      const v = data.at(n, c, sub(r, p), sub(x, p), b, o);
      return p ? select(and(inRange(sub(r, p), s.h), inRange(sub(x, p), s.w)), v, int(0, acc)) : v;
    }, 'data_pad', ['n', 'c', 'r', 'x', 'b', 'o'].map((n) => `pad.${n}`));
    const ry = reduceAxis(s.k, 'ry');
    const rx = reduceAxis(s.k, 'rx');
    const shape = [NB, CB, OH, OW, B, BO];
    const names = ['n', 'c', 'y', 'x', 'b', 'o'];
    const pool = compute(shape, (n, c, y, x, b, o) => {
      const r = add(mul(y, s.stride), ry.e);
      const col = add(mul(x, s.stride), rx.e);
      const valid = and(inRange(sub(r, p), s.h), inRange(sub(col, p), s.w));
      const v = inp.at(n, c, r, col, b, o);
      return reduceMax(p ? select(valid, v, int(dtypeMin(acc), acc)) : v, [ry, rx]);
    }, 'pool', names.map((n) => `pool.${n}`));
    const out = compute(shape, (...i) => cast(t.outDtype, pool.at(...i)), 'out', names.map((n) => `out.${n}`));
    const sch = createSchedule(out);
    const { so, at } = tileOutput(sch, out, knobs);
    const sp = sch.stage(pool);
    sp.setScope('acc');
    sp.computeAt(so, at);
    const [pn, pc, py, px, pb, po] = sp.axis;
    sp.reorder(ry, rx, pn, pc, py, px, pb, po);
    sp.pragma(pn, 'alu');
    const si = sch.stage(inp);
    si.setScope('acc');
    si.computeAt(so, at);
    si.pragma(si.axis[0], 'dma_copy');
    const func = lower(sch, 'maxpool');
    const module = buildVta(func, d);
    const buf = (x: Tensor) => func.bufferOf.get(x)!;
    return {
      op: 'maxpool',
      shape: { batch: s.batch, h: s.h, w: s.w, c: s.c, k: s.k, pad: s.pad, stride: s.stride },
      d, knobs, module, macs: 0,
      knobSpace: (o) => knobSpace(g, d, o),
      estimate: (k) => Math.round(cost(g, d, k)),
      operands: (seed) => {
        const vals = maxPoolValues(s, d, seed);
        const io = maxPoolLayout(s, d);
        return {
          tensors: [
            { buf: buf(data), role: 'input', values: io.pack[0](vals) },
            { buf: buf(out), role: 'output' },
          ],
          output: buf(out),
          unpack: io.unpack,
          expected: () => maxPoolRef({ n: s.batch, c: s.c, h: s.h, w: s.w, k: s.k, pad: s.pad, stride: s.stride }, vals, d.outWidth),
        };
      },
    };
  });
}
