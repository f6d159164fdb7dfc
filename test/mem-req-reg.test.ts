/**
 * MEM_REQ_REG (docs/microarch.md §21, docs/config.md): off by default; the TS simulator's timing with
 * it against values worked out by hand from the contract (a request rising in cycle c is granted from
 * c + 1: a transfer's first burst one cycle after its start, one client's bursts two cycles apart,
 * fetch one cycle later); results independent of the key on the conformance suite of the measured
 * 1x4. The Verilator co-simulation (three configurations, conformance, random and directed programs,
 * the board top, `verilator -Wall`) is test/slow/cosim-mem-req-reg.test.ts.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/index.ts';
import { assemble } from '../src/program/index.ts';
import type { RunResult } from '../src/engine/index.ts';
import { runSync } from '../sim/ts/engine.ts';
import { conformanceCyclesWithKey } from './helpers/timing-key.ts';
import { span } from './helpers/simprog.ts';
import { runCli } from './helpers/cli.ts';
import { UP5K_1X4_CUTS, UP5K_1X4_MRR } from './helpers/mem-req-reg.ts';

const spans = (r: RunResult) => r.insnTiming!.map((x) => [x.index, x.start, x.end]);

test('MEM_REQ_REG: off by default (same variant, no delay); a bad value gets one line', async () => {
  assert.is(deriveConfig({}).memReqReg, false);
  assert.is(deriveConfig({ MEM_REQ_REG: true }).variant, deriveConfig({}).variant);
  assert.throws(() => deriveConfig({ MEM_REQ_REG: 1 }), /config key MEM_REQ_REG = 1 is invalid: expected true or false/);
  assert.is(loadConfig(UP5K_1X4_MRR).memReqReg, true);
  assert.equal({ ...loadConfig(UP5K_1X4_MRR).keys, MEM_REQ_REG: false }, loadConfig(UP5K_1X4_CUTS).keys);
  const r = await runCli('test', '--config', '{"MEM_REQ_REG":"yes"}');
  assert.is(r.code, 1);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /MEM_REQ_REG/);
});

test('TS simulator: gemm-tiny with the key, worked by hand from §11 and §21 (every request granted one cycle after it rises)', () => {
  const p = assemble(readFileSync('examples/gemm-tiny.vasm', 'utf8'));
  const off = runSync(p);
  const on = runSync({ ...p, config: deriveConfig({ MEM_REQ_REG: true }) });
  assert.is(on.error, undefined);
  assert.equal(spans(off), [[0, 15, 28], [1, 28, 48], [2, 48, 92], [3, 92, 106], [4, 106, 111], [5, 111, 126], [6, 126, 127]]);
  // fetch granted 1 (requests in 0): beats 13..26, instruction i available 15 + 2i; LOAD UOP
  // dispatched 15, starts 16, granted 17, beat 29 -> 30; LOAD ACC 30, granted 31, beats 43..50 -> 51
  // (pushes g2l in 50); LOAD WGT 51, bursts granted 52 and 54, beats 64..79, 80..95 -> 96; LOAD INP
  // 96, granted 97, beats 109, 110 -> 111; GEMM 111 -> 116; STORE 116, granted 117, beats 118, 119,
  // response 131 -> 132; FINISH 132 -> 133
  assert.equal(spans(on), [[0, 16, 30], [1, 30, 51], [2, 51, 96], [3, 96, 111], [4, 111, 116], [5, 116, 132], [6, 132, 133]]);
  assert.is(on.counters.cycles, 133);
  // the six extra cycles wait for memory (fetch 1, load 2, compute 2, store 1)
  for (const [m, n] of [['fetch', 1], ['load', 2], ['compute', 2], ['store', 1]] as const) {
    assert.is(on.counters.modules[m].waitMemory - off.counters.modules[m].waitMemory, n, m);
  }
  for (const m of Object.values(on.counters.modules)) assert.is(m.busy + m.waitToken + m.waitMemory + m.queueFull + m.idle, 133);
});

test('TS simulator: one client\'s one-beat bursts are granted two cycles apart', () => {
  // 128-bit bus: an INP element (16 bytes) is one beat; two rows, x_stride 4: two one-beat bursts
  const src = `.buffer inp kind=data role=input size=128\n.text\n  LOAD INP sram_base=0 dram_base=@inp y_size=2 x_size=1 x_stride=4 push_next_dep\n  FINISH pop_prev_dep\n`;
  const cfg = (on: boolean) => JSON.stringify({ LOG_BUS_WIDTH: 7, MEM_REQ_REG: on });
  const off = runSync(assemble(src, '<two rows>', cfg(false)));
  const on = runSync(assemble(src, '<two rows>', cfg(true)));
  // off: fetch granted 0, beats 12, 13; the LOAD dispatched 13, starts 14, granted 14 and 15, beats
  // 26, 27 -> 28. on: fetch granted 1, beats 13, 14; the LOAD starts 15, granted 16 and 18, beats 28,
  // 30 -> 31
  assert.equal(span(off, 0), [14, 28]);
  assert.equal(span(on, 0), [15, 31]);
  assert.equal(span(on, 1), [31, 32]);
});

test('TS simulator: MEM_REQ_REG changes cycles, never results (conformance on the measured 1x4)', () => {
  let more = 0;
  let n = 0;
  for (const r of conformanceCyclesWithKey(loadConfig(UP5K_1X4_CUTS), loadConfig(UP5K_1X4_MRR))) {
    assert.ok(r.on >= r.off, r.name);
    // one cycle per transfer at most (and fetch's): never more than 3 %
    assert.ok(r.on <= r.off * 1.03, `${r.name}: ${r.off} -> ${r.on}`);
    if (r.on > r.off) more++;
    n++;
  }
  assert.is(more, n, `${more} of ${n} cases take longer`);
});

test.run();
