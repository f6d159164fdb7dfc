/**
 * The cycle-accurate TypeScript simulator (engine 'ts'). It implements docs/microarch.md: fetch,
 * three in-order modules connected by command queues and dependency-token queues, a pipelined
 * GEMM/ALU, and the shared memory port. Simulation is event-driven: time jumps from one event (a
 * grant, a dispatch, an instruction start or completion) to the next, and long uniform activity
 * (a GEMM of N micro-ops, a burst) is computed in closed form.
 */
import { dramImage, insnBuffer, type Program } from '../../src/program/container.ts';
import {
  DEFAULT_MAX_CYCLES,
  type Engine, type EngineName, type InsnTiming, type ModuleCounters, type RunCounters, type RunError, type RunOptions, type RunResult, type TraceSpan,
} from '../../src/engine/index.ts';
import { progress, type Progress } from '../../src/report/progress.ts';
import { Datapath, newPipe, type PipeState } from './datapath.ts';
import { predecodeCached, type DInsn } from './decode.ts';
import { finishWarnings } from '../../src/engine/warnings.ts';
import { INSN_BYTES } from '../../src/isa/constants.ts';
import {
  CLIENTS, COMPUTE_INFLIGHT, MODULES, TOKEN_QUEUE_DEPTH, TOKEN_QUEUES, timingOf, type ClientName, type Timing,
} from '../../src/uarch/index.ts';
import { BurstCursor, MemorySystem } from './memory.ts';

export { DEFAULT_MAX_CYCLES };

/** Wall-clock seconds after which a run shows progress (on a terminal; src/report/progress.ts). */
const PROGRESS_AFTER_S = 2;

/** A dependency-token queue (docs/microarch.md §5). */
class TokenQueue {
  /** Cycle from which each pushed token can be popped, in push order. */
  private vis: number[] = [];
  pops = 0;
  lastPop = -1;
  constructor(readonly name: string) {}
  get pushes(): number {
    return this.vis.length;
  }
  /** Tokens a consumer can pop in cycle c. */
  available(c: number): boolean {
    return this.pops < this.vis.length && this.vis[this.pops] <= c;
  }
  /** Cycle the next token becomes poppable (Infinity if not pushed yet). */
  nextVisible(): number {
    return this.pops < this.vis.length ? this.vis[this.pops] : Infinity;
  }
  pop(c: number): void {
    this.pops++;
    this.lastPop = c;
  }
  /** Occupancy the producer sees in cycle c (a pop in cycle p frees its slot from p + 1). */
  occupancy(c: number): number {
    return this.vis.length - this.pops + (this.lastPop >= c ? 1 : 0);
  }
  push(visibleAt: number): void {
    this.vis.push(visibleAt);
  }
  /** Tokens pushed and not popped (for reports). */
  count(): number {
    return this.vis.length - this.pops;
  }
}

/** One instruction in execution. */
interface Exec {
  di: DInsn;
  /** Earliest cycle it could have started had its tokens been there. */
  readyAt: number;
  /** Cycle from which the tokens it pops were visible (-Infinity: it pops none). */
  tokAt: number;
  start: number;
  /** Cycle its DMA engine takes it: start, or start + computeReadDelay for compute's LOAD (§17). */
  engStart: number;
  /** Cycle after its last activity (NaN until known). */
  workEnd: number;
  /** Cycle after it completes (pushes its tokens): its pushes are visible from end + tokenPushDelay (NaN until it completes). */
  end: number;
  blocked: boolean;
  beats: number;
  dataEnd: number;
  pipeline: boolean;
}

/** A DMA transfer of a LOAD or STORE in progress. */
interface Job {
  client: number;
  write: boolean;
  cursor: BurstCursor;
  reqReadyAt: number;
  exec: Exec;
  last: number;
}

interface Module {
  id: number;
  name: 'load' | 'compute' | 'store';
  /** Dispatched instruction indices (FIFO) and their dispatch cycles. */
  q: number[];
  qTime: number[];
  qHead: number;
  lastTake: number;
  inflight: Exec[];
  /** Cycle the module last became free for a non-pipelined instruction (end of the last one). */
  lastEnd: number;
  /** The last cycle an instruction of the module completed in (Timing.oneCompletionPerCycle). */
  completedAt: number;
}

class Stop {
  constructor(readonly error: RunError) {}
}

export class TsEngine implements Engine {
  readonly name: EngineName = 'ts';
  async run(program: Program, opts: RunOptions = {}): Promise<RunResult> {
    return runSync(program, opts);
  }
}

/** Synchronous form of TsEngine.run. */
export function runSync(program: Program, opts: RunOptions = {}): RunResult {
  return new Sim(program, opts).run();
}

const emptyCounters = (): ModuleCounters => ({ busy: 0, waitToken: 0, waitMemory: 0, queueFull: 0, idle: 0 });

class Sim {
  private readonly p: Program;
  private readonly d: Program['config'];
  private readonly tm: Timing;
  private readonly dram: Uint8Array;
  private readonly dp: Datapath;
  private readonly mem: MemorySystem;
  private readonly insns: DInsn[];
  private readonly n: number;
  private readonly insnBase: number;
  private readonly maxCycles: number;
  private readonly wantTiming: boolean;
  private readonly wantTrace: boolean;
  private readonly pipe: PipeState = newPipe();

