import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ProgramError } from '../src/errors.ts';
import {
  assemble, disassemble, dramImage, parseProgram, programInsns, serializeProgram, bufferUops,
} from '../src/program/index.ts';

const EXAMPLE = readFileSync('examples/gemm-tiny.vasm', 'utf8');

test('assemble the example: buffers placed on pages, @refs resolved in element units', () => {
  const p = assemble(EXAMPLE, 'gemm-tiny.vasm');
  const byName = Object.fromEntries(p.buffers.map((b) => [b.name, b]));
  assert.equal(p.buffers.map((b) => b.name), ['uops', 'bias', 'inp', 'wgt', 'out', 'insns']);
  assert.equal(p.buffers.map((b) => b.addr), [0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000]);
  const insns = programInsns(p);
  assert.is(insns.length, 7);
  // LOAD WGT dram_base is in 256-byte weight elements; LOAD UOP in 4-byte micro-ops.
  assert.is((insns[2] as { dram_base: number }).dram_base, 0x4000 / 256);
  assert.is((insns[0] as { dram_base: number }).dram_base, 0x1000 / 4);
  assert.is((insns[5] as { dram_base: number }).dram_base, 0x5000 / 16);
  assert.equal(bufferUops(p, byName.uops), [{ dst_idx: 0, src_idx: 0, wgt_idx: 0 }]);
  const mem = dramImage(p);
  assert.is(mem[0x3000], 1);
  assert.is(mem[0x3000 + 15], 16);
  assert.is(mem.length, 0x6000 + 7 * 16);
});

