import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBoard } from '../fpga/boards/index.ts';
import { demoTop } from '../fpga/demo.ts';
import { planPll } from '../fpga/pll.ts';
import { FitError, FlowError, formatSummary, runFlow, type FlowProgress, type FlowSummary, type FlowTools, type Tree } from '../fpga/flow.ts';
import { Module, Unary, add, lit, printModule } from '../hw/hdl/index.ts';
import { VtwError } from '../src/errors.ts';
import { loadConfig } from '../src/config/load.ts';
import { deriveConfig } from '../src/config/derive.ts';
import { PRESETS } from '../src/config/presets.ts';
import { smallerPresetHint } from '../fpga/fit.ts';
import { runCli } from './helpers/cli.ts';

const enc = new TextEncoder();
type Sink = (b: Uint8Array | null) => void;

/** Fake tools: record arguments, print a log, return canned files. */
function fakes(o: { yosysLog?: string; yosysFail?: boolean; pnrLog?: string; pnrTrap?: boolean; report?: object } = {}) {
  const calls: Record<string, string[]> = {};
  const netlist = {
    modules: {
      t: {
        cells: {
          a: { type: 'SB_LUT4' }, b: { type: 'SB_LUT4' }, c: { type: 'SB_LUT4' },
          d: { type: 'SB_DFF' }, e: { type: 'SB_DFFE' }, f: { type: 'SB_DFFSR' }, g: { type: 'SB_CARRY' },
          h: { type: 'SB_RAM40_4K' }, i: { type: 'SB_IO' },
        },
      },
    },
  };
  const tools: FlowTools = {
    versions: { yosys: 'fake-yosys 1', nextpnr: 'fake-nextpnr 2' },
    yosys: (args, _files, io) => {
      calls.yosys = args;
      (io.stdout as Sink)(enc.encode(o.yosysLog ?? '\n /---\n |  yosys\n\n Yosys 9.99 (fake)\n\n2.1. Executing Verilog-2005 frontend: a.v\n2.2. Executing HIERARCHY pass (managing design hierarchy).\n'));
      if (o.yosysFail) throw new Error('Exit: 1');
      return { 'top.json': JSON.stringify(netlist) } as Tree;
    },
    nextpnr: (args, files, io) => {
      calls.nextpnr = args;
      calls.pcf = [String(files['top.pcf'])];
      (io.stdout as Sink)(enc.encode(o.pnrLog ?? 'Info: Packing constants..\nInfo: Device utilisation:\nInfo: \t         ICESTORM_LC:     120/   5280     2%\nInfo: \t        ICESTORM_RAM:       1/     30     3%\n\nInfo: Routing..\n'));
      if (o.pnrTrap) throw new Error('RuntimeError: unreachable');
      const report = o.report ?? {
        utilization: {
          ICESTORM_LC: { used: 120, available: 5280 }, ICESTORM_RAM: { used: 1, available: 30 }, ICESTORM_SPRAM: { used: 2, available: 4 },
          ICESTORM_DSP: { used: 3, available: 8 }, SB_IO: { used: 5, available: 96 }, SB_GB: { used: 2, available: 8 }, ICESTORM_PLL: { used: 1, available: 1 },
        },
        fmax: { 'clk$glb': { achieved: 30.123, constraint: 24 }, 'slow$glb': { achieved: 20.5, constraint: 24 } },
      };
      return { 'top.asc': '.device 5k', 'report.json': JSON.stringify(report) } as Tree;
    },
    icepack: (args) => {
      calls.icepack = args;
      return { 'top.bin': new Uint8Array(104090) } as Tree;
    },
  };
  return { tools, calls };
}

const src = { 't.v': 'module t(input clk); endmodule\n' };

async function rejects(f: () => Promise<unknown>, check: RegExp | ((e: Error) => boolean)): Promise<void> {
  const e = await f().then(() => null, (x: Error) => x);
  assert.ok(e, 'expected a rejection');
  if (check instanceof RegExp) assert.match(e!.message, check);
  else assert.ok(check(e!), e!.message);
}

