/** TypeScript simulator: bit-exact results against independent reference computations. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, type Derived } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/load.ts';
import { runSync } from '../sim/ts/engine.ts';
import { ProgBuilder, packLanes, rng, unpackLanes, wrap } from './helpers/simprog.ts';

interface GemmCase {
  nI: number; // input tiles (rows of the problem / BATCH)
  nK: number; // reduction blocks
  nO: number; // output blocks
  shift: number;
}

/** Blocked GEMM + bias + SHR, stored as OUT; returns simulator and reference outputs. */
function blockedGemm(d: Derived, c: GemmCase, seed: number) {
  const r = rng(seed);
  const { batch: B, blockIn: BI, blockOut: BO } = d;
  const inpMax = 2 ** (d.inpWidth - 1);
  const wgtMax = 2 ** (d.wgtWidth - 1);
  const inp = Array.from({ length: c.nI * c.nK * B * BI }, () => r(-inpMax, inpMax - 1)); // [i][j][b][k]
  const wgt = Array.from({ length: c.nO * c.nK * BO * BI }, () => r(-wgtMax, wgtMax - 1)); // [o][j][oo][k]
  const biasMax = Math.min(2 ** (d.accWidth - 1) - 1, 1 << 14);
  const bias = Array.from({ length: c.nI * c.nO * B * BO }, () => r(-biasMax, biasMax)); // [i][o][b][oo]

  const p = new ProgBuilder(d);
  const uops = [];
  for (let j = 0; j < c.nK; j++) {
    for (let i = 0; i < c.nI; i++) for (let o = 0; o < c.nO; o++) uops.push({ dst_idx: i * c.nO + o, src_idx: i * c.nK + j, wgt_idx: o * c.nK + j });
  }
  const nAcc = c.nI * c.nO;
  uops.push({ dst_idx: 0, src_idx: 0, wgt_idx: 0 }); // ALU uop at index uops.length-1
  const aluU = uops.length - 1;
  const uA = p.uops('uops', uops);
  const iA = p.data('inp', packLanes(inp, d.inpWidth));
  const wA = p.data('wgt', packLanes(wgt, d.wgtWidth));
  const bA = p.data('bias', packLanes(bias, d.accWidth));
  const oA = p.output('out', nAcc * d.elemBytes.out);
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: uops.length, x_stride: uops.length });
  p.insn({ opcode: 'LOAD', memory_type: 'ACC', dram_base: bA / d.elemBytes.acc, y_size: 1, x_size: nAcc, x_stride: nAcc, push_prev_dep: 1 });
  p.insn({ opcode: 'LOAD', memory_type: 'WGT', dram_base: wA / d.elemBytes.wgt, y_size: 1, x_size: c.nO * c.nK, x_stride: c.nO * c.nK, pop_next_dep: 1 });
  p.insn({ opcode: 'LOAD', memory_type: 'INP', dram_base: iA / d.elemBytes.inp, y_size: 1, x_size: c.nI * c.nK, x_stride: c.nI * c.nK, push_next_dep: 1 });
  p.insn({ opcode: 'GEMM', uop_bgn: 0, uop_end: aluU, iter_out: 1, iter_in: 1, pop_prev_dep: 1 });
  p.insn({ opcode: 'ALU', alu_opcode: 'SHR', use_imm: 1, imm: c.shift, uop_bgn: aluU, uop_end: aluU + 1, iter_out: 1, iter_in: nAcc, dst_factor_in: 1, push_next_dep: 1 });
  p.insn({ opcode: 'STORE', memory_type: 'OUT', dram_base: oA / d.elemBytes.out, y_size: 1, x_size: nAcc, x_stride: nAcc, pop_prev_dep: 1, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
  const res = runSync(p.build());
  assert.is(res.error, undefined, res.error?.message);
  const got = unpackLanes(res.dram.subarray(oA, oA + nAcc * d.elemBytes.out), d.outWidth, nAcc * B * BO);

  const want: number[] = [];
  for (let i = 0; i < c.nI; i++) {
    for (let o = 0; o < c.nO; o++) {
      for (let b = 0; b < B; b++) {
        for (let oo = 0; oo < BO; oo++) {
          let acc = BigInt(bias[((i * c.nO + o) * B + b) * BO + oo]);
          for (let j = 0; j < c.nK; j++) {
            for (let k = 0; k < BI; k++) {
              acc += BigInt(inp[((i * c.nK + j) * B + b) * BI + k]) * BigInt(wgt[((o * c.nK + j) * BO + oo) * BI + k]);
              acc = BigInt.asIntN(d.accWidth, acc);
            }
          }
          want.push(wrap(acc >> BigInt(c.shift), d.outWidth));
        }
      }
    }
  }
  return { got, want, res };
}

const PRESETS = ['default', 'batch2-block8', 'block32', 'ice40-tiny', 'ice40-small'];
for (const name of PRESETS) {
  test(`blocked GEMM + bias + SHR matches the reference on ${name}`, () => {
    const d = loadConfig(name);
    const { got, want, res } = blockedGemm(d, { nI: 3, nK: 2, nO: 2, shift: 3 }, 11);
    assert.equal(got, want);
    assert.is(res.counters.gemm_uops, 3 * 2 * 2);
    assert.is(res.counters.fsim.gemm_counter, 12);
    assert.is(res.counters.alu_uops, 6);
  });
}

test('narrow lanes: int4 inputs, int2 weights, int16 accumulators', () => {
  const d = deriveConfig({ LOG_INP_WIDTH: 2, LOG_WGT_WIDTH: 1, LOG_ACC_WIDTH: 4, LOG_BLOCK: 3, LOG_INP_BUFF_SIZE: 12, LOG_WGT_BUFF_SIZE: 12, LOG_ACC_BUFF_SIZE: 12, LOG_UOP_BUFF_SIZE: 12 });
  const { got, want } = blockedGemm(d, { nI: 4, nK: 3, nO: 2, shift: 1 }, 5);
  assert.equal(got, want);
});

test('accumulator wrap-around at ACC_WIDTH 8', () => {
  const d = deriveConfig({ LOG_ACC_WIDTH: 3, LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 9 });
  const { got, want } = blockedGemm(d, { nI: 2, nK: 4, nO: 1, shift: 0 }, 9);
  assert.equal(got, want);
  assert.ok(want.some((v) => v !== 0));
});

test('accumulator wrap-around at ACC_WIDTH 16, seen through the shift that follows', () => {
  // int8 x int8 over 6 x 8 lanes reaches 2^20: the wrap (bits 16 and up) changes what SHR 12 brings down to OUT
  const d = deriveConfig({ LOG_ACC_WIDTH: 4, LOG_BLOCK: 3, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 10, LOG_WGT_BUFF_SIZE: 12, LOG_ACC_BUFF_SIZE: 10 });
  const { got, want } = blockedGemm(d, { nI: 2, nK: 6, nO: 2, shift: 12 }, 13);
  assert.equal(got, want);
  const { want: unwrapped } = blockedGemm(deriveConfig({ LOG_BLOCK: 3, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 10, LOG_WGT_BUFF_SIZE: 12, LOG_ACC_BUFF_SIZE: 10 }), { nI: 2, nK: 6, nO: 2, shift: 12 }, 13);
  assert.not.equal(want, unwrapped, 'the data overflows 16 bits');
});

// ---------------------------------------------------------------------------------------- ALU

const OPS = ['MIN', 'MAX', 'ADD', 'SHR', 'MUL'] as const;

function refAlu(op: string, a: number, b: number, W: number): number {
  const A = BigInt(a);
  const Bv = BigInt(b);
  switch (op) {
    case 'MIN': return a < b ? a : b;
    case 'MAX': return a > b ? a : b;
    case 'ADD': return wrap(A + Bv, W);
    case 'MUL': return wrap(A * Bv, W);
    default: {
      if (b >= 0) return wrap(A >> BigInt(Math.min(b, W - 1)), W);
      return wrap(A << BigInt(Math.min(-b, W - 1)), W);
    }
  }
}

function aluCase(d: Derived, op: (typeof OPS)[number], useImm: boolean, seed: number) {
  const r = rng(seed);
  const L = d.batch * d.blockOut;
  const W = d.accWidth;
  const n = 6; // destination elements 0..5, sources 6..11
  const big = 2 ** (W - 1);
  const vals = Array.from({ length: 2 * n * L }, (_, i) => {
    const k = i % 5;
    return k === 0 ? big - 1 - r(0, 3) : k === 1 ? -big + r(0, 3) : r(-1000, 1000);
  });
  // shift amounts: include large and negative ones
  if (op === 'SHR') for (let i = n * L; i < 2 * n * L; i++) vals[i] = r(-40, 40);
  const imm = op === 'SHR' ? -3 : r(-30000, 30000);
  const p = new ProgBuilder(d);
  const uA = p.uops('uops', [{ dst_idx: 0, src_idx: n, wgt_idx: 0 }]);
  const aA = p.data('acc', packLanes(vals, W));
  const oA = p.output('out', n * d.elemBytes.out);
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: 1, x_stride: 1 });
  p.insn({ opcode: 'LOAD', memory_type: 'ACC', dram_base: aA / d.elemBytes.acc, y_size: 1, x_size: 2 * n, x_stride: 2 * n });
  // iter_out 2 x iter_in 3 covering destinations 0..5 with their sources
  p.insn({
    opcode: 'ALU', alu_opcode: op, use_imm: useImm ? 1 : 0, imm, uop_bgn: 0, uop_end: 1, iter_out: 2, iter_in: 3,
    dst_factor_out: 3, dst_factor_in: 1, src_factor_out: 3, src_factor_in: 1, push_next_dep: 1,
  });
  p.insn({ opcode: 'STORE', memory_type: 'OUT', dram_base: oA / d.elemBytes.out, y_size: 1, x_size: n, x_stride: n, pop_prev_dep: 1, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
  const res = runSync(p.build());
  assert.is(res.error, undefined, res.error?.message);
  const got = unpackLanes(res.dram.subarray(oA, oA + n * d.elemBytes.out), d.outWidth, n * L);
  const immW = wrap(imm, W);
  const want = Array.from({ length: n * L }, (_, i) => wrap(refAlu(op, vals[i], useImm ? immW : vals[n * L + i], W), d.outWidth));
  return { got, want, res };
}

for (const name of ['default', 'batch2-block8', 'ice40-tiny']) {
  for (const op of OPS) {
    for (const useImm of [true, false]) {
      test(`ALU ${op} ${useImm ? 'immediate' : 'vector'} on ${name}`, () => {
        const base = loadConfig(name);
        const d = op === 'MUL' ? deriveConfig({ ...base.keys, ALU_MUL: true }) : base;
        const { got, want, res } = aluCase(d, op, useImm, 3 + op.length);
        assert.equal(got, want);
        assert.is(res.counters.alu_uops, 6);
        assert.is(res.counters.fsim.alu_counter, 6);
      });
    }
  }
}

test('ALU on 16-bit accumulators wraps at 16 bits', () => {
  const d = deriveConfig({ LOG_ACC_WIDTH: 4, LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 10, ALU_MUL: true });
  for (const op of OPS) {
    const { got, want } = aluCase(d, op, false, 21);
    assert.equal(got, want, op);
  }
});

// ---------------------------------------------------------------------------------------- loads

test('INP and WGT loads honour all four pads (checked through an identity GEMM)', () => {
  const d = loadConfig('default');
  const BI = d.blockIn;
  const r = rng(4);
  const rows = 2;
  const cols = 3;
  const stride = 5;
  const src = Array.from({ length: rows * stride * BI }, () => r(-128, 127));
  const [yp0, yp1, xp0, xp1] = [1, 2, 2, 1];
  const W = xp0 + cols + xp1;
  const H = yp0 + rows + yp1;
  const n = W * H;
  const ident = Array.from({ length: BI * BI }, (_, i) => (Math.floor(i / BI) === i % BI ? 1 : 0));
  const p = new ProgBuilder(d);
  const uA = p.uops('uops', Array.from({ length: n }, (_, i) => ({ dst_idx: i, src_idx: i, wgt_idx: 0 })));
  const iA = p.data('inp', packLanes(src, 8));
  // the weight tile sits at element 1 of the WGT load, behind one x pad
  const wA = p.data('wgt', packLanes(ident, 8));
  const oA = p.output('out', n * d.elemBytes.out);
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: n, x_stride: n });
  p.insn({ opcode: 'LOAD', memory_type: 'ACC', dram_base: 0, y_size: 0, x_size: n, x_stride: n, y_pad_0: 1, x_pad_0: 0, push_prev_dep: 1 });
  p.insn({ opcode: 'LOAD', memory_type: 'WGT', sram_base: 0, dram_base: wA / 256, y_size: 1, x_size: 1, x_stride: 1, x_pad_0: 1, pop_next_dep: 1 });
  p.insn({
    opcode: 'LOAD', memory_type: 'INP', dram_base: iA / 16, y_size: rows, x_size: cols, x_stride: stride,
    y_pad_0: yp0, y_pad_1: yp1, x_pad_0: xp0, x_pad_1: xp1, push_next_dep: 1,
  });
  // uops use wgt_idx 0; the identity tile is at WGT element 1
  p.insn({ opcode: 'GEMM', uop_bgn: 0, uop_end: n, iter_out: 1, iter_in: 1, wgt_factor_in: 0, pop_prev_dep: 1, push_next_dep: 1 });
  p.insn({ opcode: 'STORE', memory_type: 'OUT', dram_base: oA / 16, y_size: 1, x_size: n, x_stride: n, pop_prev_dep: 1, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
  // Point the uops at weight 1 by rebuilding them (wgt_idx 1).
  const prog = p.build();
  const ub = prog.buffers.find((b) => b.name === 'uops')!;
  const view = new DataView(ub.data!.buffer, ub.data!.byteOffset);
  const wgtLsb = d.layout.uop.byName.wgt_idx.lsb;
  for (let i = 0; i < n; i++) view.setUint32(4 * i, view.getUint32(4 * i, true) | (1 << wgtLsb), true);
  const res = runSync(prog);
  assert.is(res.error, undefined, res.error?.message);
  const got = unpackLanes(res.dram.subarray(oA, oA + n * 16), 8, n * BI);
  const want: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = y >= yp0 && y < yp0 + rows && x >= xp0 && x < xp0 + cols;
      for (let k = 0; k < BI; k++) want.push(inside ? src[((y - yp0) * stride + (x - xp0)) * BI + k] : 0);
    }
  }
  assert.equal(got, want);
  assert.is(res.counters.fsim.inp_load_nbytes, rows * cols * 16);
  assert.is(res.counters.fsim.acc_load_nbytes, 0);
});

