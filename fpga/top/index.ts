/**
 * The VTA board top: one hw/hdl module per (configuration, board) holding
 *
 *   clk ─► [PLL, when CLOCK_MHZ differs from the board clock] ─► core clock; power-on reset until LOCK
 *   uart_rx/uart_tx ─► UART host link (fpga/link/rtl.ts) ─┬─ register bus ─► VTA core (hw/vta, `vta_<variant>`)
 *                                                          └─ memory port ──┐
 *   VTA memory master port (docs/rtl.md) ───────────────► memory controller (memctl.ts) ─► SPRAM / block RAM
 *   VTA busy ─► LED 0; link activity ─► LED 1
 *
 * The memory controller implements the timing model of docs/microarch.md §8.3–8.4 exactly, for
 * MEM_OUTSTANDING = 1, so a program takes on the board the cycle count the simulators give. The
 * link reaches the same memory only while the core is idle. Memory map: byte address a of the
 * accelerator's DRAM is byte a of the on-chip memory, for a < memBytes (higher bits are not
 * decoded); the host writes and reads it through the link in 32-bit words.
 */
import type { Derived } from '../../src/config/derive.ts';
import { VtwError } from '../../src/errors.ts';
import { configId, generateDesign, type Manifest } from '../../hw/gen.ts';
import {
  Module, cat, connect, ice40CellsSim, isPow2, lit, not, portsOf, printModule, repeat, xor, type Expr,
} from '../../hw/hdl/index.ts';
import { generateVta } from '../../hw/vta/index.ts';
import { memBus, regBus } from '../../hw/vta/ports.ts';
import type { Board } from '../boards/types.ts';
import { DEVICES } from '../devices.ts';
import type { ToolCommand } from '../flow.ts';
import { checkBaud } from '../link/baud.ts';
import { STREAM_BLOCK_WORDS } from '../link/protocol.ts';
import { linkMemPort, uartLink } from '../link/rtl.ts';
import { boardShell } from '../shell.ts';
import { planPll, type PllPlan } from '../pll.ts';
import { SPRAM_BYTES, memController, type BoardMemoryKind } from './memctl.ts';

export { SPRAM_BYTES, SPRAM_WORDS, memController, spramPrimitive, type BoardMemoryKind } from './memctl.ts';

export const DEFAULT_BAUD = 115200;

/** The on-chip memory a board gives the accelerator. */
export interface BoardMemory {
  kind: BoardMemoryKind;
  memBytes: number;
  /** SB_SPRAM256KA instances (spram), or block RAMs (4 Kbit EBR) the byte lanes need at least (bram). */
  blocks: number;
  /** e.g. "4 x SB_SPRAM256KA (2 banks of 2), 131072 bytes". */
  description: string;
}

const floorPow2 = (n: number) => (n < 1 ? 0 : 2 ** Math.floor(Math.log2(n)));

/**
 * Check that a configuration can run on the board's memory controller; one line naming the key
 * and the fix otherwise.
 */