test('flow arguments: board device, package, pins, clock constraint, seed; -dsp only when asked', async () => {
  const f = fakes();
  const events: FlowProgress[] = [];
  const r = await runFlow({ board: getBoard('icebreaker'), files: src, top: 't', freqMhz: 24, seed: 7, tools: f.tools, progress: (p) => events.push(p) });
  assert.equal(f.calls.yosys, ['-p', 'read_verilog t.v; synth_ice40 -top t -json top.json']);
  assert.equal(f.calls.nextpnr, ['--up5k', '--package', 'sg48', '--json', 'top.json', '--pcf', 'top.pcf', '--asc', 'top.asc', '--report', 'report.json', '--freq', '24', '--seed', '7', '--timing-allow-fail']);
  assert.match(f.calls.pcf[0], 'set_io -nowarn uart_rx 6');
  assert.equal(f.calls.icepack, ['top.asc', 'top.bin']);
  assert.is(r.bitstream.length, 104090);
  assert.equal(events.filter((e) => e.phase === 'start' || e.phase === 'end').map((e) => `${e.step}:${e.phase}`),
    ['synth:start', 'synth:end', 'pnr:start', 'pnr:end', 'pack:start', 'pack:end']);
  assert.ok(events.some((e) => e.step === 'synth' && e.phase === 'HIERARCHY'));
  assert.ok(events.some((e) => e.step === 'pnr' && e.phase === 'routing'));
  const d = fakes();
  await runFlow({ board: getBoard('upduino3'), files: src, top: 't', dsp: true, tools: d.tools });
  assert.match(d.calls.yosys[1], 'synth_ice40 -top t -dsp -json top.json');
  assert.is(d.calls.nextpnr[d.calls.nextpnr.indexOf('--freq') + 1], '12');
  await rejects(() => runFlow({ board: getBoard('icestick'), files: src, top: 't', dsp: true, tools: fakes().tools }), /has no DSP blocks/);
  // the router: nextpnr's default unless asked, and the summary says which
  assert.not.ok(f.calls.nextpnr.includes('--router'));
  assert.is(r.summary.options.router, 'router1');
  const g = fakes();
  const r2 = await runFlow({ board: getBoard('icebreaker'), files: src, top: 't', router: 'router2', tools: g.tools });
  assert.is(g.calls.nextpnr[g.calls.nextpnr.indexOf('--router') + 1], 'router2');
  assert.is(r2.summary.options.router, 'router2');
  assert.match(formatSummary(r2.summary), ', router2');
});

test('summary: resources from the report and the netlist, every clock\'s fmax against its constraint', async () => {
  const r = await runFlow({ board: getBoard('icebreaker'), files: src, top: 't', freqMhz: 24, tools: fakes().tools });
  const s: FlowSummary = r.summary;
  assert.equal(s.resources.logicCells, { used: 120, available: 5280 });
  assert.is(s.resources.flipFlops, 3);
  assert.is(s.resources.lut4, 3);
  assert.is(s.resources.carries, 1);
  assert.equal([s.resources.ramBlocks.used, s.resources.spram.used, s.resources.dsps.used, s.resources.io.used, s.resources.plls.used], [1, 2, 3, 5, 1]);
  assert.equal(s.timing.clocks.map((c) => [c.clock, c.achievedMhz, c.met]), [['clk$glb', 30.12, true], ['slow$glb', 20.5, false]]);
  assert.is(s.timing.fmaxMhz, 20.5);
  assert.is(s.timing.met, false);
  assert.is(s.tools.yosys, 'Yosys 9.99 (fake-yosys 1)');
  assert.is(s.tools.nextpnr, 'fake-nextpnr 2');
  assert.ok(s.seconds.total >= s.seconds.synth);
  // Parts without DSPs or SPRAM report 0 available when nextpnr leaves them out.
  const hx = await runFlow({ board: getBoard('hx8k-breakout'), files: src, top: 't', tools: fakes({ report: { utilization: { ICESTORM_LC: { used: 9, available: 7680 } }, fmax: {} } }).tools });
  assert.equal(hx.summary.resources.dsps, { used: 0, available: 0 });
  assert.equal(hx.summary.resources.ramBlocks, { used: 1, available: 30 }); // from the log's utilisation table
  assert.is(hx.summary.timing.fmaxMhz, null);
});

test('tool failures become one-line errors with the tool\'s ERROR text (WASM traps included)', async () => {
  const y = fakes({ yosysFail: true, yosysLog: 'ERROR: Module `nope\' referenced in module `t\' in cell `u\' is not part of the design.\n' });
  await rejects(() => runFlow({ board: getBoard('icebreaker'), files: src, top: 't', tools: y.tools }), (e: Error) =>
    e instanceof FlowError && e.message === "yosys: Module `nope' referenced in module `t' in cell `u' is not part of the design.");
  const p = fakes({ pnrTrap: true, pnrLog: "Info: Packing constants..\nERROR: IO 'led[3]' is constrained to pin 99, which is not a valid IO pin\n" });
  await rejects(() => runFlow({ board: getBoard('icestick'), files: src, top: 't', tools: p.tools }), (e: Error) =>
    e instanceof FlowError && e.message === "nextpnr-ice40: IO 'led[3]' is constrained to pin 99, which is not a valid IO pin");
});

