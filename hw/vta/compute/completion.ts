/**
 * Compute stage 6, completion and tokens (docs/microarch.md §4.3, §7.4): started instructions wait
 * in a small in-flight list (program order) with their push flags; each cycle the longest prefix
 * of done instructions whose pushes fit the token queues completes, several in one cycle if they
 * fit (with COMPUTE_DONE_REG only the oldest, §22). Also the observation state (§10) that needs the list.
 */
import {
  F, T, add, all, any, bitsFor, c, catRev, eqc, gtc, gec, inv, isZero, log2i, pick, rz, sel, sub,
  type Expr, type Mb, type Signal,
} from '../../hdl/index.ts';
import { OBS } from '../fetch.ts';
import { TOKEN_BITS } from '../tokens.ts';
import { count, ule8 } from './common.ts';

/** The in-flight list: `n` slots in a ring from `head`, `count` of them in use. */
export class InflightList {
  readonly head: Signal;
  readonly count: Signal;
  /** A non-pipelined instruction (LOAD UOP/ACC on the engine) is in flight at the head. */
  readonly npBusy: Signal;
  /** Per slot: done, its pushes (prev / next), a FINISH. */
  readonly done: Signal[] = [];
  readonly pushPrev: Signal[] = [];
  readonly pushNext: Signal[] = [];
  readonly finish: Signal[] = [];
  /** Bits of a slot number. */
  readonly slotBits: number;

  constructor(
    private readonly mb: Mb,
    readonly n: number,
  ) {
    this.slotBits = log2i(n);
    this.head = mb.reg('fl_head', this.slotBits);
    this.count = mb.reg('fl_count', bitsFor(n));
    this.npBusy = mb.reg('np_busy', 1);
    for (let s = 0; s < n; s++) {
      this.done.push(mb.reg(`fl_done${s}`, 1));
      this.pushPrev.push(mb.reg(`fl_pp${s}`, 1, null));
      this.pushNext.push(mb.reg(`fl_pn${s}`, 1, null));
      this.finish.push(mb.reg(`fl_fin${s}`, 1, null));
    }
  }

  full(): Expr {
    return gec(this.count, this.n);
  }
  empty(): Expr {
    return isZero(this.count);
  }
  /** The slot past the list's end, where a starting instruction goes (a wire `fl_tail`). */
  tail(): Signal {
    return this.mb.w('fl_tail', rz(add(this.head, rz(this.count, this.slotBits)), this.slotBits));
  }
}

export interface Completion {
  /** How many list entries complete this cycle. */
  k: Signal;
  /** The starting instruction completes in its start cycle (with the whole list). */
  completeIn: Signal;
  /** Pushes to g2l / g2s this cycle, and a FINISH completes. */
  pushPrev: Expr;
  pushNext: Expr;
  finish: Expr;
}

/**
 * Completion. `start` / `tailSlot` / `doneAtStart` / `head`: the starting instruction; `wr`: the
 * pipeline's write (its instruction's last micro-op and slot); `engDone`: the read engine finished
 * the LOAD at the list's head; `g2l` / `g2s`: the token counts of the queues compute pushes to,
 * `queueDepth` their capacity.
 */
