/**
 * `vtw explore` (explore/, docs/explore.md): the tiny example space end to end in this process
 * (grid, an invalid point, a workload that does not fit, the cache on a second and an interrupted
 * run), bad space files, constraint expressions, random search, and the Pareto front against a
 * brute-force check. The worker pool and generic synthesis are in test/slow/explore-pool.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveConfig } from '../src/config/index.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { Rng } from '../src/util/rng.ts';
import { checkSpace, loadSpace, SpaceError } from '../explore/space.ts';
import { explore, type PointRecord } from '../explore/run.ts';
import { paretoFront, type Objective } from '../explore/pareto.ts';
import { parseExpr, ExprError } from '../explore/expr.ts';
import { configOf as configOfPoint, pointAt, searchIndices } from '../explore/points.ts';
import { PRESETS } from '../src/config/presets.ts';
import { main } from '../src/cli/main.ts';

const root = join(import.meta.dirname, '..');
const tiny = JSON.parse(readFileSync(join(root, 'examples/space-tiny.json'), 'utf8'));
const scratch = mkdtempSync(join(tmpdir(), 'vtw-explore-'));
const readRecords = (dir: string): PointRecord[] => readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const configOf = (r: PointRecord) => ({ ...tiny.fixed, ...r.point });
const [H, W, CI, CO, K] = [8, 8, 8, 8, 3]; // tiny's workload conv2d:8,8,8,8,3,1,1

test('the tiny space: 4 grid points, an invalid configuration, a workload that does not fit, a Pareto front', async () => {
  const out = join(scratch, 'tiny');
  // Energy = MACs only (1 pJ each): the estimate must then equal the convolution's multiply-accumulates.
  const space = checkSpace({ ...tiny, energy: { dram_pj_per_byte: 0, sram_read_pj_per_byte: 0, sram_write_pj_per_byte: 0, alu_op_pj: 0, mac_pj: 1 } });
  const { summary } = await explore(space, { out, workers: 1, progress: false });
  const recs = readRecords(out);
  assert.equal(recs.map((r) => r.id), [0, 1, 2, 3]);
  assert.equal(recs.map((r) => r.point), [
    { LOG_BLOCK: 1, LOG_WGT_BUFF_SIZE: 4 }, { LOG_BLOCK: 1, LOG_WGT_BUFF_SIZE: 10 }, { LOG_BLOCK: 2, LOG_WGT_BUFF_SIZE: 4 }, { LOG_BLOCK: 2, LOG_WGT_BUFF_SIZE: 10 },
  ]);
  // The invalid point carries src/config's own message.
  let why = '';
  try {
    deriveConfig(configOf(recs[2]));
  } catch (e) {
    why = (e as Error).message;
  }
  assert.ok(why, 'point 2 is an invalid configuration');
  assert.is(recs[2].status, 'infeasible');
  assert.is(recs[2].reason, `config: ${why}`);
  // Point 0 is valid, but the compiler cannot fit the convolution's weights: recorded, not a crash.
  assert.throws(() => compileConv2d({ batch: 1, h: H, w: W, cin: CI, cout: CO, k: K, pad: 1, stride: 1, groups: 1, shift: 8, bias: false }, deriveConfig(configOf(recs[0]))));
  assert.is(recs[0].status, 'failed');
  assert.is(recs[0].workloads[0].status, 'error');
  assert.match(recs[0].reason!, /does not fit/);
  for (const r of [recs[1], recs[3]]) {
    assert.is(r.status, 'ok');
    const d = deriveConfig(configOf(r));
    assert.is(r.metrics.multipliers, d.batch * d.blockIn * d.blockOut);
    assert.ok(r.metrics.cycles >= (H * W * CI * CO * K * K) / d.multipliers, 'no faster than the GEMM array allows');
    assert.is(Math.round(r.metrics.energy_uj * 1e6), H * W * CI * CO * K * K, 'MAC energy = the convolution\'s MACs');
    assert.is(r.metrics.latency_us, +(r.metrics.cycles / d.clockMhz).toFixed(3));
  }
  assert.ok(recs[3].metrics.cycles < recs[1].metrics.cycles, 'the 1x4 array is faster than the 1x2');
  assert.equal({ ...summary, seconds: 0, out: '' }, { points: 4, evaluated: 3, infeasible: 1, failed: 1, cached: 0, pareto: 2, frontIds: [1, 3], reference: { id: 1, on_front: true, dominated_by: [] }, seconds: 0, out: '' });
  const pareto = JSON.parse(readFileSync(join(out, 'pareto.json'), 'utf8'));
  assert.equal(pareto.front.map((f: { id: number }) => f.id), [1, 3]);
  const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
  assert.is(csv.length, 5);
  assert.ok(csv[0].startsWith('id,status,LOG_BLOCK,LOG_WGT_BUFF_SIZE,variant,'));

  // Second run: every measurement from the cache, same results.
  const again = await explore(space, { out, workers: 1, progress: false });
  assert.is(again.summary.cached, 3);
  const strip = (rs: PointRecord[]) => rs.map((r) => ({ ...r, cached: false }));
  assert.equal(strip(readRecords(out)), strip(recs));

  // An interrupted sweep: the cache holds one entry and half a line; the rest is measured again.
  const lines = readFileSync(join(out, 'cache.jsonl'), 'utf8').trim().split('\n');
  assert.is(lines.length, 6, 'an area estimate and one workload layer per evaluated point');
  writeFileSync(join(out, 'cache.jsonl'), `${lines[0]}\n${lines[1]}\n${lines[2].slice(0, 20)}`);
  const resumed = await explore(space, { out, workers: 1, progress: false });
  assert.is(resumed.summary.cached, 1);
  assert.equal(strip(readRecords(out)), strip(recs));
});

test('measure.timeout_s: a synthesis past its limit makes the point failed (not infeasible), is cached, and is tried again under a longer limit', async () => {
  const out = join(scratch, 'limit');
  // one valid point; yosys cannot load, let alone synthesize it, within 1 s of a fresh process
  const one = { ...tiny, vary: { LOG_BLOCK: [2] }, fixed: { ...tiny.fixed, LOG_WGT_BUFF_SIZE: 10 }, reference: undefined, objectives: { area_cells: 'min', cycles: 'min' } };
  const run = async (timeout_s: number) => {
    const { summary } = await explore(checkSpace({ ...one, measure: { area: 'generic', timeout_s } }), { out, workers: 1, progress: false, force: true });
    return { summary, rec: readRecords(out)[0] };
  };
  const first = await run(1);
  assert.is(first.rec.status, 'failed');
  assert.is(first.rec.reason, 'area (generic): generic synthesis did not finish within measure.timeout_s = 1 s');
  assert.is(first.summary.failed, 1);
  const again = await run(1);
  assert.ok(again.rec.cached && again.rec.reason === first.rec.reason, 'the same limit answers from the cache');
  const longer = await run(2);
  assert.is(longer.rec.reason, 'area (generic): generic synthesis did not finish within measure.timeout_s = 2 s', 'measured again under the longer limit');
});

test('random search: a budget of distinct grid points, the same for the same seed', () => {
  const space = checkSpace({ ...tiny, vary: { LOG_BLOCK: { from: 1, to: 3 }, LOG_WGT_BUFF_SIZE: { from: 2, to: 16, pow2: true } }, search: { budget: 5, seed: 7 }, reference: undefined });
  assert.is(space.size, 3 * 4);
  assert.equal(space.vary[0].values, [1, 2, 3]);
  assert.equal(space.vary[1].values, [2, 4, 8, 16]);
  assert.is(space.search.strategy, 'random');
  const a = searchIndices(space);
  assert.is(a.length, 5);
  assert.is(new Set(a).size, 5);
  assert.ok(a.every((i) => i >= 0 && i < 12));
  assert.equal(searchIndices(space), a);
  // A reference point the sample lacks is evaluated first; "default" is src/config's defaults.
  const missing = [...Array(12).keys()].find((i) => !a.includes(i))!;
  const withRef = checkSpace({ ...tiny, vary: { LOG_BLOCK: { from: 1, to: 3 }, LOG_WGT_BUFF_SIZE: { from: 2, to: 16, pow2: true } }, search: { budget: 5, seed: 7 }, reference: { LOG_BLOCK: 1 + Math.floor(missing / 4), LOG_WGT_BUFF_SIZE: 2 ** (1 + (missing % 4)) } });
  assert.equal(searchIndices(withRef), [missing, ...a]);
  const def = checkSpace({ ...tiny, vary: { LOG_BLOCK: [3, 4], LOG_BATCH: [0, 1] }, fixed: { TARGET: 'sim' }, reference: 'default' });
  assert.is(def.reference, 1 * 2 + 0, 'LOG_BLOCK 4 (index 1), LOG_BATCH 0 (index 0)');
});

const bad = (patch: Record<string, unknown>, pattern: RegExp) => {
  try {
    checkSpace({ ...tiny, ...patch });
  } catch (e) {
    assert.instance(e, SpaceError);
    const m = (e as Error).message;
    assert.not.match(m, /\n/);
    assert.match(m, pattern);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(patch)}`);
};

test('examples/space-vta.json: 512 grid points, 112 drawn (>= 64 of them valid under the constraints), VTA\'s default as the reference', () => {
  const s = loadSpace(join(root, 'examples/space-vta.json'));
  assert.is(s.size, 512);
  const idx = searchIndices(s);
  assert.ok(idx.length >= 112 && new Set(idx).size === idx.length);
  const valid = idx.filter((i) => {
    try {
      const d = deriveConfig(configOfPoint(s, pointAt(s, i)));
      return d.multipliers <= 256;
    } catch {
      return false;
    }
  });
  assert.ok(valid.length >= 64, `${valid.length} valid points`);
  assert.ok(idx.includes(s.reference!));
  const ref = deriveConfig({ ...s.fixed, ...Object.fromEntries(s.vary.map((v, i) => [v.key, v.values[Math.floor(s.reference! / s.vary.slice(i + 1).reduce((n, w) => n * w.values.length, 1)) % v.values.length]])) });
  assert.is(ref.variant, deriveConfig({ TARGET: 'sim' }).variant);
});

test('examples/space-ice40.json: >= 16 of 64 points on two boards, a varied group of keys per board, the up5k-1x2 preset\'s core (weight buffer 512 B) as the reference', () => {
  const s = loadSpace(join(root, 'examples/space-ice40.json'));
  assert.is(s.size, 64);
  assert.is(s.measure.area, 'ice40');
  const idx = searchIndices(s);
  assert.ok(idx.length >= 16 && idx.includes(s.reference!));
  const configs = idx.map((i) => deriveConfig(configOfPoint(s, pointAt(s, i))));
  // both boards drawn, each point with its board's DSP budget
  for (const b of ['icebreaker', 'hx8k-breakout']) assert.ok(configs.some((d) => d.board === b), b);
  for (const d of configs) assert.is(d.dspBudget, d.board === 'icebreaker' ? 8 : 0);
  // the reference point is the iCEBreaker preset's core, whatever order the group's keys are written in
  const ref = deriveConfig(configOfPoint(s, pointAt(s, s.reference!)));
  // ... with a 512 B weight buffer, so that LeNet's 5x5 kernels fit a 1x4 GEMM's tiles
  assert.is(ref.variant, deriveConfig({ ...PRESETS.find((p) => p.name === 'up5k-1x2')!.json, LOG_WGT_BUFF_SIZE: 9 }).variant);
});

test('bad space files: one line naming the problem', () => {
  bad({ varry: {} }, /unknown key 'varry' \(did you mean vary\?\)/);
  bad({ vary: {} }, /vary must be an object with at least one config key/);
  bad({ vary: { LOG_BLOCK: [] } }, /vary\.LOG_BLOCK lists no values: the space would be empty/);
  bad({ vary: { LOG_BLOK: [1] } }, /unknown config key LOG_BLOK \(did you mean LOG_BLOCK\?\)/);
  bad({ vary: { LOG_BLOCK: [1, 9] } }, /vary\.LOG_BLOCK\[1\]: config key LOG_BLOCK = 9 is invalid/);
  bad({ vary: { LOG_BLOCK: { from: 3, to: 1 } } }, /to \(1\) is below from \(3\)/);
  bad({ fixed: { LOG_BLOCK: 2 } }, /LOG_BLOCK is both in vary and in fixed/);
  bad({ constraints: ['MACS <= 4'] }, /unknown name 'MACS' \(did you mean MACs\?\)/);
  bad({ constraints: ['process.exit(1)'] }, /constraints\[0\]/);
  bad({ workloads: ['conv2d:8,8,8'] }, /is not a workload/);
  bad({ workloads: ['resnet50'] }, /is not a workload.*resnet18, mobilenet/);
  bad({ workloads: [] }, /workloads must be a non-empty list/);
  bad({ objectives: { cycels: 'min' } }, /unknown metric 'cycels' \(did you mean cycles\?\)/);
  bad({ objectives: { area_cells: 'min' } }, /objectives\.area_cells needs measure\.area generic/);
  bad({ measure: { area: 'iCE40' } }, /measure\.area 'iCE40' is not one of generic, estimate, ice40, none/);
  bad({ measure: { area: 'ice40' } }, /measure\.area "ice40" needs "TARGET": "ice40" in fixed/);
  bad({ measure: { area: 'generic', seed: 2 } }, /measure\.seed is the place-and-route seed of measure\.area "ice40"/);
  bad({ measure: { area: 'estimate', timeout_s: 60 } }, /measure\.timeout_s limits a synthesis/);
  bad({ measure: { area: 'generic', timeout_s: 0 } }, /measure\.timeout_s/);
  bad({ vary: { board: [{ BOARD: 'icebreaker', DSP_BUDGET: 8 }, { BOARD: 'hx8k-breakout' }] } }, /vary\.board\[1\] must set the same keys as vary\.board\[0\] \(BOARD, DSP_BUDGET\)/);
  bad({ vary: { LOG_BLOCK: [1, 2], pair: [{ LOG_BLOCK: 1 }] } }, /LOG_BLOCK is varied twice/);
  bad({ vary: { pair: [{ LOG_BLOKC: 1 }] } }, /vary\.pair\[0\]\.LOG_BLOKC: unknown config key/);
  bad({ energy: { dram: 1 } }, /energy: unknown key 'dram'/);
  bad({ search: { strategy: 'random' } }, /needs search\.budget/);
  bad({ reference: 'default' }, /reference: LOG_BLOCK = 4 is not one of vary\.LOG_BLOCK's values/);
  bad({ reference: { LOG_BATCH: 0 } }, /reference: unknown key 'LOG_BATCH'/);
  const f = join(scratch, 'broken.json');
  writeFileSync(f, '{"vary": {"LOG_BLOCK": [1, 2]},');
  assert.throws(() => loadSpace(f), (e: Error) => e instanceof SpaceError && /is not valid JSON/.test(e.message));
});

test('vtw explore with a bad space file: one error line, exit 1, no output folder', async () => {
  const f = join(scratch, 'unknown-key.json');
  writeFileSync(f, JSON.stringify({ ...tiny, budget: 3 }));
  const out = join(scratch, 'never');
  const write = process.stderr.write.bind(process.stderr);
  let err = '';
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['explore', f, '--out', out]);
  } finally {
    process.stderr.write = write;
  }
  assert.is(code, 1);
  assert.is(err.trim().split('\n').length, 1, err);
  assert.match(err, /^vtw: error: space file .*: top level: unknown key 'budget'/);
  assert.throws(() => readFileSync(join(out, 'results.jsonl')));
});

test('constraint expressions: precedence, booleans, derived names; no evaluation of anything else', () => {
  const env = (vals: Record<string, number>) => (n: string) => vals[n];
  assert.is(parseExpr('MACs <= 8 * 2 + 1').eval(env({ MACs: 17 })), true);
  assert.is(parseExpr('MACs <= 8 * (2 + 1)').eval(env({ MACs: 25 })), false);
  assert.is(parseExpr('LOG_BATCH + LOG_BLOCK <= 4 && !ALU_MUL').eval(env({ LOG_BATCH: 1, LOG_BLOCK: 3, ALU_MUL: 0 })), true);
  assert.is(parseExpr('-LOG_BLOCK < -3 || BATCH == 2').eval(env({ LOG_BLOCK: 3, BATCH: 2 })), true);
  assert.is(parseExpr('SRAM_BYTES % 1024 != 0').eval(env({ SRAM_BYTES: 4096 })), false);
  for (const s of ['', 'MACs <=', '(MACs', 'MACs; 1', 'constructor', 'MACs <= 4)']) assert.throws(() => parseExpr(s), (e: Error) => e instanceof ExprError, s);
});

test('Pareto front = brute force (no other point at least as good everywhere and better somewhere)', () => {
  const rng = new Rng(16);
  for (let trial = 0; trial < 50; trial++) {
    const nObj = rng.int(1, 3);
    const objectives: Objective[] = Array.from({ length: nObj }, (_, i) => ({ metric: `m${i}`, goal: rng.bool() ? 'min' : 'max' }));
    // small integer ranges so ties and duplicates happen
    const pts = Array.from({ length: rng.int(1, 40) }, (_, id) => ({ id, m: Object.fromEntries(objectives.map((o) => [o.metric, rng.int(0, 6)])) as Record<string, number> }));
    const better = (x: number, y: number, o: Objective) => (o.goal === 'min' ? x < y : x > y);
    const brute = pts.filter((p) => !pts.some((q) => objectives.every((o) => !better(p.m[o.metric], q.m[o.metric], o)) && objectives.some((o) => better(q.m[o.metric], p.m[o.metric], o))));
    const front = paretoFront(pts, objectives, (p, k) => p.m[k]);
    assert.equal(front.map((p) => p.id), brute.map((p) => p.id), JSON.stringify({ objectives, pts }));
  }
});

test.run();
