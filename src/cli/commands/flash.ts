import type { Command } from 'commander';
import { PROGRAMMER_NAMES, type Board } from '../../../fpga/boards/index.ts';
import { flashBitstream, planFlash } from '../../../fpga/flash.ts';
import { boardOption } from '../options.ts';

export function registerFlash(program: Command): void {
  program
    .command('flash')
    .description(`load a bitstream onto a board with its programmer (${PROGRAMMER_NAMES.join(', ')})`)
    .argument('<bitstream>', 'top.bin from vtw synth')
    .addOption(boardOption({ required: true }))
    .option('--sram', 'load the FPGA\'s configuration SRAM (lost at power-off) instead of writing the flash')
    .option('--programmer <tool>', 'use this programmer of the board\'s list instead of the first one installed')
    .option('--dry-run', 'print the exact command and do not run it')
    .action(async (file: string, opts: { board: Board; sram?: boolean; programmer?: string; dryRun?: boolean }) => {
      const board = opts.board;
      if (opts.dryRun) {
        const plan = planFlash(board, file, { sram: opts.sram, tool: opts.programmer, dryRun: true });
        console.log(plan.command);
        if (!plan.executable) process.stderr.write(`note: ${plan.programmer.tool} is not installed (${plan.programmer.install})\n`);
        if (plan.programmer.note) process.stderr.write(`note: ${plan.programmer.note}\n`);
        return;
      }
      const r = await flashBitstream(board, file, { sram: opts.sram, tool: opts.programmer, echo: (t) => process.stderr.write(t) });
      console.log(`${opts.sram ? 'loaded' : 'flashed'} ${file} onto ${board.name} with ${r.plan.command}`);
    });
}