export function completion(
  mb: Mb, fl: InflightList,
  s: { start: Expr; tailSlot: Expr; doneAtStart: Expr; pipe: Expr; pushPrev: Expr; pushNext: Expr; isFinish: Expr },
  wr: { last: Expr; tag: Expr; ahead?: { last: Expr; tag: Expr } }, engDone: Expr, g2l: Expr, g2s: Expr, queueDepth: number,
): Completion {
  // Entry j of the in-flight list (slot hp + j) completes in this cycle when it and every entry
  // before it are done and the pushes of entries 0..j fit the token queues. That set is a prefix
  // of the list; it is found with prefix ANDs and prefix counts of the push flags side by side
  // (not a chain through the entries), which keeps the logic a few levels deep.
  const NF = fl.n;
  const lnf = fl.slotBits;
  const hp = fl.head;
  const fc = fl.count;
  const npBusy = fl.npBusy;
  const cw = bitsFor(NF + 1);
  // COMPUTE_DONE_REG (docs/microarch.md §22): which slot's last micro-op writes this cycle comes
  // from a register `fl_own<s>` loaded a cycle ahead, and is or-ed into the slot's done flag before
  // the pick, so no path runs from the pipeline's write mux into the completion
  const ownQ = wr.ahead ? Array.from({ length: NF }, (_, slot) => mb.reg(`fl_own${slot}`, 1)) : undefined;
  if (ownQ && wr.ahead) for (let slot = 0; slot < NF; slot++) mb.next(ownQ[slot], all(wr.ahead.last, eqc(wr.ahead.tag, slot)));
  const doneOrOwn = ownQ ? ownQ.map((o, slot) => mb.w(`fl_dn${slot}`, any(fl.done[slot], o))) : undefined;
  if (ownQ) mb.sink(wr.last, wr.tag);
  const room = ownQ ? undefined : {
    prev: mb.w('room_g2l', sub(c(TOKEN_BITS, queueDepth), g2l)),
    next: mb.w('room_g2s', sub(c(TOKEN_BITS, queueDepth), g2s)),
  };
  const tagRel = ownQ ? undefined : mb.w('wr_tag_rel', rz(sub(wr.tag, hp), lnf));
  const valid: Expr[] = [];
  const dn: Expr[] = [];
  const pp: Expr[] = [];
  const pn: Expr[] = [];
  const fin: Expr[] = [];
  for (let j = 0; j < NF; j++) {
    const slot = rz(add(hp, c(lnf, j)), lnf);
    valid.push(gtc(fc, j));
    if (doneOrOwn) dn.push(all(valid[j], any(pick(slot, doneOrOwn), j === 0 ? all(npBusy, engDone) : F)));
    else {
      const own = any(all(wr.last, eqc(tagRel!, j)), j === 0 ? all(npBusy, engDone) : F);
      dn.push(all(valid[j], any(pick(slot, fl.done), own)));
    }
    pp.push(pick(slot, fl.pushPrev));
    pn.push(pick(slot, fl.pushNext));
    fin.push(pick(slot, fl.finish));
  }
  let cumPW: Expr;
  let cumNW: Expr;
  let kCount: Expr;
  let finDone: Expr;
  let completeIn: Signal;
  let inP: Expr;
  let inN: Expr;
  if (ownQ) {
    // COMPUTE_DONE_REG (§22): one completion a cycle, so only the list's head (entry 0) is
    // checked, against "its queues are not full", and a starting instruction completes at once
    // only with the list empty (no prefix logic, no counts)
    const fitP = mb.w('room_g2l_any', inv(eqc(g2l, queueDepth)));
    const fitN = mb.w('room_g2s_any', inv(eqc(g2s, queueDepth)));
    const ok0 = mb.w('fl_ok0', all(dn[0], any(inv(pp[0]), fitP), any(inv(pn[0]), fitN)));
    cumPW = mb.w('cum_prev', rz(all(ok0, pp[0]), cw));
    cumNW = mb.w('cum_next', rz(all(ok0, pn[0]), cw));
    kCount = rz(ok0, cw);
    finDone = all(ok0, fin[0]);
    completeIn = mb.w('complete_in', all(s.start, s.doneAtStart, isZero(fc), any(inv(s.pushPrev), fitP), any(inv(s.pushNext), fitN)));
    inP = rz(s.pushPrev, cw);
    inN = rz(s.pushNext, cw);
  } else {
    const roomPrev = room!.prev;
    const roomNext = room!.next;
    const ok: Expr[] = [];
    for (let j = 0; j < NF; j++) {
      const upTo = (xs: Expr[]) => xs.slice(0, j + 1);
      ok.push(mb.w(`fl_ok${j}`, all(...upTo(dn), ule8(count(upTo(pp), cw), roomPrev), ule8(count(upTo(pn), cw), roomNext))));
    }
    const cumP = count(ok.map((o, j) => all(o, pp[j])), cw);
    const cumN = count(ok.map((o, j) => all(o, pn[j])), cw);
    // ok is a prefix (thermometer code): its length in binary, without an adder tree
    kCount = thermometerCount(ok, cw);
    finDone = any(...ok.map((o, j) => all(o, fin[j])));
    cumPW = mb.w('cum_prev', cumP);
    cumNW = mb.w('cum_next', cumN);
    // The starting instruction completes with the list when every entry does: then the pushes are
    // those of all valid entries (counted without the prefix logic) plus its own, and they fit.
    const allDn = all(...valid.map((v, j) => any(inv(v), dn[j])));
    inP = add(count(valid.map((v, j) => all(v, pp[j])), cw), rz(s.pushPrev, cw));
    inN = add(count(valid.map((v, j) => all(v, pn[j])), cw), rz(s.pushNext, cw));
    completeIn = mb.w('complete_in', all(s.start, s.doneAtStart, allDn, ule8(inP, roomPrev), ule8(inN, roomNext)));
  }
  const kW = mb.w('fl_k', kCount);
  const append = mb.w('fl_append', all(s.start, inv(completeIn)));
  mb.next(hp, rz(add(hp, rz(kW, lnf)), lnf));
  mb.next(fc, add(sub(fc, rz(kW, fc.width)), rz(append, fc.width)));
  // A starting instruction writes the slot past the list's end even when it completes at once
  // (the list does not grow then, so the slot stays outside it): the slot writes wait for no
  // completion logic. A start always finds a free slot (a GEMM/ALU needs fl_count < NF, others 0).
  for (let slot = 0; slot < NF; slot++) {
    const here = all(s.start, eqc(s.tailSlot, slot));
    const own = ownQ ? ownQ[slot] : all(wr.last, eqc(wr.tag, slot));
    mb.next(fl.done[slot], sel(here, s.doneAtStart, any(fl.done[slot], own, all(npBusy, engDone, eqc(hp, slot)))));
    mb.next(fl.pushPrev[slot], s.pushPrev, here);
    mb.next(fl.pushNext[slot], s.pushNext, here);
    mb.next(fl.finish[slot], s.isFinish, here);
  }
  mb.next(npBusy, any(all(append, inv(s.pipe)), all(npBusy, isZero(kW))));
  return {
    k: kW, completeIn,
    pushPrev: sel(completeIn, inP, cumPW),
    pushNext: sel(completeIn, inN, cumNW),
    finish: any(finDone, all(completeIn, s.isFinish)),
  };
}

