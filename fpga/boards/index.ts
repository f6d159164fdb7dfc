/** The board registry: every board file in this folder, by name. */
import { VtwError, didYouMean } from '../../src/errors.ts';
import type { Board } from './types.ts';
import { icebreaker } from './icebreaker.ts';
import { icesugar } from './icesugar.ts';
import { upduino3 } from './upduino3.ts';
import { icestick } from './icestick.ts';
import { hx8kBreakout } from './hx8k-breakout.ts';
import { tinyfpgaBx } from './tinyfpga-bx.ts';
import { quoteUser } from '../../src/util/quote.ts';

export type { Board, BoardLed, Ice40Device, Programmer } from './types.ts';

export const BOARDS: readonly Board[] = [icebreaker, icesugar, upduino3, icestick, hx8kBreakout, tinyfpgaBx];

export function getBoard(name: string): Board {
  const b = BOARDS.find((x) => x.name === name);
  if (!b) {
    const names = BOARDS.map((x) => x.name);
    throw new VtwError(`unknown board ${quoteUser(name, 40)}${didYouMean(name, names)}; boards: ${names.join(', ')}`);
  }
  return b;
}
