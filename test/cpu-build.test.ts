/**
 * The CPU back end's build: C printed from the loop IR, the content-hash cache (a second build is
 * a hit), one-line errors from a failing or missing compiler, and `vtw op --target cpu` as a child
 * process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import { loadConfig } from '../src/config/load.ts';
import { findOperator } from '../compiler/ops/registry.ts';
import { buildCpuOp } from '../compiler/cpu/op.ts';
import { buildShared, cCompiler } from '../compiler/cpu/build.ts';
import { emitC } from '../compiler/cpu/codegen.ts';
import { lower } from '../compiler/te/lower.ts';
import { parseTarget, type CpuTargetSpec } from '../compiler/target/target.ts';

const d = loadConfig('default');
const target = parseTarget('cpu', d) as CpuTargetSpec;
const hasCompiler = execaSync(cCompiler(), ['--version'], { reject: false }).exitCode === 0;
const params = { batch: 1, groups: 1, bias: true, clip: [0, 127] as [number, number] };

function skip(name: string): boolean {
  if (hasCompiler) return false;
  console.log(`SKIP ${name}: no C compiler (${cCompiler()}); apt-get install -y build-essential`);
  return true;
}

function convSource(threads: number, shape = [6, 6, 16, 16, 3, 1, 1], extra: Record<string, number> = {}) {
  const entry = findOperator('conv2d');
  const def = entry.define(shape, params, d);
  const knobs = { ...entry.strategies.cpu.defaultKnobs(def, target), threads, ...extra };
  return emitC(lower(entry.strategies.cpu.schedule(def, knobs), def.op), threads);
}

test('C from the loop IR: restrict parameters in call order, the thread pool only with threads > 1, vectorised inner loops', () => {
  const two = convSource(2);
  assert.match(two.text, /void vtw_conv2d\(const int8_t \*restrict b_data, const int8_t \*restrict b_weight, const int32_t \*restrict b_bias, int8_t \*restrict b_out\)/);
  assert.match(two.text, /vtw_parallel_for\(vtw_task0, &vtw_c, \d+, 2\);/);
  assert.match(two.text, /static void vtw_task0\(void \*vtw_c_, vtw_index /);
  assert.match(two.text, /#pragma GCC ivdep/);
  assert.ok(two.openmp);
  const one = convSource(1);
  assert.not.match(one.text, /vtw_parallel_for|pthread/);
  assert.not.ok(one.openmp);
});

test('the build cache: a second build of the same source is a hit, another thread count is not', async () => {
  if (skip('cpu build cache')) return;
  const dir = mkdtempSync(join(tmpdir(), 'vtw-cpu-cache-'));
  const src = convSource(1);
  const first = await buildShared(src, target, dir);
  assert.is(first.cached, false);
  assert.ok(existsSync(first.path));
  const second = await buildShared(src, target, dir);
  assert.is(second.cached, true);
  assert.is(second.path, first.path);
  const other = await buildShared(convSource(2), target, dir);
  assert.is(other.cached, false);
  const so = readdirSync(dir).filter((f) => f.endsWith('.so'));
  // two kernels, and the one thread pool every threaded kernel links against
  assert.is(so.filter((f) => !f.startsWith('vtw_pool-')).length, 2);
  assert.is(so.filter((f) => f.startsWith('vtw_pool-')).length, 1);
  await buildShared(convSource(3), target, dir);
  assert.is(readdirSync(dir).filter((f) => f.startsWith('vtw_pool-') && f.endsWith('.so')).length, 1, 'a second threaded kernel reuses the pool');
});

async function buildError(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

test('a failing C compiler: one line with its first error line', async () => {
  if (skip('cpu compiler errors')) return;
  const dir = mkdtempSync(join(tmpdir(), 'vtw-cpu-bad-'));
  const src = convSource(1);
  const broken = { ...src, text: src.text.replace('int32_t *restrict b_bias', 'int32_t *restrict b_bias,,') };
  const msg = await buildError(() => buildShared(broken, target, dir));
  assert.match(msg, /^C compiler \S+ failed on .*\.c: .*error: /);
  assert.not.match(msg, /\n/);
  assert.is(readdirSync(dir).filter((f) => f.endsWith('.so')).length, 0, 'no half-written shared object');
  const old = process.env.CC;
  try {
    process.env.CC = 'false';
    assert.match(await buildError(() => buildShared(convSource(1), target, dir)), /^C compiler false failed on .*: exit code 1$/);
    process.env.CC = '/nonexistent/vtw-cc';
    assert.match(await buildError(() => buildShared(convSource(1), target, dir)), /^C compiler \/nonexistent\/vtw-cc not found or not working/);
  } finally {
    if (old === undefined) delete process.env.CC;
    else process.env.CC = old;
  }
});

test('buildCpuOp: the kernel is loaded and reports its knobs and flags', async () => {
  if (skip('cpu buildCpuOp')) return;
  const entry = findOperator('add');
  const op = await buildCpuOp(entry.define([3, 4, 5], params, d), entry.strategies.cpu, target, { threads: 1 });
  assert.equal(op.knobs, { threads: 1 });
  assert.ok(op.shared.flags.includes('-fwrapv'));
});

test('vtw op conv2d --target cpu --check --json (child process): match, median time of >= 20 runs, threads, target', async () => {
  if (skip('vtw op --target cpu')) return;
  const r = await execa('node', ['bin/vtw.js', 'op', 'conv2d', '--shape', '7,5,20,12,3,1,2', '--target', 'cpu', '--check', '--json'], { reject: false });
  assert.is(r.exitCode, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.match, true);
  assert.is(j.target, 'cpu');
  assert.ok(j.runs >= 20);
  assert.ok(typeof j.time_ms === 'number' && j.time_ms > 0);
  assert.is(j.threads, j.knobs.threads);
  assert.is(j.macs, 4 * 3 * 12 * 20 * 9);
  const bad = await execa('node', ['bin/vtw.js', 'op', 'conv2d', '--shape', '7,5,20,12,3,1,2', '--target', 'cpu -mattr=+nosuch'], { reject: false });
  assert.is(bad.exitCode, 1);
  assert.match(bad.stderr, /^vtw: error: target cpu: unknown feature nosuch$/);
});


test('the parallel form is vectorized: GCC reports the conv2d accumulation loop vectorized with 2 threads as with 1', async () => {
  if (skip('parallel form vectorized')) return;
  if (!execaSync(cCompiler(), ['--version'], { reject: false }).stdout.includes('Free Software Foundation')) {
    console.log(`SKIP parallel form vectorized: -fopt-info-vec is GCC's (${cCompiler()} is not GCC)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vtw-vec-'));
  // The accumulation line of the conv2d nest: b_conv[...] = (b_conv[...] + (...) * (...)).
  const vectorizedLines = async (threads: number): Promise<number[]> => {
    // The plain nest (dot = 0: no dot-product intrinsic; the knob only exists with VNNI).
    const def = findOperator('conv2d').define([28, 28, 16, 16, 3, 1, 1], params, d);
    const dotKnob: Record<string, number> = 'dot' in findOperator('conv2d').strategies.cpu.knobSpace(def, target) ? { dot: 0 } : {};
    const src = convSource(threads, [28, 28, 16, 16, 3, 1, 1], dotKnob);
    const file = join(dir, `conv${threads}.c`);
    writeFileSync(file, src.text);
    const accLine = src.text.split('\n').findIndex((l) => /b_conv\[.*\] = \(b_conv\[/.test(l)) + 1;
    const r = await execa(cCompiler(), ['-O3', '-march=native', '-fwrapv', '-fPIC', '-pthread', '-c', '-o', join(dir, `c${threads}.o`), '-fopt-info-vec-optimized', file], { all: true });
    const lines = [...(r.all ?? '').matchAll(/:(\d+):\d+: optimized: loop vectorized/g)].map((m) => Number(m[1]));
    const forLine = accLine - 1; // the `for (vtw_index v_conv_x ...)` loop around it
    return lines.filter((l) => l === forLine);
  };
  assert.ok((await vectorizedLines(1)).length > 0, 'serial nest vectorized');
  assert.ok((await vectorizedLines(2)).length > 0, 'the task function of the parallel loop vectorized');
});
test.run();
