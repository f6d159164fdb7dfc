import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, loadConfig, PRESETS, randomConfig } from '../src/config/index.ts';
import { ConfigError } from '../src/errors.ts';
import { Rng } from '../src/util/rng.ts';
import { readFileSync } from 'node:fs';
import { configDoc } from '../scripts/gen-config-doc.ts';

test('default config: derived quantities of vta-reference Part B §1.3', () => {
  const d = loadConfig('default');
  assert.is(d.name, '1x16_i8w8a32_15_15_18_17');
  assert.is(d.model, 'sim_1x16_i8w8a32_15_15_18_17');
  assert.equal([d.inpWidth, d.wgtWidth, d.accWidth, d.outWidth], [8, 8, 32, 8]);
  assert.equal([d.batch, d.blockIn, d.blockOut], [1, 16, 16]);
  assert.equal({ ...d.elemBytes }, { uop: 4, inp: 16, wgt: 256, acc: 64, out: 16 });
  assert.equal({ ...d.depth }, { uop: 8192, inp: 2048, wgt: 1024, acc: 2048, out: 2048 });
  assert.equal({ ...d.buffBytes }, { uop: 32768, inp: 32768, wgt: 262144, acc: 131072, out: 32768 });
  assert.is(d.logOutBuffSize, 15);
  assert.is(d.busWidth, 64);
  // HLS *_MAT_AXI_RATIO with a 64-bit bus: inp 2, wgt 32, acc 8, out 2.
  assert.equal([d.beatsPerElem.inp, d.beatsPerElem.wgt, d.beatsPerElem.acc, d.beatsPerElem.out], [2, 32, 8, 2]);
  assert.is(d.clockMhz, 100);
  assert.is(d.multipliers, 256);
});

test('targets set the bus width and clock as VTA pkg_config does', () => {
  const u = loadConfig('ultra96');
  assert.is(u.busWidth, 128);
  assert.is(u.clockMhz, 333);
  assert.is(u.beatsPerElem.wgt, 16);
  assert.is(loadConfig('pynq').busWidth, 64);
});

test('every preset derives, with canonical names built as VTA builds them', () => {
  const names = Object.fromEntries(PRESETS.map((p) => [p.name, deriveConfig(p.json).name]));
  assert.is(names.default, '1x16_i8w8a32_15_15_18_17');
  assert.is(names['batch2-block8'], '2x8_i8w8a32_15_15_16_17');
  assert.is(names.block32, '1x32_i8w8a32_15_15_18_17');
  assert.is(names['ice40-small'], '1x4_i8w8a32_10_9_10_11');
});

test('block 32: depths of the reference (inp 10, wgt 8, acc 10) and ALU positions of §2.10', () => {
  const d = loadConfig('block32');
  assert.equal([d.logDepth.inp, d.logDepth.wgt, d.logDepth.acc], [10, 8, 10]);
  const alu = d.layout.alu.byName;
  assert.equal([alu.alu_opcode.lsb, alu.use_imm.lsb, alu.imm.lsb, alu.imm.width], [104, 107, 108, 16]);
  assert.equal(d.layout.uop.fields.map((f) => f.width), [10, 10, 8]);
});

test('default layout matches the bit tables of vta-reference §2.5–2.9', () => {
  const d = loadConfig('default');
  const pos = (s: { fields: readonly { name: string; lsb: number; width: number }[] }) =>
    Object.fromEntries(s.fields.map((f) => [f.name, `${f.lsb + f.width - 1}:${f.lsb}`]));
  assert.equal(pos(d.layout.mem), {
    opcode: '2:0', pop_prev_dep: '3:3', pop_next_dep: '4:4', push_prev_dep: '5:5', push_next_dep: '6:6',
    memory_type: '9:7', sram_base: '25:10', dram_base: '57:26', y_size: '79:64', x_size: '95:80',
    x_stride: '111:96', y_pad_0: '115:112', y_pad_1: '119:116', x_pad_0: '123:120', x_pad_1: '127:124',
  });
  assert.equal(pos(d.layout.gemm), {
    opcode: '2:0', pop_prev_dep: '3:3', pop_next_dep: '4:4', push_prev_dep: '5:5', push_next_dep: '6:6',
    reset_reg: '7:7', uop_bgn: '20:8', uop_end: '34:21', iter_out: '48:35', iter_in: '62:49',
    dst_factor_out: '74:64', dst_factor_in: '85:75', src_factor_out: '96:86', src_factor_in: '107:97',
    wgt_factor_out: '117:108', wgt_factor_in: '127:118',
  });
  const alu = pos(d.layout.alu);
  assert.equal([alu.src_factor_out, alu.src_factor_in, alu.alu_opcode, alu.use_imm, alu.imm], ['96:86', '107:97', '110:108', '111:111', '127:112']);
  assert.equal(pos(d.layout.uop), { dst_idx: '10:0', src_idx: '21:11', wgt_idx: '31:22' });
});

