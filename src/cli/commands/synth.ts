import type { Command } from 'commander';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VtwError } from '../../errors.ts';
import { getBoard } from '../../../fpga/boards/index.ts';
import { demoTop } from '../../../fpga/demo.ts';
import { formatSummary, runFlow, type FlowProgress } from '../../../fpga/flow.ts';
import { planPll } from '../../../fpga/pll.ts';

interface SynthOptions {
  board: string;
  verilog?: string;
  top?: string;
  demo?: boolean;
  pll?: string;
  out?: string;
  seed?: string;
  freq?: string;
  pcf?: string;
  dsp?: boolean;
  allowTimingFail?: boolean;
  json?: boolean;
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

function positive(v: string | undefined, name: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)) || (!integer && n === 0)) {
    throw new VtwError(`--${name} ${v} must be ${integer ? 'a non-negative integer' : 'a positive number'}`);
  }
  return n;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('synthesize, place and route Verilog for an iCE40 board: DIR/top.bin and DIR/summary.json')
    .requiredOption('-b, --board <board>', 'board name (see vtw boards)')
    .option('--verilog <dir>', 'folder of Verilog sources (*.v, *.sv)')
    .option('--top <name>', 'top module (ports named after the board: clk, led, uart_rx, uart_tx)')
    .option('--demo', 'build the demo top instead (LED counter, UART host link, block RAM, registers)')
    .option('--pll <mhz>', 'with --demo: run it from the PLL at this frequency (icepll picks the dividers)')
    .option('-o, --out <dir>', 'output folder (default build/fpga/<board>/<top>)')
    .option('--seed <n>', 'nextpnr placement seed')
    .option('--freq <mhz>', 'clock constraint in MHz (default: the board clock)')
    .option('--pcf <file>', 'pin constraints (default: a .pcf in the Verilog folder, else the board\'s pins)')
    .option('--dsp', 'map * operators to SB_MAC16 blocks (synth_ice40 -dsp; UP5K only)')
    .option('--allow-timing-fail', 'exit 0 even when the clock constraint is not met')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: SynthOptions) => {
      const board = getBoard(opts.board);
      let files: Record<string, string>;
      let top: string;
      let pcf: string | undefined;
      if (opts.demo) {
        if (opts.verilog || opts.top) throw new VtwError('--demo builds its own design: leave out --verilog and --top');
        const pllMhz = positive(opts.pll, 'pll', false);
        const d = demoTop(board, { pll: pllMhz ? await planPll(board.clock.mhz, pllMhz) : undefined });
        files = d.files;
        top = d.top;
        if (pllMhz) {
          process.stderr.write(`PLL: ${d.clockMhz} MHz from the board's ${board.clock.mhz} MHz\n`);
          opts.freq ??= String(d.clockMhz);
        }
      } else {
        if (opts.pll) throw new VtwError('--pll goes with --demo; a design of your own instantiates its PLL itself (fpga/pll.ts)');
        if (!opts.verilog || !opts.top) throw new VtwError('give --verilog DIR and --top NAME (or --demo)');
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
      const out = opts.out ?? join('build', 'fpga', board.name, top);
      const r = await runFlow({
        board, files, top, pcf,
        seed: positive(opts.seed, 'seed', true),
        freqMhz: positive(opts.freq, 'freq', false),
        dsp: opts.dsp,
        progress: progressPrinter(),
      });
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'top.bin'), r.bitstream);
      writeFileSync(join(out, 'summary.json'), JSON.stringify(r.summary, null, 2) + '\n');
      writeFileSync(join(out, 'top.pcf'), r.pcf);
      writeFileSync(join(out, 'report.json'), JSON.stringify(r.report, null, 2) + '\n');
      writeFileSync(join(out, 'yosys.log'), r.logs.yosys);
      writeFileSync(join(out, 'nextpnr.log'), r.logs.nextpnr);
      console.log(opts.json ? JSON.stringify(r.summary, null, 2) : `${formatSummary(r.summary)}\n  wrote ${join(out, 'top.bin')} and summary.json`);
      if (!r.summary.timing.met && !opts.allowTimingFail) {
        const slow = r.summary.timing.clocks.filter((c) => !c.met).map((c) => `${c.clock} reaches ${c.achievedMhz} MHz of ${c.constraintMhz}`).join('; ');
        throw new VtwError(`timing not met: ${slow}; ${join(out, 'top.bin')} was written anyway (--allow-timing-fail to accept it)`);
      }
    });
}
