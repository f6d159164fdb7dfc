import type { Command } from 'commander';
import type { Derived } from '../../config/index.ts';
import { configOption } from '../options.ts';
import { IsaError } from '../../errors.ts';
import { parseJsonText } from '../../util/quote.ts';
import { decodeInsnWords, encodeInsnHex, hexToInsnWords, insnFromJson } from '../../isa/index.ts';

export function registerIsa(program: Command): void {
  const cmd = program.command('isa').description('encode and decode single VTA instructions');
  cmd
    .command('encode')
    .description('encode instruction JSON (VTA field names, missing fields 0) as 32 hex digits, most significant first')
    .argument('<json>', `e.g. '{"opcode":"GEMM","uop_end":4,"iter_out":2}'`)
    .addOption(configOption())
    .action((text: string, opts: { config: Derived }) => {
      const d = opts.config;
      const json = parseJsonText(text, 'instruction', (m) => new IsaError(m));
      console.log(encodeInsnHex(d, insnFromJson(d, json)));
    });
  cmd
    .command('decode')
    .description('decode 32 hex digits into instruction JSON')
    .argument('<hex>', '128-bit instruction, most significant digit first')
    .addOption(configOption())
    .action((hex: string, opts: { config: Derived }) => {
      const d = opts.config;
      console.log(JSON.stringify(decodeInsnWords(d, hexToInsnWords(hex))));
    });
}
