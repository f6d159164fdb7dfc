/**
 * Gate-level verification, the npm test tier (a REDUCED subset; test/slow/fpga-netlist.test.ts runs
 * every board preset in full): the synthesized netlist of the smallest board preset (up5k-1x2) runs
 * a subset of the conformance suite and a few random programs through the simulated UART link, with
 * the TS simulator's results and cycles; the refusals of `vtw test --engine board|board-netlist`
 * are one line each; the netlist cache does not run yosys twice.
 *
 * The gate-level build (yosys synth_ice40, then Verilator on the netlist and the iCE40 cell models)
 * is cached by content under the OS temp folder: a cold run costs minutes of CPU (docs/fpga.md,
 * "Gate-level verification"), a warm one seconds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthNetlist } from '../fpga/top/netlist.ts';
import { BOARD_PRESETS, SimBoardEngine } from '../fpga/top/engine.ts';
import { deriveConfig, PRESETS } from '../src/config/index.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { TsEngine } from '../sim/ts/engine.ts';
import type { ToolCommand } from '../fpga/flow.ts';
import { runCli } from './helpers/cli.ts';
import { verilatorTest } from './helpers/tools.ts';

/** Conformance cases of the reduced subset (every one of the 40 runs in test/slow). */
const SUBSET = 6;
const RANDOM = 2;

const oneLine = (r: { code: number; stderr: string }, re: RegExp) => {
  assert.is.not(r.code, 0);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, re);
};

test('a config that names no board: one line naming the board presets; --board without a board engine: one line', async () => {
  assert.equal(BOARD_PRESETS, ['hx8k-1x2', 'up5k-1x2', 'up5k-1x4', 'hx8k-1x4']);
  for (const engine of ['board', 'board-netlist']) {
    oneLine(await runCli('test', '--config', 'ice40-tiny', '--engine', engine), new RegExp(`engine ${engine} simulates a board top, but \\S+ names no board: use a board preset \\(--config hx8k-1x2 or --config up5k-1x2 or --config up5k-1x4 or --config hx8k-1x4\\) or give --board B`));
  }
  oneLine(await runCli('test', '--config', 'up5k-1x2', '--board', 'icebreaker'), /--board goes with --engine board or board-netlist/);
  oneLine(await runCli('test', '--config', 'up5k-1x2', '--engine', 'board-netlst'), /unknown engine board-netlst.*board-netlist/);
  oneLine(await runCli('test', '--config', 'hx8k-1x2', '--mem-bytes', '6144'), /--mem-bytes goes with --engine board or board-netlist/);
  oneLine(await runCli('test', '--config', 'hx8k-1x2', '--engine', 'board', '--mem-bytes', '5000'), /board memory of 5000 bytes: give a power of two or a multiple of 2048 bytes/);
});

test('without Verilator on PATH: one line, non-zero exit, nothing built', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'vtw-nopath-'));
  const saved = process.env.PATH;
  process.env.PATH = empty;
  try {
    oneLine(await runCli('test', '--config', 'up5k-1x2', '--engine', 'board-netlist'), /engine board-netlist is a gate-level simulation and needs Verilator: Verilator.* not found \(install: .*apt-get install .*verilator/);
  } finally {
    process.env.PATH = saved;
    rmSync(empty, { recursive: true, force: true });
  }
});

test('the netlist is synthesized once per content (a second request reads the cache)', async () => {
  let calls = 0;
  const stamp = `${process.pid}-${Date.now()}`;
  const yosys: ToolCommand = (args, files) => {
    calls++;
    assert.match(args[1], /synth_ice40 -top t -json top.json; write_verilog -noattr top.v$/);
    return { ...files, 'top.json': '{"modules":{"t":{"cells":{"a":{"type":"SB_LUT4"}}}}}', 'top.v': `module t; endmodule // ${stamp}\n` };
  };
  const design = { top: 't', files: { 't.v': `module t; endmodule // ${stamp}\n` } };
  const a = await synthNetlist(design, { yosys, yosysVersion: 'fake' });
  const b = await synthNetlist(design, { yosys, yosysVersion: 'fake' });
  assert.is(calls, 1);
  assert.not.ok(a.cached);
  assert.ok(b.cached);
  assert.is(b.verilog, a.verilog);
  assert.is(b.json, a.json, 'the JSON netlist is cached beside the Verilog');
  await synthNetlist({ ...design, files: { 't.v': `${design.files['t.v']}// changed\n` } }, { yosys, yosysVersion: 'fake' });
  assert.is(calls, 2);
  rmSync(join(a.path, '..'), { recursive: true, force: true });
});

verilatorTest(`reduced gate-level subset: up5k-1x2's synthesized netlist runs ${SUBSET} conformance cases and ${RANDOM} random programs with the TS simulator's results and cycles`, async () => {
  const d = deriveConfig(PRESETS.find((p) => p.name === 'up5k-1x2')!.json);
  const engine = new SimBoardEngine({ netlist: true });
  const ts = new TsEngine();
  const rows: Array<[string, boolean, number, number]> = [];
  for (const c of conformanceCases(d).slice(0, SUBSET)) {
    const built = c.build(d, 1);
    const r = await engine.run(built.program);
    const ref = await ts.run(built.program);
    assert.is(r.engine, 'board-netlist');
    rows.push([c.name, built.check(r).ok && !r.error, r.counters.cycles, ref.counters.cycles]);
  }
  for (let seed = 1; seed <= RANDOM; seed++) {
    const p = randomProgram(d, seed).program;
    const r = await engine.run(p);
    const ref = await ts.run(p);
    assert.is(r.error, undefined, r.error?.message);
    const out = p.buffers.filter((b) => b.role !== 'input');
    for (const b of out) assert.equal([...r.dram.subarray(b.addr, b.addr + b.size)], [...ref.dram.subarray(b.addr, b.addr + b.size)], `random#${seed} ${b.name}`);
    rows.push([`random#${seed}`, true, r.counters.cycles, ref.counters.cycles]);
  }
  assert.equal(rows.filter(([, ok, c, rc]) => !ok || c !== rc), []);
  assert.is(rows.length, SUBSET + RANDOM);
});

test.run();
