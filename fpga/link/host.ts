/**
 * Host driver of the UART link (docs/host-protocol.md) over any ByteStream: memory bursts,
 * registers, retries of rejected or lost frames.
 *
 * Retry rules: reads and memory writes are idempotent and are sent again after a NAK for a damaged
 * frame or a lost/damaged response. A register write is sent again only after a NAK (the device
 * guarantees it did not write); when its response is lost the write may have happened (e.g. a
 * launch), so the driver reports that instead of repeating it.
 */
import { VtwError } from '../../src/errors.ts';
import {
  Cmd, PING_MAGIC, PING_MEM_MASK, PING_STREAM_SHIFT, RESP_HEADER_BYTES, RESP_SYNC, STATUS_NAMES, Status, crc8, encodeRequest, encodeStream,
  responsePayloadBytes,
} from './protocol.ts';
import { LinkTimeout, type ByteStream } from './stream.ts';

export interface LinkOptions {
  /** Baud rate, to size response timeouts (default 115200). */
  baud?: number;
  /** Fixed part of every response timeout, ms (default 200). */
  timeoutMs?: number;
  /** The device's mid-frame timeout, ms: how long to stay quiet before resending after a lost response (default 60). */
  deviceTimeoutMs?: number;
  /** Attempts per transaction after the first (default 3). */
  retries?: number;
  /** Words per memory burst (default 256). */
  burstWords?: number;
  /** Write memory with WRITE_STREAM when the device's PING offers it (default true). */
  stream?: boolean;
  /** Words per WRITE_STREAM frame (default 16384: 64 KiB, what a failed stream costs to send again). */
  streamWords?: number;
  /** Called for every retry (for logging). */
  onRetry?: (what: string, reason: string) => void;
}

/** The device answered with a NAK that retries did not clear. */
export class LinkNak extends VtwError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A response that could not be trusted: wrong CRC, sequence or command. */
export class LinkCorrupt extends VtwError {}

export interface PingInfo {
  magic: number;
  memWords: number;
  /** Words per WRITE_STREAM block, or 0 where the link has no streaming. */
  streamBlockWords: number;
}

const RETRYABLE_NAKS = new Set<number>([Status.NAK_CRC, Status.NAK_HDR, Status.NAK_TIMEOUT, Status.NAK_BUSY]);

export class LinkHost {
  private seq = 0;
  readonly opts: Required<Omit<LinkOptions, 'onRetry'>> & Pick<LinkOptions, 'onRetry'>;
  /** Transactions sent again, by reason (for reports and tests). */
  readonly retried: Record<string, number> = {};
  /** WRITE_STREAM's block size, once a PING has found the device offers it (and `stream` allows it). */
  private streamBlockWords = 0;

  constructor(
    private readonly stream: ByteStream,
    opts: LinkOptions = {},
  ) {
    this.opts = {
      baud: opts.baud ?? 115200,
      timeoutMs: opts.timeoutMs ?? 200,
      deviceTimeoutMs: opts.deviceTimeoutMs ?? 60,
      retries: opts.retries ?? 3,
      burstWords: opts.burstWords ?? 256,
      stream: opts.stream ?? true,
      streamWords: opts.streamWords ?? 16384,
      onRetry: opts.onRetry,
    };
  }

  private byteMs(n: number): number {
    return (n * 10 * 1000) / this.opts.baud;
  }

  /** One request/response exchange, no retries. Returns the status and the payload of an ACK. */
  async exchange(cmd: number, addr: number, count: number, payload?: Uint8Array): Promise<{ status: number; data: Uint8Array }> {
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xff;
    const frame = cmd === Cmd.WRITE_STREAM && payload ? encodeStream(seq, addr, payload, this.streamBlockWords) : encodeRequest(cmd, seq, addr, count, payload);
    const expect = responsePayloadBytes(cmd, count);
    const timeout = this.opts.timeoutMs + 2 * this.byteMs(frame.length + RESP_HEADER_BYTES + 1 + expect);
    await this.stream.write(frame);
    for (;;) {
      // Find the response's sync byte, then its header.
      let b = await this.stream.read(1, timeout);
      while (b[0] !== RESP_SYNC) b = await this.stream.read(1, timeout);
      const rest = await this.stream.read(RESP_HEADER_BYTES - 1, timeout);
      const head = new Uint8Array([RESP_SYNC, ...rest]);
      const [, status, rseq, rcmd] = head;
      const n = status === Status.ACK ? expect : 0;
      const body = await this.stream.read(n + 1, timeout);
      const data = body.subarray(0, n);
      const crc = crc8(data, crc8(head));
      if (crc !== body[n]) throw new LinkCorrupt(`response to ${cmdName(cmd)} failed its CRC check`);
      if (rseq !== seq) continue; // a late answer to an earlier attempt
      if (rcmd !== (cmd & 0xff) && status === Status.ACK) throw new LinkCorrupt(`response names command ${rcmd}, expected ${cmd}`);
      return { status, data: data.slice() };
    }
  }

