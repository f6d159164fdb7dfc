/**
 * The knob chooser's analytical model (docs/compiler.md, "The chooser's model"): its estimates
 * against the TypeScript simulator on a configuration with a time-multiplexed ALU (ALU_II 4), its
 * DRAM awareness on the 8 KiB UP5K preset, and its choices on `default`, where neither change binds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/index.ts';
import { dramFitError, dramSize } from '../src/program/container.ts';
import { defaultClip } from '../compiler/ops/common.ts';
import { buildProgram, runOp, type OpInstance } from '../compiler/ops/op.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { TsEngine } from '../sim/ts/engine.ts';

const engine = new TsEngine();
const up5k = loadConfig('up5k-1x4');

function build(op: string, shape: number[], d = up5k, knobs?: OpInstance['knobs']): OpInstance {
  const params: OpParams = { batch: 1, groups: 1, bias: true, clip: defaultClip(d) };
  return findOperator(op).strategies.vta.build(shape, params, d, knobs ? { knobs } : {});
}

async function simulated(inst: OpInstance): Promise<number> {
  const r = await runOp(inst, engine, { check: true, seed: 3 });
  assert.is(r.result.error, undefined, r.result.error?.message);
  assert.ok(r.match, r.mismatch);
  return r.result.counters.cycles;
}

test('up5k-1x4 really multiplexes its ALU (the premise of the estimates below)', () => {
  assert.is(up5k.aluII, 4);
});

// Before the model counted ALU micro-ops at ALU_II's interval these were 13-40 % below.
const TOLERANCE = 0.12;
for (const [op, shape] of [['conv2d', [8, 8, 8, 8, 3, 1, 1]], ['conv2d', [4, 4, 16, 16, 3, 1, 2]], ['maxpool', [8, 8, 8, 3, 1, 2]], ['add', [4, 4, 16]]] as const) {
  test(`the chooser's estimate of ${op} ${shape.join(',')} on up5k-1x4 is within ${TOLERANCE * 100} % of the simulated cycles`, async () => {
    const inst = build(op, [...shape]);
    const cycles = await simulated(inst);
    const est = inst.estimate(inst.knobs);
    assert.ok(Math.abs(est - cycles) <= TOLERANCE * cycles, `estimate ${est}, simulated ${cycles} (${(((est - cycles) / cycles) * 100).toFixed(1)} %), knobs ${JSON.stringify(inst.knobs)}`);
  });
}

/** The knob setting the model ranks first (its lowest estimate; ties keep the space's order, as the chooser). */
function bestRanked(inst: OpInstance): OpInstance['knobs'] {
  return inst.knobSpace().map((k) => ({ k, c: inst.estimate(k) })).sort((a, b) => a.c - b.c)[0].k;
}

for (const [op, shape] of [['conv2d', [8, 8, 16, 16, 1, 0, 1]], ['maxpool', [8, 8, 24, 3, 1, 2]]] as const) {
  test(`up5k-1x4: ${op} ${shape.join(',')}, whose best-ranked knobs overflow the 8 KiB DRAM, compiles with knobs that fit`, async () => {
    const inst = build(op, [...shape]);
    const best = bestRanked(inst);
    const tooBig = buildProgram(build(op, [...shape], up5k, best)).program;
    assert.ok(dramSize(tooBig) > 2 ** up5k.mem.addrBits, `the best-ranked program needs only ${dramSize(tooBig)} bytes`);
    assert.match(dramFitError(tooBig) ?? '', /bytes of DRAM but/);
    assert.not.equal(inst.knobs, best);
    assert.is(dramFitError(buildProgram(inst).program), undefined);
    await simulated(inst);
  });
}

test('up5k-1x4: with no knob setting fitting, the run is refused in one line as before', async () => {
  const inst = build('dense', [1, 128, 32]);
  const err = await runOp(inst, engine).then(() => undefined, (e: Error) => e);
  assert.match(err?.message ?? 'no refusal', /^the program needs \d+ bytes of DRAM but \S+ addresses 8192 \(MEM_ADDR_BITS = 13\); raise MEM_ADDR_BITS or use smaller buffers$/);
});

// The knobs (and cycles) the chooser gave before this change on `default` (ALU_II 1, 32-bit DRAM
// addresses: neither the ALU interval nor the DRAM check changes anything there).
const DEFAULT_CHOICES: [string, number[], number[]][] = [
  ['conv2d', [8, 8, 16, 16, 1, 0, 1], [1, 2, 8, 1, 1, 1, 2]],
  ['conv2d', [14, 14, 64, 64, 3, 1, 1], [1, 7, 14, 1, 1, 2, 2]],
  ['dense', [16, 256, 128], [16, 1, 1, 4, 4, 2, 1]],
  ['maxpool', [8, 8, 8, 3, 1, 2], [1, 4, 4, 1, 1, 1, 1]],
  ['add', [8, 8, 64], [1, 8, 8, 1, 2, 2, 1]],
];
for (const [op, shape, knobs] of DEFAULT_CHOICES) {
  test(`default: ${op} ${shape.join(',')} keeps its knobs`, () => {
    assert.equal(Object.values(build(op, shape, loadConfig('default')).knobs), knobs);
  });
}

test.run();
