import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, randomConfig, type Derived } from '../src/config/index.ts';
import { IsaError } from '../src/errors.ts';
import {
  ALU_OP_NAMES, MEM_TYPE_NAMES, decodeInsnWords, decodeUopWord, encodeInsn, encodeInsnHex, encodeUopWord,
  hexToInsnWords, insnFromJson, layoutOf, wordsToHex, type Insn,
} from '../src/isa/index.ts';
import { Rng } from '../src/util/rng.ts';

// Golden encodings worked out by hand from the bit tables of vta-reference Part B §2.5–2.10.
// Each hex string is word 1 (bits 127..64) followed by word 0 (bits 63..0).
const GOLDEN: Array<{ config: string; insn: Record<string, unknown>; hex: string; why: string }> = [
  {
    config: 'default',
    insn: { opcode: 'LOAD', memory_type: 'INP', pop_next_dep: 1, push_next_dep: 1, sram_base: 5, dram_base: 0x100, y_size: 2, x_size: 3, x_stride: 4, y_pad_0: 1, y_pad_1: 2, x_pad_0: 3, x_pad_1: 4 },
    // w0: 0x100<<26 | 5<<10 | 2<<7 | 1<<6 | 1<<4;  w1: 4<<60 | 3<<56 | 2<<52 | 1<<48 | 4<<32 | 3<<16 | 2
    hex: '4321000400030002' + '0000000400001550',
    why: 'LOAD/STORE layout is config-independent',
  },
  {
    config: 'default',
    insn: { opcode: 'GEMM', pop_prev_dep: 1, push_next_dep: 1, uop_bgn: 1, uop_end: 5, iter_out: 3, iter_in: 2, dst_factor_out: 16, dst_factor_in: 1, src_factor_out: 2, wgt_factor_out: 1, wgt_factor_in: 4 },
    // w0: 2<<49 | 3<<35 | 5<<21 | 1<<8 | 1<<6 | 1<<3 | 2;  w1: 4<<54 | 1<<44 | 2<<22 | 1<<11 | 16
    hex: '0100100000800810' + '0004001800a0014a',
    why: 'GEMM: uop 13/14 bits, acc 11, inp 11, wgt 10',
  },
  {
    config: 'default',
    insn: { opcode: 'ALU', alu_opcode: 'SHR', push_prev_dep: 1, uop_end: 1, iter_out: 1, iter_in: 8, dst_factor_in: 1, src_factor_in: 1, use_imm: 1, imm: -3 },
    // w0: 8<<49 | 1<<35 | 1<<21 | 1<<5 | 4;  w1: 0xfffd<<48 | 1<<47 | 3<<44 | 1<<33 | 1<<11
    hex: 'fffdb00200000800' + '0010000800200024',
    why: 'ALU: negative immediate in two\'s complement at [127:112]',
  },
  { config: 'default', insn: { opcode: 'FINISH', pop_next_dep: 1 }, hex: '0'.repeat(30) + '13', why: 'FINISH = opcode 3 + flags' },
  {
    config: 'batch2-block8',
    insn: { opcode: 'GEMM', pop_prev_dep: 1, push_next_dep: 1, uop_bgn: 1, uop_end: 5, iter_out: 3, iter_in: 2, dst_factor_out: 16, dst_factor_in: 1, src_factor_out: 2, wgt_factor_out: 1, wgt_factor_in: 4 },
    hex: '0100100000800810' + '0004001800a0014a',
    why: '2x8 with a 64 KiB weight buffer has the default depths (acc 11, inp 11, wgt 10), hence the same layout',
  },
  {
    config: 'block32',
    insn: { opcode: 'ALU', alu_opcode: 'MAX', use_imm: 1, imm: 100, dst_factor_in: 1, src_factor_in: 1, uop_end: 2, iter_out: 1, iter_in: 4 },
    // w0: 4<<49 | 1<<35 | 2<<21 | 4;  w1 (acc 10 bits): 100<<44 | 1<<43 | 1<<40 | 1<<30 | 1<<10
    hex: '0006490040000400' + '0008000800400004',
    why: 'block 32: ALU opcode at [106:104], use_imm 107, imm [123:108]',
  },
  {
    config: 'block32',
    insn: { opcode: 'GEMM', uop_end: 1, iter_out: 1, iter_in: 1, wgt_factor_out: 3, wgt_factor_in: 255 },
    // w1: wgt 8 bits at [111:104] and [119:112]
    hex: '00ff030000000000' + '0002000800200002',
    why: 'block 32: weight factors are 8 bits',
  },
  {
    config: 'ice40-small',
    insn: { opcode: 'GEMM', reset_reg: 1, uop_bgn: 3, uop_end: 4, iter_out: 2, iter_in: 5, dst_factor_out: 4, dst_factor_in: 1, src_factor_out: 2, src_factor_in: 1, wgt_factor_out: 1 },
    // uop 8/9 bits; dst_factor_out [59:53]; dst_factor_in does not fit in word 0 and starts at bit 64.
    // w0: 4<<53 | 5<<39 | 2<<25 | 4<<16 | 3<<8 | 1<<7 | 2;  w1: 1<<21 | 1<<14 | 2<<7 | 1
    hex: '0000000000204101' + '0080028004040382',
    why: 'ice40-small: a field that does not fit in word 0 moves to word 1',
  },
  {
    config: 'ice40-small',
    insn: { opcode: 'ALU', alu_opcode: 'ADD', uop_end: 1, iter_out: 1, iter_in: 1, src_factor_in: 2, imm: -1 },
    // w1: 0xffff<<25 | 2<<21 | 2<<14
    hex: '000001fffe408000' + '0000008002010004',
    why: 'ice40-small: imm at [104:89] straddles the 32-bit halves of word 1',
  },
];

