import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  HdlError, Module, add, cat, eq, lit, lt, mul, mux, printModule, reduceOr, sext, shl, shr, verilateAndRun, verilatorLint, zext,
} from '../hw/hdl/index.ts';
import { verilatorTest } from './helpers/tools.ts';

/** A small design touching every construct: ports, regs, memories, comb/seq processes, case, instance. */
function sample(): { top: Module; leaf: Module } {
  const leaf = new Module('mac8', ['signed 8x8 multiply-accumulate into 20 bits']);
  const a = leaf.input('a', 8);
  const b = leaf.input('b', 8);
  const acc = leaf.input('acc', 20);
  const y = leaf.output('y', 20);
  leaf.assign(y, add(acc, sext(mul(a, b, true), 20)));

  const top = new Module('sample_top', ['construction-layer sample']);
  const clk = top.input('clk');
  const rst = top.input('rst');
  const we = top.input('we');
  const addr = top.input('addr', 4);
  const din = top.input('din', 8);
  const op = top.input('op', 2);
  const q = top.output('q', 20);
  const flag = top.output('flag');
  const mem = top.memory('ram', 8, 16, { noRwCheck: true, blockRam: true });
  const rd = top.reg('rd', 8, 'registered read');
  const accReg = top.reg('acc_q', 20);
  const sum = top.wire('sum', 20);
  const sel = top.reg('sel', 8);
  top.seq(clk, (s) => {
    s.if(we, (t) => t.write(mem, addr, din));
    s.set(rd, mem.read(addr));
    s.if(rst, (t) => t.set(accReg, lit(20, 0)), (e) => e.set(accReg, sum));
  });
  top.comb((c) => {
    c.set(sel, rd);
    c.switch(op, [
      [0, (x) => x.set(sel, din)],
      [[1, 2], (x) => x.set(sel, shr(rd, lit(3, 1), true))],
    ]);
  });
  top.instance(leaf, 'u_mac', { a: sel, b: din, acc: accReg, y: sum });
  top.assign(q, accReg);
  top.assign(flag, mux(lt(sel, din, true), reduceOr(cat(accReg.slice(19, 16), zext(eq(op, lit(2, 3)), 4))), lit(1, 0)));
  return { top, leaf };
}

verilatorTest('printing is deterministic and the sample lints clean under verilator -Wall', async () => {
  const { top, leaf } = sample();
  const text = { 'mac8.v': printModule(leaf), 'sample_top.v': printModule(top) };
  assert.is(printModule(sample().top), text['sample_top.v']);
  assert.match(text['sample_top.v'], '(* no_rw_check *) (* ram_style = "block" *) reg  [7:0] ram [0:15];');
  assert.match(text['sample_top.v'], 'always @(posedge clk) begin');
  const r = await verilatorLint(text, 'sample_top');
  assert.ok(r.ok, r.messages.join('\n'));
});

test('width mismatches, latches, double drivers and undriven outputs are caught when built', () => {
  const m = new Module('bad');
  const a = m.input('a', 4);
  const b = m.input('b', 5);
  const o = m.output('o', 4);
  const r = m.reg('r', 4);
  assert.throws(() => add(a, b), (e: Error) => e instanceof HdlError && /widths differ/.test(e.message));
  assert.throws(() => m.assign(o, b), /5-bit value into 4 bits/);
  assert.throws(() => m.comb((c) => c.if(eq(a, a), (t) => t.set(r, a))), /latch/);
  m.assign(o, a);
  assert.throws(() => m.assign(o, a), /two drivers/);
  assert.throws(() => m.assign(a, a), /input a cannot be assigned/);
  assert.throws(() => printModule(m), /nothing drives r/);
  assert.throws(() => lit(3, 9), /does not fit in 3 bits/);
  assert.throws(() => lit(0, 0), /width 0 must be a positive integer/);
});

verilatorTest('a compound expression sliced twice gets one temporary wire and lints clean', async () => {
  const m = new Module('twice');
  const a = m.input('a', 8);
  const b = m.input('b', 8);
  const y = m.output('y', 2);
  const s = add(a, b);
  m.assign(y, cat(s.bit(7), s.bit(0)));
  const text = printModule(m);
  assert.is(text.match(/wire \[7:0\] _t\d+_unused =/g)?.length, 1);
  const r = await verilatorLint({ 'twice.v': text }, 'twice');
  assert.ok(r.ok, r.messages.join('\n'));
});

verilatorTest('an arithmetic shift stays arithmetic inside a mux with an unsigned branch (simulated)', async () => {
  const m = new Module('sra_mux');
  const a = m.input('a', 8);
  const n = m.input('n', 3);
  const left = m.input('left');
  const y = m.output('y', 8);
  m.assign(y, mux(left, shl(a, n), shr(a, n, true)));
  const tb = [
    'module tb;',
    '  reg [7:0] a; reg [2:0] n; reg left; wire [7:0] y;',
    '  sra_mux dut (.a(a), .n(n), .left(left), .y(y));',
    "  initial begin a = 8'hf0; n = 3'd2; left = 1'b0; #1 $display(\"%h\", y); left = 1'b1; #1 $display(\"%h\", y); $finish; end",
    'endmodule',
  ].join('\n');
  const out = await verilateAndRun({ 'sra_mux.v': printModule(m), 'tb.sv': tb + '\n' }, 'tb');
  assert.equal(out.split('\n').filter((l) => /^[0-9a-f]+$/.test(l.trim())), ['fc', 'c0']);
});

test.run();
