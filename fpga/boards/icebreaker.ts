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
  uart: { rx: '6', tx: '9', via: 'FT2232H channel B (second USB serial port, usually /dev/ttyUSB1)', external: false },
  tie: [],
  programmers: [
    { tool: 'iceprog', usb: '0403:6010', sram: true },
    { tool: 'openFPGALoader', usb: '0403:6010', sram: true },
  ],
  notes: ['UP5K: 5280 LCs, 30 EBR (4 Kbit each), 4 SPRAM (256 Kbit each), 8 SB_MAC16'],
};
