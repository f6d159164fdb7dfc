/**
 * The VTA board top in Verilator, reached through the same UART link and host driver as a board:
 * the PLL bypassed, a few clocks per UART bit (fast), the cell models of SPRAM / SB_MAC16 from
 * yosys. `vtw run --sim` and test/fpga-board-top.test.ts use it.
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Board } from '../boards/types.ts';
import { LinkHost } from '../link/host.ts';
import { SimTransport, type SimDesign } from '../link/sim.ts';
import { vtaBoardTop, type VtaBoardDesign, type VtaBoardOptions } from './index.ts';

export interface SimBoard {
  design: VtaBoardDesign;
  transport: SimTransport;
  host: LinkHost;
  close(): Promise<void>;
}

/** Clock cycles per UART bit and link timeout in simulation. */
export const SIM_CLKS_PER_BIT = 4;
export const SIM_TIMEOUT_CYCLES = 400;

/**
 * Build (cached by content) and start the simulated board top for `d` on `board`. `simulate`, when
 * given, turns the board top into what is simulated (fpga/top/netlist.ts: its synthesized netlist).
 */
export async function startSimBoard(d: Derived, board: Board, opts: Omit<VtaBoardOptions, 'noPll' | 'pll' | 'icepll'> = {}, onProgress?: (msg: string) => void, simulate?: (design: VtaBoardDesign) => Promise<SimDesign>): Promise<SimBoard> {
  const design = await vtaBoardTop(d, board, { clksPerBit: SIM_CLKS_PER_BIT, timeoutCycles: SIM_TIMEOUT_CYCLES, ...opts, noPll: true });
  const transport = await SimTransport.start(simulate ? await simulate(design) : design, onProgress);
  // Simulated time runs slower than a UART: generous response timeouts, a short quiet period.
  const host = new LinkHost(transport, { timeoutMs: 5000, deviceTimeoutMs: 20 });
  return { design, transport, host, close: () => transport.close() };
}
