/** FETCH_DECODE_SERIAL configurations that test/fetch-serial.test.ts and its slow campaign co-simulate. */
import { readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import type { Program } from '../../src/program/container.ts';
import { assemble } from '../../src/program/index.ts';
import { dramSize } from '../../src/program/container.ts';
import { deriveConfig } from '../../src/config/derive.ts';
import { cosimConfig } from './alu-ii.ts';
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

/** The conformance suite (each case's own check on the RTL too) and `random` random programs. */
export async function cosimSuite(rtl: VerilatorEngine, cfg: Record<string, unknown>, random: number, seed0 = 1700): Promise<void> {
  await cosimConfig(rtl, JSON.stringify(cfg), random, seed0);
}

/**
 * Illegal instructions whose checks need the products (footprint, sram_base past 2^K, STORE past
 * OUT, DRAM range) after a legal one: both engines stop at instruction 1 naming the same field; and
 * a padded LOAD that fits (first element and pad count from the products). For 1x4-c's depths
 * (INP 32, OUT 128, K = 8) and 13-bit DRAM addresses.
 */
export async function productChecks(rtl: VerilatorEngine, label: string, cfg: Record<string, unknown>): Promise<void> {
  const cases: Array<[string, string]> = [
    // footprint past the INP depth (32): 4 x 9
    ['LOAD INP sram_base=0 x_size=4 y_size=9 x_stride=4 dram_base=0', 'sram_base'],
    // sram_base above 2^K with a small footprint
    ['LOAD INP sram_base=300 x_size=1 y_size=1 x_stride=1 dram_base=0', 'sram_base'],
    // padded footprint: (1+2+3) x (1+4+5) = 60 > 32
    ['LOAD INP sram_base=0 x_size=2 y_size=4 x_stride=2 y_pad_0=1 y_pad_1=5 x_pad_0=1 x_pad_1=3 dram_base=0', 'sram_base'],
    // STORE past the OUT depth
    ['STORE OUT sram_base=120 x_size=3 y_size=4 x_stride=3 dram_base=0', 'sram_base'],
    // DRAM range: (y_size-1) x x_stride past 2^13 bytes
    ['LOAD INP sram_base=0 x_size=1 y_size=3 x_stride=0x1000 dram_base=0', 'dram_base'],
    ['LOAD WGT sram_base=0 x_size=1 y_size=2 x_stride=0xffff dram_base=1', 'dram_base'],
  ];
  const text = (body: string) => assemble(`.config ${JSON.stringify(cfg)}\n.text\n${body}  FINISH\n`);
  for (const [insn, field] of cases) {
    const { b } = await agreeEngines(rtl, text(`  LOAD UOP x_size=1 y_size=1 x_stride=1 dram_base=0\n  ${insn}\n`), `${label}: ${insn}`);
    assert.is(b.error?.kind, 'illegal', insn);
    assert.is(b.error?.insnIndex, 1, insn);
    assert.is(b.error?.field, field, insn);
  }
  const ok = await agreeEngines(rtl, text('  LOAD INP sram_base=3 x_size=2 y_size=3 x_stride=5 y_pad_0=1 y_pad_1=2 x_pad_0=1 x_pad_1=1 dram_base=0\n'), `${label}: padded LOAD`);
  assert.is(ok.b.error, undefined);
}

/**
 * The DRAM range check at its boundary, per memory type: a LOAD (UOP, WGT, INP, ACC) or STORE
 * whose last element ends exactly at dram_size is legal, one element more is not (`dram_base`).
 * dram_size is the end of the highest buffer: a page without buffers, and with `pad` a size that
 * is no multiple of the element bytes (the serial decode divides the limit by them). Any
 * configuration whose depths take a 1 x 2 footprint.
 */
export async function dramLimitChecks(rtl: VerilatorEngine, label: string, cfg: Record<string, unknown>, pads: Array<number | null> = [null, 102]): Promise<void> {
  const d = deriveConfig(cfg);
  for (const pad of pads) {
    // the text (4 instructions) on the first page, the buffer on the next multiple of the alignment
    const bufs = pad === null ? '' : `.buffer pad size=${pad} addr=${4096 + Math.max(64, d.mem.bufferAlign)}\n`;
    const text = (body: string) => assemble(`.config ${JSON.stringify(cfg)}\n${bufs}.text addr=4096\n  LOAD UOP x_size=1 y_size=1 x_stride=1 dram_base=0\n  ${body}\n  FINISH\n`);
    const ds = dramSize(text('FINISH'));
    const cases: Array<[string, number, (n: number) => string]> = [
      ['UOP', d.elemBytes.uop, (n) => `LOAD UOP sram_base=0 x_size=1 y_size=1 x_stride=1 dram_base=${n - 1}`],
      ...(['WGT', 'INP', 'ACC'] as const).map((t): [string, number, (n: number) => string] => [
        t, d.elemBytes[t.toLowerCase() as 'wgt' | 'inp' | 'acc'], (n) => `LOAD ${t} sram_base=0 x_size=1 y_size=2 x_stride=${n - 1} dram_base=0`,
      ]),
      ['OUT', d.elemBytes.out, (n) => `STORE OUT sram_base=0 x_size=1 y_size=2 x_stride=${n - 1} dram_base=0`],
    ];
    for (const [t, e, insn] of cases) {
      // the last element ends at byte n * e
      const n = Math.floor(ds / e);
      const ok = await agreeEngines(rtl, text(insn(n)), `${label}: ${t} ending at dram_size ${ds}`);
      assert.is(ok.b.error, undefined, `${t} at ${ds}`);
      const bad = await agreeEngines(rtl, text(insn(n + 1)), `${label}: ${t} past dram_size ${ds}`);
      assert.is(bad.b.error?.kind, 'illegal', `${t} past ${ds}`);
      assert.is(bad.b.error?.insnIndex, 1, `${t} past ${ds}`);
      assert.is(bad.b.error?.field, 'dram_base', `${t} past ${ds}`);
    }
  }
}
