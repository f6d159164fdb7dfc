/**
 * The conformance suite on the TypeScript simulator (sim/ts) for the four reference configurations,
 * random programs running without error, and both cross-checked against a small independent
 * functional executor (test/helpers/mini-fsim.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { programInsns } from '../src/program/container.ts';
import { CONFORMANCE_CASES, conformanceCases, findCase } from '../src/runtime/conformance.ts';
import { packMatrix, unpackMatrix } from '../src/runtime/pack.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { KernelSite, Runtime, RuntimeError } from '../src/runtime/runtime.ts';
import { TsEngine } from '../sim/ts/engine.ts';
import { MiniFsim, runMini } from './helpers/mini-fsim.ts';

const CONFIGS = ['default', 'batch2-block8', 'block32', 'ice40-tiny'];
const engine = new TsEngine();

test('the suite holds every case of Part B §6.1 and §6.3', () => {
  const names = CONFORMANCE_CASES.map((c) => c.name);
  for (const op of ['min', 'max', 'add', 'shr']) {
    for (const f of ['imm', 'vec']) for (const c of ['plain', 'compressed']) assert.ok(names.includes(`alu_test.${op}.${f}.${c}`));
  }
  for (const n of ['blocked_gemm_test.vt1.plain', 'blocked_gemm_test.vt1.compressed', 'blocked_gemm_test.vt2.plain', 'blocked_gemm_test.vt2.compressed', 'gemm_test.plain', 'gemm_test.compressed']) {
    assert.ok(names.includes(n), n);
  }
  for (const n of ['insn.save_load_out', 'insn.padded_load.Y0', 'insn.padded_load.Y1', 'insn.padded_load.X0', 'insn.padded_load.X1', 'insn.padded_load.all',
    'insn.gemm.default', 'insn.gemm.smt', 'insn.alu.shl_imm', 'insn.alu.max_imm', 'insn.alu.max_vec', 'insn.alu.add_imm', 'insn.alu.add_vec', 'insn.alu.shr_imm',
    'insn.relu', 'insn.shift_and_scale']) {
    assert.ok(names.includes(n), n);
  }
  assert.is(new Set(names).size, names.length);
  // MUL cases only where the configuration has ALU_MUL
  const d = loadConfig('default');
  assert.not.ok(conformanceCases(d).some((c) => c.requires === 'aluMul'));
});

for (const name of CONFIGS) {
  test(`every conformance case passes on the TS simulator: ${name}`, async () => {
    const d = loadConfig(name);
    const failures: string[] = [];
    for (const c of conformanceCases(d)) {
      const built = c.build(d, 1);
      const result = await engine.run(built.program);
      const verdict = built.check(result);
      if (!verdict.ok) failures.push(`${c.name}: ${verdict.message}`);
      const mini = built.check(runMini(built.program));
      if (!mini.ok) failures.push(`${c.name} (mini-fsim): ${mini.message}`);
    }
    assert.equal(failures, []);
  });
}

test('with ALU_MUL the MUL cases are included and pass', async () => {
  const d = loadConfig('{"ALU_MUL": true}');
  const cases = conformanceCases(d);
  assert.is(cases.filter((c) => c.requires === 'aluMul').length, 6);
  const failures: string[] = [];
  for (const c of cases.filter((x) => x.requires === 'aluMul')) {
    const built = c.build(d, 1);
    const v = built.check(await engine.run(built.program));
    if (!v.ok) failures.push(`${c.name}: ${v.message}`);
  }
  assert.equal(failures, []);
});

test('a second seed gives different data and still passes (default)', async () => {
  const d = loadConfig('default');
  for (const n of ['blocked_gemm_test.vt2.compressed', 'alu_test.shr.vec.plain', 'insn.padded_load.all']) {
    const a = findCase(n)!.build(d, 1);
    const b = findCase(n)!.build(d, 2);
    const da = a.program.buffers.find((x) => x.role === 'input' && x.kind === 'data')!.data!;
    const db = b.program.buffers.find((x) => x.role === 'input' && x.kind === 'data')!.data!;
    assert.not.equal([...da], [...db]);
    assert.ok(b.check(await engine.run(b.program)).ok, n);
  }
});

test('check() fails on a wrong result and on an engine error', async () => {
  const d = loadConfig('default');
  const built = findCase('gemm_test.plain')!.build(d, 1);
  const result = await engine.run(built.program);
  assert.ok(built.check(result).ok);
  const out = built.program.buffers.find((b) => b.name === 'out')!;
  const bad = { ...result, dram: result.dram.slice() };
  bad.dram[out.addr + 5] ^= 1;
  const v = built.check(bad);
  assert.not.ok(v.ok);
  assert.match(v.message, /mismatch/);
  assert.not.ok(built.check({ ...result, error: { kind: 'deadlock', message: 'stuck' } }).ok);
});

test('Runtime.run runs through an engine and copies results back into the host buffers', async () => {
  const d = loadConfig('ice40-tiny');
  const rt = new Runtime(d);
  const a = [[3, -4, 100, 7]]; // 2 ACC elements of 1x2
  const aBuf = rt.allocTiles('a', 'ACC', 2, { role: 'input', data: packMatrix(d, 'ACC', a) });
  const res = rt.allocTiles('res', 'OUT', 2, { role: 'output' });
  rt.loadBuffer2D(aBuf, 0, 2, 1, 2, 0, 0, 0, 0, 0, 'ACC');
  rt.pushAluOp(new KernelSite(), (r) => {
    r.uopLoopBegin(2, 1, 1, 0);
    r.uopPush('ALU', 0, 0, 0, 0, 'ADD', 1, 30);
    r.uopLoopEnd();
  });
  rt.depPush(2, 3);
  rt.depPop(2, 3);
  rt.storeBuffer2D(0, 'OUT', res, 0, 2, 1, 2);
  await rt.run(engine);
  assert.equal(unpackMatrix(d, 'OUT', res.bytes, 1, 4), [[33, 26, -126, 37]]);
  // the same through the mini executor, via the Engine interface
  const rt2 = new Runtime(d);
  const b2 = rt2.allocTiles('res', 'OUT', 1);
  rt2.storeBuffer2D(0, 'OUT', b2, 0, 1, 1, 1);
  await rt2.run(new MiniFsim());
  assert.equal([...b2.bytes], [0, 0]);
});

test('Runtime.run throws when the engine reports an error', async () => {
  const d = loadConfig('default');
  const rt = new Runtime(d);
  rt.depPop(1, 2); // a pop nobody pushes: deadlock
  const buf = rt.allocTiles('a', 'ACC', 1);
  rt.loadBuffer2D(buf, 0, 1, 1, 1, 0, 0, 0, 0, 0, 'ACC');
  try {
    await rt.run(engine);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.ok(e instanceof RuntimeError, String(e));
    assert.match((e as Error).message, /deadlock/);
  }
});

for (const name of [...CONFIGS, 'ice40-small']) {
  test(`random programs run without error and match the mini executor: ${name}`, async () => {
    const d = loadConfig(name);
    const problems: string[] = [];
    for (let seed = 0; seed < 25; seed++) {
      const r = randomProgram(d, seed);
      const a = await engine.run(r.program);
      const b = runMini(r.program);
      if (a.error) problems.push(`seed ${seed}: ${a.error.kind}: ${a.error.message}`);
      if (b.error) problems.push(`seed ${seed} (mini): ${b.error.kind}: ${b.error.message}`);
      if (a.error || b.error) continue;
      const out = r.program.buffers.find((x) => x.name === 'out_data')!;
      const x = a.dram.subarray(out.addr, out.addr + out.size);
      const y = b.dram.subarray(out.addr, out.addr + out.size);
      const i = x.findIndex((v, k) => v !== y[k]);
      if (i >= 0) problems.push(`seed ${seed}: out_data byte ${i} is ${x[i]} on sim/ts, ${y[i]} on the mini executor`);
    }
    assert.equal(problems, []);
  });
}

test('random programs are deterministic and cover every instruction kind and ALU op', () => {
  const d = loadConfig('default');
  const a = randomProgram(d, 42);
  const b = randomProgram(d, 42);
  assert.equal([...a.program.buffers[0].data!], [...b.program.buffers[0].data!]);
  assert.equal(a.description, b.description);
  const seen = new Set<string>();
  let padded = false;
  let twoLoops = false;
  let reset = false;
  for (const i of programInsns(a.program)) {
    if (i.opcode === 'LOAD' || i.opcode === 'STORE') {
      seen.add(`${i.opcode}.${i.x_size === 0 ? 'NOP' : i.memory_type}`);
      if (i.y_pad_0 + i.y_pad_1 + i.x_pad_0 + i.x_pad_1 > 0) padded = true;
    } else {
      seen.add(i.opcode === 'ALU' ? `ALU.${i.alu_opcode}.${i.use_imm}` : i.opcode);
      if (i.opcode !== 'FINISH' && 'iter_out' in i && i.iter_out > 1 && i.iter_in > 1) twoLoops = true;
      if (i.opcode === 'GEMM' && i.reset_reg) reset = true;
    }
  }
  for (const k of ['LOAD.UOP', 'LOAD.INP', 'LOAD.WGT', 'LOAD.ACC', 'STORE.OUT', 'GEMM', 'FINISH', 'LOAD.NOP']) assert.ok(seen.has(k), k);
  for (const op of ['MIN', 'MAX', 'ADD', 'SHR']) for (const imm of [0, 1]) assert.ok(seen.has(`ALU.${op}.${imm}`), `${op} ${imm}`);
  assert.not.ok([...seen].some((k) => k.startsWith('ALU.MUL')), 'no MUL without ALU_MUL');
  assert.ok(padded && twoLoops && reset);
  const mul = randomProgram(loadConfig('{"ALU_MUL": true}'), 42);
  assert.ok(programInsns(mul.program).some((i) => i.opcode === 'ALU' && i.alu_opcode === 'MUL'));
});

test.run();