export function checkBoardConfig(d: Derived, board: Board): BoardMemoryKind {
  const dev = DEVICES[board.device];
  const m = d.mem;
  if (m.outstanding !== 1) {
    throw new VtwError(`the board memory controller keeps one read and one write burst in flight, but MEM_OUTSTANDING is ${m.outstanding}: set "MEM_OUTSTANDING": 1 in the config`);
  }
  if (d.dspBudget && dev.dsps === 0) {
    throw new VtwError(`DSP_BUDGET is ${d.dspBudget} but the ${dev.part} of ${board.name} has no DSP blocks: set "DSP_BUDGET": 0 (LUT multipliers)`);
  }
  const kind: BoardMemoryKind = dev.spram > 0 ? 'spram' : 'bram';
  if (kind === 'spram') {
    const need = (key: string, value: number, min: number, why: string) => {
      if (value < min) throw new VtwError(`${key} is ${value} but the SPRAM memory of ${board.name} (single-ported) needs ${key} >= ${min} (${why}): set "${key}": ${min} or more in the config`);
    };
    need('MEM_CYCLES_PER_BEAT', m.cyclesPerBeat, 2, 'read fetches and write beats share its one port');
    need('MEM_READ_LATENCY', m.readLatency, 3, 'a registered read plus a cycle of margin');
    need('MEM_WRITE_LATENCY', m.writeLatency, 2, 'a write beat that meets a read lands one cycle late');
    const lanes = d.busWidth / 16;
    if (lanes > Math.min(4, dev.spram)) {
      throw new VtwError(`a ${d.busWidth}-bit memory bus needs ${lanes} SB_SPRAM256KA side by side, the ${dev.part} has ${dev.spram}: set "LOG_BUS_WIDTH" to 5 or 6 (32 or 64 bits)`);
    }
  } else if (m.readLatency < 2) {
    throw new VtwError(`MEM_READ_LATENCY is ${m.readLatency} but the block-RAM memory of ${board.name} needs MEM_READ_LATENCY >= 2 (a registered read plus the request cycle): set "MEM_READ_LATENCY": 2 or more in the config`);
  }
  return kind;
}

/** Memory of the board top: its kind from the device, its size from `memBytes`, the config's BOARD_MEM_BYTES or the default. */
export function boardMemory(d: Derived, board: Board, memBytesOverride?: number): BoardMemory {
  const kind = checkBoardConfig(d, board);
  const memBytes = memBytesOverride ?? d.boardMemBytes ?? undefined;
  const what = (bytes: number) => `board memory of ${bytes} bytes${memBytesOverride === undefined && d.boardMemBytes !== null ? ' (the config\'s BOARD_MEM_BYTES)' : ''}`;
  const dev = DEVICES[board.device];
  const BB = d.busWidth / 8;
  if (kind === 'spram') {
    const lanes = d.busWidth / 16;
    const maxBanks = floorPow2(Math.floor(Math.min(4, dev.spram) / lanes));
    const max = maxBanks * lanes * SPRAM_BYTES;
    const unit = lanes * SPRAM_BYTES;
    // by default every bank up to what the core addresses (2^MEM_ADDR_BITS bytes): banks past that
    // would cost the controller their select logic and never be reached by the core
    const bytes = memBytes ?? Math.min(max, Math.max(unit, 2 ** d.mem.addrBits));
    if (!isPow2(bytes) || bytes < unit || bytes > max) {
      throw new VtwError(`${what(bytes)}: ${board.name} with a ${d.busWidth}-bit bus takes SPRAM banks of ${unit} bytes, a power of two from ${unit} to ${max} bytes`);
    }
    const banks = bytes / unit;
    return { kind, memBytes: bytes, blocks: banks * lanes, description: `${banks * lanes} x SB_SPRAM256KA (${banks} bank${banks > 1 ? 's' : ''} of ${lanes}), ${bytes} bytes` };
  }
  const ebrBytes = dev.ramBlocks * 512;
  const bytes = memBytes ?? floorPow2(ebrBytes / 2);
  // One 8-bit memory per byte lane; an EBR holds 512 x 8 bits. A size between powers of two takes
  // whole EBRs per lane (6 KiB on a 32-bit bus: 3 per lane), the core's addresses past it unused.
  const row = BB * 512;
  if (bytes < 4096 || bytes < BB * 2 || (!isPow2(bytes) && bytes % row !== 0)) {
    throw new VtwError(`${what(bytes)}: give a power of two or a multiple of ${row} bytes (one block RAM per byte lane), at least 4096`);
  }
  const blocks = BB * Math.ceil(bytes / BB / 512);
  return { kind, memBytes: bytes, blocks, description: `${BB} byte lanes of block RAM (at least ${blocks} SB_RAM40_4K), ${bytes} bytes` };
}

