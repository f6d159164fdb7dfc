import { Option, type Command } from 'commander';
import type { Derived } from '../../config/index.ts';
import { VtwError } from '../../errors.ts';
import { dramImage, readProgram } from '../../program/index.ts';
import { progress } from '../../report/progress.ts';
import { table } from '../../report/table.ts';
import { simJson } from './sim.ts';
import type { Board } from '../../../fpga/boards/index.ts';
import { LinkHost } from '../../../fpga/link/host.ts';
import type { ByteStream } from '../../../fpga/link/stream.ts';
import { checkBaud } from '../../../fpga/link/baud.ts';
import { DEFAULT_BAUD, boardMemory } from '../../../fpga/top/index.ts';
import { boardTransfers, runOnBoard, type BoardTransfer } from '../../../fpga/top/run.ts';
import { boardOption, checkBuiltFor, configOption, jsonOption, maxCyclesOption, parseInteger, parsePositive, portOption, simOption, verboseOption } from '../options.ts';

interface RunCliOptions {
  board: Board;
  port?: string;
  baud?: number;
  sim?: boolean;
  memBytes?: number;
  config?: Derived;
  transfer: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
  maxCycles?: number;
}

const TRANSFERS: readonly BoardTransfer[] = ['outputs', 'buffers', 'image'];

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a program container on a board through its UART link (or on the simulated board top with --sim)')
    .argument('<program>', 'program container (vtw asm / runtime / compiler output)')
    .addOption(boardOption({ required: true }))
    .addOption(portOption())
    .addOption(new Option('--baud <n>', `baud rate of the link (default ${DEFAULT_BAUD}); with --sim: simulate the link at this baud from the config's clock, with WRITE_STREAM, and report simulated link seconds`).argParser(parseInteger('baud', 1)))
    .addOption(simOption('run on the board top simulated in Verilator (PLL bypassed; 4 clocks per UART bit unless --baud) instead of a board'))
    .option('--mem-bytes <n>', 'with --sim: on-chip memory of the simulated board top (default: the board\'s)', parseInteger('mem-bytes', 1))
    .addOption(configOption({ description: 'check the program was built for this config', preset: null }))
    .option('--transfer <what>', 'outputs (inputs written, outputs read back), buffers (scratch buffers too) or image (all of DRAM, both ways)', 'outputs')
    .option('--timeout <s>', 'seconds to wait for the run to finish', parsePositive('timeout', 'seconds'), 60)
    .addOption(jsonOption())
    .addOption(verboseOption())
    .addOption(maxCyclesOption({ withDefault: false, description: 'stop waiting once the cycle counter passes this (read at every poll; default: only --timeout)' }))
    .action(async (file: string, opts: RunCliOptions) => {
      const p = readProgram(file);
      const d = p.config;
      checkBuiltFor(file, p, opts.config);
      const board = opts.board;
      if (!TRANSFERS.includes(opts.transfer as BoardTransfer)) throw new VtwError(`--transfer ${opts.transfer}: use ${TRANSFERS.join(', ')}`);
      const transfer = opts.transfer as BoardTransfer;
      const timeoutS = opts.timeout;
      if (opts.sim && opts.port) throw new VtwError('give either --port DEVICE (a board) or --sim, not both');
      if (opts.memBytes && !opts.sim) throw new VtwError('--mem-bytes goes with --sim; a board reports its memory size itself');
      const baud = opts.baud ?? DEFAULT_BAUD;
      // One line where the board's USB-UART bridge, or the divider of the configuration's clock, cannot make the baud.
      const plan = checkBaud(board, d.clockMhz * 1e6, baud);

      let stream: ByteStream;
      let host: LinkHost;
      let where: string;
      let simLink: { clockHz: number; clock: () => Promise<number> } | null = null;
      if (opts.sim) {
        const { startSimBoard } = await import('../../../fpga/top/sim.ts');
        const memBytes = opts.memBytes;
        // Refuse a program that cannot fit before spending a Verilator build on it.
        const mem = boardMemory(d, board, memBytes);
        const need = dramImage(p).length;
        if (need > mem.memBytes) {
          throw new VtwError(`the program needs ${need} bytes of DRAM but the ${board.name} board top has ${mem.memBytes} bytes (${mem.description}); for a simulation give --mem-bytes ${2 ** Math.ceil(Math.log2(need))}`);
        }
        const sb = await startSimBoard(d, board, { ...(memBytes ? { memBytes } : {}), ...(opts.baud !== undefined ? { baud } : {}) }, (m) => process.stderr.write(`${m}\n`));
        stream = sb.transport;
        host = sb.host;
        where = `the simulated ${board.name} board top`;
        if (opts.baud !== undefined) {
          simLink = { clockHz: sb.clockHz, clock: sb.linkSeconds };
          where += ` at ${baud} baud (${plan.clksPerBit} clocks per bit of ${d.clockMhz} MHz)`;
        }
      } else {
        if (!opts.port) throw new VtwError('give --port DEVICE (the board\'s serial port) or --sim');
        const { SerialTransport } = await import('../../../fpga/link/serial.ts');
        stream = await SerialTransport.open(opts.port, baud);
        host = new LinkHost(stream, { baud });
        where = `${board.name} on ${opts.port}`;
      }
      try {
        const { writes, reads } = boardTransfers(p, transfer);
        const bar = progress(writes.length + 1 + reads.length, `${file} on ${where}`);
        const r = await runOnBoard(host, p, { transfer, timeoutMs: timeoutS * 1000, boardName: where, ...(opts.maxCycles ? { maxCycles: opts.maxCycles } : {}), onProgress: (e) => bar.tick(`${e.phase} ${e.label}`), ...(simLink ? { linkClock: simLink.clock } : {}) });
        bar.stop();
        const { modules: _unobserved, ...j } = simJson(p, r);
        // The simulated link at a real baud: what a board at the configuration's clock would take, host turnaround excluded.
        const ls = r.board.linkSeconds;
        const simulated = simLink && ls ? {
          baud, clockHz: simLink.clockHz, loadSeconds: ls.load, coreSeconds: r.counters.cycles / simLink.clockHz, readSeconds: ls.read,
          totalSeconds: ls.load + r.counters.cycles / simLink.clockHz + ls.read,
          loadBytesPerSecond: ls.load > 0 ? r.board.bytesWritten / ls.load : 0, readBytesPerSecond: ls.read > 0 ? r.board.bytesRead / ls.read : 0,
        } : null;
        const info = { board: board.name, sim: Boolean(opts.sim), port: opts.port ?? null, baud, ...r.board, configId: `0x${r.board.configId.toString(16).padStart(8, '0')}`, simulated };
        if (opts.json) {
          console.log(JSON.stringify({ ...j, board: info }, null, 2));
        } else if (!r.error || opts.verbose) {
          // A run that ends in an error is that one line unless the counters are asked for.
          const c = r.counters;
          console.log(`${file} on ${d.variant} (board engine: ${where})`);
          console.log(`cycles ${c.cycles}, GEMM utilization ${(c.utilization * 100).toFixed(1)} %, ${c.gemm_uops} GEMM and ${c.alu_uops} ALU micro-ops`);
          console.log(table(['bytes', ...Object.keys(c.bytes)], [['moved', ...Object.values(c.bytes)]]));
          const s = r.board.seconds;
          console.log(`link: ${r.board.bytesWritten} bytes written in ${s.load.toFixed(2)} s, run ${s.run.toFixed(2)} s (${r.board.polls} polls), ${r.board.bytesRead} bytes read in ${s.read.toFixed(2)} s; board memory ${r.board.memBytes} bytes`);
          if (simulated) {
            const ms = (x: number) => `${(x * 1000).toFixed(2)} ms`;
            console.log(`simulated board time at ${baud} baud: load ${ms(simulated.loadSeconds)} (${Math.round(simulated.loadBytesPerSecond)} bytes/s), core ${ms(simulated.coreSeconds)} (${c.cycles} cycles at ${simLink!.clockHz / 1e6} MHz), read ${ms(simulated.readSeconds)}; end to end ${ms(simulated.totalSeconds)} (host turnaround not included)`);
          }
          for (const [name, digest] of Object.entries(j.outputs)) console.log(`output ${name}: sha256 ${digest}`);
        }
        if (r.error) throw new VtwError(`${r.error.kind}: ${r.error.message}`);
      } finally {
        await stream.close();
      }
    });
}
