/**
 * Results cached by content hash: one JSON line per entry, `{"key": ..., "value": ...}`, appended
 * as each result arrives, so an interrupted sweep keeps what it measured. A line cut short by an
 * interruption is skipped when read. Keys hash what determines a result (see cacheKey).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

/** Bump when what a worker computes for the same inputs changes (the synthesis script, the counters kept). */
export const CACHE_VERSION = 1;

export function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ v: CACHE_VERSION, parts })).digest('hex').slice(0, 32);
}

export class ResultCache {
  private map = new Map<string, unknown>();
  constructor(private file: string | null) {
    if (!file) return;
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as { key?: unknown; value?: unknown };
        if (typeof e.key === 'string' && e.value !== undefined) this.map.set(e.key, e.value);
      } catch {
        // an interrupted write: skip the line
      }
    }
  }
  get size(): number {
    return this.map.size;
  }
  get<T>(key: string): T | undefined {
    return this.map.get(key) as T | undefined;
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
  put(key: string, value: unknown): void {
    this.map.set(key, value);
    if (this.file) appendFileSync(this.file, JSON.stringify({ key, value }) + '\n');
  }
  /** Every entry as JSON lines (what the output folder keeps). */
  text(): string {
    return [...this.map].map(([key, value]) => JSON.stringify({ key, value }) + '\n').join('');
  }
}
