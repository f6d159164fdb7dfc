/** The runtime's instruction streams and dependency flags against hand-worked expectations (Part B §4.3–4.6). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { programInsns, PAGE_BYTES, type Program } from '../src/program/container.ts';
import type { Insn } from '../src/isa/insn.ts';
import { KernelSite, Runtime, RuntimeError } from '../src/runtime/runtime.ts';
import { findCase } from '../src/runtime/conformance.ts';

const d = loadConfig('default');
const tiny = loadConfig('ice40-tiny');

/** "KIND flags" per instruction: KIND = LOAD.ACC, NOP.load, GEMM, ...; flags = pp pn Pp Pn (pop prev/next, push prev/next). */
function summary(insns: Insn[]): string[] {
  return insns.map((i) => {
    let kind: string = i.opcode;
    if (i.opcode === 'LOAD' || i.opcode === 'STORE') {
      if (i.x_size === 0) kind = `NOP.${i.opcode === 'STORE' ? 'store' : i.memory_type === 'INP' || i.memory_type === 'WGT' ? 'load' : 'compute'}`;
      else kind = `${i.opcode}.${i.memory_type}`;
    }
    if (i.opcode === 'ALU') kind = `ALU.${i.alu_opcode}`;
    const f = [i.pop_prev_dep ? 'pp' : '', i.pop_next_dep ? 'pn' : '', i.push_prev_dep ? 'Pp' : '', i.push_next_dep ? 'Pn' : ''].filter(Boolean);
    return f.length ? `${kind} ${f.join(' ')}` : kind;
  });
}

test('empty program: store NOP push, load NOP push, compute NOP pops both, FINISH (§4.5)', () => {
  const rt = new Runtime(d);
  const p = rt.synchronize();
  assert.equal(summary(programInsns(p)), ['NOP.store Pp', 'NOP.load Pn', 'NOP.compute pp pn', 'FINISH']);
  const insns = programInsns(p);
  assert.is(insns[0].opcode, 'STORE');
  assert.is((insns[1] as { memory_type: string }).memory_type, 'INP');
  assert.is((insns[2] as { memory_type: string }).memory_type, 'UOP');
  assert.is(p.buffers.length, 1, 'no uop buffer without kernels');
});

test("gemm_test through the runtime: hand-worked 9-instruction stream and flags (§4.6 via §4.3–4.5)", () => {
  const built = findCase('gemm_test.plain')!.build(d, 1);
  // VTA's hand-written stream is LOAD UOP, LOAD ACC(Pp), LOAD WGT(pn), LOAD INP(Pn), GEMM(pp Pn),
  // STORE(pp Pp), FINISH(pn). The runtime places LOAD UOP just before the GEMM (so it takes the
  // GEMM's pop), and synchronize moves the final pop to a compute NOP that also takes the token
  // of a final load NOP, because FINISH never carries a pop.
  assert.equal(summary(programInsns(built.program)), [
    'LOAD.ACC Pp',
    'LOAD.WGT pn',
    'LOAD.INP Pn',
    'LOAD.UOP pp',
    'GEMM Pn',
    'STORE.OUT pp Pp',
    'NOP.load Pn',
    'NOP.compute pp pn',
    'FINISH',
  ]);
  const g = programInsns(built.program)[4];
  assert.is(g.opcode, 'GEMM');
  if (g.opcode === 'GEMM') {
    assert.is(g.uop_bgn, 0);
    assert.is(g.uop_end, 64); // 4 rows x 4 in x 4 out
    assert.is(g.iter_out, 1);
    assert.is(g.iter_in, 1);
  }
});

test('alu_test stream: per chunk LOAD ACC (pop_next after the first), LOAD UOP, ALU(push_next), STORE(pop_prev, push_prev)', () => {
  const built = findCase('alu_test.add.imm.compressed')!.build(tiny, 3);
  const chunk = (first: boolean) => [first ? 'LOAD.ACC' : 'LOAD.ACC pn', 'LOAD.UOP', 'ALU.ADD Pn', 'STORE.OUT pp Pp'];
  assert.equal(summary(programInsns(built.program)), [
    ...chunk(true), ...chunk(false), ...chunk(false), ...chunk(false),
    'NOP.load Pn', 'NOP.compute pp pn', 'FINISH',
  ]);
  const alu = programInsns(built.program)[2];
  assert.is(alu.opcode, 'ALU');
  if (alu.opcode === 'ALU') {
    // one loop -> inner loop (iter_out 1)
    assert.is(alu.iter_out, 1);
    assert.is(alu.iter_in, 8);
    assert.is(alu.dst_factor_in, 1);
    assert.is(alu.src_factor_in, 1);
    assert.is(alu.use_imm, 1);
  }
});

