/**
 * Lock-step comparison of two engines (`--engine both`): the same program on the TypeScript
 * simulator and the Verilated RTL must give identical DRAM, total cycles, per-module counters and
 * per-instruction start/end cycles and warnings; error programs must agree on the error kind and instruction.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { programInsns, writeProgram, type Program } from '../src/program/container.ts';
import { formatInsn } from '../src/program/asm.ts';
import type { Engine, RunOptions, RunResult } from '../src/engine/index.ts';

export interface Mismatch {
  what: string;
  detail: string;
  /** Index of the first diverging instruction, when the difference is one of timing. */
  insnIndex?: number;
}

/** Everything that differs between two results, most telling first. */
export function compareResults(p: Program, a: RunResult, b: RunResult): Mismatch[] {
  const out: Mismatch[] = [];
  if (a.error || b.error) {
    if (a.error?.kind !== b.error?.kind) out.push({ what: 'error kind', detail: `${a.engine}: ${a.error?.kind ?? 'none'}, ${b.engine}: ${b.error?.kind ?? 'none'}` });
    else if (a.error?.kind === 'illegal' && a.error.insnIndex !== b.error?.insnIndex) {
      out.push({ what: 'illegal instruction index', detail: `${a.engine}: ${a.error.insnIndex}, ${b.engine}: ${b.error?.insnIndex}` });
    }
    return out; // after an error only its kind and place are defined
  }
  const ta = new Map((a.insnTiming ?? []).map((t) => [t.index, t]));
  const tb = new Map((b.insnTiming ?? []).map((t) => [t.index, t]));
  const insns = programInsns(p);
  // First diverging instruction, in order of start cycle on the first engine.
  const order = [...ta.values()].sort((x, y) => x.start - y.start || x.index - y.index);
  for (const t of order) {
    const u = tb.get(t.index);
    if (!u || u.start !== t.start || u.end !== t.end) {
      out.push({
        what: 'instruction timing',
        insnIndex: t.index,
        detail: `#${t.index} ${formatInsn(p.config, insns[t.index])} (${t.module}): ${a.engine} start ${t.start} end ${t.end}, ${b.engine} start ${u?.start ?? '-'} end ${u?.end ?? '-'}`,
      });
      break;
    }
  }
  const wa = a.warnings ?? [];
  const wb = b.warnings ?? [];
  if (wa.length !== wb.length || wa.some((w, i) => w !== wb[i])) {
    out.push({ what: 'warnings', detail: `${a.engine} ${JSON.stringify(wa)}, ${b.engine} ${JSON.stringify(wb)}` });
  }
  if (a.counters.cycles !== b.counters.cycles) out.push({ what: 'cycles', detail: `${a.engine} ${a.counters.cycles}, ${b.engine} ${b.counters.cycles}` });
  for (const m of ['fetch', 'load', 'compute', 'store'] as const) {
    const x = a.counters.modules[m];
    const y = b.counters.modules[m];
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ what: `${m} counters`, detail: `${a.engine} ${JSON.stringify(x)}, ${b.engine} ${JSON.stringify(y)}` });
  }
  const n = Math.min(a.dram.length, b.dram.length);
  for (let i = 0; i < n; i++) {
    if (a.dram[i] !== b.dram[i]) {
      const buf = p.buffers.find((x) => i >= x.addr && i < x.addr + x.size);
      out.push({ what: 'memory', detail: `byte 0x${i.toString(16)}${buf ? ` (${buf.name}+${i - buf.addr})` : ''}: ${a.engine} ${a.dram[i]}, ${b.engine} ${b.dram[i]}` });
      break;
    }
  }
  return out;
}

export interface BothOptions {
  /** Where reproducers and waveforms of failing runs go. */
  failDir: string;
}

/** Runs both engines; on a mismatch writes a reproducer program and a waveform and reports them. */
export class BothEngine implements Engine {
  readonly name = 'both' as const;
  private failures = 0;
  constructor(
    private readonly reference: Engine,
    private readonly rtl: Engine & { run(p: Program, o?: RunOptions & { vcd?: string }): Promise<RunResult> },
    private readonly opts: BothOptions,
  ) {}

  async run(program: Program, opts: RunOptions = {}): Promise<RunResult> {
    const a = await this.reference.run(program, opts);
    const b = await this.rtl.run(program, opts);
    const mismatches = compareResults(program, a, b);
    if (!mismatches.length) return a;
    mkdirSync(this.opts.failDir, { recursive: true });
    const base = join(this.opts.failDir, `mismatch-${++this.failures}`);
    writeProgram(`${base}.json`, program);
    await this.rtl.run(program, { ...opts, vcd: `${base}.vcd` });
    const first = mismatches[0];
    return {
      ...a,
      error: {
        kind: 'mismatch',
        message: `${first.what}: ${first.detail}${mismatches.length > 1 ? ` (+${mismatches.length - 1} more)` : ''}; reproducer ${base}.json, waveform ${base}.vcd`,
        insnIndex: first.insnIndex,
      },
    };
  }
}
