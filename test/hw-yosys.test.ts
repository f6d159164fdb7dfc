import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Module, add, lit, printModule } from '../hw/hdl/index.ts';
import { yosysCheck } from '../hw/yosys.ts';
import { VtwError } from '../src/errors.ts';

test('yosys (WASM) elaborates a generated module and passes proc; opt; check -assert', async () => {
  const m = new Module('counter8');
  const clk = m.input('clk');
  const q = m.output('q', 8);
  const r = m.reg('r', 8);
  m.seq(clk, (b) => b.set(r, add(r, lit(8, 1))));
  m.assign(q, r);
  const log = await yosysCheck({ 'counter8.v': printModule(m) }, 'counter8');
  assert.not.match(log, /ERROR/);
});

test('the check fails on a latch and on two drivers (hand-written Verilog, not generated)', async () => {
  const latch = 'module l(input e, input d, output reg q); always @(*) if (e) q = d; endmodule\n';
  const rejects = async (files: Record<string, string>, top: string, re: RegExp) => {
    try {
      await yosysCheck(files, top);
    } catch (e) {
      assert.instance(e, VtwError);
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`${top} passed the check`);
  };
  await rejects({ 'l.v': latch }, 'l', /latch/i);
  const multi = 'module m2(input a, input b, output y); assign y = a; assign y = b; endmodule\n';
  await rejects({ 'm2.v': multi }, 'm2', /driver|conflict|check/i);
});

test.run();
