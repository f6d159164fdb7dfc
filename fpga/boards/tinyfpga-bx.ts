import type { Board } from './types.ts';

/** TinyFPGA BX: iCE40LP8K-CM81 with a USB bootloader in the FPGA (no USB-UART bridge on the board). */
export const tinyfpgaBx: Board = {
  name: 'tinyfpga-bx',
  title: 'TinyFPGA BX',
  device: 'lp8k',
  package: 'cm81',
  clock: { pin: 'B2', mhz: 16 },
  leds: [{ name: 'user', pin: 'B3' }],
  ledsActiveLow: false,
  uart: {
    rx: 'A1', tx: 'A2', external: true,
    via: 'an external 3.3 V USB-UART adapter: its TX to header pin 2 (A1), its RX to header pin 1 (A2), GND to GND',
    bridge: { part: 'external USB-UART adapter', maxBaud: 1_000_000, source: 'assumed: 1 Mbaud is what common adapters reach (CP2102: 1 Mbaud; FT232R and CP2102N: 3 Mbaud)' },
  },
  tie: [{ port: 'usb_pu', pin: 'A3', value: 0, why: 'USB pull-up off: the bootloader is not running while the user design is' }],
  programmers: [
    { tool: 'tinyprog', usb: '1d50:6130', sram: false, note: 'press the reset button first so the bootloader runs' },
  ],
  notes: ['LP8K: 7680 LCs, 32 EBR, no DSP, no SPRAM'],
};
