/**
 * What every board top starts with: the clock pin (through the PLL when the board clock is not the
 * target), a power-on reset held until the PLL locks, the UART pins, the LED port and the board's
 * tied-off pins. The demo top (fpga/demo.ts) and the VTA board top (fpga/top/index.ts) build on it.
 */
import { add, and, lit, not, reduceAnd, type Expr, type Module, type Signal } from '../hw/hdl/index.ts';
import type { Board } from './boards/types.ts';
import { addPll, type PllPlan } from './pll.ts';

export interface BoardShell {
  /** The core clock (the PLL output, or the board clock pin). */
  clk: Signal;
  /** Synchronous reset, high until the power-on counter has run out and the PLL has locked. */
  rst: Signal;
  rx: Signal;
  tx: Signal;
  led: Signal;
}

export function boardShell(m: Module, board: Board, pll?: PllPlan): BoardShell {
  const clkPin = m.input('clk');
  let clk: Signal = clkPin;
  let locked: Expr = lit(1, 1);
  if (pll) {
    clk = m.wire('clk_core', 1, `${pll.achievedMhz} MHz from the PLL`);
    const lock = m.wire('pll_lock');
    addPll(m, pll, clkPin, clk, lock, board.clock.pllPad ?? false);
    locked = lock;
  }
  const rx = m.input('uart_rx');
  const tx = m.output('uart_tx');
  const led = m.output('led', board.leds.length);
  for (const t of board.tie) m.assign(m.output(t.port, 1, t.why), lit(1, t.value));

  // iCE40 flip-flops start at 0 after configuration: count to all-ones, then release reset.
  const por = m.reg('por', 4, 'power-on reset counter');
  const rst = m.wire('rst');
  m.assign(rst, not(and(reduceAnd(por), locked)));
  m.seq(clk, (b) => b.if(not(reduceAnd(por)), (t) => t.set(por, add(por, lit(4, 1)))));
  return { clk, rst, rx, tx, led };
}