test('legacy keys: LOG_BLOCK_IN/OUT stand for LOG_BLOCK, LOG_OUT_WIDTH and HW_FREQ are honoured', () => {
  const d = deriveConfig({
    LOG_BLOCK_IN: 3, LOG_BLOCK_OUT: 3, LOG_OUT_WIDTH: 3, HW_FREQ: 150, HW_CLK_TARGET: 6.6,
    LOG_INP_BUFF_SIZE: 14, LOG_WGT_BUFF_SIZE: 16, LOG_ACC_BUFF_SIZE: 16,
  });
  assert.is(d.blockIn, 8);
  assert.is(d.name, '1x8_i8w8a32_15_14_16_16');
  assert.is(d.clockMhz, 150);
});

test('a verbatim VTA config file (all ten keys + HW_VER) is accepted', () => {
  const d = deriveConfig({
    TARGET: 'pynq', HW_VER: '0.0.2', LOG_INP_WIDTH: 3, LOG_WGT_WIDTH: 3, LOG_ACC_WIDTH: 5, LOG_BATCH: 0, LOG_BLOCK: 4,
    LOG_UOP_BUFF_SIZE: 15, LOG_INP_BUFF_SIZE: 15, LOG_WGT_BUFF_SIZE: 18, LOG_ACC_BUFF_SIZE: 17,
  });
  assert.is(d.model, 'pynq_1x16_i8w8a32_15_15_18_17');
});

const tinyBuffers = { LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_WGT_BUFF_SIZE: 8, LOG_ACC_BUFF_SIZE: 10 };

/** Assert that a config is rejected with a message containing every fragment. */
function rejects(json: unknown, ...fragments: string[]) {
  try {
    deriveConfig(json);
  } catch (e) {
    assert.instance(e, ConfigError);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/, 'one line');
    for (const f of fragments) assert.ok(msg.includes(f), `expected "${f}" in: ${msg}`);
    return;
  }
  assert.unreachable(`config ${JSON.stringify(json)} was accepted`);
}

test('error: unknown key names it and suggests the closest', () => rejects({ LOG_BLOK: 3 }, 'LOG_BLOK', 'did you mean LOG_BLOCK'));
test('error: wrong type', () => rejects({ LOG_BATCH: '1' }, 'LOG_BATCH', '"1"', 'integer in 0..4'));
test('error: value out of range', () => rejects({ LOG_BLOCK: 9 }, 'LOG_BLOCK', '9', '1..6'));
test('error: non-integer', () => rejects({ LOG_INP_WIDTH: 2.5 }, 'LOG_INP_WIDTH', '2.5'));
test('error: unknown target', () => rejects({ TARGET: 'zynq' }, 'TARGET', 'zynq', 'pynq'));
test('error: not a power of two', () => rejects({ MEM_BURST_BEATS: 12 }, 'MEM_BURST_BEATS', 'power of two'));
test('error: bool expected', () => rejects({ ALU_MUL: 1 }, 'ALU_MUL', 'true or false'));
test('CMD_QUEUE_DEPTH 0 (no command queues) is accepted; 3 is not a power of two', () => {
  assert.is(deriveConfig({ CMD_QUEUE_DEPTH: 0 }).cmdQueueDepth, 0);
  rejects({ CMD_QUEUE_DEPTH: 3 }, 'CMD_QUEUE_DEPTH', 'power of two');
  rejects({ CMD_QUEUE_DEPTH: -1 }, 'CMD_QUEUE_DEPTH', '0..4096');
});
test('error: not an object', () => rejects([1, 2], 'JSON object'));
test('error: GEMM layout overflow (LOG_UOP_BUFF_SIZE 16) names the key and the valid value', () =>
  rejects({ LOG_UOP_BUFF_SIZE: 16 }, 'LOG_UOP_BUFF_SIZE = 16', '128-bit GEMM instruction', 'LOG_UOP_BUFF_SIZE <= 15'));
