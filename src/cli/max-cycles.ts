/** `--max-cycles` of vtw sim / test / run / op: every engine's cycle limit (sim/engine.ts DEFAULT_MAX_CYCLES). */
import { VtwError } from '../errors.ts';
import { quoteUser } from '../util/quote.ts';
import { DEFAULT_MAX_CYCLES, type Engine, type RunOptions } from '../../sim/engine.ts';

export const MAX_CYCLES_FLAG = '--max-cycles <n>';
export const MAX_CYCLES_HELP = `stop a program that has not reached FINISH after this many cycles (default ${DEFAULT_MAX_CYCLES.toExponential()}), saying where each module was`;

/** The limit given on the command line (DEFAULT_MAX_CYCLES when absent). */
export function parseMaxCycles(v: string | undefined): number {
  if (v === undefined) return DEFAULT_MAX_CYCLES;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new VtwError(`--max-cycles ${quoteUser(v, 30)} must be a positive integer (e.g. 1e9)`);
  return n;
}

/** `engine` with `maxCycles` as the default of every run (for suites that call run themselves). */
export function withMaxCycles<E extends Engine>(engine: E, maxCycles: number): E {
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'run') return (program: Parameters<E['run']>[0], opts: RunOptions = {}) => target.run(program, { maxCycles, ...opts });
      return Reflect.get(target, prop, receiver);
    },
  });
}
