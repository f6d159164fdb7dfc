/**
 * The conformance suite: ports of VTA's hardware tests (`tests/hardware/common/test_lib.cc`,
 * vta-reference Part B §6.1) and of TVM's `test_vta_insn.py` (§6.3), built only with the host
 * runtime and checked against the plain references. Every case scales its sizes to the
 * configuration (BATCH, BLOCK, buffer depths) and stays small enough to simulate quickly.
 *
 * As on the hardware (Part A.3), STORE reads the OUT buffer, so data loaded into ACC always passes
 * through an ALU op (SHR 0 when nothing else) before it is stored, as the TVM tests do.
 */
import type { Derived } from '../config/derive.ts';
import { ALU_OPS, aluOpSpec, rqParams, type AluOpName } from '../isa/alu.ts';
import type { Program } from '../program/container.ts';
import type { RunResult } from '../engine/index.ts';
import { packMatrix, unpackMatrix, type Matrix } from './pack.ts';
import { Rng, hashString } from '../util/rng.ts';
import {
  aluMatrix, compareMatrices, matmulAcc, padMatrix, truncateMatrix,
} from './reference.ts';
import { KernelSite, Runtime, RuntimeError, type DataBuffer } from './runtime.ts';

export interface CaseCheck {
  ok: boolean;
  message: string;
}

export interface BuiltCase {
  program: Program;
  /** What the case does, with its sizes for this configuration. */
  description: string;
  check(result: RunResult): CaseCheck;
}

export interface ConformanceCase {
  name: string;
  /** Where it comes from: 'test_lib' (Part B §6.1) or 'test_vta_insn' (§6.3). */
  origin: 'test_lib' | 'test_vta_insn';
  /** Only for configurations with this feature. */
  requires?: 'aluMul' | 'aluRequant' | 'gemmRequant';
  build(config: Derived, seed: number): BuiltCase;
}

const L = 1;
const C = 2;
const S = 3;

interface Expected {
  buf: DataBuffer;
  want: Matrix;
}

function finish(rt: Runtime, description: string, outs: Expected[]): BuiltCase {
  const d = rt.config;
  const program = rt.synchronize();
  return {
    program,
    description,
    check(result: RunResult): CaseCheck {
      if (result.error) return { ok: false, message: `engine reported ${result.error.kind}: ${result.error.message}` };
      for (const o of outs) {
        const rows = o.want.length;
        const cols = o.want[0].length;
        let got: Matrix;
        try {
          got = unpackMatrix(d, 'OUT', o.buf.readFrom(result.dram), rows, cols);
        } catch (e) {
          return { ok: false, message: `${o.buf.name}: ${(e as Error).message}` };
        }
        const diff = compareMatrices(got, o.want);
        if (diff) return { ok: false, message: `${o.buf.name}: ${diff}` };
      }
      return { ok: true, message: `ok (${outs.map((o) => `${o.buf.name} ${o.want.length}x${o.want[0].length}`).join(', ')})` };
    },
  };
}

