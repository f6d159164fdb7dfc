import type { Board } from './types.ts';

/** Lattice iCEstick evaluation kit: iCE40HX1K-TQ144, FT2232H (channel A: flash, channel B: UART). */
export const icestick: Board = {
  name: 'icestick',
  title: 'Lattice iCEstick',
  device: 'hx1k',
  package: 'tq144',
  clock: { pin: '21', mhz: 12 },
  leds: [
    { name: 'D1 red', pin: '99' },
    { name: 'D2 red', pin: '98' },
    { name: 'D3 red', pin: '97' },
    { name: 'D4 red', pin: '96' },
    { name: 'D5 green', pin: '95' },
  ],
  ledsActiveLow: false,
  uart: {
    rx: '9', tx: '8', via: 'FT2232H channel B (/dev/ttyUSB1)', external: false,
    bridge: { part: 'FT2232H', maxBaud: 12_000_000, divisorClockHz: 12_000_000, source: 'FTDI FT2232H datasheet: UART up to 12 Mbaud; baud = 12 MHz / (n + k/8)' },
  },
  tie: [],
  programmers: [
    { tool: 'iceprog', usb: '0403:6010', sram: false, note: 'an unmodified iCEstick can only be programmed through its flash' },
    { tool: 'openFPGALoader', usb: '0403:6010', sram: false },
  ],
  notes: ['HX1K: 1280 LCs, 16 EBR, no DSP, no SPRAM'],
};