/**
 * The observation state (docs/microarch.md §10) and the completions of the cycle (`obs_end`, one
 * cycle late): busy while something starts or a list entry still works, waitMemory while the
 * engine's LOAD waits for memory, queueFull while done entries wait for token room.
 */
export function observation(
  mb: Mb, fl: InflightList, done: Completion,
  s: { run: Expr; qValid: Expr; free: Expr; tokOk: Expr; start: Expr; engBusy: Expr },
): { state: Expr; end: Signal } {
  const NF = fl.n;
  const lnf = fl.slotBits;
  const hp = fl.head;
  const cw = bitsFor(NF + 1);
  const endQ = mb.reg('end_q', cw);
  mb.next(endQ, add(done.k, rz(done.completeIn, cw)));
  let anyWork: Expr = F;
  let anyDone: Expr = F;
  for (let j = 0; j < NF; j++) {
    const slot = rz(add(hp, c(lnf, j)), lnf);
    const valid = gtc(fl.count, j);
    const dq = pick(slot, fl.done);
    anyWork = any(anyWork, all(valid, inv(dq), j === 0 ? inv(fl.npBusy) : T));
    anyDone = any(anyDone, all(valid, dq));
  }
  const npWorking = all(fl.npBusy, inv(pick(hp, fl.done)));
  const state = sel(
    any(s.start, anyWork, all(npWorking, s.engBusy)), c(3, OBS.busy),
    sel(npWorking, c(3, OBS.waitMemory),
      sel(anyDone, c(3, OBS.queueFull),
        sel(all(s.run, s.qValid, s.free, inv(s.tokOk)), c(3, OBS.waitToken), c(3, OBS.idle)))),
  );
  return { state, end: endQ };
}

/** The number of leading ones of a thermometer code (xs[0..k-1] set, the rest clear), as w bits. */
function thermometerCount(xs: Expr[], w: number): Expr {
  const bits: Expr[] = [];
  for (let b = 0; b < w; b++) {
    // bit b of k is set for k in [m * 2^(b+1) + 2^b, (m + 1) * 2^(b+1)): ones up to m*2^(b+1)+2^b-1, not past (m+1)*2^(b+1)-1
    const terms: Expr[] = [];
    for (let lo = 1 << b; lo <= xs.length; lo += 2 << b) {
      const hi = lo + (1 << b);
      terms.push(all(xs[lo - 1], hi - 1 < xs.length ? inv(xs[hi - 1]) : T));
    }
    bits.push(any(F, ...terms));
  }
  return catRev(bits);
}