  /** The token queues in TOKEN_QUEUES order (DInsn.popQ / pushQ index them). */
  private readonly queues = TOKEN_QUEUES.map((n) => new TokenQueue(n));
  private readonly l2g = this.queues[TOKEN_QUEUES.indexOf('l2g')];
  private readonly g2l = this.queues[TOKEN_QUEUES.indexOf('g2l')];
  private readonly g2s = this.queues[TOKEN_QUEUES.indexOf('g2s')];
  private readonly s2g = this.queues[TOKEN_QUEUES.indexOf('s2g')];
  private readonly mods: Module[];
  private readonly jobs: (Job | undefined)[] = CLIENTS.map(() => undefined);

  // fetch state
  private fetchNextByte = 0;
  private readonly insnAvail: Float64Array;
  private dispatched = 0;
  private lastDispatch = -1;
  /** The dispatch before lastDispatch (MEM_REQ_REG, §21: fetch's request one cycle back). */
  private prevDispatch = -1;
  /** Cycle of fetch's last grant (MEM_REQ_REG, §21). */
  private lastFetchGrant = -1;
  private readonly fetchCounters = emptyCounters();

  /** The last LOAD started on the shared read engine (DMA_READ_ENGINES 1). */
  private engineExec: Exec | undefined;
  private finishedAt = -1;
  private t = 0;
  private readonly records: Exec[] = [];
  private readonly trace: TraceSpan[] = [];
  private gemmUops = 0;
  private gemmMacUops = 0;
  private aluUops = 0;
  private readonly bytes = { insn: 0, uop: 0, wgt: 0, inp: 0, acc: 0, out: 0 };

  constructor(p: Program, opts: RunOptions) {
    this.p = p;
    this.d = p.config;
    this.tm = timingOf(this.d);
    this.pipe.issueDelay = this.tm.uopIssueDelay;
    this.dram = dramImage(p);
    this.dp = new Datapath(this.d, this.dram);
    this.mem = new MemorySystem(this.tm);
    const ib = insnBuffer(p);
    this.insnBase = ib.addr;
    this.n = ib.size / INSN_BYTES;
    this.insns = predecodeCached(this.d, ib.data ?? new Uint8Array(ib.size), this.n, this.dram.length);
    this.insnAvail = new Float64Array(this.n).fill(Infinity);
    this.maxCycles = opts.maxCycles ?? DEFAULT_MAX_CYCLES;
    this.wantTiming = opts.insnTiming ?? true;
    this.wantTrace = opts.trace ?? false;
    this.mods = MODULES.map((name, id) => ({ id, name, q: [], qTime: [], qHead: 0, lastTake: -1, inflight: [], lastEnd: 0, completedAt: -1 }));
  }

  // ---------------------------------------------------------------- token routing

  /** Queues di pops before it starts (src/uarch tokenQueuesOf; for reports, hot paths loop over di.popQ). */
  private popQueues(di: DInsn): TokenQueue[] {
    return di.popQ.map((q) => this.queues[q]);
  }

  private pushQueues(di: DInsn): TokenQueue[] {
    return di.pushQ.map((q) => this.queues[q]);
  }

  /** Whether di can push all its tokens in cycle c (no queue full). */
  private canPush(di: DInsn, c: number): boolean {
    const qs = di.pushQ;
    for (let k = 0; k < qs.length; k++) if (this.queues[qs[k]].occupancy(c) >= TOKEN_QUEUE_DEPTH) return false;
    return true;
  }

  /** Whether all tokens di pops are visible in cycle c. */
  private canPop(di: DInsn, c: number): boolean {
    const qs = di.popQ;
    for (let k = 0; k < qs.length; k++) if (!this.queues[qs[k]].available(c)) return false;
    return true;
  }

  /** Cycle from which all tokens di pops are visible (-Infinity: it pops none). */
  private tokensAt(di: DInsn): number {
    let c = -Infinity;
    const qs = di.popQ;
    for (let k = 0; k < qs.length; k++) c = Math.max(c, this.queues[qs[k]].nextVisible());
    return c;
  }

  // ---------------------------------------------------------------- main loop

  run(): RunResult {
    let error: RunError | undefined;
    const t0 = performance.now();
    let bar: Progress | undefined;
    let steps = 0;
    try {
      for (;;) {
        this.step(this.t);
        if (this.finishedAt >= 0) break;
        const next = this.nextEvent(this.t);
        if (next === Infinity) throw new Stop(this.deadlock());
        if (next > this.maxCycles) {
          this.t = this.maxCycles;
          throw new Stop(this.timeout());
        }
        this.t = next;
        // Long runs show how far fetch got (checked every few thousand events: the clock is not free).
        if ((++steps & 0xfff) === 0) {
          if (!bar && performance.now() - t0 > PROGRESS_AFTER_S * 1000) bar = progress(this.n, `simulating ${this.n} instructions`);
          bar?.update?.(this.dispatched, `cycle ${this.t}`);
        }
      }
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      error = e.error;
    } finally {
      bar?.stop();
      this.dp.release();
    }
    const cycles = this.finishedAt >= 0 ? this.finishedAt : this.t;
    const result: RunResult = { engine: 'ts', dram: this.dram, counters: this.counters(cycles) };
    if (this.wantTiming) {
      result.insnTiming = this.records
        .filter((r) => r.end === r.end)
        .map((r): InsnTiming => ({ index: r.di.index, module: MODULES[r.di.module], start: r.start, end: r.end }))
        .sort((a, b) => a.index - b.index);
    }
    if (this.wantTrace) result.trace = this.trace;
    if (error) result.error = error;
    else if (!this.allStartedBeforeFinish()) {
      const observed = this.records.map((r) => ({ index: r.di.index, start: r.start, end: r.end }));
      const warnings = finishWarnings(this.insns.map((di) => di.insn), observed);
      if (warnings.length) result.warnings = warnings;
    }
    return result;
  }

