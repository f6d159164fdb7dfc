/** The board registry: every board file in this folder, by name. A new board is one file and one entry here. */
import { VtwError, didYouMean } from '../../src/errors.ts';
import type { Board, Programmer } from './types.ts';
import { resolveProgrammer } from './programmers.ts';
import { icebreaker } from './icebreaker.ts';
import { icesugar } from './icesugar.ts';
import { upduino3 } from './upduino3.ts';
import { icestick } from './icestick.ts';
import { hx8kBreakout } from './hx8k-breakout.ts';
import { tinyfpgaBx } from './tinyfpga-bx.ts';
import { quoteUser } from '../../src/util/quote.ts';

export type { Board, BoardLed, BoardProgrammer, Ice40Device, Programmer, ProgrammerTool } from './types.ts';
export { PROGRAMMERS, PROGRAMMER_NAMES, resolveProgrammer, type ProgrammerName } from './programmers.ts';

export const BOARDS: readonly Board[] = [icebreaker, icesugar, upduino3, icestick, hx8kBreakout, tinyfpgaBx];

export const BOARD_NAMES: readonly string[] = BOARDS.map((b) => b.name);

export function getBoard(name: string): Board {
  const b = BOARDS.find((x) => x.name === name);
  if (!b) {
        throw new VtwError(`unknown board ${quoteUser(name, 40)}${didYouMean(name, BOARD_NAMES)}; boards: ${BOARD_NAMES.join(', ')}`);
  }
  return b;
}

/** A board's programmers, in its order of preference, with the table's commands and arguments filled in. */
export function boardProgrammers(board: Board): Programmer[] {
  return board.programmers.map(resolveProgrammer);
}
