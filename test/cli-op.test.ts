/** `vtw op`: JSON keys, --check, --emit (read back by vtw sim), one-line errors. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-op-'));

test('vtw op conv2d --check --json: the issue\'s keys, bit-exact', async () => {
  const r = await runCli('op', 'conv2d', '--shape', '8,8,32,32,3,1,1', '--check', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const k of ['cycles', 'ideal_cycles', 'utilization', 'insns', 'bytes', 'knobs', 'match']) assert.ok(k in j, k);
  assert.is(j.match, true);
  assert.is(j.ideal_cycles, (8 * 8 * 32 * 32 * 9) / 256);
  assert.is(j.utilization, +(j.ideal_cycles / j.cycles).toFixed(6));
  assert.ok(j.bytes.wgt > 0 && j.bytes.inp > 0 && j.bytes.out === 8 * 8 * 32);
  assert.equal(Object.keys(j.knobs).sort(), ['h_nthread', 'oc_nthread', 'tile_b', 'tile_ci', 'tile_co', 'tile_h', 'tile_w']);
});

test('vtw op: dense, grouped conv2d, add, maxpool, batch, other configs, --no-latency-hiding', async () => {
  for (const args of [
    ['dense', '--shape', '5,40,24', '--config', 'batch2-block8'],
    ['conv2d', '--shape', '6,6,32,32,3,1,2', '--groups', '2', '--batch', '2', '--no-bias'],
    ['conv2d', '--shape', '6,6,16,16,3,1,1', '--no-latency-hiding', '--config', 'ice40-small', '--clip', 'none', '--shift', '2'],
    ['add', '--shape', '4,4,20', '--batch', '2'],
    ['maxpool', '--shape', '7,7,16,3,1,2', '--config', 'block32'],
  ]) {
    const r = await runCli('op', ...args, '--check', '--json');
    assert.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    const j = JSON.parse(r.stdout);
    assert.is(j.match, true, args.join(' '));
    if (args.includes('--no-latency-hiding')) assert.equal([j.knobs.oc_nthread, j.knobs.h_nthread], [1, 1]);
  }
});

test('vtw op --emit writes a container that vtw sim runs with the same cycle count', async () => {
  const f = join(tmp, 'conv.vtwp');
  const r = await runCli('op', 'conv2d', '--shape', '6,6,16,32,3,1,1', '--emit', f, '--json', '--knobs', '{"oc_nthread":2}');
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(f));
  const j = JSON.parse(r.stdout);
  assert.is(j.knobs.oc_nthread, 2);
  const s = await runCli('sim', f, '--json');
  assert.is(s.code, 0, s.stderr);
  assert.is(JSON.parse(s.stdout).cycles, j.cycles);
  const text = await runCli('op', 'conv2d', '--shape', '6,6,16,32,3,1,1', '--check');
  assert.match(text.stdout, 'check: output matches the reference bit for bit');
  assert.match(text.stdout, 'utilization');
});

test('vtw op errors are one line', async () => {
  for (const [args, msg] of [
    [['op', 'conv2d', '--shape', '8,8,32'], /expected 7 non-negative integers/],
    [['op', 'softmax', '--shape', '1'], /unknown operator softmax/],
    [['op', 'conv2d', '--shape', '8,8,32,32,3,1,1', '--knobs', '{"tile_x":2}'], /unknown knob tile_x/],
    [['op', 'conv2d', '--shape', '8,8,32,32,3,1,1', '--knobs', '{"tile_h":3}'], /tile_h 3 does not divide 8/],
    [['op', 'conv2d', '--shape', '9,9,16,16,9,4,1', '--config', 'ice40-tiny'], /does not fit .* even with the smallest tiles/],
    [['op', 'dense', '--shape', '4,16,16', '--engine', 'nope'], /unknown engine nope/],
    [['op', 'conv2d', '--shape', '8,8,32,32,3,1,1', '--print-ir', 'nope'], /--print-ir nope/],
  ] as const) {
    const r = await runCli(...args);
    assert.is(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, msg);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('vtw op --print-ir shows the IR after a pass', async () => {
  const r = await runCli('op', 'conv2d', '--shape', '4,4,16,16,3,1,1', '--print-ir', 'deps');
  assert.is(r.code, 0);
  assert.match(r.stderr, 'vta.uop_kernel GEMM');
  assert.match(r.stderr, 'vta.dep_push');
});

test.run();
