import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BOARDS, PROGRAMMERS, PROGRAMMER_NAMES, boardProgrammers, getBoard, resolveProgrammer } from '../fpga/boards/index.ts';
import { DEVICES } from '../fpga/devices.ts';
import { boardPcf } from '../fpga/flow.ts';
import { runCli } from './helpers/cli.ts';

test('the six boards of the issue are there, with their parts and packages', () => {
  const parts = Object.fromEntries(BOARDS.map((b) => [b.name, `${b.device}/${b.package}`]));
  assert.equal(parts, {
    icebreaker: 'up5k/sg48', icesugar: 'up5k/sg48', upduino3: 'up5k/sg48',
    icestick: 'hx1k/tq144', 'hx8k-breakout': 'hx8k/ct256', 'tinyfpga-bx': 'lp8k/cm81',
  });
});

test('every board is consistent: distinct pins, known device, programmers with a {file} argument', () => {
  for (const b of BOARDS) {
    assert.ok(DEVICES[b.device], b.name);
    const pins = [b.clock.pin, ...b.leds.map((l) => l.pin), b.uart.rx, b.uart.tx, ...b.tie.map((t) => t.pin)];
    assert.is(new Set(pins).size, pins.length, `${b.name}: a pin is used twice: ${pins.join(' ')}`);
    assert.ok(b.clock.mhz > 0 && b.leds.length > 0, b.name);
    assert.ok(b.programmers.length > 0, b.name);
    for (const ref of b.programmers) {
      // The board's arguments fill placeholders the tool's templates have.
      const tool = PROGRAMMERS[ref.tool];
      const placeholders = [...tool.flash, ...(tool.sram ?? [])].map((a) => /^\{(\w+)\}$/.exec(a)?.[1]).filter(Boolean);
      for (const k of Object.keys(ref.args ?? {})) assert.ok(placeholders.includes(k), `${b.name} ${ref.tool}: no {${k}} in its templates`);
      if (ref.sram) assert.ok(tool.sram, `${b.name}: ${ref.tool} cannot load SRAM`);
    }
    for (const p of boardProgrammers(b)) {
      assert.ok(p.flash.includes('{file}'), `${b.name} ${p.tool} flash`);
      if (p.sram) assert.ok(p.sram.includes('{file}'), `${b.name} ${p.tool} sram`);
      assert.not.ok([...p.flash, ...(p.sram ?? [])].some((a) => /^\{(?!file\})/.test(a)), `${b.name} ${p.tool}: a placeholder is left`);
      assert.match(p.usb, /^[0-9a-f]{4}:[0-9a-f]{4}$/);
      assert.ok(p.install.length > 0);
    }
  }
});

test('programmers are a table: every entry is complete, boards fill in their own arguments', () => {
  for (const name of PROGRAMMER_NAMES) {
    const t = PROGRAMMERS[name];
    assert.is(t.name, name);
    assert.ok(t.command.length > 0 && t.install.length > 0, name);
    assert.ok(t.flash.includes('{file}'), name);
  }
  const up = boardProgrammers(getBoard('upduino3')).find((p) => p.tool === 'openFPGALoader')!;
  assert.equal(up.flash, ['-b', 'ice40_generic', '-c', 'ft232', '-f', '{file}']);
  assert.is(up.sram, null);
  const ice = boardProgrammers(getBoard('icebreaker')).find((p) => p.tool === 'openFPGALoader')!;
  assert.equal([ice.flash, ice.sram], [['-b', 'ice40_generic', '-f', '{file}'], ['-b', 'ice40_generic', '{file}']]);
  assert.throws(() => resolveProgrammer({ tool: 'dfu-util' as never, usb: '0000:0000', sram: false }), /unknown programmer dfu-util/);
});

test('pin facts checked against the boards\' public pin lists (docs/fpga.md sources)', () => {
  const b = getBoard('icebreaker');
  assert.equal([b.clock.pin, b.uart.rx, b.uart.tx, b.leds.map((l) => l.pin).join(',')], ['35', '6', '9', '11,37']);
  const s = getBoard('icestick');
  assert.equal([s.clock.pin, s.uart.rx, s.uart.tx, s.leds.map((l) => l.pin).join(',')], ['21', '9', '8', '99,98,97,96,95']);
  const h = getBoard('hx8k-breakout');
  assert.equal([h.clock.pin, h.uart.rx, h.uart.tx], ['J3', 'B10', 'B12']);
  assert.is(getBoard('tinyfpga-bx').clock.mhz, 16);
  assert.equal(getBoard('upduino3').tie.map((t) => [t.pin, t.value]), [['16', 1]]);
});

test('the generated PCF names the board ports; a one-bit LED port is covered too', () => {
  const pcf = boardPcf(getBoard('icesugar'));
  assert.match(pcf, /^set_io -nowarn clk 35$/m);
  assert.match(pcf, /^set_io -nowarn led\[2\] 39$/m);
  assert.match(pcf, /^set_io -nowarn led 40$/m);
  assert.match(pcf, /^set_io -nowarn uart_rx 4$/m);
  assert.match(pcf, /^set_io -nowarn uart_tx 6$/m);
  assert.match(boardPcf(getBoard('upduino3')), /^set_io -nowarn flash_cs_n 16$/m);
});

test('unknown board: one line with a suggestion', () => {
  assert.throws(() => getBoard('icebraker'), /unknown board 'icebraker' \(did you mean icebreaker\?\)/);
});

test('vtw boards lists every board; --json carries pins, programmers and resources', async () => {
  const r = await runCli('boards');
  assert.is(r.code, 0);
  for (const b of BOARDS) assert.match(r.stdout, b.name);
  assert.match(r.stdout, 'iCE40UP5K-SG48');
  const j = await runCli('boards', '--json');
  const data = JSON.parse(j.stdout) as Array<{ name: string; uart: { rx: string }; resources: { logicCells: number }; programmers: unknown[] }>;
  assert.is(data.length, BOARDS.length);
  const ice = data.find((d) => d.name === 'icebreaker')!;
  assert.is(ice.uart.rx, '6');
  assert.is(ice.resources.logicCells, 5280);
  assert.ok(ice.programmers.length >= 1);
});

test.run();
