/**
 * The target-neutral layer of the compiler: expressions (simplifier, linear forms, intervals),
 * tensor expressions, schedules, lowering with bound inference, the printer and the reference
 * interpreter.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  add, cast, constBounds, div, evaluate, exprKey, int, intervalOf, mod, mul, ref, shr, simplify, sub, Var, wrapTo,
  type Expr,
} from '../compiler/ir/expr.ts';
import { Interpreter } from '../compiler/ir/interp.ts';
import { printExpr, printStmt } from '../compiler/ir/printer.ts';
import { visitStmt, type Stmt } from '../compiler/ir/stmt.ts';
import { lower } from '../compiler/te/lower.ts';
import { createSchedule } from '../compiler/te/schedule.ts';
import { compute, placeholder, reduceAxis, sum, type Tensor } from '../compiler/te/tensor.ts';
import { CompileError } from '../compiler/errors.ts';

const x = new Var('x');
const y = new Var('y');
const X = ref(x);
const Y = ref(y);

test('simplify: affine sums are canonical, constants fold', () => {
  assert.is(exprKey(simplify(add(add(X, 3), sub(mul(2, X), 3)))), exprKey(simplify(mul(X, 3))));
  assert.is(printExpr(simplify(sub(add(X, Y), X))), 'y');
  const c = simplify(add(mul(int(4), int(5)), 2));
  assert.equal(c.k === 'int' && c.value, 22);
});

test('simplify: floordiv / floormod by constants use the linear form and ranges', () => {
  // (8x + 5) // 8 = x, (8x + 5) % 8 = 5 exactly
  assert.is(printExpr(simplify(div(add(mul(X, 8), 5), 8))), 'x');
  assert.is(printExpr(simplify(mod(add(mul(X, 8), 5), 8))), '5');
  // (4x + y) // 8 with 0 <= y < 4 is x // 2
  const r = new Map([[y, [0, 3] as const]]);
  assert.is(printExpr(simplify(div(add(mul(X, 4), Y), 8), r)), '(x // 2)');
  // (8x + y) % 8 with y in [0, 7] is y
  assert.is(printExpr(simplify(mod(add(mul(X, 8), Y), 8), new Map([[y, [0, 7] as const]]))), 'y');
  // no range for y: stays a floordiv
  assert.match(printExpr(simplify(div(add(mul(X, 8), Y), 8))), '//');
  // (6x + 3t + i) // 12 with 0 <= i < 3 is (2x + t) // 4 (a group index of a tile split by threads);
  // the same values for every x, t, i
  const t = new Var('t');
  const i = new Var('i');
  const e = div(add(add(mul(X, 6), mul(ref(t), 3)), ref(i)), 12);
  const s = simplify(e, new Map([[i, [0, 2] as const]]));
  assert.is(printExpr(s), '(((2 * x) + t) // 4)');
  for (let xv = -3; xv < 5; xv++) for (let tv = 0; tv < 3; tv++) for (let iv = 0; iv < 3; iv++) {
    const env = new Map([[x, xv], [t, tv], [i, iv]]);
    assert.is(evaluate(s, env), evaluate(e, env));
  }
});

test('evaluate: values wrap to their dtype; shifts clamp to the width', () => {
  const env = new Map<Var, number>([[x, 100]]);
  const e = add(cast('int8', X), int(100, 'int8'));
  assert.is(evaluate(e, env), wrapTo(200, 'int8'));
  assert.is(evaluate(e, env), -56);
  assert.is(evaluate(shr(int(-1000, 'int32'), int(3, 'int32')), env), Math.floor(-1000 / 8));
  assert.is(evaluate(shr(int(-5, 'int8'), int(20, 'int8')), env), -1); // clamped to 7
  assert.is(evaluate(shr(int(3, 'int32'), int(-2, 'int32')), env), 12); // negative amount shifts left
});

test('intervals: affine, floordiv and bounds of expressions', () => {
  const env = new Map([[y, { lo: int(0), hi: int(6) }]]);
  const iv = intervalOf(add(mul(X, 7), Y), env);
  assert.is(printExpr(iv.lo), '(7 * x)');
  assert.is(printExpr(simplify(sub(iv.hi, iv.lo))), '6');
  const iv2 = intervalOf(div(add(mul(X, 8), Y), 8), env);
  assert.is(printExpr(iv2.lo), 'x');
  assert.is(printExpr(iv2.hi), 'x');
  assert.equal(constBounds(add(mul(Y, 2), 1), new Map([[y, [0, 6] as const]])), [1, 13]);
  assert.throws(() => intervalOf(mul(X, Y), new Map([[x, { lo: int(0), hi: int(3) }], [y, { lo: int(0), hi: int(3) }]])), /cannot bound/);
});

function matmul(m: number, n: number, k: number) {
  const A = placeholder([m, k], 'int8', 'A');
  const B = placeholder([n, k], 'int8', 'B');
  const rk = reduceAxis(k, 'rk');
  const C = compute([m, n], (i, j) => sum(mul(cast('int32', A.at(i, rk.e)), cast('int32', B.at(j, rk.e))), [rk]), 'C', ['i', 'j']);
  const D = compute([m, n], (i, j) => cast('int8', shr(C.at(i, j), int(2, 'int32'))), 'D', ['di', 'dj']);
  return { A, B, C, D, rk };
}

function runMatmul(f: ReturnType<typeof lower>, A: Tensor, B: Tensor, D: Tensor, m: number, n: number, k: number) {
  const a = Array.from({ length: m * k }, (_, i) => ((i * 37) % 255) - 127);
  const b = Array.from({ length: n * k }, (_, i) => ((i * 91) % 251) - 125);
  const it = new Interpreter();
  it.bind(f.bufferOf.get(A)!, a);
  it.bind(f.bufferOf.get(B)!, b);
  it.run(f.body);
  const want: number[] = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q] * b[j * k + q];
      want.push(wrapTo(Math.floor(s / 4), 'int8'));
    }
  return { got: [...it.get(f.bufferOf.get(D)!)], want };
}

test('lower + interpret: a plain schedule computes the definition', () => {
  const { A, B, D } = matmul(5, 3, 7);
  const f = lower(createSchedule(D));
  const { got, want } = runMatmul(f, A, B, D, 5, 3, 7);
  assert.equal(got, want);
});

test('split, reorder, fuse, compute_at, cache_read: same result, tile-sized buffers', () => {
  const { A, B, C, D, rk } = matmul(8, 6, 10);
  const s = createSchedule(D);
  const sd = s.stage(D);
  const [io, ii] = sd.split(sd.axis[0], 4);
  const [jo, ji] = sd.split(sd.axis[1], 3);
  sd.reorder(io, jo, ii, ji);
  const sc = s.stage(C);
  sc.setScope('acc');
  sc.computeAt(sd, jo);
  const [ko, ki] = sc.split(rk, 5);
  const [ci, cj] = sc.axis;
  sc.reorder(ko, ci, cj, ki);
  const AL = s.cacheRead(A, 'inp', [C]);
  s.stage(AL).computeAt(sc, ko);
  const f = lower(s);
  const { got, want } = runMatmul(f, A, B, D, 8, 6, 10);
  assert.equal(got, want);
  // Bound inference: C holds one 4x3 tile, A.inp one 4x5 chunk.
  assert.equal(f.bufferOf.get(C)!.shape, [4, 3]);
  assert.equal(f.bufferOf.get(AL)!.shape, [4, 5]);
  assert.is(f.bufferOf.get(AL)!.scope, 'inp');
  // The init of the reduction sits before the ko loop.
  const text = printStmt(f.body);
  assert.ok(text.indexOf('C[') < text.indexOf('for (rk.o'), text);
  // fuse on another schedule
  const s2 = createSchedule(matmul(4, 4, 4).D);
  const st = s2.stage(s2.outputs[0]);
  const fz = st.fuse(st.axis[0], st.axis[1]);
  assert.is(fz.extent, 16);
  assert.is(st.leaf.length, 1);
});

test('fused axes and cache_write lower correctly', () => {
  const { A, B, C, D } = matmul(4, 6, 3);
  const s = createSchedule(D);
  const sd = s.stage(D);
  const f1 = sd.fuse(sd.axis[0], sd.axis[1]);
  const [o, i] = sd.split(f1, 8);
  void o;
  void i;
  const CW = s.cacheWrite(C, 'acc');
  assert.is(s.stage(CW).scope, 'acc');
  const f = lower(s);
  const { got, want } = runMatmul(f, A, B, D, 4, 6, 3);
  assert.equal(got, want);
});

test('schedule errors are one-line CompileErrors', () => {
  const { D, C } = matmul(6, 4, 4);
  const s = createSchedule(D);
  const sd = s.stage(D);
  assert.throws(() => sd.split(sd.axis[0], 4), (e: unknown) => e instanceof CompileError && /leaves a remainder/.test((e as Error).message));
  assert.throws(() => s.stage(C).computeAt(sd, s.stage(C).axis[0]), /not a leaf axis/);
  assert.throws(() => sd.fuse(sd.axis[1], sd.axis[0]), /must come right after/);
  assert.throws(() => compute([2], () => int(1), 'bad'), /needs a value type/);
});

test('printer: loops, allocations with scopes, pragmas', () => {
  const { D, C } = matmul(4, 4, 4);
  const s = createSchedule(D);
  const sd = s.stage(D);
  const sc = s.stage(C);
  sc.setScope('acc');
  sc.computeAt(sd, sd.axis[0]);
  sd.pragma(sd.axis[1], 'dma_copy');
  const text = printStmt(lower(s).body);
  assert.match(text, 'allocate C[int32 * 1x4] in local.acc_buffer');
  assert.match(text, '// attr pragma = dma_copy');
  assert.match(text, /for \(di, 0, 4\) \{/);
});

test('interpreter: VTA intrinsics (padded 2-D load, GEMM, ALU)', async () => {
  const { Buffer } = await import('../compiler/ir/buffer.ts');
  const g = { batch: 1, blockIn: 2, blockOut: 2 };
  const dram = new Buffer('d', [3, 2, 2], 'int8');
  const inp = new Buffer('i', [5, 4, 2], 'int8', 'inp');
  const it = new Interpreter(g);
  it.bind(dram, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const e = (v: number): Expr => int(v);
  const load: Stmt = { k: 'dma', dir: 'load', mem: 'INP', sram: inp, sramElem: e(0), dram, dramElem: e(0), xSize: e(2), ySize: e(3), xStride: e(2), xPad0: e(1), yPad0: e(1), xPad1: e(1), yPad1: e(1) };
  it.run(load);
  const v = [...it.get(inp)];
  assert.equal(v.slice(0, 8), [0, 0, 0, 0, 0, 0, 0, 0]); // top pad row
  assert.equal(v.slice(8, 16), [0, 0, 1, 2, 3, 4, 0, 0]); // first data row with x pads
  assert.equal(v.slice(32), [0, 0, 0, 0, 0, 0, 0, 0]);
  const acc = new Buffer('a', [2, 2], 'int32', 'acc');
  const wgt = new Buffer('w', [2, 2], 'int8', 'wgt');
  it.bind(wgt, [1, 0, 0, -1]);
  it.run({ k: 'gemm', reset: true, acc, accElem: e(0) });
  it.run({ k: 'gemm', reset: false, acc, accElem: e(0), inp, inpElem: e(5), wgt, wgtElem: e(0) });
  assert.equal([...it.get(acc)].slice(0, 2), [1, -2]);
  it.run({ k: 'alu', op: 'SHR', dst: acc, dstElem: e(0), imm: -3 });
  assert.equal([...it.get(acc)].slice(0, 2), [8, -16]);
  let gemms = 0;
  visitStmt(load, () => {
    gemms++;
  });
  assert.is(gemms, 1);
});

test.run();