test('error: batch 2 / block 8 with the default weight buffer overflows GEMM', () =>
  rejects({ LOG_BATCH: 1, LOG_BLOCK: 3 }, 'wgt_factor_in', 'LOG_WGT_BUFF_SIZE <= 16'));
test('error: micro-op overflow (32 bits)', () =>
  rejects({ LOG_INP_BUFF_SIZE: 14, LOG_WGT_BUFF_SIZE: 19 }, '32-bit micro-op', 'wgt_idx', 'LOG_WGT_BUFF_SIZE <= 18'));
test('error: buffer deeper than the 16-bit sram_base reaches', () => rejects({ LOG_BLOCK: 1, LOG_ACC_BUFF_SIZE: 22 }, 'LOG_ACC_BUFF_SIZE', '16-bit sram_base'));
test('error: buffer smaller than two elements', () => rejects({ LOG_WGT_BUFF_SIZE: 8 }, 'LOG_WGT_BUFF_SIZE', 'use LOG_WGT_BUFF_SIZE >= 9'));
test('error: sub-byte element', () => rejects({ LOG_BLOCK: 1, LOG_INP_WIDTH: 1 }, 'INP element would be 4 bits'));
test('error: LOG_BLOCK_IN != LOG_BLOCK_OUT', () => rejects({ LOG_BLOCK_IN: 3, LOG_BLOCK_OUT: 4 }, 'LOG_BLOCK_IN = 3', 'LOG_BLOCK_OUT = 4'));
test('error: LOG_OUT_WIDTH != LOG_INP_WIDTH', () => rejects({ LOG_OUT_WIDTH: 2 }, 'LOG_OUT_WIDTH = 2'));
test('error: HW_FREQ contradicts CLOCK_MHZ', () => rejects({ HW_FREQ: 100, CLOCK_MHZ: 200 }, 'HW_FREQ'));
test('error: GEMM_II larger than the output lanes', () => rejects({ ...tinyBuffers, LOG_BLOCK: 1, GEMM_II: 4 }, 'GEMM_II = 4', 'GEMM_II <= 2'));

test('loadConfig: unknown preset suggests one; missing file and bad JSON are one line', () => {
  assert.throws(() => loadConfig('defualt'), (e: Error) => e instanceof ConfigError && /did you mean default/.test(e.message));
  assert.throws(() => loadConfig('./nope.json'), (e: Error) => /does not exist/.test(e.message));
  assert.throws(() => loadConfig('{"LOG_BLOCK": '), (e: Error) => /not valid JSON/.test(e.message));
  assert.is(loadConfig('{"LOG_BATCH": 1, "LOG_BLOCK": 3, "LOG_WGT_BUFF_SIZE": 16}').blockIn, 8);
});

test('random configs are valid and respect the packing rule (no field crosses a 64-bit unit)', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 200; i++) {
    const d = randomConfig(rng);
    for (const s of [d.layout.mem, d.layout.gemm, d.layout.alu]) {
      let prevEnd = 0;
      for (const f of s.fields) {
        assert.ok(Math.floor(f.lsb / 64) === Math.floor((f.lsb + f.width - 1) / 64), `${f.name} straddles a unit in ${d.name}`);
        assert.ok(f.lsb >= prevEnd);
        prevEnd = f.lsb + f.width;
      }
      assert.ok(prevEnd <= 128);
    }
    assert.ok(d.layout.uop.usedBits <= 32);
  }
});

test('docs/config.md is generated from the key table (run: npx tsx scripts/gen-config-doc.ts)', () => {
  assert.is(readFileSync('docs/config.md', 'utf8'), configDoc());
});

test.run();
