/**
 * Seeded mutations of valid program containers and configurations, fed through the CLI's own code
 * paths in process (`vtw sim`, `vtw disasm`, `vtw config show` via main()). A case fails when vtw
 * reports an internal error (exit 70, anything but a VtwError), takes longer than the per-case limit,
 * or prints an error that is not one line of at most 300 characters.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, PRESETS } from '../../src/config/index.ts';
import { assemble, serializeProgram } from '../../src/program/index.ts';
import { randomProgram } from '../../src/runtime/random.ts';
import { Rng } from '../../src/util/rng.ts';
import { MAX_ERROR_CHARS } from '../../src/util/quote.ts';
import { runCli } from './cli.ts';
import { readFileSync } from 'node:fs';

export interface FuzzReport {
  cases: number;
  accepted: number;
  refused: number;
  internal: string[];
  slow: string[];
  badLines: string[];
  /** Refusals by the engine (the program was loaded and run): illegal instruction, deadlock, timeout. */
  ranAndStopped: number;
  seconds: number;
}

const HUGE: unknown[] = [2 ** 53 + 1, 1e300, -1e300, -1, 0, 0.5, 2 ** 32, 2 ** 31, -(2 ** 31), 65536, '16', '', null, true, [], {}, [1, 2], { a: 1 }, '__proto__'];

/** Seeded random helpers over src/util/rng.ts. */
class Pick {
  constructor(readonly rng: Rng) {}
  int(n: number): number {
    return Math.floor(this.rng.next() * n);
  }
  of<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

function flipBits(text: string, p: Pick, n: number): string {
  const b = Buffer.from(text);
  for (let i = 0; i < n; i++) b[p.int(b.length)] ^= 1 << p.int(8);
  return b.toString('latin1');
}

/** Every [object, key] path of a JSON value, for field edits. */
function slots(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) (out.push([v as Record<string, unknown>, k]), slots((v as Record<string, unknown>)[k], out));
  return out;
}

function editJson(text: string, p: Pick): string {
  const j = JSON.parse(text);
  const edits = 1 + p.int(3);
  for (let e = 0; e < edits; e++) {
    const all = slots(j);
    if (!all.length) break;
    const [obj, key] = p.of(all);
    const r = p.int(10);
    const set = (v: unknown) => ((obj as Record<string | number, unknown>)[key] = v);
    if (r < 4) set(p.of(HUGE));
    else if (r < 5) delete (obj as Record<string | number, unknown>)[key];
    else if (r < 6 && !Array.isArray(obj)) (obj as Record<string, unknown>)[p.of(['__proto__', 'constructor', 'prototype', 'LOG_BLOK', 'x'])] = p.of(HUGE);
    else if (r < 7 && typeof (obj as Record<string | number, unknown>)[key] === 'number') set(((obj as Record<string | number, number>)[key] as number) * p.of([2, 1024, 2 ** 20, -1]) + p.of([0, 1, -1]));
    else if (r < 8 && typeof (obj as Record<string | number, unknown>)[key] === 'string') {
      const s = (obj as Record<string | number, string>)[key] as string;
      set(p.of([s.slice(0, p.int(s.length + 1)), s + 'A', Buffer.from(Array.from({ length: 16 * (1 + p.int(64)) }, () => p.int(256))).toString('base64'), '__proto__', 'a\nb\0c']));
    } else if (r < 9 && Array.isArray(obj)) obj.push(JSON.parse(JSON.stringify(p.of(obj.length ? obj : [0]))));
    else set(JSON.parse(JSON.stringify(p.of(all)[0])));
  }
  let out = JSON.stringify(j, null, p.int(2));
  if (p.int(4) === 0) out = out.replace(/1e\+300/g, '1e999');
  return out;
}