  /**
   * Whether every instruction before the first FINISH that started has started too: then
   * finishWarnings has nothing to say (it looks only for instructions held back), and a model
   * running thousands of programs skips building its inputs.
   */
  private allStartedBeforeFinish(): boolean {
    let f = Infinity;
    for (const r of this.records) if (r.di.kind === 'finish' && r.di.index < f) f = r.di.index;
    if (f === Infinity) return false;
    let before = 0;
    for (const r of this.records) if (r.di.index < f) before++;
    return before === f;
  }

  private step(t: number): void {
    for (const m of this.mods) this.complete(m, t);
    for (const m of this.mods) {
      if (this.tryStart(m, t)) this.complete(m, t);
    }
    this.arbitrate(t);
    this.dispatch(t);
  }

  // ---------------------------------------------------------------- completion

  /** Complete (push tokens of) in-flight instructions whose work ends in cycle t, in order. */
  private complete(m: Module, t: number): void {
    const fl = m.inflight;
    for (let i = 0; i < fl.length; i++) {
      const e = fl[i];
      if (e.end === e.end) continue;
      if (!(e.workEnd - 1 <= t)) break;
      if (!this.canPush(e.di, t)) {
        e.blocked = true;
        break;
      }
      // visible from t + 1, or t + 2 with TOKEN_PUSH_REG (§19: the push passes a register first);
      // the producer's room check (occupancy) counts the token from t + 1 either way
      const qs = e.di.pushQ;
      // COMPUTE_DONE_REG (§22): one completion a cycle; the next one completes in a later cycle
      if (this.tm.oneCompletionPerCycle) {
        if (m.completedAt === t) break;
        m.completedAt = t;
      }
      const vis = t + 1 + this.tm.tokenPushDelay;
      for (let k = 0; k < qs.length; k++) this.queues[qs[k]].push(vis);
      e.blocked = false;
      e.end = t + 1;
      if (!e.pipeline) m.lastEnd = e.end;
      if (e.di.kind === 'finish') this.finishedAt = e.end;
      if (this.wantTrace) {
        this.trace.push({ module: m.name, name: `${e.di.label} #${e.di.index}`, start: e.start, end: e.end, args: { index: e.di.index } });
      }
    }
    // drop instructions that are over
    let k = 0;
    while (k < fl.length && fl[k].end <= t) k++;
    if (k) fl.splice(0, k);
  }

  // ---------------------------------------------------------------- start

  /** First cycle module m is free for instruction di (Infinity if not yet known). */
  private freeAt(m: Module, di: DInsn, t: number): number {
    let f = 0;
    const pipelined = di.kind === 'gemm' || di.kind === 'alu';
    for (const e of m.inflight) {
      if (pipelined && e.pipeline) continue;
      const end = e.end === e.end ? e.end : Infinity;
      f = Math.max(f, end);
    }
    if (pipelined) f = Math.max(f, this.pipe.issueFree, this.listFreeAt(m, t));
    return Math.max(f, m.lastEnd);
  }

  /**
   * When compute's in-flight list has a free entry, as seen in cycle t (§7.4): 0 if it has one
   * now, else the cycle its oldest entry leaves it (Infinity while unknown). An instruction holds
   * an entry from its start through the cycle it completes.
   */
  private listFreeAt(m: Module, t: number): number {
    if (m.inflight.length < COMPUTE_INFLIGHT) return 0; // (no allocation on this hot path)
    // completions are in program order: entries that left by t are at the front
    let k = 0;
    while (k < m.inflight.length && m.inflight[k].end <= t) k++;
    if (m.inflight.length - k < COMPUTE_INFLIGHT) return 0;
    // the list frees when its oldest entry completes
    const end = m.inflight[k].end;
    return end === end ? end : Infinity;
  }

  /**
   * The instruction module m would start next: the head of its command queue or, with
   * CMD_QUEUE_DEPTH 0 (no queues), fetch's next instruction when it goes to m and has arrived.
   */
  private headOf(m: Module): number | undefined {
    if (this.tm.cmdQueueDepth > 0) return m.qHead < m.q.length ? m.q[m.qHead] : undefined;
    const i = this.dispatched;
    if (i >= this.n || this.insnAvail[i] === Infinity) return undefined;
    const di = this.insns[i];
    return di.illegal || di.module !== m.id ? undefined : i;
  }

