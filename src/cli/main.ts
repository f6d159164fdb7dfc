/**
 * `vtw`: the command line. Each verb lives in src/cli/commands/; this file wires them into one
 * commander program and turns every user error into one line on stderr and a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { VtwError } from '../errors.ts';
import { errorLine } from '../util/quote.ts';
import { registerConfig } from './commands/config.ts';
import { registerIsa } from './commands/isa.ts';
import { registerAsm } from './commands/asm.ts';
import { registerSim } from './commands/sim.ts';
import { registerOp } from './commands/op.ts';
import { registerGen } from './commands/gen.ts';
import { registerBoards } from './commands/boards.ts';
import { registerSynth } from './commands/synth.ts';
import { registerFlash } from './commands/flash.ts';
import { registerLink } from './commands/link.ts';
import { registerRun } from './commands/run.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerTune } from './commands/tune.ts';
import { registerModel } from './commands/model.ts';
import { registerExplore } from './commands/explore.ts';
import { registerWorker } from './commands/worker.ts';

export function buildCli(): Command {
  const program = new Command('vtw')
    .description('vta-workbench: generate, simulate, compile for and deploy VTA accelerator variants')
    .version('0.1.0')
    .exitOverride()
    // Commander's own errors (unknown option, missing argument) as one line, like ours.
    .configureOutput({ outputError: (str, write) => write(`vtw: ${str.trim()} (see --help)\n`) });
  registerConfig(program);
  registerIsa(program);
  registerAsm(program);
  registerSim(program);
  registerOp(program);
  registerGen(program);
  registerBoards(program);
  registerSynth(program);
  registerFlash(program);
  registerLink(program);
  registerRun(program);
  registerDoctor(program);
  registerTune(program);
  registerModel(program);
  registerExplore(program);
  registerWorker(program);
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

/**
 * A reader that goes away (`vtw disasm BIG | head -1`) ends vtw quietly with status 0, as it does
 * other command-line tools, instead of an unhandled `write EPIPE`. Installed by the entry points
 * (bin/vtw.js, running this file), not by main(), so that in-process callers keep their streams.
 */
export function exitQuietlyWhenOutputCloses(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; commander already printed its one-line error otherwise.
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    if (e instanceof VtwError) {
      process.stderr.write(`vtw: error: ${errorLine(e.message)}\n`);
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`vtw: internal error: ${errorLine(msg)} (this is a bug in vtw; set VTW_DEBUG=1 for a stack trace)\n`);
    if (process.env.VTW_DEBUG) console.error(e);
    return 70;
  }
}

// Run when executed directly (`tsx src/cli/main.ts`); bin/vtw.js calls main() itself.
if (process.argv[1]?.endsWith('main.ts')) {
  exitQuietlyWhenOutputCloses();
  process.exitCode = await main(process.argv.slice(2));
}
