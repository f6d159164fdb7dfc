/** The engine registry: engines by the name `--engine` spells. A new engine is one more entry here. */
import { VtwError, didYouMean } from '../src/errors.ts';
import { BothEngine } from './compare.ts';
import type { Engine } from '../src/engine/index.ts';
import { TsEngine } from './ts/engine.ts';
import { VerilatorEngine } from './verilator/engine.ts';

export interface EngineOptions {
  /** Progress messages (Verilator builds). */
  onProgress?: (msg: string) => void;
  /** Where `both` writes reproducers and waveforms of mismatches. */
  failDir?: string;
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
];

export const ENGINE_NAMES: readonly string[] = ENGINES.map((e) => e.name);

/** Names that are engines elsewhere in vtw but not here, with where to find them. */
const ELSEWHERE: Record<string, string> = {
  board: 'engine board runs through `vtw run --board B --port DEV`; for simulation use --engine ts, verilator or both',
};

export function findEngine(name: string): EngineEntry {
  const e = ENGINES.find((x) => x.name === name);
  if (e) return e;
  if (Object.hasOwn(ELSEWHERE, name)) throw new VtwError(ELSEWHERE[name]);
  throw new VtwError(`unknown engine ${name}${didYouMean(name, ENGINE_NAMES)}; engines: ${ENGINE_NAMES.join(', ')}`);
}

export function getEngine(name: string, opts: EngineOptions = {}): Engine {
  return findEngine(name).create(opts);
}
