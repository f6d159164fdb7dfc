/**
 * Unit tests of VTA generator pieces simulated in Verilator against TypeScript references written
 * here from the specification (vta-reference Part A.4, Part B §2.6; docs/microarch.md §3, §5):
 * the GEMM core (every lane-grouping case of GEMM_II, the iCE40 DSP path, dot truncation), the ALU
 * (every opcode, shift and wrap edges), the command FIFO and the dependency-token counters.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, type Derived } from '../src/config/derive.ts';
import { Rng } from '../src/util/rng.ts';
import { ice40CellsSim } from '../hw/hdl/index.ts';
import { aluModule } from '../hw/vta/alu.ts';
import { dotWidth, gemmModule } from '../hw/vta/gemm.ts';
import { REG_FIFO_MAX_DEPTH, fifoModule } from '../hw/vta/fifo.ts';
import { tokensModule } from '../hw/vta/tokens.ts';
import { packBig, runVectors, signed, unpackBig, unsigned, type Step } from './helpers/vtb.ts';
import { verilatorTest } from './helpers/tools.ts';

/** Small buffers, so that every shape below has a layout that fits 128 bits. */
const SMALL = { LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 10, LOG_WGT_BUFF_SIZE: 12, LOG_ACC_BUFF_SIZE: 11 };

// ---------------------------------------------------------------- ALU

function aluRef(op: number, a: bigint, b: bigint, W: number): bigint {
  const x = signed(a, W);
  const y = signed(b, W);
  switch (op) {
    case 0:
      return unsigned(x < y ? x : y, W);
    case 1:
      return unsigned(x > y ? x : y, W);
    case 2:
      return unsigned(x + y, W);
    case 3: {
      const cap = BigInt(W - 1);
      if (y >= 0n) return unsigned(x >> (y < cap ? y : cap), W);
      const n = -y < cap ? -y : cap;
      return unsigned(x << n, W);
    }
    default:
      return unsigned(x * y, W);
  }
}

async function aluCase(json: Record<string, unknown>, seed: number): Promise<void> {
  const d = deriveConfig({ ...SMALL, ...json });
  const W = d.accWidth;
  const N = d.batch * d.blockOut;
  const m = aluModule('alu_t', d).finish();
  const rng = new Rng(seed);
  const lo = -(2n ** BigInt(W - 1));
  const hi = 2n ** BigInt(W - 1) - 1n;
  const val = (): bigint => {
    const k = rng.int(0, 9);
    if (k === 0) return rng.pick([lo, hi, 0n, -1n, 1n]);
    if (k < 4) return BigInt(rng.int(-300, 300));
    return BigInt(rng.int(-(2 ** 30), 2 ** 30)) % (hi + 1n);
  };
  const shiftAmount = (): bigint => (rng.bool(0.1) ? rng.pick([lo, hi, BigInt(W), BigInt(-W)]) : BigInt(rng.int(-W - 3, W + 3)));
  const ops = d.aluMul ? [0, 1, 2, 3, 4] : [0, 1, 2, 3];
  const steps: Step[] = [];
  const expect: bigint[] = [];
  for (let v = 0; v < 80; v++) {
    const op = ops[v % ops.length];
    const xs = Array.from({ length: N }, val);
    const ys = Array.from({ length: N }, op === 3 ? shiftAmount : val);
    steps.push({ op, x: packBig(xs, W), y: packBig(ys, W) });
    expect.push(packBig(xs.map((x, i) => aluRef(op, x, ys[i], W)), W));
  }
  const rows = await runVectors([m], m, steps, ['r']);
  rows.forEach((r, i) => {
    if (r[0] !== expect[i]) {
      const got = unpackBig(r[0], W, N);
      const exp = unpackBig(expect[i], W, N);
      const lane = got.findIndex((g, k) => g !== exp[k]);
      const s = steps[i];
      assert.unreachable(
        `op ${s.op} lane ${lane}: x ${signed(unpackBig(BigInt(s.x), W, N)[lane], W)} y ${signed(unpackBig(BigInt(s.y), W, N)[lane], W)} -> ${signed(got[lane], W)}, expected ${signed(exp[lane], W)}`,
      );
    }
  });
}

