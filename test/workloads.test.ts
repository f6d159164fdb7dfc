import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/index.ts';
import { programInsns } from '../src/program/index.ts';
import { buildConv2d, conv2dReference, planConv2d, RESNET18_CONVS, conv2dMacs } from '../src/workloads/conv2d.ts';
import { runSync } from '../sim/ts/engine.ts';
import type { Insn } from '../src/isa/index.ts';

/** Token traffic per queue, counted from the flags with the routing rule of vta-reference §3.1–3.2. */
function tokenBalance(insns: Insn[]) {
  const q = { l2g: 0, g2l: 0, g2s: 0, s2g: 0 };
  for (const i of insns) {
    const mod = i.opcode === 'STORE' ? 'store' : i.opcode === 'LOAD' && (i.memory_type === 'INP' || i.memory_type === 'WGT') ? 'load' : 'compute';
    if (mod === 'load') { q.g2l -= i.pop_next_dep; q.l2g += i.push_next_dep; assert.is(i.pop_prev_dep + i.push_prev_dep, 0); }
    if (mod === 'compute') { q.l2g -= i.pop_prev_dep; q.s2g -= i.pop_next_dep; q.g2l += i.push_prev_dep; q.g2s += i.push_next_dep; }
    if (mod === 'store') { q.g2s -= i.pop_prev_dep; q.s2g += i.push_prev_dep; assert.is(i.pop_next_dep + i.push_next_dep, 0); }
  }
  return q;
}

test('ResNet-18 layers plan and build on the default config with balanced tokens and the right MAC count', () => {
  const d = loadConfig('default');
  let macs = 0;
  for (const s of RESNET18_CONVS.slice(0, 4)) {
    const b = buildConv2d(d, s, { seed: 3 });
    const insns = programInsns(b.program);
    assert.equal(tokenBalance(insns), { l2g: 0, g2l: 0, g2s: 0, s2g: 0 }, s.name);
    assert.is(insns[insns.length - 1].opcode, 'FINISH');
    // GEMM micro-op count x MACs per micro-op = the layer's MACs.
    const gemmUops = insns.filter((i) => i.opcode === 'GEMM' && !i.reset_reg)
      .reduce((n, i) => n + (i as { iter_out: number; iter_in: number; uop_end: number; uop_bgn: number }).iter_out * (i as { iter_in: number }).iter_in * ((i as { uop_end: number }).uop_end - (i as { uop_bgn: number }).uop_bgn), 0);
    assert.is(gemmUops * d.macsPerUop, conv2dMacs(s), s.name);
    macs += conv2dMacs(s);
  }
  assert.is(macs, 115605504 + 57802752 + 6422528 + 115605504);
});

test('the planner respects SRAM halves and the micro-op buffer', () => {
  const d = loadConfig('default');
  for (const s of RESNET18_CONVS) {
    const t = planConv2d(d, s);
    assert.ok(t.tileCo * t.tileH * t.tileW <= d.depth.acc / 2, s.name);
    assert.ok(t.tileCi * ((t.tileH - 1) * s.stride + s.k) * ((t.tileW - 1) * s.stride + s.k) <= d.depth.inp / 2, s.name);
  }
});

for (const preset of ['default', 'batch2-block8', 'block32', 'ice40-small']) {
  test(`conv2d on the simulator matches the plain reference (${preset}; stride 1 and 2, padding, 1 and 2 threads)`, () => {
    const d = loadConfig(preset);
    const shapes = [
      { name: 's1', batch: d.batch, h: 7, w: 6, cin: d.blockIn * 2, cout: d.blockOut * 2, k: 3, pad: 1, stride: 1 },
      { name: 's2', batch: d.batch, h: 8, w: 7, cin: d.blockIn, cout: d.blockOut * 2, k: 3, pad: 1, stride: 2 },
      { name: 'k1', batch: d.batch * 2, h: 5, w: 5, cin: d.blockIn * 2, cout: d.blockOut, k: 1, pad: 0, stride: 2 },
    ];
    for (const s of shapes) {
      for (const threads of [1, 2] as const) {
        const b = buildConv2d(d, s, { seed: 11, tiling: planConv2d(d, s, threads) });
        const r = runSync(b.program);
        assert.is(r.error, undefined, `${preset} ${s.name}: ${r.error?.message}`);
        const got = new Int8Array(b.output.readFrom(r.dram).buffer);
        assert.equal([...got], [...conv2dReference(d, b)], `${preset} ${s.name} threads ${threads}`);
      }
    }
  });
}

test('latency hiding: two threads beat one on a ResNet layer (C5)', () => {
  const d = loadConfig('default');
  const s = RESNET18_CONVS[3];
  const one = runSync(buildConv2d(d, s, { tiling: planConv2d(d, s, 1) }).program, { insnTiming: false }).counters;
  const two = runSync(buildConv2d(d, s, { tiling: planConv2d(d, s, 2) }).program, { insnTiming: false }).counters;
  assert.ok(two.cycles < one.cycles, `1 thread ${one.cycles} cycles, 2 threads ${two.cycles}`);
  assert.ok(two.utilization > 0.8, `utilization ${two.utilization}`);
});

test.run();
