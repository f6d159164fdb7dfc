/**
 * A timing estimate of a synthesized iCE40 netlist, before place and route: the arrival time at
 * every register and RAM input, grouped by register (the bits of one register together), each with
 * the register its longest path starts from. nextpnr reports one critical path per clock; on a part
 * at 98 % hundreds of endpoints miss a clock together, and this shows which, and from where, from
 * one synthesis (half a minute) instead of a place and route per cut (docs/fpga.md, "Where the
 * clock goes").
 *
 * The delay model is nextpnr's iCE40 one reduced to averages (DELAYS): a LUT4 with the routing into
 * it, a carry hop inside a chain, clock-to-out of a flip-flop, a block RAM and an SPRAM, an SB_MAC16
 * used combinationally (as hw/lib/mult.ts uses it), setup. Routing dominates a full part and varies
 * from net to net, so the estimate ranks paths and families of paths; it does not sign them off
 * (`vtw synth` does). Against nextpnr on the UP5K 1x4 core, the routed critical path was 0.84-0.86 x
 * the estimate (docs/fpga.md).
 */

/** Average delays in ns (the UP5K's, from nextpnr's routed critical-path reports). */
export const DELAYS = {
  /** A LUT4, input to output. */
  lut: 1.0,
  /** Routing from a cell's output to another cell's input. */
  route: 2.4,
  /** A carry chain's CI -> CO (no routing: the chain is hard-wired). */
  carry: 0.3,
  /** A chain's I0 / I1 -> CO (plus routing into it). */
  carryIn: 0.4,
  /** Clock to output: a flip-flop, a block RAM's read data, an SPRAM's. */
  ffOut: 1.4,
  ramOut: 2.5,
  spramOut: 3.0,
  /** An SB_MAC16 with no internal registers, input to output. */
  dsp: 6.0,
  /** Setup at a flip-flop or RAM input. */
  setup: 0.8,
} as const;

type Bit = number | string;
interface NetlistCell {
  type: string;
  connections: Record<string, Bit[]>;
  port_directions: Record<string, 'input' | 'output' | 'inout'>;
}
interface NetlistModule {
  cells: Record<string, NetlistCell>;
  netnames: Record<string, { bits: Bit[]; hide_name?: number }>;
}

/** One register (or RAM block): its worst estimated arrival and where that path starts. */
export interface EndpointGroup {
  /** The register's name (its Q net without a bit index), or a RAM / DSP cell's name and type. */
  group: string;
  /** Worst arrival at its inputs plus routing and setup, ns. */
  ns: number;
  /** Inputs (D, enable, reset of each bit; a RAM's address, data and enables). */
  endpoints: number;
  /** Inputs whose estimate passes the limit. */
  over: number;
  /** The register the worst path starts from. */
  from: string;
}

export interface PathStep {
  /** Arrival at this net, ns. */
  ns: number;
  net: string;
  /** The cell type that drives it (absent at the start). */
  via?: string;
}

export interface TimingEstimate {
  limitNs: number;
  endpoints: number;
  /** Endpoints over the limit. */
  over: number;
  /** Worst first. */
  groups: EndpointGroup[];
  /** The worst path into a group, start first; undefined for an unknown group. */
  pathInto(group: string): PathStep[] | undefined;
}

interface Arc { from: number; delay: number; cellType: string }

/** Estimate the netlist's module `top` (yosys JSON, e.g. `synth_ice40 -json`) against `limitNs`. */
/**
 * `from`: count only paths that start at a register or RAM output whose name (as listed, without a
 * bit index) matches it; inputs no such path reaches are left out. A family that longer paths from
 * elsewhere hide is measured this way (scripts/fpga-depth.ts --from).
 */