test('MEM_BUFFER_ALIGN packs data and micro-op buffers below page size; the instruction stream stays on a page', () => {
  // the example with the config swapped for one whose buffers align to 256 bytes (the largest element: a 16x16 int8 weight)
  const dense = EXAMPLE.replace('.config default', '.config {"MEM_BUFFER_ALIGN":64}');
  const p = assemble(dense, 'dense.vasm');
  assert.is(p.config.mem.bufferAlign, 256);
  assert.equal(p.buffers.map((b) => b.name), ['uops', 'bias', 'inp', 'wgt', 'out', 'insns']);
  // uops 4 bytes, bias 64, inp 16, wgt 256, out 16 bytes: each on the next multiple of 256 from 256
  assert.equal(p.buffers.map((b) => b.addr), [0x100, 0x200, 0x300, 0x400, 0x500, 0x1000]);
  const insns = programInsns(p);
  assert.is((insns[2] as { dram_base: number }).dram_base, 0x400 / 256);
  assert.is((insns[0] as { dram_base: number }).dram_base, 0x100 / 4);
  const text = serializeProgram(p);
  assert.is(serializeProgram(parseProgram(text)), text);
  // the container checks each kind against its alignment
  const j = JSON.parse(text);
  const bad = (mutate: (x: typeof j) => void) => {
    const c = JSON.parse(text);
    mutate(c);
    try {
      parseProgram(JSON.stringify(c));
    } catch (e) {
      assert.instance(e, ProgramError);
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.match(bad((c) => (c.buffers[1].addr = 0x280)), /buffer bias: address 640 must be a non-zero multiple of 256 \(MEM_BUFFER_ALIGN\)/);
  assert.match(bad((c) => (c.buffers[5].addr = 0x600)), /buffer insns: address 1536 must be a non-zero multiple of 4096 \(one DRAM page\)/);
  assert.match(bad((c) => (c.buffers[0].addr = 0)), /buffer uops: address 0 must be a non-zero multiple of 256/);
  // a config with small elements keeps the key's alignment
  assert.is(assemble(EXAMPLE.replace('.config default', '.config hx8k-1x2'), 'x').config.mem.bufferAlign, 64);
});

test('round trip: assemble(disassemble(p)) reproduces p byte for byte', () => {
  const p = assemble(EXAMPLE, 'gemm-tiny.vasm');
  const text = disassemble(p);
  const q = assemble(text, 'listing');
  assert.is(serializeProgram(q), serializeProgram(p));
  assert.is(disassemble(q), text);
});

test('round trip through the JSON container', () => {
  const p = assemble(EXAMPLE, 'gemm-tiny.vasm');
  const q = parseProgram(serializeProgram(p));
  assert.is(serializeProgram(q), serializeProgram(p));
  assert.equal([...dramImage(q)], [...dramImage(p)]);
});

test('a non-preset config is written inline and survives the round trip', () => {
  const src = EXAMPLE.replace('.config default', '.config {"LOG_BATCH": 1, "LOG_BLOCK": 3, "LOG_WGT_BUFF_SIZE": 16, "ALU_MUL": true}')
    .replace(/size=256/, 'size=64').replace(/\.data 0101.*\n/, '\n');
  const p = assemble(src, 'x.vasm');
  assert.is(p.config.variant, '2x8_i8w8a32_15_15_16_17_mul');
  const text = disassemble(p);
  assert.match(text, /\.config \{"TARGET":"sim","LOG_BATCH":1,"LOG_BLOCK":3,"LOG_WGT_BUFF_SIZE":16,"ALU_MUL":true\}/);
  assert.is(serializeProgram(assemble(text)), serializeProgram(p));
});

function asmError(src: string, ...fragments: string[]) {
  try {
    assemble(src, 'bad.vasm');
  } catch (e) {
    assert.instance(e, ProgramError);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/);
    for (const f of fragments) assert.ok(msg.includes(f), `expected "${f}" in: ${msg}`);
    return;
  }
  assert.unreachable('accepted');
}

test('assembly errors carry file:line and say what is wrong', () => {
  asmError('.text\n  LOAD INP x_sz=3\n', 'bad.vasm:2:', 'x_sz is not a field of LOAD', 'did you mean x_size');
  asmError('.text\n  GEMM uop_end=99999\n', 'bad.vasm:2:', 'uop_end = 99999', '14 bits');
  asmError('.text\n  JUMP\n', 'bad.vasm:2:', 'unknown instruction JUMP');
  asmError('.text\n  LOAD INP dram_base=@nowhere\n', 'bad.vasm:2:', 'unknown buffer nowhere');
  asmError('.text\n  LOAD\n', 'bad.vasm:2:', 'needs a memory type');
  asmError('.text\n  ALU x_size=1\n', 'bad.vasm:2:', 'ALU needs an operation');
  asmError('.bogus\n', 'bad.vasm:1:', 'unknown directive .bogus');
  asmError('.buffer a\n  .data 0g\n.text\n FINISH\n', 'bad.vasm:2:', 'hexadecimal');
  asmError('.config {"LOG_UOP_BUFF_SIZE": 16}\n.text\n FINISH\n', 'bad.vasm:1:', 'LOG_UOP_BUFF_SIZE = 16');
  asmError('.buffer a size=4\n', 'no .text');
  asmError('.text\n  FINISH\n  GEMM uop_end=1 x_stride=3\n', 'bad.vasm:3:', 'x_stride is not a field of GEMM');
  asmError('.buffer a size=4096 addr=0x1000\n.buffer b size=16 addr=0x1000\n.text\n FINISH\n', 'overlap');
});

test('container errors: wrong format, bad base64, misaligned buffer, wrong size, two insn buffers', () => {
  const good = JSON.parse(serializeProgram(assemble(EXAMPLE)));
  const bad = (mutate: (j: any) => void, fragment: string) => {
    const j = structuredClone(good);
    mutate(j);
    try {
      parseProgram(JSON.stringify(j), 'p.json');
    } catch (e) {
      assert.instance(e, ProgramError);
      assert.ok((e as Error).message.includes(fragment) && (e as Error).message.startsWith('p.json:'), `expected "${fragment}" in: ${(e as Error).message}`);
      return;
    }
    assert.unreachable(`accepted (${fragment})`);
  };
  bad((j) => (j.format = 'elf'), 'not a vtw program container');
  bad((j) => (j.version = 9), 'version 9');
  bad((j) => (j.buffers[1].data = '***'), 'not base64');
  bad((j) => (j.buffers[1].addr = 0x2010), 'multiple of 4096');
  bad((j) => (j.buffers[1].addr = 0), 'non-zero multiple');
  bad((j) => (j.buffers[1].size = 32), 'data has 64 bytes but size is 32');
  bad((j) => ((j.buffers[4].kind = 'insn'), (j.buffers[4].role = 'input')), 'exactly one instruction buffer');
  bad((j) => (j.config = { LOG_BLOK: 3 }), "the program's config is invalid");
  bad((j) => (j.configName = '1x8'), 'does not match');
  assert.throws(() => parseProgram('{"format": ', 'p.json'), (e: Error) => /not valid JSON/.test(e.message));
});

test('a malformed instruction in a container is reported with its index', () => {
  const j = JSON.parse(serializeProgram(assemble(EXAMPLE)));
  const insns = j.buffers.find((b: any) => b.kind === 'insn');
  const bytes = Buffer.from(insns.data, 'base64');
  bytes[16 * 3] = 0x07; // opcode 7 in instruction 3
  insns.data = bytes.toString('base64');
  const p = parseProgram(JSON.stringify(j));
  assert.throws(() => programInsns(p), (e: Error) => /instruction 3: opcode 7/.test(e.message));
});

test.run();
