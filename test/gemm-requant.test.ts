/**
 * GEMM_REQUANT (docs/microarch.md §15.1, docs/isa.md): off, the GEMM layout and variant are VTA's;
 * on, a GEMM's requant bit writes the requantized sum with the parameter register that the last RQ
 * sets (checked here against a hand computation), and the compiler drops the RQ micro-ops of 1x1
 * convolutions without bias, bit-exact against the plain reference, with each virtual thread's
 * store token on its requantizing GEMM (docs/microarch.md §15.1, "Store tokens"). The RTL's agreement with the
 * simulator: test/slow/cosim-codesign.test.ts (three configurations, conformance + 200 programs).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveConfig, loadConfig } from '../src/config/index.ts';
import { ConfigError } from '../src/errors.ts';
import { rqParams } from '../src/isa/alu.ts';
import { INSN_BYTES } from '../src/isa/constants.ts';
import { decodeInsn } from '../src/isa/insn.ts';
import { assemble, disassemble } from '../src/program/index.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { runSync, TsEngine } from '../sim/ts/engine.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { runOp } from '../compiler/ops/op.ts';
import type { Conv2dSpec } from '../compiler/ops/conv2d.ts';

const RQ_ONLY = JSON.stringify({ TARGET: 'sim', ALU_REQUANT: true });

test('GEMM_REQUANT off is VTA: same variant and GEMM layout; on: the requant bit at 63 (default sizes), variant _grq; needs ALU_REQUANT', () => {
  const off = deriveConfig({ TARGET: 'sim', ALU_REQUANT: true, GEMM_REQUANT: false });
  const rq = deriveConfig({ TARGET: 'sim', ALU_REQUANT: true });
  assert.is(off.variant, rq.variant);
  assert.equal(off.layout.gemm, rq.layout.gemm);
  assert.is(off.layout.gemm.byName.requant, undefined);
  const cd = loadConfig('default-codesign');
  assert.ok(cd.gemmRequant && cd.variant.endsWith('_rq_grq'));
  assert.equal(cd.layout.gemm.byName.requant, { name: 'requant', lsb: 63, width: 1, signed: false });
  // every other GEMM field where VTA has it
  for (const f of rq.layout.gemm.fields) assert.equal(cd.layout.gemm.byName[f.name], f);
  assert.throws(() => deriveConfig({ TARGET: 'sim', GEMM_REQUANT: true }), (e: unknown) => e instanceof ConfigError && /set ALU_REQUANT: true/.test(e.message));
});

test('assembler: GEMM requant round-trips on default-codesign; elsewhere it is not a GEMM field', () => {
  const text = (cfg: string) => `.config ${cfg}\n.text\n  GEMM requant uop_end=1 iter_out=1 iter_in=1\n  FINISH\n`;
  assert.match(disassemble(assemble(text('default-codesign'))), /GEMM uop_end=1 iter_out=1 iter_in=1 requant/);
  assert.throws(() => assemble(text(RQ_ONLY)), /requant is not a field of GEMM/);
});

/**
 * One GEMM micro-op with requant and parameter word p (set by setRequantParams or by an RQ with a
 * micro-op on another element), then the 16 OUT lanes — or, with `acc`, what it left in ACC (an
 * ALU ADD of 0 copies it to OUT).
 */
function oneGemm(p: number, setBy: 'setRequantParams' | 'rq-with-uops', acc = false): number[] {
  const d = loadConfig('default-codesign');
  const rt = new Runtime(d);
  const BI = d.blockIn;
  const BO = d.blockOut;
  const bytes = (xs: number[]) => Uint8Array.from(xs, (v) => v & 0xff);
  // input lane k = k + 1; weight row o = (o - 8) * 8 in every column
  const inp = rt.allocTiles('inp', 'INP', 1, { role: 'input', data: bytes(Array.from({ length: BI }, (_, k) => k + 1)) });
  const wgt = rt.allocTiles('wgt', 'WGT', 1, { role: 'input', data: bytes(Array.from({ length: BO * BI }, (_, i) => (Math.floor(i / BI) - 8) * 8)) });
  const out = rt.allocTiles('out', 'OUT', 1, { role: 'output' });
  rt.loadBuffer2D(inp, 0, 1, 1, 1, 0, 0, 0, 0, 0, 'INP');
  rt.loadBuffer2D(wgt, 0, 1, 1, 1, 0, 0, 0, 0, 0, 'WGT');
  rt.depPush(1, 2);
  rt.depPop(1, 2);
  if (setBy === 'setRequantParams') rt.setRequantParams(p);
  else rt.pushAluOp(rt.recordKernel((r) => r.uopPush('ALU', 0, 1, 0, 0, 'RQ', 1, p)));
  rt.pushGemmOp(rt.recordKernel((r) => r.uopPush('GEMM', 1, 0, 0, 0)));
  rt.pushGemmOp(rt.recordKernel((r) => r.uopPush('GEMM', 0, 0, 0, 0)), undefined, 0, true);
  if (acc) rt.pushAluOp(rt.recordKernel((r) => r.uopPush('ALU', 0, 0, 0, 0, 'ADD', 1, 0)));
  rt.depPush(2, 3);
  rt.depPop(2, 3);
  rt.storeBuffer2D(0, 'OUT', out, 0, 1, 1, 1);
  const prog = rt.synchronize();
  const r = runSync(prog);
  assert.is(r.error, undefined, r.error?.message);
  const b = prog.buffers.find((x) => x.name === 'out')!;
  return Array.from(r.dram.subarray(b.addr, b.addr + BO), (v) => (v << 24) >> 24);
}

