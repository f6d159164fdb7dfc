/** Chrome trace-event JSON (opens in Perfetto / chrome://tracing) from an engine's TraceSpan list. */
import type { TraceSpan } from '../../src/engine/index.ts';

export interface ChromeTraceOptions {
  /** Clock in MHz used to turn cycles into microseconds; default 1 (one cycle shown as 1 µs). */
  clockMhz?: number;
  processName?: string;
}

const TRACK_ORDER = ['fetch', 'load', 'compute', 'store', 'memory'];

export function toChromeTrace(spans: readonly TraceSpan[], opts: ChromeTraceOptions = {}): { traceEvents: object[]; displayTimeUnit: string } {
  const mhz = opts.clockMhz ?? 1;
  const tracks = [...new Set([...TRACK_ORDER.filter((t) => spans.some((s) => s.module === t)), ...spans.map((s) => s.module)])];
  const tid = new Map(tracks.map((t, i) => [t, i + 1]));
  const events: object[] = [{ ph: 'M', pid: 1, tid: 0, name: 'process_name', args: { name: opts.processName ?? 'VTA' } }];
  for (const [name, id] of tid) {
    events.push({ ph: 'M', pid: 1, tid: id, name: 'thread_name', args: { name } });
    events.push({ ph: 'M', pid: 1, tid: id, name: 'thread_sort_index', args: { sort_index: id } });
  }
  for (const s of spans) {
    events.push({
      ph: 'X', pid: 1, tid: tid.get(s.module), name: s.name, ts: s.start / mhz, dur: Math.max(0, s.end - s.start) / mhz,
      args: { startCycle: s.start, endCycle: s.end, ...(s.args ?? {}) },
    });
  }
  return { traceEvents: events, displayTimeUnit: 'ns' };
}

export function chromeTraceJson(spans: readonly TraceSpan[], opts: ChromeTraceOptions = {}): string {
  return JSON.stringify(toChromeTrace(spans, opts));
}
