import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Module, ice40CellsSim, printModule, verilateAndRun, verilatorLint } from '../hw/hdl/index.ts';
import { checkDspBudget, controlMulPlan, products, type MulCtx } from '../hw/lib/mult.ts';
import { generateDesign } from '../hw/gen.ts';
import { deriveConfig, loadConfig } from '../src/config/index.ts';
import { VtwError } from '../src/errors.ts';
import { arrayModule, check } from './helpers/mult.ts';
import { verilatorTest } from './helpers/tools.ts';

verilatorTest('generic multipliers: signed and unsigned products in Verilator match BigInt', async () => {
  await check({ target: 'generic', dspBudget: null }, true, 8, 8);
  await check({ target: 'generic', dspBudget: null }, false, 4, 8);
});

verilatorTest('iCE40 SB_MAC16 in 8x8 mode (two products per DSP) matches BigInt, with yosys cell models', async () => {
  await check({ target: 'ice40', dspBudget: 2 }, true, 8, 8);
  await check({ target: 'ice40', dspBudget: 4 }, true, 4, 2);
});

verilatorTest('iCE40 SB_MAC16 in 16x16 mode (one unsigned product per DSP, the fetch decode\'s) matches BigInt', async () => {
  await check({ target: 'ice40', dspBudget: 4 }, false, 11, 16);
});

verilatorTest('signed x unsigned products (the ALU shift\'s) match BigInt: generic, SB_MAC16 16x16 and 8x8', async () => {
  await check({ target: 'generic', dspBudget: null }, 'a', 16, 16);
  await check({ target: 'ice40', dspBudget: 4 }, 'a', 16, 16);
  await check({ target: 'ice40', dspBudget: 2 }, 'a', 8, 8);
});

verilatorTest('iCE40 LUT multiplier (DSP_BUDGET 0): every signed and unsigned 8x8 product, exhaustively', async () => {
  const ctx: MulCtx = { target: 'ice40', dspBudget: 0 };
  const m = new Module('mul_both');
  const a = m.input('a', 8);
  const b = m.input('b', 8);
  m.assign(m.output('ps', 16), products(m, 'ms', [{ a, b }], true, ctx)[0]);
  m.assign(m.output('pu', 16), products(m, 'mu', [{ a, b }], false, ctx)[0]);
  const text = printModule(m);
  assert.not.match(text, / \* /, 'no `*` operator: the rows are adds');
  const tb = [
    'module tb;',
    '  reg [7:0] a; reg [7:0] b; wire [15:0] ps, pu; integer i, j;',
    '  mul_both dut (.a(a), .b(b), .ps(ps), .pu(pu));',
    '  initial begin',
    '    for (i = 0; i < 256; i = i + 1) for (j = 0; j < 256; j = j + 1) begin a = i[7:0]; b = j[7:0]; #1 $display("%h %h", ps, pu); end',
    '    $finish;',
    '  end',
    'endmodule',
  ].join('\n') + '\n';
  const out = await verilateAndRun({ 'mul_both.v': text, 'tb.sv': tb }, 'tb');
  const got = out.split('\n').filter((l) => /^[0-9a-f]{4} [0-9a-f]{4}$/.test(l.trim())).map((l) => l.trim().split(' '));
  assert.is(got.length, 65536);
  const sx = (v: number) => BigInt(v >= 128 ? v - 256 : v);
  let bad = 0;
  let first = '';
  for (let i = 0; i < 256; i++) {
    for (let j = 0; j < 256; j++) {
      const [ps, pu] = got[i * 256 + j].map((h) => BigInt('0x' + h));
      const ws = BigInt.asUintN(16, sx(i) * sx(j));
      const wu = BigInt(i * j);
      if (ps !== ws || pu !== wu) {
        if (!bad) first = `${i} x ${j}: got ${ps.toString(16)} / ${pu.toString(16)}, want ${ws.toString(16)} / ${wu.toString(16)}`;
        bad++;
      }
    }
  }
  assert.is(bad, 0, `${bad} wrong products, first ${first}`);
});

test('control products go on DSPs only where the GEMM array leaves two (or four); the manifest counts them', () => {
  const ice = (b: number) => ({ target: 'ice40' as const, dspBudget: b });
  assert.equal(controlMulPlan(ice(8), 2, 11), { ctx: ice(4), dsps: 4 });
  assert.equal(controlMulPlan(ice(8), 5, 11), { ctx: ice(2), dsps: 2 }); // 3 spare: the first tier
  assert.equal(controlMulPlan(ice(8), 7, 11).dsps, 0);
  assert.equal(controlMulPlan(ice(8), 2, 17).dsps, 0); // operands past 16 bits
  assert.equal(controlMulPlan({ target: 'generic', dspBudget: 8 }, 0, 11).dsps, 0);
  const keys = { TARGET: 'ice40', LOG_BLOCK: 1, DSP_BUDGET: 8, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 9, LOG_ACC_BUFF_SIZE: 10 };
  const spare = generateDesign(deriveConfig(keys), 'ice40');
  assert.is(spare.manifest.resources.dsps, 6); // 4 GEMM products in 2 DSPs + 4 for the decode
  assert.is((Object.values(spare.files).join('').match(/SB_MAC16 #\(/g) ?? []).length, 6);
  assert.is(generateDesign(deriveConfig({ ...keys, DSP_BUDGET: 5 }), 'ice40').manifest.resources.dsps, 4); // 2 + 2
  // up5k-1x2: GEMM 2; decode 3 (its 8-bit operands put W x y_pad_0 and x_size x y_size in one); ALU shifts 2
  const up = generateDesign(loadConfig('up5k-1x2'), 'ice40');
  assert.is(up.manifest.resources.dsps, 7);
  assert.is((Object.values(up.files).join('').match(/SB_MAC16 #\(/g) ?? []).length, 7);
  assert.is(generateDesign(loadConfig('ice40-small'), 'ice40').manifest.resources.dsps, 8); // 16 products fill the budget
  assert.is(generateDesign(deriveConfig({ ...keys, DSP_BUDGET: 3 }), 'ice40').manifest.resources.dsps, 2);
});

verilatorTest('iCE40 multiplier array lints clean against the cell library', async () => {
  const m = arrayModule(4, 8, 8, true, { target: 'ice40', dspBudget: 2 });
  const text = printModule(m);
  assert.match(text, 'SB_MAC16 #(');
  assert.match(text, ".MODE_8x8(1'd1)");
  const r = await verilatorLint({ 'mul_array.v': text }, 'mul_array', [ice40CellsSim()]);
  assert.ok(r.ok, r.messages.join('\n'));
});

test('a DSP budget too small for the array is one clear error', () => {
  assert.throws(() => checkDspBudget({ target: 'ice40', dspBudget: 8 }, 64, 8, 8, 'reduce LOG_BLOCK'), (e: Error) =>
    e instanceof VtwError && /needs 64 multipliers = 32 SB_MAC16.*DSP_BUDGET = 8.*raise DSP_BUDGET to 32/.test(e.message));
  checkDspBudget({ target: 'ice40', dspBudget: 8 }, 16, 8, 8, '');
  checkDspBudget({ target: 'generic', dspBudget: 1 }, 1024, 8, 8, '');
});

test.run();
