/** TypeScript simulator: illegal instructions, deadlocks and timeouts (Part A.6). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/load.ts';
import { encodeInsn, insnFromJson } from '../src/isa/insn.ts';
import { TsEngine, runSync } from '../sim/ts/engine.ts';
import { ProgBuilder } from './helpers/simprog.ts';

const d = loadConfig('default');

function illegal(build: (p: ProgBuilder) => void, index: number, field: string, reason: RegExp, cfg = d) {
  const p = new ProgBuilder(cfg);
  build(p);
  const r = runSync(p.build());
  assert.ok(r.error, 'an error is reported');
  assert.is(r.error!.kind, 'illegal', r.error!.message);
  assert.is(r.error!.insnIndex, index);
  assert.is(r.error!.field, field);
  assert.match(r.error!.message, reason);
  assert.match(r.error!.message, new RegExp(`instruction ${index}\\b`));
}

const finish = (p: ProgBuilder) => p.insn({ opcode: 'FINISH' });

test('unknown opcode', () => {
  illegal((p) => {
    p.insn({ opcode: 'LOAD', memory_type: 'INP', x_size: 0 });
    p.raw(Uint8Array.of(7, ...new Uint8Array(15)));
    finish(p);
  }, 1, 'opcode', /opcode 7/);
});

test('unknown memory type (ACC_8BIT = 5)', () => {
  const bytes = encodeInsn(d, insnFromJson(d, { opcode: 'LOAD', memory_type: 'UOP', x_size: 1, y_size: 1 }));
  bytes[0] = (bytes[0] & 0x7f) | ((5 & 1) << 7);
  bytes[1] = (bytes[1] & ~0x03) | (5 >> 1);
  illegal((p) => {
    p.raw(bytes);
    finish(p);
  }, 0, 'memory_type', /ACC_8BIT/);
});

test('STORE from a memory other than OUT, and STORE padding', () => {
  illegal((p) => {
    p.insn({ opcode: 'STORE', memory_type: 'ACC', x_size: 1, y_size: 1, dram_base: 1 });
    finish(p);
  }, 0, 'memory_type', /only from OUT/);
  illegal((p) => {
    p.insn({ opcode: 'STORE', memory_type: 'OUT', x_size: 1, y_size: 1, dram_base: 256, x_pad_1: 1 });
    finish(p);
  }, 0, 'x_pad_1', /no padding/);
});

test('LOAD footprint past the SRAM depth, including padding', () => {
  illegal((p) => {
    const a = p.data('x', new Uint8Array(4096));
    p.insn({ opcode: 'LOAD', memory_type: 'INP', sram_base: 2041, dram_base: a / 16, x_size: 4, y_size: 1, x_stride: 4, x_pad_0: 2, x_pad_1: 2 });
    finish(p);
  }, 0, 'sram_base', /2041\.\.2048 .*past the INP depth 2048/);
});

test('LOAD reading past the end of DRAM', () => {
  illegal((p) => {
    const a = p.data('x', new Uint8Array(4096));
    p.insn({ opcode: 'LOAD', memory_type: 'INP', dram_base: a / 16, x_size: 8, y_size: 2, x_stride: 512 });
    finish(p);
  }, 0, 'dram_base', /past the end of DRAM/);
});

test('UOP load needs y_size 1 and no padding', () => {
  illegal((p) => {
    p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: 1024, x_size: 1, y_size: 2, x_stride: 1 });
    finish(p);
  }, 0, 'y_size', /y_size = 1/);
  illegal((p) => {
    p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: 1024, x_size: 1, y_size: 1, x_stride: 1, y_pad_0: 1 });
    finish(p);
  }, 0, 'y_pad_0', /no padding/);
});

test('dependency flags the executing module cannot use', () => {
  illegal((p) => {
    p.insn({ opcode: 'LOAD', memory_type: 'WGT', x_size: 0, pop_prev_dep: 1 });
    finish(p);
  }, 0, 'pop_prev_dep', /load module/);
  illegal((p) => {
    p.insn({ opcode: 'LOAD', memory_type: 'INP', x_size: 0, push_prev_dep: 1 });
    finish(p);
  }, 0, 'push_prev_dep', /load module/);
  illegal((p) => {
    p.insn({ opcode: 'STORE', memory_type: 'OUT', x_size: 0, push_next_dep: 1 });
    finish(p);
  }, 0, 'push_next_dep', /store module/);
  illegal((p) => {
    p.insn({ opcode: 'STORE', memory_type: 'OUT', x_size: 0, pop_next_dep: 1 });
    finish(p);
  }, 0, 'pop_next_dep', /store module/);
});

test('ALU MUL is illegal unless ALU_MUL is on', () => {
  const prog = (p: ProgBuilder) => {
    p.insn({ opcode: 'ALU', alu_opcode: 'MUL', use_imm: 1, imm: 2, uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 1 });
    finish(p);
  };
  illegal(prog, 0, 'alu_opcode', /ALU_MUL/);
  const p = new ProgBuilder(deriveConfig({ ALU_MUL: true }));
  prog(p);
  assert.is(runSync(p.build()).error, undefined);
});

test('GEMM and ALU computed indices past their SRAM depth', () => {
  const gemm = (fields: Record<string, unknown>, uop: { dst_idx: number; src_idx: number; wgt_idx: number }) => (p: ProgBuilder) => {
    const u = p.uops('u', [uop]);
    p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: u / 4, x_size: 1, y_size: 1, x_stride: 1 });
    p.insn({ opcode: 'GEMM', uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 1, ...fields });
    finish(p);
  };
  // dst 1000 + (3-1)*600 = 2200 >= 2048
  illegal(gemm({ iter_in: 3, dst_factor_in: 600 }, { dst_idx: 1000, src_idx: 0, wgt_idx: 0 }), 1, 'dst_idx', /2200/);
  // src 2047 + 1 = 2048
  illegal(gemm({ iter_out: 2, src_factor_out: 1 }, { dst_idx: 0, src_idx: 2047, wgt_idx: 0 }), 1, 'src_idx', /INP index 2048/);
  // wgt 1023 + 1
  illegal(gemm({ iter_in: 2, wgt_factor_in: 1, dst_factor_in: 1 }, { dst_idx: 0, src_idx: 0, wgt_idx: 1023 }), 1, 'wgt_idx', /WGT index 1024/);
  // uop_end past the micro-op buffer
  illegal((p) => {
    p.insn({ opcode: 'GEMM', uop_bgn: 0, uop_end: 8193, iter_out: 1, iter_in: 1 });
    finish(p);
  }, 0, 'uop_end', /8193/);
  // ALU vector source beyond ACC
  illegal((p) => {
    const u = p.uops('u', [{ dst_idx: 0, src_idx: 2040, wgt_idx: 0 }]);
    p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: u / 4, x_size: 1, y_size: 1, x_stride: 1 });
    p.insn({ opcode: 'ALU', alu_opcode: 'ADD', uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 9, src_factor_in: 1, dst_factor_in: 1 });
    finish(p);
  }, 1, 'src_idx', /ACC index 2048/);
});

test('deadlock: a pop nobody pushes is reported with the state of every queue', async () => {
  const p = new ProgBuilder(d);
  p.insn({ opcode: 'LOAD', memory_type: 'INP', x_size: 0, push_next_dep: 1 });
  p.insn({ opcode: 'GEMM', uop_bgn: 0, uop_end: 0, iter_out: 1, iter_in: 1, pop_prev_dep: 1, pop_next_dep: 1 });
  p.insn({ opcode: 'FINISH' });
  const r = await new TsEngine().run(p.build());
  assert.is(r.error?.kind, 'deadlock');
  assert.match(r.error!.message, /compute: insn 1 \(GEMM\) waits for a token on s2g/);
  assert.match(r.error!.message, /l2g=1 g2l=0 g2s=0 s2g=0/);
  assert.match(r.error!.message, /load: idle/);
  assert.equal(r.error!.queues, { l2g: 1, g2l: 0, g2s: 0, s2g: 0 });
  assert.is(r.error!.waits!.length, 4);
});

test('deadlock through a full command queue: pops placed before their pushes in the stream', () => {
  const p = new ProgBuilder(d);
  for (let i = 0; i < 20; i++) p.insn({ opcode: 'LOAD', memory_type: 'INP', x_size: 0, pop_next_dep: 1 });
  for (let i = 0; i < 20; i++) p.insn({ opcode: 'LOAD', memory_type: 'UOP', x_size: 0, push_prev_dep: 1 });
  p.insn({ opcode: 'FINISH' });
  const r = runSync(p.build());
  assert.is(r.error?.kind, 'deadlock');
  assert.match(r.error!.message, /fetch: insn 16 \(LOAD INP\) blocked, load command queue full/);
  assert.match(r.error!.message, /load=16\/16/);
});

test('a program without FINISH ends with a clear report, not a hang', () => {
  const p = new ProgBuilder(d);
  p.insn({ opcode: 'LOAD', memory_type: 'INP', x_size: 0 });
  const r = runSync(p.build());
  assert.is(r.error?.kind, 'deadlock');
  assert.match(r.error!.message, /no FINISH/);
});

test('maxCycles stops a long run with a timeout', () => {
  const p = new ProgBuilder(d);
  const u = p.uops('u', [{ dst_idx: 0, src_idx: 0, wgt_idx: 0 }, { dst_idx: 1, src_idx: 0, wgt_idx: 0 }, { dst_idx: 2, src_idx: 0, wgt_idx: 0 }]);
  p.insn({ opcode: 'LOAD', memory_type: 'UOP', dram_base: u / 4, x_size: 3, y_size: 1, x_stride: 3 });
  p.insn({ opcode: 'GEMM', uop_bgn: 0, uop_end: 3, iter_out: 1000, iter_in: 10 });
  p.insn({ opcode: 'FINISH' });
  const r = runSync(p.build(), { maxCycles: 5000 });
  assert.is(r.error?.kind, 'timeout');
  assert.ok(runSync(p.build()).counters.cycles > 30000);
});

test.run();
