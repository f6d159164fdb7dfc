/**
 * Shared pieces of the operators: knobs (VTA's schedule knobs, vta-reference Part B §5.12), divisor
 * enumeration, random operands, and running a compiled operator on an engine with a bit-exact check.
 */
import type { Derived } from '../../src/config/derive.ts';
import { CompileError } from '../errors.ts';

/** VTA's schedule knobs. Unused ones are 1. */
export interface Knobs {
  tile_b: number;
  tile_h: number;
  tile_w: number;
  tile_ci: number;
  tile_co: number;
  oc_nthread: number;
  h_nthread: number;
}

export const KNOB_NAMES: readonly (keyof Knobs)[] = ['tile_b', 'tile_h', 'tile_w', 'tile_ci', 'tile_co', 'oc_nthread', 'h_nthread'];

/** Divisors of n in increasing order, in O(sqrt n). */
export function divisors(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 1) throw new CompileError(`divisors of ${n}: not a positive integer`);
  const low: number[] = [];
  const high: number[] = [];
  for (let i = 1; i * i <= n; i++) {
    if (n % i) continue;
    low.push(i);
    if (i * i !== n) high.push(n / i);
  }
  return low.concat(high.reverse());
}

/**
 * Limits of an operator's size (docs/compiler.md): every dimension at most MAX_DIM, and all its
 * tensors together at most the configuration's DRAM (2^MEM_ADDR_BITS bytes) and MAX_OPERATOR_BYTES,
 * since the simulators and the reference hold them in memory.
 */
export const MAX_DIM = 1 << 16;
export const MAX_OPERATOR_BYTES = 1 << 28;

/** Refuse a dimension that is not an integer in [min, MAX_DIM], naming the value asked for. */
export function checkDim(op: string, name: string, v: number, min = 1): void {
  if (!Number.isSafeInteger(v) || v < min || v > MAX_DIM) {
    throw new CompileError(`${op}: ${name} = ${v} must be an integer from ${min} to ${MAX_DIM}`);
  }
}

/** Refuse an operator whose tensors ([name, elements, bits per element]) need more memory than the limits. */
export function checkOperatorBytes(op: string, tensors: readonly [string, number, number][], d: Derived): void {
  const total = tensors.reduce((sum, [, elems, bits]) => sum + elems * Math.ceil(bits / 8), 0);
  const dram = 2 ** d.mem.addrBits;
  const limit = Math.min(dram, MAX_OPERATOR_BYTES);
  if (total > limit) {
    const why = limit === dram ? `the ${dram} bytes of DRAM ${d.variant} addresses (MEM_ADDR_BITS = ${d.mem.addrBits})` : `vtw's limit of ${MAX_OPERATOR_BYTES} bytes per operator`;
    const each = tensors.map(([n, e, b]) => `${n} ${e * Math.ceil(b / 8)}`).join(', ');
    throw new CompileError(`${op}: its tensors need ${total} bytes (${each}), more than ${why}; use a smaller shape`);
  }
}

/** Parse and complete user knobs (JSON object); unknown keys and non-positive values are errors. */
export function parseKnobs(json: unknown, defaults: Knobs): Knobs {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CompileError('--knobs must be a JSON object such as {"tile_h": 7}');
  const out = { ...defaults };
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (!KNOB_NAMES.includes(k as keyof Knobs)) throw new CompileError(`unknown knob ${k}; knobs: ${KNOB_NAMES.join(', ')}`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new CompileError(`knob ${k} must be a positive integer, got ${JSON.stringify(v)}`);
    out[k as keyof Knobs] = v;
  }
  return out;
}

/** Seeded uniform integers in [lo, hi] (mulberry32), for operands. */
export function randomInts(n: number, lo: number, hi: number, seed: number): Int32Array {
  let s = seed >>> 0 || 0x9e3779b9;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = lo + Math.floor(r * (hi - lo + 1));
  }
  return out;
}

/** Signed range of a bit width. */
export function rangeOf(bits: number): [number, number] {
  return [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
}

/**
 * Default requantization shift of conv2d / dense for `depth` accumulated products: the sum of
 * `depth` products of uniform random operands has a standard deviation of σx·σw·√depth; shifted
 * to a sixth of the output range and centred by the bias (defaultBiasRange), the outputs spread
 * over [0, max] and rarely touch the clip (with a fixed `>> 8`, 99.5 % of them were 0 or the maximum).
 */
export function defaultShift(depth: number, d: Derived): number {
  const sd = (bits: number) => 2 ** (bits - 1) / Math.sqrt(3);
  const accSd = sd(d.inpWidth) * sd(d.wgtWidth) * Math.sqrt(Math.max(1, depth));
  const target = 2 ** (d.outWidth - 1) / 6;
  return Math.max(0, Math.round(Math.log2(accSd / target)));
}

/**
 * Range of random biases. They are added after the shift, so they are in output units: around the
 * middle of the output range (±1/8 of it), which centres the zero-mean shifted sums there.
 */
export function defaultBiasRange(d: Derived): [number, number] {
  const max = 2 ** (d.outWidth - 1) - 1;
  return [Math.round(max / 2 - max / 8), Math.round(max / 2 + max / 8)];
}

/** Default clip of the requantization: [0, largest output value] (relu + saturation). */
export function defaultClip(d: Derived): [number, number] {
  return [0, 2 ** (d.outWidth - 1) - 1];
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