verilatorTest('ALU: MIN/MAX/ADD/SHR/MUL on 32-bit lanes match the reference (wrap, shift clamps, negative shifts)', async () => {
  await aluCase({ LOG_BLOCK: 2, ALU_MUL: true }, 1);
});

verilatorTest('ALU: 16-bit accumulators, batch 2, without MUL', async () => {
  await aluCase({ LOG_BLOCK: 2, LOG_BATCH: 1, LOG_ACC_WIDTH: 4 }, 2);
});

// ---------------------------------------------------------------- GEMM core

async function gemmCase(json: Record<string, unknown>, target: 'generic' | 'ice40', seed: number): Promise<void> {
  const d: Derived = deriveConfig({ ...SMALL, ...json });
  const { batch: B, blockIn: BI, blockOut: BO, gemmII: II } = d;
  const dw = dotWidth(d);
  const m = gemmModule('gemm_t', d, { target, dspBudget: d.dspBudget }).finish();
  const rng = new Rng(seed);
  const vec = (w: number, n: number) =>
    Array.from({ length: n }, () => BigInt(rng.bool(0.15) ? rng.pick([-(2 ** (w - 1)), 2 ** (w - 1) - 1]) : rng.int(-(2 ** (w - 1)), 2 ** (w - 1) - 1)));
  const steps: Step[] = [];
  const expect: bigint[] = [];
  const vectors = 24;
  for (let v = 0; v < vectors; v++) {
    const inp = vec(d.inpWidth, B * BI);
    const wgt = vec(d.wgtWidth, BO * BI);
    for (let g = 0; g < II; g++) steps.push({ inp: packBig(inp, d.inpWidth), wgt: packBig(wgt, d.wgtWidth), gsel: g, en: 1 });
    const dots: bigint[] = [];
    for (let b = 0; b < B; b++) {
      for (let o = 0; o < BO; o++) {
        let s = 0n;
        for (let k = 0; k < BI; k++) s += inp[b * BI + k] * wgt[o * BI + k];
        dots.push(s);
      }
    }
    expect.push(packBig(dots, dw));
  }
  steps.push({ en: 0 });
  const rows = await runVectors([m], m, steps, ['dots'], { libraries: target === 'ice40' ? [ice40CellsSim()] : [] });
  for (let v = 0; v < vectors; v++) {
    const got = rows[(v + 1) * II][0];
    if (got !== expect[v]) {
      const lane = unpackBig(got, dw, B * BO).findIndex((x, i) => x !== unpackBig(expect[v], dw, B * BO)[i]);
      assert.unreachable(`vector ${v}, lane ${lane}: got ${signed(unpackBig(got, dw, B * BO)[lane], dw)}, expected ${signed(unpackBig(expect[v], dw, B * BO)[lane], dw)}`);
    }
  }
}

verilatorTest('GEMM core, GEMM_II 1: 2x8 . 8x8 int8 dot products', async () => {
  await gemmCase({ LOG_BATCH: 1, LOG_BLOCK: 3 }, 'generic', 3);
});

verilatorTest('GEMM core, GEMM_II 4 with groups narrower than a row (2x4, 2 lanes per cycle)', async () => {
  await gemmCase({ LOG_BATCH: 1, LOG_BLOCK: 2, GEMM_II: 4 }, 'generic', 4);
});

verilatorTest('GEMM core, GEMM_II 2 with groups of whole rows (4x2, 2 rows per cycle), 4-bit inputs, 2-bit weights', async () => {
  await gemmCase({ LOG_BATCH: 2, LOG_BLOCK: 1, GEMM_II: 2, LOG_INP_WIDTH: 2, LOG_WGT_WIDTH: 1 }, 'generic', 5);
});

verilatorTest('GEMM core, dots wider than the accumulator are kept modulo 2^ACC_WIDTH (8-bit accumulators)', async () => {
  await gemmCase({ LOG_BLOCK: 3, LOG_ACC_WIDTH: 3 }, 'generic', 6);
});

verilatorTest('GEMM core on iCE40 SB_MAC16 pairs (yosys cell models), ice40-small shape', async () => {
  await gemmCase({ TARGET: 'ice40', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 11, DSP_BUDGET: 8 }, 'ice40', 7);
});

