/**
 * The VTA board top in Verilator, reached through the same UART link and host driver as a board:
 * the PLL bypassed, the cell models of SPRAM / SB_MAC16 from yosys. By default a few clocks per
 * UART bit (fast); with `baud`, the divider a board running the configuration's clock would use
 * for that baud (checked against the board's USB-UART bridge) and the streaming link, so the
 * simulated link time (`linkSeconds`) is a board's. `vtw run --sim` and test/fpga-board-top.test.ts
 * use it.
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Board } from '../boards/types.ts';
import { checkBaud } from '../link/baud.ts';
import { LinkHost } from '../link/host.ts';
import { SimTransport, type SimDesign } from '../link/sim.ts';
import { vtaBoardTop, type VtaBoardDesign, type VtaBoardOptions } from './index.ts';

export interface SimBoard {
  design: VtaBoardDesign;
  transport: SimTransport;
  host: LinkHost;
  /** The clock the simulated cycles stand for: the configuration's CLOCK_MHZ with `baud`, else the board clock. */
  clockHz: number;
  /** The baud the simulated link stands for (null: the default few clocks per bit, no real baud). */
  baud: number | null;
  /** Simulated seconds on the link and in the design so far (host turnaround excluded); call between transactions. */
  linkSeconds(): Promise<number>;
  close(): Promise<void>;
}

/** Clock cycles per UART bit and link timeout in simulation. */
export const SIM_CLKS_PER_BIT = 4;
export const SIM_TIMEOUT_CYCLES = 400;

export type SimBoardOptions = Omit<VtaBoardOptions, 'noPll' | 'pll' | 'icepll'>;

/**
 * Build (cached by content) and start the simulated board top for `d` on `board`. `simulate`, when
 * given, turns the board top into what is simulated (fpga/top/netlist.ts: its synthesized netlist).
 */
export async function startSimBoard(d: Derived, board: Board, opts: SimBoardOptions = {}, onProgress?: (msg: string) => void, simulate?: (design: VtaBoardDesign) => Promise<SimDesign>): Promise<SimBoard> {
  let link: SimBoardOptions = { clksPerBit: SIM_CLKS_PER_BIT, timeoutCycles: SIM_TIMEOUT_CYCLES };
  let clockHz = board.clock.mhz * 1e6;
  if (opts.baud !== undefined) {
    // The divider of a board at the configuration's clock; a timeout of a few bytes keeps idle periods short.
    clockHz = d.clockMhz * 1e6;
    const cpb = checkBaud(board, clockHz, opts.baud).clksPerBit;
    link = { clksPerBit: cpb, timeoutCycles: Math.max(SIM_TIMEOUT_CYCLES, 40 * cpb), linkStream: true };
  }
  const design = await vtaBoardTop(d, board, { ...link, ...opts, noPll: true });
  const transport = await SimTransport.start(simulate ? await simulate(design) : design, onProgress);
  // Simulated time runs slower than a UART: generous response timeouts (sized for a slow "baud"), a short quiet period.
  const host = new LinkHost(transport, { timeoutMs: 5000, deviceTimeoutMs: 20, ...(opts.baud !== undefined ? { baud: 20_000 } : {}) });
  const linkSeconds = async () => {
    const c = await transport.linkCycles();
    return (c.cycles - c.hostCycles) / clockHz;
  };
  return { design, transport, host, clockHz, baud: opts.baud ?? null, linkSeconds, close: () => transport.close() };
}
