import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { ProgramError } from '../../errors.ts';
import { INPUT_LIMITS, readInputFile } from '../../util/input.ts';
import { assemble, disassemble, disassembleInsnBytes, insnCount, parseProgram, writeProgram } from '../../program/index.ts';

function readInput(path: string, what: 'assembly source' | 'program container'): Buffer {
  return readInputFile(path, what, INPUT_LIMITS[what === 'assembly source' ? 'assembly' : 'container'], (m) => new ProgramError(m));
}

export function registerAsm(program: Command): void {
  program
    .command('asm')
    .description('assemble VTA assembly into a program container (docs/assembly.md)')
    .argument('<file>', 'assembly source')
    .requiredOption('-o, --out <file>', 'program container to write (JSON)')
    .option('-c, --config <config>', 'config when the source has no .config line', 'default')
    .action((file: string, opts: { out: string; config: string }) => {
      const p = assemble(readInput(file, 'assembly source').toString('utf8'), file, opts.config);
      writeProgram(opts.out, p);
      console.error(`wrote ${opts.out}: ${insnCount(p)} instructions, ${p.buffers.length} buffers, config ${p.config.variant}`);
    });
  program
    .command('disasm')
    .description('print a program container (or a raw instruction stream) as assembly')
    .argument('<file>', 'program container (.json) or raw little-endian instruction stream')
    .option('-c, --config <config>', 'config for a raw instruction stream', 'default')
    .action((file: string, opts: { config: string }) => {
      const bytes = readInput(file, 'program container');
      const text = bytes.toString('utf8').trimStart();
      if (text.startsWith('{')) {
        process.stdout.write(disassemble(parseProgram(text, file)));
      } else {
        process.stdout.write(disassembleInsnBytes(loadConfig(opts.config), new Uint8Array(bytes)));
      }
    });
}
