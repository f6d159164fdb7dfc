/**
 * The opencl target on whatever OpenCL device the machine has (PoCL on the CPU in CI): every
 * operator — conv2d incl. grouped / depthwise, dense, add, maxpool, with the requantize tail fused —
 * from the GPU schedules through the OpenCL C dialect, bit-exact against the plain references on
 * seeded random data, odd shapes included. Also the bad-input lines: a kernel that fails to build
 * (the build log's first error line) and too much local memory for the device.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { buildGpuOp, runOpenclOp } from '../compiler/gpu/op.ts';
import { openclDevices, OpenclSession } from '../compiler/gpu/opencl.ts';
import { runCli } from './helpers/cli.ts';
import { errorLines, runVtw } from './helpers/vtw-child.ts';

const d = loadConfig('default');

/** Why OpenCL cannot run here, or null. */
function noOpencl(): string | null {
  try {
    return openclDevices().length ? null : 'no OpenCL platform or device (apt-get install -y pocl-opencl-icd ocl-icd-opencl-dev)';
  } catch (e) {
    return (e as Error).message;
  }
}
const why = noOpencl();

const P = (o: Partial<OpParams>): OpParams => ({ batch: 1, groups: 1, bias: true, clip: [0, 127], ...o });

// One program per case keeps PoCL's LLVM builds within the time a fast test may take.
const CASES: [string, number[], OpParams, Record<string, number>?][] = [
  ['conv2d', [7, 5, 12, 20, 3, 1, 2], P({ batch: 2 }), { shared: 1, tile_ci: 4 }], // weights staged in shared memory
  ['conv2d', [9, 7, 3, 10, 5, 2, 1], P({ bias: false, clip: undefined }), { tile_co: 5, shared: 1, threads_co: 2, tile_ci: 3 }],
  ['conv2d', [6, 7, 16, 8, 3, 1, 1], P({}), { shared: 1, tile_ci: 4, double_buffer: 1 }], // 4 steps over 2 alternating tiles
  ['conv2d', [10, 10, 24, 20, 3, 1, 1], P({}), { shared: 0 }],
  ['conv2d', [8, 7, 16, 24, 3, 1, 1], P({ groups: 4 }), { dp4a: 1 }], // the DP4A loop nest, printed plainly
  ['conv2d', [6, 7, 16, 8, 3, 1, 1], P({}), { shared: 1, tile_ci: 8, dp4a: 1 }],
  ['conv2d', [11, 9, 24, 24, 3, 1, 1], P({ groups: 24, bias: false })], // depthwise
  ['dense', [5, 37, 19], P({ shift: 0, clip: [-30, 40] })],
  ['add', [7, 5, 19], P({ batch: 2 })],
  ['maxpool', [7, 5, 19, 3, 1, 2], P({ batch: 2 })],
];

for (const [name, shape, params, knobs] of CASES) {
  const label = `opencl ${name} ${shape.join(',')} groups=${params.groups} batch=${params.batch} bias=${params.bias} clip=${params.clip ?? 'none'}${knobs ? ` knobs=${JSON.stringify(knobs)}` : ''}`;
  test(label, () => {
    if (why) {
      console.log(`SKIP ${label}: ${why}`);
      return;
    }
    const entry = findOperator(name);
    const op = buildGpuOp(entry.define(shape, params, d), entry.strategies.gpu, { kind: 'opencl' }, knobs);
    if (knobs) for (const [k, v] of Object.entries(knobs)) assert.is(op.knobs[k], v, k);
    // Every loop nest is bound to blocks and threads (no serial kernel).
    for (const k of op.source.kernels) assert.ok(k.grid[0] * k.block[0] > 1, `${k.name} runs on one thread`);
    const run = runOpenclOp(op, { seed: 5, check: true });
    assert.ok(run.match, run.mismatch);
    assert.ok(new Set(run.output).size > 1, 'output is constant');
  });
}

test('opencl: a kernel that fails to build is one line with the build log\'s first error', () => {
  if (why) {
    console.log(`SKIP opencl build failure: ${why}`);
    return;
  }
  const bad = '__kernel void k(__global int *o) { o[0] = undefined_name; }';
  assert.throws(() => new OpenclSession(bad, [{ name: 'k', grid: [1, 1, 1], block: [1, 1, 1], sharedBytes: 0 }]), (e: Error) =>
    /^OpenCL kernel build failed on .*: .*error.*undefined_name/.test(e.message) && !e.message.includes('\n'));
});

test('opencl: more local memory than the device has is refused in one line', () => {
  if (why) {
    console.log(`SKIP opencl local memory: ${why}`);
    return;
  }
  const dev = openclDevices()[0];
  const launch = { name: 'k', grid: [1, 1, 1], block: [1, 1, 1], sharedBytes: dev.localMemBytes + 1 };
  assert.throws(() => new OpenclSession('__kernel void k(void) {}', [launch]), /needs \d+ bytes of local \(shared\) memory; .* has \d+: choose smaller tiles/);
});

test('vtw op --target opencl: more local memory than the device has is one line and exit 1, before the build', async () => {
  if (why) {
    console.log(`SKIP vtw op --target opencl local memory: ${why}`);
    return;
  }
  // Two weight tiles of a k x k kernel: 2 x (8 x 16) x 32 x k^2 bytes, k the smallest odd size from 11 up
  // that exceeds the device (PoCL reports its cache size: 512 KiB on some machines, 2 MiB on others).
  const localMem = openclDevices()[0].localMemBytes;
  let k = 11;
  while (2 * 8 * 16 * 32 * k * k <= localMem) k += 2;
  const bytes = 2 * 8 * 16 * 32 * k * k;
  const knobs = '{"shared":1,"tile_ci":32,"threads_co":16,"tile_co":8,"double_buffer":1,"threads":32}';
  const r = await runCli('op', 'conv2d', '--shape', `16,16,32,128,${k},${(k - 1) / 2},1`, '--target', 'opencl', '--knobs', knobs, '--json');
  assert.is(r.code, 1);
  assert.is(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^vtw: error: kernel vtw_conv2d_k1 needs ${bytes} bytes of local \\(shared\\) memory; .* has \\d+: choose smaller tiles\n$`));
});

test('vtw op --target opencl --check --json: match, time_ms (median of >= 20 warm runs), device', async () => {
  if (why) {
    console.log(`SKIP vtw op --target opencl: ${why}`);
    return;
  }
  const r = await runCli('op', 'conv2d', '--target', 'opencl', '--shape', '6,5,8,12,3,1,1', '--check', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { match: boolean; time_ms: number; runs: number; device: string; target: string };
  assert.is(j.match, true);
  assert.is(j.target, 'opencl');
  assert.ok(j.runs >= 20 && j.time_ms > 0);
  assert.is(j.device, `${openclDevices()[0].name} (${openclDevices()[0].platform})`);
});

test('no OpenCL platform: one line naming the fix, non-zero exit', async () => {
  // The ICD loader reads its platforms from OCL_ICD_VENDORS: an empty place lists none.
  const r = await runVtw(['op', 'add', '--shape', '4,4,8', '--target', 'opencl'], { env: { OCL_ICD_VENDORS: '/nonexistent-vtw-test' } });
  assert.is.not(r.code, 0);
  const lines = errorLines(r.stderr);
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], /^vtw: error: (no OpenCL platform or device found .*pocl-opencl-icd|no OpenCL library)/);
});

test.run();
