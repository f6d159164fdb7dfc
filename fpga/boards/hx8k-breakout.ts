import type { Board } from './types.ts';

/** Lattice iCE40-HX8K breakout board (ICE40HX8K-B-EVN): iCE40HX8K-CT256, FT2232H. */
export const hx8kBreakout: Board = {
  name: 'hx8k-breakout',
  title: 'Lattice iCE40-HX8K Breakout Board',
  device: 'hx8k',
  package: 'ct256',
  clock: { pin: 'J3', mhz: 12 },
  leds: [
    { name: 'D2', pin: 'C3' },
    { name: 'D3', pin: 'B3' },
    { name: 'D4', pin: 'C4' },
    { name: 'D5', pin: 'C5' },
    { name: 'D6', pin: 'A1' },
    { name: 'D7', pin: 'A2' },
    { name: 'D8', pin: 'B4' },
    { name: 'D9', pin: 'B5' },
  ],
  ledsActiveLow: false,
  uart: {
    rx: 'B10', tx: 'B12', via: 'FT2232H channel B (/dev/ttyUSB1)', external: false,
    bridge: { part: 'FT2232H', maxBaud: 12_000_000, divisorClockHz: 12_000_000, source: 'FTDI FT2232H datasheet: UART up to 12 Mbaud; baud = 12 MHz / (n + k/8)' },
  },
  tie: [],
  programmers: [
    {
      tool: 'iceprog', usb: '0403:6010', sram: true,
      note: 'the board\'s jumpers must match the mode (flash or SRAM); see the board user guide',
    },
    { tool: 'openFPGALoader', usb: '0403:6010', sram: true },
  ],
  notes: ['HX8K: 7680 LCs, 32 EBR, no DSP, no SPRAM'],
};
