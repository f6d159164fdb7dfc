import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import type { Derived } from '../../config/index.ts';
import { VtwError } from '../../errors.ts';
import { readProgram, writeFileAtomic, type Program } from '../../program/index.ts';
import { progress } from '../../report/progress.ts';
import { table } from '../../report/table.ts';
import type { RunOptions, RunResult } from '../../engine/index.ts';
import type { EngineEntry } from '../../../sim/engines.ts';
import type { Board } from '../../../fpga/boards/index.ts';
import { SimBoardEngine } from '../../../fpga/top/engine.ts';
import { runSuite, suiteSize, type SuiteResult } from '../../../sim/suite.ts';
import { chromeTraceJson } from '../../../sim/ts/trace.ts';
import { boardOption, checkBuiltFor, configOption, engineOption, jsonOption, parseInteger, seedOption, startEngine, verboseOption, maxCyclesOption, withMaxCycles } from '../options.ts';

function outputDigests(p: Program, r: RunResult): Record<string, string> {
  const out: Record<string, string> = Object.create(null); // keyed by user-chosen buffer names
  for (const b of p.buffers) {
    if (b.role === 'output' || b.role === 'inout') {
      out[b.name] = createHash('sha256').update(r.dram.subarray(b.addr, b.addr + b.size)).digest('hex').slice(0, 16);
    }
  }
  return out;
}

export function simJson(p: Program, r: RunResult) {
  const c = r.counters;
  return {
    engine: r.engine,
    config: p.config.variant,
    cycles: c.cycles,
    utilization: +c.utilization.toFixed(6),
    gemm_uops: c.gemm_uops,
    alu_uops: c.alu_uops,
    bytes: c.bytes,
    modules: c.modules,
    fsim: c.fsim,
    outputs: outputDigests(p, r),
    ...(r.error ? { error: r.error } : {}),
    ...(r.warnings ? { warnings: r.warnings } : {}),
  };
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('run a program container on an engine and print its counters and output digests')
    .argument('<program>', 'program container (vtw asm / runtime / compiler output)')
    .addOption(configOption({ description: 'check the program was built for this config', preset: null }))
    .addOption(engineOption())
    .option('--trace <file>', 'write a Chrome trace-event timeline (open in Perfetto; ts engine)')
    .option('--vcd <file>', 'write a VCD waveform (verilator engine)')
    .addOption(jsonOption())
    .addOption(verboseOption())
    .addOption(maxCyclesOption())
    .action(async (file: string, opts: { config?: Derived; engine: EngineEntry; trace?: string; vcd?: string; json?: boolean; verbose?: boolean; maxCycles: number }) => {
      const p = readProgram(file);
      checkBuiltFor(file, p, opts.config);
      const engine = startEngine(opts.engine);
      if (opts.vcd && !opts.engine.records.vcd) throw new VtwError('--vcd needs --engine verilator');
      if (opts.trace && !opts.engine.records.trace) throw new VtwError('--trace needs --engine ts (use --vcd for the RTL)');
      const r = await engine.run(p, { trace: Boolean(opts.trace), maxCycles: opts.maxCycles, ...(opts.vcd ? { vcd: opts.vcd } : {}) } as RunOptions);
      if (opts.trace) writeFileAtomic(opts.trace, chromeTraceJson(r.trace ?? [], { clockMhz: p.config.clockMhz, processName: `VTA ${p.config.variant}` }));
      const j = simJson(p, r);
      if (opts.json) {
        console.log(JSON.stringify(j, null, 2));
      } else if (!r.error || opts.verbose) {
        // A run that ends in an error is that one line unless the counters are asked for.
        const c = r.counters;
        console.log(`${file} on ${p.config.variant} (${engine.name} engine)`);
        console.log(`cycles ${c.cycles}, GEMM utilization ${(c.utilization * 100).toFixed(1)} %, ${c.gemm_uops} GEMM and ${c.alu_uops} ALU micro-ops`);
        console.log(table(['module', 'busy', 'wait token', 'wait memory', 'queue full', 'idle'],
          Object.entries(c.modules).map(([m, x]) => [m, x.busy, x.waitToken, x.waitMemory, x.queueFull, x.idle])));
        console.log(table(['bytes', ...Object.keys(c.bytes)], [['moved', ...Object.values(c.bytes)]]));
        for (const [name, digest] of Object.entries(j.outputs)) console.log(`output ${name}: sha256 ${digest}`);
        for (const w of r.warnings ?? []) console.log(`warning: ${w}`);
      }
      if (r.error) throw new VtwError(`${r.error.kind}: ${r.error.message}`);
    });

  program
    .command('test')
    .description('run the conformance suite or random programs on an engine; ends with "N passed, N failed"')
    .addOption(configOption())
    .addOption(engineOption())
    .addOption(boardOption({ description: 'with --engine board|board-netlist: the board whose top is simulated (default: the config\'s BOARD; see vtw boards)' }))
    .option('--mem-bytes <n>', 'with --engine board|board-netlist: bytes of the simulated board top\'s memory (default: the board\'s)', parseInteger('mem-bytes', 1))
    .option('-s, --suite <suite>', 'conformance or random', 'conformance')
    .addOption(seedOption('seed for data and random programs', 1))
    .option('--count <n>', 'random programs to run', parseInteger('count'), 20)
    .addOption(jsonOption('print JSON {passed, failed, tests}'))
    .addOption(maxCyclesOption())
    .action(async (opts: { config: Derived; engine: EngineEntry; board?: Board; memBytes?: number; suite: string; seed: number; count: number; json?: boolean; maxCycles: number }) => {
      if (opts.suite !== 'conformance' && opts.suite !== 'random') throw new VtwError(`--suite ${opts.suite}: use conformance or random`);
      const d = opts.config;
      const started = startEngine(opts.engine, { ...(opts.board ? { board: opts.board } : {}), ...(opts.memBytes !== undefined ? { memBytes: opts.memBytes } : {}) });
      if (started instanceof SimBoardEngine) started.check(d);
      else if (opts.board) throw new VtwError('--board goes with --engine board or board-netlist');
      else if (opts.memBytes !== undefined) throw new VtwError('--mem-bytes goes with --engine board or board-netlist');
      const engine = withMaxCycles(started, opts.maxCycles);
      const so = { suite: opts.suite, seed: opts.seed, count: opts.count } as const;
      const bar = progress(suiteSize(d, so), `${opts.suite} on ${d.variant}`);
      const results: SuiteResult[] = await runSuite(d, engine, { ...so, onResult: (r) => bar.tick(r.name) });
      bar.stop();
      const passed = results.filter((r) => r.ok).length;
      const failed = results.length - passed;
      if (opts.json) {
        console.log(JSON.stringify({ config: d.variant, engine: engine.name, suite: opts.suite, passed, failed, tests: results }, null, 2));
      } else {
        console.log(table(['test', 'result', 'cycles', 'detail'], results.map((r) => [r.name, r.ok ? 'pass' : 'FAIL', r.cycles, r.ok ? r.description : r.message])));
        console.log(`${passed} passed, ${failed} failed`);
      }
      if (failed) process.exitCode = 1;
    });
}
