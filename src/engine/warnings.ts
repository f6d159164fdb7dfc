/**
 * Warnings about a run that ended normally but not cleanly: FINISH ended it while a module still
 * held an instruction it had not started (usually one waiting for a token that never came). Every
 * engine derives them the same way, from what it observed: which instructions started and which
 * completed, so that `--engine both` can compare them.
 */
import type { Insn } from '../isa/insn.ts';
import { MODULES, moduleOf, tokenQueuesOf, type TokenQueueName } from '../uarch/index.ts';

/** What an engine saw of one instruction: start and end cycle (negative or NaN when it did not happen). */
export interface Observed {
  index: number;
  start: number;
  end: number;
}

const happened = (c: number | undefined): boolean => c !== undefined && c >= 0;

function label(i: Insn): string {
  if (i.opcode === 'LOAD' || i.opcode === 'STORE') return `${i.opcode} ${i.memory_type}`;
  if (i.opcode === 'ALU') return `ALU ${i.alu_opcode}`;
  return i.opcode;
}

const flagsOf = (i: Insn) => ({ popPrev: !!i.pop_prev_dep, popNext: !!i.pop_next_dep, pushPrev: !!i.push_prev_dep, pushNext: !!i.push_next_dep });

/**
 * One line per module that, when the FINISH that ended the run executed, still held an
 * instruction before that FINISH (in program order) that had not started: its index, and the
 * token queue it waits on when no token was there for it. Empty for a clean run. `insns` may
 * end in (or hold, past the FINISH) undecodable entries: undefined.
 */
export function finishWarnings(insns: readonly (Insn | undefined)[], observed: readonly Observed[]): string[] {
  const start = new Map<number, number>();
  const end = new Map<number, number>();
  for (const o of observed) {
    if (happened(o.start)) start.set(o.index, o.start);
    if (happened(o.end)) end.set(o.index, o.end);
  }
  const finish = insns.findIndex((i, k) => i?.opcode === 'FINISH' && start.has(k));
  if (finish < 0) return [];
  // the usual clean run: every instruction before that FINISH started
  let clean = true;
  for (let k = 0; k < finish && clean; k++) clean = start.has(k);
  if (clean) return [];
  // tokens in each queue at the end: pushed by completed instructions, popped by started ones
  const tokens: Record<TokenQueueName, number> = { l2g: 0, g2l: 0, g2s: 0, s2g: 0 };
  insns.forEach((insn, k) => {
    if (!insn) return;
    const q = tokenQueuesOf(moduleOf(insn), flagsOf(insn));
    if (end.has(k)) for (const n of q.pushes) tokens[n]++;
    if (start.has(k)) for (const n of q.pops) tokens[n]--;
  });
  const warnings: string[] = [];
  for (const m of MODULES) {
    const held = [];
    for (let k = 0; k < finish; k++) if (moduleOf(insns[k]!) === m && !start.has(k)) held.push(k);
    if (!held.length) continue;
    const k = held[0];
    const insn = insns[k]!;
    const missing = tokenQueuesOf(m, flagsOf(insn)).pops.filter((n) => tokens[n] <= 0);
    const why = missing.length ? `waits for a token on ${missing.join(' and ')}` : 'had not started';
    const behind = held.length > 1 ? ` (${held.length - 1} more of its instructions behind it)` : '';
    warnings.push(`${m}: insn ${k} (${label(insn)}) ${why} when FINISH (insn ${finish}) ended the run${behind}`);
  }
  return warnings;
}
