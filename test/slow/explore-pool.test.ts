/**
 * `vtw explore`'s slower parts (npm run test:slow): the worker pool (2 worker threads) gives the
 * same results as one worker in this process (also when a worker dies mid-sweep), and generic synthesis (yosys) measures a point's
 * cells and memory bits. The fast tests are test/explore.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveConfig } from '../../src/config/index.ts';
import { checkSpace } from '../../explore/space.ts';
import { explore, type PointRecord } from '../../explore/run.ts';
import { genericArea } from '../../explore/generic-area.ts';
import { generateDesign } from '../../hw/gen.ts';
import { yosys } from '../../hw/yosys.ts';

const root = join(import.meta.dirname, '..', '..');
const tiny = JSON.parse(readFileSync(join(root, 'examples/space-tiny.json'), 'utf8'));
const scratch = mkdtempSync(join(tmpdir(), 'vtw-explore-slow-'));
const readRecords = (dir: string): PointRecord[] => readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('2 worker threads give the same results as 1 worker in this thread', async () => {
  const space = checkSpace(tiny);
  const one = await explore(space, { out: join(scratch, 'w1'), workers: 1, progress: false });
  const two = await explore(space, { out: join(scratch, 'w2'), workers: 2, progress: false });
  assert.equal({ ...two.summary, seconds: 0, out: '' }, { ...one.summary, seconds: 0, out: '' });
  assert.equal(readRecords(join(scratch, 'w2')), readRecords(join(scratch, 'w1')));
});

test('a worker killed mid-sweep: its point goes to another worker, the results are the same', async () => {
  const space = checkSpace(tiny);
  const marker = join(scratch, 'died');
  process.env.VTW_EXPLORE_DIE_ONCE = `3:${marker}`;
  try {
    const r = await explore(space, { out: join(scratch, 'killed'), workers: 2, progress: false });
    assert.ok(existsSync(marker), 'a worker died on point 3');
    assert.is(r.summary.evaluated, 3);
  } finally {
    delete process.env.VTW_EXPLORE_DIE_ONCE;
  }
  assert.equal(readRecords(join(scratch, 'killed')), readRecords(join(scratch, 'w1')));
});

test('generic synthesis: cells and memory bits of a small point, cached by the second run', async () => {
  const space = checkSpace({
    ...tiny, vary: { LOG_BLOCK: [1] }, fixed: { ...tiny.fixed, LOG_WGT_BUFF_SIZE: 8, LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_ACC_BUFF_SIZE: 10 },
    measure: { area: 'generic' }, objectives: { area_cells: 'min', cycles: 'min' }, reference: undefined,
  });
  const out = join(scratch, 'generic');
  const first = await explore(space, { out, workers: 1, progress: false });
  const [r] = readRecords(out);
  assert.is(r.status, 'ok', r.reason);
  const d = deriveConfig({ ...space.fixed, ...r.point });
  const sramBits = Object.values(d.buffBytes).reduce((a, b) => a + b, 0) * 8;
  assert.ok(r.metrics.memory_bits >= sramBits, `yosys memories (${r.metrics.memory_bits} bits) hold at least the five buffers (${sramBits} bits)`);
  assert.ok(r.metrics.area_cells > d.multipliers * d.inpWidth, `${r.metrics.area_cells} cells`);
  assert.is(first.summary.pareto, 1);
  const again = await explore(space, { out, workers: 1, progress: false });
  assert.is(again.summary.cached, 1);
  assert.equal(readRecords(out)[0].metrics, r.metrics);
});

test('generic area module by module: within 5 % of the flattened synthesis, the same memory bits; a point with another accumulator buffer reuses the GEMM and ALU', async () => {
  const small = { TARGET: 'sim', LOG_BLOCK: 1, LOG_WGT_BUFF_SIZE: 8, LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_ACC_BUFF_SIZE: 10 };
  const cache = mkdtempSync(join(tmpdir(), 'vtw-generic-'));
  const { files, manifest } = generateDesign(deriveConfig(small), 'generic');
  const a = await genericArea(files, manifest.top, cache);
  assert.is(a.synthesized, Object.keys(files).length, 'every module synthesized once');
  const top = manifest.top;
  const reads = Object.keys(files).map((f) => `read_verilog ${f}`).join('; ');
  const flat = await yosys(`${reads}; synth -flatten -top ${top} -run begin:coarse; proc; flatten; tee -q -o mem.txt stat; ` +
    `synth -flatten -top ${top} -run coarse:fine; opt -fast -full; techmap; opt -fast; tee -q -o cells.txt stat`, files);
  const count = (f: string, what: string) => Number([...String(flat.files[f]).matchAll(new RegExp(`Number of ${what}:\\s+(\\d+)`, 'g'))].pop()![1]);
  const flatCells = count('cells.txt', 'cells');
  assert.ok(Math.abs(a.cells - flatCells) / flatCells < 0.05, `per module ${a.cells} cells, flattened ${flatCells}`);
  assert.is(a.memory_bits, count('mem.txt', 'memory bits'));
  const other = generateDesign(deriveConfig({ ...small, LOG_ACC_BUFF_SIZE: 11 }), 'generic');
  const b = await genericArea(other.files, other.manifest.top, cache);
  assert.equal(b.modules.M_gemm, a.modules.M_gemm);
  assert.ok(b.synthesized < Object.keys(other.files).length - 2, `${b.synthesized} modules synthesized again (not the GEMM, the ALU, ...)`);
  // the accumulator buffer doubled (1 KiB more), and the output buffer (a quarter of its bytes) with it
  assert.is(b.modules.M_sram_acc.memory_bits - a.modules.M_sram_acc.memory_bits, (2 ** 11 - 2 ** 10) * 8);
  assert.is(b.modules.M_sram_out.memory_bits - a.modules.M_sram_out.memory_bits, ((2 ** 11 - 2 ** 10) * 8) / 4);
});

test.run();
