/**
 * The VTA generator: the top has exactly the ports of docs/rtl.md, every module prints
 * deterministically, and the whole design is clean under `verilator --lint-only -Wall` for every
 * preset (generic and iCE40 targets) and for random and extension configurations.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { PRESET_NAMES } from '../src/config/presets.ts';
import { deriveConfig } from '../src/config/derive.ts';
import { randomConfig } from '../src/config/random.ts';
import { Rng } from '../src/util/rng.ts';
import { ice40CellsSim, printModule, verilatorLint } from '../hw/hdl/index.ts';
import { generateVta, vtaTopName } from '../hw/vta/index.ts';
import { ERROR_CODES, errorCodeName } from '../hw/vta/regs.ts';
import { verilatorTest } from './helpers/tools.ts';
import { lintVta } from './helpers/lint-vta.ts';


test('the top has exactly the ports of docs/rtl.md, top module last, deterministic text', () => {
  const d = loadConfig('default');
  const mods = generateVta(d, { target: 'generic', configId: 1 });
  const top = mods[mods.length - 1];
  const ports = Object.fromEntries(top.ports().map((p) => [p.name, `${p.kind} ${p.width}`]));
  assert.equal(ports, {
    clk: 'input 1', rst: 'input 1',
    reg_wen: 'input 1', reg_addr: 'input 6', reg_wdata: 'input 32', reg_rdata: 'output 32',
    mem_req_valid: 'output 1', mem_req_write: 'output 1', mem_req_addr: 'output 32', mem_req_beats: 'output 9',
    mem_rvalid: 'input 1', mem_rdata: 'input 64', mem_wready: 'input 1', mem_wdata: 'output 64', mem_wstrb: 'output 8',
    mem_bvalid: 'input 1', mem_wvalid: 'output 1', busy: 'output 1',
    obs_start: 'output 3', obs_end_load: 'output 2', obs_end_compute: 'output 4', obs_end_store: 'output 2',
    obs_state_fetch: 'output 3', obs_state_load: 'output 3', obs_state_compute: 'output 3', obs_state_store: 'output 3',
  });
  const again = generateVta(d, { target: 'generic', configId: 1 });
  assert.equal(again.map(printModule), mods.map(printModule));
  assert.ok(new Set(mods.map((m) => m.name)).size === mods.length, 'module names are unique');
  assert.ok(mods.every((m) => m.name.startsWith(top.name)), 'every module carries the variant prefix');
});

test('error codes follow docs/microarch.md §9.1 and name the field the simulator reports', () => {
  assert.is(ERROR_CODES[0].code, 1);
  assert.is(errorCodeName(1), 'opcode');
  assert.is(errorCodeName(ERROR_CODES.length), 'wgt_idx');
  assert.equal([...new Set(ERROR_CODES.map((e) => e.field))], [
    'opcode', 'memory_type', 'alu_opcode', 'reserved', 'pop_prev_dep', 'push_prev_dep', 'pop_next_dep', 'push_next_dep',
    'y_pad_0', 'y_pad_1', 'x_pad_0', 'x_pad_1', 'sram_base', 'y_size', 'dram_base', 'uop_end', 'dst_idx', 'src_idx', 'wgt_idx',
  ]);
  assert.match(errorCodeName(99), /unknown/);
});

for (const name of PRESET_NAMES) {
  verilatorTest(`verilator -Wall is clean: preset ${name}`, async () => {
    await lintVta(loadConfig(name), 'generic');
  });
}

for (const name of ['ice40-small', 'ice40-tiny']) {
  verilatorTest(`verilator -Wall is clean: preset ${name}, iCE40 target (SB_MAC16)`, async () => {
    await lintVta(loadConfig(name), 'ice40');
  });
}

verilatorTest('verilator -Wall is clean: ALU_REQUANT and GEMM_REQUANT on an iCE40 target (shifts on SB_MAC16s)', async () => {
  await lintVta(loadConfig('{"TARGET":"ice40","LOG_BLOCK":1,"LOG_ACC_WIDTH":4,"LOG_UOP_BUFF_SIZE":9,"LOG_INP_BUFF_SIZE":8,"LOG_WGT_BUFF_SIZE":8,"LOG_ACC_BUFF_SIZE":9,"DSP_BUDGET":8,"ALU_REQUANT":true,"GEMM_REQUANT":true}'), 'ice40');
});

verilatorTest('verilator -Wall is clean: random valid configurations', async () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) await lintVta(randomConfig(new Rng(seed)), 'generic');
});

verilatorTest('verilator -Wall is clean: extension keys (GEMM_II, bus widths, burst and outstanding limits, ALU_MUL, ALU_REQUANT, GEMM_REQUANT, ALU_II, COMPUTE_READ_REG, TOKEN_PUSH_REG, UOP_ISSUE_REG, tiny buffers)', async () => {
  const configs = [
    { GEMM_II: 4, MEM_CYCLES_PER_BEAT: 3, COMPUTE_READ_REG: true, DMA_READ_ENGINES: 1 },
    { LOG_BATCH: 1, GEMM_II: 32, ALU_MUL: true, ALU_REQUANT: true, TOKEN_PUSH_REG: true },
    { LOG_BUS_WIDTH: 9, MEM_BURST_BEATS: 1, MEM_OUTSTANDING: 1 },
    { LOG_BUS_WIDTH: 5, MEM_BURST_BEATS: 256, MEM_OUTSTANDING: 64 },
    { LOG_BLOCK: 1, LOG_BUS_WIDTH: 9, LOG_ACC_WIDTH: 3, ALU_REQUANT: true, GEMM_REQUANT: true, UOP_ISSUE_REG: true, LOG_UOP_BUFF_SIZE: 5, LOG_INP_BUFF_SIZE: 5, LOG_WGT_BUFF_SIZE: 6, LOG_ACC_BUFF_SIZE: 6 },
    { LOG_BATCH: 1, LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, ALU_II: 4, GEMM_II: 2, ALU_MUL: true, ALU_REQUANT: true, COMPUTE_READ_REG: true, TOKEN_PUSH_REG: true, DMA_READ_ENGINES: 1, CMD_QUEUE_DEPTH: 0, LOG_UOP_BUFF_SIZE: 6, LOG_INP_BUFF_SIZE: 7, LOG_WGT_BUFF_SIZE: 8, LOG_ACC_BUFF_SIZE: 8 },
  ];
  for (const c of configs) await lintVta(deriveConfig(c), 'generic');
});

test.run();
