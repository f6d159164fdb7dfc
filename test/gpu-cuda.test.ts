/**
 * The cuda target without a GPU: every operator's kernels (conv2d incl. grouped / depthwise, dense,
 * add, maxpool, requantize tail fused) compile with nvcc for sm_80 and sm_90, and ptxas reports
 * each kernel's registers and shared memory. Skipped, with the reason, where nvcc is absent.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { buildGpuOp } from '../compiler/gpu/op.ts';
import { buildCuda, checkSharedMemory, cudaUnavailable, nvccPath, nvccVersion, parsePtxasUsage, STATIC_SHARED_LIMIT } from '../compiler/gpu/cuda.ts';
import { runCli } from './helpers/cli.ts';
import { writeFileSync } from 'node:fs';
import { execaSync } from 'execa';
import koffi from 'koffi';
import { operands, typedArray } from '../compiler/gpu/op.ts';
import { compareOutputs } from '../compiler/cpu/op.ts';

const d = loadConfig('default');
const P = (o: Partial<OpParams>): OpParams => ({ batch: 1, groups: 1, bias: true, clip: [0, 127], ...o });

const CASES: [string, number[], OpParams][] = [
  ['conv2d', [14, 14, 32, 32, 3, 1, 1], P({})],
  ['conv2d', [9, 9, 16, 16, 3, 1, 2], P({ groups: 16 })],
  ['conv2d', [8, 7, 16, 24, 3, 1, 1], P({ groups: 4 })],
  ['dense', [4, 96, 40], P({})],
  ['add', [7, 5, 19], P({})],
  ['maxpool', [7, 5, 19, 3, 1, 2], P({})],
];

test('cuda: every operator compiles for sm_80 and sm_90; registers and shared memory per kernel', async () => {
  if (!(await nvccVersion())) {
    console.log(`SKIP cuda compile: nvcc not found (${nvccPath()}); install the CUDA toolkit or set NVCC`);
    return;
  }
  const cache = mkdtempSync(join(tmpdir(), 'vtw-cuda-'));
  try {
    // Two builds at a time (nvcc is mostly single-threaded); each is one fatbin for both architectures.
    const builds = [];
    for (let i = 0; i < CASES.length; i += 2) {
      builds.push(...await Promise.all(CASES.slice(i, i + 2).map(async ([name, shape, params]) => {
        const entry = findOperator(name);
        const op = buildGpuOp(entry.define(shape, params, d), entry.strategies.gpu, { kind: 'cuda', archs: ['sm_80', 'sm_90'] });
        return { op, build: await buildCuda(op.source.text, ['sm_80', 'sm_90'], cache) };
      })));
    }
    for (const { op, build } of builds) {
      // int8 convolutions with input channels in groups of 4 use __dp4a (from sm_61; both archs here).
      const cibg = op.def.shape.cin ? op.def.shape.cin / op.def.shape.groups : 0;
      assert.is(op.source.text.includes('__dp4a('), cibg % 4 === 0 && cibg > 0, `${op.def.op} cin/groups=${cibg}: __dp4a`);
      assert.equal(build.archs.map((a) => a.arch), ['sm_80', 'sm_90']);
      for (const a of build.archs) {
        assert.equal(a.kernels.map((k) => k.name).sort(), op.source.kernels.map((k) => k.name).sort(), `${op.def.op} ${a.arch}`);
        for (const k of a.kernels) assert.ok(k.registers > 0 && k.registers <= 255, `${k.name}: ${k.registers} registers`);
        // conv2d on cuda stages its weights in shared memory by default; the others use none.
        const staged = a.kernels.filter((k) => k.shared_bytes > 0).length;
        assert.is(staged, op.def.op === 'conv2d' ? 1 : 0, `${op.def.op} ${a.arch}: kernels with shared memory`);
      }
    }
    // The same source again comes from the cache.
    const again = await buildCuda(builds[0].op.source.text, ['sm_80', 'sm_90'], cache);
    assert.ok(again.cached);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('ptxas -v output: registers, shared memory and spills per entry function', () => {
  const text = [
    "ptxas info    : Compiling entry function 'k1' for 'sm_80'",
    '    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads',
    'ptxas info    : Used 8 registers, used 0 barriers, 360 bytes cmem[0]',
    "ptxas info    : Compiling entry function 'k0' for 'sm_80'",
    '    8 bytes stack frame, 12 bytes spill stores, 12 bytes spill loads',
    'ptxas info    : Used 11 registers, used 1 barriers, 256 bytes smem, 368 bytes cmem[0]',
  ].join('\n');
  assert.equal(parsePtxasUsage(text), [{
    arch: 'sm_80',
    kernels: [
      { name: 'k1', registers: 8, shared_bytes: 0, spill_bytes: 0 },
      { name: 'k0', registers: 11, shared_bytes: 256, spill_bytes: 12 },
    ],
  }]);
});

test('vtw op --target cuda --json: compiled, ran, registers and shared bytes per kernel; one line when no GPU', async () => {
  if (!(await nvccVersion())) {
    console.log(`SKIP vtw op --target cuda: nvcc not found (${nvccPath()})`);
    return;
  }
  const r = await runCli('op', 'dense', '--target', 'cuda -arch=sm_80,sm_90', '--shape', '4,64,32', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { compiled: boolean; ran: boolean; kernels: Array<{ arch: string; name: string; registers: number; shared_bytes: number }> };
  assert.is(j.compiled, true);
  const noGpu = cudaUnavailable();
  assert.is(j.ran, noGpu === undefined);
  assert.equal([...new Set(j.kernels.map((k) => k.arch))], ['sm_80', 'sm_90']);
  assert.ok(j.kernels.every((k) => k.registers > 0 && k.shared_bytes === 0));
  if (noGpu) {
    const t = await runCli('op', 'dense', '--target', 'cuda', '--shape', '4,64,32');
    assert.is(t.code, 0, t.stderr);
    assert.is(t.stdout.split('\n').filter((l) => l.includes('not run:')).length, 1);
    assert.match(t.stdout, /not run: no CUDA driver .*no GPU is present/);
  }
});

/**
 * The CUDA C text itself, run without a GPU: compiled as C++ for the host with the CUDA built-ins
 * it uses defined (blockIdx / threadIdx set by a loop over the grid and block, __dp4a as 4 byte
 * products), each kernel called once per thread. Exact for kernels without barriers (shared = 0),
 * which is what this runs: it checks the dialect's types, qualifiers, indices and the __dp4a
 * packing against the plain references.
 */