// (the form of the products does not depend on GEMM_II, which the generic cases above cover)
verilatorTest('GEMM core on iCE40 LUT multipliers (DSP_BUDGET 0, shift-and-add rows), 1x4 with 16-bit dots (hx8k-1x4\'s)', async () => {
  await gemmCase({ TARGET: 'ice40', LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, DSP_BUDGET: 0 }, 'ice40', 8);
});

// ---------------------------------------------------------------- command FIFO

for (const depth of [16, 4, 2, 1]) verilatorTest(`command FIFO, depth ${depth}${depth <= REG_FIFO_MAX_DEPTH ? ' (registers)' : ''}: first word falls through one cycle after the push, occupancy as docs/microarch.md §3`, async () => {
  const width = 12;
  const m = fifoModule('fifo_t', width, depth, 'test').finish();
  const rng = new Rng(8);
  const model: number[] = [];
  const steps: Step[] = [];
  const expect: Array<{ valid: number; dout?: number; count: number; full: number }> = [];
  for (let i = 0; i < 400; i++) {
    // phases: fill up, drain, random
    const phase = Math.floor(i / 100);
    const pPush = phase === 0 ? 0.9 : phase === 1 ? 0.1 : 0.5;
    const pPop = phase === 0 ? 0.1 : phase === 1 ? 0.9 : 0.5;
    expect.push({ valid: model.length > 0 ? 1 : 0, dout: model[0], count: model.length, full: model.length === depth ? 1 : 0 });
    const push = model.length < depth && rng.bool(pPush) ? 1 : 0;
    const pop = model.length > 0 && rng.bool(pPop) ? 1 : 0;
    const din = rng.int(0, 2 ** width - 1);
    steps.push({ rst: i < 2 ? 1 : 0, push: i < 2 ? 0 : push, pop: i < 2 ? 0 : pop, din });
    if (i >= 2) {
      if (pop) model.shift();
      if (push) model.push(din);
    }
  }
  const rows = await runVectors([m], m, steps, ['valid', 'dout', 'count', 'full']);
  for (let i = 3; i < steps.length; i++) {
    const [valid, dout, count, full] = rows[i].map(Number);
    const e = expect[i];
    assert.is(valid, e.valid, `step ${i} valid`);
    assert.is(count, e.count, `step ${i} count`);
    assert.is(full, e.full, `step ${i} full`);
    if (e.valid) assert.is(dout, e.dout, `step ${i} head`);
  }
  assert.ok(expect.some((e) => e.full), 'the FIFO was filled');
});

// ---------------------------------------------------------------- token counters

verilatorTest('dependency-token counters: several pushes per cycle, a pop frees a slot from the next cycle', async () => {
  const m = tokensModule('tok_t').finish();
  const rng = new Rng(9);
  const names = ['l2g', 'g2l', 'g2s', 's2g'] as const;
  const model: Record<string, number> = { l2g: 0, g2l: 0, g2s: 0, s2g: 0 };
  const steps: Step[] = [];
  const expect: number[][] = [];
  for (let i = 0; i < 600; i++) {
    expect.push(names.map((n) => model[n]));
    const s: Step = { rst: i < 2 ? 1 : 0 };
    for (const n of names) {
      const multi = n === 'g2l' || n === 'g2s';
      // drift up in the first half (reaching the 255 limit), down in the second
      const up = i < 300 ? 0.8 : 0.2;
      let push = rng.bool(up) ? (multi ? rng.int(1, 3) : 1) : 0;
      if (model[n] + push > 255) push = 0;
      const pop = model[n] > 0 && rng.bool(1 - up) ? 1 : 0;
      s[`push_${n}`] = i < 2 ? 0 : push;
      s[`pop_${n}`] = i < 2 ? 0 : pop;
      if (i >= 2) model[n] += push - pop;
    }
    steps.push(s);
  }
  const rows = await runVectors([m], m, steps, names.map((n) => `${n}_count`));
  for (let i = 3; i < steps.length; i++) assert.equal(rows[i].map(Number), expect[i], `step ${i}`);
  assert.ok(expect.some((e) => e.includes(255)), 'a counter reached 255');
});

test.run();