test('a design that does not fit names the resource and by how much', async () => {
  const log = 'Info: Device utilisation:\nInfo: \t         ICESTORM_LC:    6000/   5280   113%\nInfo: \t        ICESTORM_RAM:       4/     30    13%\nInfo: \t        ICESTORM_DSP:      16/      8   200%\n\nERROR: Unable to place cell \'m_DSP\', no BELs remaining to implement cell type \'ICESTORM_DSP\'\n';
  const f = fakes({ pnrTrap: true, pnrLog: log });
  const e = await runFlow({ board: getBoard('icebreaker'), files: src, top: 't', tools: f.tools, fitHint: 'try a smaller configuration' }).catch((x) => x);
  assert.instance(e, FitError);
  assert.is(e.message, 'design does not fit icebreaker (iCE40UP5K): logic cells: needs 6000, the iCE40UP5K has 5280 (720 too many, 114%); DSP blocks (SB_MAC16): needs 16, the iCE40UP5K has 8 (8 too many, 200%); try a smaller configuration');
  assert.equal(e.over.map((o: { cellType: string }) => o.cellType), ['ICESTORM_LC', 'ICESTORM_DSP']);
  assert.instance(e, VtwError);
  // over in block RAM only: the message also gives the logic cells it takes
  const ram = 'Info: Device utilisation:\nInfo: \t         ICESTORM_LC:    6210/   7680    80%\nInfo: \t        ICESTORM_RAM:      45/     32   140%\n\nERROR: Unable to place cell\n';
  const e2 = await runFlow({ board: getBoard('hx8k-breakout'), files: src, top: 't', tools: fakes({ pnrTrap: true, pnrLog: ram }).tools }).catch((x) => x);
  assert.instance(e2, FitError);
  assert.is(e2.message, 'design does not fit hx8k-breakout (iCE40HX8K): block RAMs (EBR): needs 45, the iCE40HX8K has 32 (13 too many, 141%); logic cells fit: 6210 of 7680 (81%)');
});

// ---- the real WebAssembly tools ----

/** A RAM of 36-bit words, 2048 deep: 18 block RAMs, more than the HX1K's 16. */
test('fit hints name the next smaller iCE40 preset the board can run, or say there is none', () => {
  const hx = getBoard('hx8k-breakout');
  const big = deriveConfig({ ...PRESETS.find((p) => p.name === 'hx8k-1x2')!.json, LOG_BLOCK: 2 });
  // a 1x4 with hx8k-1x2's larger buffers: the HX8K's own 1x4 preset is smaller; below that, the 1x2
  assert.is(smallerPresetHint(big, hx), `try the smaller preset hx8k-1x4 (${loadConfig('hx8k-1x4').variant}, 16 multipliers)`);
  assert.is(smallerPresetHint(loadConfig('hx8k-1x4'), hx), `try the smaller preset hx8k-1x2 (${loadConfig('hx8k-1x2').variant}, 4 multipliers)`);
  // hx8k-1x2 is smaller too, but its block-RAM timing and LUT multipliers do not suit an UP5K's SPRAM:
  // the UP5K's own preset is named
  const up = deriveConfig({ TARGET: 'ice40', LOG_BLOCK: 1, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 9, LOG_ACC_BUFF_SIZE: 10, DSP_BUDGET: 8, MEM_OUTSTANDING: 1, MEM_CYCLES_PER_BEAT: 2, MEM_READ_LATENCY: 4, MEM_WRITE_LATENCY: 4 });
  assert.is(smallerPresetHint(up, getBoard('icebreaker')), `try the smaller preset up5k-1x2 (${loadConfig('up5k-1x2').variant}, 4 multipliers)`);
  // a 1x4 with more SRAM than up5k-1x4 (ice40-small: 5 KiB) gets the UP5K's 1x4 preset, the largest that is smaller
  assert.is(smallerPresetHint(loadConfig('ice40-small'), getBoard('icebreaker')), `try the smaller preset up5k-1x4 (${loadConfig('up5k-1x4').variant}, 16 multipliers)`);
  assert.is(smallerPresetHint(loadConfig('up5k-1x4'), getBoard('icebreaker')), `try the smaller preset up5k-1x2 (${loadConfig('up5k-1x2').variant}, 4 multipliers)`);
  assert.match(smallerPresetHint(loadConfig('up5k-1x2'), getBoard('icebreaker')), /^no smaller iCE40 preset runs on icebreaker: lower LOG_BLOCK/);
  // up5k-1x2 is smaller than hx8k-1x2 but needs DSPs an HX part does not have
  assert.match(smallerPresetHint(loadConfig('hx8k-1x2'), hx), /^no smaller iCE40 preset runs on hx8k-breakout/);
});

