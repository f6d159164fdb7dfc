/**
 * Co-simulation: the TypeScript simulator and the Verilated RTL on the same programs must agree on
 * memory, total cycles, per-module counters and every instruction's start and end cycle; error
 * programs must agree on the error kind and instruction. Needs verilator (`.ci/run` installs it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/index.ts';
import { assemble } from '../src/program/index.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { compareResults } from '../sim/compare.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import type { Program } from '../src/program/container.ts';
import { runCli } from './helpers/cli.ts';
import { verilatorTest } from './helpers/tools.ts';

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
// Six configurations, 60 random programs each: 360 random programs per `npm test`. hx8k-1x2
// brings register command queues of depth 1, 16-bit accumulators and 15-bit DRAM addresses;
// up5k-1x2 no command queues (the decode stored in the fetch buffer), one read engine for load and
// compute, the fetch buffer in block RAM fed by 32-bit beats, and the decode's and ALU shifts'
// products on SB_MAC16s.
// The last: command queues with one read engine (the load module's and compute's LOADs contend for
// it) and the fetch buffer in block RAM fed by 64-bit beats.
const SHARED_ENGINE = JSON.stringify({
  TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 11,
  DMA_READ_ENGINES: 1, FETCH_BUFFER_BRAM: true, CMD_QUEUE_DEPTH: 2,
});
const CONFIGS = ['ice40-tiny', 'ice40-small', 'hx8k-1x2', 'up5k-1x2', 'default', SHARED_ENGINE];
const label = (name: string) => (name === SHARED_ENGINE ? 'queues of 2, one read engine, fetch buffer in block RAM' : name);
const RANDOM_PER_CONFIG = 60;

async function agree(p: Program, what: string) {
  const a = runSync(p);
  const b = await rtl.run(p);
  const mm = compareResults(p, a, b);
  assert.equal(mm, [], `${what}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
  return { a, b };
}

for (const name of CONFIGS) {
  verilatorTest(`${label(name)}: the conformance suite matches bit for bit and cycle for cycle`, async () => {
    const d = loadConfig(name);
    for (const c of conformanceCases(d)) {
      const built = c.build(d, 1);
      const { b } = await agree(built.program, c.name);
      assert.ok(built.check(b).ok, `${c.name} on the RTL: ${built.check(b).message}`);
    }
  });

  verilatorTest(`${label(name)}: ${RANDOM_PER_CONFIG} random programs match`, async () => {
    const d = loadConfig(name);
    for (let s = 1; s <= RANDOM_PER_CONFIG; s++) await agree(randomProgram(d, 1000 + s).program, `seed ${1000 + s}`);
  });
}

verilatorTest('error programs: both engines report the same illegal instruction and the same deadlock', async () => {
  const illegal = assemble('.config ice40-tiny\n.text\n  GEMM uop_end=1 iter_out=1 iter_in=1\n  LOAD INP sram_base=5000 x_size=1 y_size=1 x_stride=1 dram_base=256\n  FINISH\n');
  const i = await agree(illegal, 'illegal');
  assert.is(i.b.error?.kind, 'illegal');
  assert.is(i.b.error?.insnIndex, 1);
  const deadlock = assemble('.config ice40-tiny\n.text\n  LOAD INP x_size=1 y_size=1 x_stride=1 pop_next_dep dram_base=256\n  FINISH pop_prev_dep\n');
  // DRAM range (the RTL learns the DRAM size from its dram_size register) and an undecodable opcode.
  const range = assemble('.config ice40-tiny\n.text\n  LOAD INP x_size=4 y_size=1 x_stride=4 dram_base=0x100000\n  FINISH\n');
  const rg = await agree(range, 'dram range');
  assert.is(rg.b.error?.kind, 'illegal');
  assert.is(rg.b.error?.field, 'dram_base');
  // With MEM_ADDR_BITS 15 the fetch checks in 17-bit arithmetic: a range past dram_size, one whose
  // dram_base has bits above 2^15 set, and one whose y extent alone reaches past 2^15 elements.
  for (const insn of ['x_size=4 y_size=1 x_stride=4 dram_base=0x900', 'x_size=1 y_size=1 x_stride=1 dram_base=0x10000', 'x_size=1 y_size=9 x_stride=0xffff dram_base=1']) {
    const narrow = assemble(`.config hx8k-1x2\n.text\n  LOAD INP ${insn}\n  FINISH\n`);
    const n = await agree(narrow, `dram range (15-bit addresses): ${insn}`);
    assert.is(n.b.error?.field, 'dram_base', insn);
  }
  const inside = await agree(assemble('.config hx8k-1x2\n.text\n  LOAD INP x_size=4 y_size=2 x_stride=8 dram_base=0x1f0\n  FINISH\n'), 'dram range inside');
  assert.is(inside.b.error, undefined);
  const bad = assemble('.config ice40-tiny\n.text\n  GEMM\n  FINISH\n');
  bad.buffers.find((b) => b.kind === 'insn')!.data![16] = 0x07; // opcode 7 in instruction 1
  const bo = await rtl.run(bad);
  assert.is(bo.error?.kind, 'illegal');
  assert.is(bo.error?.insnIndex, 1);
  const dl = await agree(deadlock, 'deadlock');
  assert.is(dl.b.error?.kind, 'deadlock');
  assert.is(dl.a.error?.kind, 'deadlock');
});

verilatorTest('a full token queue holds completions: the 8-entry in-flight list stops compute on both engines', async () => {
  // 255 GEMMs fill g2s, 20 more cannot complete until the STOREs pop: compute starts 8 of them
  // (its in-flight list), the rest wait in the command queue while fetch reaches the STOREs
  const lines = [
    ...Array.from({ length: 275 }, () => '  GEMM push_next_dep'),
    ...Array.from({ length: 275 }, () => '  STORE OUT pop_prev_dep'),
    '  FINISH',
  ];
  const p = assemble(`.config ice40-tiny\n.text\n${lines.join('\n')}\n`);
  const { a } = await agree(p, 'in-flight list');
  assert.is(a.error, undefined);
  // the ninth blocked GEMM starts only when the first of them completes
  const t = (i: number) => a.insnTiming!.find((x) => x.index === i)!;
  assert.ok(t(263).start >= t(255).end, `GEMM 263 starts at ${t(263).start}, GEMM 255 ends at ${t(255).end}`);
});

verilatorTest('a compiled conv2d (compiler/, vtw op) runs bit-exact and cycle-exact on the RTL', async () => {
  const r = await runCli('op', 'conv2d', '--config', 'ice40-tiny', '--shape', '6,6,4,4,3,1,1', '--engine', 'both', '--check', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.match, true);
});

test.run();
