/**
 * Programmers as data: the tools that load a bitstream onto a board, each with its command, the
 * argument templates for writing the flash and loading SRAM, and how to install it. Boards name
 * the ones they work with (fpga/boards/<board>.ts) and add what is theirs (USB id, cable, notes).
 */
import { VtwError } from '../../src/errors.ts';
import type { BoardProgrammer, Programmer, ProgrammerTool } from './types.ts';

export const PROGRAMMERS = {
  iceprog: {
    name: 'iceprog', command: 'iceprog', install: 'apt-get install fpga-icestorm',
    flash: ['{file}'], sram: ['-S', '{file}'], group: 'plugdev',
  },
  openFPGALoader: {
    name: 'openFPGALoader', command: 'openFPGALoader', install: 'apt-get install openfpgaloader',
    flash: ['-b', 'ice40_generic', '{cable}', '-f', '{file}'], sram: ['-b', 'ice40_generic', '{cable}', '{file}'], group: 'plugdev',
  },
  icesprog: {
    name: 'icesprog', command: 'icesprog', install: 'icesprog from the iCESugar repository (tools/), or apio\'s toolchain-icesprog',
    flash: ['{file}'], sram: null, group: 'plugdev',
  },
  tinyprog: {
    name: 'tinyprog', command: 'tinyprog', install: 'pip install tinyprog',
    flash: ['-p', '{file}'], sram: null, group: 'dialout',
  },
} as const satisfies Record<string, ProgrammerTool>;

export type ProgrammerName = keyof typeof PROGRAMMERS;

export const PROGRAMMER_NAMES = Object.keys(PROGRAMMERS) as ProgrammerName[];

/**
 * Fill a template: `{name}` elements become the board's arguments of that name (none where the
 * board gives none), except `{file}`, which stays for the bitstream path.
 */
function fill(template: readonly string[], args: Readonly<Record<string, readonly string[]>>): string[] {
  return template.flatMap((a) => {
    const m = /^\{(\w+)\}$/.exec(a);
    if (!m || m[1] === 'file') return [a];
    return [...(args[m[1]] ?? [])];
  });
}

/** A board's programmer with the tool's table entry filled in for that board. */
export function resolveProgrammer(ref: BoardProgrammer): Programmer {
  const tool: ProgrammerTool | undefined = Object.hasOwn(PROGRAMMERS, ref.tool) ? PROGRAMMERS[ref.tool] : undefined;
  if (!tool) throw new VtwError(`unknown programmer ${ref.tool}; programmers: ${PROGRAMMER_NAMES.join(', ')}`);
  const args = ref.args ?? {};
  return {
    tool: ref.tool,
    command: tool.command,
    install: tool.install,
    flash: fill(tool.flash, args),
    sram: ref.sram && tool.sram ? fill(tool.sram, args) : null,
    usb: ref.usb,
    group: tool.group,
    ...(ref.note ? { note: ref.note } : {}),
  };
}
