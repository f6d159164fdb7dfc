/** Engine lookup by name, as `--engine` spells it. New engines register here. */
import { VtwError } from '../src/errors.ts';
import type { Engine } from './engine.ts';
import { TsEngine } from './ts/engine.ts';

export const ENGINE_NAMES = ['ts', 'verilator', 'board'] as const;

export function getEngine(name: string): Engine {
  switch (name) {
    case 'ts':
      return new TsEngine();
    case 'verilator':
    case 'board':
      throw new VtwError(`engine ${name} is not available in this version of vtw; use --engine ts`);
    default:
      throw new VtwError(`unknown engine ${name}; engines: ${ENGINE_NAMES.join(', ')}`);
  }
}
