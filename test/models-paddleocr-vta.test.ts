/**
 * The PaddleOCR classifier int8 on VTA (compiler/models/ocr-eval.ts vtaRunner): quantized on a few
 * rendered lines, its QConv / QDense / QAdd / QMaxPool nodes compiled for the default configuration
 * and run on the TypeScript simulator, the rest on the TS host. The outputs equal the quantized
 * graph on the plain reference kernels bit for bit, and on unseen lines the labels agree with
 * onnxruntime fp32 (the full 200-line figure comes from `npm run eval`, docs/benchmarks.md).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderTextLines, textLinesMissing, type TextLine } from '../compiler/data/text-lines.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { evalClassifier, ortRunner, vtaRunner } from '../compiler/models/ocr-eval.ts';
import { clsInput, clsLabel, paddleOcrMissing, paddleOcrPath } from '../compiler/models/paddleocr.ts';
import { runCli } from './helpers/cli.ts';
import { loadConfig } from '../src/config/load.ts';
import { testNeeding } from './helpers/tools.ts';

const modelTest = testNeeding(() => paddleOcrMissing() ?? textLinesMissing());

modelTest('classifier int8 on VTA (default, ts): bit-exact with the reference kernels, labels agree with onnxruntime on unseen lines', async () => {
  const calibration = [...renderTextLines(8, { seed: 500 }), ...renderTextLines(8, { seed: 500, rotate180: true })];
  const vta = await vtaRunner('cls', {
    d: loadConfig('default'), configName: 'default', calibration, quant: { method: 'percentile' }, run: { engine: 'ts', host: TS_HOST },
  });
  const part = vta.compiled.partition;
  assert.ok(part.offloadedMacsFraction > 0.9, `only ${part.offloadedMacsFraction} of the MACs run on VTA`);
  const lines = [...renderTextLines(6, { seed: 21 }), ...renderTextLines(6, { seed: 21, rotate180: true })];
  // VTA computes what the reference kernels compute, on real data
  for (const l of lines.slice(0, 2)) {
    const x = clsInput(l.rgba);
    const want = runGraph(vta.compiled.graph, new Map([['x', x]]), TS_HOST).outputs.get(vta.compiled.graph.outputs[0])!.data;
    assert.equal(Array.from(await vta.run(x)), Array.from(want), `${l.text}: VTA differs from the reference kernels`);
  }
  const r = await evalClassifier(lines, vta.run, await ortRunner('cls'));
  console.log(`cls int8 on VTA: agreement ${r.agreement} on ${r.lines} lines, ${Math.round(vta.totals.cycles / vta.totals.runs)} cycles/line, ${(part.offloadedMacsFraction * 100).toFixed(1)} % of MACs offloaded`);
  assert.ok(r.agreement >= 10 / 12, `int8 on VTA agrees with onnxruntime on ${r.agreement} of the lines`);
});

modelTest('vtw model compile / run --preprocess paddleocr-cls: rendered PNG lines calibrate, a new line reads upright and turned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-ocr-cli-'));
  try {
    const save = (path: string, l: TextLine) => {
      const p = new PNG({ width: l.rgba.width, height: l.rgba.height });
      p.data.set(l.rgba.data);
      writeFileSync(path, PNG.sync.write(p));
    };
    mkdirSync(join(dir, 'cal'));
    renderTextLines(4, { seed: 600 }).forEach((l, i) => save(join(dir, 'cal', `u${i}.png`), l));
    renderTextLines(4, { seed: 600, rotate180: true }).forEach((l, i) => save(join(dir, 'cal', `t${i}.png`), l));
    const artifact = join(dir, 'cls.vtwm');
    const c = await runCli('model', 'compile', paddleOcrPath('cls'), '--config', 'default', '--input', 'x=1x3x48x192', '--calib', join(dir, 'cal'), '--preprocess', 'paddleocr-cls', '--method', 'percentile', '-o', artifact);
    assert.is(c.code, 0, c.stderr);
    const ort = await ortRunner('cls');
    for (const l of [renderTextLines(1, { seed: 31 })[0], renderTextLines(1, { seed: 31, rotate180: true })[0]]) {
      const png = join(dir, `line${l.label}.png`);
      save(png, l);
      const r = await runCli('model', 'run', artifact, '--input', png, '--preprocess', 'paddleocr-cls', '--json');
      assert.is(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      const want = clsLabel(await ort(clsInput(l.rgba))).label === 0 ? 'upright' : 'turned 180°';
      assert.is(out.label, want, `${l.text}: the CLI says ${out.label}, onnxruntime ${want}`);
      assert.ok(out.vta_cycles > 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