export interface VtaBoardOptions {
  /** Bytes of on-chip memory (default: SPRAM up to 4 blocks and up to 2^MEM_ADDR_BITS bytes, at least one bank; half the block RAM elsewhere). */
  memBytes?: number;
  /** Clock cycles per UART bit (default: core clock / baud). Simulation uses 4..8. */
  clksPerBit?: number;
  /** Baud rate of the link (default 115200); refused in one line where the clock or the board's USB-UART bridge cannot make it (fpga/link/baud.ts). */
  baud?: number;
  /** The link takes WRITE_STREAM (docs/host-protocol.md; default: with a baud other than 115200, so the default link stays as it was). */
  linkStream?: boolean;
  /** Link timeout in cycles (default: 20 ms of core clock, at least 400 bit times). */
  timeoutCycles?: number;
  /** Run from the board clock even when CLOCK_MHZ differs (simulation). */
  noPll?: boolean;
  /** Use this PLL plan instead of asking icepll. */
  pll?: PllPlan;
  /** icepll to plan the PLL with (default: the WebAssembly build). */
  icepll?: ToolCommand;
  /** Top module name (default `<vta top>_board`). */
  top?: string;
}

export interface VtaBoardDesign {
  top: string;
  /** file name → Verilog, one module per file: the VTA core, the link, the memory controller, the top. */
  files: Record<string, string>;
  /** Cell models a simulation or lint needs beside `files` (yosys's ice40 cells_sim.v for SPRAM / SB_MAC16). */
  libraries: string[];
  board: string;
  memory: BoardMemory;
  memBytes: number;
  memWords: number;
  /** The core clock: the PLL's achieved frequency, or the board clock. */
  clockMhz: number;
  pll: PllPlan | null;
  clksPerBit: number;
  timeoutCycles: number;
  baud: number;
  /** The value of the config_id register (0x18). */
  configId: number;
  /** The VTA core's top module and manifest (as `vtw gen --target ice40` writes it). */
  vtaTop: string;
  manifest: Manifest;
}