test('padded ACC load, then ALU SHR 0 as a move, then STORE', () => {
  const d = loadConfig('batch2-block8');
  const L = d.batch * d.blockOut;
  const r = rng(8);
  const vals = Array.from({ length: 2 * 2 * L }, () => r(-100, 100));
  const p = new ProgBuilder(d);
  const uA = p.uops('uops', [{ dst_idx: 0, src_idx: 0, wgt_idx: 0 }]);
  const aA = p.data('acc', packLanes(vals, 32));
  const n = 4 * 3; // (1 + 2 + 1) x (0 + 2 + 1)
  const oA = p.output('out', n * d.elemBytes.out);
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: 1, x_stride: 1 });
  p.insn({ opcode: 'LOAD', memory_type: 'ACC', dram_base: aA / d.elemBytes.acc, y_size: 2, x_size: 2, x_stride: 2, x_pad_0: 1, x_pad_1: 1, y_pad_1: 1 });
  p.insn({ opcode: 'ALU', alu_opcode: 'SHR', use_imm: 1, imm: 0, uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: n, dst_factor_in: 1, push_next_dep: 1 });
  p.insn({ opcode: 'STORE', memory_type: 'OUT', dram_base: oA / d.elemBytes.out, y_size: 1, x_size: n, x_stride: n, pop_prev_dep: 1, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
  const res = runSync(p.build());
  assert.is(res.error, undefined, res.error?.message);
  const got = unpackLanes(res.dram.subarray(oA, oA + n * d.elemBytes.out), 8, n * L);
  const want: number[] = [];
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 4; x++) {
      for (let l = 0; l < L; l++) want.push(y < 2 && x >= 1 && x < 3 ? vals[(y * 2 + x - 1) * L + l] : 0);
    }
  }
  assert.equal(got, want);
});

