/**
 * A first-word-fall-through FIFO on a memory with a registered read: the head is a register that
 * always holds the oldest entry, so an entry pushed in cycle d is visible at the output in d + 1
 * (docs/microarch.md §3: an instruction dispatched in d can start in d + 1). `count` is the
 * occupancy at the start of the cycle: a pop in cycle s frees its slot for a push in s + 1.
 * The caller never pushes when full nor pops when empty.
 */
import { HdlError, add, eq, mux, sub } from '../hdl/index.ts';
import { Mb, all, bitsFor, eqc, inc, isPow2, log2i, nec, rz, sel } from './util.ts';

export function fifoModule(name: string, width: number, depth: number, what: string): Mb {
  if (!isPow2(depth) || depth < 2) throw new HdlError(`fifo ${name}: depth ${depth} must be a power of two >= 2`);
  const mb = new Mb(name, [`${what}: FIFO of ${depth} x ${width} bits, first word falls through (head register)`]);
  const aw = log2i(depth);
  const cw = bitsFor(depth);
  const push = mb.input('push');
  const din = mb.input('din', width);
  const pop = mb.input('pop');
  const mem = mb.m.memory('mem', width, depth);
  const wptr = mb.reg('wptr', aw);
  const rptr = mb.reg('rptr', aw);
  const count = mb.reg('count_q', cw);
  const head = mb.reg('head_q', width, null);
  const raddr = mb.w('raddr', sel(pop, inc(rptr), rptr));
  mb.next(wptr, inc(wptr), push);
  mb.next(rptr, inc(rptr), pop);
  mb.next(count, sub(add(count, rz(push, cw)), rz(pop, cw)));
  // Registered read of the next head; an entry written in this cycle is forwarded.
  mb.next(head, mux(all(push, eq(wptr, raddr)), din, mem.read(raddr)));
  mb.m.seq(mb.clk, (b) => b.if(push, (t) => t.write(mem, wptr, din)));
  mb.output('dout', head);
  mb.output('valid', nec(count, 0));
  mb.output('count', count);
  mb.output('full', eqc(count, depth));
  return mb;
}