/** Build the board top with a given clock plan (null: the board clock drives the core directly). */
export function buildVtaBoardTop(d: Derived, board: Board, pll: PllPlan | null, opts: Omit<VtaBoardOptions, 'pll' | 'icepll' | 'noPll'> = {}): VtaBoardDesign {
  const memory = boardMemory(d, board, opts.memBytes);
  const design = generateDesign(d, 'ice40');
  const id = configId(d, 'ice40');
  const modules = generateVta(d, { target: 'ice40', configId: id });
  const vta = modules[modules.length - 1];
  const clockMhz = pll ? pll.achievedMhz : board.clock.mhz;
  const clkHz = clockMhz * 1e6;
  const baud = opts.baud ?? DEFAULT_BAUD;
  // A given divider (simulation) is taken as it is; otherwise the board's bridge and the clock decide.
  const cpb = opts.clksPerBit ?? checkBaud(board, clkHz, baud).clksPerBit;
  if (!Number.isInteger(cpb) || cpb < 4) {
    throw new VtwError(`${baud} baud from a ${clockMhz} MHz clock is ${(clkHz / baud).toFixed(2)} clocks per bit; the link needs at least 4: lower the baud rate`);
  }
  const timeoutCycles = opts.timeoutCycles ?? Math.max(400 * cpb, Math.round(clkHz / 50));
  const memWords = memory.memBytes / 4;
  const stream = opts.linkStream ?? baud !== DEFAULT_BAUD;
  const link = uartLink({ clksPerBit: cpb, timeoutCycles, memWords, prefix: `${vta.name}_`, ...(stream ? { streamBlockWords: STREAM_BLOCK_WORDS } : {}) });
  const ctl = memController(d, { name: `${vta.name}_memctl`, kind: memory.kind, memBytes: memory.memBytes });
  const name = opts.top ?? `${vta.name}_board`;

  const m = new Module(name, [
    `VTA ${d.variant} on ${board.title}: core, ${memory.description} as its DRAM, UART host link, ${pll ? `PLL ${pll.achievedMhz} MHz` : `${clockMhz} MHz board clock`}`,
    '(generated by vtw fpga/top/index.ts; docs/fpga.md "Board top for the VTA core")',
  ]);
  const { clk, rst, rx, tx, led } = boardShell(m, board, pll ?? undefined);
  const nLed = board.leds.length;

  const w = (nm: string, width = 1, comment?: string) => m.wire(nm, width, comment);
  // The bundles: the link drives the core's register bus; the link's and the core's memory ports
  // meet the memory controller (the core's wvalid is informational: left with the observation ports).
  const linkReg = portsOf(link.link, regBus(), 'reg_');
  const vtaReg = portsOf(vta, regBus().flip(), 'reg_');
  const reg = connect(m, linkReg, vtaReg, 'reg_');
  const linkMem = portsOf(link.link, linkMemPort(), 'mem_');
  const ctlLink = portsOf(ctl, linkMemPort().flip(), 'link_');
  const lm = connect(m, linkMem, ctlLink, 'link_mem_');
  const linkIdle = w('link_idle');
  const txLine = w('tx_line');
  m.assign(tx, txLine);
  m.instance(link.link, 'u_link', {
    clk, rst, uart_rx: rx, uart_tx: txLine, ...reg.of(linkReg), ...lm.of(linkMem), idle: linkIdle,
  });

  const vtaMem = portsOf(vta, memBus(d).without('wvalid'), 'mem_');
  const ctlMem = portsOf(ctl, memBus(d).without('wvalid').flip(), 'mem_');
  const mem = connect(m, vtaMem, ctlMem, 'mem_');
  const busy = w('vta_busy');
  // Observation ports and mem_wvalid (informational) stay unconnected: dangling *_unused wires that
  // synthesis removes.
  const obs: Record<string, Expr> = {};
  for (const p of vta.ports()) {
    if (p.kind === 'output' && (p.name.startsWith('obs_') || p.name === 'mem_wvalid')) obs[p.name] = w(`vta_${p.name}_unused`, p.width);
  }
  m.instance(vta, 'u_vta', { clk, rst, ...reg.of(vtaReg), ...mem.of(vtaMem), busy, ...obs });
  m.instance(ctl, 'u_mem', { clk, rst, vta_busy: busy, ...mem.of(ctlMem), ...lm.of(ctlLink) });

  // LEDs: 0 = the core is running, 1 = link activity, others off. Registered: the core's longest
  // paths end at a flip-flop, not at an output pin.
  const on: Expr[] = [busy, not(linkIdle)].slice(0, nLed);
  while (on.length < nLed) on.push(lit(1, 0));
  const lit0 = cat(...on.reverse());
  const ledQ = m.reg('led_q', nLed, 'LED states');
  m.seq(clk, (b) => b.set(ledQ, board.ledsActiveLow ? xor(lit0, repeat(nLed, lit(1, 1))) : lit0));
  m.assign(led, ledQ);

  const files: Record<string, string> = { ...design.files };
  for (const mod of [...link.modules, ctl, m]) files[`${mod.name}.v`] = printModule(mod);
  const libraries = memory.kind === 'spram' || (d.dspBudget ?? 0) > 0 ? [ice40CellsSim()] : [];
  return {
    top: name, files, libraries, board: board.name, memory, memBytes: memory.memBytes, memWords, clockMhz, pll, clksPerBit: cpb,
    timeoutCycles, baud, configId: id, vtaTop: vta.name, manifest: design.manifest,
  };
}

/**
 * The board top for a configuration: plans the PLL (icepll) when CLOCK_MHZ differs from the board
 * clock, unless `noPll` (simulation) or a `pll` plan is given.
 */
export async function vtaBoardTop(d: Derived, board: Board, opts: VtaBoardOptions = {}): Promise<VtaBoardDesign> {
  checkBoardConfig(d, board);
  let pll: PllPlan | null = null;
  if (opts.pll) pll = opts.pll;
  else if (!opts.noPll && Math.abs(d.clockMhz - board.clock.mhz) > 1e-9) pll = await planPll(board.clock.mhz, d.clockMhz, opts.icepll);
  const { noPll: _n, pll: _p, icepll: _i, ...rest } = opts;
  return buildVtaBoardTop(d, board, pll, rest);
}