/** A container whose instruction (or micro-op) bytes have random bits flipped: what the engines then run. */
function flipInstructionBits(text: string, p: Pick): string {
  let j: { buffers?: { kind?: string; data?: string }[] };
  try {
    j = JSON.parse(text);
  } catch {
    return text;
  }
  const bufs = (j.buffers ?? []).filter((b) => (b.kind === 'insn' || b.kind === 'uop') && typeof b.data === 'string');
  if (!bufs.length) return editJson(text, p);
  const b = p.of(bufs);
  const bytes = Buffer.from(b.data!, 'base64');
  for (let n = 1 + p.int(6); n > 0; n--) bytes[p.int(bytes.length)] ^= 1 << p.int(8);
  b.data = bytes.toString('base64');
  return JSON.stringify(j);
}

/** One mutation of `text`: bit flips, truncation, field edits, or a mix. */
export function mutate(text: string, p: Pick): string | Uint8Array {
  switch (p.int(9)) {
    case 0:
      return flipBits(text, p, 1 + p.int(8));
    case 1:
      return text.slice(0, p.int(text.length));
    case 2:
      return '\ufeff' + editJson(text, p);
    case 3:
      return new Uint8Array(Array.from({ length: p.int(2048) }, () => p.int(256)));
    case 4:
    case 5:
    case 6:
      return flipInstructionBits(text, p);
    default:
      return editJson(text, p);
  }
}

function seedContainers(): string[] {
  const d = loadConfig('default');
  const small = loadConfig('ice40-tiny');
  const gemm = readFileSync(new URL('../../examples/gemm-tiny.vasm', import.meta.url), 'utf8');
  return [
    serializeProgram(assemble(gemm, 'gemm-tiny.vasm')),
    serializeProgram(randomProgram(d, 3, { extraTasks: 4 }).program),
    serializeProgram(randomProgram(small, 5, { extraTasks: 4 }).program),
  ];
}

function seedConfigs(): string[] {
  return PRESETS.map((p) => JSON.stringify(p.json, null, 1));
}

/** Run `count` seeded cases (half containers, half configs) with a per-case time limit. */
export async function fuzzInputs(count: number, seed: number, limitMs = 5000): Promise<FuzzReport> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'vtw-fuzz-'));
  const p = new Pick(new Rng(seed));
  const containers = seedContainers();
  const configs = seedConfigs();
  const rep: FuzzReport = { cases: 0, accepted: 0, refused: 0, internal: [], slow: [], badLines: [], ranAndStopped: 0, seconds: 0 };
  for (let i = 0; i < count; i++) {
    const isConfig = i % 2 === 1;
    const input = mutate(isConfig ? p.of(configs) : p.of(containers), p);
    const file = join(dir, `case-${i}.json`);
    writeFileSync(file, input);
    const runs = isConfig ? [['config', 'show', '--config', file, '--json']] : [['sim', file, '--max-cycles', '100000', '--json'], ['disasm', file]];
    for (const args of runs) {
      const c0 = performance.now();
      const r = await runCli(...args);
      const ms = performance.now() - c0;
      const label = `case ${i} (seed ${seed}, ${args[0]}): `;
      rep.cases++;
      if (ms > limitMs) rep.slow.push(`${label}${ms.toFixed(0)} ms`);
      if (r.code === 0) {
        rep.accepted++;
        continue;
      }
      if (r.code === 70 || /internal error/.test(r.stderr)) rep.internal.push(label + r.stderr.trim().slice(0, 300));
      else rep.refused++;
      if (/error: (illegal|deadlock|timeout): /.test(r.stderr)) rep.ranAndStopped++;
      const lines = r.stderr.split('\n').filter((l) => l.length);
      if (lines.length !== 1 || lines[0].length > MAX_ERROR_CHARS + 'vtw: error: '.length || /[\x00-\x08\x0b-\x1f]/.test(lines[0])) {
        rep.badLines.push(label + JSON.stringify(r.stderr.slice(0, 400)));
      }
    }
  }
  process.exitCode = 0; // vtw sim / disasm report some failures through the exit status
  rep.seconds = (performance.now() - t0) / 1000;
  return rep;
}
