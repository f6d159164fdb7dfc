import type { Board } from './types.ts';

/** MuseLab iCESugar v1.5: iCE40UP5K-SG48 with the iCELink (STM32) programmer and USB serial port. */
export const icesugar: Board = {
  name: 'icesugar',
  title: 'MuseLab iCESugar v1.5',
  device: 'up5k',
  package: 'sg48',
  clock: { pin: '35', mhz: 12, pllPad: true, note: 'from the iCELink' },
  leds: [
    { name: 'red', pin: '40' },
    { name: 'green', pin: '41' },
    { name: 'blue', pin: '39' },
  ],
  ledsActiveLow: true,
  uart: {
    rx: '4', tx: '6', via: 'iCELink USB CDC serial port (/dev/ttyACM0)', external: false,
    bridge: { part: 'iCELink (USB CDC firmware on the board\'s microcontroller)', maxBaud: 115_200, source: 'no higher rate is documented for the iCELink UART bridge; 115200 is the rate it is used at' },
  },
  tie: [],
  programmers: [
    {
      tool: 'icesprog', usb: '1d50:602b', sram: false,
      note: 'the iCELink also mounts as a USB drive: copying top.bin onto it programs the flash',
    },
  ],
  notes: ['UP5K: 5280 LCs, 30 EBR, 4 SPRAM, 8 SB_MAC16'],
};