  /** First cycle m can start its head: the cycle after its dispatch, or when it is at fetch's head (§3). */
  private headReady(m: Module, i: number): number {
    if (this.tm.cmdQueueDepth > 0) return m.qTime[m.qHead] + 1;
    return Math.max(this.insnAvail[i], this.lastDispatch + 1);
  }

  /**
   * m starts its head in cycle t: it leaves the command queue, or fetch dispatches it, in cycle t,
   * or in t + computeReadDelay for compute's LOAD with data (§17: its engine reads it there then).
   */
  private takeHead(m: Module, i: number, t0: number): void {
    const di = this.insns[i];
    const t = m.name === 'compute' && di.kind === 'load' ? t0 + this.tm.computeReadDelay : t0;
    if (this.tm.cmdQueueDepth > 0) {
      m.qHead++;
      m.lastTake = t;
      return;
    }
    this.countDispatch(i, t);
    if (this.wantTrace) this.trace.push({ module: 'fetch', name: `${this.insns[i].label} #${i}`, start: t, end: t + 1, args: { index: i, to: m.name } });
  }

  /**
   * First cycle the read engine can take di (0 when di needs none of its own): with one engine
   * shared by load and compute (§6), when the LOAD on it has ended (Infinity while that is unknown).
   * The load module starts first in a cycle, so compute sees a LOAD the load module started then.
   */
  private engineFreeAt(di: DInsn): number {
    if (this.tm.dmaReadEngines !== 1 || di.kind !== 'load' || !this.engineExec) return 0;
    const w = this.engineExec.workEnd;
    return w === w ? w : Infinity;
  }

  private tryStart(m: Module, t: number): boolean {
    const i = this.headOf(m);
    if (i === undefined) return false;
    if (this.headReady(m, i) > t) return false;
    const di = this.insns[i];
    const free = this.freeAt(m, di, t);
    if (free > t) return false;
    if (!this.canPop(di, t)) return false;
    if (this.engineFreeAt(di) > t) return false;
    // start: pop tokens, take the instruction
    const tokAt = this.tokensAt(di);
    const pops = di.popQ;
    for (let k = 0; k < pops.length; k++) this.queues[pops[k]].pop(t);
    const readyAt = Math.max(this.headReady(m, i), free);
    this.takeHead(m, i, t);
    const e: Exec = {
      di, readyAt, tokAt, start: t, engStart: t, workEnd: NaN, end: NaN, blocked: false, beats: 0, dataEnd: t,
      pipeline: di.kind === 'gemm' || di.kind === 'alu',
    };
    if (di.kind === 'load') this.engineExec = e;
    m.inflight.push(e);
    this.records.push(e);
    this.execute(m, e, t);
    return true;
  }

  private execute(m: Module, e: Exec, t: number): void {
    const di = e.di;
    switch (di.kind) {
      case 'nop':
      case 'finish':
        e.workEnd = t + 1;
        return;
      case 'gemm':
      case 'alu': {
        const L = di.loop!;
        this.checkIndices(di);
        // Each micro-op takes at least one cycle: stop before simulating one that cannot end in time.
        const uops = L.iterOut * L.iterIn * Math.max(0, L.uopEnd - L.uopBgn);
        if (t + uops > this.maxCycles) {
          this.t = t;
          throw new Stop(this.timeout(`${di.label} #${di.index} has ${uops} micro-ops`));
        }
        const prevEnd = m.inflight.length > 1 ? m.inflight[m.inflight.length - 2].workEnd : 0;
        const r = di.kind === 'gemm' ? this.dp.gemm(L, t, this.pipe, this.tm.gemmII) : this.dp.alu(L, t, this.pipe, this.tm.aluII, this.tm.aluWriteDelay);
        e.workEnd = Math.max(r.workEnd, prevEnd === prevEnd ? prevEnd : 0);
        if (di.kind === 'gemm') {
          this.gemmUops += r.uops;
          if (!L.reset) this.gemmMacUops += r.uops;
        } else {
          this.aluUops += r.uops;
        }
        return;
      }
      case 'store': {
        for (let y = 0; y < di.segs!.length; y++) {
          const s = di.segs![y];
          this.dp.writeOut(di.rowSram![y], s.addr, s.len / this.d.elemBytes.out);
        }
        this.bytes.out += di.bytes;
        this.startJob(CLIENTS.indexOf('store'), true, e, t);
        return;
      }
      case 'load':
        this.bytes[di.buf!] += di.bytes;
        // compute's LOAD UOP/ACC reaches its engine computeReadDelay cycles after it starts (§17)
        if (m.name === 'compute') e.engStart = t + this.tm.computeReadDelay;
        this.startJob(CLIENTS.indexOf(di.buf! as ClientName), false, e, e.engStart);
        return;
    }
  }

  private startJob(client: number, write: boolean, e: Exec, t: number): void {
    const cursor = new BurstCursor(e.di.segs!, this.tm.busBytes, this.tm.burstBeats);
    // all of the transfer's beats, counted up front (at decoding): the busy share of §10 is the
    // whole transfer's even when the run ends (FINISH) before its last burst is granted
    e.beats += e.di.beats;
    if (cursor.done) {
      this.finishJob(e, t);
      return;
    }
    // MEM_REQ_REG (§21): the arbiter sees the request from the cycle after it rises
    this.jobs[client] = { client, write, cursor, reqReadyAt: t + this.tm.memReqDelay, exec: e, last: t };
  }