/** Per-case seed: the same user seed gives each case its own data. */
function caseSeed(name: string, seed: number): number {
  return (hashString(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
}

function rng(name: string, seed: number): Rng {
  return new Rng(caseSeed(name, seed));
}

/** Signed range helper: [-2^(bits-1), 2^(bits-1)-1], at least [-1, 0]. */
function signedRange(bits: number): [number, number] {
  const b = Math.max(1, bits);
  return [-(2 ** (b - 1)), 2 ** (b - 1) - 1];
}

/** An ALU kernel over `n` consecutive ACC elements: one loop (maps to the inner loop). */
function aluLinear(rt: Runtime, site: KernelSite, sig: number, op: AluOpName, dst: number, src: number, n: number, useImm: boolean, imm: number): void {
  rt.pushAluOp(site, (r) => {
    r.uopLoopBegin(n, 1, 1, 0);
    r.uopPush('ALU', 0, dst, src, 0, op, useImm, imm);
    r.uopLoopEnd();
  }, sig);
}

/** An ALU kernel over an h x w block of ACC elements (row pitch w): two loops. */
function aluBlock2D(rt: Runtime, site: KernelSite, sig: number, op: AluOpName, dst: number, src: number, h: number, w: number, useImm: boolean, imm: number): void {
  rt.pushAluOp(site, (r) => {
    r.uopLoopBegin(h, w, w, 0);
    r.uopLoopBegin(w, 1, 1, 0);
    r.uopPush('ALU', 0, dst, src, 0, op, useImm, imm);
    r.uopLoopEnd();
    r.uopLoopEnd();
  }, sig);
}

// ---------------------------------------------------------------------------------------------
// test_lib.cc: alu_test(opcode, use_imm, batch, vector_size, uop_compression)

function aluTest(op: AluOpName, useImm: boolean, compression: boolean): ConformanceCase {
  const name = `alu_test.${op.toLowerCase()}.${useImm ? 'imm' : 'vec'}.${compression ? 'compressed' : 'plain'}`;
  return {
    name,
    origin: 'test_lib',
    requires: aluOpSpec(op).requires?.flag,
    build(d, seed) {
      const p = rng(name, seed);
      const rt = new Runtime(d);
      const chunks = 4;
      const tx = Math.min(8, Math.floor(d.depth.acc / 2));
      const sets = useImm ? 1 : 2;
      const rows = chunks * d.batch;
      const vec = tx * d.blockOut;
      const bits = aluOpSpec(op).testBits(d);
      const [lo, hi] = signedRange(bits.vector);
      const a = p.matrix(rows, vec, lo, hi);
      const b = p.matrix(rows, vec, lo, hi);
      const imms = Array.from({ length: chunks }, () => p.int(...signedRange(bits.imm)));
      const inputs = a.map((row, r) => (useImm ? row : [...row, ...b[r]]));
      const inBuf = rt.allocTiles('inputs', 'ACC', chunks * tx * sets, { role: 'input', shape: [rows, vec * sets], data: packMatrix(d, 'ACC', inputs) });
      const outBuf = rt.allocTiles('outputs', 'OUT', chunks * tx, { role: 'output', shape: [rows, vec] });
      const site = new KernelSite('alu');
      for (let c = 0; c < chunks; c++) {
        if (c > 0) rt.depPop(S, C);
        rt.loadBuffer2D(inBuf, c * tx * sets, tx * sets, 1, tx * sets, 0, 0, 0, 0, 0, 'ACC');
        rt.pushAluOp(site, (r) => {
          if (compression) {
            r.uopLoopBegin(tx, 1, 1, 0);
            r.uopPush('ALU', 0, 0, tx, 0, op, useImm, imms[c]);
            r.uopLoopEnd();
          } else {
            for (let i = 0; i < tx; i++) r.uopPush('ALU', 0, i, tx + i, 0, op, useImm, imms[c]);
          }
        }, c);
        rt.depPush(C, S);
        rt.depPop(C, S);
        rt.storeBuffer2D(0, 'OUT', outBuf, c * tx, tx, 1, tx);
        if (c < chunks - 1) rt.depPush(S, C);
      }
      const want: Matrix = a.map((row, r) => {
        const c = Math.floor(r / d.batch);
        return aluMatrix(op, [row], useImm ? imms[c] : [b[r]], d.accWidth, { outWidth: d.outWidth, vectorImm: useImm ? undefined : imms[c] })[0];
      });
      return finish(rt, `${op} ${useImm ? 'vector-scalar' : 'vector-vector'} over ${rows}x${vec} in ${chunks} chunks of ${tx} ACC elements, uop compression ${compression ? 'on' : 'off'}`, [
        { buf: outBuf, want: truncateMatrix(want, d.outWidth) },
      ]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// test_lib.cc: blocked_gemm_test(batch, channels, block, uop_compression, virtual_threads)

/**
 * Random GEMM operands (input batch x inC, weights outC x inC, bias batch x outC in ±2^12) and their
 * DRAM buffers in VTA's tile layout, plus an OUT-typed output buffer.
 */
function gemmOperands(rt: Runtime, p: Rng, batch: number, inC: number, outC: number) {
  const d = rt.config;
  const inp = p.matrix(batch, inC, ...signedRange(d.inpWidth));
  const wgt = p.matrix(outC, inC, ...signedRange(d.wgtWidth));
  const bias = p.matrix(batch, outC, -(2 ** 12), 2 ** 12);
  const rows = batch / d.batch;
  const inB = inC / d.blockIn;
  const outB = outC / d.blockOut;
  return {
    inp, wgt, bias,
    inpBuf: rt.allocTiles('inp', 'INP', rows * inB, { role: 'input', shape: [batch, inC], data: packMatrix(d, 'INP', inp) }),
    wgtBuf: rt.allocTiles('wgt', 'WGT', outB * inB, { role: 'input', shape: [outC, inC], data: packMatrix(d, 'WGT', wgt) }),
    biasBuf: rt.allocTiles('bias', 'ACC', rows * outB, { role: 'input', shape: [batch, outC], data: packMatrix(d, 'ACC', bias) }),
    outBuf: rt.allocTiles('out', 'OUT', rows * outB, { role: 'output', shape: [batch, outC] }),
  };
}

export interface BlockedGemmOptions {
  /** Rows of the input (a multiple of BATCH) and the square channel count (a multiple of block). */
  batch: number;
  channels: number;
  /** Channels per block (a multiple of BLOCK). */
  block: number;
  vthreads: 1 | 2;
  compression: boolean;
  seed: number;
}

/**
 * test_lib.cc's blocked_gemm_test: out = int8(bias + inp . wgt^T) for a batch x channels input and a
 * square weight matrix, tiled into `block`-channel blocks; with 2 virtual threads the INP/WGT and
 * ACC/OUT SRAM regions are double-buffered with the token pattern of the C test.
 */
export function buildBlockedGemm(d: Derived, o: BlockedGemmOptions): BuiltCase {
  const { vthreads, compression } = o;
  if (o.batch % d.batch || o.block % d.blockIn || o.channels % o.block) {
    throw new RuntimeError(`blocked GEMM: batch must be a multiple of ${d.batch}, block of ${d.blockIn}, channels of block`);
  }
  const p = new Rng(o.seed);
  const rt = new Runtime(d);
  const rows = o.batch / d.batch; // ACC element rows
  const tile = o.block / d.blockIn; // SRAM elements per block side
  const nb = o.channels / o.block; // blocks per channel dimension
  const blocks = tile * nb; // tiles per channel dimension
  const batch = o.batch;
  const channels = o.channels;
  const { inp, wgt, bias, inpBuf, wgtBuf, biasBuf, outBuf } = gemmOperands(rt, p, batch, channels, channels);
  const inpBase = (t: number) => t * rows * tile;
  const wgtBase = (t: number) => t * tile * tile;
  const accBase = (t: number) => t * rows * tile;
  const site = new KernelSite('gemm');
  const kernel = (ri: number, ra: number) => (r: Runtime) => {
    if (compression) {
      r.uopLoopBegin(tile, 0, 1, 1);
      r.uopLoopBegin(tile, 1, 0, tile);
      for (let y = 0; y < rows; y++) r.uopPush('GEMM', 0, accBase(ra) + y * tile, inpBase(ri) + y * tile, wgtBase(ri));
      r.uopLoopEnd();
      r.uopLoopEnd();
    } else {
      for (let i = 0; i < tile; i++) {
        for (let y = 0; y < rows; y++) {
          for (let oo = 0; oo < tile; oo++) r.uopPush('GEMM', 0, accBase(ra) + y * tile + oo, inpBase(ri) + y * tile + i, wgtBase(ri) + oo * tile + i);
        }
      }
    }
  };
  const total = nb * nb;
  let k = 0;
  for (let ob = 0; ob < nb; ob++) {
    const ra = ob % vthreads;
    if (ob >= vthreads) rt.depPop(S, C);
    rt.loadBuffer2D(biasBuf, ob * tile, tile, rows, blocks, 0, 0, 0, 0, accBase(ra), 'ACC');
    for (let ib = 0; ib < nb; ib++) {
      const ri = k % vthreads;
      if (k >= vthreads) rt.depPop(C, L);
      rt.loadBuffer2D(wgtBuf, ob * tile * blocks + ib * tile, tile, tile, blocks, 0, 0, 0, 0, wgtBase(ri), 'WGT');
      rt.loadBuffer2D(inpBuf, ib * tile, tile, rows, blocks, 0, 0, 0, 0, inpBase(ri), 'INP');
      rt.depPush(L, C);
      rt.depPop(L, C);
      rt.pushGemmOp(site, kernel(ri, ra), ri * 2 + ra);
      if (k < total - vthreads) rt.depPush(C, L);
      k++;
    }
    rt.depPush(C, S);
    rt.depPop(C, S);
    rt.storeBuffer2D(accBase(ra), 'OUT', outBuf, ob * tile, tile, rows, blocks);
    if (ob < nb - vthreads) rt.depPush(S, C);
  }
  const want = truncateMatrix(matmulAcc(inp, wgt, bias, d.accWidth), d.outWidth);
  return finish(rt, `blocked GEMM ${batch}x${channels}x${channels} in blocks of ${o.block}, ${vthreads} virtual thread(s), uop compression ${compression ? 'on' : 'off'}`, [
    { buf: outBuf, want },
  ]);
}

function blockedGemmTest(vthreads: 1 | 2, compression: boolean): ConformanceCase {
  const name = `blocked_gemm_test.vt${vthreads}.${compression ? 'compressed' : 'plain'}`;
  return {
    name,
    origin: 'test_lib',
    // Scaled to the config: batch 2*BATCH, channels 4*BLOCK in blocks of 2*BLOCK (fits every preset).
    build: (d, seed) => buildBlockedGemm(d, { batch: 2 * d.batch, channels: 4 * d.blockIn, block: 2 * d.blockIn, vthreads, compression, seed: caseSeed(name, seed) }),
  };
}

// ---------------------------------------------------------------------------------------------
// test_lib.cc: gemm_test(batch, in_channels, out_channels, uop_compression)

function gemmTest(compression: boolean): ConformanceCase {
  const name = `gemm_test.${compression ? 'compressed' : 'plain'}`;
  return {
    name,
    origin: 'test_lib',
    build(d, seed) {
      const p = rng(name, seed);
      const rt = new Runtime(d);
      const rows = 4;
      const inB = 4;
      const outB = 4;
      const batch = rows * d.batch;
      const inC = inB * d.blockIn;
      const outC = outB * d.blockOut;
      const { inp, wgt, bias, inpBuf, wgtBuf, biasBuf, outBuf } = gemmOperands(rt, p, batch, inC, outC);
      rt.loadBuffer2D(biasBuf, 0, rows * outB, 1, rows * outB, 0, 0, 0, 0, 0, 'ACC');
      rt.depPush(C, L);
      rt.depPop(C, L);
      rt.loadBuffer2D(wgtBuf, 0, outB * inB, 1, outB * inB, 0, 0, 0, 0, 0, 'WGT');
      rt.loadBuffer2D(inpBuf, 0, rows * inB, 1, rows * inB, 0, 0, 0, 0, 0, 'INP');
      rt.depPush(L, C);
      rt.depPop(L, C);
      rt.pushGemmOp(new KernelSite('gemm'), (r) => {
        if (compression) {
          r.uopLoopBegin(inB, 0, 1, 1);
          r.uopLoopBegin(outB, 1, 0, inB);
          for (let y = 0; y < rows; y++) r.uopPush('GEMM', 0, y * outB, y * inB, 0);
          r.uopLoopEnd();
          r.uopLoopEnd();
        } else {
          for (let y = 0; y < rows; y++) {
            for (let i = 0; i < inB; i++) {
              for (let o = 0; o < outB; o++) r.uopPush('GEMM', 0, y * outB + o, y * inB + i, o * inB + i);
            }
          }
        }
      });
      rt.depPush(C, S);
      rt.depPop(C, S);
      rt.storeBuffer2D(0, 'OUT', outBuf, 0, rows * outB, 1, rows * outB);
      const want = truncateMatrix(matmulAcc(inp, wgt, bias, d.accWidth), d.outWidth);
      return finish(rt, `GEMM ${batch}x${inC} by ${outC}x${inC} plus bias in one shot, uop compression ${compression ? 'on' : 'off'}`, [{ buf: outBuf, want }]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// test_vta_insn.py

/** Shared shape of the ALU-only tests: load ACC, a list of ALU stages, store. */
function aluPipelineCase(
  name: string,
  tilesY: number,
  tilesX: number,
  range: [number, number],
  stages: (p: Rng) => Array<{ op: AluOpName; imm?: number; vector?: boolean }>,
  describe: string,
  requires?: 'aluMul' | 'aluRequant' | 'gemmRequant',
): ConformanceCase {
  return {
    name,
    origin: 'test_vta_insn',
    requires,
    build(d, seed) {
      const p = rng(name, seed);
      const rt = new Runtime(d);
      const n = tilesY * tilesX;
      const rows = tilesY * d.batch;
      const cols = tilesX * d.blockOut;
      const st = stages(p);
      const needB = st.some((s) => s.vector);
      const a = p.matrix(rows, cols, ...range);
      const b = p.matrix(rows, cols, ...range);
      const aBuf = rt.allocTiles('a', 'ACC', n, { role: 'input', shape: [rows, cols], data: packMatrix(d, 'ACC', a) });
      const bBuf = needB ? rt.allocTiles('b', 'ACC', n, { role: 'input', shape: [rows, cols], data: packMatrix(d, 'ACC', b) }) : undefined;
      const outBuf = rt.allocTiles('res', 'OUT', n, { role: 'output', shape: [rows, cols] });
      rt.loadBuffer2D(aBuf, 0, n, 1, n, 0, 0, 0, 0, 0, 'ACC');
      if (bBuf) rt.loadBuffer2D(bBuf, 0, n, 1, n, 0, 0, 0, 0, n, 'ACC');
      const site = new KernelSite('alu');
      let want = a;
      st.forEach((s, i) => {
        // TVM fuses the contiguous loops of an element-wise stage into one: a single loop that
        // the runtime maps to the inner loop of the ALU instruction.
        aluLinear(rt, site, i, s.op, 0, s.vector ? n : 0, n, !s.vector, s.imm ?? 0);
        want = aluMatrix(s.op, want, s.vector ? b : (s.imm ?? 0), d.accWidth, { outWidth: d.outWidth, vectorImm: s.vector ? (s.imm ?? 0) : undefined });
      });
      rt.depPush(C, S);
      rt.depPop(C, S);
      rt.storeBuffer2D(0, 'OUT', outBuf, 0, n, 1, n);
      const desc = `${describe}: ${st.map((s) => `${s.op} ${s.vector ? 'vector' : `imm ${s.imm}`}`).join(', ')} over ${rows}x${cols}`;
      return finish(rt, desc, [{ buf: outBuf, want: truncateMatrix(want, d.outWidth) }]);
    },
  };
}

function saveLoadOut(): ConformanceCase {
  const name = 'insn.save_load_out';
  return {
    name,
    origin: 'test_vta_insn',
    build(d, seed) {
      const p = rng(name, seed);
      const rt = new Runtime(d);
      const n = Math.min(6, Math.floor(Math.sqrt(d.depth.acc)));
      const rows = n * d.batch;
      const cols = n * d.blockOut;
      const a = p.matrix(rows, cols, -(2 ** 20), 2 ** 20);
      const aBuf = rt.allocTiles('a', 'ACC', n * n, { role: 'input', shape: [rows, cols], data: packMatrix(d, 'ACC', a) });
      const outBuf = rt.allocTiles('res', 'OUT', n * n, { role: 'output', shape: [rows, cols] });
      rt.loadBuffer2D(aBuf, 0, n, n, n, 0, 0, 0, 0, 0, 'ACC');
      aluBlock2D(rt, new KernelSite('copy'), 0, 'SHR', 0, 0, n, n, true, 0);
      rt.depPush(C, S);
      rt.depPop(C, S);
      rt.storeBuffer2D(0, 'OUT', outBuf, 0, n, n, n);
      return finish(rt, `int32 ${rows}x${cols} DRAM -> ACC (2-D load) -> SHR 0 -> OUT -> int${d.outWidth} DRAM`, [
        { buf: outBuf, want: truncateMatrix(a, d.outWidth) },
      ]);
    },
  };
}

function paddedLoad(variant: 'Y0' | 'Y1' | 'X0' | 'X1' | 'all'): ConformanceCase {
  const pads = { Y0: [2, 0, 0, 0], Y1: [0, 2, 0, 0], X0: [0, 0, 2, 0], X1: [0, 0, 0, 2], all: [1, 1, 1, 1] }[variant];
  const name = `insn.padded_load.${variant}`;
  return {
    name,
    origin: 'test_vta_insn',
    build(d, seed) {
      const p = rng(name, seed);
      const rt = new Runtime(d);
      const [yb, ya, xb, xa] = pads;
      const ty = 3;
      const tx = 5;
      const h = yb + ty + ya;
      const w = xb + tx + xa;
      const a = p.matrix(ty * d.batch, tx * d.blockOut, -(2 ** 10), 2 ** 10);
      const aBuf = rt.allocTiles('a', 'ACC', ty * tx, { role: 'input', shape: [ty * d.batch, tx * d.blockOut], data: packMatrix(d, 'ACC', a) });
      const outBuf = rt.allocTiles('res', 'OUT', h * w, { role: 'output', shape: [h * d.batch, w * d.blockOut] });
      rt.loadBuffer2D(aBuf, 0, tx, ty, tx, xb, yb, xa, ya, 0, 'ACC');
      aluBlock2D(rt, new KernelSite('copy'), 0, 'SHR', 0, 0, h, w, true, 0);
      rt.depPush(C, S);
      rt.depPop(C, S);
      rt.storeBuffer2D(0, 'OUT', outBuf, 0, w, h, w);
      const want = truncateMatrix(padMatrix(a, yb * d.batch, ya * d.batch, xb * d.blockOut, xa * d.blockOut), d.outWidth);
      return finish(rt, `padded ACC load of ${ty}x${tx} tiles, pads y ${yb}/${ya} x ${xb}/${xa} -> SHR 0 -> store ${h}x${w} tiles`, [{ buf: outBuf, want }]);
    },
  };
}

function insnGemm(smt: boolean): ConformanceCase {
  const name = `insn.gemm.${smt ? 'smt' : 'default'}`;
  return {
    name,
    origin: 'test_vta_insn',
    build(d, seed) {
      const p = rng(name, seed);
      const rt = new Runtime(d);
      const o = 4; // batch tiles
      const m = 4; // output-channel tiles
      const x = p.matrix(o * d.batch, d.blockIn, ...signedRange(d.inpWidth));
      const w = p.matrix(m * d.blockOut, d.blockIn, ...signedRange(d.wgtWidth));
      const xBuf = rt.allocTiles('x', 'INP', o, { role: 'input', shape: [o * d.batch, d.blockIn], data: packMatrix(d, 'INP', x) });
      const wBuf = rt.allocTiles('w', 'WGT', m, { role: 'input', shape: [m * d.blockOut, d.blockIn], data: packMatrix(d, 'WGT', w) });
      const resBuf = rt.allocTiles('res', 'OUT', o * m, { role: 'output', shape: [o * d.batch, m * d.blockOut] });
      const threads = smt ? 2 : 1;
      const per = o / threads; // batch tiles per thread
      const site = new KernelSite('gemm');
      const alu = new KernelSite('alu');
      rt.loadBuffer2D(wBuf, 0, m, 1, m, 0, 0, 0, 0, 0, 'WGT');
      for (let t = 0; t < threads; t++) {
        rt.loadBuffer2D(xBuf, t * per, per, 1, per, 0, 0, 0, 0, t * per, 'INP');
        rt.depPush(L, C);
      }
      for (let t = 0; t < threads; t++) {
        const acc = t * per * m;
        // reset the accumulators of this thread (GEMM with reset_reg)
        rt.pushGemmOp(site, (r) => {
          r.uopLoopBegin(per, m, 0, 0);
          r.uopLoopBegin(m, 1, 0, 0);
          r.uopPush('GEMM', 1, acc, 0, 0);
          r.uopLoopEnd();
          r.uopLoopEnd();
        }, t * 2);
        rt.depPop(L, C);
        rt.pushGemmOp(site, (r) => {
          r.uopLoopBegin(per, m, 1, 0);
          r.uopLoopBegin(m, 1, 0, 1);
          r.uopPush('GEMM', 0, acc, t * per, 0);
          r.uopLoopEnd();
          r.uopLoopEnd();
        }, t * 2 + 1);
        aluLinear(rt, alu, t * 3, 'SHR', acc, acc, per * m, true, 8);
        aluLinear(rt, alu, t * 3 + 1, 'MAX', acc, acc, per * m, true, 0);
        aluLinear(rt, alu, t * 3 + 2, 'MIN', acc, acc, per * m, true, 2 ** (d.outWidth - 1) - 1);
        rt.depPush(C, S);
        rt.depPop(C, S);
        rt.storeBuffer2D(acc, 'OUT', resBuf, t * per * m, per * m, 1, per * m);
      }
      let want = matmulAcc(x, w, undefined, d.accWidth);
      want = aluMatrix('SHR', want, 8, d.accWidth);
      want = aluMatrix('MAX', want, 0, d.accWidth);
      want = aluMatrix('MIN', want, 2 ** (d.outWidth - 1) - 1, d.accWidth);
      return finish(rt, `GEMM ${o * d.batch}x${d.blockIn} by ${m * d.blockOut}x${d.blockIn} (reset, accumulate), >> 8, max 0, min ${2 ** (d.outWidth - 1) - 1}${smt ? ', two virtual threads over the batch axis' : ''}`, [
        { buf: resBuf, want: truncateMatrix(want, d.outWidth) },
      ]);
    },
  };
}

/**
 * GEMM_REQUANT (docs/isa.md): a GEMM over two input-channel blocks, the second with the requant bit,
 * after an RQ without micro-ops set P (>> 8, relu, clear at random); the plain reference is the
 * matmul then RQ's lane function. The ACC clear shows in a second store after an ALU ADD of 0.
 */
function gemmRequantCase(): ConformanceCase {
  const name = 'insn.gemm.requant';
  return {
    name,
    origin: 'test_vta_insn',
    requires: 'gemmRequant',
    build(d, seed) {
      const p = rng(name, seed);
      const rt = new Runtime(d);
      const o = 2; // batch tiles
      const m = 2; // output-channel tiles
      const k = 2; // input-channel blocks
      const x = p.matrix(o * d.batch, k * d.blockIn, ...signedRange(d.inpWidth));
      const w = p.matrix(m * d.blockOut, k * d.blockIn, ...signedRange(d.wgtWidth));
      const xBuf = rt.allocTiles('x', 'INP', o * k, { role: 'input', shape: [o * d.batch, k * d.blockIn], data: packMatrix(d, 'INP', x) });
      const wBuf = rt.allocTiles('w', 'WGT', m * k, { role: 'input', shape: [m * d.blockOut, k * d.blockIn], data: packMatrix(d, 'WGT', w) });
      const resBuf = rt.allocTiles('res', 'OUT', o * m, { role: 'output', shape: [o * d.batch, m * d.blockOut] });
      const accBuf = rt.allocTiles('acc', 'OUT', o * m, { role: 'output', shape: [o * d.batch, m * d.blockOut] });
      const shift = p.int(4, 10);
      const relu = p.bool();
      const clear = p.bool();
      const prm = rqParams(shift, relu, clear);
      rt.loadBuffer2D(wBuf, 0, m * k, 1, m * k, 0, 0, 0, 0, 0, 'WGT');
      rt.loadBuffer2D(xBuf, 0, o * k, 1, o * k, 0, 0, 0, 0, 0, 'INP');
      rt.depPush(L, C);
      rt.depPop(L, C);
      const site = new KernelSite('gemm');
      rt.pushGemmOp(site, (r) => {
        r.uopLoopBegin(o, m, 0, 0);
        r.uopLoopBegin(m, 1, 0, 0);
        r.uopPush('GEMM', 1, 0, 0, 0);
        r.uopLoopEnd();
        r.uopLoopEnd();
      }, 0);
      rt.setRequantParams(prm);
      // ACC[i*m + j] += x tile (i, kb) . w tile (j, kb); the last block with requant
      for (let kb = 0; kb < k; kb++) {
        rt.pushGemmOp(site, (r) => {
          r.uopLoopBegin(o, m, k, 0);
          r.uopLoopBegin(m, 1, 0, k);
          r.uopPush('GEMM', 0, 0, kb, kb);
          r.uopLoopEnd();
          r.uopLoopEnd();
        }, 1 + kb, kb === k - 1);
      }
      rt.depPush(C, S);
      rt.depPop(C, S);
      rt.storeBuffer2D(0, 'OUT', resBuf, 0, o * m, 1, o * m);
      rt.depPush(S, C);
      rt.depPop(S, C);
      aluLinear(rt, new KernelSite('alu'), 0, 'ADD', 0, 0, o * m, true, 0);
      rt.depPush(C, S);
      rt.depPop(C, S);
      rt.storeBuffer2D(0, 'OUT', accBuf, 0, o * m, 1, o * m);
      const want = aluMatrix('RQ', matmulAcc(x, w, undefined, d.accWidth), prm, d.accWidth, { outWidth: d.outWidth });
      return finish(rt, `GEMM ${o * d.batch}x${k * d.blockIn} by ${m * d.blockOut}x${k * d.blockIn} in ${k} steps, the last with requant (P: >> ${shift}, ${relu ? 'relu' : 'signed clip'}${clear ? ', clear' : ''})`, [
        { buf: resBuf, want: truncateMatrix(want, d.outWidth) },
        { buf: accBuf, want: truncateMatrix(clear ? want.map((r) => r.map(() => 0)) : want, d.outWidth) },
      ]);
    },
  };
}

function buildCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const { name: op } of ALU_OPS) {
    for (const useImm of [true, false]) {
      for (const compression of [false, true]) cases.push(aluTest(op, useImm, compression));
    }
  }
  for (const vt of [1, 2] as const) {
    for (const compression of [false, true]) cases.push(blockedGemmTest(vt, compression));
  }
  cases.push(gemmTest(false), gemmTest(true));
  cases.push(saveLoadOut());
  for (const v of ['Y0', 'Y1', 'X0', 'X1', 'all'] as const) cases.push(paddedLoad(v));
  cases.push(insnGemm(false), insnGemm(true), gemmRequantCase());
  const r16: [number, number] = [-16, 15];
  const imm14 = (p: Rng) => p.int(1, 4);
  cases.push(
    aluPipelineCase('insn.alu.shl_imm', 8, 8, r16, (p) => [{ op: 'SHR', imm: -imm14(p) }], 'SHL imm (SHR with a negative immediate)'),
    aluPipelineCase('insn.alu.max_imm', 8, 8, r16, (p) => [{ op: 'MAX', imm: imm14(p) }], 'MAX imm'),
    aluPipelineCase('insn.alu.max_vec', 8, 8, r16, () => [{ op: 'MAX', vector: true }], 'MAX vector'),
    aluPipelineCase('insn.alu.min_imm', 8, 8, r16, (p) => [{ op: 'MIN', imm: imm14(p) }], 'MIN imm'),
    aluPipelineCase('insn.alu.min_vec', 8, 8, r16, () => [{ op: 'MIN', vector: true }], 'MIN vector'),
    aluPipelineCase('insn.alu.add_imm', 8, 8, r16, (p) => [{ op: 'ADD', imm: imm14(p) }], 'ADD imm'),
    aluPipelineCase('insn.alu.add_vec', 8, 8, r16, () => [{ op: 'ADD', vector: true }], 'ADD vector'),
    aluPipelineCase('insn.alu.shr_imm', 8, 8, r16, (p) => [{ op: 'SHR', imm: imm14(p) }], 'SHR imm'),
    aluPipelineCase('insn.alu.mul_imm', 8, 8, r16, (p) => [{ op: 'MUL', imm: imm14(p) }], 'MUL imm', 'aluMul'),
    aluPipelineCase('insn.alu.mul_vec', 8, 8, r16, () => [{ op: 'MUL', vector: true }], 'MUL vector', 'aluMul'),
    aluPipelineCase('insn.relu', 8, 10, [-256, 255], () => [{ op: 'MAX', imm: 0 }, { op: 'MIN', imm: 127 }], 'relu'),
    aluPipelineCase('insn.shift_and_scale', 2, 8, [-10, 9], (p) => [{ op: 'ADD', imm: p.int(0, 7) }, { op: 'SHR', imm: p.int(1, 4) }], 'shift and scale'),
  );
  return cases;
}

/** Every case, including those a configuration may not support (see `requires`). */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = buildCases();

/** The cases that apply to a configuration. */
export function conformanceCases(d: Derived): ConformanceCase[] {
  return CONFORMANCE_CASES.filter((c) => !c.requires || d[c.requires]);
}

export function findCase(name: string): ConformanceCase | undefined {
  return CONFORMANCE_CASES.find((c) => c.name === name);
}
