import type { Board } from './types.ts';

/** tinyVision.ai UPduino v3.0/3.1: iCE40UP5K-SG48, FT232H (single channel: SPI flash or UART). */
export const upduino3: Board = {
  name: 'upduino3',
  title: 'tinyVision.ai UPduino v3',
  device: 'up5k',
  package: 'sg48',
  clock: { pin: '20', mhz: 12, note: 'the 12 MHz oscillator reaches pin 20 only when the OSC jumper is soldered' },
  leds: [
    { name: 'red', pin: '41' },
    { name: 'green', pin: '39' },
    { name: 'blue', pin: '40' },
  ],
  ledsActiveLow: true,
  uart: {
    rx: '15', tx: '14', external: false,
    via: 'FT232H in UART mode on the SPI flash lines (/dev/ttyUSB0); the flash chip select is held high',
    bridge: { part: 'FT232H', maxBaud: 12_000_000, divisorClockHz: 12_000_000, source: 'FTDI FT232H datasheet: UART up to 12 Mbaud; baud = 12 MHz / (n + k/8)' },
  },
  tie: [{ port: 'flash_cs_n', pin: '16', value: 1, why: 'keeps the SPI flash off the shared UART lines' }],
  programmers: [
    { tool: 'iceprog', usb: '0403:6014', sram: false },
    { tool: 'openFPGALoader', usb: '0403:6014', sram: false, args: { cable: ['-c', 'ft232'] } },
  ],
  notes: ['UP5K: 5280 LCs, 30 EBR, 4 SPRAM, 8 SB_MAC16', 'SRAM loading is not offered: the FT232H is wired to the flash'],
};
