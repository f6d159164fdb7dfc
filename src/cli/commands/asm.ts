import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { ProgramError } from '../../errors.ts';
import { configSpecOption, outOption } from '../options.ts';
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
    .addOption(outOption('file', 'program container to write (JSON)', { required: true }))
    .addOption(configSpecOption('config when the source has no .config line'))
    .action((file: string, opts: { out: string; config: string }) => {
      const p = assemble(readInput(file, 'assembly source').toString('utf8'), file, opts.config);
      writeProgram(opts.out, p);
      console.error(`wrote ${opts.out}: ${insnCount(p)} instructions, ${p.buffers.length} buffers, config ${p.config.variant}`);
    });
  program
    .command('disasm')
    .description('print a program container (or a raw instruction stream) as assembly')
    .argument('<file>', 'program container (.json) or raw little-endian instruction stream')
    .addOption(configSpecOption('config for a raw instruction stream'))
    .action((file: string, opts: { config: string }) => {
      const bytes = readInput(file, 'program container');
      if (!bytes.length) throw new ProgramError(`${file} is empty: give a program container (vtw asm -o FILE) or a raw instruction stream`);
      const text = bytes.toString('utf8').trimStart();
      if (text.startsWith('{')) {
        process.stdout.write(disassemble(parseProgram(text, file)));
      } else {
        process.stdout.write(disassembleInsnBytes(loadConfig(opts.config), new Uint8Array(bytes)));
      }
    });
}
