import type { Command } from 'commander';
import { table } from '../../report/table.ts';
import { BOARDS, boardProgrammers } from '../../../fpga/boards/index.ts';
import { DEVICES } from '../../../fpga/devices.ts';
import { jsonOption } from '../options.ts';

export function registerBoards(program: Command): void {
  program
    .command('boards')
    .description('list the iCE40 boards vtw can build for and flash (fpga/boards/)')
    .addOption(jsonOption('print every board\'s data as JSON (device, pins, programmers)'))
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        console.log(JSON.stringify(BOARDS.map((b) => ({ ...b, programmers: boardProgrammers(b), resources: DEVICES[b.device] })), null, 2));
        return;
      }
      console.log(
        table(
          ['board', 'FPGA', 'clock', 'LEDs', 'UART rx/tx', 'programmer', 'LCs', 'EBR', 'SPRAM', 'DSP', 'title'],
          BOARDS.map((b) => {
            const d = DEVICES[b.device];
            return [
              b.name, `${d.part}-${b.package.toUpperCase()}`, `${b.clock.mhz} MHz @${b.clock.pin}`, b.leds.length,
              `${b.uart.rx}/${b.uart.tx}${b.uart.external ? ' (ext)' : ''}`, b.programmers.map((p) => p.tool).join(', '),
              d.logicCells, d.ramBlocks, d.spram, d.dsps, b.title,
            ];
          }),
        ),
      );
    });
}
