/**
 * The tuning log and its reuse: `vtw tune --log` writes one record per trial (plus the default as
 * trial 0); `vtw op --tuned` compiles with the best record's knobs, bit-exact, with the cycles the
 * log holds; corrupt lines are reported one line each with their line number and skipped.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaSync } from 'execa';
import { runCli } from './helpers/cli.ts';
import { bestRecord, readLog, type TuneRecord } from '../compiler/tune/log.ts';
import { cCompiler } from '../compiler/cpu/build.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-tune-'));
const SHAPE = '8,8,32,32,3,1,2';

test('vtw tune --log on vta: one record per trial; vtw op --tuned reuses the best, bit-exact, same cycles', async () => {
  const log = join(tmp, 'vta.jsonl');
  const r = await runCli('tune', 'conv2d', '--shape', SHAPE, '--trials', '6', '--seed', '2', '--log', log, '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.is(lines.length, 7, 'the default (trial 0) and 6 trials');
  const recs = lines.map((l) => JSON.parse(l) as TuneRecord);
  assert.equal(recs.map((x) => x.trial), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(recs.map((x) => x.strategy), ['default', 'model', 'model', 'model', 'model', 'model', 'model']);
  for (const x of recs) {
    assert.is(x.op, 'conv2d');
    assert.equal(x.shape, SHAPE.split(',').map(Number));
    assert.is(x.unit, 'cycles');
    assert.ok(x.target.startsWith('vta '), x.target);
    assert.ok(x.config && 'LOG_BLOCK' in x.config);
    assert.ok(!Number.isNaN(Date.parse(x.timestamp)));
  }
  assert.equal(recs.slice(1).map((x) => x.cost), j.history, 'the log holds what the search measured');
  const best = recs.reduce((a, b) => (b.cost < a.cost ? b : a));
  const op = await runCli('op', 'conv2d', '--shape', SHAPE, '--tuned', log, '--check', '--json');
  assert.is(op.code, 0, op.stderr);
  const o = JSON.parse(op.stdout);
  assert.is(o.match, true, 'bit-exact with the reference');
  assert.equal(o.knobs, best.knobs);
  assert.is(o.cycles, best.cost, 'the cycles the log recorded');
  // Another shape has no record: a note, and the default knobs.
  const other = await runCli('op', 'conv2d', '--shape', '8,8,32,32,3,1,1', '--tuned', log, '--json');
  assert.is(other.code, 0, other.stderr);
  assert.match(other.stderr, /has no record for conv2d --shape 8,8,32,32,3,1,1/);
  // Another configuration is another target: no record either.
  const cfg = await runCli('op', 'conv2d', '--shape', SHAPE, '--tuned', log, '--config', 'block32', '--json');
  assert.is(cfg.code, 0, cfg.stderr);
  assert.match(cfg.stderr, /has no record/);
});

test('vtw tune --log on cpu: vtw op --target cpu --tuned compiles the best record\'s knobs, bit-exact', async () => {
  if (execaSync(cCompiler(), ['--version'], { reject: false }).exitCode !== 0) {
    console.log(`SKIP tune on cpu: no C compiler (${cCompiler()})`);
    return;
  }
  const log = join(tmp, 'cpu.jsonl');
  const r = await runCli('tune', 'dense', '--shape', '4,64,32', '--target', 'cpu', '--trials', '3', '--log', log);
  assert.is(r.code, 0, r.stderr);
  const { records, problems } = readLog(log);
  assert.is(problems.length, 0);
  assert.is(records.length, 4);
  assert.ok(records.every((x) => x.unit === 'ms' && x.target === 'cpu' && x.config === null && x.cost > 0));
  const best = bestRecord(records, records[0])!;
  const op = await runCli('op', 'dense', '--shape', '4,64,32', '--target', 'cpu', '--tuned', log, '--check', '--json');
  assert.is(op.code, 0, op.stderr);
  const o = JSON.parse(op.stdout);
  assert.is(o.match, true);
  assert.equal(o.knobs, best.knobs);
});

test('a corrupt log line is reported with its line number (one line on stderr) and skipped', async () => {
  const good = join(tmp, 'vta.jsonl');
  const valid = readFileSync(good, 'utf8').trim().split('\n');
  const bad = join(tmp, 'corrupt.jsonl');
  const worst = valid.map((l) => JSON.parse(l) as TuneRecord).reduce((a, b) => (b.cost > a.cost ? b : a));
  writeFileSync(bad, [
    JSON.stringify(worst), // line 1: valid, the only record
    '{"op": "conv2d", "shape": [8,8', // line 2: cut off
    '', // line 3: blank, ignored
    JSON.stringify({ ...worst, cost: 'fast' }), // line 4: a record with a bad field
    'null', // line 5
  ].join('\n') + '\n');
  const { records, problems } = readLog(bad);
  assert.is(records.length, 1);
  assert.equal(problems.map((p) => p.line), [2, 4, 5]);
  const op = await runCli('op', 'conv2d', '--shape', SHAPE, '--tuned', bad, '--json');
  assert.is(op.code, 0, op.stderr);
  const warnings = op.stderr.split('\n').filter((l) => l.startsWith('vtw: warning:'));
  assert.equal(warnings.map((w) => /line (\d+):/.exec(w)?.[1]), ['2', '4', '5']);
  assert.match(warnings[1], /"cost"/);
  assert.equal(JSON.parse(op.stdout).knobs, worst.knobs, 'the one valid record is used');
});

test('vtw tune --history LOG learns from the log\'s other shapes on the same target; its own shape and corrupt lines are not history', async () => {
  const log = join(tmp, 'vta.jsonl');
  const mixed = join(tmp, 'history.jsonl');
  const other = join(tmp, 'other-shape.jsonl');
  const o = await runCli('tune', 'conv2d', '--shape', '8,8,32,32,1,0,1', '--trials', '2', '--seed', '1', '--log', other, '--json');
  assert.is(o.code, 0, o.stderr);
  // 7 records of SHAPE (the task's own: not history), 3 of another shape, one corrupt line (line 11).
  writeFileSync(mixed, readFileSync(log, 'utf8') + readFileSync(other, 'utf8') + '{"op":\n');
  const r = await runCli('tune', 'conv2d', '--shape', SHAPE, '--trials', '2', '--history', mixed, '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).learned_from, { log: mixed, tasks: 1, measurements: 3 });
  assert.match(r.stderr, /line 11: not valid JSON; skipped/);
  const missing = await runCli('tune', 'conv2d', '--shape', SHAPE, '--trials', '2', '--history', join(tmp, 'none.jsonl'));
  assert.is(missing.code, 1);
  assert.match(missing.stderr.trim(), /^vtw: .*does not exist/);
});

test('bad input: a missing log, --tuned with --knobs, an unknown strategy: one line, non-zero exit', async () => {
  const missing = await runCli('op', 'conv2d', '--shape', SHAPE, '--tuned', join(tmp, 'nope.jsonl'));
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /^vtw: error: tuning log .*nope\.jsonl does not exist/);
  const both = await runCli('op', 'conv2d', '--shape', SHAPE, '--tuned', join(tmp, 'vta.jsonl'), '--knobs', '{"tile_h":1}');
  assert.ok(both.code !== 0);
  assert.match(both.stderr, /--tuned and --knobs/);
  const strat = await runCli('tune', 'conv2d', '--shape', SHAPE, '--strategy', 'annealing');
  assert.ok(strat.code !== 0);
  assert.is(strat.stderr.trim().split('\n').length, 1, strat.stderr);
});

test.run();
