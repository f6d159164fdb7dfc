import type { Board } from './types.ts';

/** 1BitSquared iCEBreaker v1.0: iCE40UP5K-SG48, FT2232H (channel A: flash/SRAM, channel B: UART). */
export const icebreaker: Board = {
  name: 'icebreaker',
  title: '1BitSquared iCEBreaker',
  device: 'up5k',
  package: 'sg48',
  clock: { pin: '35', mhz: 12, pllPad: true },
  leds: [
    { name: 'red', pin: '11' },
    { name: 'green', pin: '37' },
  ],
  ledsActiveLow: true,
  uart: {
    rx: '6', tx: '9', via: 'FT2232H channel B (second USB serial port, usually /dev/ttyUSB1)', external: false,
    bridge: { part: 'FT2232H', maxBaud: 12_000_000, divisorClockHz: 12_000_000, source: 'FTDI FT2232H datasheet: UART up to 12 Mbaud; baud = 12 MHz / (n + k/8)' },
  },
  tie: [],
  programmers: [
    { tool: 'iceprog', usb: '0403:6010', sram: true },
    { tool: 'openFPGALoader', usb: '0403:6010', sram: true },
  ],
  notes: ['UP5K: 5280 LCs, 30 EBR (4 Kbit each), 4 SPRAM (256 Kbit each), 8 SB_MAC16'],
};
