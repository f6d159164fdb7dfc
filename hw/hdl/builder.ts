/**
 * A module builder (`Mb`) with declarative registers (`reg` + `next`, one clocked process per
 * module, synchronous reset) and `inst`, which instantiates a module with a wire per output.
 * Used by every generator (hw/vta, fpga/). No text is produced here.
 */
import { Module, cat, lit, reduceOr, type Expr, type Signal, HdlError } from './ir.ts';
import { constOf } from './logic.ts';

interface RegSpec {
  sig: Signal;
  init: bigint | null;
  next?: Expr;
  en?: Expr;
}

/**
 * A module under construction: ports, named wires, and registers declared first and given their
 * next value later (`next`), emitted as one clocked process with a synchronous reset.
 */
export class Mb {
  readonly m: Module;
  readonly clk: Signal;
  readonly rst: Signal;
  private readonly regs: RegSpec[] = [];
  private readonly sinks: Expr[] = [];
  private finished = false;

  constructor(name: string, comment: string[] = []) {
    this.m = new Module(name, comment);
    this.clk = this.m.input('clk');
    this.rst = this.m.input('rst');
  }

  input(name: string, w = 1, comment?: string): Signal {
    return this.m.input(name, w, comment);
  }
  output(name: string, value: Expr, comment?: string): Signal {
    const o = this.m.output(name, value.width, comment);
    this.m.assign(o, value);
    return o;
  }
  /** An output assigned later with `drive`. */
  outputLater(name: string, w: number, comment?: string): Signal {
    return this.m.output(name, w, comment);
  }
  drive(o: Signal, value: Expr): void {
    this.m.assign(o, value);
  }
  /** A named wire carrying `value`. */
  w(name: string, value: Expr): Signal {
    const s = this.m.wire(name, value.width);
    this.m.assign(s, value);
    return s;
  }
  /** A wire assigned later (to break declaration order); drive it with `drive`. */
  wireLater(name: string, w: number): Signal {
    return this.m.wire(name, w);
  }
  /** A register with a synchronous reset to `init` (null: no reset, e.g. datapath registers). */
  reg(name: string, w: number, init: number | bigint | null = 0): Signal {
    const sig = this.m.reg(name, w);
    this.regs.push({ sig, init: init === null ? null : BigInt(init) });
    return sig;
  }
  next(r: Signal, value: Expr, en?: Expr): void {
    const spec = this.regs.find((x) => x.sig === r);
    if (!spec) throw new HdlError(`${this.m.name}: ${r.name} is not a builder register`);
    if (spec.next) throw new HdlError(`${this.m.name}: ${r.name} (declared at ${r.site}) given two next values`);
    if (value.width !== r.width) throw new HdlError(`${this.m.name}: next of ${r.name} (declared at ${r.site}): ${value.width}-bit value into ${r.width} bits`);
    spec.next = value;
    spec.en = en && constOf(en) === 1n ? undefined : en;
  }
  /** Mark bits as deliberately unused (they feed a wire named *_unused). */
  sink(...xs: Expr[]): void {
    this.sinks.push(...xs);
  }

  finish(): Module {
    if (this.finished) return this.m;
    this.finished = true;
    for (const r of this.regs) if (!r.next) throw new HdlError(`${this.m.name}: register ${r.sig.name} (declared at ${r.sig.site}) has no next value`, null);
    const withReset = this.regs.filter((r) => r.init !== null);
    const noReset = this.regs.filter((r) => r.init === null);
    if (this.regs.length) {
      this.m.seq(this.clk, (b) => {
        const upd = (bb: typeof b, r: RegSpec) => {
          if (r.en && constOf(r.en) === 0n) return;
          if (r.en) bb.if(r.en, (t) => t.set(r.sig, r.next!));
          else bb.set(r.sig, r.next!);
        };
        if (withReset.length) {
          b.if(
            this.rst,
            (t) => withReset.forEach((r) => t.set(r.sig, lit(r.sig.width, r.init!))),
            (e) => withReset.forEach((r) => upd(e, r)),
          );
        }
        noReset.forEach((r) => upd(b, r));
      });
    }
    // rst and clk are always ports; a module without reset registers still has rst (kept uniform).
    const usesRst = withReset.length > 0;
    const usesClk = this.regs.length > 0 || this.m.processes.some((p) => p.kind === 'seq');
    const extra: Expr[] = [...this.sinks];
    if (!usesRst) extra.push(this.rst);
    if (!usesClk) extra.push(this.clk);
    if (extra.length) {
      const u = this.m.wire('sink_unused', 1);
      this.m.assign(u, reduceOr(cat(...extra)));
    }
    return this.m;
  }
}


/**
 * Instantiate `mod` in `mb` as `name`: inputs connected to the given expressions, every output to a
 * new wire `${name}_${port}` (returned by port name).
 */
export function inst(mb: Mb, mod: Module, name: string, inputs: Record<string, Expr>): Record<string, Signal> {
  const conns: Record<string, Expr> = { ...inputs };
  const outs: Record<string, Signal> = {};
  for (const p of mod.ports()) {
    if (p.kind === 'output') {
      outs[p.name] = mb.m.wire(`${name}_${p.name}`, p.width);
      conns[p.name] = outs[p.name];
    } else if (p.name === 'clk' && !(p.name in conns)) {
      conns.clk = mb.clk;
    } else if (p.name === 'rst' && !(p.name in conns)) {
      conns.rst = mb.rst;
    }
  }
  mb.m.instance(mod, name, conns);
  return outs;
}
