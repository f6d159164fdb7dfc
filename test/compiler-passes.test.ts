/**
 * The VTA passes, each on small IR: the reference interpreter must give the same result before
 * and after every pass, and each pass's output must have the expected shape (GEMM micro-ops,
 * ALU operations, padded DMA fields, hardware loops, thread copies, tokens).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/index.ts';
import { CompileError } from '../compiler/errors.ts';
import { Buffer } from '../compiler/ir/buffer.ts';
import { add, cast, int, load, mul, ref, select, and, ge, lt, shl, sub, Var, type Expr } from '../compiler/ir/expr.ts';
import { Interpreter } from '../compiler/ir/interp.ts';
import { printStmt } from '../compiler/ir/printer.ts';
import { loop, seq, visitStmt, type Stmt } from '../compiler/ir/stmt.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { compileMaxPool } from '../compiler/ops/elementwise.ts';
import { PASSES } from '../compiler/vta/build.ts';
import { lowerAlu, coalesceInplace } from '../compiler/vta/alu.ts';
import { allocateSram } from '../compiler/vta/check.ts';
import { injectDma } from '../compiler/vta/dma.ts';
import { insertDeps } from '../compiler/vta/deps.ts';
import { Emitter } from '../compiler/vta/emit.ts';
import { vtaTarget } from '../compiler/vta/env.ts';
import { foldUops } from '../compiler/vta/fold_uop.ts';
import { tensorize } from '../compiler/vta/tensorize.ts';
import { injectVirtualThreads } from '../compiler/vta/vthread.ts';
import { runSync } from '../sim/ts/engine.ts';

const d = loadConfig('default');
const t = vtaTarget(d);

function count(s: Stmt, k: Stmt['k']): number {
  let n = 0;
  visitStmt(s, (x) => {
    if (x.k === k) n++;
  });
  return n;
}

test('every pass keeps the meaning of a conv2d (interpreter before and after each pass)', () => {
  for (const [cfg, spec, knobs] of [
    ['default', { batch: 1, h: 5, w: 6, cin: 32, cout: 32, k: 3, pad: 1, stride: 1, groups: 1, shift: 4, bias: true, clip: [0, 127] }, { oc_nthread: 2 }],
    ['batch2-block8', { batch: 3, h: 5, w: 5, cin: 12, cout: 16, k: 3, pad: 1, stride: 2, groups: 1, shift: 3, bias: false, clip: [-3, 50] }, { h_nthread: 1 }],
  ] as const) {
    const dd = loadConfig(cfg);
    const inst = compileConv2d({ ...spec, clip: [...spec.clip] as [number, number] }, dd, { knobs });
    const ops = inst.operands(5);
    const want = ops.expected();
    for (const p of PASSES) {
      const it = new Interpreter(dd);
      for (const tdata of ops.tensors) if (tdata.values) it.bind(tdata.buf, tdata.values);
      it.run(inst.module.ir[p]);
      assert.equal([...ops.unpack(it.get(ops.output))], [...want], `${cfg} after ${p}`);
    }
  }
});

test('every pass keeps the meaning of dense, grouped conv2d, add and max-pool too', async () => {
  const { compileDense } = await import('../compiler/ops/dense.ts');
  const { compileAdd } = await import('../compiler/ops/elementwise.ts');
  const insts = [
    compileDense({ m: 3, k: 40, n: 20, shift: 2, bias: true, clip: [0, 127] }, d, { knobs: { oc_nthread: 2, tile_co: 1 } }),
    compileConv2d({ batch: 1, h: 4, w: 4, cin: 64, cout: 64, k: 3, pad: 1, stride: 1, groups: 4, shift: 3, bias: false, clip: [0, 127] }, d, { knobs: { tile_co: 2, tile_ci: 1 } }),
    compileAdd({ batch: 1, h: 3, w: 4, c: 24, clip: [-9, 9] }, d, { knobs: { oc_nthread: 2 } }),
    compileMaxPool({ batch: 1, h: 5, w: 6, c: 16, k: 3, pad: 1, stride: 2 }, d, { knobs: { h_nthread: 1 } }),
  ];
  for (const inst of insts) {
    const ops = inst.operands(4);
    const want = [...ops.expected()];
    for (const p of PASSES) {
      const it = new Interpreter(d);
      for (const tdata of ops.tensors) if (tdata.values) it.bind(tdata.buf, tdata.values);
      it.run(inst.module.ir[p]);
      assert.equal([...ops.unpack(it.get(ops.output))], want, `${inst.op} after ${p}`);
    }
  }
});

test('tensorize: the GEMM nest becomes micro-ops with element offsets; a wrong block is refused', () => {
  const inst = compileConv2d({ batch: 1, h: 4, w: 4, cin: 16, cout: 32, k: 3, pad: 1, stride: 1, groups: 1, shift: 0, bias: false }, d, { knobs: { oc_nthread: 1, h_nthread: 1 } });
  const s = inst.module.ir.tensorize;
  const gemms: Stmt[] = [];
  visitStmt(s, (x) => {
    if (x.k === 'gemm') gemms.push(x);
  });
  assert.is(gemms.filter((g) => g.k === 'gemm' && g.reset).length, 1);
  assert.is(gemms.filter((g) => g.k === 'gemm' && !g.reset).length, 1);
  assert.not.match(printStmt(s), 'tensorize');
  // A 2x2 "GEMM" on the default 1x16 block does not match the intrinsic.
  const acc = new Buffer('acc', [2, 2], 'int32', 'acc');
  const inp = new Buffer('inp', [2, 2], 'int8', 'inp');
  const wgt = new Buffer('wgt', [2, 2], 'int8', 'wgt');
  const [b, o, k] = [new Var('b'), new Var('o'), new Var('k')];
  const body: Stmt = { k: 'store', buf: acc, idx: [ref(b), ref(o)], value: add(load(acc, [b, o]), mul(cast('int32', load(inp, [b, k])), cast('int32', load(wgt, [o, k])))) };
  const nest: Stmt = { k: 'attr', key: 'tensorize', value: 'vta.gemm', body: loop(b, 2, loop(o, 2, loop(k, 2, body))) };
  assert.throws(() => tensorize(nest, t), (e: unknown) => e instanceof CompileError && /tensorize vta\.gemm/.test((e as Error).message));
});

test('ALU lowering: in-place merge, shift / clip / bias ops, SHL and subtraction forms', () => {
  const inst = compileConv2d({ batch: 1, h: 4, w: 4, cin: 16, cout: 16, k: 1, pad: 0, stride: 1, groups: 1, shift: 6, bias: true, clip: [-4, 90] }, d, { knobs: { oc_nthread: 1, h_nthread: 1 } });
  const s = inst.module.ir.alu;
  // conv, shr, bias_add, clip_hi, clip_lo merged into one accumulator buffer (+ the bias buffer).
  let accAllocs = 0;
  visitStmt(s, (x) => {
    if (x.k === 'alloc' && x.buf.scope === 'acc') accAllocs++;
  });
  assert.is(accAllocs, 2);
  const ops: string[] = [];
  visitStmt(s, (x) => {
    if (x.k === 'alu') ops.push(`${x.op}${x.src ? ' vec' : ` ${x.imm}`}`);
  });
  assert.equal(ops, ['SHR 6', 'ADD vec', 'MIN 90', 'MAX -4']);
  // shift left and subtract a constant lower to SHR by a negative amount and ADD of a negative.
  const A = new Buffer('A', [1, 16], 'int32', 'acc');
  const [bv, ov] = [new Var('b'), new Var('o')];
  const mk = (value: Expr): Stmt => ({ k: 'attr', key: 'pragma', value: 'alu', body: loop(bv, 1, loop(ov, 16, { k: 'store', buf: A, idx: [ref(bv), ref(ov)], value })) });
  const self = load(A, [bv, ov]);
  const low = lowerAlu(seq(mk(shl(self, int(3, 'int32'))), mk(sub(self, int(5, 'int32')))), t);
  const got: string[] = [];
  visitStmt(low, (x) => {
    if (x.k === 'alu') got.push(`${x.op} ${x.imm}`);
  });
  assert.equal(got, ['SHR -3', 'ADD -5']);
  assert.throws(() => lowerAlu(mk(add(self, int(40000, 'int32'))), t), /does not fit in 16 signed bits/);
  assert.throws(() => lowerAlu(mk(mul(self, int(3, 'int32'))), t), /no ALU MUL/);
  const B2 = new Buffer('B', [1, 16], 'int32', 'acc');
  assert.throws(() => lowerAlu(mk(add(load(B2, [bv, ov]), int(1, 'int32'))), t), /in place/);
});

test('ALU lowering: a constant store is materialized; max-pool gets conditional MAX micro-ops', () => {
  const A = new Buffer('A', [1, 16], 'int32', 'acc');
  const [bv, ov] = [new Var('b'), new Var('o')];
  const nest: Stmt = { k: 'attr', key: 'pragma', value: 'alu', body: loop(bv, 1, loop(ov, 16, { k: 'store', buf: A, idx: [ref(bv), ref(ov)], value: int(-(2 ** 31), 'int32') })) };
  const low = lowerAlu(nest, t);
  const it = new Interpreter(d);
  it.run(low);
  assert.ok([...it.get(A)].every((v) => v === -(2 ** 31)));
  assert.is(count(low, 'gemm'), 1);
  const pool = compileMaxPool({ batch: 1, h: 5, w: 5, c: 16, k: 3, pad: 1, stride: 2 }, d);
  let conds = 0;
  visitStmt(pool.module.ir.alu, (x) => {
    if (x.k === 'if' && x.then.k === 'alu' && x.then.op === 'MAX') conds++;
  });
  assert.is(conds, 1);
});

test('in-place merge needs the source to be dead afterwards', () => {
  const X = new Buffer('X', [1, 16], 'int32', 'acc');
  const Y = new Buffer('Y', [1, 16], 'int32', 'acc');
  const Z = new Buffer('Z', [1, 16], 'int32', 'acc');
  const [bv, ov] = [new Var('b'), new Var('o')];
  const st = (buf: Buffer, value: Expr): Stmt => loop(bv, 1, loop(ov, 16, { k: 'store', buf, idx: [ref(bv), ref(ov)], value }));
  const prog = (reuse: boolean): Stmt => ({
    k: 'alloc', buf: Y, body: { k: 'alloc', buf: X, body: { k: 'alloc', buf: Z, body: seq(
      st(Y, int(3, 'int32')),
      st(X, add(load(Y, [bv, ov]), int(1, 'int32'))),
      st(Z, reuse ? add(load(Y, [bv, ov]), int(2, 'int32')) : add(load(X, [bv, ov]), int(2, 'int32'))),
    ) } },
  });
  const allocs = (s: Stmt) => count(s, 'alloc');
  assert.is(allocs(coalesceInplace(prog(false))), 1); // Y <- X <- Z all in place
  assert.is(allocs(coalesceInplace(prog(true))), 2); // Y is read after X is computed: X stays
});

test('DMA inference: padded loads with run-time pad counts, merged contiguous rows, stores', () => {
  const src = new Buffer('data', [1, 4, 5, 1, 16], 'int8');
  const dst = new Buffer('tile', [1, 4, 4, 1, 16], 'int8', 'inp');
  const [c, r, xx, b, i] = ['c', 'r', 'x', 'b', 'i'].map((n) => new Var(n));
  const yo = new Var('yo');
  const yy = add(sub(add(mul(ref(yo), 2), ref(r)), 1), 0);
  const xs = sub(ref(xx), 1);
  const value = select(and(ge(yy, 0), lt(yy, 4), ge(xs, 0), lt(xs, 5)), load(src, [0, yy, xs, b, i]), int(0, 'int8'));
  const copy: Stmt = { k: 'attr', key: 'pragma', value: 'dma_copy', body: loop(c, 1, loop(r, 4, loop(xx, 4, loop(b, 1, loop(i, 16, { k: 'store', buf: dst, idx: [ref(c), ref(r), ref(xx), ref(b), ref(i)], value }))))) };
  const prog = loop(yo, 2, copy);
  const lowered = injectDma(prog, t);
  assert.is(count(lowered, 'dma'), 1);
  assert.is(count(lowered, 'task'), 1);
  const vals = Array.from({ length: src.size }, (_, k) => (k % 200) - 100);
  for (const yv of [0, 1]) {
    const env = new Map<Var, number>([[yo, yv]]);
    const a = new Interpreter(d);
    a.bind(src, vals);
    a.run(copy, new Map(env));
    const b2 = new Interpreter(d);
    b2.bind(src, vals);
    b2.run((lowered as Extract<Stmt, { k: 'for' }>).body, new Map(env));
    assert.equal([...b2.get(dst)], [...a.get(dst)], `tile ${yv}`);
  }
  const text = printStmt(lowered);
  assert.match(text, 'vta.load_2d(INP');
  // A copy with padding on a dimension that is neither x nor y is refused.
  const t3 = new Buffer('t', [2, 2, 4, 1, 16], 'int8', 'inp');
  const s3 = new Buffer('s', [4, 2, 6, 1, 16], 'int8');
  const badValue = select(lt(ref(c), 1), load(s3, [ref(c), ref(r), ref(xx), ref(b), ref(i)]), int(0, 'int8'));
  const bad: Stmt = { k: 'attr', key: 'pragma', value: 'dma_copy', body: loop(c, 2, loop(r, 2, loop(xx, 4, loop(b, 1, loop(i, 16, { k: 'store', buf: t3, idx: [ref(c), ref(r), ref(xx), ref(b), ref(i)], value: badValue }))))) };
  assert.throws(() => injectDma(bad, t), /dma_copy/);
});

test('micro-op kernels: hardware loops with factors, fused ALU loops, hazard hoisting', () => {
  const inst = compileConv2d({ batch: 1, h: 4, w: 8, cin: 32, cout: 16, k: 3, pad: 1, stride: 1, groups: 1, shift: 2, bias: false, clip: [0, 127] }, d, { knobs: { tile_h: 4, tile_w: 8, tile_ci: 2, tile_co: 1, oc_nthread: 1, h_nthread: 1, tile_b: 1 } });
  const kernels: Extract<Stmt, { k: 'uop' }>[] = [];
  visitStmt(inst.module.ir.fold_uop, (x) => {
    if (x.k === 'uop') kernels.push(x);
  });
  const gemm = kernels.find((k) => k.mode === 'GEMM' && !printStmt(k).includes('reset'))!;
  // ci chunk (input tile 6x10 elements, 9 weights) and output column as hardware loops.
  assert.equal(gemm.loops.map((l) => [l.ext, l.dst, l.src, l.wgt]), [[2, 0, 60, 9], [8, 1, 1, 0]]);
  const alus = kernels.filter((k) => k.mode === 'ALU');
  assert.is(alus.length, 3);
  for (const a of alus) assert.equal(a.loops.map((l) => l.ext), [32]); // one fused loop over the tile
  // A one-pixel tile: the kernel window cannot be unrolled around a single accumulator.
  const one = compileConv2d({ batch: 1, h: 1, w: 1, cin: 16, cout: 16, k: 3, pad: 1, stride: 1, groups: 1, shift: 0, bias: false }, d);
  const s = one.module.ir.fold_uop;
  const ks: Extract<Stmt, { k: 'uop' }>[] = [];
  visitStmt(s, (x) => {
    if (x.k === 'uop' && x.mode === 'GEMM' && !printStmt(x).includes('reset')) ks.push(x);
  });
  assert.is(ks.length, 1);
  assert.ok(!printStmt(ks[0]).includes('for ('), printStmt(ks[0]));
  const ops1 = one.operands(1);
  const em = new Emitter(vtaTarget(d), one.module.sram);
  for (const td of ops1.tensors) em.allocTensor(td.buf, td.role, td.values);
  const r = runSync(em.run(one.module.ir.deps));
  assert.is(r.error, undefined);
  assert.ok(r.counters.gemmHazardStalls! > 0);
});

test('virtual threads: buffers duplicated per thread, tasks interleaved, shared work kept once', () => {
  const inst = compileConv2d({ batch: 1, h: 4, w: 4, cin: 16, cout: 32, k: 3, pad: 1, stride: 1, groups: 1, shift: 0, bias: false }, d, { knobs: { oc_nthread: 2, h_nthread: 1, tile_co: 1, tile_h: 4, tile_w: 4 } });
  const s = inst.module.ir.vthread;
  const names: string[] = [];
  visitStmt(s, (x) => {
    if (x.k === 'alloc') names.push(x.buf.name);
  });
  for (const b of ['conv', 'data_pad', 'kernel.wgt']) {
    assert.ok(names.includes(`${b}.t0`) && names.includes(`${b}.t1`), names.join(' '));
  }
  assert.not.match(printStmt(s), 'vthread');
  // Tasks alternate threads: load t0, load t1, gemm t0, gemm t1 inside the chunk loop.
  const order: string[] = [];
  visitStmt(s, (x) => {
    if (x.k === 'dma' && x.dir === 'load' && x.mem === 'WGT') order.push(`L${x.sram.name.slice(-1)}`);
    if (x.k === 'gemm' && !x.reset) order.push(`G${x.acc.name.slice(-1)}`);
  });
  assert.equal(order, ['L0', 'L1', 'G0', 'G1']);
  // A statement that does not depend on the thread stays single.
  const v = new Var('vt');
  const b = new Buffer('x', [16], 'int32', 'acc');
  const shared: Stmt = { k: 'task', queue: 2, body: { k: 'alu', op: 'ADD', dst: b, dstElem: int(0), imm: 1 } };
  const mine: Stmt = { k: 'task', queue: 2, body: { k: 'alu', op: 'ADD', dst: b, dstElem: int(0), imm: 2 } };
  const inner = new Buffer('y', [32], 'int32', 'acc');
  const perThread: Stmt = { k: 'alloc', buf: inner, body: { k: 'task', queue: 2, body: { k: 'alu', op: 'ADD', dst: inner, dstElem: ref(v), imm: 3 } } };
  const out = injectVirtualThreads(loop(v, 2, seq(shared, mine, perThread), 'vthread'));
  const adds: string[] = [];
  visitStmt(out, (x) => {
    if (x.k === 'alu') adds.push(`${x.dst.name}+${x.imm}@${printStmt(x).match(/\[(.*)\]/)![1]}`);
  });
  // The two thread-independent tasks (merged, one queue) run once; the one using a buffer
  // allocated inside the thread runs per thread, on that thread's copy.
  assert.equal(adds, ['x+1@0', 'x+2@0', 'y.t0+3@0', 'y.t1+3@1']);
});

test('dependency tokens: loop-carried double buffering, compensation hoisted, checked at emission', () => {
  const inst = compileConv2d({ batch: 1, h: 4, w: 4, cin: 48, cout: 32, k: 1, pad: 0, stride: 1, groups: 1, shift: 0, bias: false }, d, { knobs: { oc_nthread: 2, h_nthread: 1, tile_co: 1, tile_ci: 1, tile_h: 4, tile_w: 4, tile_b: 1 } });
  const s = inst.module.ir.deps;
  const text = printStmt(s);
  const top = text.split('\n').filter((l) => /^vta\.dep_/.test(l));
  // Compensation tokens for both threads' buffers at the start, drained at the end.
  assert.equal(top.filter((l) => l.includes('push(compute -> load)')).length, 2);
  assert.equal(top.filter((l) => l.includes('pop(compute -> load)')).length, 2);
  assert.equal(top.filter((l) => l.includes('push(store -> compute)')).length, 2);
  // Inside the chunk loop: each load waits for its thread's previous GEMM, each GEMM for its load.
  assert.match(text, /if \(ric\.o == 0\) \{\s*\n\s*vta\.dep_pop\(store -> compute\)/);
  assert.ok((text.match(/dep_push\(load -> compute\)/g) ?? []).length >= 2);
  // The emitter's token check rejects a program whose tokens were dropped.
  const broken = insertDeps(inst.module.ir.vthread);
  const stripped = dropPops(broken);
  const ops = inst.operands(1);
  const e = new Emitter(t, allocateSram(stripped, t));
  for (const td of ops.tensors) e.allocTensor(td.buf, td.role, td.values);
  assert.throws(() => e.run(stripped), /not ordered after|popped before|left at the end/);
});

function dropPops(s: Stmt): Stmt {
  const walk = (x: Stmt): Stmt => {
    switch (x.k) {
      case 'seq':
        return { k: 'seq', body: x.body.filter((y) => !(y.k === 'dep' && y.op === 'pop' && y.from === 1)).map(walk) };
      case 'for':
      case 'alloc':
      case 'attr':
        return { ...x, body: walk(x.body) } as Stmt;
      case 'if':
        return { ...x, then: walk(x.then) };
      default:
        return x;
    }
  };
  return walk(s);
}

test('SRAM allocation: thread copies get separate ranges; overflow is a clear error', () => {
  const inst = compileConv2d({ batch: 1, h: 4, w: 4, cin: 16, cout: 32, k: 3, pad: 1, stride: 1, groups: 1, shift: 0, bias: false }, d, { knobs: { oc_nthread: 2 } });
  const { base, used } = inst.module.sram;
  const bases = [...base.entries()].filter(([b]) => b.scope === 'acc').map(([, v]) => v);
  assert.is(new Set(bases).size, bases.length);
  assert.ok(used.acc <= d.depth.acc && used.inp <= d.depth.inp);
  const big = new Buffer('huge', [4096, 1, 16], 'int32', 'acc');
  assert.throws(() => allocateSram({ k: 'alloc', buf: big, body: seq() }, t), /needs 4096 ACC buffer elements but .* has 2048/);
});

test('emission: padding wider than 4 bits and all-padding tiles are decomposed, same result', () => {
  const inst = compileConv2d({ batch: 1, h: 3, w: 3, cin: 16, cout: 16, k: 1, pad: 17, stride: 1, groups: 1, shift: 0, bias: false, clip: [-128, 127] }, d);
  const ops = inst.operands(3);
  const e = new Emitter(t, inst.module.sram);
  for (const td of ops.tensors) e.allocTensor(td.buf, td.role, td.values);
  const r = runSync(e.run(inst.module.ir.deps));
  assert.is(r.error, undefined);
  const out = e.dram.get(ops.output)!;
  const bytes = out.readFrom(r.dram);
  const got = ops.unpack(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  assert.equal([...got], [...ops.expected()]);
});

test('emission: all micro-op kernels are preloaded with one LOAD UOP; same cycles or fewer, same result', async () => {
  const { emitModule } = await import('../compiler/vta/build.ts');
  const { programInsns } = await import('../src/program/index.ts');
  const inst = compileConv2d({ batch: 1, h: 6, w: 6, cin: 32, cout: 32, k: 3, pad: 1, stride: 1, groups: 1, shift: 4, bias: true, clip: [0, 127] }, d, { knobs: { oc_nthread: 2, h_nthread: 2, tile_h: 3, tile_co: 1 } });
  const ops = inst.operands(2);
  const run = (preload: boolean) => {
    const e = emitModule(inst.module, ops.tensors, { preload });
    const uopLoads = programInsns(e.program).filter((i) => i.opcode === 'LOAD' && i.memory_type === 'UOP' && i.x_size > 0).length;
    const r = runSync(e.program);
    assert.is(r.error, undefined);
    const bytes = e.emitter.dram.get(ops.output)!.readFrom(r.dram);
    return { uopLoads, cycles: r.counters.cycles, out: [...ops.unpack(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length))] };
  };
  const lazy = run(false);
  const pre = run(true);
  assert.ok(lazy.uopLoads > 4, `${lazy.uopLoads}`);
  assert.is(pre.uopLoads, 1);
  assert.ok(pre.cycles < lazy.cycles, `${pre.cycles} vs ${lazy.cycles}`);
  assert.equal(pre.out, lazy.out);
  assert.equal(pre.out, [...ops.expected()]);
});

test('fold_uop and check refuse what the fields cannot hold', () => {
  const A = new Buffer('A', [20000, 1, 16], 'int32', 'acc');
  const v = new Var('v');
  const nest = loop(v, 20000, { k: 'alu', op: 'ADD', dst: A, dstElem: ref(v), imm: 1 } as Stmt);
  const k = foldUops(nest, t);
  let scope: Extract<Stmt, { k: 'uop' }> | undefined;
  visitStmt(k, (x) => {
    if (x.k === 'uop') scope = x;
  });
  // 20000 iterations exceed the 14-bit loop field: the loop stays unrolled, not a hardware loop.
  assert.is(scope!.loops.length, 0);
});

test.run();
