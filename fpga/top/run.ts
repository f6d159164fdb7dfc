/**
 * Running a program container on a board (or the Verilated board top) through the UART host link
 * (docs/host-protocol.md, "Running a program"): check the board's configuration and memory, write
 * the program's DRAM buffers, set insn_count / insn_base / dram_size, launch, poll for finish or
 * error, read the cycle counter and the output buffers. The result has the shape of every engine's
 * (src/engine), so it compares with the simulators'.
 */
import { configId } from '../../hw/gen.ts';
import { REG, errorCodeName } from '../../hw/vta/regs.ts';
import { VtwError } from '../../src/errors.ts';
import { INSN_BYTES } from '../../src/isa/constants.ts';
import { decodablePrefix, dramImage, dramSize, insnBuffer, type Program, type ProgramBuffer } from '../../src/program/container.ts';
import { staticCounters } from '../../src/engine/counters.ts';
import type { Engine, ModuleCounters, RunOptions, RunResult } from '../../src/engine/index.ts';
import type { LinkHost } from '../link/host.ts';

/** VTA control registers (docs/rtl.md), re-exported for the host side. */
export { REG };
export const CTRL_LAUNCH = 1;
export const CTRL_FINISH = 2;
export const CTRL_ERROR = 4;

/** Which buffers go to the board before a run and come back after it. */
export type BoardTransfer = 'outputs' | 'buffers' | 'image';

export interface BoardRunOptions {
  /**
   * What goes over the link. 'outputs' (the default): every input, inout and output buffer is
   * written before the run (zeros where it has no data, so no byte of an earlier program is left),
   * the output and inout buffers are read after it. 'buffers': scratch buffers too, both ways.
   * 'image': all of DRAM up to the program's end, gaps included, both ways (slow on a UART).
   */
  transfer?: BoardTransfer;
  /** Give up waiting for finish after this many ms (default 60000). */
  timeoutMs?: number;
  /** Also give up once the cycle counter passes this (read at every poll). */
  maxCycles?: number;
  /** Compare the board's config_id register with the program's configuration (default true). */
  checkConfig?: boolean;
  /** Wait between polls of the control register, ms (default 0: back to back, ~2 ms each at 115200 baud). */
  pollMs?: number;
  /** Board name for messages. */
  boardName?: string;
  /** One event per step: each buffer written, the run, each buffer read. */
  onProgress?: (e: BoardProgress) => void;
  /** Link seconds so far on a simulated board (SimBoard.linkSeconds): the result then has `linkSeconds` per phase. */
  linkClock?: () => Promise<number>;
}

export interface BoardProgress {
  phase: 'load' | 'run' | 'read';
  label: string;
}

export interface BoardRunInfo {
  memBytes: number;
  configId: number;
  bytesWritten: number;
  bytesRead: number;
  polls: number;
  seconds: { load: number; run: number; read: number };
  /** With `linkClock`: simulated seconds on the link of loading (from PING to the last register write before launch) and of reading back. */
  linkSeconds?: { load: number; read: number };
}

export type BoardRunResult = RunResult & { board: BoardRunInfo };

