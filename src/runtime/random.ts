/**
 * Seeded random programs for differential testing, built with the runtime and legal by
 * construction:
 * - every SRAM index of every loop iteration is in range (the runtime's strict checks confirm it);
 * - tokens are balanced and deadlock-free: whenever an instruction touches SRAM that an earlier
 *   instruction of another stage touched (RAW or WAR on INP/WGT between load and compute, on OUT
 *   between compute and store), a depPush from the earlier stage and a depPop before the later
 *   instruction are inserted, so program order is always a valid execution order; unrelated work
 *   overlaps freely;
 * - within every GEMM/ALU instruction, a micro-op's dst differs from the dst of the previous two in
 *   the expanded (iter_out, iter_in, uop) sequence, the hazard distance VTA forbids;
 * - stores write a dedicated output buffer that no load reads, so DRAM has no cross-module hazards.
 * Every program contains LOAD UOP/INP/WGT/ACC (padded and not), STORE, GEMM (with and without
 * reset, 0/1/2 loops), ALU with every opcode (MUL only with ALU_MUL), immediate and vector forms,
 * NOPs from the token protocol, and FINISH; with GEMM_REQUANT also GEMMs with the requant bit
 * (0/1/2 loops, and a reset one) and micro-op-less RQs that set the parameter register.
 */
import type { Derived } from '../config/derive.ts';
import { aluOpSpec, aluOpsOf, type AluOpName } from '../isa/alu.ts';
import type { MemTypeName } from '../isa/constants.ts';
import type { Program } from '../program/container.ts';
import { encodeLanes } from './pack.ts';
import { Rng } from '../util/rng.ts';
import { KernelSite, Runtime, type DataBuffer, type LoopEntry } from './runtime.ts';

export interface RandomProgramOptions {
  /** Tasks after the mandatory ones (default 24). */
  extraTasks?: number;
}

export interface RandomProgram {
  program: Program;
  seed: number;
  /** One line per task, in program order. */
  description: string[];
}

type Stage = 1 | 2 | 3;
type TaskKind = 'loadInp' | 'loadWgt' | 'loadAcc' | 'gemm' | 'gemmReset' | 'alu' | 'store' | 'gemmRq' | 'setP';

interface UopSpec {
  dst: number;
  src: number;
  wgt: number;
}

/** SRAM windows the generator works in: small, so that instructions interact. */
function windows(d: Derived) {
  return {
    inp: Math.min(d.depth.inp, 24),
    wgt: Math.min(d.depth.wgt, 24),
    acc: Math.min(d.depth.acc, 32),
  };
}

/** The expanded dst sequence of a kernel, and whether it respects the hazard distance. */
function dstSequence(uops: UopSpec[], outer: LoopEntry, inner: LoopEntry): number[] {
  const seq: number[] = [];
  for (let o = 0; o < outer.extent; o++) {
    for (let i = 0; i < inner.extent; i++) {
      for (const u of uops) seq.push(u.dst + o * outer.dstFactor + i * inner.dstFactor);
    }
  }
  return seq;
}

function hazardFree(seq: number[]): boolean {
  for (let k = 1; k < seq.length; k++) {
    if (seq[k] === seq[k - 1] || (k >= 2 && seq[k] === seq[k - 2])) return false;
  }
  return true;
}

function expand(uops: UopSpec[], loops: LoopEntry[], alu: boolean, pick: (u: UopSpec) => number, f: (l: LoopEntry) => number): number[] {
  const none: LoopEntry = { extent: 1, dstFactor: 0, srcFactor: 0, wgtFactor: 0 };
  const outer = alu && loops.length === 1 ? none : loops[0] ?? none;
  const inner = alu && loops.length === 1 ? loops[0] : loops[1] ?? none;
  const out: number[] = [];
  for (let o = 0; o < outer.extent; o++) {
    for (let i = 0; i < inner.extent; i++) for (const u of uops) out.push(pick(u) + o * f(outer) + i * f(inner));
  }
  return out;
}

