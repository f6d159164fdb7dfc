import { Option, type Command } from 'commander';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkOutputFolder, writeFolder } from '../../util/folder.ts';
import { VtwError } from '../../errors.ts';
import type { Derived } from '../../config/index.ts';
import { getBoard, type Board } from '../../../fpga/boards/index.ts';
import { demoTop } from '../../../fpga/demo.ts';
import { smallerPresetHint } from '../../../fpga/fit.ts';
import { NEXTPNR_ROUTERS, formatSummary, runFlow, type FlowProgress, type NextpnrRouter } from '../../../fpga/flow.ts';
import { planPll } from '../../../fpga/pll.ts';
import { vtaBoardTop } from '../../../fpga/top/index.ts';
import { boardOption, configOption, jsonOption, outOption, parseInteger, parsePositive, seedOption } from '../options.ts';

interface SynthOptions {
  baud?: number;
  memBytes?: number;
  board?: Board;
  config?: Derived;
  verilog?: string;
  top?: string;
  demo?: boolean;
  pll?: string;
  out?: string;
  seed?: number;
  freq?: string;
  pcf?: string;
  dsp?: boolean;
  router?: NextpnrRouter;
  allowTimingFail?: boolean;
  json?: boolean;
  force?: boolean;
}

/** Verilog sources of a folder (*.v, *.sv; not recursive). */
function readSources(dir: string): Record<string, string> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.s?v$/.test(n) && statSync(join(dir, n)).isFile()).sort();
  } catch {
    throw new VtwError(`cannot read Verilog folder ${dir}`);
  }
  if (!names.length) throw new VtwError(`no .v or .sv files in ${dir}`);
  const bad = names.find((n) => !/^[\w.-]+$/.test(n));
  if (bad) throw new VtwError(`source file name '${bad}' has characters yosys scripts cannot take; rename it`);
  return Object.fromEntries(names.map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
}

/** Progress on stderr: every step and nextpnr phase as a line; yosys passes on one rewritten line on a terminal. */
function progressPrinter(): (p: FlowProgress) => void {
  const tty = process.stderr.isTTY === true;
  const label = { synth: 'synthesis (yosys synth_ice40)', pnr: 'place and route (nextpnr-ice40)', pack: 'bitstream (icepack)' };
  let dirty = false;
  const clear = () => {
    if (dirty) process.stderr.write('\r\x1b[K');
    dirty = false;
  };
  return (p) => {
    if (p.phase === 'start') {
      clear();
      process.stderr.write(`${label[p.step]}...\n`);
    } else if (p.phase === 'end') {
      clear();
      process.stderr.write(`  done in ${p.elapsedS.toFixed(1)} s\n`);
    } else if (p.step === 'synth') {
      if (tty) {
        process.stderr.write(`\r\x1b[K  ${p.elapsedS.toFixed(0).padStart(4)} s  ${p.phase}`.slice(0, 100));
        dirty = true;
      }
    } else {
      clear();
      process.stderr.write(`  ${p.elapsedS.toFixed(1).padStart(6)} s  ${p.phase}\n`);
    }
  };
}

