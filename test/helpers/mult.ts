/**
 * Products through hw/lib/mult.ts in Verilator against BigInt: an array of N products per module,
 * 40 random vectors (the first the extremes). Shared by test/hw-mult.test.ts and the slow tier.
 */
import * as assert from 'uvu/assert';
import { Module, cat, ice40CellsSim, printModule, verilateAndRun } from '../../hw/hdl/index.ts';
import { products, type MulCtx } from '../../hw/lib/mult.ts';
import { Rng } from '../../src/util/rng.ts';

/** N products of `aw` x `bw`-bit operands through hw/lib/mult.ts, packed LSB-first into one port. */
export function arrayModule(n: number, aw: number, bw: number, signed: boolean | 'a', ctx: MulCtx): Module {
  const m = new Module('mul_array');
  const a = m.input('a', n * aw);
  const b = m.input('b', n * bw);
  const p = m.output('p', n * (aw + bw));
  const pairs = Array.from({ length: n }, (_, i) => ({ a: a.slice(i * aw + aw - 1, i * aw), b: b.slice(i * bw + bw - 1, i * bw) }));
  m.assign(p, cat(...products(m, 'mul', pairs, signed, ctx).reverse()));
  return m;
}

/** Testbench: applies each vector of a.hex/b.hex and prints p in hex, one line per vector. */
function testbench(n: number, aw: number, bw: number, vectors: number, aHex: string[], bHex: string[]): string {
  const lines = [
    'module tb;',
    `  reg [${n * aw - 1}:0] a; reg [${n * bw - 1}:0] b; wire [${n * (aw + bw) - 1}:0] p;`,
    '  mul_array dut (.a(a), .b(b), .p(p));',
    `  reg [${n * aw - 1}:0] av [0:${vectors - 1}]; reg [${n * bw - 1}:0] bv [0:${vectors - 1}];`,
    '  integer i;',
    '  initial begin',
    ...aHex.map((h, i) => `    av[${i}] = ${n * aw}'h${h}; bv[${i}] = ${n * bw}'h${bHex[i]};`),
    `    for (i = 0; i < ${vectors}; i = i + 1) begin a = av[i]; b = bv[i]; #1 $display("%h", p); end`,
    '    $finish;',
    '  end',
    'endmodule',
  ];
  return lines.join('\n') + '\n';
}

const toHex = (vals: bigint[], w: number) => vals.reduce((acc, v, i) => acc | ((v & ((1n << BigInt(w)) - 1n)) << BigInt(i * w)), 0n).toString(16);

export async function check(ctx: MulCtx, signed: boolean | 'a', aw: number, bw: number) {
  const n = 4;
  const rng = new Rng(aw * 100 + bw + (signed === true ? 7 : signed ? 3 : 0));
  const sa = signed !== false;
  const sb = signed === true;
  const vectors = 40;
  const A: bigint[][] = [];
  const B: bigint[][] = [];
  for (let v = 0; v < vectors; v++) {
    const r = (w: number, s: boolean) => BigInt(s ? rng.int(-(2 ** (w - 1)), 2 ** (w - 1) - 1) : rng.int(0, 2 ** w - 1));
    A.push(Array.from({ length: n }, () => r(aw, sa)));
    B.push(Array.from({ length: n }, () => r(bw, sb)));
  }
  // Extremes: the most negative values multiply to the largest product.
  A[0] = A[0].map(() => (sa ? -(1n << BigInt(aw - 1)) : (1n << BigInt(aw)) - 1n));
  B[0] = B[0].map(() => (sb ? -(1n << BigInt(bw - 1)) : (1n << BigInt(bw)) - 1n));
  const m = arrayModule(n, aw, bw, signed, ctx);
  const libs = ctx.target === 'ice40' ? [ice40CellsSim()] : [];
  const out = await verilateAndRun(
    { 'mul_array.v': printModule(m), 'tb.sv': testbench(n, aw, bw, vectors, A.map((x) => toHex(x, aw)), B.map((x) => toHex(x, bw))) },
    'tb', { libraries: libs },
  );
  const got = out.split('\n').filter((l) => /^[0-9a-f]+$/.test(l.trim()));
  assert.is(got.length, vectors);
  for (let v = 0; v < vectors; v++) {
    const want = toHex(A[v].map((a, i) => a * B[v][i]), aw + bw).padStart((n * (aw + bw)) / 4, '0');
    assert.is(got[v].trim(), want, `vector ${v}`);
  }
}