test('GEMM reset_reg clears accumulators and leaves OUT unchanged; a loaded ACC alone does not reach OUT', () => {
  const d = loadConfig('default');
  const L = 16;
  const vals = Array.from({ length: 2 * L }, (_, i) => i + 1);
  const p = new ProgBuilder(d);
  const uA = p.uops('uops', [{ dst_idx: 0, src_idx: 0, wgt_idx: 0 }, { dst_idx: 1, src_idx: 0, wgt_idx: 0 }]);
  const aA = p.data('acc', packLanes(vals, 32));
  const oA = p.output('out', 3 * 16);
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: uA / 4, y_size: 1, x_size: 2, x_stride: 2 });
  p.insn({ opcode: 'LOAD', memory_type: 'ACC', dram_base: aA / 64, y_size: 1, x_size: 2, x_stride: 2 });
  // move ACC[0] to OUT[0] (ADD 0), then reset ACC[0..1]; then ACC[1] via ALU: should be 0 now
  p.insn({ opcode: 'ALU', alu_opcode: 'ADD', use_imm: 1, imm: 0, uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 1 });
  p.insn({ opcode: 'GEMM', reset_reg: 1, uop_bgn: 0, uop_end: 2, iter_out: 1, iter_in: 1 });
  p.insn({ opcode: 'ALU', alu_opcode: 'ADD', use_imm: 1, imm: 5, uop_bgn: 1, uop_end: 2, iter_out: 1, iter_in: 1, push_next_dep: 1 });
  p.insn({ opcode: 'STORE', memory_type: 'OUT', dram_base: oA / 16, y_size: 1, x_size: 3, x_stride: 3, pop_prev_dep: 1, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
  const res = runSync(p.build());
  assert.is(res.error, undefined, res.error?.message);
  const got = unpackLanes(res.dram.subarray(oA, oA + 48), 8, 48);
  assert.equal(got.slice(0, 16), vals.slice(0, 16), 'OUT[0] kept its value through the reset');
  assert.equal(got.slice(16, 32), Array(16).fill(5), 'ACC[1] was reset, then +5');
  assert.equal(got.slice(32), Array(16).fill(0), 'OUT[2] never written');
  assert.is(res.counters.gemm_uops, 2);
  assert.is(res.counters.fsim.gemm_counter, 0, 'fsim does not count reset micro-ops');
});

test('x_size = 0 LOAD and STORE are dependency-only no-ops', () => {
  const d = loadConfig('default');
  const p = new ProgBuilder(d);
  const oA = p.output('out', 16);
  p.data('junk', new Uint8Array(64).fill(7));
  p.insn({ opcode: 'LOAD', memory_type: 'INP', x_size: 0, push_next_dep: 1 });
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', x_size: 0, pop_prev_dep: 1, push_next_dep: 1 });
  p.insn({ opcode: 'STORE', memory_type: 'UOP', dram_base: oA / 16, x_size: 0, y_size: 1, pop_prev_dep: 1, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH', pop_next_dep: 1 });
  const res = runSync(p.build());
  assert.is(res.error, undefined, res.error?.message);
  assert.equal(Array.from(res.dram.subarray(oA, oA + 16)), Array(16).fill(0));
  assert.equal(res.counters.bytes, { insn: 64, uop: 0, wgt: 0, inp: 0, acc: 0, out: 0 });
});

test.run();