/** An optional positive number (e.g. MHz); synth sets --freq itself for a VTA variant, so it stays text until the flow. */
function positive(v: string | undefined, name: string): number | undefined {
  return v === undefined ? undefined : parsePositive(name)(v);
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('build a VTA variant (or Verilog of your own) for an iCE40 board: synthesis, place and route, bitstream in DIR/top.bin, DIR/summary.json')
    .addOption(configOption({
      description: 'VTA configuration: preset name, JSON file or inline JSON (TARGET ice40); builds the VTA board top (core, on-chip memory, UART host link, PLL)',
      preset: null,
    }))
    .addOption(boardOption({ description: 'board name (see vtw boards; default: the config\'s BOARD)' }))
    .option('--verilog <dir>', 'folder of Verilog sources (*.v, *.sv)')
    .option('--top <name>', 'top module (ports named after the board: clk, led, uart_rx, uart_tx)')
    .option('--demo', 'build the demo top instead (LED counter, UART host link, block RAM, registers)')
    .option('--pll <mhz>', 'with --demo: run it from the PLL at this frequency (icepll picks the dividers)')
    .addOption(outOption('dir', 'output folder, replaced as a whole (default build/fpga/<board>/<variant>, or <top> without --config)'))
    .addOption(seedOption('nextpnr placement seed'))
    .option('--freq <mhz>', 'clock constraint in MHz (default: the board clock)')
    .option('--pcf <file>', 'pin constraints (default: a .pcf in the Verilog folder, else the board\'s pins)')
    .option('--baud <n>', 'with --config: the host link\'s baud (default 115200; another baud also builds the link with WRITE_STREAM); refused in one line where the board cannot do it', parseInteger('baud', 1))
    .option('--mem-bytes <n>', 'with --config: bytes of the board top\'s on-chip memory (default: SPRAM up to 2^MEM_ADDR_BITS, half the block RAM on parts without SPRAM; a power of two); programs that need more are refused when they run', parseInteger('mem-bytes', 1))
    .option('--dsp', 'map * operators to SB_MAC16 blocks (synth_ice40 -dsp; UP5K only)')
    .addOption(new Option('--router <name>', 'nextpnr router: router1 (default; the better clock on a full part) or router2 (faster place and route, a lower clock; docs/fpga.md)').choices(NEXTPNR_ROUTERS))
    .option('--allow-timing-fail', 'exit 0 even when the clock constraint is not met')
    .addOption(jsonOption('print the summary as JSON'))
    .option('--force', 'replace --out even when it holds files vtw did not write')
    .action(async (opts: SynthOptions) => {
      const sources = [opts.config && '--config', opts.demo && '--demo', opts.verilog && '--verilog'].filter(Boolean);
      if (sources.length > 1) throw new VtwError(`${sources.join(' and ')} each choose the design: give one of them`);
      const d = opts.config;
      const board = opts.board ?? (d?.board ? getBoard(d.board) : undefined);
      if (!board) throw new VtwError(d ? `the config names no BOARD: give --board (see vtw boards)` : 'give --board (see vtw boards)');
      let files: Record<string, string>;
      let top: string;
      let pcf: string | undefined;
      let fitHint: string | undefined;
      let design: Record<string, unknown> | undefined;
      if (d) {
        if (opts.top || opts.pll || opts.freq || opts.pcf || opts.dsp) {
          throw new VtwError('--config builds the VTA board top at the config\'s CLOCK_MHZ with the board\'s pins: leave out --top, --pll, --freq, --pcf and --dsp');
        }
        if (d.target !== 'ice40') throw new VtwError(`the config's TARGET is '${d.target}': iCE40 boards need "TARGET": "ice40" (DSP budget, SB_MAC16 and RAM mapping)`);
        const des = await vtaBoardTop(d, board, {
          ...(opts.baud !== undefined ? { baud: opts.baud } : {}), ...(opts.memBytes !== undefined ? { memBytes: opts.memBytes } : {}),
        });
        files = des.files;
        top = des.top;
        opts.freq = String(des.clockMhz);
        fitHint = smallerPresetHint(d, board);
        if (des.pll) process.stderr.write(`PLL: ${des.clockMhz} MHz from the board's ${board.clock.mhz} MHz\n`);
        process.stderr.write(`VTA ${d.variant} (${d.multipliers} multipliers), memory: ${des.memory.description}\n`);
        design = {
          config: d.variant, configId: `0x${des.configId.toString(16).padStart(8, '0')}`, multipliers: d.multipliers,
          clockMhz: des.clockMhz, pll: des.pll, memory: des.memory, baud: des.baud,
        };
      } else if (opts.memBytes !== undefined) {
        throw new VtwError('--mem-bytes goes with --config (the VTA board top\'s memory)');
      } else if (opts.demo) {
        if (opts.verilog || opts.top) throw new VtwError('--demo builds its own design: leave out --verilog and --top');
        const pllMhz = positive(opts.pll, 'pll');
        const d = demoTop(board, { pll: pllMhz ? await planPll(board.clock.mhz, pllMhz) : undefined });
        files = d.files;
        top = d.top;
        if (pllMhz) {
          process.stderr.write(`PLL: ${d.clockMhz} MHz from the board's ${board.clock.mhz} MHz\n`);
          opts.freq ??= String(d.clockMhz);
        }
      } else {
        if (opts.pll) throw new VtwError('--pll goes with --demo; a design of your own instantiates its PLL itself (fpga/pll.ts)');
        if (!opts.verilog || !opts.top) throw new VtwError('give the design: --config C (a VTA variant), --demo, or --verilog DIR with --top NAME');
        files = readSources(opts.verilog);
        top = opts.top;
        const pcfs = readdirSync(opts.verilog).filter((n) => n.endsWith('.pcf'));
        if (!opts.pcf && pcfs.length > 1) throw new VtwError(`${opts.verilog} has ${pcfs.length} .pcf files; choose one with --pcf`);
        if (!opts.pcf && pcfs.length === 1) opts.pcf = join(opts.verilog, pcfs[0]);
      }
      if (opts.pcf) {
        try {
          pcf = readFileSync(opts.pcf, 'utf8');
        } catch {
          throw new VtwError(`cannot read pin constraints ${opts.pcf}`);
        }
      }
      const out = opts.out ?? join('build', 'fpga', board.name, d ? d.variant : top);
      const verilogOut = d ? Object.fromEntries(Object.entries(files).map(([n, v]) => [join('verilog', n), v])) : {};
      const outNames = ['top.bin', 'summary.json', 'top.pcf', 'report.json', 'yosys.log', 'nextpnr.log', ...Object.keys(verilogOut)];
      checkOutputFolder(out, outNames, { force: opts.force }); // before minutes of place and route
      const r = await runFlow({
        board, files, top, pcf, fitHint,
        seed: opts.seed,
        freqMhz: positive(opts.freq, 'freq'),
        dsp: opts.dsp,
        ...(opts.router ? { router: opts.router } : {}),
        progress: progressPrinter(),
      });
      const summary = design ? { ...r.summary, design } : r.summary;
      writeFolder(out, {
        'top.bin': r.bitstream,
        'summary.json': JSON.stringify(summary, null, 2) + '\n',
        'top.pcf': r.pcf,
        'report.json': JSON.stringify(r.report, null, 2) + '\n',
        'yosys.log': r.logs.yosys,
        'nextpnr.log': r.logs.nextpnr,
        ...verilogOut,
      }, { force: opts.force });
      console.log(opts.json ? JSON.stringify(summary, null, 2) : `${formatSummary(r.summary)}\n  wrote ${join(out, 'top.bin')} and summary.json`);
      if (!r.summary.timing.met && !opts.allowTimingFail) {
        const slow = r.summary.timing.clocks.filter((c) => !c.met).map((c) => `${c.clock} reaches ${c.achievedMhz} MHz of ${c.constraintMhz}`).join('; ');
        throw new VtwError(`timing not met: ${slow}; ${join(out, 'top.bin')} was written anyway (--allow-timing-fail to accept it)`);
      }
    });
}
