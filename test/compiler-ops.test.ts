/**
 * Operators compiled for VTA and run on the cycle-accurate TypeScript simulator, checked bit for
 * bit against plain references (compiler/ops/reference.ts): every preset, random configurations,
 * knob spaces and the chooser, latency hiding, and the refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, loadConfig, PRESET_NAMES } from '../src/config/index.ts';
import { randomConfig } from '../src/config/random.ts';
import { Rng } from '../src/util/rng.ts';
import { CompileError } from '../compiler/errors.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { convGeom, type Conv2dSpec } from '../compiler/ops/conv2d.ts';
import { chooseConvKnobs, convCost, convKnobError, convKnobSpace } from '../compiler/ops/conv_knobs.ts';
import { compileDense } from '../compiler/ops/dense.ts';
import { compileAdd, compileMaxPool } from '../compiler/ops/elementwise.ts';
import { idealCycles, runOp, type OpInstance } from '../compiler/ops/op.ts';
import { findOperator, OPERATORS, OPERATOR_NAMES } from '../compiler/ops/registry.ts';
import { defaultClip } from '../compiler/ops/common.ts';
import { runCli } from './helpers/cli.ts';
import type { Derived } from '../src/config/derive.ts';
import { TsEngine } from '../sim/ts/engine.ts';

const engine = new TsEngine();

async function check(inst: OpInstance, what: string): Promise<number> {
  const r = await runOp(inst, engine, { check: true, seed: 7 });
  assert.is(r.result.error, undefined, `${what}: ${r.result.error?.message}`);
  assert.ok(r.match, `${what}: ${r.mismatch} (knobs ${JSON.stringify(inst.knobs)})`);
  return r.result.counters.cycles;
}

function conv(d: Derived, s: Partial<Conv2dSpec>): Conv2dSpec {
  return { batch: 1, h: 6, w: 6, cin: d.blockIn, cout: d.blockOut, k: 3, pad: 1, stride: 1, groups: 1, shift: 4, bias: true, clip: [0, 2 ** (d.outWidth - 1) - 1], ...s };
}

const presets = PRESET_NAMES.filter((p) => p !== 'de10nano');

for (const p of presets) {
  test(`conv2d, grouped, depthwise and dense are bit-exact on ${p}`, async () => {
    const d = loadConfig(p);
    const B = d.blockIn;
    await check(compileConv2d(conv(d, { h: 7, w: 6, cin: 2 * B, cout: 2 * B }), d), `${p} conv 3x3`);
    await check(compileConv2d(conv(d, { batch: d.batch + 1, h: 8, w: 7, cin: B + 3, cout: 2 * B - 1, stride: 2, bias: false, clip: [-5, 20] }), d), `${p} conv stride 2, partial blocks, batch`);
    await check(compileConv2d(conv(d, { cin: 2 * B, cout: B, k: 1, pad: 0, stride: 2, shift: 0 }), d), `${p} conv 1x1 stride 2`);
    // A k x k kernel needs k*k weight tiles at once: up5k-1x4's buffer holds 16, so it gets 3x3 here.
    const k = d.depth.wgt >= 25 ? 5 : 3;
    await check(compileConv2d(conv(d, { h: 6, w: 5, k, pad: (k - 1) / 2, clip: undefined }), d, { latencyHiding: false }), `${p} conv ${k}x${k} without latency hiding`);
    await check(compileConv2d(conv(d, { cin: 4 * B, cout: 4 * B, groups: 4 }), d), `${p} group conv`);
    await check(compileConv2d(conv(d, { h: 5, w: 5, cin: 8, cout: 8, groups: 8, shift: 1 }), d), `${p} depthwise`);
    await check(compileDense({ m: 3 * d.batch + 1, k: 3 * B, n: 2 * B + 1, shift: 5, bias: true, clip: [0, 2 ** (d.outWidth - 1) - 1] }, d), `${p} dense`);
  });
}

test('element-wise add and max-pool are bit-exact (presets with different geometry)', async () => {
  for (const p of ['default', 'batch2-block8', 'ice40-tiny']) {
    const d = loadConfig(p);
    await check(compileAdd({ batch: d.batch + 1, h: 5, w: 6, c: 2 * d.blockOut + 1, clip: [-20, 20] }, d), `${p} add`);
    await check(compileAdd({ batch: 1, h: 3, w: 4, c: d.blockOut }, d, { latencyHiding: false }), `${p} add, no clip`);
    await check(compileMaxPool({ batch: 1, h: 7, w: 7, c: 2 * d.blockOut, k: 3, pad: 1, stride: 2 }, d), `${p} max-pool 3x3/2 pad 1`);
    await check(compileMaxPool({ batch: d.batch, h: 6, w: 5, c: d.blockOut, k: 2, pad: 0, stride: 2 }, d), `${p} max-pool 2x2/2`);
  }
});

test('random configurations: conv2d, dense and add stay bit-exact (or are refused for capacity)', async () => {
  const rng = new Rng(2024);
  let ran = 0;
  for (let i = 0; i < 6; i++) {
    const d = randomConfig(rng, { logBlock: [1, 4] });
    const B = d.blockIn;
    const cases: Array<[string, () => OpInstance]> = [
      ['conv', () => compileConv2d(conv(d, { batch: d.batch + 1, h: 5, w: 5, cin: B + 1, cout: 2 * B, stride: rng.int(1, 2), shift: rng.int(0, 9) }), d, { latencyHiding: rng.bool(0.7) })],
      ['dense', () => compileDense({ m: 2 * d.batch + 1, k: 2 * B + 3, n: B + 2, shift: 3, bias: true, clip: [0, 2 ** (d.outWidth - 1) - 1] }, d)],
      ['add', () => compileAdd({ batch: d.batch, h: 3, w: 4, c: B + 1, clip: [-10, 10] }, d)],
    ];
    for (const [name, mk] of cases) {
      let inst: OpInstance;
      try {
        inst = mk();
      } catch (e) {
        assert.ok(e instanceof CompileError && /does not fit/.test((e as Error).message), `${d.variant} ${name}: ${(e as Error).message}`);
        continue;
      }
      await check(inst, `${d.variant} ${name}`);
      ran++;
    }
  }
  assert.ok(ran >= 10, `only ${ran} random cases ran`);
});

test('knob space: every listed setting is valid, the chooser picks one of them and honours fixed knobs', () => {
  const d = loadConfig('default');
  const g = convGeom(conv(d, { h: 14, w: 14, cin: 64, cout: 64 }), d);
  const space = convKnobSpace(g, d);
  assert.ok(space.length > 50, `${space.length} settings`);
  for (const k of space) assert.is(convKnobError(g, d, k), undefined);
  const best = chooseConvKnobs(g, d);
  assert.ok(space.some((k) => JSON.stringify(k) === JSON.stringify(best)));
  const bestCost = convCost(g, d, best).cycles;
  for (const k of space) assert.ok(convCost(g, d, k).cycles >= bestCost);
  const fixed = chooseConvKnobs(g, d, { fixed: { tile_h: 2, oc_nthread: 1 } });
  assert.is(fixed.tile_h, 2);
  assert.is(fixed.oc_nthread, 1);
  assert.ok(convKnobSpace(g, d, { latencyHiding: false }).every((k) => k.oc_nthread === 1 && k.h_nthread === 1));
  // The SRAM limits bound the space.
  for (const k of space) {
    const c = convCost(g, d, k);
    assert.ok(c.sram.inp <= d.depth.inp && c.sram.wgt <= d.depth.wgt && c.sram.acc <= d.depth.acc);
  }
});

test('every operator exposes its knob space; random members compile and stay bit-exact (autotuner use)', async () => {
  const d = loadConfig('default');
  const rng = new Rng(9);
  const makers: Array<[string, (k?: Partial<import('../compiler/ops/common.ts').Knobs>) => OpInstance]> = [
    ['conv2d', (k) => compileConv2d(conv(d, { h: 6, w: 4, cin: 48, cout: 32 }), d, { knobs: k })],
    ['group conv2d', (k) => compileConv2d(conv(d, { h: 4, w: 4, cin: 64, cout: 64, groups: 2 }), d, { knobs: k })],
    ['dense', (k) => compileDense({ m: 4, k: 64, n: 48, shift: 3, bias: true, clip: [0, 127] }, d, { knobs: k })],
    ['add', (k) => compileAdd({ batch: 2, h: 4, w: 6, c: 32 }, d, { knobs: k })],
    ['maxpool', (k) => compileMaxPool({ batch: 1, h: 6, w: 6, c: 32, k: 3, pad: 1, stride: 1 }, d, { knobs: k })],
  ];
  for (const [name, mk] of makers) {
    const base = mk();
    const space = base.knobSpace();
    assert.ok(space.length > 1, name);
    assert.ok(space.some((k) => JSON.stringify(k) === JSON.stringify(base.knobs)), `${name}: chosen knobs not in the space`);
    for (let i = 0; i < 2; i++) {
      const k = rng.pick(space);
      const inst = mk(k);
      assert.equal(inst.knobs, k);
      await check(inst, `${name} ${JSON.stringify(k)}`);
    }
  }
});

test('grouped convolutions: every member of the knob space builds (a tile of a group split by virtual threads)', async () => {
  // 2x4 GEMM; 12 output blocks per group: tile_co 3 with 2 threads makes the group index
  // floordiv(6a + 3t + i, 12), which the region analysis must see as one group per tile
  const d = deriveConfig({ TARGET: 'sim', LOG_BATCH: 1, LOG_BLOCK: 2, LOG_ACC_BUFF_SIZE: 11, LOG_UOP_BUFF_SIZE: 11 });
  const s = conv(d, { h: 10, w: 10, cin: 32, cout: 96, k: 1, pad: 0, stride: 2, groups: 2 });
  const space = convKnobSpace(convGeom(s, d), d);
  assert.ok(space.some((k) => k.tile_co === 3 && k.oc_nthread === 2));
  const failed = space.filter((k) => {
    try {
      compileConv2d(s, d, { knobs: k });
      return false;
    } catch {
      return true;
    }
  });
  assert.equal(failed, [], `${failed.length} of ${space.length} settings do not build`);
  await check(compileConv2d(s, d, { knobs: { tile_h: 1, tile_w: 5, tile_ci: 1, tile_co: 3, oc_nthread: 2 } }), 'tile_co 3, 2 threads');
});

test('user knobs: honoured when valid, one-line errors otherwise; hardware limits refused clearly', async () => {
  const d = loadConfig('default');
  const s = conv(d, { h: 8, w: 8, cin: 32, cout: 32 });
  const inst = compileConv2d(s, d, { knobs: { tile_h: 4, tile_w: 8, tile_co: 1, oc_nthread: 2 } });
  assert.equal({ ...inst.knobs }, { ...inst.knobs, tile_h: 4, tile_w: 8, tile_co: 1, oc_nthread: 2 });
  await check(inst, 'fixed knobs');
  assert.throws(() => compileConv2d(s, d, { knobs: { tile_h: 3 } }), /tile_h 3 does not divide 8/);
  assert.throws(() => compileConv2d(s, d, { knobs: { tile_b: 1, tile_h: 8, tile_w: 8, tile_ci: 1, tile_co: 1, oc_nthread: 2, h_nthread: 2 } }), /h_nthread 2 does not divide/);
  assert.throws(() => compileConv2d(s, d, { knobs: { oc_nthread: 2 }, latencyHiding: false }), /conflicts/);
  const tiny = loadConfig('ice40-tiny');
  assert.throws(() => compileConv2d(conv(tiny, { k: 9, pad: 4, h: 9, w: 9 }), tiny), (e: unknown) =>
    e instanceof CompileError && /does not fit .* even with the smallest tiles: the weight tiles need 81 WGT elements, the buffer has 64/.test((e as Error).message));
  assert.throws(() => compileConv2d(conv(d, { cin: 30, groups: 4 }), d), /multiples of groups/);
  assert.throws(() => compileMaxPool({ batch: 1, h: 4, w: 4, c: 16, k: 2, pad: 2, stride: 1 }, d), /smaller than the window/);
});

test('latency hiding: virtual threads overlap loads and compute (fewer cycles, same result)', async () => {
  const d = loadConfig('default');
  const s = conv(d, { h: 14, w: 14, cin: 64, cout: 64, bias: false });
  const withLh = await check(compileConv2d(s, d), 'with threads');
  const without = await check(compileConv2d(s, d, { latencyHiding: false }), 'one thread');
  assert.ok(withLh < without * 0.95, `${withLh} vs ${without}`);
});

test('a ResNet-18 layer (C11, 7x7, 512->512) runs at > 95 % of the GEMM bound', async () => {
  const d = loadConfig('default');
  const inst = compileConv2d({ batch: 1, h: 7, w: 7, cin: 512, cout: 512, k: 3, pad: 1, stride: 1, groups: 1, shift: 8, bias: false, clip: [0, 127] }, d);
  const r = await runOp(inst, engine);
  assert.is(r.result.error, undefined);
  const util = idealCycles(inst) / r.result.counters.cycles;
  assert.ok(util > 0.95, `utilization ${util}`);
  // The analytical model is close to the simulator.
  const est = convCost(convGeom({ batch: 1, h: 7, w: 7, cin: 512, cout: 512, k: 3, pad: 1, stride: 1, groups: 1, shift: 8, bias: false, clip: [0, 127] }, d), d, inst.knobs).cycles;
  assert.ok(Math.abs(est - r.result.counters.cycles) / r.result.counters.cycles < 0.05, `model ${est} vs ${r.result.counters.cycles}`);
});

test('the operator registry: every operator builds its example on every preset, bit-exact, and vtw op offers exactly these', async () => {
  for (const name of PRESET_NAMES) {
    const d = loadConfig(name);
    for (const op of OPERATORS) {
      assert.is(op.example.length, op.dims.length, op.name);
      const inst = op.strategies.vta.build(op.example, { batch: 1, groups: 1, shift: 8, bias: true, clip: defaultClip(d) }, d, {});
      await check(inst, `${op.name} ${op.example.join(',')} on ${name}`);
    }
  }
  assert.equal(OPERATOR_NAMES, OPERATORS.map((o) => o.name));
  assert.is(findOperator('dense'), OPERATORS.find((o) => o.name === 'dense'));
  assert.throws(() => findOperator('conv'), (e: Error) => e instanceof CompileError && /unknown operator conv \(did you mean conv2d\?\); operators: conv2d, dense, add, maxpool/.test(e.message));
  const help = await runCli('op', '--help');
  for (const op of OPERATORS) assert.match(help.stdout, `${op.name} ${op.dims.join(',')}`);
});

test.run();
