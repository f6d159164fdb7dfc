/**
 * Options shared by several verbs, defined once. Each builder returns a commander Option with its
 * spelling, its help and one parser that turns the text into a typed value (a loaded config, an
 * engine from the registry, a board, an integer) or throws a one-line VtwError. A verb adds them
 * with `.addOption(...)`; a builder's arguments only change what differs between verbs (help text,
 * default, whether it is required).
 */
import { Option } from 'commander';
import { loadConfig, type Derived } from '../config/index.ts';
import { VtwError } from '../errors.ts';
import type { Program } from '../program/index.ts';
import { DEFAULT_MAX_CYCLES, type Engine, type RunOptions } from '../engine/index.ts';
import { quoteUser } from '../util/quote.ts';
import { ENGINES, findEngine, type EngineEntry, type EngineOptions } from '../../sim/engines.ts';
import { getBoard } from '../../fpga/boards/index.ts';

// ---- parsers (also for verb-specific options) ----

/** An integer of at least `min` (0: non-negative, 1: positive); `name` is the option without dashes. */
export function parseInteger(name: string, min = 0): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      const what = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
      throw new VtwError(`--${name} ${text} must be ${what}`);
    }
    return n;
  };
}

/** A finite number above 0. */
export function parsePositive(name: string, unit = ''): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new VtwError(`--${name} ${text} must be a positive number${unit ? ` of ${unit}` : ''}`);
    return n;
  };
}

// ---- -c, --config ----

const CONFIG_HELP = 'preset name, JSON file or inline JSON';

/**
 * `-c, --config`: loaded and validated when parsed. `preset` is the default (null: none, the
 * option is then undefined when left out).
 */
export function configOption(opts: { description?: string; preset?: string | null } = {}): Option {
  const o = new Option('-c, --config <config>', opts.description ?? CONFIG_HELP).argParser((text: string) => loadConfig(text));
  const preset = opts.preset === undefined ? 'default' : opts.preset;
  return preset === null ? o : o.default(loadConfig(preset), preset);
}

/**
 * `-c, --config` kept as the text the user gave, for verbs that need a config only in some cases
 * (a program's own `.config` line or container wins) and load it then.
 */
export function configSpecOption(description: string): Option {
  return new Option('-c, --config <config>', description).default('default');
}

/** `--config` given to a verb that runs a program: the program must have been built for it. */
export function checkBuiltFor(file: string, p: Program, want: Derived | undefined): void {
  if (!want) return;
  if (want.variant !== p.config.variant || JSON.stringify(want.keys) !== JSON.stringify(p.config.keys)) {
    throw new VtwError(`${file} was built for ${p.config.variant}, not ${want.variant}; rebuild it or drop --config`);
  }
}

// ---- -e, --engine ----

/** `-e, --engine`: an entry of the engine registry (sim/engines.ts); the help lists the registry. */
export function engineOption(defaultEngine = 'ts'): Option {
  const description = `engine: ${ENGINES.map((e) => `${e.name} (${e.description})`).join(', ')}`;
  return new Option('-e, --engine <engine>', description).argParser(findEngine).default(findEngine(defaultEngine), defaultEngine);
}

/** The engine, set up to report its progress (Verilator builds) on stderr and keep mismatches in build/mismatch. */
export function startEngine(entry: EngineEntry, more: EngineOptions = {}): Engine {
  return entry.create({ onProgress: (m: string) => process.stderr.write(`${m}\n`), failDir: 'build/mismatch', ...more });
}

// ---- -b, --board ----

/** `-b, --board`: an entry of the board registry (fpga/boards/). */
export function boardOption(opts: { description?: string; required?: boolean } = {}): Option {
  const o = new Option('-b, --board <board>', opts.description ?? 'board name (see vtw boards)').argParser(getBoard);
  return opts.required ? o.makeOptionMandatory() : o;
}

// ---- output and formats ----

/** `--json`: print JSON instead of text. */
export function jsonOption(description = 'print JSON'): Option {
  return new Option('--json', description);
}

/** `-o, --out <file>` or `-o, --out <dir>`. */
export function outOption(kind: 'file' | 'dir', description: string, opts: { required?: boolean } = {}): Option {
  const o = new Option(`-o, --out <${kind}>`, description);
  return opts.required ? o.makeOptionMandatory() : o;
}

/** `--verbose`: what a run measured, even when it ends in an error (which is otherwise the only line). */
export function verboseOption(description = 'print the counters of a run that ends in an error too (before the error line)'): Option {
  return new Option('--verbose', description);
}

// ---- numbers ----

/** `--seed <n>`: a non-negative integer; `defaultSeed` undefined leaves it unset. */
export function seedOption(description: string, defaultSeed?: number): Option {
  const o = new Option('--seed <n>', description).argParser(parseInteger('seed'));
  return defaultSeed === undefined ? o : o.default(defaultSeed);
}

// ---- the host link (vtw link, vtw run) ----

/** `-p, --port <device>`: the board's serial port. */
export function portOption(): Option {
  return new Option('-p, --port <device>', 'serial port of the board (e.g. /dev/ttyUSB1)');
}

/** `--baud <n>`: the link's baud rate. */
export function baudOption(description = 'baud rate'): Option {
  return new Option('--baud <n>', description).argParser(parseInteger('baud', 1)).default(115200);
}

/** `--sim`: talk to a design simulated in Verilator instead of a board. */
export function simOption(description: string): Option {
  return new Option('--sim', description);
}

// ---- --max-cycles ----

/** `--max-cycles`: every engine's cycle limit; `withDefault` false leaves it undefined when absent. */
export function maxCyclesOption(opts: { description?: string; withDefault?: boolean } = {}): Option {
  const o = new Option('--max-cycles <n>', opts.description ?? `stop a program that has not reached FINISH after this many cycles (default ${DEFAULT_MAX_CYCLES.toExponential()}), saying where each module was`)
    .argParser((v: string) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1) throw new VtwError(`--max-cycles ${quoteUser(v, 30)} must be a positive integer (e.g. 1e9)`);
      return n;
    });
  return opts.withDefault === false ? o : o.default(DEFAULT_MAX_CYCLES, DEFAULT_MAX_CYCLES.toExponential());
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