  /** All bursts of e are granted: its work end is now known; apply a LOAD's data. */
  private finishJob(e: Exec, lastTime: number): void {
    const di = e.di;
    if (di.kind === 'store') {
      e.workEnd = Math.max(e.start + 1, lastTime + 1);
      e.dataEnd = e.workEnd;
      return;
    }
    const dataEnd = e.beats ? lastTime + 1 : e.engStart + 1;
    e.dataEnd = dataEnd;
    // READ_DONE_REG (§18): the engine's completion passes a register, one more cycle for a LOAD
    // that writes anything (beats or pads); one that moves nothing still ends at engStart + 1
    const tail = e.beats || di.pad ? this.tm.readDoneDelay : 0;
    e.workEnd = Math.max(dataEnd, e.engStart + 1 + e.beats + di.pad) + tail;
    // functional effect: zero the footprint, then copy the rows
    const m = di.insn as { sram_base: number; x_pad_0: number; x_size: number; x_pad_1: number; y_pad_0: number; y_size: number; y_pad_1: number };
    const buf = di.buf!;
    if (di.pad) {
      this.dp.zeroElems(buf, m.sram_base, (m.x_pad_0 + m.x_size + m.x_pad_1) * (m.y_pad_0 + m.y_size + m.y_pad_1));
    }
    const eb = this.d.elemBytes[buf];
    for (let y = 0; y < di.segs!.length; y++) {
      const s = di.segs![y];
      this.dp.readElems(buf, di.rowSram![y], s.addr, s.len / eb);
    }
  }

  private checkIndices(di: DInsn): void {
    const L = di.loop!;
    if (L.iterOut === 0 || L.iterIn === 0 || L.uopEnd <= L.uopBgn) return;
    const d = this.d;
    const dx = (L.iterOut - 1) * L.dstOut + (L.iterIn - 1) * L.dstIn;
    const sx = (L.iterOut - 1) * L.srcOut + (L.iterIn - 1) * L.srcIn;
    const wx = (L.iterOut - 1) * L.wgtOut + (L.iterIn - 1) * L.wgtIn;
    const isAlu = di.kind === 'alu';
    const srcDepth = isAlu ? d.depth.acc : d.depth.inp;
    const srcName = isAlu ? 'ACC' : 'INP';
    for (let u = L.uopBgn; u < L.uopEnd; u++) {
      const dst = this.dp.uopDst[u] + dx;
      if (dst >= d.depth.acc) this.illegal(di, 'dst_idx', `micro-op ${u} reaches accumulator index ${dst} (dst_idx ${this.dp.uopDst[u]} + loop offset ${dx}), past the ACC depth ${d.depth.acc}`);
      if (isAlu && L.useImm) continue;
      const src = this.dp.uopSrc[u] + sx;
      if (src >= srcDepth) this.illegal(di, 'src_idx', `micro-op ${u} reaches ${srcName} index ${src} (src_idx ${this.dp.uopSrc[u]} + loop offset ${sx}), past the ${srcName} depth ${srcDepth}`);
      if (isAlu || L.reset) continue;
      const w = this.dp.uopWgt[u] + wx;
      if (w >= d.depth.wgt) this.illegal(di, 'wgt_idx', `micro-op ${u} reaches WGT index ${w} (wgt_idx ${this.dp.uopWgt[u]} + loop offset ${wx}), past the WGT depth ${d.depth.wgt}`);
    }
  }

  private illegal(di: DInsn, field: string, reason: string): never {
    const what = di.insn ? di.label : 'instruction';
    throw new Stop({
      kind: 'illegal',
      message: `illegal instruction ${di.index} (${what}) at cycle ${this.t}: ${field}: ${reason}`,
      insnIndex: di.index,
      field,
    });
  }

  // ---------------------------------------------------------------- memory arbiter

  /** fetchBurstEnd's value and the fetchNextByte it was computed for (it is asked every event). */
  private fetchEndAt = -1;
  private fetchEnd = 0;

  private fetchBurstEnd(): number {
    if (this.fetchEndAt === this.fetchNextByte) return this.fetchEnd;
    this.fetchEndAt = this.fetchNextByte;
    this.fetchEnd = this.computeFetchBurstEnd();
    return this.fetchEnd;
  }

  private computeFetchBurstEnd(): number {
    // instruction index just past the next fetch burst
    const c = new BurstCursor([{ addr: this.insnBase + this.fetchNextByte, len: this.n * INSN_BYTES - this.fetchNextByte }], this.tm.busBytes, this.tm.burstBeats);
    const b = c.peek();
    return Math.ceil((b.addr + b.len - this.insnBase) / INSN_BYTES);
  }

