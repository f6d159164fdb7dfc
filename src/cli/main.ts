/**
 * `vtw`: the command line. Each verb lives in src/cli/commands/; this file wires them into one
 * commander program and turns every user error into one line on stderr and a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { VtwError } from '../errors.ts';
import { errorLine } from '../util/quote.ts';

type Register = (program: Command) => void;

/**
 * Each command module, the top-level verbs it registers and how to load it. A command's module graph
 * (the compiler, the simulators, yosys, onnx...) is imported only when that command runs: importing
 * every one of them cost each `vtw` invocation about 1.5 s of CPU. Help, version and an unknown verb
 * load them all (commander lists them and suggests the nearest name); test/cli-lazy.test.ts checks
 * this table against what the modules register.
 */
export const COMMAND_MODULES: readonly { verbs: readonly string[]; load: () => Promise<Register> }[] = [
  { verbs: ['config'], load: async () => (await import('./commands/config.ts')).registerConfig },
  { verbs: ['isa'], load: async () => (await import('./commands/isa.ts')).registerIsa },
  { verbs: ['asm', 'disasm'], load: async () => (await import('./commands/asm.ts')).registerAsm },
  { verbs: ['sim', 'test'], load: async () => (await import('./commands/sim.ts')).registerSim },
  { verbs: ['op'], load: async () => (await import('./commands/op.ts')).registerOp },
  { verbs: ['gen'], load: async () => (await import('./commands/gen.ts')).registerGen },
  { verbs: ['boards'], load: async () => (await import('./commands/boards.ts')).registerBoards },
  { verbs: ['synth'], load: async () => (await import('./commands/synth.ts')).registerSynth },
  { verbs: ['flash'], load: async () => (await import('./commands/flash.ts')).registerFlash },
  { verbs: ['link'], load: async () => (await import('./commands/link.ts')).registerLink },
  { verbs: ['run'], load: async () => (await import('./commands/run.ts')).registerRun },
  { verbs: ['doctor'], load: async () => (await import('./commands/doctor.ts')).registerDoctor },
  { verbs: ['tune'], load: async () => (await import('./commands/tune.ts')).registerTune },
  { verbs: ['model'], load: async () => (await import('./commands/model.ts')).registerModel },
  { verbs: ['explore'], load: async () => (await import('./commands/explore.ts')).registerExplore },
  { verbs: ['worker'], load: async () => (await import('./commands/worker.ts')).registerWorker },
];

/**
 * The program with the command modules `argv` needs: the one owning its first word when that is a
 * known verb, none for the version, else all of them (in the order above, which is the order `vtw --help` lists them).
 */
export async function buildCli(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('vtw')
    .description('vta-workbench: generate, simulate, compile for and deploy VTA accelerator variants')
    .version('0.1.0')
    .exitOverride()
    // Commander's own errors (unknown option, missing argument) as one line, like ours.
    .configureOutput({ outputError: (str, write) => write(`vtw: ${str.trim()} (see --help)\n`) });
  const first = argv[0] ?? '';
  const owner = COMMAND_MODULES.find((m) => m.verbs.includes(first));
  const needed = owner ? [owner] : first === '--version' || first === '-V' ? [] : COMMAND_MODULES;
  for (const m of needed) (await m.load())(program);
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
  const program = await buildCli(argv);
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