function bigRam(): Record<string, string> {
  const m = new Module('bigram');
  const clk = m.input('clk');
  const we = m.input('uart_rx');
  const q = m.output('uart_tx');
  const addr = m.reg('addr', 11);
  const data = m.reg('data', 36);
  const mem = m.memory('mem', 36, 2048);
  m.seq(clk, (b) => {
    b.set(addr, add(addr, lit(11, 1)));
    b.if(we, (t) => t.write(mem, addr, data));
    b.set(data, mem.read(addr));
  });
  m.assign(q, new Unary('^', data, 1));
  return { 'bigram.v': printModule(m) };
}

// The one real place-and-route in `npm test`: the smallest design (the demo, about 1 000 cells on an
// HX1K, seconds). The board presets and the UP5K flow are in test/slow/fpga-pnr.test.ts.
test('real flow through the CLI: vtw synth --demo on an HX board writes top.bin and summary.json', async () => {
  const out = mkdtempSync(join(tmpdir(), 'vtw-synth-'));
  try {
    const r = await runCli('synth', '--board', 'icestick', '--demo', '--out', out, '--seed', '2', '--json');
    assert.is(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as FlowSummary;
    console.log(`    icestick: ${s.resources.logicCells.used} LCs, ${s.resources.flipFlops} FFs, fmax ${s.timing.fmaxMhz} MHz; synth ${s.seconds.synth} s, P&R ${s.seconds.pnr} s`);
    assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), s);
    assert.is(readFileSync(join(out, 'top.bin')).length, 32220);
    assert.is(s.device, 'iCE40HX1K');
    assert.is(s.resources.io.used, 8);
    assert.ok(s.timing.met);
    for (const f of ['top.pcf', 'report.json', 'yosys.log', 'nextpnr.log']) assert.ok(existsSync(join(out, f)), f);
    assert.match(r.stderr, 'place and route (nextpnr-ice40)...');
    assert.match(r.stderr, 'routing');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('vtw synth --mem-bytes: with --config only, a size the board top can build, else one line and exit 1', async () => {
  const demo = await runCli('synth', '--board', 'icestick', '--demo', '--mem-bytes', '4096', '--out', join(tmpdir(), 'vtw-never'));
  assert.is(demo.code, 1);
  assert.is(demo.stderr.trim(), "vtw: error: --mem-bytes goes with --config (the VTA board top's memory)");
  const odd = await runCli('synth', '--config', 'hx8k-1x2', '--mem-bytes', '5000', '--out', join(tmpdir(), 'vtw-never'));
  assert.is(odd.code, 1);
  assert.is(odd.stderr.trim(), 'vtw: error: board memory of 5000 bytes: give a power of two or a multiple of 2048 bytes (one block RAM per byte lane), at least 4096');
});

test('real flow: nextpnr\'s trap on an over-full HX1K becomes a "does not fit" error', async () => {
  const e = await runFlow({ board: getBoard('icestick'), files: bigRam(), top: 'bigram' }).catch((x) => x);
  assert.instance(e, FitError);
  assert.match(e.message, /^design does not fit icestick \(iCE40HX1K\): block RAMs \(EBR\): needs 18, the iCE40HX1K has 16 \(2 too many, 113%\); logic cells fit: (\d+) of 1280 \(\d+%\)$/);
});

test('PLL: icepll (WASM) picks the dividers; the demo top instantiates SB_PLL40_PAD on the PLL pad, SB_PLL40_CORE elsewhere', async () => {
  const plan = await planPll(12, 30);
  assert.equal(plan, { inMhz: 12, requestedMhz: 30, achievedMhz: 30, divr: 0, divf: 79, divq: 5, filterRange: 1 });
  await rejects(() => planPll(12, 500), /no PLL setting for 500 MHz from 12 MHz: PLL output frequency 500\.000 MHz is outside range/);
  const pad = demoTop(getBoard('icebreaker'), { pll: plan });
  assert.is(pad.clockMhz, 30);
  assert.is(pad.clksPerBit, Math.round(30e6 / 115200));
  assert.match(pad.files['vtw_demo.v'], /SB_PLL40_PAD #\(\s*\.DIVR\(4'd0\),\s*\.DIVF\(7'd79\),\s*\.DIVQ\(3'd5\),\s*\.FILTER_RANGE\(3'd1\)\s*\) u_pll \(\s*\.PACKAGEPIN\(clk\)/);
  assert.match(demoTop(getBoard('icestick'), { pll: plan }).files['vtw_demo.v'], /SB_PLL40_CORE #\([^)]*\)[^;]*\.REFERENCECLK\(clk\)/);
});

test('vtw synth: user errors are one line', async () => {
  const r = await runCli('synth', '--board', 'icestick');
  assert.is(r.code, 1);
  assert.match(r.stderr, 'vtw: error: give the design: --config C (a VTA variant), --demo, or --verilog DIR with --top NAME');
  const e = await runCli('synth', '--board', 'icestick', '--verilog', '/nonexistent-dir', '--top', 'x');
  assert.match(e.stderr, 'cannot read Verilog folder /nonexistent-dir');
  const f = await runCli('synth', '--board', 'icestick', '--demo', '--freq', '0');
  assert.match(f.stderr, '--freq 0 must be a positive number');
  // --config: the VTA board top; the config must target iCE40 and name or be given a board
  const cases: Array<[string[], string]> = [
    [['--config', 'default', '--board', 'icebreaker'], "the config's TARGET is 'sim': iCE40 boards need \"TARGET\": \"ice40\""],
    [['--config', 'ice40-tiny'], 'the config names no BOARD: give --board (see vtw boards)'],
    [['--config', 'ice40-tiny', '--board', 'icestick', '--demo'], '--config and --demo each choose the design: give one of them'],
    [['--config', 'ice40-tiny', '--board', 'icestick', '--freq', '30'], '--config builds the VTA board top at the config\'s CLOCK_MHZ'],
    [['--config', 'ice40-small', '--board', 'icestick'], 'MEM_OUTSTANDING is 4: set "MEM_OUTSTANDING": 1 in the config'],
    [['--config', '{"TARGET":"ice40","DSP_BUDGET":8,"MEM_OUTSTANDING":1}', '--board', 'icestick'], 'DSP_BUDGET is 8 but the iCE40HX1K of icestick has no DSP blocks: set "DSP_BUDGET": 0'],
    [['--config', 'ice40-tiny', '--board', 'nope'], "unknown board 'nope'"],
  ];
  for (const [args, msg] of cases) {
    const c = await runCli('synth', ...args);
    assert.is(c.code, 1, args.join(' '));
    assert.match(c.stderr, msg);
    assert.is(c.stderr.trim().split('\n').length, 1, c.stderr);
  }
  // an unknown router is a usage error (exit 2), one line
  const u = await runCli('synth', '--demo', '--board', 'icestick', '--router', 'router3');
  assert.is(u.code, 2);
  assert.equal(u.stderr.trim().split('\n'), ["vtw: error: option '--router <name>' argument 'router3' is invalid. Allowed choices are router1, router2. (see --help)"]);
});

test('the YoWASP runtimes carry patches/ (npm ci\'s postinstall): files grow geometrically, and come back whole', async () => {
  // without the patch every write copies the whole file: nextpnr's ASC for an UP5K took ~28 s to write
  for (const pkg of ['@yowasp/yosys', '@yowasp/nextpnr-ice40']) {
    const bundle = readFileSync(join('node_modules', pkg, 'gen', 'bundle.js'), 'utf8');
    assert.match(bundle, /file\.growBuffer = grown\.buffer/, `${pkg}: patches/ not applied (run npm ci, or npx patch-package)`);
  }
  const { runYosys } = await import('@yowasp/yosys');
  const n = 3000;
  const wires = Array.from({ length: n }, (_, i) => `  wire [7:0] w${i} = a + 8'd${i % 256};`).join('\n');
  const v = `module big(input [7:0] a, output [7:0] y);\n${wires}\n  assign y = w${n - 1};\nendmodule\n`;
  const out = (await (runYosys as (a: string[], f: Tree, o: object) => Promise<Tree>)(
    ['-q', '-p', 'read_verilog big.v; write_verilog -noattr out.v'], { 'big.v': v }, { stdout: () => {}, stderr: () => {} },
  ))['out.v'];
  const text = typeof out === 'string' ? out : new TextDecoder().decode(out as Uint8Array);
  assert.ok(text.length > 100_000, `${text.length} bytes: written in many writes`);
  assert.not.ok(text.includes('\0'), 'no gaps');
  assert.ok(text.trimEnd().endsWith('endmodule'));
  for (const i of [0, 1234, n - 1]) assert.ok(text.includes(`w${i}`), `w${i} is in the written file`);
});

test.run();
