/**
 * The TypeScript simulator's WebAssembly GEMM kernel (sim/ts/gemm-kernel.ts) against its scalar
 * loop: the same programs with the kernel on and off give the same DRAM, counters and per-instruction
 * timing, on every block shape the kernel takes (and narrow accumulators, where the wrap matters),
 * and a compiled layer with mostly zero input lanes (LeNet's first convolution: one channel in the
 * block) matches its reference output both ways.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Derived } from '../src/config/derive.ts';
import { deriveConfig } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/load.ts';
import type { Program } from '../src/program/container.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { runOp } from '../compiler/ops/op.ts';
import { TsEngine, runSync } from '../sim/ts/engine.ts';
import { kernelModule, useGemmKernel } from '../sim/ts/gemm-kernel.ts';

function runBoth(p: Program) {
  const fast = runSync(p);
  useGemmKernel(false);
  try {
    return { fast, slow: runSync(p) };
  } finally {
    useGemmKernel(true);
  }
}

const narrowAcc = deriveConfig({ LOG_ACC_WIDTH: 4, LOG_BLOCK: 3, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 10, LOG_WGT_BUFF_SIZE: 12, LOG_ACC_BUFF_SIZE: 10 });
const configs: Array<[string, Derived]> = [
  ['default', loadConfig('default')],
  ['batch2-block8', loadConfig('batch2-block8')],
  ['ice40-small', loadConfig('ice40-small')],
  ['16-bit ACC, block 8', narrowAcc],
];

for (const [name, d] of configs) {
  test(`${name}: random programs give the same results with and without the kernel`, () => {
    assert.ok(kernelModule(d), 'the kernel fits this configuration');
    let gemms = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const { program } = randomProgram(d, seed);
      const { fast, slow } = runBoth(program);
      assert.equal(fast.error, slow.error, `seed ${seed}: error`);
      assert.ok(Buffer.from(fast.dram).equals(Buffer.from(slow.dram)), `seed ${seed}: DRAM differs`);
      assert.equal(fast.counters, slow.counters, `seed ${seed}: counters`);
      assert.equal(fast.insnTiming, slow.insnTiming, `seed ${seed}: instruction timing`);
      gemms += fast.counters.gemm_uops;
    }
    assert.ok(gemms > 0, 'the programs run GEMM micro-ops');
  });
}

test('a convolution with one input channel in the block matches its reference with and without the kernel', async () => {
  const d = loadConfig('default');
  const inst = compileConv2d({ batch: 1, h: 12, w: 12, cin: 1, cout: 6, k: 5, pad: 0, stride: 1, groups: 1, shift: 4, bias: true, clip: [-128, 127] }, d);
  const fast = await runOp(inst, new TsEngine(), { check: true });
  useGemmKernel(false);
  try {
    const slow = await runOp(inst, new TsEngine(), { check: true });
    assert.ok(slow.match, slow.mismatch);
    assert.equal(fast.result.counters, slow.result.counters);
  } finally {
    useGemmKernel(true);
  }
  assert.ok(fast.match, fast.mismatch);
});

test('configurations the kernel does not fit (BLOCK_OUT 2) use the scalar loop', () => {
  assert.is(kernelModule(loadConfig('ice40-tiny')), undefined);
});

test.run();
