/**
 * Boards as data: everything the flow, the board top and the flasher need to know about one iCE40
 * board. One file per board in this folder; sources for every pin are listed in docs/fpga.md.
 */

import type { ProgrammerName } from './programmers.ts';

/** iCE40 parts the boards carry (nextpnr-ice40's device switch without the dashes). */
export type Ice40Device = 'up5k' | 'hx1k' | 'hx8k' | 'lp8k';

/** A tool that loads bitstreams (one row of the table in programmers.ts). */
export interface ProgrammerTool {
  name: string;
  /** Executable name, looked up on PATH. */
  command: string;
  /** How to install it (named in the error when it is missing). */
  install: string;
  /**
   * Arguments that write the SPI flash (persistent). `{file}` stands for the bitstream path; any
   * other `{name}` for the board's arguments of that name (BoardProgrammer.args), or nothing.
   */
  flash: readonly string[];
  /** Arguments that load the FPGA's configuration SRAM (lost at power-off), or null where the tool cannot. */
  sram: readonly string[] | null;
  /** Linux group that usually owns the device node (udev rule GROUP=). */
  group: 'plugdev' | 'dialout';
}

/** A board's use of a programmer from the table: what depends on the board. */
export interface BoardProgrammer {
  tool: ProgrammerName;
  /** USB vendor:product id of the programming interface (for the permission hint). */
  usb: string;
  /** Whether this board can have its SRAM loaded through this tool. */
  sram: boolean;
  /** Values of the templates' `{name}` placeholders, e.g. `{ cable: ['-c', 'ft232'] }`. */
  args?: Readonly<Record<string, readonly string[]>>;
  /** Something to know before using it (jumpers, modes). */
  note?: string;
}

/** A programmer as one board uses it: the table entry with the board's arguments filled in. */
export interface Programmer {
  tool: ProgrammerName;
  command: string;
  install: string;
  /** Flash arguments; `{file}` stands for the bitstream path. */
  flash: readonly string[];
  /** SRAM arguments, or null where the board (or the tool) cannot load SRAM. */
  sram: readonly string[] | null;
  usb: string;
  group: 'plugdev' | 'dialout';
  note?: string;
}

/**
 * A USB-UART bridge: its highest baud and how it makes a baud. FTDI parts divide a reference clock
 * (12 MHz for the H series, 3 MHz for the R/BM series) by n + k/8 (n >= 2, k = 0..7) or by 1 or 1.5
 * (FTDI AN232B-05 / AN_120; Linux ftdi_sio); the host-side baud is the nearest such quotient.
 */
export interface UartBridge {
  /** Part name, e.g. "FT2232H". */
  part: string;
  /** Highest baud the part (or, for an external adapter, a typical one) makes. */
  maxBaud: number;
  /** FTDI-style fractional divisor from this reference clock; absent: the part is taken to make any baud exactly (USB CDC bridges). */
  divisorClockHz?: number;
  /** Where the figures come from. */
  source: string;
}

export interface BoardLed {
  /** Colour or silk-screen name. */
  name: string;
  pin: string;
}

export interface Board {
  /** Short name used on the command line (`--board`). */
  name: string;
  title: string;
  device: Ice40Device;
  /** nextpnr-ice40 `--package`. */
  package: string;
  clock: {
    pin: string;
    mhz: number;
    /** The clock pin is the PLL's own input pad: a PLL must be SB_PLL40_PAD fed from it (nextpnr cannot place SB_PLL40_CORE). */
    pllPad?: boolean;
    note?: string;
  };
  /** User LEDs, in the order the board top's `led` vector drives them. */
  leds: readonly BoardLed[];
  /** True where an LED lights when its pin is driven low. */
  ledsActiveLow: boolean;
  /** The serial link to the host, from the FPGA's point of view (rx = data into the FPGA). */
  uart: {
    rx: string;
    tx: string;
    /** What sits on the other side (USB bridge, or an external adapter the user wires up). */
    via: string;
    /** True where no USB-UART bridge is on the board and an external 3.3 V adapter is needed. */
    external: boolean;
    /** The USB-UART part on the host side and the bauds it can make (fpga/link/baud.ts checks `--baud` against it). */
    bridge: UartBridge;
  };
  /** Pins the board top must hold at a fixed level (e.g. a flash chip select shared with the UART). */
  tie: ReadonlyArray<{ port: string; pin: string; value: 0 | 1; why: string }>;
  /** Programmers (fpga/boards/programmers.ts) in order of preference; `vtw flash` takes the first one installed. */
  programmers: readonly BoardProgrammer[];
  notes: readonly string[];
}
