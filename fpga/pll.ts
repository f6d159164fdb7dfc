/**
 * iCE40 PLL for a board top: `icepll` (the YoWASP build) chooses the dividers for a target clock,
 * and `addPll` instantiates SB_PLL40_CORE or SB_PLL40_PAD with them through the construction layer. The core clock
 * is the PLL's global output; hold the design in reset until LOCK.
 */
import { Module, lit, type Expr, type Signal } from '../hw/hdl/index.ts';
import { VtwError } from '../src/errors.ts';
import type { ToolCommand } from './flow.ts';

export interface PllPlan {
  inMhz: number;
  requestedMhz: number;
  achievedMhz: number;
  divr: number;
  divf: number;
  divq: number;
  filterRange: number;
}

/** Parse `icepll` output (simple feedback). */
export function parseIcepll(text: string, inMhz: number, requestedMhz: number): PllPlan {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    if (!m) throw new VtwError(`icepll: could not read ${re.source.split(':')[0]} from its output`);
    return Number(m[1]);
  };
  return {
    inMhz,
    requestedMhz,
    achievedMhz: num(/F_PLLOUT:\s+([\d.]+) MHz \(achieved\)/),
    divr: num(/DIVR:\s+(\d+)/),
    divf: num(/DIVF:\s+(\d+)/),
    divq: num(/DIVQ:\s+(\d+)/),
    filterRange: num(/FILTER_RANGE:\s+(\d+)/),
  };
}

/** Dividers for `outMhz` from the board clock `inMhz` (icepll, WASM by default). */
export async function planPll(inMhz: number, outMhz: number, icepll?: ToolCommand): Promise<PllPlan> {
  const run = icepll ?? ((await import('@yowasp/nextpnr-ice40')).runIcepll as ToolCommand);
  let out = '';
  const dec = new TextDecoder();
  const sink = (b: Uint8Array | null) => {
    if (b) out += dec.decode(b);
  };
  try {
    await run(['-i', String(inMhz), '-o', String(outMhz)], {}, { stdout: sink, stderr: sink });
  } catch {
    const why = out.split('\n').find((l) => /^Error/.test(l.trim()))?.replace(/^\s*Error:\s*/, '') ?? out.trim();
    throw new VtwError(`no PLL setting for ${outMhz} MHz from ${inMhz} MHz: ${why}`);
  }
  return parseIcepll(out, inMhz, outMhz);
}

const primitives = new Map<string, Module>();

/**
 * SB_PLL40_CORE (reference clock from the fabric) or SB_PLL40_PAD (reference clock straight from
 * the PLL's own input pin), with the ports a board top uses; yosys and nextpnr know both.
 */
export function pllPrimitive(pad: boolean): Module {
  const name = pad ? 'SB_PLL40_PAD' : 'SB_PLL40_CORE';
  const known = primitives.get(name);
  if (known) return known;
  const m = new Module(name, [], true);
  m.input(pad ? 'PACKAGEPIN' : 'REFERENCECLK');
  m.output('PLLOUTGLOBAL');
  m.output('LOCK');
  m.input('BYPASS');
  m.input('RESETB');
  primitives.set(name, m);
  return m;
}

/**
 * Instantiate the PLL in `m`: `refclk` in, `clkOut` and `lock` are wires of `m`. Feedback is
 * SIMPLE and the output GENCLK (the primitives' defaults). `pad`: the board clock arrives on the
 * PLL's own input pin (Board.clock.pllPad), so `refclk` must be the top-level clock port itself.
 */
export function addPll(m: Module, plan: PllPlan, refclk: Expr, clkOut: Signal, lock: Signal, pad: boolean, name = 'u_pll'): void {
  m.instance(pllPrimitive(pad), name, {
    [pad ? 'PACKAGEPIN' : 'REFERENCECLK']: refclk, PLLOUTGLOBAL: clkOut, LOCK: lock, BYPASS: lit(1, 0), RESETB: lit(1, 1),
  }, {
    DIVR: lit(4, plan.divr),
    DIVF: lit(7, plan.divf),
    DIVQ: lit(3, plan.divq),
    FILTER_RANGE: lit(3, plan.filterRange),
  });
}
