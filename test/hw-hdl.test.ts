import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  HdlError, Mb, Module, Signature, add, cat, connect, declarePorts, eq, lit, lt, mul, mux, portsOf, printModule, reduceOr, sext, shl, shr,
  verilateAndRun, verilatorLint, zext,
} from '../hw/hdl/index.ts';
import { verilatorTest } from './helpers/tools.ts';

/** `test/hw-hdl.test.ts:N`, N the line of this file carrying the marker comment `// @<tag>` (found in the text, not by the layer). */
const THIS_FILE = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
function at(tag: string): string {
  const n = THIS_FILE.findIndex((l) => l.trimEnd().endsWith(`// @${tag}`));
  if (n < 0) throw new Error(`no line marked @${tag}`);
  return `test/hw-hdl.test.ts:${n + 1}`;
}
/** The message of the error `f` throws (an HdlError). */
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof HdlError, `expected an HdlError, got ${e}`);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

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

test('hardware errors name the signal and the TypeScript line that built it', () => {
  const m = new Module('bad_sites');
  const a = m.input('a', 4); // @decl-a
  const b = m.input('b', 5); // @decl-b
  let msg = errorOf(() => add(a, b)); // @bad-add
  assert.match(msg, `a (4 bits, declared at ${at('decl-a')})`);
  assert.match(msg, `b (5 bits, declared at ${at('decl-b')})`);
  assert.ok(msg.endsWith(`(at ${at('bad-add')})`), msg);

  msg = errorOf(() => m.assign(a, lit(4, 1))); // @drive-input
  assert.match(msg, `input a cannot be assigned (declared at ${at('decl-a')})`);
  assert.ok(msg.endsWith(`(at ${at('drive-input')})`), msg);

  const lr = m.reg('lr', 4); // @decl-lr
  msg = errorOf(() => m.comb((c) => c.if(eq(a, a), (t) => t.set(lr, a)))); // @latch
  assert.match(msg, `lr (declared at ${at('decl-lr')}) is not assigned on every path`);
  assert.ok(msg.endsWith(`(at ${at('latch')})`), msg);
  m.comb((c) => c.set(lr, a));

  const o = m.output('o', 4);
  m.assign(o, a); // @first-driver
  msg = errorOf(() => m.assign(o, lit(4, 3))); // @second-driver
  assert.match(msg, /o has two drivers/);
  assert.match(msg, at('first-driver'));
  assert.ok(msg.endsWith(`(at ${at('second-driver')})`), msg);

  // Found when the module is checked (before printing): each offending signal with its own line.
  const x = m.wire('x', 4); // @decl-x
  const y = m.wire('y', 4);
  const z = m.wire('z', 4);
  m.assign(y, add(x, z)); // @loop-y
  m.assign(z, y); // @loop-z
  msg = errorOf(() => printModule(m));
  assert.match(msg, `nothing drives x (declared at ${at('decl-x')})`);
  m.assign(x, a);
  msg = errorOf(() => printModule(m));
  assert.match(msg, /combinational loop: /);
  assert.match(msg, `y (driven at ${at('loop-y')})`);
  assert.match(msg, `z (driven at ${at('loop-z')})`);
  assert.not.match(msg, /\bx \(/, 'x feeds the loop but is not part of it');

  // Through a combinational process: its targets depend on what they read and on the conditions
  // around their assignments.
  const cm = new Module('comb_loop');
  const en = cm.input('en');
  const p = cm.reg('p', 4);
  const q = cm.reg('q', 4);
  cm.comb((c) => { // @comb-proc
    c.set(p, lit(4, 0));
    c.set(q, lit(4, 1));
    c.if(eq(q, lit(4, 2)), (t) => t.set(p, lit(4, 3)));
    c.if(en, (t) => t.set(q, p));
  });
  const out = cm.output('out', 4);
  cm.assign(out, q);
  msg = errorOf(() => printModule(cm));
  assert.match(msg, /combinational loop: (p .* -> q|q .* -> p)/);
  assert.match(msg, `p (driven at ${at('comb-proc')})`);

  // A register through a clocked process breaks the path: no loop.
  const ok = new Module('no_loop');
  const clk = ok.input('clk');
  const r = ok.reg('r', 4);
  const n = ok.wire('n', 4);
  ok.assign(n, add(r, lit(4, 1)));
  ok.seq(clk, (s) => s.set(r, n));
  assert.match(printModule(ok), 'always @(posedge clk)');

  const mb = new Mb('bad_builder');
  mb.reg('count', 3); // @decl-count
  msg = errorOf(() => mb.finish());
  assert.match(msg, `register count (declared at ${at('decl-count')}) has no next value`);
});

/** A small request/response bus: the initiator drives req_* and wdata, the responder rdata and ack. */
const busSig = (dataBits: number) => new Signature('test bus', [
  ['req', 'out', 1],
  ['addr', 'out', 8],
  ['wdata', 'out', dataBits],
  ['ack', 'in', 1],
  ['rdata', 'in', dataBits],
]);

test('bundles: declared in signature order, flipped for the other side, connected in one call', async () => {
  const sig = busSig(16);
  assert.equal(sig.flip().members.map((m) => m.flow), ['in', 'in', 'in', 'out', 'out']);
  assert.equal(sig.flip().flip().members, sig.members);
  assert.equal(sig.only('rdata', 'req').members.map((m) => m.name), ['req', 'rdata'], 'a part keeps signature order');
  assert.equal(sig.without('wdata').members.map((m) => m.name), ['req', 'addr', 'ack', 'rdata']);

  // initiator: counts addresses and writes them; responder: a register file that echoes data back
  const init = new Mb('bus_init');
  const ib = declarePorts(init.m, sig, 'bus_').ports;
  assert.equal(init.m.ports().map((p) => `${p.kind} ${p.name} ${p.width}`), [
    'input clk 1', 'input rst 1', 'output bus_req 1', 'output bus_addr 8', 'output bus_wdata 16', 'input bus_ack 1', 'input bus_rdata 16',
  ]);
  const a = init.reg('a', 8);
  init.next(a, add(a, lit(8, 1)), ib.ack);
  init.drive(ib.req, lit(1, 1));
  init.drive(ib.addr, a);
  init.drive(ib.wdata, cat(a, a));
  const sum = init.reg('sum', 16);
  init.next(sum, add(sum, ib.rdata), ib.ack);
  init.output('total', sum);
  const initM = init.finish();

  const resp = new Mb('bus_resp');
  const rb = declarePorts(resp.m, sig.flip(), 'slave_').ports;
  const q = resp.reg('q', 16);
  resp.next(q, rb.wdata, rb.req);
  const ack = resp.reg('ack_q', 1);
  resp.next(ack, rb.req);
  resp.drive(rb.ack, ack);
  resp.drive(rb.rdata, q);
  resp.sink(rb.addr);
  const respM = resp.finish();

  const top = new Mb('bus_top');
  const iPorts = portsOf(initM, sig, 'bus_');
  const rPorts = portsOf(respM, sig.flip(), 'slave_');
  const conn = connect(top.m, iPorts, rPorts, 'b_');
  assert.equal(Object.values(conn.wires).map((w) => w.name), ['b_req', 'b_addr', 'b_wdata', 'b_ack', 'b_rdata']);
  const total = top.m.wire('total', 16);
  top.m.instance(initM, 'u_init', { clk: top.clk, rst: top.rst, ...conn.of(iPorts), total });
  top.m.instance(respM, 'u_resp', { clk: top.clk, rst: top.rst, ...conn.of(rPorts) });
  top.output('total_o', total);
  const topM = top.finish();
  const files = Object.fromEntries([initM, respM, topM].map((m) => [`${m.name}.v`, printModule(m)]));
  assert.match(files['bus_top.v'], '.slave_rdata(b_rdata)');
  assert.match(files['bus_top.v'], '.bus_rdata(b_rdata)');
  const r = await verilatorLint(files, 'bus_top');
  assert.ok(r.ok, r.messages.join('\n'));
});

test('bundles: mismatched widths, names and directions are refused with both sides named', () => {
  const mk = (name: string, sig: Signature, prefix: string) => {
    const m = new Module(name);
    const p = declarePorts(m, sig, prefix).ports;
    for (const mem of sig.members) if (mem.flow === 'out') m.assign(p[mem.name], lit(mem.width, 0));
    return m;
  };
  const init = mk('init16', busSig(16), 'bus_');
  const resp16 = mk('resp16', busSig(16).flip(), 's_');
  const resp32 = mk('resp32', busSig(32).flip(), 's_');
  const parent = new Module('parent');

  // width
  let msg = errorOf(() => connect(parent, portsOf(init, busSig(16), 'bus_'), portsOf(resp32, busSig(32).flip(), 's_'), 'w_')); // @bad-connect
  assert.match(msg, 'member wdata is 16 bits on init16 (bus_wdata) but 32 bits on resp32 (s_wdata)');
  assert.ok(msg.endsWith(`(at ${at('bad-connect')})`), msg);
  // direction: two initiators
  msg = errorOf(() => connect(parent, portsOf(init, busSig(16), 'bus_'), portsOf(init, busSig(16), 'bus_'), 'w_'));
  assert.match(msg, /both sides drive member req .*flip one signature/);
  // names: a member only one side has
  msg = errorOf(() => connect(parent, portsOf(init, busSig(16), 'bus_'), portsOf(resp16, busSig(16).flip().without('ack'), 's_'), 'w_'));
  assert.match(msg, 'resp16 has no member ack');
  // a module's ports checked against a signature: wrong direction, wrong width, missing port
  msg = errorOf(() => portsOf(resp16, busSig(16), 's_'));
  assert.match(msg, /resp16: port s_req \(declared at test\/hw-hdl\.test\.ts:\d+\) is an input; the test bus makes member req an output/);
  msg = errorOf(() => portsOf(resp16, busSig(8).flip(), 's_'));
  assert.match(msg, 'port s_wdata');
  assert.match(msg, 'is 16 bits; the test bus (flipped) makes member wdata 8 bits');
  msg = errorOf(() => portsOf(resp16, busSig(16).flip(), 'm_'));
  assert.match(msg, 'resp16 has no port m_req (member req of the test bus (flipped))');
  assert.match(errorOf(() => busSig(16).only('data')), 'test bus has no member data (members: req, addr, wdata, ack, rdata)');
  assert.match(errorOf(() => new Signature('twice', [['a', 'out', 1], ['a', 'in', 1]])), 'twice: member a appears twice');
  assert.is(parent.signals.length, 0, 'a refused connection creates no wires');
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
