/**
 * The PaddleOCR classifier int8 on VTA (compiler/models/ocr-eval.ts vtaRunner): quantized on a few
 * rendered lines, its QConv / QDense / QAdd / QMaxPool nodes compiled for the default configuration
 * and run on the TypeScript simulator, the rest on the TS host. The outputs equal the quantized
 * graph on the plain reference kernels bit for bit, and on unseen lines the labels agree with
 * onnxruntime fp32 (the full 200-line figure comes from `npm run eval`, docs/benchmarks.md).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderTextLines, textLinesMissing } from '../compiler/data/text-lines.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { evalClassifier, ortRunner, vtaRunner } from '../compiler/models/ocr-eval.ts';
import { clsInput, paddleOcrMissing } from '../compiler/models/paddleocr.ts';
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

test.run();
