/**
 * The tuning log: JSON Lines, one record per measured trial (docs/tuning.md). `vtw tune --log`
 * appends to it as each trial finishes; `vtw op --tuned` reads it back and compiles with the knobs
 * of the cheapest record for exactly the same operator, shape, parameters and target (for a vta
 * target: the same configuration keys, not only the same name).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { CompileError } from '../errors.ts';

export type CostUnit = 'cycles' | 'ms';
export type Strategy = 'model' | 'random';

/** What a record is about; two records are for the same task when their keys are equal. */
export interface TuneKey {
  op: string;
  /** The dimensions as `--shape` lists them. */
  shape: number[];
  /** The common operator parameters (compiler/ops/registry.ts OpParams; unset ones as null). */
  params: { batch: number; groups: number; shift: number | null; bias: boolean; clip: [number, number] | null };
  /** `vta default`, `cpu`, `cpu -mattr=+avx2` (compiler/target/target.ts targetString). */
  target: string;
  /** vta: the configuration's keys (a name alone could stand for different files); null on the host. */
  config: Record<string, unknown> | null;
}

export interface TuneRecord extends TuneKey {
  knobs: Record<string, number>;
  /** Cycles on the cycle-exact simulator (vta), or the median warm time in ms (cpu). */
  cost: number;
  unit: CostUnit;
  /** 0: the default chooser's knobs (measured for reference); 1..N: the search's trials. */
  trial: number;
  strategy: Strategy | 'default';
  timestamp: string;
}

export interface LogProblem {
  line: number;
  why: string;
}

/** Refuse, before any work, a log that cannot be appended to (a missing folder, no permission). */
export function checkLogWritable(file: string): void {
  try {
    appendFileSync(file, '');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CompileError(`cannot write the tuning log ${file} (${code}); give a file in a folder that exists and that you can write`);
  }
}

export function appendRecord(file: string, r: TuneRecord): void {
  appendFileSync(file, JSON.stringify(r) + '\n');
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

/** Why a parsed line is not a tuning record (undefined if it is one). */
function recordError(x: unknown): string | undefined {
  if (!isObj(x)) return 'not a JSON object';
  if (typeof x.op !== 'string') return 'no "op" string';
  if (!Array.isArray(x.shape) || !x.shape.every(isInt)) return '"shape" is not a list of integers';
  if (!isObj(x.params)) return 'no "params" object';
  if (typeof x.target !== 'string') return 'no "target" string';
  if (x.config !== null && !isObj(x.config)) return '"config" is neither an object nor null';
  if (!isObj(x.knobs) || !Object.values(x.knobs).every(isInt)) return '"knobs" is not an object of integers';
  if (typeof x.cost !== 'number' || !Number.isFinite(x.cost) || x.cost < 0) return '"cost" is not a non-negative number';
  if (x.unit !== 'cycles' && x.unit !== 'ms') return '"unit" is neither cycles nor ms';
  if (!isInt(x.trial)) return '"trial" is not an integer';
  return undefined;
}

/** Every valid record of a log; each line that is not one is a problem (1-based line number) and is skipped. */
export function readLog(file: string): { records: TuneRecord[]; problems: LogProblem[] } {
  if (!existsSync(file)) throw new CompileError(`tuning log ${file} does not exist; write one with vtw tune ... --log ${file}`);
  const records: TuneRecord[] = [];
  const problems: LogProblem[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    let x: unknown;
    try {
      x = JSON.parse(text);
    } catch {
      problems.push({ line: i + 1, why: 'not valid JSON' });
      return;
    }
    const why = recordError(x);
    if (why) problems.push({ line: i + 1, why });
    else records.push(x as TuneRecord);
  });
  return { records, problems };
}

/** A value as JSON with object keys sorted: equality independent of the order keys were written in. */
export const canon = (x: unknown): string =>
  JSON.stringify(x, (_k, v) => (isObj(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));

export const sameTask = (a: TuneKey, b: TuneKey): boolean =>
  a.op === b.op && a.target === b.target && canon(a.shape) === canon(b.shape) && canon(a.params) === canon(b.params) && canon(a.config) === canon(b.config);

/** The cheapest of the records that match (the first of equals), or undefined. */
function cheapest(records: readonly TuneRecord[], match: (r: TuneRecord) => boolean): TuneRecord | undefined {
  let best: TuneRecord | undefined;
  for (const r of records) if (match(r) && (!best || r.cost < best.cost)) best = r;
  return best;
}

/** The cheapest record for the task (the first of equals), or undefined. */
export const bestRecord = (records: readonly TuneRecord[], key: TuneKey): TuneRecord | undefined => cheapest(records, (r) => sameTask(r, key));

/**
 * A task's *schedule* key: the task with any requantization shift (the amount changes no
 * instruction and no loop, so a layer tuned with one shift serves a model node with another).
 */
export const scheduleKey = (k: TuneKey): string => canon({ op: k.op, target: k.target, shape: k.shape, config: k.config, params: { ...k.params, shift: null } });

/** The cheapest record for a task's schedule (scheduleKey): what `vtw model compile --tuned` looks up per node. */
export function bestScheduleRecord(records: readonly TuneRecord[], key: TuneKey): TuneRecord | undefined {
  const want = scheduleKey(key);
  return cheapest(records, (r) => scheduleKey(r) === want);
}

/** readLog, each line that is not a record reported as one warning on stderr (the command line's form). */
export function readLogWarning(file: string): TuneRecord[] {
  const { records, problems } = readLog(file);
  for (const p of problems) process.stderr.write(`vtw: warning: ${file} line ${p.line}: ${p.why}; skipped\n`);
  return records;
}
