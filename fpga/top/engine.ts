/**
 * The simulated board top as an engine (`--engine board` and `--engine board-netlist`): every program
 * runs on a freshly started simulation of the configuration's board top (the RTL, or its
 * synthesized netlist with the iCE40 cell models), through the UART link and host driver, and is
 * checked against the TS simulator: the same error (if any), the same total cycles, the same bytes
 * in every buffer read back. A difference is a 'mismatch' error naming the first one.
 */
import type { Derived } from '../../src/config/derive.ts';
import { PRESETS } from '../../src/config/presets.ts';
import { DEFAULT_MAX_CYCLES, type Engine, type RunOptions, type RunResult } from '../../src/engine/index.ts';
import { VtwError } from '../../src/errors.ts';
import type { Program } from '../../src/program/container.ts';
import { TsEngine } from '../../sim/ts/engine.ts';
import { getBoard, type Board } from '../boards/index.ts';
import { netlistSimDesign, verilatorMissing } from './netlist.ts';
import { compareWithBoard, runOnBoard, type BoardRunResult } from './run.ts';
import { boardMemory } from './index.ts';
import { startSimBoard } from './sim.ts';

/** The presets that name their board (BOARD): what `--engine board|board-netlist` runs. */
export const BOARD_PRESETS: readonly string[] = PRESETS.filter((p) => typeof p.json.BOARD === 'string').map((p) => p.name);

/** The board a configuration runs on: `board` when given, else the config's BOARD; one line naming the board presets otherwise. */
export function boardFor(d: Derived, engine: string, board?: Board): Board {
  if (board) return board;
  if (d.board) return getBoard(d.board);
  throw new VtwError(`engine ${engine} simulates a board top, but ${d.variant} names no board: use a board preset (--config ${BOARD_PRESETS.join(' or --config ')}) or give --board B (see vtw boards)`);
}

export interface SimBoardEngineOptions {
  /** Simulate the synthesized netlist instead of the RTL. */
  netlist: boolean;
  /** The board (default: each program's config's BOARD). */
  board?: Board;
  /** Bytes of the board top's memory (default: the board's). */
  memBytes?: number;
  onProgress?: (msg: string) => void;
  /** Give up on a run after this many ms of wall time (default 10 minutes). */
  timeoutMs?: number;
}

export class SimBoardEngine implements Engine {
  readonly name: 'board' | 'board-netlist';
  private readonly ref = new TsEngine();
  private toolsChecked = false;

  constructor(readonly opts: SimBoardEngineOptions) {
    this.name = opts.netlist ? 'board-netlist' : 'board';
  }

  /** Check what a run of a program built for `d` needs (a board, Verilator) before anything is built. */
  check(d: Derived): Board {
    const board = boardFor(d, this.name, this.opts.board);
    if (this.opts.memBytes !== undefined) boardMemory(d, board, this.opts.memBytes); // a size the board top cannot build: one line, before any run
    const why = this.toolsChecked ? null : verilatorMissing();
    this.toolsChecked = !why;
    if (why) throw new VtwError(`engine ${this.name} ${this.opts.netlist ? 'is a gate-level simulation and ' : ''}needs Verilator: ${why}`);
    return board;
  }

  async run(p: Program, o: RunOptions = {}): Promise<RunResult> {
    const board = this.check(p.config);
    const progress = this.opts.onProgress;
    const sim = await startSimBoard(p.config, board, this.opts.memBytes !== undefined ? { memBytes: this.opts.memBytes } : {}, progress, this.opts.netlist ? (des) => netlistSimDesign(des, { onProgress: progress }) : undefined);
    let r: BoardRunResult;
    try {
      const maxCycles = o.maxCycles !== undefined && o.maxCycles < DEFAULT_MAX_CYCLES ? { maxCycles: o.maxCycles } : {};
      r = await runOnBoard(sim.host, p, { transfer: 'buffers', timeoutMs: this.opts.timeoutMs ?? 600_000, boardName: `the simulated ${board.name} board top`, ...maxCycles });
    } finally {
      await sim.close();
    }
    const ref = await this.ref.run(p, { ...o, insnTiming: false });
    const diff = compareWithBoard(p, ref, r, 'buffers');
    const result: RunResult = { ...r, engine: this.name };
    if (diff.length) {
      result.error = { kind: 'mismatch', message: `${this.name} differs from ts: ${diff.map((x) => `${x.what}: ${x.detail}`).join('; ')}` };
    }
    return result;
  }
}
