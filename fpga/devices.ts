/**
 * What each iCE40 part offers, as nextpnr-ice40 0.8 counts it (its "Device utilisation" table; the
 * I/O count is the package's bonded pins). Used to describe boards and to read utilisation when a
 * resource is absent from a report (nextpnr leaves out cell types a part does not have).
 */
import type { Ice40Device } from './boards/types.ts';

export interface DeviceResources {
  /** Marketing name. */
  part: string;
  /** Logic cells (LUT4 + DFF + carry). */
  logicCells: number;
  /** 4 Kbit embedded block RAMs (SB_RAM40_4K). */
  ramBlocks: number;
  /** 256 Kbit single-port RAMs (SB_SPRAM256KA), UltraPlus only. */
  spram: number;
  /** SB_MAC16 DSP blocks, UltraPlus only. */
  dsps: number;
  plls: number;
}

export const DEVICES: Record<Ice40Device, DeviceResources> = {
  up5k: { part: 'iCE40UP5K', logicCells: 5280, ramBlocks: 30, spram: 4, dsps: 8, plls: 1 },
  hx1k: { part: 'iCE40HX1K', logicCells: 1280, ramBlocks: 16, spram: 0, dsps: 0, plls: 1 },
  hx8k: { part: 'iCE40HX8K', logicCells: 7680, ramBlocks: 32, spram: 0, dsps: 0, plls: 2 },
  lp8k: { part: 'iCE40LP8K', logicCells: 7680, ramBlocks: 32, spram: 0, dsps: 0, plls: 2 },
};

/** nextpnr cell types, in the words a summary and an error use. */
export const RESOURCE_NAMES: Record<string, string> = {
  ICESTORM_LC: 'logic cells',
  ICESTORM_RAM: 'block RAMs (EBR)',
  ICESTORM_SPRAM: 'SPRAM blocks',
  ICESTORM_DSP: 'DSP blocks (SB_MAC16)',
  SB_IO: 'I/O pins',
  SB_GB: 'global buffers',
  ICESTORM_PLL: 'PLLs',
  SB_WARMBOOT: 'warm-boot blocks',
  ICESTORM_HFOSC: 'high-frequency oscillators',
  ICESTORM_LFOSC: 'low-frequency oscillators',
  SB_I2C: 'I2C blocks',
  SB_SPI: 'SPI blocks',
  IO_I3C: 'I3C pads',
  SB_LEDDA_IP: 'LED driver blocks',
  SB_RGBA_DRV: 'RGB LED drivers',
};