test('depPop twice to the same stage commits the first pop on a NOP', () => {
  const rt = new Runtime(d);
  rt.depPop(1, 2);
  rt.depPop(1, 2);
  rt.depPop(3, 2); // joins the pending pop_prev
  const buf = rt.allocTiles('a', 'ACC', 1);
  rt.loadBuffer2D(buf, 0, 1, 1, 1, 0, 0, 0, 0, 0, 'ACC');
  assert.equal(summary(rt.peekInsns()), ['NOP.compute pp', 'LOAD.ACC pp pn']);
});

test('depPush merges onto the last instruction of the stage, otherwise emits a NOP', () => {
  const rt = new Runtime(d);
  const inp = rt.allocTiles('inp', 'INP', 4);
  rt.loadBuffer2D(inp, 0, 1, 1, 1, 0, 0, 0, 0, 0, 'INP');
  rt.depPush(1, 2); // merged
  rt.depPush(1, 2); // already set -> NOP
  rt.depPush(1, 2); // last is a NOP (x_size 0 counts as no stage) -> another NOP
  rt.depPush(2, 1); // last is a load-stage NOP, compute -> NOP compute push_prev
  rt.depPush(2, 3); // a compute NOP (LOAD UOP, x_size 0) counts as no stage: another NOP
  rt.depPop(2, 3);
  rt.depPush(3, 2); // commits the store's pending pop on a store NOP, which (opcode STORE) takes the push
  assert.equal(summary(rt.peekInsns()), ['LOAD.INP Pn', 'NOP.load Pn', 'NOP.load Pn', 'NOP.compute Pp', 'NOP.compute Pn', 'NOP.store pp Pp']);
});

test('load<->store token pairs and bad stages are rejected', () => {
  const rt = new Runtime(d);
  const isRt = (e: unknown) => e instanceof RuntimeError;
  assert.throws(() => rt.depPush(1, 3), isRt);
  assert.throws(() => rt.depPop(3, 1), isRt);
  assert.throws(() => rt.depPop(2, 2), isRt);
});

test('GEMM loop mapping: loop 0 outer, loop 1 inner; one GEMM loop stays outer', () => {
  const rt = new Runtime(d);
  const site = new KernelSite();
  rt.pushGemmOp(site, (r) => {
    r.uopLoopBegin(3, 4, 5, 6);
    r.uopLoopBegin(2, 1, 2, 3);
    r.uopPush('GEMM', 0, 0, 0, 0);
    r.uopLoopEnd();
    r.uopLoopEnd();
  }, 0);
  rt.pushGemmOp(site, (r) => {
    r.uopLoopBegin(7, 1, 1, 1);
    r.uopPush('GEMM', 1, 0, 0, 0);
    r.uopLoopEnd();
  }, 1);
  const [, g2, , g1] = rt.peekInsns();
  assert.equal(summary(rt.peekInsns()), ['LOAD.UOP', 'GEMM', 'LOAD.UOP', 'GEMM']);
  assert.ok(g2.opcode === 'GEMM' && g1.opcode === 'GEMM');
  if (g2.opcode === 'GEMM' && g1.opcode === 'GEMM') {
    assert.equal([g2.iter_out, g2.dst_factor_out, g2.src_factor_out, g2.wgt_factor_out], [3, 4, 5, 6]);
    assert.equal([g2.iter_in, g2.dst_factor_in, g2.src_factor_in, g2.wgt_factor_in], [2, 1, 2, 3]);
    assert.is(g2.reset_reg, 0);
    assert.equal([g1.iter_out, g1.iter_in, g1.dst_factor_out, g1.dst_factor_in], [7, 1, 1, 0]);
    assert.is(g1.reset_reg, 1);
    assert.equal([g1.uop_bgn, g1.uop_end], [1, 2]);
  }
});

test('ALU loop mapping: none -> 1/1, two loops -> outer/inner', () => {
  const rt = new Runtime(d);
  const site = new KernelSite();
  rt.pushAluOp(site, (r) => r.uopPush('ALU', 0, 5, 6, 0, 'MAX', 1, -3), 0);
  rt.pushAluOp(site, (r) => {
    r.uopLoopBegin(4, 8, 9, 0);
    r.uopLoopBegin(2, 1, 1, 0);
    r.uopPush('ALU', 0, 0, 100, 0, 'SHR', 0, 0);
    r.uopLoopEnd();
    r.uopLoopEnd();
  }, 1);
  const insns = rt.peekInsns();
  const a0 = insns[1];
  const a1 = insns[3];
  assert.ok(a0.opcode === 'ALU' && a1.opcode === 'ALU');
  if (a0.opcode === 'ALU' && a1.opcode === 'ALU') {
    assert.equal([a0.iter_out, a0.iter_in, a0.alu_opcode, a0.use_imm, a0.imm], [1, 1, 'MAX', 1, -3]);
    assert.equal([a1.iter_out, a1.dst_factor_out, a1.src_factor_out, a1.iter_in, a1.dst_factor_in, a1.src_factor_in], [4, 8, 9, 2, 1, 1]);
    assert.equal([a1.alu_opcode, a1.use_imm], ['SHR', 0]);
  }
});

