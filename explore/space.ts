/**
 * The space file of `vtw explore` (docs/explore.md): which configuration keys vary over which
 * values, which stay fixed, the constraints a point must meet, the workloads, the measurement,
 * the objectives, the search and energy overrides. `loadSpace` checks it field by field and turns
 * the first problem into one SpaceError line naming the field and what it should be.
 */
import { KEY_NAMES, KEY_SPECS, normalizeKeys, type VtaTarget } from '../src/config/index.ts';
import { ConfigError, VtwError, didYouMean } from '../src/errors.ts';
import { readInputText } from '../src/util/input.ts';
import { parseJsonText, quoteUser } from '../src/util/quote.ts';
import type { Conv2dSpec } from '../compiler/ops/conv2d.ts';
import { LENET_LAYERS, MOBILENET_LAYERS, RESNET18_LAYERS, type BenchLayer } from '../compiler/bench/layers.ts';
import { ExprError, parseExpr, type Expr } from './expr.ts';
import { DEFAULT_ENERGY, type EnergyTable } from './energy.ts';
import { METRICS } from './metrics.ts';
import { BUFFER_NAMES } from '../src/config/index.ts';

export class SpaceError extends VtwError {}

export type Layer = { name: string; spec: Omit<Conv2dSpec, 'shift' | 'bias' | 'clip'>; count: number };

export interface Workload {
  /** As written in the space file ('resnet18', 'conv2d:56,56,64,64,3,1,1'). */
  name: string;
  layers: Layer[];
}

/** The named layer sets a workload can be (compiler/bench/layers.ts). */
export const LAYER_SETS: Readonly<Record<string, readonly BenchLayer[]>> = { resnet18: RESNET18_LAYERS, mobilenet: MOBILENET_LAYERS, lenet: LENET_LAYERS };

export type AreaMethod = 'generic' | 'estimate' | 'ice40' | 'none';
export const AREA_METHODS: readonly AreaMethod[] = ['generic', 'estimate', 'ice40', 'none'];

/**
 * How a point's area is measured: the method, for `ice40` the nextpnr placement seed, and a time
 * limit in seconds past which the measurement is abandoned and the point recorded as failed.
 */
export interface Measure {
  area: AreaMethod;
  seed?: number;
  timeout_s?: number;
}

export type SearchStrategy = 'grid' | 'random' | 'evolve';
export const SEARCH_STRATEGIES: readonly SearchStrategy[] = ['grid', 'random', 'evolve'];

export interface Space {
  name: string;
  /**
   * The varied axes. An axis with `group` is a name of the space file's own over objects of config
   * keys that vary together (e.g. a board and the DSP budget of its part).
   */
  vary: { key: string; values: unknown[]; group?: string[] }[];
  fixed: Record<string, unknown>;
  constraints: Expr[];
  workloads: Workload[];
  measure: Measure;
  objectives: { metric: string; goal: 'min' | 'max' }[];
  search: {
    strategy: SearchStrategy;
    budget: number | null;
    seed: number;
    /** evolve: points per round (null: the default, max(8, workers)). */
    batch: number | null;
    /** Set by an adaptive search (explore/search.ts): the grid indices to sweep, in order. */
    visit?: number[];
  };
  energy: EnergyTable;
  /** Grid index of the reference point (always evaluated; pareto.json says where it stands), or null. */
  reference: number | null;
  /** Points of the full grid. */
  size: number;
}

const TOP_KEYS = ['name', 'description', 'vary', 'fixed', 'constraints', 'workloads', 'measure', 'objectives', 'search', 'energy', 'reference'];
/** Most values one vary entry may list, and most points a grid may hold. */
const MAX_VALUES = 4096;
const MAX_POINTS = 1_000_000;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new SpaceError(`${where}: unknown key ${quoteUser(k, 40)}${didYouMean(k, allowed) || `; allowed: ${allowed.join(', ')}`}`);
    }
  }
}

function int(v: unknown, where: string, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new SpaceError(`${where} must be an integer${min > -Infinity ? ` >= ${min}` : ''}`);
  return v;
}

