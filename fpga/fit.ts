/**
 * What to suggest when a VTA variant does not fit a board: the next smaller iCE40 preset, preferring
 * the ones made for the board's part (named after it: up5k-…, hx8k-…).
 */
import type { Derived } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/load.ts';
import { PRESETS } from '../src/config/presets.ts';
import type { Board } from './boards/types.ts';
import { checkBoardConfig } from './top/index.ts';

/** A size order for design points: multipliers, then ALU lanes, then on-chip SRAM bytes. */
function sizeKey(d: Derived): [number, number, number] {
  const sram = Object.values(d.buffBytes).reduce((a, b) => a + b, 0);
  return [d.multipliers, d.batch * d.blockOut * d.accWidth, sram];
}

function smaller(a: [number, number, number], b: [number, number, number]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/** Whether the board top can be built for `d` on `board` (memory controller and DSP checks). */
function runsOn(d: Derived, board: Board): boolean {
  try {
    checkBoardConfig(d, board);
    return true;
  } catch {
    return false;
  }
}

/** The hint appended to a "does not fit" error for `d` on `board`. */
export function smallerPresetHint(d: Derived, board: Board): string {
  const mine = sizeKey(d);
  const candidates = PRESETS.filter((p) => p.json.TARGET === 'ice40')
    .map((p) => ({ name: p.name, d: loadConfig(p.name) }))
    .filter((c) => smaller(sizeKey(c.d), mine) && runsOn(c.d, board));
  if (!candidates.length) {
    return `no smaller iCE40 preset runs on ${board.name}: lower LOG_BLOCK or LOG_ACC_WIDTH, the LOG_*_BUFF_SIZE keys or CMD_QUEUE_DEPTH (docs/fpga.md lists what each part holds)`;
  }
  const forPart = candidates.filter((c) => c.name.startsWith(`${board.device}-`));
  const pool = forPart.length ? forPart : candidates;
  pool.sort((a, b) => (smaller(sizeKey(a.d), sizeKey(b.d)) ? 1 : -1));
  const best = pool[0];
  return `try the smaller preset ${best.name} (${best.d.variant}, ${best.d.multipliers} multipliers)`;
}
