/**
 * A first-word-fall-through FIFO on a memory with a registered read: the head (the registered read,
 * or the entry forwarded when it was written to that slot in the previous cycle) always holds the
 * oldest entry, so an entry pushed in cycle d is visible at the output in d + 1 (docs/microarch.md §3: an instruction dispatched in d can start in d + 1). `count` is the
 * occupancy at the start of the cycle: a pop in cycle s frees its slot for a push in s + 1.
 * The caller never pushes when full nor pops when empty.
 *
 * Shallow FIFOs (depth <= REG_FIFO_MAX_DEPTH, any depth >= 1) are a shift register instead: entry 0 is
 * the head, a pop shifts every entry down and a push writes the first free entry, so they store
 * exactly `depth` entries (no memory plus read register) with the same timing.
 */
import { HdlError, add, eq, mux, sub, Mb, all, any, bitsFor, eqc, inc, isPow2, log2i, nec, rz, sel } from '../hdl/index.ts';

export const REG_FIFO_MAX_DEPTH = 4;

export function fifoModule(name: string, width: number, depth: number, what: string): Mb {
  if (Number.isInteger(depth) && depth >= 1 && depth <= REG_FIFO_MAX_DEPTH) return regFifoModule(name, width, depth, what);
  if (!isPow2(depth) || depth < 2) throw new HdlError(`fifo ${name}: depth ${depth} must be a power of two >= 2`);
  const mb = new Mb(name, [`${what}: FIFO of ${depth} x ${width} bits, first word falls through (head register)`]);
  const aw = log2i(depth);
  const cw = bitsFor(depth);
  const push = mb.input('push');
  const din = mb.input('din', width);
  const pop = mb.input('pop');
  // no_rw_check: a read of the slot written in the same cycle is never used (it is forwarded).
  const mem = mb.m.memory('mem', width, depth, { noRwCheck: true });
  const wptr = mb.reg('wptr', aw);
  const rptr = mb.reg('rptr', aw);
  const count = mb.reg('count_q', cw);
  const raddr = mb.w('raddr', sel(pop, inc(rptr), rptr));
  mb.next(wptr, inc(wptr), push);
  mb.next(rptr, inc(rptr), pop);
  mb.next(count, sub(add(count, rz(push, cw)), rz(pop, cw)));
  // The next head: a plain registered read (so the memory maps to block RAM with its output
  // register), with an entry written in this cycle to that slot forwarded after the register.
  const rd = mb.reg('rd_q', width, null);
  const fwd = mb.reg('fwd_q', 1);
  const dinQ = mb.reg('din_q', width, null);
  mb.next(rd, mem.read(raddr));
  mb.next(fwd, all(push, eq(wptr, raddr)));
  mb.next(dinQ, din);
  mb.m.seq(mb.clk, (b) => b.if(push, (t) => t.write(mem, wptr, din)));
  mb.output('dout', mux(fwd, dinQ, rd));
  mb.output('valid', nec(count, 0));
  mb.output('count', count);
  mb.output('full', eqc(count, depth));
  return mb;
}

function regFifoModule(name: string, width: number, depth: number, what: string): Mb {
  const mb = new Mb(name, [`${what}: FIFO of ${depth} x ${width} bits in registers (shift register, entry 0 is the head)`]);
  const cw = bitsFor(depth);
  const push = mb.input('push');
  const din = mb.input('din', width);
  const pop = mb.input('pop');
  const count = mb.reg('count_q', cw);
  const regs = Array.from({ length: depth }, (_, i) => mb.reg(`e${i}_q`, width, null));
  // the slot a push writes: the first free one after this cycle's pop
  const slot = mb.w('push_slot', sub(count, rz(pop, cw)));
  regs.forEach((r, i) => {
    const shifted = i + 1 < depth ? regs[i + 1] : r;
    mb.next(r, mux(all(push, eqc(slot, i)), din, shifted), any(all(push, eqc(slot, i)), pop));
  });
  mb.next(count, sub(add(count, rz(push, cw)), rz(pop, cw)));
  mb.output('dout', regs[0]);
  mb.output('valid', nec(count, 0));
  mb.output('count', count);
  mb.output('full', eqc(count, depth));
  return mb;
}