export function randomProgram(d: Derived, seed: number, opts: RandomProgramOptions = {}): RandomProgram {
  const p = new Rng(seed);
  const rt = new Runtime(d);
  const win = windows(d);
  const desc: string[] = [];

  // ---- DRAM buffers ----
  const nInp = 32;
  const nWgt = 32;
  const nAcc = 32;
  const nOut = 64;
  const lanesInp = d.batch * d.blockIn;
  const lanesWgt = d.blockOut * d.blockIn;
  const lanesAcc = d.batch * d.blockOut;
  const rand = (n: number, bits: number) => Array.from({ length: n }, () => p.int(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1));
  const accBits = (): number => (p.bool(0.2) ? d.accWidth : Math.min(d.accWidth, 12));
  const inpBuf = rt.allocTiles('inp_data', 'INP', nInp, { role: 'input', data: encodeLanes(rand(nInp * lanesInp, d.inpWidth), d.inpWidth) });
  const wgtBuf = rt.allocTiles('wgt_data', 'WGT', nWgt, { role: 'input', data: encodeLanes(rand(nWgt * lanesWgt, d.wgtWidth), d.wgtWidth) });
  const accBuf = rt.allocTiles('acc_data', 'ACC', nAcc, { role: 'input', data: encodeLanes(rand(nAcc * lanesAcc, accBits()), d.accWidth) });
  const outBuf = rt.allocTiles('out_data', 'OUT', nOut, { role: 'output' });

  // ---- hazard tracking: SRAM indices touched since the last token between two stages ----
  const sets = {
    loadWroteInp: new Set<number>(), loadWroteWgt: new Set<number>(), // L -> C (RAW)
    gemmReadInp: new Set<number>(), gemmReadWgt: new Set<number>(), // C -> L (WAR)
    computeWroteOut: new Set<number>(), // C -> S (RAW)
    storeReadOut: new Set<number>(), // S -> C (WAR)
  };
  const overlaps = (s: Set<number>, xs: Iterable<number>) => {
    for (const x of xs) if (s.has(x)) return true;
    return false;
  };
  const sync = (from: Stage, to: Stage) => {
    rt.depPush(from, to);
    rt.depPop(from, to);
  };

  const site = new KernelSite('random');
  let nextSig = 0;
  const reusable: Array<{ sig: number; mode: 'GEMM' | 'ALU'; reset: boolean; dst: number[]; src: number[]; wgt: number[]; what: string }> = [];

  // ---- task builders ----
  const load2D = (memType: MemTypeName, buf: DataBuffer, nElems: number, window: number, forcePad: boolean) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const x = p.int(1, 3);
      const y = p.int(1, 3);
      const pads: number[] = forcePad || p.bool(0.4) ? [p.int(0, 2), p.int(0, 2), p.int(0, 2), p.int(0, 2)] : [0, 0, 0, 0];
      if (forcePad && !pads.some((v) => v !== 0)) pads[p.int(0, 3)] = 1;
      const [xb, yb, xa, ya] = pads;
      const footprint = (xb + x + xa) * (yb + y + ya);
      if (footprint > window) continue;
      const stride = x + p.int(0, 2);
      const span = (y - 1) * stride + x;
      if (span > nElems) continue;
      const off = p.int(0, nElems - span);
      const sram = p.int(0, window - footprint);
      return { x, y, stride, xb, yb, xa, ya, off, sram, footprint, buf, memType };
    }
    return { x: 1, y: 1, stride: 1, xb: 0, yb: 0, xa: 0, ya: 0, off: 0, sram: 0, footprint: 1, buf, memType };
  };

  const emitLoad = (memType: 'INP' | 'WGT' | 'ACC', forcePad: boolean) => {
    const buf = memType === 'INP' ? inpBuf : memType === 'WGT' ? wgtBuf : accBuf;
    const n = memType === 'INP' ? nInp : memType === 'WGT' ? nWgt : nAcc;
    const w = memType === 'INP' ? win.inp : memType === 'WGT' ? win.wgt : win.acc;
    const l = load2D(memType, buf, n, w, forcePad);
    const range = Array.from({ length: l.footprint }, (_, k) => l.sram + k);
    if (memType !== 'ACC') {
      const read = memType === 'INP' ? sets.gemmReadInp : sets.gemmReadWgt;
      if (overlaps(read, range)) {
        sync(2, 1);
        sets.gemmReadInp.clear();
        sets.gemmReadWgt.clear();
      }
      range.forEach((k) => (memType === 'INP' ? sets.loadWroteInp : sets.loadWroteWgt).add(k));
    }
    rt.loadBuffer2D(l.buf, l.off, l.x, l.y, l.stride, l.xb, l.yb, l.xa, l.ya, l.sram, memType);
    desc.push(`LOAD ${memType} sram ${l.sram} <- ${buf.name}[${l.off}] ${l.y}x${l.x} stride ${l.stride} pad y ${l.yb}/${l.ya} x ${l.xb}/${l.xa}`);
  };

  /** Random loops + uops for a kernel whose indices stay inside the windows and hazard-free. */
  const makeKernel = (mode: 'GEMM' | 'ALU', reset: boolean, nLoops: number, useImm: boolean) => {
    const srcWin = mode === 'GEMM' ? win.inp : win.acc;
    for (let attempt = 0; attempt < 200; attempt++) {
      const loops: LoopEntry[] = [];
      for (let i = 0; i < nLoops; i++) {
        loops.push({ extent: p.int(1, 3), dstFactor: p.int(0, 4), srcFactor: p.int(0, 3), wgtFactor: mode === 'GEMM' ? p.int(0, 3) : 0 });
      }
      const nU = p.int(1, 4);
      const off = (f: (l: LoopEntry) => number) => loops.reduce((s, l) => s + (l.extent - 1) * f(l), 0);
      const dMax = win.acc - 1 - off((l) => l.dstFactor);
      const sMax = srcWin - 1 - off((l) => l.srcFactor);
      const wMax = win.wgt - 1 - off((l) => l.wgtFactor);
      if (dMax < 0 || sMax < 0 || wMax < 0) continue;
      const uops: UopSpec[] = [];
      for (let i = 0; i < nU; i++) {
        uops.push({ dst: p.int(0, dMax), src: useImm || reset ? (p.bool() ? 0 : p.int(0, sMax)) : p.int(0, sMax), wgt: mode === 'GEMM' ? p.int(0, wMax) : 0 });
      }
      // the runtime's own check (previous two uops of the list) and the expanded-sequence check
      const dsts = expand(uops, loops, mode === 'ALU', (u) => u.dst, (l) => l.dstFactor);
      if (!hazardFree(uops.map((u) => u.dst)) || !hazardFree(dsts)) continue;
      return {
        loops, uops, dst: dsts,
        src: expand(uops, loops, mode === 'ALU', (u) => u.src, (l) => l.srcFactor),
        wgt: expand(uops, loops, mode === 'ALU', (u) => u.wgt, (l) => l.wgtFactor),
      };
    }
    // fallback: a single micro-op without loops is always legal
    const u = { dst: 0, src: 0, wgt: 0 };
    return { loops: [] as LoopEntry[], uops: [u], dst: [0], src: [0], wgt: [0] };
  };

  const computeHazards = (mode: 'GEMM' | 'ALU', reset: boolean, dst: number[], src: number[], wgt: number[]) => {
    if (mode === 'GEMM' && !reset && (overlaps(sets.loadWroteInp, src) || overlaps(sets.loadWroteWgt, wgt))) {
      sync(1, 2);
      sets.loadWroteInp.clear();
      sets.loadWroteWgt.clear();
    }
    // every GEMM/ALU is treated as writing OUT at its dst (a reset GEMM too, conservatively)
    if (overlaps(sets.storeReadOut, dst)) {
      sync(3, 2);
      sets.storeReadOut.clear();
    }
    if (mode === 'GEMM' && !reset) {
      src.forEach((k) => sets.gemmReadInp.add(k));
      wgt.forEach((k) => sets.gemmReadWgt.add(k));
    }
    dst.forEach((k) => sets.computeWroteOut.add(k));
  };

  const emitCompute = (mode: 'GEMM' | 'ALU', reset: boolean, nLoops: number, op: AluOpName, useImm: boolean, imm: number, reuse = false, requant = false) => {
    // random tasks sometimes reuse a kernel recorded earlier (exercises the uop cache)
    const candidates = reusable.filter((k) => k.mode === mode && k.reset === reset);
    if (reuse && candidates.length && p.bool(0.3)) {
      const k = p.pick(candidates);
      computeHazards(mode, reset, k.dst, k.src, k.wgt);
      if (mode === 'GEMM') rt.pushGemmOp(site, undefined, k.sig, requant);
      else rt.pushAluOp(site, undefined, k.sig);
      desc.push(`${k.what}${requant ? ' requant' : ''} (reused kernel ${k.sig})`);
      return;
    }
    const k = makeKernel(mode, reset, nLoops, useImm);
    computeHazards(mode, reset, k.dst, k.src, k.wgt);
    const sig = nextSig++;
    const finit = (r: Runtime) => {
      for (const l of k.loops) r.uopLoopBegin(l.extent, l.dstFactor, l.srcFactor, l.wgtFactor);
      for (const u of k.uops) r.uopPush(mode, reset, u.dst, u.src, u.wgt, op, useImm, imm);
      for (let i = 0; i < k.loops.length; i++) r.uopLoopEnd();
    };
    const what = mode === 'GEMM'
      ? `GEMM${reset ? ' reset' : ''} ${k.uops.length} uops, loops [${k.loops.map((l) => `${l.extent}:${l.dstFactor}/${l.srcFactor}/${l.wgtFactor}`).join(', ')}]`
      : `ALU ${op} ${useImm ? `imm ${imm}` : 'vector'} ${k.uops.length} uops, loops [${k.loops.map((l) => `${l.extent}:${l.dstFactor}/${l.srcFactor}`).join(', ')}]`;
    if (mode === 'GEMM') rt.pushGemmOp(site, finit, sig, requant);
    else rt.pushAluOp(site, finit, sig);
    if (sig < 98) reusable.push({ sig, mode, reset, dst: k.dst, src: k.src, wgt: k.wgt, what });
    desc.push(`${what}${requant ? ' requant' : ''}`);
  };

  const emitStore = () => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const x = p.int(1, 4);
      const y = p.int(1, 3);
      const stride = x + p.int(0, 3);
      const span = (y - 1) * stride + x;
      if (x * y > win.acc || span > nOut) continue;
      const sram = p.int(0, win.acc - x * y);
      const off = p.int(0, nOut - span);
      const range = Array.from({ length: x * y }, (_, k) => sram + k);
      if (overlaps(sets.computeWroteOut, range)) {
        sync(2, 3);
        sets.computeWroteOut.clear();
      }
      range.forEach((k) => sets.storeReadOut.add(k));
      rt.storeBuffer2D(sram, 'OUT', outBuf, off, x, y, stride);
      desc.push(`STORE OUT sram ${sram} -> out_data[${off}] ${y}x${x} stride ${stride}`);
      return;
    }
  };

  const aluOps = aluOpsOf(d);
  const randomImm = (op: AluOpName): number => {
    const range = aluOpSpec(op).randomImm?.(d);
    if (range) return p.int(...range);
    return p.bool(0.5) ? p.int(-100, 100) : p.int(-32768, 32767);
  };
  const emitAlu = (op: AluOpName, useImm: boolean, nLoops: number, reuse = false) =>
    emitCompute('ALU', false, nLoops, op, useImm, useImm || aluOpSpec(op).vectorImm ? randomImm(op) : 0, reuse);

  // ---- the task list: mandatory coverage first (shuffled), then random tasks ----
  type Task = () => void;
  const mandatory: Task[] = [
    () => emitLoad('INP', true),
    () => emitLoad('WGT', false),
    () => emitLoad('ACC', true),
    () => emitCompute('GEMM', true, 2, 'MIN', false, 0),
    () => emitCompute('GEMM', false, 2, 'MIN', false, 0),
    () => emitCompute('GEMM', false, 1, 'MIN', false, 0),
    () => emitCompute('GEMM', false, 0, 'MIN', false, 0),
    ...aluOps.flatMap((op, i) => [() => emitAlu(op, true, i % 3), () => emitAlu(op, false, (i + 1) % 3)]),
    () => emitStore(),
    () => emitStore(),
  ];
  // GEMM_REQUANT: requantizing GEMMs (0, 1, 2 loops; a reset ignores the bit) and a micro-op-less RQ that sets P
  const setP = () => {
    const prm = p.int(0, 127);
    rt.setRequantParams(prm);
    desc.push(`ALU RQ imm ${prm} without micro-ops (sets P)`);
  };
  if (d.gemmRequant) {
    mandatory.push(
      setP,
      () => emitCompute('GEMM', false, 2, 'MIN', false, 0, false, true),
      () => emitCompute('GEMM', false, 1, 'MIN', false, 0, false, true),
      () => emitCompute('GEMM', false, 0, 'MIN', false, 0, false, true),
      () => emitCompute('GEMM', true, 1, 'MIN', false, 0, false, true),
    );
  }
  for (let i = mandatory.length - 1; i > 0; i--) {
    const j = p.int(0, i);
    [mandatory[i], mandatory[j]] = [mandatory[j], mandatory[i]];
  }
  // loads first so that computes have defined data most of the time (not required for legality)
  const tasks: Task[] = [() => emitLoad('INP', false), () => emitLoad('WGT', false), () => emitLoad('ACC', false), ...mandatory];
  const kinds: TaskKind[] = ['loadInp', 'loadWgt', 'loadAcc', 'gemm', 'gemmReset', 'alu', 'store', ...(d.gemmRequant ? ['gemmRq', 'setP'] as const : [])];
  for (let i = 0; i < (opts.extraTasks ?? 24); i++) {
    const kind = p.pick(kinds);
    tasks.push(() => {
      switch (kind) {
        case 'loadInp':
          return emitLoad('INP', false);
        case 'loadWgt':
          return emitLoad('WGT', false);
        case 'loadAcc':
          return emitLoad('ACC', false);
        case 'gemm':
          return emitCompute('GEMM', false, p.int(0, 2), 'MIN', false, 0, true);
        case 'gemmReset':
          return emitCompute('GEMM', true, p.int(0, 2), 'MIN', false, 0, true);
        case 'alu':
          return emitAlu(p.pick(aluOps), p.bool(), p.int(0, 2), true);
        case 'gemmRq':
          return emitCompute('GEMM', false, p.int(0, 2), 'MIN', false, 0, true, true);
        case 'setP':
          return setP();
        case 'store':
          return emitStore();
      }
    });
  }
  tasks.push(() => emitStore());
  for (const t of tasks) t();
  const program = rt.synchronize();
  return { program, seed, description: desc };
}