/** The transfers of a run: buffers written before it and read after it. */
export function boardTransfers(p: Program, transfer: BoardTransfer = 'outputs'): { writes: ProgramBuffer[]; reads: ProgramBuffer[] } {
  const sorted = [...p.buffers].sort((a, b) => a.addr - b.addr);
  if (transfer === 'image') {
    const size = dramSize(p);
    const all: ProgramBuffer = { name: 'dram', kind: 'data', role: 'inout', addr: 0, size };
    return { writes: [all], reads: [all] };
  }
  const withScratch = (b: ProgramBuffer) => b.role !== 'scratch' || transfer === 'buffers';
  const reads = sorted.filter((b) => (b.role === 'output' || b.role === 'inout' || b.role === 'scratch') && withScratch(b));
  return { writes: sorted.filter(withScratch), reads };
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const now = () => performance.now();

const zeroModule = (): ModuleCounters => ({ busy: 0, waitToken: 0, waitMemory: 0, queueFull: 0, idle: 0 });

/**
 * Run `p` on the board behind `host`. Errors a user can fix (no link, wrong configuration, a program
 * larger than the board memory, a board still busy) are VtwErrors of one line; an illegal
 * instruction or a run that does not finish in time is reported in `result.error`, as the other
 * engines do.
 */
export async function runOnBoard(host: LinkHost, p: Program, opts: BoardRunOptions = {}): Promise<BoardRunResult> {
  const d = p.config;
  const where = opts.boardName ?? 'the board';
  const t0 = now();
  const l0 = await opts.linkClock?.();
  const ping = await host.ping();
  const memBytes = ping.memWords * 4;
  const image = dramImage(p);
  if (image.length > memBytes) {
    throw new VtwError(`the program needs ${image.length} bytes of DRAM (its last buffer ends at ${hex(image.length)}) but ${where} has ${memBytes} bytes of on-chip memory; use smaller buffers or a board top with more memory`);
  }
  const want = configId(d, 'ice40');
  const id = await host.readReg(REG.configId);
  if (opts.checkConfig !== false && id !== want) {
    throw new VtwError(`${where} runs another VTA configuration: its config_id is ${hex(id)}, the program's ${d.variant} has ${hex(want)}; synthesize and flash the board top for this configuration (vtw synth --config ...), or build the program for the board's`);
  }
  const ctrl0 = await host.readReg(REG.control);
  if (ctrl0 & CTRL_LAUNCH) throw new VtwError(`${where} is still running a previous program (control = ${hex(ctrl0)}); wait for it or reset the board`);

  const { writes, reads } = boardTransfers(p, opts.transfer);
  let bytesWritten = 0;
  for (const b of writes) {
    opts.onProgress?.({ phase: 'load', label: `${b.name} (${b.size} bytes)` });
    const data = opts.transfer === 'image' ? image : (b.data ?? new Uint8Array(b.size));
    await host.writeMem(b.addr, data);
    bytesWritten += data.length;
  }
  const ib = insnBuffer(p);
  await host.writeReg(REG.insnCount, ib.size / INSN_BYTES);
  await host.writeReg(REG.insnBase, ib.addr);
  await host.writeReg(REG.dramSize, image.length);
  const t1 = now();
  const l1 = await opts.linkClock?.();
  opts.onProgress?.({ phase: 'run', label: `${ib.size / INSN_BYTES} instructions` });
  await host.writeReg(REG.control, CTRL_LAUNCH);

  const timeoutMs = opts.timeoutMs ?? 60_000;
  let polls = 0;
  let ctrl = 0;
  let cycles = 0;
  let timedOut: string | null = null;
  for (;;) {
    ctrl = await host.readReg(REG.control);
    polls++;
    if (ctrl & (CTRL_FINISH | CTRL_ERROR)) break;
    if (opts.maxCycles !== undefined) {
      cycles = await host.readReg(REG.cycles);
      if (cycles > opts.maxCycles) {
        timedOut = `no FINISH within ${opts.maxCycles} cycles`;
        break;
      }
    }
    if (now() - t1 > timeoutMs) {
      timedOut = `no FINISH after ${(timeoutMs / 1000).toFixed(1)} s`;
      break;
    }
    if (opts.pollMs) await new Promise((r) => setTimeout(r, opts.pollMs));
  }
  cycles = await host.readReg(REG.cycles);
  const t2 = now();
  const l2 = await opts.linkClock?.();

  const dram = image.slice();
  let bytesRead = 0;
  const result: BoardRunResult = {
    engine: 'board',
    dram,
    counters: {
      ...staticCounters(p, decodablePrefix(p), cycles),
      modules: { fetch: zeroModule(), load: zeroModule(), compute: zeroModule(), store: zeroModule() },
    },
    board: { memBytes, configId: id, bytesWritten, bytesRead: 0, polls, seconds: { load: (t1 - t0) / 1000, run: (t2 - t1) / 1000, read: 0 } },
  };
  if (timedOut) {
    result.error = { kind: 'timeout', message: `${timedOut} (cycle counter at ${cycles}); the accelerator is still running: reset the board before the next run` };
    return result;
  }
  if (ctrl & CTRL_ERROR) {
    const insn = await host.readReg(REG.errorInsn);
    const code = await host.readReg(REG.errorCode);
    const field = errorCodeName(code);
    result.error = { kind: 'illegal', insnIndex: insn, field, message: `illegal instruction ${insn} (${field})` };
  } else {
    for (const b of reads) {
      opts.onProgress?.({ phase: 'read', label: `${b.name} (${b.size} bytes)` });
      dram.set(await host.readMem(b.addr, b.size), b.addr);
      bytesRead += b.size;
    }
  }
  const t3 = now();
  const l3 = await opts.linkClock?.();
  if (l0 !== undefined && l1 !== undefined && l2 !== undefined && l3 !== undefined) result.board.linkSeconds = { load: l1 - l0, read: l3 - l2 };
  result.board.bytesRead = bytesRead;
  result.board.seconds.read = (t3 - t2) / 1000;
  return result;
}

/** A board as an engine (src/engine): runs every program through one LinkHost. */
export class BoardEngine implements Engine {
  readonly name = 'board' as const;
  constructor(
    readonly host: LinkHost,
    readonly opts: BoardRunOptions = {},
  ) {}

  run(program: Program, o: RunOptions = {}): Promise<BoardRunResult> {
    return runOnBoard(this.host, program, { ...this.opts, ...(o.maxCycles !== undefined ? { maxCycles: o.maxCycles } : {}) });
  }
}

export interface BoardMismatch {
  what: string;
  detail: string;
}

/**
 * Differences between a reference engine's result and a board's: error kind and place, total
 * cycles, and the bytes of the buffers the board read back (a board observes no per-module counters
 * or per-instruction timing).
 */
export function compareWithBoard(p: Program, ref: RunResult, board: RunResult, transfer: BoardTransfer = 'outputs'): BoardMismatch[] {
  const out: BoardMismatch[] = [];
  if (ref.error || board.error) {
    if (ref.error?.kind !== board.error?.kind) out.push({ what: 'error kind', detail: `${ref.engine}: ${ref.error?.kind ?? 'none'}, board: ${board.error?.kind ?? 'none'}` });
    else if (ref.error?.kind === 'illegal' && ref.error.insnIndex !== board.error?.insnIndex) {
      out.push({ what: 'illegal instruction index', detail: `${ref.engine}: ${ref.error.insnIndex}, board: ${board.error?.insnIndex}` });
    }
    return out;
  }
  if (ref.counters.cycles !== board.counters.cycles) out.push({ what: 'cycles', detail: `${ref.engine} ${ref.counters.cycles}, board ${board.counters.cycles}` });
  for (const b of boardTransfers(p, transfer).reads) {
    for (let i = b.addr; i < b.addr + b.size; i++) {
      if (ref.dram[i] !== board.dram[i]) {
        out.push({ what: 'memory', detail: `byte ${hex(i)} (${b.name}+${i - b.addr}): ${ref.engine} ${ref.dram[i]}, board ${board.dram[i]}` });
        break;
      }
    }
  }
  return out;
}