/** A vary entry's values: a list, {from, to, step?} or {from, to, pow2: true} (from, 2 from, 4 from, ... up to to). */
function varyValues(key: string, v: unknown): unknown[] {
  const where = `vary.${key}`;
  let values: unknown[];
  if (Array.isArray(v)) values = v;
  else if (isObj(v)) {
    unknownKeys(v, ['from', 'to', 'step', 'pow2'], where);
    const from = int(v.from, `${where}.from`);
    const to = int(v.to, `${where}.to`);
    if (to < from) throw new SpaceError(`${where}: to (${to}) is below from (${from})`);
    values = [];
    if (v.pow2 !== undefined) {
      if (v.pow2 !== true) throw new SpaceError(`${where}.pow2 must be true (or left out for a step range)`);
      if (v.step !== undefined) throw new SpaceError(`${where}: give step or pow2, not both`);
      if (from < 1) throw new SpaceError(`${where}.from must be >= 1 with pow2`);
      for (let x = from; x <= to && values.length <= MAX_VALUES; x *= 2) values.push(x);
    } else {
      const step = v.step === undefined ? 1 : int(v.step, `${where}.step`, 1);
      for (let x = from; x <= to && values.length <= MAX_VALUES; x += step) values.push(x);
    }
  } else throw new SpaceError(`${where} must be a list of values, {"from": A, "to": B, "step": S} or {"from": A, "to": B, "pow2": true}`);
  if (!values.length) throw new SpaceError(`${where} lists no values: the space would be empty`);
  if (values.length > MAX_VALUES) throw new SpaceError(`${where} has more than ${MAX_VALUES} values`);
  const seen = new Set(values.map((x) => JSON.stringify(x)));
  if (seen.size !== values.length) throw new SpaceError(`${where} lists a value twice`);
  return values;
}

/** One value of a config key, checked alone (type, range, power of two) by src/config. */
function checkKeyValue(key: string, value: unknown, target: unknown, where: string): void {
  if (!KEY_NAMES.includes(key)) throw new SpaceError(`${where}: unknown config key ${quoteUser(key, 40, false)}${didYouMean(key, KEY_NAMES) || '; the keys are listed in docs/config.md'}`);
  try {
    normalizeKeys(key === 'TARGET' ? { TARGET: value } : { ...(target !== undefined ? { TARGET: target } : {}), [key]: value });
  } catch (e) {
    if (e instanceof ConfigError) throw new SpaceError(`${where}: ${e.message}`);
    throw e;
  }
}

export function parseWorkload(text: unknown, where: string): Workload {
  if (typeof text !== 'string') throw new SpaceError(`${where} must be a string: 'conv2d:H,W,CI,CO,K,S,P' or one of ${Object.keys(LAYER_SETS).join(', ')}`);
  const set = LAYER_SETS[text];
  if (set) return { name: text, layers: set.map((l) => ({ name: l.name, spec: { ...l.spec }, count: l.count })) };
  const m = /^conv2d:(\d+(?:,\d+){6})$/.exec(text.replace(/\s+/g, ''));
  if (!m) {
    throw new SpaceError(`${where} ${quoteUser(text, 60)} is not a workload: write 'conv2d:H,W,CI,CO,K,S,P' (e.g. conv2d:56,56,64,64,3,1,1) or one of ${Object.keys(LAYER_SETS).join(', ')}`);
  }
  const [h, w, cin, cout, k, stride, pad] = m[1].split(',').map(Number);
  if ([h, w, cin, cout, k, stride].some((x) => x < 1)) throw new SpaceError(`${where} ${quoteUser(text, 60)}: H, W, CI, CO, K and S must be at least 1`);
  if (k > h + 2 * pad || k > w + 2 * pad) throw new SpaceError(`${where} ${quoteUser(text, 60)}: the kernel is larger than the padded input`);
  const name = `conv2d:${m[1]}`;
  return { name, layers: [{ name, spec: { batch: 1, h, w, cin, cout, k, pad, stride, groups: 1 }, count: 1 }] };
}

function energyTable(v: unknown): EnergyTable {
  const t: EnergyTable = structuredClone(DEFAULT_ENERGY) as EnergyTable;
  if (v === undefined) return t;
  if (!isObj(v)) throw new SpaceError('energy must be an object of overrides, e.g. {"dram_pj_per_byte": 100}');
  unknownKeys(v, Object.keys(DEFAULT_ENERGY), 'energy');
  const num = (x: unknown, where: string) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new SpaceError(`${where} must be a non-negative number (picojoules)`);
    return x;
  };
  for (const [k, x] of Object.entries(v)) {
    if (k === 'sram_read_pj_per_byte' || k === 'sram_write_pj_per_byte') {
      if (typeof x === 'number') for (const b of BUFFER_NAMES) t[k][b] = num(x, `energy.${k}`);
      else if (isObj(x)) {
        unknownKeys(x, BUFFER_NAMES, `energy.${k}`);
        for (const [b, y] of Object.entries(x)) t[k][b as keyof EnergyTable[typeof k]] = num(y, `energy.${k}.${b}`);
      } else throw new SpaceError(`energy.${k} must be a number or an object per buffer (${BUFFER_NAMES.join(', ')})`);
    } else (t as unknown as Record<string, number>)[k] = num(x, `energy.${k}`);
  }
  return t;
}

/**
 * The grid index of `reference`: "default" (every varied key at src/config's default for the
 * fixed TARGET) or an object of varied-key values (the others at their defaults).
 */