export function estimateTiming(netlistJson: string, top: string, limitNs: number, opts: { from?: RegExp } = {}): TimingEstimate {
  const mods = (JSON.parse(netlistJson) as { modules?: Record<string, NetlistModule> }).modules ?? {};
  const mod = mods[top];
  if (!mod) throw new Error(`the netlist has no module ${top}`);
  const D = DELAYS;

  // readable names: the shortest visible net name holding a bit, with its index
  const bitName = new Map<number, string>();
  for (const [name, n] of Object.entries(mod.netnames)) {
    if (n.hide_name) continue;
    n.bits.forEach((b, i) => {
      if (typeof b !== 'number') return;
      const label = n.bits.length > 1 ? `${name}[${i}]` : name;
      const old = bitName.get(b);
      if (!old || label.length < old.length) bitName.set(b, label);
    });
  }
  const nameOf = (b: number) => bitName.get(b) ?? `net${b}`;
  const groupOf = (b: number) => nameOf(b).replace(/\[\d+\]$/, '');
  const bits = (c: NetlistCell, ...ports: string[]) =>
    ports.flatMap((p) => c.connections[p] ?? []).filter((b): b is number => typeof b === 'number');

  // the graph: combinational drivers (output bit -> input arcs), start points, end points
  const drives = new Map<number, Arc[]>();
  const sources = new Map<number, number>();
  const ends: Array<{ bit: number; cell: string }> = [];
  for (const [cname, c] of Object.entries(mod.cells)) {
    const t = c.type;
    const arcs = (ports: string[], delay: number): Arc[] => bits(c, ...ports).map((from) => ({ from, delay, cellType: t }));
    if (t === 'SB_LUT4') {
      drives.set(bits(c, 'O')[0], arcs(['I0', 'I1', 'I2', 'I3'], D.route + D.lut));
    } else if (t === 'SB_CARRY') {
      drives.set(bits(c, 'CO')[0], [...arcs(['CI'], D.carry), ...arcs(['I0', 'I1'], D.route + D.carryIn)]);
    } else if (t.startsWith('SB_DFF')) {
      for (const q of bits(c, 'Q')) sources.set(q, D.ffOut);
      for (const b of bits(c, 'D', 'E', 'R', 'S')) ends.push({ bit: b, cell: cname });
    } else if (t === 'SB_MAC16') {
      const ins = arcs(['A', 'B', 'C', 'D'], D.route + D.dsp);
      for (const o of bits(c, 'O')) drives.set(o, ins);
    } else {
      // block RAM, SPRAM, I/O, PLL, global buffers: outputs start paths, inputs (not clocks, not pads) end them
      const out = t === 'SB_RAM40_4K' ? D.ramOut : t === 'SB_SPRAM256KA' ? D.spramOut : 0;
      for (const [p, dir] of Object.entries(c.port_directions)) {
        if (dir === 'output') for (const b of bits(c, p)) sources.set(b, out);
        else if (!/^(CLK|RCLK|WCLK|CLOCK|GLOBAL_BUFFER_OUTPUT|USER_SIGNAL_TO_GLOBAL_BUFFER|PACKAGE_PIN|REFERENCECLK)/.test(p)) {
          for (const b of bits(c, p)) ends.push({ bit: b, cell: cname });
        }
      }
    }
  }

  // arrival per bit (longest path, memoized; an iterative DFS: paths are thousands of cells deep
  // through carry chains); a combinational loop is cut where it closes
  const arrival = new Map<number, { t: number; start: number; via?: Arc }>();
  const visiting = new Set<number>();
  const arrive = (b0: number) => {
    const stack = [b0];
    while (stack.length) {
      const b = stack[stack.length - 1];
      if (arrival.has(b)) {
        stack.pop();
        continue;
      }
      const src = sources.get(b);
      const arcs = drives.get(b);
      if (src !== undefined || !arcs) {
        const t = !opts.from ? src ?? 0 : src !== undefined && opts.from.test(groupOf(b)) ? src : -Infinity;
        arrival.set(b, { t, start: b });
        stack.pop();
        continue;
      }
      const pending = arcs.filter((a) => !arrival.has(a.from));
      if (pending.length && !visiting.has(b)) {
        visiting.add(b);
        stack.push(...pending.map((a) => a.from));
        continue;
      }
      let best: { t: number; start: number; via?: Arc } = { t: opts.from ? -Infinity : 0, start: b };
      for (const a of arcs) {
        const x = arrival.get(a.from);
        if (x && x.t + a.delay > best.t) best = { t: x.t + a.delay, start: x.start, via: a };
      }
      arrival.set(b, best);
      stack.pop();
    }
    return arrival.get(b0)!;
  };

  const groups = new Map<string, EndpointGroup & { worst: number }>();
  let over = 0;
  for (const e of ends) {
    const a = arrive(e.bit);
    if (a.t === -Infinity) continue; // (--from) no path from a chosen start
    const ns = a.t + D.route + D.setup;
    const c = mod.cells[e.cell];
    const q = c.type.startsWith('SB_DFF') ? bits(c, 'Q')[0] : undefined;
    const name = q !== undefined ? groupOf(q) : `${e.cell.replace(/\$.*/, '')} (${c.type})`;
    const g = groups.get(name) ?? { group: name, ns: -1, endpoints: 0, over: 0, from: '', worst: e.bit };
    g.endpoints++;
    if (ns > limitNs) {
      g.over++;
      over++;
    }
    if (ns > g.ns) Object.assign(g, { ns, from: groupOf(a.start), worst: e.bit });
    groups.set(name, g);
  }
  const sorted = [...groups.values()].sort((x, y) => y.ns - x.ns || x.group.localeCompare(y.group));
  return {
    limitNs,
    endpoints: ends.length,
    over,
    groups: sorted.map(({ worst: _w, ...g }) => g),
    pathInto(group: string) {
      const g = groups.get(group);
      if (!g) return undefined;
      const steps: PathStep[] = [];
      for (let b: number | undefined = g.worst; b !== undefined; ) {
        const a: { t: number; via?: Arc } = arrival.get(b)!;
        steps.push({ ns: a.t, net: nameOf(b), ...(a.via ? { via: a.via.cellType } : {}) });
        b = a.via?.from;
      }
      return steps.reverse();
    },
  };
}

/** Endpoints over the limit, summed by the register their worst path starts from (worst first). */
export function pathFamilies(est: TimingEstimate): Array<{ from: string; ns: number; over: number; into: string[] }> {
  const by = new Map<string, { from: string; ns: number; over: number; into: string[] }>();
  for (const g of est.groups) {
    if (!g.over) continue;
    const f = by.get(g.from) ?? { from: g.from, ns: 0, over: 0, into: [] };
    f.over += g.over;
    f.ns = Math.max(f.ns, g.ns);
    f.into.push(g.group);
    by.set(g.from, f);
  }
  return [...by.values()].sort((a, b) => b.ns - a.ns);
}