  /** exchange() with the retry rules; throws LinkNak / LinkTimeout / LinkCorrupt when they run out. */
  private async transact(cmd: number, addr: number, count: number, payload?: Uint8Array, idempotent = true): Promise<Uint8Array> {
    let last: Error | null = null;
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      try {
        const r = await this.exchange(cmd, addr, count, payload);
        if (r.status === Status.ACK) return r.data;
        const name = STATUS_NAMES[r.status] ?? `status ${r.status}`;
        last = new LinkNak(r.status, `${cmdName(cmd)} at 0x${addr.toString(16)} rejected by the device: ${name}`);
        if (!RETRYABLE_NAKS.has(r.status)) throw last;
        this.noteRetry(cmd, name);
      } catch (e) {
        if (e instanceof LinkNak) throw e;
        if (!(e instanceof LinkTimeout) && !(e instanceof LinkCorrupt)) throw e;
        last = e;
        if (!idempotent) {
          throw new LinkCorrupt(`${cmdName(cmd)} at 0x${addr.toString(16)}: ${e.message}; the write may or may not have happened, so it is not repeated`);
        }
        this.noteRetry(cmd, e instanceof LinkTimeout ? 'timeout' : 'corrupt response');
        // Let the device finish or abandon the frame, then forget what it sent.
        await sleep(this.opts.deviceTimeoutMs);
        this.stream.discard();
      }
    }
    throw last ?? new VtwError('link: no attempt made');
  }

  private noteRetry(cmd: number, reason: string): void {
    this.retried[reason] = (this.retried[reason] ?? 0) + 1;
    this.opts.onRetry?.(cmdName(cmd), reason);
  }

  async ping(): Promise<PingInfo> {
    const d = await this.transact(Cmd.PING, 0, 0);
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const word = dv.getUint32(4, true);
    const log = word >>> PING_STREAM_SHIFT;
    const info = { magic: dv.getUint32(0, true), memWords: word & PING_MEM_MASK, streamBlockWords: log ? 2 ** log : 0 };
    if (info.magic !== PING_MAGIC) throw new LinkCorrupt(`device answered PING with magic 0x${info.magic.toString(16)}, not a vtw link`);
    this.streamBlockWords = this.opts.stream ? info.streamBlockWords : 0;
    return info;
  }

  async readReg(addr: number): Promise<number> {
    const d = await this.transact(Cmd.READ_REG, addr, 1);
    return new DataView(d.buffer, d.byteOffset, 4).getUint32(0, true);
  }

  /** Write a 32-bit register. A lost response is an error, never a second write (see the module note). */
  async writeReg(addr: number, value: number): Promise<void> {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setUint32(0, value >>> 0, true);
    await this.transact(Cmd.WRITE_REG, addr, 1, p, false);
  }

  /** Read whole 32-bit words starting at a word-aligned byte address. */
  async readWords(addr: number, words: number): Promise<Uint8Array> {
    checkAligned(addr);
    const out = new Uint8Array(words * 4);
    for (let w = 0; w < words; w += this.opts.burstWords) {
      const n = Math.min(this.opts.burstWords, words - w);
      out.set(await this.transact(Cmd.READ_MEM, addr + 4 * w, n), 4 * w);
    }
    return out;
  }

  /** Write whole 32-bit words (data.length a multiple of 4) at a word-aligned byte address. */
  async writeWords(addr: number, data: Uint8Array): Promise<void> {
    checkAligned(addr);
    if (data.length % 4) throw new VtwError(`writeWords: ${data.length} bytes is not a whole number of words`);
    const words = data.length / 4;
    // WRITE_STREAM where the device offers it (found by ping()): one frame and one response per streamWords.
    const cmd = this.streamBlockWords ? Cmd.WRITE_STREAM : Cmd.WRITE_MEM;
    const per = Math.min(0xffff, this.streamBlockWords ? this.opts.streamWords : this.opts.burstWords);
    for (let w = 0; w < words; w += per) {
      const n = Math.min(per, words - w);
      await this.transact(cmd, addr + 4 * w, n, data.subarray(4 * w, 4 * (w + n)));
    }
  }

  /** Read any byte range. */
  async readMem(addr: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const start = addr & ~3;
    const end = (addr + length + 3) & ~3;
    const words = await this.readWords(start, (end - start) / 4);
    return words.slice(addr - start, addr - start + length);
  }

  /** Write any byte range: partial words at either end are read, merged and written back. */
  async writeMem(addr: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const start = addr & ~3;
    const end = (addr + data.length + 3) & ~3;
    let buf: Uint8Array;
    if (start === addr && end === addr + data.length) {
      buf = data;
    } else {
      buf = new Uint8Array(end - start);
      if (start !== addr) buf.set(await this.readWords(start, 1), 0);
      if (end !== addr + data.length) buf.set(await this.readWords(end - 4, 1), end - 4 - start);
      buf.set(data, addr - start);
    }
    await this.writeWords(start, buf);
  }
}

function checkAligned(addr: number): void {
  if (addr % 4 !== 0) throw new VtwError(`address 0x${addr.toString(16)} is not a multiple of 4`);
}

function cmdName(cmd: number): string {
  return Object.entries(Cmd).find(([, v]) => v === cmd)?.[0] ?? `command ${cmd}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
