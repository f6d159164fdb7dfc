/**
 * Port bundles (after Amaranth's lib/wiring and Chisel's Bundle / `<>`): a signature is an ordered
 * record of members, each with a width and a flow seen from the side that initiates (the bus
 * master: 'out' members are its outputs); `flip()` gives the other side's view. A module declares a
 * bundle's ports in one call (`declarePorts`), a parent finds a child's bundle by its prefix
 * (`portsOf`, checked member by member) and `connect` joins two children's bundles with one wire per
 * member, after checking that they are complementary. Every mismatch names the member, both sides
 * and the TypeScript line that asked.
 */
import { HdlError, type Module, type Signal } from './ir.ts';

export type Flow = 'out' | 'in';

export interface Member {
  name: string;
  /** 'out': driven by the initiating side (of an unflipped signature). */
  flow: Flow;
  width: number;
  comment?: string;
}

export class Signature {
  readonly members: readonly Member[];

  constructor(
    /** What the bundle is, for messages (e.g. 'VTA memory bus'). */
    readonly name: string,
    members: ReadonlyArray<Member | [name: string, flow: Flow, width: number, comment?: string]>,
    /** Whether this is the responding side's view. */
    readonly flipped = false,
  ) {
    this.members = members.map((m) => (Array.isArray(m) ? { name: m[0], flow: m[1], width: m[2], comment: m[3] } : m));
    const seen = new Set<string>();
    for (const m of this.members) {
      if (seen.has(m.name)) throw new HdlError(`${name}: member ${m.name} appears twice`);
      seen.add(m.name);
      if (!Number.isInteger(m.width) || m.width < 1) throw new HdlError(`${name}: member ${m.name} has width ${m.width}; it must be a positive integer`);
    }
  }

  /** The other side's view: every flow reversed. */
  flip(): Signature {
    return new Signature(this.name, this.members.map((m) => ({ ...m, flow: m.flow === 'out' ? 'in' : 'out' })), !this.flipped);
  }

  /** A part of the bundle (members in signature order), e.g. one channel of a bus. */
  only(...names: string[]): Signature {
    for (const n of names) this.member(n);
    return new Signature(this.name, this.members.filter((m) => names.includes(m.name)), this.flipped);
  }

  /** The bundle without some members. */
  without(...names: string[]): Signature {
    for (const n of names) this.member(n);
    return new Signature(this.name, this.members.filter((m) => !names.includes(m.name)), this.flipped);
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new HdlError(`${this.name} has no member ${name} (members: ${this.members.map((x) => x.name).join(', ')})`);
    return m;
  }

  /** `name` or `name (flipped)`, for messages. */
  get title(): string {
    return this.flipped ? `${this.name} (flipped)` : this.name;
  }
}

/** One module's ports making up a bundle: member name → port. */
export class Bundle {
  constructor(
    readonly signature: Signature,
    readonly module: Module,
    /** Port name = prefix + member name. */
    readonly prefix: string,
    readonly ports: Readonly<Record<string, Signal>>,
  ) {}

  /** Port name → port, for members `names` (default all): a parent passing its own ports on to a child with the same names. */
  byPortName(...names: string[]): Record<string, Signal> {
    const list = names.length ? names.map((n) => this.signature.member(n)) : this.signature.members;
    return Object.fromEntries(list.map((m) => [this.prefix + m.name, this.ports[m.name]]));
  }
}

/** Declare the members of `sig` as ports of `m`, in signature order ('out' → output, 'in' → input). */
export function declarePorts(m: Module, sig: Signature, prefix: string): Bundle {
  const ports: Record<string, Signal> = {};
  for (const mem of sig.members) {
    ports[mem.name] = mem.flow === 'out' ? m.output(prefix + mem.name, mem.width, mem.comment) : m.input(prefix + mem.name, mem.width, mem.comment);
  }
  return new Bundle(sig, m, prefix, ports);
}

/** The bundle `sig` among the ports of `mod` (a module to instantiate), checked member by member. */
export function portsOf(mod: Module, sig: Signature, prefix: string): Bundle {
  const ports: Record<string, Signal> = {};
  const all = mod.ports();
  for (const mem of sig.members) {
    const name = prefix + mem.name;
    const p = all.find((x) => x.name === name);
    if (!p) throw new HdlError(`${mod.name} has no port ${name} (member ${mem.name} of the ${sig.title})`);
    const want = mem.flow === 'out' ? 'output' : 'input';
    if (p.kind !== want) throw new HdlError(`${mod.name}: port ${name} (declared at ${p.site}) is an ${p.kind}; the ${sig.title} makes member ${mem.name} an ${want}`);
    if (p.width !== mem.width) throw new HdlError(`${mod.name}: port ${name} (declared at ${p.site}) is ${p.width} bits; the ${sig.title} makes member ${mem.name} ${mem.width} bits`);
    ports[mem.name] = p;
  }
  return new Bundle(sig, mod, prefix, ports);
}

/** The wires joining two bundles, and each side's instance connections. */
export class Connection {
  constructor(
    /** Member name → wire. */
    readonly wires: Readonly<Record<string, Signal>>,
    private readonly sides: ReadonlyArray<readonly [Bundle, Record<string, Signal>]>,
  ) {}

  /** Port name → wire for the instance of `side`'s module (spread into `Module.instance`'s connections). */
  of(side: Bundle): Record<string, Signal> {
    const s = this.sides.find(([b]) => b === side);
    if (!s) throw new HdlError(`this connection does not join ${side.module.name}'s ${side.prefix}* ports`);
    return s[1];
  }
}

/**
 * Connect two children's bundles in their parent `m` (Chisel's `a <> b`): they must have the same
 * members with the same widths and opposite flows (each output meets an input). Creates one wire
 * per member, named `wirePrefix + member`, in signature order.
 */
export function connect(m: Module, a: Bundle, b: Bundle, wirePrefix: string): Connection {
  const what = `${m.name}: connecting ${a.module.name}'s ${a.prefix}* (${a.signature.title}) to ${b.module.name}'s ${b.prefix}* (${b.signature.title})`;
  const bNames = new Set(b.signature.members.map((x) => x.name));
  for (const ma of a.signature.members) {
    if (!bNames.has(ma.name)) throw new HdlError(`${what}: ${b.module.name} has no member ${ma.name}`);
    const mb = b.signature.member(ma.name);
    if (ma.width !== mb.width) {
      throw new HdlError(`${what}: member ${ma.name} is ${ma.width} bits on ${a.module.name} (${a.prefix}${ma.name}) but ${mb.width} bits on ${b.module.name} (${b.prefix}${mb.name})`);
    }
    if (ma.flow === mb.flow) {
      const side = ma.flow === 'out' ? 'drive' : 'read';
      throw new HdlError(`${what}: both sides ${side} member ${ma.name} (${a.prefix}${ma.name} is an ${ma.flow === 'out' ? 'output' : 'input'} on both); flip one signature`);
    }
  }
  for (const mb of b.signature.members) {
    if (!a.signature.members.some((x) => x.name === mb.name)) throw new HdlError(`${what}: ${a.module.name} has no member ${mb.name}`);
  }
  const wires: Record<string, Signal> = {};
  const forA: Record<string, Signal> = {};
  const forB: Record<string, Signal> = {};
  for (const ma of a.signature.members) {
    const w = m.wire(wirePrefix + ma.name, ma.width);
    wires[ma.name] = w;
    forA[a.prefix + ma.name] = w;
    forB[b.prefix + ma.name] = w;
  }
  return new Connection(wires, [[a, forA], [b, forB]]);
}
