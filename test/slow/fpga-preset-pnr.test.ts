/**
 * The real place-and-route of the UP5K board presets on the iCEBreaker, config to bitstream through
 * the CLI: up5k-1x2, the smallest (about 1.5 minutes alone, 2.5 in a full run), and up5k-1x4, the
 * 16-MAC core at 24 MHz from the PLL (issue 17: met with the default seed and with --seed 1; about
 * 1.5 minutes each alone) (npm run test:slow; they left `npm test`
 * when that reached its 10 minutes). The HX8K preset and the other long flows are in
 * test/slow/fpga-pnr.test.ts; `npm test` keeps the flow's own checks on the demo top and the
 * gate-level simulation of up5k-1x2's synthesized netlist (test/fpga-netlist.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowSummary } from '../../fpga/flow.ts';
import { getBoard } from '../../fpga/boards/index.ts';
import { boardMemory } from '../../fpga/top/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';

const runs: [string, string[]][] = [['up5k-1x2', []], ['up5k-1x4', []], ['up5k-1x4', ['--seed', '1']]];
for (const [preset, extra] of runs) {
  test(`real flow through the CLI: vtw synth --config ${preset} ${extra.join(' ')}(a UP5K preset) fits the iCEBreaker and meets timing`, async () => {
    const out = mkdtempSync(join(tmpdir(), `vtw-synth-${preset}-`));
    try {
      const d = loadConfig(preset);
      const board = getBoard('icebreaker');
      const mem = boardMemory(d, board);
      const r = await runCli('synth', '--config', preset, ...extra, '--out', out, '--json');
      assert.is(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as FlowSummary & { design: { config: string; clockMhz: number; multipliers: number; memory: { memBytes: number } } };
      console.log(`    ${preset} on icebreaker: ${s.resources.logicCells.used}/${s.resources.logicCells.available} LCs, ${s.resources.ramBlocks.used} EBR, ${s.resources.spram.used} SPRAM, ${s.resources.dsps.used} DSP, fmax ${s.timing.fmaxMhz} MHz; synth ${s.seconds.synth} s, P&R ${s.seconds.pnr} s${extra.length ? ` (${extra.join(' ')})` : ''}`);
      assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), s);
      assert.is(s.board, 'icebreaker');
      assert.is(s.device, 'iCE40UP5K');
      assert.is(s.design.config, d.variant);
      assert.is(s.design.multipliers, d.multipliers);
      assert.is(s.design.clockMhz, d.clockMhz);
      assert.is(s.design.memory.memBytes, mem.memBytes);
      assert.is(s.resources.spram.used, mem.blocks); // the SPRAMs that play DRAM
      assert.ok(s.resources.dsps.used >= Math.min(8, d.multipliers / 2) && s.resources.dsps.used <= 8, String(s.resources.dsps.used));
      assert.is(s.timing.constraintMhz, d.clockMhz);
      if (preset === 'up5k-1x4') assert.ok(d.clockMhz >= 24, 'issue 17: the 16-MAC UP5K preset runs at 24 MHz or more');
      assert.ok(s.timing.met && s.timing.fmaxMhz! >= d.clockMhz, JSON.stringify(s.timing));
      assert.ok(s.resources.logicCells.used <= s.resources.logicCells.available);
      assert.ok(s.resources.logicCells.used > 0.5 * s.resources.logicCells.available, 'the VTA core is in the netlist');
      assert.is(readFileSync(join(out, 'top.bin')).length, 104090); // every UP5K bitstream has this size
      assert.ok(existsSync(join(out, 'verilog', `${s.top}.v`)), 'the board top Verilog is kept beside the bitstream');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test.run();