  /** Fetch requests a burst in cycle t: the buffer has room for it after the dispatches before t. */
  private fetchWants(t: number): boolean {
    if (this.fetchNextByte >= this.n * INSN_BYTES) return false;
    // without command queues a dispatch happens at a start, before the arbiter's turn in cycle t
    const dispatched = this.dispatched - (this.lastDispatch >= t ? 1 : 0);
    return this.fetchBurstEnd() - dispatched <= this.tm.fetchBufInsns;
  }

  /**
   * MEM_REQ_REG (§21): fetch asserted its present request in cycle t - 1 already (the arbiter sees
   * the request register). Requests are sticky until granted, so this is fetchWants for t - 1 with
   * the dispatches before t - 1 (at most one per cycle: the last two tell) and no grant in t - 1.
   */
  private fetchWantedBefore(t: number): boolean {
    const x = t - 1;
    if (this.lastFetchGrant >= x || x < 0) return false;
    if (this.fetchNextByte >= this.n * INSN_BYTES) return false;
    const dispatched = this.dispatched - (this.lastDispatch >= x ? 1 : 0) - (this.prevDispatch >= x ? 1 : 0);
    return this.fetchBurstEnd() - dispatched <= this.tm.fetchBufInsns;
  }

  private arbitrate(t: number): void {
    const mem = this.mem;
    for (let c = 0; c < CLIENTS.length; c++) {
      if (c === 0) {
        if (!this.fetchWants(t) || !mem.canRead(t)) continue;
        if (this.tm.memReqDelay && !this.fetchWantedBefore(t)) continue;
        this.grantFetch(t);
        return;
      }
      const j = this.jobs[c];
      if (!j || j.reqReadyAt > t) continue;
      if (j.write ? !mem.canWrite(t) : !mem.canRead(t)) continue;
      const b = j.cursor.next();
      if (j.write) {
        const g = mem.grantWrite(t, b.beats);
        j.last = g.resp;
        if (this.wantTrace) this.trace.push({ module: 'memory', name: `W ${CLIENTS[c]} ${b.beats}`, start: g.first, end: g.last + 1 });
      } else {
        const g = mem.grantRead(t, b.beats);
        j.last = g.last;
        if (this.wantTrace) this.trace.push({ module: 'memory', name: `R ${CLIENTS[c]} ${b.beats}`, start: g.first, end: g.last + 1 });
      }
      j.reqReadyAt = t + 1 + this.tm.memReqDelay;
      if (j.cursor.done) {
        this.jobs[c] = undefined;
        this.finishJob(j.exec, j.last);
      }
      return;
    }
  }

  private grantFetch(t: number): void {
    const c = new BurstCursor([{ addr: this.insnBase + this.fetchNextByte, len: this.n * INSN_BYTES - this.fetchNextByte }], this.tm.busBytes, this.tm.burstBeats);
    const b = c.next();
    const g = this.mem.grantRead(t, b.beats);
    this.lastFetchGrant = t;
    const cpb = this.tm.cyclesPerBeat;
    const bb = this.tm.busBytes;
    const endByte = this.fetchNextByte + b.len;
    // an instruction is available the cycle after the beat carrying its last byte (plus the serial
    // decode's fixed latency, §2.1); bursts shorter than an instruction leave one straddling two
    // bursts, completed by this one (hence floor)
    const after = 1 + this.tm.fetchDecodeDelay;
    for (let i = Math.floor(this.fetchNextByte / INSN_BYTES); i * INSN_BYTES + INSN_BYTES <= endByte; i++) {
      const lastByte = this.insnBase + i * INSN_BYTES + INSN_BYTES - 1;
      this.insnAvail[i] = g.first + (Math.floor(lastByte / bb) - b.word) * cpb + after;
    }
    this.fetchNextByte = endByte;
    this.bytes.insn += b.len;
    if (this.wantTrace) this.trace.push({ module: 'memory', name: `R fetch ${b.beats}`, start: g.first, end: g.last + 1 });
  }

  // ---------------------------------------------------------------- fetch dispatch

  private targetOcc(m: Module, c: number): number {
    return m.q.length - m.qHead + (m.lastTake >= c ? 1 : 0);
  }

  /**
   * First cycle from c in which m's command queue has room for a dispatch, as far as known now:
   * c, or the cycle after a take still ahead (compute's LOAD leaves its queue computeReadDelay cycles
   * after it starts, §17, so its slot frees after the start's next cycle), else Infinity.
   */
  private queueRoomAt(m: Module, c: number): number {
    const depth = this.tm.cmdQueueDepth;
    if (this.targetOcc(m, c) < depth) return c;
    return m.lastTake >= c && this.targetOcc(m, m.lastTake + 1) < depth ? m.lastTake + 1 : Infinity;
  }

  private dispatch(t: number): void {
    const i = this.dispatched;
    if (i >= this.n || this.insnAvail[i] > t || this.lastDispatch >= t) return;
    const di = this.insns[i];
    if (di.illegal) {
      this.t = t;
      this.illegal(di, di.illegal.field, di.illegal.reason);
    }
    // without command queues the module dispatches when it starts (takeHead)
    if (this.tm.cmdQueueDepth === 0) return;
    const m = this.mods[di.module];
    if (this.targetOcc(m, t) >= this.tm.cmdQueueDepth) return;
    this.countDispatch(i, t);
    m.q.push(i);
    m.qTime.push(t);
    if (this.wantTrace) this.trace.push({ module: 'fetch', name: `${di.label} #${i}`, start: t, end: t + 1, args: { index: i, to: m.name } });
  }

