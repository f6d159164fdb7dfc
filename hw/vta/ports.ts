/**
 * The signatures of the VTA top's bundles (docs/rtl.md): the memory master port and the control
 * register port, seen from the core (the bus master). Widths come from the configuration: the bus
 * width from `Derived`, the beat count from the burst rule's width (burst.ts).
 */
import type { Derived } from '../../src/config/derive.ts';
import { Signature } from '../hdl/index.ts';
import { BEATS_BITS } from './burst.ts';

/**
 * The memory master port, docs/rtl.md "Memory master port": one request channel for reads and
 * writes, in-order read data, in-order write data, write responses. `wvalid` is informational; a
 * memory (the board's controller) serves `without('wvalid')`.
 */
export function memBus(d: Derived): Signature {
  return new Signature('VTA memory bus', [
    ['req_valid', 'out', 1],
    ['req_write', 'out', 1],
    ['req_addr', 'out', 32],
    ['req_beats', 'out', BEATS_BITS],
    ['rvalid', 'in', 1],
    ['rdata', 'in', d.busWidth],
    ['wready', 'in', 1],
    ['wdata', 'out', d.busWidth],
    ['wstrb', 'out', d.busWidth / 8],
    ['bvalid', 'in', 1],
    ['wvalid', 'out', 1],
  ]);
}

/** Byte address bits of the control register port (registers 0x00..0x3c). */
export const REG_ADDR_BITS = 6;

/** The control register port, seen from the host side that drives it (the core's is `flip()`ped). */
export function regBus(addrBits = REG_ADDR_BITS): Signature {
  return new Signature('VTA register bus', [
    ['wen', 'out', 1],
    ['addr', 'out', addrBits],
    ['wdata', 'out', 32],
    ['rdata', 'in', 32],
  ]);
}
