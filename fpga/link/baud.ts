/**
 * Which bauds a board's link can run at: the clock divider of the link's UART (clock / baud, whole
 * clocks per bit) against the baud the board's USB-UART bridge makes (fpga/boards/*: `uart.bridge`).
 *
 * Tolerance: the link's receiver samples each bit in its middle, to within one clock (the start
 * edge is seen on a clock edge), so by the middle of the stop bit (9.5 bits after the start edge)
 * the two ends may drift apart by at most 0.5 - 1/clksPerBit of a bit. `checkBaud` allows half of
 * that as the difference between the two bauds, keeping the other half for the oscillators and the
 * line's edges: (0.5 - 1/cpb) / 9.5 / 2 — 1.3 % at 4 clocks per bit, 2.2 % at 12, 2.6 % at most.
 */
import { VtwError } from '../../src/errors.ts';
import type { Board, UartBridge } from '../boards/types.ts';

/** The link's UART needs at least this many clocks per bit (fpga/link/rtl.ts). */
export const MIN_CLKS_PER_BIT = 4;

/** Bauds `checkBaud` suggests when one is refused, fastest first. */
export const COMMON_BAUDS: readonly number[] = [12_000_000, 6_000_000, 4_000_000, 3_000_000, 2_000_000, 1_500_000, 1_000_000, 921_600, 500_000, 460_800, 230_400, 115_200];

export interface BaudPlan {
  baud: number;
  clockHz: number;
  clksPerBit: number;
  /** The baud the link's UART makes: clockHz / clksPerBit. */
  deviceBaud: number;
  /** The baud the bridge makes when asked for `baud`. */
  hostBaud: number;
  /** |deviceBaud - hostBaud| / baud. */
  mismatch: number;
  /** The largest mismatch allowed at this divider. */
  tolerance: number;
}

/** The baud an FTDI-style divider makes from `clockHz` when asked for `baud` (the nearest quotient it can set). */
export function bridgeBaud(bridge: UartBridge, baud: number): number {
  const ref = bridge.divisorClockHz;
  if (!ref) return baud;
  const want = ref / baud;
  // Divisors: 1 and 1.5 (special codes), then n + k/8 for n >= 2.
  let best = want <= 1.25 ? 1 : want < 2 ? (want < 1.75 ? 1.5 : 2) : Math.round(want * 8) / 8;
  if (best > 16384) best = 16384;
  return ref / best;
}

/** Largest baud mismatch the link allows at `cpb` clocks per bit (module note). */
export function baudTolerance(cpb: number): number {
  return (0.5 - 1 / cpb) / 9.5 / 2;
}

/** The link's divider for `baud` from `clockHz`, or null when it is out of range or tolerance. */
export function planBaud(bridge: UartBridge, clockHz: number, baud: number): BaudPlan | null {
  const cpb = Math.round(clockHz / baud);
  if (baud > bridge.maxBaud || cpb < MIN_CLKS_PER_BIT) return null;
  const deviceBaud = clockHz / cpb;
  const hostBaud = bridgeBaud(bridge, baud);
  const mismatch = Math.abs(deviceBaud - hostBaud) / baud;
  const tolerance = baudTolerance(cpb);
  if (mismatch > tolerance) return null;
  return { baud, clockHz, clksPerBit: cpb, deviceBaud, hostBaud, mismatch, tolerance };
}

const fmtBaud = (b: number) => (b >= 1e6 && b % 1e5 === 0 ? `${b / 1e6} Mbaud` : `${Math.round(b)} baud`);
const mhz = (hz: number) => `${+(hz / 1e6).toFixed(3)} MHz`;

/**
 * The link's divider for `baud` on `board` with a `clockHz` core clock, or one line saying why the
 * board cannot do that baud and which bauds it can.
 */
export function checkBaud(board: Board, clockHz: number, baud: number): BaudPlan {
  const bridge = board.uart.bridge;
  if (!Number.isInteger(baud) || baud <= 0) throw new VtwError(`baud ${baud} must be a positive integer`);
  const plan = planBaud(bridge, clockHz, baud);
  if (plan) return plan;
  const ok = COMMON_BAUDS.filter((b) => planBaud(bridge, clockHz, b)).slice(0, 4).map((b) => String(b));
  const hint = ok.length ? `; bauds it can do from this clock: ${ok.join(', ')}` : '';
  const cpb = Math.round(clockHz / baud);
  let why: string;
  if (baud > bridge.maxBaud) why = `its ${bridge.part} reaches ${fmtBaud(bridge.maxBaud)}`;
  else if (cpb < MIN_CLKS_PER_BIT) why = `the ${mhz(clockHz)} clock gives ${(clockHz / baud).toFixed(2)} clocks per bit and the link's UART needs at least ${MIN_CLKS_PER_BIT}`;
  else {
    const dev = clockHz / cpb;
    const host = bridgeBaud(bridge, baud);
    why = `${cpb} clocks per bit of the ${mhz(clockHz)} clock make ${Math.round(dev)} baud and the ${bridge.part} makes ${Math.round(host)}, ${((Math.abs(dev - host) / baud) * 100).toFixed(1)} % apart, more than the ${(baudTolerance(cpb) * 100).toFixed(1)} % the UART tolerates`;
  }
  throw new VtwError(`${baud} is a baud the ${board.name} board cannot do: ${why}${hint}`);
}