  /** Fetch dispatches instruction i in cycle t: its counters for the cycles since the previous dispatch. */
  private countDispatch(i: number, t: number): void {
    const g0 = this.lastDispatch + 1;
    const a = Math.max(g0, this.insnAvail[i]);
    this.fetchCounters.waitMemory += a - g0;
    this.fetchCounters.queueFull += t - a;
    this.fetchCounters.busy += 1;
    this.dispatched++;
    this.prevDispatch = this.lastDispatch;
    this.lastDispatch = t;
  }

  // ---------------------------------------------------------------- next event

  private nextEvent(t: number): number {
    let best = Infinity;
    const t1 = t + 1;
    for (let mi = 0; mi < this.mods.length; mi++) {
      const m = this.mods[mi];
      const fl = m.inflight;
      // the oldest instruction not completed: its completion (or retry of a blocked push)
      for (let k = 0; k < fl.length; k++) {
        const e = fl[k];
        if (e.end === e.end) continue;
        if (e.workEnd === e.workEnd) {
          const c = !e.blocked ? Math.max(t1, e.workEnd - 1) : this.canPush(e.di, t1) ? t1 : Infinity;
          if (c < best) best = c;
        }
        break;
      }
      for (let k = 0; k < fl.length; k++) {
        const end = fl[k].end;
        if (end > t && end < best) best = end; // (NaN compares false)
      }
      const h = this.headOf(m);
      if (h !== undefined) {
        const di = this.insns[h];
        const c = Math.max(t1, this.headReady(m, h), this.freeAt(m, di, t1), this.engineFreeAt(di), this.tokensAt(di));
        if (c < best) best = c;
      }
    }
    // memory requests
    const mem = this.mem;
    // (the memory is asked from t1 only: it forgets bursts that end before the cycle it is asked
    // for, and a slot once free stays free until the next grant, so a request ready later than t1,
    // with MEM_REQ_REG (§21), is granted at the later of the two)
    if (this.fetchWants(t1)) best = Math.min(best, Math.max(this.tm.memReqDelay && !this.fetchWantedBefore(t1) ? t1 + 1 : t1, mem.nextRead(t1)));
    for (let c = 1; c < CLIENTS.length; c++) {
      const j = this.jobs[c];
      if (!j) continue;
      const r = Math.max(t1, j.reqReadyAt);
      best = Math.min(best, Math.max(r, j.write ? mem.nextWrite(t1) : mem.nextRead(t1)));
    }
    // fetch dispatch
    const i = this.dispatched;
    if (i < this.n && this.insnAvail[i] < Infinity) {
      const di = this.insns[i];
      const c = Math.max(t1, this.insnAvail[i]);
      if (di.illegal) best = Math.min(best, c);
      else if (this.tm.cmdQueueDepth > 0) best = Math.min(best, Math.max(c, this.queueRoomAt(this.mods[di.module], t1)));
    }
    return best;
  }

  // ---------------------------------------------------------------- reports

  /** The cycle limit was reached: one line saying where each module was. */
  private timeout(why?: string): RunError {
    const at = this.mods.map((m) => {
      const busy = m.inflight.find((e) => e.end !== e.end);
      if (busy) return `${m.name} running #${busy.di.index} ${busy.di.label}`;
      const h = this.headOf(m);
      return h === undefined ? `${m.name} idle` : `${m.name} waiting at #${h} ${this.insns[h].label}`;
    });
    return {
      kind: 'timeout',
      message: `no FINISH within ${this.maxCycles} cycles (--max-cycles)${why ? `: ${why}` : ''}; at cycle ${this.t}: ${at.join(', ')}; fetch dispatched ${this.dispatched} of ${this.n} instructions`,
    };
  }

  private deadlock(): RunError {
    const t = this.t;
    const waits: string[] = [];
    for (const m of this.mods) {
      const busy = m.inflight.find((e) => e.end !== e.end);
      if (busy?.blocked) {
        const full = this.pushQueues(busy.di).filter((q) => q.occupancy(t + 1) >= TOKEN_QUEUE_DEPTH).map((q) => q.name);
        waits.push(`${m.name}: insn ${busy.di.index} (${busy.di.label}) cannot push, token queue ${full.join(', ')} full`);
        continue;
      }
      const h = this.headOf(m);
      if (h === undefined) {
        waits.push(`${m.name}: idle, ${this.tm.cmdQueueDepth > 0 ? 'command queue empty' : 'no instruction for it at fetch'}`);
        continue;
      }
      const di = this.insns[h];
      const missing = this.popQueues(di).filter((q) => q.nextVisible() === Infinity).map((q) => q.name);
      waits.push(`${m.name}: insn ${di.index} (${di.label}) waits for a token on ${missing.join(' and ') || '(nothing)'}`);
    }
    if (this.dispatched < this.n) {
      const di = this.insns[this.dispatched];
      const why = this.tm.cmdQueueDepth > 0 ? `command queue full (${this.tm.cmdQueueDepth})` : 'has not taken it (no command queues)';
      waits.push(`fetch: insn ${di.index} (${di.label}) blocked, ${this.mods[di.module].name} ${why}`);
    } else {
      waits.push(`fetch: all ${this.n} instructions dispatched`);
    }
    const tokens = [this.l2g, this.g2l, this.g2s, this.s2g].map((q) => `${q.name}=${q.count()}`).join(' ');
    const cmd = this.mods.map((m) => `${m.name}=${m.q.length - m.qHead}/${this.tm.cmdQueueDepth}`).join(' ');
    const allDone = this.dispatched >= this.n && this.mods.every((m) => m.qHead >= m.q.length && m.inflight.length === 0);
    const head = allDone ? `no FINISH: all ${this.n} instructions executed at cycle ${t} without a FINISH` : `deadlock at cycle ${t}`;
    return {
      kind: 'deadlock',
      message: `${head}; ${waits.join('; ')}; token queues ${tokens}; command queues ${cmd}`,
      queues: { l2g: this.l2g.count(), g2l: this.g2l.count(), g2s: this.g2s.count(), s2g: this.s2g.count() },
      waits,
    };
  }