for (const g of GOLDEN) {
  test(`golden ${g.config}: ${g.insn.opcode} (${g.why})`, () => {
    const d = loadConfig(g.config);
    const insn = insnFromJson(d, g.insn);
    assert.is(encodeInsnHex(d, insn), g.hex);
    assert.equal(decodeInsnWords(d, hexToInsnWords(g.hex)), insn);
  });
}

test('golden micro-ops: default 11/11/10, block32 10/10/8, ice40-small 7/7/6', () => {
  const cases: Array<[string, [number, number, number], number]> = [
    ['default', [5, 7, 3], 5 | (7 << 11) | (3 << 22)],
    ['block32', [1023, 1, 255], 0x0ff007ff],
    ['ice40-small', [100, 50, 63], 0xfd964],
  ];
  for (const [c, [dst, src, wgt], word] of cases) {
    const d = loadConfig(c);
    assert.is(encodeUopWord(d, { dst_idx: dst, src_idx: src, wgt_idx: wgt }), word, c);
    assert.equal(decodeUopWord(d, word), { dst_idx: dst, src_idx: src, wgt_idx: wgt });
  }
});

test('little-endian memory image: word 0 at the lower address', () => {
  const d = loadConfig('default');
  const bytes = encodeInsn(d, insnFromJson(d, { opcode: 'FINISH', pop_next_dep: 1 }));
  assert.equal([...bytes], [0x13, ...new Array(15).fill(0)]);
});

/** A random legal instruction for a config: every field drawn within its width. */
function randomInsn(d: Derived, rng: Rng): Insn {
  const opcode = rng.pick(['LOAD', 'STORE', 'GEMM', 'FINISH', 'ALU'] as const);
  const json: Record<string, unknown> = { opcode };
  for (const f of layoutOf(d, opcode).fields) {
    if (f.name === 'opcode') continue;
    if (f.name === 'memory_type') json[f.name] = rng.pick(MEM_TYPE_NAMES);
    else if (f.name === 'alu_opcode') json[f.name] = rng.pick(ALU_OP_NAMES);
    else if (f.signed) json[f.name] = rng.int(-(2 ** (f.width - 1)), 2 ** (f.width - 1) - 1);
    else json[f.name] = rng.bool(0.2) ? 2 ** f.width - 1 : rng.int(0, 2 ** f.width - 1);
  }
  return insnFromJson(d, json);
}

test('property: decode(encode(x)) = x and encode(decode(h)) = h on random configs', () => {
  const rng = new Rng(2026);
  for (let c = 0; c < 60; c++) {
    const d = randomConfig(rng);
    for (let i = 0; i < 50; i++) {
      const insn = randomInsn(d, rng);
      const hex = encodeInsnHex(d, insn);
      const back = decodeInsnWords(d, hexToInsnWords(hex));
      assert.equal(back, insn, `${d.name}: ${JSON.stringify(insn)}`);
      assert.is(wordsToHex(hexToInsnWords(hex)), hex);
      const uop = { dst_idx: rng.int(0, d.depth.acc - 1), src_idx: rng.int(0, Math.max(d.depth.acc, d.depth.inp) - 1), wgt_idx: rng.int(0, d.depth.wgt - 1) };
      assert.equal(decodeUopWord(d, encodeUopWord(d, uop)), uop);
    }
  }
});

function isaError(fn: () => unknown, ...fragments: string[]) {
  try {
    fn();
  } catch (e) {
    assert.instance(e, IsaError);
    for (const f of fragments) assert.ok((e as Error).message.includes(f), `expected "${f}" in: ${(e as Error).message}`);
    return;
  }
  assert.unreachable('accepted');
}

test('errors: field too wide, unknown field, bad enum, bad hex, reserved bits, unknown opcode', () => {
  const d = loadConfig('default');
  isaError(() => insnFromJson(d, { opcode: 'GEMM', uop_end: 20000 }), 'uop_end = 20000', '14 bits', '0..16383');
  isaError(() => insnFromJson(d, { opcode: 'ALU', imm: 40000 }), 'imm = 40000', '-32768..32767');
  isaError(() => insnFromJson(d, { opcode: 'LOAD', x_sz: 1 }), 'x_sz is not a field of LOAD', 'did you mean x_size');
  isaError(() => insnFromJson(d, { opcode: 'LOAD', memory_type: 'IMP' }), 'memory_type', 'did you mean INP');
  isaError(() => insnFromJson(d, { opcode: 'JUMP' }), 'opcode', 'LOAD, STORE');
  isaError(() => insnFromJson(d, { opcode: 'GEMM', wgt_factor_in: -1 }), 'wgt_factor_in = -1');
  isaError(() => hexToInsnWords('12zz'), 'not hexadecimal');
  isaError(() => hexToInsnWords('1234'), '32 hex digits');
  isaError(() => decodeInsnWords(d, hexToInsnWords('0'.repeat(31) + '7')), 'opcode 7');
  isaError(() => decodeInsnWords(d, hexToInsnWords('0'.repeat(29) + '280')), 'ACC_8BIT');
  // bit 63 of a GEMM is reserved in the default layout
  isaError(() => decodeInsnWords(d, hexToInsnWords('0000000000000000' + '8000000000000002')), 'reserved bits [63:63]');
});

test.run();
