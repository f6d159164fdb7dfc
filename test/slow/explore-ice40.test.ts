/**
 * `measure.area: ice40` (npm run test:slow; about 3 minutes of CPU): two iCEBreaker points through
 * real iCE40 synthesis and place and route. The up5k-1x2 preset's core fits (its logic cells,
 * DSPs, SPRAMs and fmax recorded); the same core with a 1x4 GEMM does not (docs/fpga.md: it needs
 * more logic cells than the UP5K has), which the sweep records as an infeasible point with the fit
 * error's numbers. A second run answers from the cache.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpace } from '../../explore/space.ts';
import { explore } from '../../explore/run.ts';
import { PRESETS } from '../../src/config/presets.ts';

const { LOG_BLOCK: _block, ...up5k } = PRESETS.find((p) => p.name === 'up5k-1x2')!.json;

test('ice40 area: the up5k-1x2 core fits the iCEBreaker with its numbers; its 1x4 variant is infeasible with the fit error', async () => {
  const space = checkSpace({
    name: 'ice40-two', vary: { LOG_BLOCK: [1, 2] }, fixed: up5k, workloads: ['conv2d:8,8,8,8,3,1,1'],
    measure: { area: 'ice40' }, objectives: { logic_cells: 'min', latency_us: 'min' },
  });
  const out = join(mkdtempSync(join(tmpdir(), 'vtw-explore-ice40-')), 'out');
  const { records, summary } = await explore(space, { out, workers: 2, progress: false });
  const [fits, over] = records;
  console.log(`    1x2: ${JSON.stringify(fits.metrics)}\n    1x4: ${over.reason}`);
  assert.is(fits.status, 'ok');
  assert.ok(fits.metrics.logic_cells > 1000 && fits.metrics.logic_cells <= 5280, String(fits.metrics.logic_cells));
  assert.is(fits.metrics.spram_blocks, 4);
  assert.ok(fits.metrics.dsps >= 2 && fits.metrics.dsps <= 8);
  assert.ok(fits.metrics.fmax_mhz >= 12, `fmax ${fits.metrics.fmax_mhz}`);
  assert.is(fits.metrics.latency_fmax_us, +(fits.metrics.cycles / fits.metrics.fmax_mhz).toFixed(3));
  assert.is(over.status, 'infeasible');
  assert.match(over.reason!, /does not fit icebreaker \(iCE40UP5K\): logic cells: needs \d+, the iCE40UP5K has 5280/);
  assert.equal(summary.frontIds, [0]);
  const t0 = performance.now();
  const again = await explore(space, { out, workers: 1, progress: false });
  assert.is(again.summary.cached, 2);
  assert.ok((performance.now() - t0) / 1000 < 5);
  assert.equal(again.records.map((r) => r.metrics), records.map((r) => r.metrics));
});

test.run();