const CUDA_ON_HOST = `#include <stdint.h>
struct vtw_dim3 { int x, y, z; };
static vtw_dim3 blockIdx, threadIdx;
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __CUDA_ARCH__ 800
static inline int __dp4a(int a, int b, int c) {
  for (int i = 0; i < 4; i++) c = (int)((unsigned)c + (unsigned)((int)(signed char)(a >> (8 * i)) * (int)(signed char)(b >> (8 * i))));
  return c;
}
`;

test('cuda: the CUDA C of every operator (incl. __dp4a), run on the host through a shim of the built-ins, is bit-exact', () => {
  const cxx = execaSync('c++', ['--version'], { reject: false });
  if (cxx.exitCode !== 0) {
    console.log('SKIP cuda on host: no C++ compiler (apt-get install -y build-essential)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vtw-cuda-host-'));
  try {
    const cases: [string, number[], OpParams, Record<string, number>][] = [
      ['conv2d', [7, 6, 16, 12, 3, 1, 2], P({ batch: 2 }), { shared: 0, dp4a: 1 }],
      ['conv2d', [8, 7, 16, 24, 3, 1, 1], P({ groups: 4, clip: undefined }), { dp4a: 1 }],
      ['conv2d', [9, 9, 16, 16, 3, 1, 2], P({ groups: 16 }), {}],
      ['dense', [5, 37, 19], P({}), {}],
      ['add', [7, 5, 19], P({}), {}],
      ['maxpool', [7, 5, 19, 3, 1, 2], P({}), {}],
    ];
    cases.forEach(([name, shape, params, knobs], n) => {
      const entry = findOperator(name);
      const op = buildGpuOp(entry.define(shape, params, d), entry.strategies.gpu, { kind: 'cuda', archs: ['sm_80'] }, knobs);
      assert.ok(!op.source.text.includes('__syncthreads'), 'only kernels without barriers run on the host');
      const T: Record<string, string> = { int8: 'signed char', uint8: 'unsigned char', int16: 'short', int32: 'int' };
      const ps = op.source.params.map((b, i) => `void *p${i}`).join(', ');
      const as = op.source.params.map((b, i) => `(${T[b.dtype]} *)p${i}`).join(', ');
      const launches = op.source.kernels.map((k) => `  for (blockIdx.z = 0; blockIdx.z < ${k.grid[2]}; ++blockIdx.z) for (blockIdx.y = 0; blockIdx.y < ${k.grid[1]}; ++blockIdx.y) for (blockIdx.x = 0; blockIdx.x < ${k.grid[0]}; ++blockIdx.x)
  for (threadIdx.z = 0; threadIdx.z < ${k.block[2]}; ++threadIdx.z) for (threadIdx.y = 0; threadIdx.y < ${k.block[1]}; ++threadIdx.y) for (threadIdx.x = 0; threadIdx.x < ${k.block[0]}; ++threadIdx.x)
    ${k.name}(${as});`).join('\n');
      const src = join(dir, `k${n}.cpp`);
      writeFileSync(src, `${CUDA_ON_HOST}${op.source.text}\nextern "C" void vtw_run(${ps}) {\n${launches}\n}\n`);
      const so = join(dir, `k${n}.so`);
      const r = execaSync('c++', ['-O1', '-fPIC', '-shared', '-fwrapv', '-o', so, src], { reject: false, all: true });
      assert.is(r.exitCode, 0, r.all);
      if (name === 'conv2d' && knobs.dp4a) assert.ok(op.source.text.includes('__dp4a('));
      const run = koffi.load(so).func(`void vtw_run(${ps})`);
      const { args, expected } = operands(op, 3);
      const out = typedArray(op.source.outputs[0].dtype, op.source.outputs[0].size);
      const scratch = op.source.scratch.map((b) => typedArray(b.dtype, b.size));
      run(...args, out, ...scratch);
      const bad = compareOutputs(Int32Array.from(out), expected());
      assert.is(bad, undefined, `${name} ${shape}: ${bad}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('more threads per block than CUDA allows is refused in one line', () => {
  const entry = findOperator('conv2d');
  const def = entry.define([28, 28, 64, 64, 3, 1, 1], P({}), d);
  assert.throws(() => buildGpuOp(def, entry.strategies.gpu, { kind: 'cuda', archs: ['sm_80'] }, { threads: 196, threads_co: 8 }),
    /^kernel vtw_conv2d_k1 needs 1568 threads per block \(knobs .*\); CUDA allows 1024: choose fewer threads$/);
});

test('too much shared memory for a block is refused in one line', () => {
  const build = { fatbin: '', cached: false, nvcc: '', archs: [{ arch: 'sm_80', kernels: [{ name: 'k', registers: 8, shared_bytes: STATIC_SHARED_LIMIT + 4, spill_bytes: 0 }] }] };
  assert.throws(() => checkSharedMemory(build), /^kernel k needs \d+ bytes of shared memory on sm_80; a block may have 49152: choose smaller tiles$/);
});

test('vtw op --target cuda: a weight tile over 48 KiB of shared memory is one line and exit 1, before nvcc runs', async () => {
  const knobs = '{"shared":1,"tile_ci":32,"threads_co":16,"tile_co":8,"double_buffer":1,"threads":32}';
  const r = await runCli('op', 'conv2d', '--shape', '16,16,64,128,3,1,1', '--target', 'cuda', '--knobs', knobs, '--json');
  assert.is(r.code, 1);
  assert.is(r.stdout, '');
  // 2 tiles x (8 x 16 channels) x 32 input channels x 3 x 3 bytes
  assert.match(r.stderr, /^vtw: error: kernel vtw_conv2d_k1 needs 73728 bytes of shared memory \(knobs .*\); a CUDA block may have 49152: choose smaller tiles\n$/);
});

test('cuda: a kernel nvcc cannot build is one line with its first error', async () => {
  if (!(await nvccVersion())) {
    console.log(`SKIP cuda build failure: nvcc not found (${nvccPath()})`);
    return;
  }
  const cache = mkdtempSync(join(tmpdir(), 'vtw-cuda-bad-'));
  try {
    const bad = 'extern "C" __global__ void k(int *o) { o[0] = undefined_name; }\n';
    await buildCuda(bad, ['sm_80'], cache).then(
      () => assert.unreachable('nvcc built it'),
      (e: Error) => {
        assert.match(e.message, /^nvcc failed for sm_80 on .*kernels\.cu: .*error.*undefined_name/);
        assert.ok(!e.message.includes('\n'), e.message);
      },
    );
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test.run();