  private counters(cycles: number): RunCounters {
    const modules = {
      fetch: { ...this.fetchCounters, idle: 0 },
      load: emptyCounters(),
      compute: emptyCounters(),
      store: emptyCounters(),
    };
    modules.fetch.idle = Math.max(0, cycles - modules.fetch.busy - modules.fetch.waitMemory - modules.fetch.queueFull);
    // classify each module's cycles by sweeping its instruction intervals (priority busy > waitMemory > queueFull > waitToken)
    for (let mi = 0; mi < 3; mi++) {
      const iv: Array<[number, number, number]> = [];
      for (const e of this.records) {
        if (e.di.module !== mi) continue;
        const end = e.end === e.end ? e.end : cycles;
        const workEnd = e.workEnd === e.workEnd ? Math.min(e.workEnd, end) : end;
        // waiting for tokens until they are visible; after that (a busy shared read engine) idle
        const tokWait = Math.min(e.start, Math.max(e.readyAt, e.tokAt));
        if (tokWait > e.readyAt) iv.push([e.readyAt, tokWait, 3]);
        if (e.di.kind === 'load' || e.di.kind === 'store') {
          const busy = Math.min(workEnd - e.start, e.engStart - e.start + 1 + e.beats * this.tm.cyclesPerBeat + e.di.pad);
          iv.push([e.start, e.start + busy, 0]);
          if (workEnd > e.start + busy) iv.push([e.start + busy, workEnd, 1]);
        } else {
          iv.push([e.start, workEnd, 0]);
        }
        if (end > workEnd) iv.push([workEnd, end, 2]);
      }
      // a run that FINISHed while this module held an instruction it never started (a warning):
      // it waited for its tokens from when it could have started to the end
      const h = this.finishedAt >= 0 ? this.headOf(this.mods[mi]) : undefined;
      if (h !== undefined) {
        const m = this.mods[mi];
        const di = this.insns[h];
        const readyAt = Math.max(this.headReady(m, h), this.freeAt(m, di, cycles));
        const tokAt = this.tokensAt(di);
        if (tokAt > readyAt) iv.push([readyAt, tokAt, 3]);
      }
      const sums = sweep(iv, cycles);
      const c = modules[MODULES[mi]];
      c.busy = sums[0];
      c.waitMemory = sums[1];
      c.queueFull = sums[2];
      c.waitToken = sums[3];
      c.idle = cycles - sums[0] - sums[1] - sums[2] - sums[3];
    }
    const b = this.bytes;
    return {
      cycles,
      gemm_uops: this.gemmUops,
      alu_uops: this.aluUops,
      utilization: cycles > 0 ? (this.gemmMacUops * this.tm.gemmII) / cycles : 0,
      bytes: { ...b },
      modules,
      fsim: {
        inp_load_nbytes: b.inp,
        wgt_load_nbytes: b.wgt,
        acc_load_nbytes: b.acc,
        uop_load_nbytes: b.uop,
        out_store_nbytes: b.out,
        gemm_counter: this.gemmMacUops,
        alu_counter: this.aluUops,
      },
      gemmHazardStalls: this.pipe.hazardStalls,
    };
  }
}

/** Measure of each class over [0, limit), a cycle counted once for its highest-priority (lowest id) class. */
function sweep(iv: Array<[number, number, number]>, limit: number): number[] {
  const pts: Array<[number, number, number]> = [];
  for (const [a, b, k] of iv) {
    const lo = Math.max(0, a);
    const hi = Math.min(limit, b);
    if (hi > lo) {
      pts.push([lo, 1, k]);
      pts.push([hi, -1, k]);
    }
  }
  pts.sort((x, y) => x[0] - y[0]);
  const cnt = [0, 0, 0, 0];
  const sums = [0, 0, 0, 0];
  let prev = 0;
  for (const [x, delta, k] of pts) {
    if (x > prev) {
      const cls = cnt.findIndex((c) => c > 0);
      if (cls >= 0) sums[cls] += x - prev;
      prev = x;
    }
    cnt[k] += delta;
  }
  return sums;
}
