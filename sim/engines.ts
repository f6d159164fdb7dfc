/** Engine lookup by name, as `--engine` spells it. New engines register here. */
import { VtwError } from '../src/errors.ts';
import { BothEngine } from './compare.ts';
import type { Engine } from '../src/engine/index.ts';
import { TsEngine } from './ts/engine.ts';
import { VerilatorEngine } from './verilator/engine.ts';

export const ENGINE_NAMES = ['ts', 'verilator', 'both'] as const;

export interface EngineOptions {
  /** Progress messages (Verilator builds). */
  onProgress?: (msg: string) => void;
  /** Where `both` writes reproducers and waveforms of mismatches. */
  failDir?: string;
}

export function getEngine(name: string, opts: EngineOptions = {}): Engine {
  switch (name) {
    case 'ts':
      return new TsEngine();
    case 'verilator':
      return new VerilatorEngine(opts.onProgress);
    case 'both':
      return new BothEngine(new TsEngine(), new VerilatorEngine(opts.onProgress), { failDir: opts.failDir ?? 'build/mismatch' });
    case 'board':
      throw new VtwError('engine board runs through `vtw run --board B --port DEV`; for simulation use --engine ts, verilator or both');
    default:
      throw new VtwError(`unknown engine ${name}; engines: ${ENGINE_NAMES.join(', ')}`);
  }
}
