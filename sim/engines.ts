/** The engine registry: engines by the name `--engine` spells. A new engine is one more entry here. */
import { VtwError, didYouMean } from '../src/errors.ts';
import { BothEngine } from './compare.ts';
import type { Engine } from '../src/engine/index.ts';
import { TsEngine } from './ts/engine.ts';
import { VerilatorEngine } from './verilator/engine.ts';
import type { Board } from '../fpga/boards/types.ts';
import { SimBoardEngine } from '../fpga/top/engine.ts';

export interface EngineOptions {
  /** Progress messages (Verilator builds). */
  onProgress?: (msg: string) => void;
  /** Where `both` writes reproducers and waveforms of mismatches. */
  failDir?: string;
  /** The board of `board` / `board-netlist` (default: the program's config's BOARD). */
  board?: Board;
  /** Bytes of the simulated board top's memory (`board` / `board-netlist`; default: the board's, fpga/top boardMemory). */
  memBytes?: number;
}

export interface EngineEntry {
  name: string;
  description: string;
  /** What a run can record besides its result: a Chrome trace-event timeline, a VCD waveform. */
  records: { trace: boolean; vcd: boolean };
  create(opts: EngineOptions): Engine;
}

export const ENGINES: readonly EngineEntry[] = [
  {
    name: 'ts', description: 'TypeScript simulator', records: { trace: true, vcd: false },
    create: () => new TsEngine(),
  },
  {
    name: 'verilator', description: 'the generated RTL in Verilator', records: { trace: false, vcd: true },
    create: (o) => new VerilatorEngine(o.onProgress),
  },
  {
    name: 'both', description: 'the two in lock step, compared', records: { trace: true, vcd: false },
    create: (o) => new BothEngine(new TsEngine(), new VerilatorEngine(o.onProgress), { failDir: o.failDir ?? 'build/mismatch' }),
  },
  {
    name: 'board', description: 'the board top\'s RTL in Verilator through the simulated UART link, checked against ts', records: { trace: false, vcd: false },
    create: (o) => new SimBoardEngine({ netlist: false, board: o.board, memBytes: o.memBytes, onProgress: o.onProgress }),
  },
  {
    name: 'board-netlist', description: 'the board top\'s synth_ice40 netlist on the iCE40 cell models, likewise', records: { trace: false, vcd: false },
    create: (o) => new SimBoardEngine({ netlist: true, board: o.board, memBytes: o.memBytes, onProgress: o.onProgress }),
  },
];

export const ENGINE_NAMES: readonly string[] = ENGINES.map((e) => e.name);

export function findEngine(name: string): EngineEntry {
  const e = ENGINES.find((x) => x.name === name);
  if (e) return e;
  throw new VtwError(`unknown engine ${name}${didYouMean(name, ENGINE_NAMES)}; engines: ${ENGINE_NAMES.join(', ')}`);
}

export function getEngine(name: string, opts: EngineOptions = {}): Engine {
  return findEngine(name).create(opts);
}