test('a GEMM with requant writes clip(sum >> s) to OUT and it or 0 (clear) to ACC (hand-computed), after either way of setting P', () => {
  // sum of lane o = (o - 8) * 8 * (1 + 2 + ... + 16) = (o - 8) * 1088
  const sum = (o: number) => (o - 8) * 1088;
  for (const [shift, relu, clear] of [[4, true, false], [6, false, true], [0, false, false], [31, false, false]] as Array<[number, boolean, boolean]>) {
    const want = Array.from({ length: 16 }, (_, o) => Math.max(relu ? 0 : -128, Math.min(127, Math.floor(sum(o) / 2 ** Math.min(shift, 31)))));
    for (const how of ['setRequantParams', 'rq-with-uops'] as const) {
      const what = `>> ${shift}, relu ${relu}, clear ${clear}, P set by ${how}`;
      assert.equal(oneGemm(rqParams(shift, relu, clear), how), want, what);
      assert.equal(oneGemm(rqParams(shift, relu, clear), how, true), clear ? want.map(() => 0) : want, `${what}: ACC`);
    }
  }
});

const engine = new TsEngine();

test('compiler: 1x1 convolutions without bias need no RQ micro-op with GEMM_REQUANT; bit-exact; 3x3 and bias keep RQ', async () => {
  const rq = loadConfig(RQ_ONLY);
  const cd = loadConfig('default-codesign');
  const specs: Array<[Conv2dSpec, boolean]> = [
    [{ batch: 1, h: 14, w: 14, cin: 64, cout: 32, k: 1, pad: 0, stride: 2, groups: 1, shift: 6, bias: false, clip: [0, 127] }, true],
    [{ batch: 1, h: 8, w: 8, cin: 48, cout: 32, k: 1, pad: 0, stride: 1, groups: 1, shift: 5, bias: false, clip: [-128, 127] }, true],
    [{ batch: 1, h: 8, w: 8, cin: 32, cout: 32, k: 1, pad: 0, stride: 1, groups: 1, shift: 5, bias: true, clip: [0, 127] }, false],
    [{ batch: 1, h: 7, w: 7, cin: 32, cout: 32, k: 3, pad: 1, stride: 1, groups: 1, shift: 7, bias: false, clip: [0, 127] }, false],
  ];
  for (const [s, gone] of specs) {
    const what = `${s.k}x${s.k}/${s.stride} ci ${s.cin} bias ${s.bias} clip ${s.clip}`;
    for (const knobs of [{}, { tile_ci: 1 }]) {
      const a = await runOp(compileConv2d(s, rq, { knobs }), engine, { check: true, seed: 5 });
      const b = await runOp(compileConv2d(s, cd, { knobs }), engine, { check: true, seed: 5 });
      assert.ok(a.match && b.match, `${what}: ${a.mismatch ?? ''} ${b.mismatch ?? ''}`);
      if (gone) {
        assert.is(b.result.counters.alu_uops, 0, `${what} ${JSON.stringify(knobs)}: ALU micro-ops`);
        assert.ok(a.result.counters.alu_uops > 0);
      } else assert.ok(b.result.counters.alu_uops > 0, `${what}: RQ stays`);
    }
  }
});

test("compiler: each virtual thread's store starts once its requantizing GEMM ends, not after the other threads' GEMMs", async () => {
  const cd = loadConfig('default-codesign');
  const s: Conv2dSpec = { batch: 1, h: 28, w: 28, cin: 64, cout: 64, k: 1, pad: 0, stride: 2, groups: 1, shift: 8, bias: false, clip: [0, 127] };
  const knobs = { tile_b: 1, tile_h: 1, tile_w: 14, tile_ci: 2, tile_co: 4, oc_nthread: 1, h_nthread: 2 };
  const r = await runOp(compileConv2d(s, cd, { knobs }), engine, { check: true, seed: 3 });
  assert.ok(r.match, r.mismatch);
  const run = runSync(r.program);
  const bytes = r.program.buffers.find((b) => b.kind === 'insn')!.data!;
  const at = new Map(run.insnTiming!.map((t) => [t.index, t]));
  const insns = Array.from({ length: bytes.length / INSN_BYTES }, (_, i) => decodeInsn(cd, bytes, i * INSN_BYTES));
  // the compute -> store tokens of the first tile group: one on each thread's requantizing GEMM
  const rqGemms = insns.map((x, i) => [x, i] as const).filter(([x]) => x.opcode === 'GEMM' && x.requant);
  const firstStore = insns.findIndex((x) => x.opcode === 'STORE' && x.x_size > 0);
  assert.ok(rqGemms.length >= 2 && firstStore > 0);
  const [[g0, i0], [g1, i1]] = rqGemms;
  assert.ok(g0.opcode === 'GEMM' && g0.push_next_dep === 1 && g1.opcode === 'GEMM' && g1.push_next_dep === 1, 'thread 0 and 1 requantizing GEMMs push to the store');
  assert.ok(at.get(firstStore)!.start < at.get(i1)!.end, `thread 0's store starts ${at.get(firstStore)!.start}, thread 1's GEMM ends ${at.get(i1)!.end}`);
  assert.ok(at.get(firstStore)!.start >= at.get(i0)!.end);
});

test('random programs on default-codesign carry requantizing GEMMs and run', () => {
  const d = loadConfig('default-codesign');
  let n = 0;
  for (let s = 1; s <= 5; s++) {
    const rp = randomProgram(d, 40 + s);
    n += rp.description.filter((x) => x.endsWith(' requant') || x.includes(' requant (')).length;
    assert.is(runSync(rp.program).error, undefined);
  }
  assert.ok(n >= 15, `requant GEMMs in 5 programs: ${n}`);
});

test.run();
