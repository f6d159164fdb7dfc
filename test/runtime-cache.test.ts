/** The micro-op kernel cache: placement, eviction and LOAD UOP emission (Part B §4.4). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { bufferUops, programInsns } from '../src/program/container.ts';
import { KernelSite, Runtime, type UopKernel } from '../src/runtime/runtime.ts';

const tiny = loadConfig('ice40-tiny'); // uop depth 128, acc depth 128

/** An ALU kernel of n micro-ops (dst 0..n-1, immediate), tagged by its immediate. */
function aluKernel(n: number, tag: number) {
  return (r: Runtime) => {
    for (let i = 0; i < n; i++) r.uopPush('ALU', 0, i, 0, 0, 'ADD', 1, tag);
  };
}

function uopLoads(rt: Runtime) {
  return rt.peekInsns().filter((i) => i.opcode === 'LOAD' && i.memory_type === 'UOP' && i.x_size > 0);
}

test('a resident kernel is not loaded again; GEMM/ALU reuse its placement', () => {
  const rt = new Runtime(tiny);
  const site = new KernelSite();
  rt.pushAluOp(site, aluKernel(3, 1), 0);
  rt.pushAluOp(site, aluKernel(3, 1), 0);
  rt.pushAluOp(site, aluKernel(5, 2), 1);
  rt.pushAluOp(site, aluKernel(3, 1), 0);
  const kinds = rt.peekInsns().map((i) => (i.opcode === 'LOAD' ? 'LOAD.UOP' : i.opcode));
  assert.equal(kinds, ['LOAD.UOP', 'ALU', 'ALU', 'LOAD.UOP', 'ALU', 'ALU']);
  const alus = rt.peekInsns().filter((i) => i.opcode === 'ALU');
  assert.equal(alus.map((a) => (a.opcode === 'ALU' ? [a.uop_bgn, a.uop_end, a.imm] : [])), [[0, 3, 1], [0, 3, 1], [3, 8, 2], [0, 3, 1]]);
  const loads = uopLoads(rt);
  assert.equal(loads.map((l) => (l.opcode === 'LOAD' ? [l.sram_base, l.x_size, l.x_stride, l.y_size] : [])), [[0, 3, 3, 1], [3, 5, 5, 1]]);
});

test("VTA's placement and eviction: wrap to 0 and evict every kernel overlapping the new range", () => {
  const rt = new Runtime(tiny);
  const site = new KernelSite();
  const ks: Record<string, UopKernel> = {};
  const push = (name: string, n: number, sig: number) => {
    rt.pushAluOp(site, aluKernel(n, sig), sig);
    ks[name] = site.get(sig)!;
  };
  const place = (k: UopKernel) => [k.sramBegin, k.sramEnd];
  push('A', 100, 0);
  assert.equal(place(ks.A), [0, 100]);
  push('B', 50, 1); // 100 + 50 > 128: wrap, evict A
  assert.equal(place(ks.B), [0, 50]);
  assert.not.ok(ks.A.cached);
  push('A', 100, 0); // 50 + 100 > 128: wrap, evict B
  assert.equal(place(ks.A), [0, 100]);
  assert.not.ok(ks.B.cached);
  push('C', 20, 2); // fits after A
  assert.equal(place(ks.C), [100, 120]);
  push('D', 20, 3); // 120 + 20 > 128: wrap, evicts A (begins below 20) but not C (begins at 100)
  assert.equal(place(ks.D), [0, 20]);
  assert.not.ok(ks.A.cached);
  assert.ok(ks.C.cached);
  const before = uopLoads(rt).length;
  push('C', 20, 2); // still resident: no load
  assert.is(uopLoads(rt).length, before);
  push('E', 90, 4); // [20, 110) overlaps C at 100: evicts C
  assert.equal(place(ks.E), [20, 110]);
  assert.not.ok(ks.C.cached);
  assert.equal(rt.cachedKernels.map((k) => k.imm), [3, 4]);
  assert.is(uopLoads(rt).length, 6); // A, B, A, C, D, E
});

test('every LOAD UOP points at its own copy of the kernel in the uops buffer; synchronize invalidates the cache', () => {
  const rt = new Runtime(tiny);
  const site = new KernelSite();
  rt.pushAluOp(site, aluKernel(100, 0), 0);
  rt.pushAluOp(site, aluKernel(50, 1), 1);
  rt.pushAluOp(site, aluKernel(100, 0), 0);
  const p = rt.synchronize();
  const ubuf = p.buffers.find((b) => b.kind === 'uop')!;
  assert.is(ubuf.size, 250 * 4);
  const all = bufferUops(p, ubuf);
  const loads = programInsns(p).filter((i) => i.opcode === 'LOAD' && i.memory_type === 'UOP' && i.x_size > 0);
  assert.is(loads.length, 3);
  const expectedSizes = [100, 50, 100];
  loads.forEach((l, n) => {
    if (l.opcode !== 'LOAD') return;
    const first = l.dram_base - ubuf.addr / 4;
    assert.is(l.x_size, expectedSizes[n]);
    const uops = all.slice(first, first + l.x_size);
    assert.equal(uops.map((u) => u.dst_idx), Array.from({ length: l.x_size }, (_, i) => i));
  });
  assert.is(rt.cachedKernels.length, 0);
  assert.not.ok(site.get(0)!.cached);
  // the next program loads the kernel again
  rt.pushAluOp(site, undefined, 0);
  assert.is(uopLoads(rt).length, 1);
});

test('a kernel larger than the uop buffer is rejected', () => {
  const rt = new Runtime(tiny);
  assert.throws(() => rt.pushAluOp(new KernelSite(), (r) => {
    for (let i = 0; i < 129; i++) r.uopPush('ALU', 0, i % 120, 0, 0, 'ADD', 1, 0);
  }), /exceeds the uop buffer depth/);
});

test.run();
