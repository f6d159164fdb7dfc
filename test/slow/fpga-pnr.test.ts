/**
 * Slow tier (`npm run test:slow`, docs/testing.md): real place-and-route runs that take minutes on
 * 2 cores: a small design on an UP5K and the HX8K VTA presets on their board (hx8k-1x2, 1x2 at
 * 12 MHz; hx8k-1x4, 16 LUT multipliers at 24 MHz from the PLL; about 90 % of the part each).
 * The smallest VTA board preset, up5k-1x2, is test/slow/fpga-preset-pnr.test.ts; `npm test` keeps
 * the demo on an HX1K (test/fpga-flow.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBoard, type Board } from '../../fpga/boards/index.ts';
import { runFlow, type FlowSummary } from '../../fpga/flow.ts';
import { uartRx, uartTx } from '../../fpga/link/rtl.ts';
import { Module, add, lit, not, printModule, reduceAnd } from '../../hw/hdl/index.ts';
import { boardMemory } from '../../fpga/top/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';

/** A counter on the LEDs and a UART echo (each byte comes back plus one), built from the link's UART modules. */
function echoTop(board: Board): { files: Record<string, string>; top: string } {
  const cpb = Math.round((board.clock.mhz * 1e6) / 115200);
  const rxm = uartRx('echo_rx', cpb);
  const txm = uartTx('echo_tx', cpb);
  const m = new Module('echo_top');
  const clk = m.input('clk');
  const rx = m.input('uart_rx');
  const tx = m.output('uart_tx');
  const n = board.leds.length;
  const led = m.output('led', n);
  const count = m.reg('count', 24);
  const por = m.reg('por', 2);
  const rst = m.wire('rst');
  m.assign(rst, not(reduceAnd(por)));
  m.seq(clk, (b) => {
    b.set(count, add(count, lit(24, 1)));
    b.if(rst, (t) => t.set(por, add(por, lit(2, 1))));
  });
  const valid = m.wire('valid');
  const data = m.wire('data', 8);
  const line = m.wire('line');
  const busy = m.wire('busy');
  m.instance(rxm, 'u_rx', { clk, rst, rx, valid, data });
  m.instance(txm, 'u_tx', { clk, rst, start: valid, data: add(data, lit(8, 1)), tx: line, busy });
  m.assign(tx, line);
  m.assign(led, count.slice(23, 24 - n));
  return { top: 'echo_top', files: Object.fromEntries([rxm, txm, m].map((x) => [`${x.name}.v`, printModule(x)])) };
}

test('real flow (WASM yosys + nextpnr + icepack): counter + UART echo on an UP5K board', async () => {
  const board = getBoard('icebreaker');
  const d = echoTop(board);
  const r = await runFlow({ board, files: d.files, top: d.top, seed: 1 });
  const s = r.summary;
  console.log(`    icebreaker: ${s.resources.logicCells.used} LCs, ${s.resources.flipFlops} FFs, ${s.resources.ramBlocks.used} EBR, fmax ${s.timing.fmaxMhz} MHz; synth ${s.seconds.synth} s, P&R ${s.seconds.pnr} s`);
  assert.is(r.bitstream.length, 104090);
  assert.is(s.resources.logicCells.available, 5280);
  assert.ok(s.resources.logicCells.used > 40 && s.resources.logicCells.used < 400, String(s.resources.logicCells.used));
  assert.ok(s.resources.flipFlops > 40);
  assert.is(s.resources.ramBlocks.used, 0);
  assert.is(s.resources.io.used, 5); // clk, uart_rx, uart_tx, 2 LEDs
  assert.is(s.timing.constraintMhz, 12);
  assert.ok(s.timing.met && s.timing.fmaxMhz! > 12, JSON.stringify(s.timing));
  assert.match(s.tools.yosys, /^Yosys 0\.\d+/);
});

for (const preset of ['hx8k-1x2', 'hx8k-1x4']) {
  test(`real flow through the CLI: vtw synth --config ${preset} (an HX8K preset) fits its board and meets timing`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'vtw-synth-vta-'));
    try {
      const d = loadConfig(preset);
      const mem = boardMemory(d, getBoard('hx8k-breakout'));
      const r = await runCli('synth', '--config', preset, '--out', out, '--json');
      assert.is(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as FlowSummary & { design: { config: string; clockMhz: number; pll: unknown; memory: { memBytes: number } } };
      console.log(`    ${preset} on hx8k-breakout: ${s.resources.logicCells.used}/${s.resources.logicCells.available} LCs, ${s.resources.ramBlocks.used} EBR, fmax ${s.timing.fmaxMhz} MHz; synth ${s.seconds.synth} s, P&R ${s.seconds.pnr} s`);
      assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), s);
      assert.is(s.board, 'hx8k-breakout');
      assert.is(s.device, 'iCE40HX8K');
      assert.is(s.design.config, d.variant);
      assert.is(s.design.clockMhz, d.clockMhz);
      assert.is(Boolean(s.design.pll), d.clockMhz !== 12, 'a PLL exactly when the core runs off the 12 MHz board clock');
      assert.is(s.design.memory.memBytes, mem.memBytes); // 8 KiB by default; hx8k-1x4's BOARD_MEM_BYTES 6 KiB
      assert.is(s.timing.constraintMhz, d.clockMhz);
      assert.ok(s.timing.met && s.timing.fmaxMhz! >= d.clockMhz, JSON.stringify(s.timing));
      assert.ok(s.resources.logicCells.used <= s.resources.logicCells.available);
      assert.ok(s.resources.logicCells.used > 0.5 * s.resources.logicCells.available, 'the VTA core is in the netlist');
      // the board memory's EBR (4 byte lanes x 512 bytes each) plus the core's SRAMs
      assert.ok(s.resources.ramBlocks.used > mem.blocks && s.resources.ramBlocks.used <= 32, String(s.resources.ramBlocks.used));
      assert.is(s.resources.io.used, 11); // clk, uart_rx, uart_tx, 8 LEDs
      assert.is(readFileSync(join(out, 'top.bin')).length, 135100); // every HX8K bitstream has this size
      assert.ok(existsSync(join(out, 'verilog', `${s.top}.v`)), 'the board top Verilog is kept beside the bitstream');
      assert.match(r.stderr, `VTA ${s.design.config}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test.run();