/** JSON with object keys sorted (a group value matches whatever order its keys are written in). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (isObj(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

function referenceIndex(v: unknown, vary: Space['vary'], target: unknown): number {
  if (v !== 'default' && !isObj(v)) throw new SpaceError('reference must be "default" or an object of varied keys, e.g. {"LOG_BLOCK": 4}');
  const given = isObj(v) ? v : {};
  unknownKeys(given, vary.map((x) => x.key), 'reference');
  let index = 0;
  for (const { key, values, group } of vary) {
    if (group && !(key in given)) throw new SpaceError(`reference.${key} must be given: one of vary.${key}'s values`);
    const value = key in given ? given[key] : KEY_SPECS.find((k) => k.key === key)!.default((target ?? 'sim') as VtaTarget);
    const at = values.findIndex((x) => canonical(x) === canonical(value));
    if (at < 0) throw new SpaceError(`reference: ${key} = ${JSON.stringify(value)} is not one of vary.${key}'s values; add it there or give reference.${key}`);
    index = index * values.length + at;
  }
  return index;
}

/** Check a parsed space file. `where` names it in messages. */
export function checkSpace(raw: unknown, where = 'space file'): Space {
  const fail = (msg: string): never => {
    throw new SpaceError(`${where}: ${msg}`);
  };
  try {
    if (!isObj(raw)) fail('must be a JSON object with "vary", "workloads" and "objectives"');
    const o = raw as Record<string, unknown>;
    unknownKeys(o, TOP_KEYS, 'top level');
    if (o.name !== undefined && typeof o.name !== 'string') fail('name must be a string');
    // fixed
    const fixed = o.fixed === undefined ? {} : o.fixed;
    if (!isObj(fixed)) fail('fixed must be an object of config keys, e.g. {"TARGET": "sim"}');
    const target = (fixed as Record<string, unknown>).TARGET;
    for (const [k, v] of Object.entries(fixed as Record<string, unknown>)) checkKeyValue(k, v, target, `fixed.${k}`);
    // vary
    if (!isObj(o.vary) || !Object.keys(o.vary).length) fail('vary must be an object with at least one config key, e.g. {"LOG_BLOCK": [3, 4]}');
    const vary: Space['vary'] = [];
    let size = 1;
    const variedKeys = new Set<string>();
    for (const [k, v] of Object.entries(o.vary as Record<string, unknown>)) {
      if (k in (fixed as object)) fail(`${k} is both in vary and in fixed; keep it in one of them`);
      const values = varyValues(k, v);
      // a name that is no config key, over objects of config keys: keys that vary together
      const group = !KEY_NAMES.includes(k) && values.every(isObj) ? Object.keys(values[0] as object) : undefined;
      if (group) {
        values.forEach((x, i) => {
          const keys = Object.keys(x as object);
          if (keys.length !== group.length || !group.every((g) => keys.includes(g))) fail(`vary.${k}[${i}] must set the same keys as vary.${k}[0] (${group.join(', ')})`);
          for (const [gk, gv] of Object.entries(x as object)) checkKeyValue(gk, gv, target, `vary.${k}[${i}].${gk}`);
        });
      } else values.forEach((x, i) => checkKeyValue(k, x, target, `vary.${k}[${i}]`));
      for (const key of group ?? [k]) {
        if (key in (fixed as object)) fail(`${key} is both in vary.${k} and in fixed; keep it in one of them`);
        if (variedKeys.has(key)) fail(`${key} is varied twice (vary.${k} and another vary entry); keep it in one of them`);
        variedKeys.add(key);
      }
      vary.push(group ? { key: k, values, group } : { key: k, values });
      size *= values.length;
    }
    if (size > MAX_POINTS) fail(`the grid has ${size} points, more than ${MAX_POINTS}; narrow vary`);
    // constraints
    const cs = o.constraints ?? [];
    if (!Array.isArray(cs)) fail('constraints must be a list of expressions, e.g. ["MACs <= 64"]');
    const constraints = (cs as unknown[]).map((c, i) => {
      if (typeof c !== 'string') return fail(`constraints[${i}] must be a string`);
      try {
        return parseExpr(c);
      } catch (e) {
        if (e instanceof ExprError) return fail(`constraints[${i}] ${quoteUser(c, 60)}: ${e.message}`);
        throw e;
      }
    });
    // workloads
    if (!Array.isArray(o.workloads) || !o.workloads.length) fail(`workloads must be a non-empty list, e.g. ["conv2d:56,56,64,64,3,1,1", "resnet18"]`);
    const workloads = (o.workloads as unknown[]).map((w, i) => parseWorkload(w, `workloads[${i}]`));
    const dup = workloads.find((w, i) => workloads.findIndex((x) => x.name === w.name) !== i);
    if (dup) fail(`workload ${dup.name} is listed twice`);
    // measure
    const measure = o.measure ?? { area: 'none' };
    if (!isObj(measure)) fail('measure must be an object, e.g. {"area": "generic"}');
    unknownKeys(measure as Record<string, unknown>, ['area', 'seed', 'timeout_s'], 'measure');
    const area = (measure as Record<string, unknown>).area ?? 'none';
    if (!AREA_METHODS.includes(area as AreaMethod)) fail(`measure.area ${quoteUser(String(area), 30)} is not one of ${AREA_METHODS.join(', ')}`);
    const seedIn = (measure as Record<string, unknown>).seed;
    if (seedIn !== undefined && area !== 'ice40') fail('measure.seed is the place-and-route seed of measure.area "ice40"; other methods take none');
    const areaSeed = seedIn === undefined ? undefined : int(seedIn, 'measure.seed', 0);
    const limitIn = (measure as Record<string, unknown>).timeout_s;
    if (limitIn !== undefined && (area === 'none' || area === 'estimate')) fail(`measure.timeout_s limits a synthesis (measure.area "generic" or "ice40"); "${area}" runs none`);
    const timeoutS = limitIn === undefined ? undefined : int(limitIn, 'measure.timeout_s', 1);
    if (area === 'ice40') {
      // synthesis and place and route need an iCE40 configuration on a board, at every point
      const varied = variedKeys;
      if (varied.has('TARGET') || target !== 'ice40') fail('measure.area "ice40" needs "TARGET": "ice40" in fixed (the iCE40 DSP budget and RAM mapping)');
      if (!varied.has('BOARD') && typeof (fixed as Record<string, unknown>).BOARD !== 'string') fail('measure.area "ice40" needs a BOARD (fixed, or varied over boards: see vtw boards)');
    }
    // objectives
    if (!isObj(o.objectives) || !Object.keys(o.objectives).length) fail('objectives must name at least one metric with "min" or "max", e.g. {"area_cells": "min", "cycles": "min"}');
    const objectives = Object.entries(o.objectives as Record<string, unknown>).map(([metric, goal]) => {
      const m = METRICS[metric];
      if (!m) fail(`objectives: unknown metric ${quoteUser(metric, 40)}${didYouMean(metric, Object.keys(METRICS)) || `; metrics: ${Object.keys(METRICS).join(', ')}`}`);
      if (goal !== 'min' && goal !== 'max') fail(`objectives.${metric} must be "min" or "max"`);
      if (m.area && !m.area.includes(area as AreaMethod)) fail(`objectives.${metric} needs measure.area ${m.area.join(' or ')}`);
      return { metric, goal: goal as 'min' | 'max' };
    });
    // search
    const s = o.search ?? {};
    if (!isObj(s)) fail('search must be an object, e.g. {"strategy": "random", "budget": 32, "seed": 1}');
    unknownKeys(s as Record<string, unknown>, ['strategy', 'budget', 'seed', 'batch'], 'search');
    const sr = s as Record<string, unknown>;
    const budget = sr.budget === undefined ? null : int(sr.budget, 'search.budget', 1);
    const strategy = sr.strategy ?? (budget !== null && budget < size ? 'random' : 'grid');
    if (!SEARCH_STRATEGIES.includes(strategy as SearchStrategy)) fail(`search.strategy must be one of ${SEARCH_STRATEGIES.map((x) => `"${x}"`).join(', ')}`);
    if (strategy !== 'grid' && budget === null) fail(`search.strategy "${strategy}" needs search.budget (how many points to evaluate)`);
    const seed = sr.seed === undefined ? 1 : int(sr.seed, 'search.seed', 0);
    const batch = sr.batch === undefined ? null : int(sr.batch, 'search.batch', 1);
    if (batch !== null && strategy !== 'evolve') fail('search.batch is for strategy "evolve" (points per round)');
    return {
      name: typeof o.name === 'string' ? o.name : 'space',
      vary, fixed: fixed as Record<string, unknown>, constraints, workloads, measure: { area: area as AreaMethod, ...(areaSeed === undefined ? {} : { seed: areaSeed }), ...(timeoutS === undefined ? {} : { timeout_s: timeoutS }) }, objectives,
      search: { strategy: strategy as SearchStrategy, budget, seed, batch }, energy: energyTable(o.energy), size,
      reference: o.reference === undefined ? null : referenceIndex(o.reference, vary, target),
    };
  } catch (e) {
    if (e instanceof SpaceError && !e.message.startsWith(`${where}:`)) throw new SpaceError(`${where}: ${e.message}`);
    throw e;
  }
}

/** Read and check a space file (at most 1 MiB of JSON). */
export function loadSpace(path: string): Space {
  const text = readInputText(path, 'space file', 1 << 20, (m) => new SpaceError(m));
  return checkSpace(parseJsonText(text, `space file ${quoteUser(path)}`, (m) => new SpaceError(m)), `space file ${quoteUser(path)}`);
}