test('uopPush: dst must differ from the previous two micro-ops (VerifyDep); kernel consistency checks', () => {
  const rt = new Runtime(d);
  assert.throws(() => rt.recordKernel((r) => {
    r.uopPush('GEMM', 0, 1, 0, 0);
    r.uopPush('GEMM', 0, 2, 0, 0);
    r.uopPush('GEMM', 0, 1, 0, 0);
  }), /previous two/);
  assert.throws(() => rt.recordKernel((r) => {
    r.uopPush('GEMM', 0, 1, 0, 0);
    r.uopPush('GEMM', 0, 1, 0, 0);
  }), /previous two/);
  const ok = rt.recordKernel((r) => {
    r.uopPush('GEMM', 0, 1, 0, 0);
    r.uopPush('GEMM', 0, 2, 0, 0);
    r.uopPush('GEMM', 0, 3, 0, 0);
    r.uopPush('GEMM', 0, 1, 0, 0);
  });
  assert.is(ok.size, 4);
  assert.throws(() => rt.recordKernel((r) => {
    r.uopPush('GEMM', 0, 1, 0, 0);
    r.uopPush('ALU', 0, 2, 0, 0);
  }), /mixes/);
  assert.throws(() => rt.recordKernel((r) => {
    r.uopPush('ALU', 0, 1, 0, 0, 'ADD', 1, 1);
    r.uopPush('ALU', 0, 2, 0, 0, 'ADD', 1, 2);
  }), /same/);
  assert.throws(() => rt.recordKernel((r) => {
    r.uopPush('GEMM', 0, 1, 0, 0);
    r.uopLoopBegin(2, 1, 1, 1);
  }), /before the first uopPush/);
  assert.throws(() => rt.recordKernel((r) => {
    r.uopLoopBegin(2, 1, 1, 1);
    r.uopLoopBegin(2, 1, 1, 1);
    r.uopLoopBegin(2, 1, 1, 1);
  }), /at most two loops/);
  assert.throws(() => rt.uopPush('GEMM', 0, 0, 0, 0), /outside/);
});

test('strict range checks: SRAM footprint of loads, loop-expanded GEMM indices, DRAM extent', () => {
  const rt = new Runtime(tiny); // INP depth 128, WGT 64, ACC 128
  const inp = rt.allocTiles('inp', 'INP', 8);
  assert.throws(() => rt.loadBuffer2D(inp, 0, 4, 2, 4, 1, 1, 1, 1, 110, 'INP'), /exceeds the buffer depth/); // 6x4 = 24 > 18
  rt.loadBuffer2D(inp, 0, 4, 2, 4, 1, 1, 1, 1, 104, 'INP');
  assert.throws(() => rt.loadBuffer2D(inp, 5, 4, 1, 4, 0, 0, 0, 0, 0, 'INP'), /bytes/);
  assert.throws(() => rt.pushGemmOp(new KernelSite(), (r) => {
    r.uopLoopBegin(3, 0, 0, 30);
    r.uopPush('GEMM', 0, 0, 0, 10);
    r.uopLoopEnd();
  }), /WGT depth/);
  assert.throws(() => rt.storeBuffer2D(0, 'ACC', inp, 0, 1, 1, 1), /OUT/);
});

test('program container: page-aligned buffers from page 1, insn + uop buffers, roles and shapes', () => {
  const built = findCase('blocked_gemm_test.vt2.plain')!.build(d, 7);
  const p: Program = built.program;
  for (const b of p.buffers) {
    assert.ok(b.addr >= PAGE_BYTES && b.addr % PAGE_BYTES === 0, `${b.name} at ${b.addr}`);
  }
  assert.equal(p.buffers.map((b) => `${b.name}:${b.kind}:${b.role}`), [
    'insns:insn:input', 'inp:data:input', 'wgt:data:input', 'bias:data:input', 'out:data:output', 'uops:uop:input',
  ]);
  const inp = p.buffers.find((b) => b.name === 'inp')!;
  assert.is(inp.dtype, 'int8');
  assert.equal(inp.shape, [2, 64]);
  assert.is(p.buffers.find((b) => b.name === 'bias')!.dtype, 'int32');
  // every LOAD UOP points inside the uop buffer
  const uops = p.buffers.find((b) => b.kind === 'uop')!;
  for (const i of programInsns(p)) {
    if (i.opcode === 'LOAD' && i.memory_type === 'UOP' && i.x_size > 0) {
      assert.ok(i.dram_base * 4 >= uops.addr && (i.dram_base + i.x_size) * 4 <= uops.addr + uops.size);
    }
  }
  assert.is(programInsns(p).at(-1)!.opcode, 'FINISH');
});

test.run();
