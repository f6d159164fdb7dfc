/** FETCH_DECODE_SERIAL configurations that test/fetch-serial.test.ts and its slow campaign co-simulate. */
import { readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import type { Program } from '../../src/program/container.ts';
import { compareResults } from '../../sim/compare.ts';
import { runSync } from '../../sim/ts/engine.ts';
import type { VerilatorEngine } from '../../sim/verilator/engine.ts';

export const BASE = JSON.parse(readFileSync('docs/results/up5k-1x4/1x4-c.json', 'utf8')) as Record<string, unknown>;
export const SERIAL = { ...BASE, FETCH_DECODE_SERIAL: true };
/**
 * The other decode and buffer paths: command queues of 2, the fetch buffer in flip-flops, one
 * instruction per 128-bit beat, and beats exactly as far apart as the decode takes (5 cycles: the
 * unit takes the next instruction in the cycle it stores the last one's decode).
 */
export const SERIAL_QUEUES = { ...SERIAL, CMD_QUEUE_DEPTH: 2, FETCH_BUFFER_BRAM: false, LOG_BUS_WIDTH: 7, MEM_CYCLES_PER_BEAT: 5 };

export const SERIAL_CONFIGS: Array<[string, Record<string, unknown>]> = [
  ['1x4-c, no queues, buffer in block RAM', SERIAL],
  ['1x4-c, queues of 2, buffer in flip-flops, 128-bit beats 5 cycles apart', SERIAL_QUEUES],
];

/** Both engines on p: the mismatches compareResults finds must be none. */
export async function agreeEngines(rtl: VerilatorEngine, p: Program, what: string) {
  const [a, b] = [runSync(p), await rtl.run(p)];
  const diff = compareResults(p, a, b).map((m) => `${m.what}: ${m.detail}`);
  assert.equal(diff, [], `${what}: ${diff.join(' | ')}`);
  return { a, b };
}
