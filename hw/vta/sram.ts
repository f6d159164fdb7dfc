/**
 * On-chip buffers (UOP, INP, WGT, ACC, OUT) as banks of `Module.memory` with one write port and a
 * registered, enable-gated read port each (the read register keeps its value until the next read).
 *
 * An element narrower than the bus is stored in `banks` interleaved banks (element e in bank
 * e mod banks, at e / banks), so one bus beat can write (or, for OUT, read) several elements in one
 * cycle (docs/microarch.md §6.1: "several lanes of one wide write"). An element as wide as the bus or
 * wider is one bank. A buffer too small to give every bank two entries uses one register per
 * element instead of memories.
 *
 * An element wider than the bus of a buffer that LOAD fills (UOP, INP, WGT, ACC) is stored as
 * `parts` = slices parts of one bus word, each with its own write enable (write enable bit
 * bank * parts + part), so the read engine writes every beat into its part as it arrives instead of
 * staging the element; a write of all parts writes the whole element.
 */
import type { BufferName, Derived } from '../../src/config/derive.ts';
import { lit, Mb, catRev, clog2, log2i, rz, type Expr } from '../hdl/index.ts';

export interface SramGeom {
  buf: BufferName;
  /** Element bits. */
  ew: number;
  depth: number;
  /** log2 depth (element index width). */
  ld: number;
  /** Elements per bus beat (1 when the element is as wide as the bus or wider). */
  lanes: number;
  /** Bus beats per element (1 when the element is as narrow as the bus or narrower). */
  slices: number;
  /** Interleaved banks, and entries per bank. */
  banks: number;
  bankDepth: number;
  /** Bank address width (at least 1; unused when bankDepth is 1). */
  baw: number;
  /** Banks are single registers (tiny buffers). */
  regBanks: boolean;
  /** Independently written parts of an element (write enables per bank), of `ew / parts` bits. */
  parts: number;
}

export function sramGeom(d: Derived, buf: BufferName): SramGeom {
  const ew = d.matrixBits[buf];
  const depth = d.depth[buf];
  const lanes = ew < d.busWidth ? d.busWidth / ew : 1;
  const slices = ew > d.busWidth ? ew / d.busWidth : 1;
  const regBanks = depth / lanes < 2;
  const banks = regBanks ? depth : lanes;
  const bankDepth = depth / banks;
  const parts = buf === 'out' ? 1 : slices;
  return { buf, ew, depth, ld: log2i(depth), lanes, slices, banks, bankDepth, baw: clog2(bankDepth), regBanks, parts };
}

/** Bank index and in-bank address of element index e (ld bits). */
export function bankOf(g: SramGeom, e: Expr): { bank: Expr; addr: Expr } {
  const lb = log2i(g.banks);
  const bank = g.banks === 1 ? lit(1, 0) : e.slice(lb - 1, 0);
  const addr = g.bankDepth === 1 ? lit(1, 0) : rz(e.slice(g.ld - 1, lb), g.baw);
  return { bank, addr };
}

export function sramModule(name: string, g: SramGeom): Mb {
  const mb = new Mb(name, [
    `${g.buf.toUpperCase()} buffer: ${g.depth} elements of ${g.ew} bits in ${g.banks} bank(s) of ${g.bankDepth}` +
      (g.parts > 1 ? `, written in ${g.parts} parts` : '') + (g.regBanks ? ' (registers)' : ''),
  ]);
  const nb = g.banks;
  const np = g.parts;
  const pw = g.ew / np;
  const we = mb.input('we', nb * np);
  const waddr = mb.input('waddr', nb * g.baw);
  const wdata = mb.input('wdata', nb * g.ew);
  const ren = mb.input('ren');
  const raddr = mb.input('raddr', nb * g.baw);
  const outs: Expr[] = [];
  for (let b = 0; b < nb; b++) {
    const wa = waddr.slice(b * g.baw + g.baw - 1, b * g.baw);
    const ra = raddr.slice(b * g.baw + g.baw - 1, b * g.baw);
    for (let p = 0; p < np; p++) {
      const lsb = b * g.ew + p * pw;
      const wd = wdata.slice(lsb + pw - 1, lsb);
      const wen = we.bit(b * np + p);
      const sfx = np > 1 ? `${b}_${p}` : `${b}`;
      const q = mb.reg(`q${sfx}`, pw, null);
      if (g.regBanks) {
        const cell = mb.reg(`cell${sfx}`, pw, null);
        mb.next(cell, wd, wen);
        mb.next(q, cell, ren);
        if (p === 0) mb.sink(wa, ra);
      } else {
        // A well-formed program never reads an element in the cycle it is written (dependency tokens
        // order the modules; the compute pipeline interlocks ACC), so no read-old-data bypass.
        const mem = mb.m.memory(`bank${sfx}`, pw, g.bankDepth, { noRwCheck: true });
        mb.m.seq(mb.clk, (s) => s.if(wen, (t) => t.write(mem, wa, wd)));
        mb.next(q, mem.read(ra), ren);
      }
      outs.push(q);
    }
  }
  mb.output('rdata', outs.length === 1 ? outs[0] : catRev(outs));
  return mb;
}

