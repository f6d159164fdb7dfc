import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { IsaError } from '../../errors.ts';
import { parseJsonText } from '../../util/quote.ts';
import { decodeInsnWords, encodeInsnHex, hexToInsnWords, insnFromJson } from '../../isa/index.ts';

export function registerIsa(program: Command): void {
  const cmd = program.command('isa').description('encode and decode single VTA instructions');
  cmd
    .command('encode')
    .description('encode instruction JSON (VTA field names, missing fields 0) as 32 hex digits, most significant first')
    .argument('<json>', `e.g. '{"opcode":"GEMM","uop_end":4,"iter_out":2}'`)
    .option('-c, --config <config>', 'preset name, JSON file or inline JSON', 'default')
    .action((text: string, opts: { config: string }) => {
      const d = loadConfig(opts.config);
      const json = parseJsonText(text, 'instruction', (m) => new IsaError(m));
      console.log(encodeInsnHex(d, insnFromJson(d, json)));
    });
  cmd
    .command('decode')
    .description('decode 32 hex digits into instruction JSON')
    .argument('<hex>', '128-bit instruction, most significant digit first')
    .option('-c, --config <config>', 'preset name, JSON file or inline JSON', 'default')
    .action((hex: string, opts: { config: string }) => {
      const d = loadConfig(opts.config);
      console.log(JSON.stringify(decodeInsnWords(d, hexToInsnWords(hex))));
    });
}
