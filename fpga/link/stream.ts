/**
 * The byte stream the host driver talks through: a real serial port (serial.ts) or the Verilated
 * link (sim.ts). `BufferedStream` holds received bytes until the driver reads them.
 */
import { VtwError } from '../../src/errors.ts';

export interface ByteStream {
  write(data: Uint8Array): Promise<void>;
  /** Exactly `n` bytes, or a LinkTimeout after `timeoutMs` without them. */
  read(n: number, timeoutMs: number): Promise<Uint8Array>;
  /** Forget bytes received but not yet read. */
  discard(): void;
  close(): Promise<void>;
}

/** No (or not enough) bytes arrived in time. */
export class LinkTimeout extends VtwError {}

/** A stream fed by `push` (from a port's data events); reads wait for enough bytes. */
export abstract class BufferedStream implements ByteStream {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private waiter: (() => void) | null = null;
  private closedReason: string | null = null;

  protected push(data: Uint8Array): void {
    if (!data.length) return;
    this.chunks.push(data);
    this.buffered += data.length;
    this.waiter?.();
  }

  /** Called by subclasses when the underlying port ends; pending and later reads fail with `reason`. */
  protected ended(reason: string): void {
    this.closedReason = reason;
    this.waiter?.();
  }

  abstract write(data: Uint8Array): Promise<void>;
  abstract close(): Promise<void>;

  discard(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  async read(n: number, timeoutMs: number): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered < n) {
      if (this.closedReason !== null) throw new LinkTimeout(`link closed: ${this.closedReason}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new LinkTimeout(`no response: ${this.buffered} of ${n} bytes after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(t);
          this.waiter = null;
          resolve();
        };
      });
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const take = Math.min(c.length, n - off);
      out.set(c.subarray(0, take), off);
      off += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.buffered -= n;
    return out;
  }
}
