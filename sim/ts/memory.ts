/**
 * The memory system of docs/microarch.md §8: one request channel shared by all clients under a
 * fixed-priority arbiter, an in-order read data channel, an in-order write data channel, bursts of
 * at most MEM_BURST_BEATS beats that never cross a 4 KiB page, and at most MEM_OUTSTANDING read
 * (and, separately, write) bursts in flight.
 */
import { PAGE_BYTES } from '../../src/isa/constants.ts';
import type { Timing } from '../../src/uarch/index.ts';

/** One contiguous byte range of a transfer (a row of a 2-D LOAD/STORE). */
export interface Segment {
  addr: number;
  len: number;
}

export interface Burst {
  addr: number;
  /** First bus word (addr / busBytes, rounded down) and number of beats. */
  word: number;
  beats: number;
  /** Bytes of the segment this burst carries. */
  len: number;
}

/** Walks the bursts of a list of segments in order. */
export class BurstCursor {
  private seg = 0;
  private off = 0;
  constructor(
    private readonly segs: Segment[],
    private readonly busBytes: number,
    private readonly maxBeats: number,
  ) {
    this.skipEmpty();
  }
  private skipEmpty(): void {
    while (this.seg < this.segs.length && this.off >= this.segs[this.seg].len) {
      this.seg++;
      this.off = 0;
    }
  }
  get done(): boolean {
    return this.seg >= this.segs.length;
  }
  /** The next burst, without consuming it. */
  peek(): Burst {
    const s = this.segs[this.seg];
    const addr = s.addr + this.off;
    const bb = this.busBytes;
    const word = Math.floor(addr / bb);
    const pageEnd = (Math.floor(addr / PAGE_BYTES) + 1) * PAGE_BYTES;
    const end = Math.min(s.addr + s.len, pageEnd, (word + this.maxBeats) * bb);
    const beats = Math.ceil(end / bb) - word;
    return { addr, word, beats, len: end - addr };
  }
  next(): Burst {
    const b = this.peek();
    this.off += b.len;
    this.skipEmpty();
    return b;
  }
}

/** Beats needed to move a list of segments (same splitting as the bursts). */
export function countBeats(segs: Segment[], busBytes: number, maxBeats: number): { beats: number; bursts: number } {
  const c = new BurstCursor(segs, busBytes, maxBeats);
  let beats = 0;
  let bursts = 0;
  while (!c.done) {
    beats += c.next().beats;
    bursts++;
  }
  return { beats, bursts };
}

/** In-order completion times of bursts in flight; a slot frees the cycle after its time. */
class InFlight {
  private times: number[] = [];
  private head = 0;
  constructor(private readonly limit: number) {}
  private prune(c: number): void {
    while (this.head < this.times.length && this.times[this.head] < c) this.head++;
    if (this.head > 1024) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
  /** May a new burst be granted in cycle c? */
  free(c: number): boolean {
    this.prune(c);
    return this.times.length - this.head < this.limit;
  }
  /** First cycle >= c at which a slot is free. */
  nextFree(c: number): number {
    this.prune(c);
    const n = this.times.length - this.head;
    if (n < this.limit) return c;
    return this.times[this.head + (n - this.limit)] + 1;
  }
  add(t: number): void {
    this.times.push(t);
  }
  count(c: number): number {
    this.prune(c);
    return this.times.length - this.head;
  }
}

export interface ReadGrant {
  /** Cycle of the first and last data beat. */
  first: number;
  last: number;
}

export interface WriteGrant {
  first: number;
  last: number;
  /** Cycle the write response arrives. */
  resp: number;
}

export class MemorySystem {
  readChanFree = 0;
  writeChanFree = 0;
  private reads: InFlight;
  private writes: InFlight;
  /** Cycle of the last grant (one grant per cycle). */
  lastGrant = -1;
  readBeats = 0;
  writeBeats = 0;

  constructor(readonly tm: Timing) {
    this.reads = new InFlight(tm.outstanding);
    this.writes = new InFlight(tm.outstanding);
  }

  canRead(c: number): boolean {
    return c > this.lastGrant && this.reads.free(c);
  }
  canWrite(c: number): boolean {
    return c > this.lastGrant && this.writes.free(c);
  }
  nextRead(c: number): number {
    return this.reads.nextFree(Math.max(c, this.lastGrant + 1));
  }
  nextWrite(c: number): number {
    return this.writes.nextFree(Math.max(c, this.lastGrant + 1));
  }
  readsInFlight(c: number): number {
    return this.reads.count(c);
  }
  writesInFlight(c: number): number {
    return this.writes.count(c);
  }

  grantRead(g: number, beats: number): ReadGrant {
    const cpb = this.tm.cyclesPerBeat;
    const first = Math.max(g + this.tm.readLatency, this.readChanFree);
    const last = first + (beats - 1) * cpb;
    this.readChanFree = last + cpb;
    this.reads.add(last);
    this.lastGrant = g;
    this.readBeats += beats;
    return { first, last };
  }

  grantWrite(g: number, beats: number): WriteGrant {
    const cpb = this.tm.cyclesPerBeat;
    const first = Math.max(g + 1, this.writeChanFree);
    const last = first + (beats - 1) * cpb;
    this.writeChanFree = last + cpb;
    const resp = last + this.tm.writeLatency;
    this.writes.add(resp);
    this.lastGrant = g;
    this.writeBeats += beats;
    return { first, last, resp };
  }
}
