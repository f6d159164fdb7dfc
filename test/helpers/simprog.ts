/**
 * Small helpers for simulator tests: build a Program from instruction JSON, micro-ops and raw data
 * buffers, and pack/unpack lane values the way VTA lays them out (little-endian lanes, Part B §2.11).
 * Deliberately independent of sim/ts so the tests check the simulator against separate code.
 */
import type { Derived } from '../../src/config/derive.ts';
import { encodeInsn, encodeUops, insnFromJson, type Uop } from '../../src/isa/insn.ts';
import { PAGE_BYTES, alignUp, type Program, type ProgramBuffer } from '../../src/program/container.ts';
import type { RunResult } from '../../src/engine/index.ts';

export class ProgBuilder {
  readonly buffers: ProgramBuffer[] = [];
  readonly insns: Uint8Array[] = [];
  private next = PAGE_BYTES;
  constructor(readonly d: Derived) {}

  /** Add a data buffer; returns its byte address. */
  data(name: string, bytes: Uint8Array, role: ProgramBuffer['role'] = 'input'): number {
    const addr = this.next;
    this.buffers.push({ name, kind: 'data', role, addr, size: bytes.length, data: bytes });
    this.next = alignUp(addr + bytes.length, PAGE_BYTES);
    return addr;
  }

  /** Reserve a zeroed output buffer; returns its byte address. */
  output(name: string, size: number): number {
    const addr = this.next;
    this.buffers.push({ name, kind: 'data', role: 'output', addr, size });
    this.next = alignUp(addr + size, PAGE_BYTES);
    return addr;
  }

  uops(name: string, uops: Uop[]): number {
    const addr = this.next;
    const data = encodeUops(this.d, uops);
    this.buffers.push({ name, kind: 'uop', role: 'input', addr, size: data.length, data });
    this.next = alignUp(addr + data.length, PAGE_BYTES);
    return addr;
  }

  insn(json: Record<string, unknown>): this {
    this.insns.push(encodeInsn(this.d, insnFromJson(this.d, json)));
    return this;
  }

  /** Raw 16 instruction bytes (for illegal encodings). */
  raw(bytes: Uint8Array): this {
    this.insns.push(bytes);
    return this;
  }

  build(): Program {
    const data = new Uint8Array(this.insns.length * 16);
    this.insns.forEach((b, i) => data.set(b, i * 16));
    const buffers = [...this.buffers, { name: 'insns', kind: 'insn' as const, role: 'input' as const, addr: this.next, size: data.length, data }];
    return { config: this.d, buffers };
  }
}

/** Pack signed lane values of `bits` (2, 4, 8, 16, 32) little-endian into bytes. */
export function packLanes(values: ArrayLike<number>, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((values.length * bits) / 8));
  for (let i = 0; i < values.length; i++) {
    const v = BigInt.asUintN(bits, BigInt(values[i]));
    for (let b = 0; b < bits; b++) {
      if ((v >> BigInt(b)) & 1n) {
        const bit = i * bits + b;
        out[bit >> 3] |= 1 << (bit & 7);
      }
    }
  }
  return out;
}

/** Unpack signed lanes of `bits` from bytes. */
export function unpackLanes(bytes: Uint8Array, bits: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    let v = 0n;
    for (let b = 0; b < bits; b++) {
      const bit = i * bits + b;
      if ((bytes[bit >> 3] >> (bit & 7)) & 1) v |= 1n << BigInt(b);
    }
    out.push(Number(BigInt.asIntN(bits, v)));
  }
  return out;
}

/** Deterministic pseudo-random integers in [lo, hi] (xorshift32). */
export function rng(seed: number): (lo: number, hi: number) => number {
  let s = seed >>> 0 || 1;
  return (lo, hi) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return lo + (s % (hi - lo + 1));
  };
}

/** Wrap to a signed `bits`-bit value. */
export function wrap(v: number | bigint, bits: number): number {
  return Number(BigInt.asIntN(bits, BigInt(v)));
}

/** Start and end cycle of instruction i in a run with instruction timing. */
export function span(r: RunResult, i: number): [number, number] {
  const t = r.insnTiming!.find((x) => x.index === i)!;
  return [t.start, t.end];
}
