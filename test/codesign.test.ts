/**
 * ALU_REQUANT (docs/microarch.md §15, docs/isa.md): the key off changes nothing (same variant,
 * opcode 5 illegal); the compiler fuses requantization into RQ and skips resets of cleared
 * accumulators, bit-exact against the plain reference and faster on multi-tile layers; and the
 * Verilated RTL agrees with the TypeScript simulator on the RQ conformance cases and random
 * programs of a small configuration. The 3-configuration, 200-program campaign: test/slow/cosim-codesign.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, loadConfig } from '../src/config/index.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { aluOpUnavailable, rqParams } from '../src/isa/alu.ts';
import { assemble, disassemble } from '../src/program/index.ts';
import { compareResults } from '../sim/compare.ts';
import { runSync, TsEngine } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { compileAdd, compileMaxPool } from '../compiler/ops/elementwise.ts';
import { runOp, type OpInstance } from '../compiler/ops/op.ts';
import type { Conv2dSpec } from '../compiler/ops/conv2d.ts';
import { verilatorTest } from './helpers/tools.ts';

/** ALU_REQUANT alone (default-codesign also has GEMM_REQUANT, tested in test/gemm-requant.test.ts). */
const RQ_ONLY = JSON.stringify({ TARGET: 'sim', ALU_REQUANT: true });

test('ALU_REQUANT off is VTA: same variant, RQ illegal with a hint; on: variant _rq', () => {
  assert.is(deriveConfig({ TARGET: 'sim', ALU_REQUANT: false }).variant, deriveConfig({ TARGET: 'sim' }).variant);
  assert.match(aluOpUnavailable('RQ', deriveConfig({ TARGET: 'sim' })) ?? '', /ALU_REQUANT: true/);
  const cd = loadConfig(RQ_ONLY);
  assert.ok(cd.variant.endsWith('_rq'));
  assert.is(aluOpUnavailable('RQ', cd), undefined);
});

test('assembler: RQ assembles and disassembles; without ALU_REQUANT it is an illegal instruction (alu_opcode)', () => {
  const src = (cfg: string) => `.config ${cfg}\n.text\n  ALU RQ uop_end=1 iter_out=1 iter_in=1 use_imm=1 imm=${rqParams(8, true, true)}\n  FINISH\n`;
  const p = assemble(src(RQ_ONLY));
  assert.match(disassemble(p), /ALU RQ .*imm=104/);
  const r = runSync(assemble(src('default')));
  assert.is(r.error?.kind, 'illegal');
  assert.match(r.error?.message ?? '', /ALU_REQUANT/);
  assert.is(runSync(p).error, undefined);
});

const engine = new TsEngine();
async function cycles(inst: OpInstance, what: string) {
  const r = await runOp(inst, engine, { check: true, seed: 3 });
  assert.is(r.result.error, undefined, `${what}: ${r.result.error?.message}`);
  assert.ok(r.match, `${what}: ${r.mismatch}`);
  return r.result.counters;
}

test('compiler: fused requantization is bit-exact and removes ALU and reset micro-ops (relu, signed clip, bias)', async () => {
  const base = loadConfig('default');
  const cd = loadConfig(RQ_ONLY);
  const specs: Conv2dSpec[] = [
    { batch: 1, h: 14, w: 14, cin: 32, cout: 32, k: 3, pad: 1, stride: 1, groups: 1, shift: 6, bias: false, clip: [0, 127] },
    { batch: 1, h: 14, w: 14, cin: 32, cout: 32, k: 1, pad: 0, stride: 1, groups: 1, shift: 3, bias: true, clip: [-128, 127] },
    { batch: 1, h: 9, w: 9, cin: 32, cout: 32, k: 3, pad: 1, stride: 2, groups: 2, shift: 5, bias: true, clip: [0, 127] },
  ];
  for (const s of specs) {
    const what = `${s.k}x${s.k} g${s.groups} bias ${s.bias} clip ${s.clip}`;
    const oh = (s.h + 2 * s.pad - s.k) / s.stride + 1;
    const knobs = { tile_b: 1, tile_h: oh % 2 ? 1 : 2, tile_w: oh % 7 ? oh : 7, tile_ci: 1, tile_co: 1, oc_nthread: 2, h_nthread: 1 };
    const a = await cycles(compileConv2d(s, base, { knobs }), `default ${what}`);
    const b = await cycles(compileConv2d(s, cd, { knobs }), `ALU_REQUANT ${what}`);
    const perVec = s.bias ? 4 : 3; // SHR (ADD) MIN MAX -> one RQ
    assert.is(a.alu_uops - b.alu_uops, (a.alu_uops / perVec) * (perVec - 1), `${what}: ALU micro-ops`);
    assert.ok(b.gemm_uops < a.gemm_uops, `${what}: resets skipped (${a.gemm_uops} -> ${b.gemm_uops})`);
    assert.ok(b.cycles < a.cycles, `${what}: ${a.cycles} -> ${b.cycles} cycles`);
  }
});

test('compiler: element-wise add with a clip fuses (ADD vector + clip = one RQ), max-pool is untouched; both bit-exact', async () => {
  const base = loadConfig('default');
  const cd = loadConfig(RQ_ONLY);
  for (const clip of [[0, 127], [-128, 127]] as Array<[number, number]>) {
    const spec = { batch: 1, h: 5, w: 6, c: 2 * cd.blockOut + 1, clip };
    const a = await cycles(compileAdd(spec, base), `default add clip ${clip}`);
    const b = await cycles(compileAdd(spec, cd), `ALU_REQUANT add clip ${clip}`);
    assert.ok(b.alu_uops * 3 === a.alu_uops, `add clip ${clip}: ALU micro-ops ${a.alu_uops} -> ${b.alu_uops}`);
  }
  const mp = { batch: 1, h: 7, w: 7, c: 2 * cd.blockOut, k: 3, pad: 1, stride: 2 };
  assert.is((await cycles(compileMaxPool(mp, cd), 'max-pool')).alu_uops, (await cycles(compileMaxPool(mp, base), 'max-pool')).alu_uops);
});

const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
verilatorTest('co-simulation with ALU_REQUANT (1x2, 16-bit ACC): RQ conformance cases and 25 random programs match exactly', async () => {
  const d = loadConfig(JSON.stringify({
    TARGET: 'ice40', LOG_BLOCK: 1, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_WGT_BUFF_SIZE: 8, LOG_ACC_BUFF_SIZE: 10, ALU_REQUANT: true,
  }));
  const cases = conformanceCases(d).filter((c) => c.name.startsWith('alu_test.rq'));
  assert.is(cases.length, 4);
  for (const c of cases) {
    const built = c.build(d, 2);
    const b = await rtl.run(built.program);
    const mm = compareResults(built.program, runSync(built.program), b);
    assert.equal(mm, [], `${c.name}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
    assert.ok(built.check(b).ok, `${c.name}: ${built.check(b).message}`);
  }
  let rq = 0;
  for (let s = 1; s <= 25; s++) {
    const rp = randomProgram(d, 700 + s);
    rq += rp.description.filter((x) => x.includes('ALU RQ')).length;
    const mm = compareResults(rp.program, runSync(rp.program), await rtl.run(rp.program));
    assert.equal(mm, [], `seed ${700 + s}: ${mm.map((m) => `${m.what}: ${m.detail}`).join(' | ')}`);
  }
  assert.ok(rq >= 10, `random programs issue RQ (${rq} instructions)`);
});

test.run();
