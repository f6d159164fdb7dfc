/**
 * PaddleOCR on rendered text lines (compiler/models/paddleocr.ts, compiler/models/ocr-eval.ts): our
 * importer + TS_HOST fp32 gives onnxruntime-node's classifier labels and recognizer texts, with
 * probabilities within 1e-4 (classifier) and 5e-4 (recognizer); the pre- and post-processing read the lines (the true labels and texts
 * come back), so a wrong channel order, normalization or dictionary offset would fail here. Plus
 * the pieces on their own: input layout and padding, CTC decoding, edit distance.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderTextLines, textLinesMissing } from '../compiler/data/text-lines.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { evalClassifier, evalRecognizer, hostRunner, ocrGraph, ortRunner, type Runner } from '../compiler/models/ocr-eval.ts';
import { checkOcrEvalOptions } from '../scripts/eval-ocr.ts';
import { collectStats } from '../compiler/quant/calibrate.ts';
import { scaleConvChannels } from '../compiler/quant/equalize.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type WasmTargetSpec } from '../compiler/target/target.ts';
import { loadConfig } from '../src/config/load.ts';
import { charErrorRate, clsInput, clsLabel, ctcGreedyDecode, editDistance, loadRecDict, paddleOcrMissing, recInput, REC_STEP } from '../compiler/models/paddleocr.ts';
import { testNeeding } from './helpers/tools.ts';

const modelTest = testNeeding(() => paddleOcrMissing() ?? textLinesMissing());
const SEED = 11;

modelTest('classifier on 10 lines (5 texts upright and turned): our fp32 labels equal onnxruntime\'s, probabilities within 1e-4, and the labels are right', async () => {
  const lines = [...renderTextLines(5, { seed: SEED }), ...renderTextLines(5, { seed: SEED, rotate180: true })];
  const r = await evalClassifier(lines, await hostRunner('cls', TS_HOST), await ortRunner('cls'));
  console.log(`cls: agreement ${r.agreement}, accuracy ${r.accuracy} (onnxruntime ${r.accuracyOracle}), max |Δp| ${r.maxAbsDiff.toExponential(2)}`);
  assert.is(r.agreement, 1);
  assert.ok(r.maxAbsDiff <= 1e-4, `${r.maxAbsDiff}`);
  assert.ok(r.accuracyOracle >= 0.8, `the classifier got ${r.accuracyOracle} of its own lines right: the preprocessing is off`);
});

modelTest('channel scaling and calibration on a compiled host (wasm: fused loops, planned kernels) record the same ranges as on the TS host', async () => {
  // the tap sees each node's outputs when its kernel returns (a fused group computes them later), and
  // channel scaling rewrites conv weights after the host has run the graph: both need the target's
  // observable form (HostTarget.observable)
  const d = loadConfig('default');
  const samples = [...renderTextLines(1, { seed: SEED }), ...renderTextLines(1, { seed: SEED, rotate180: true })].map((l) => clsInput(l.rgba));
  const wasm = compiledHost(parseTarget('wasm', d) as WasmTargetSpec, d);
  const [gTs, gWasm] = [ocrGraph('cls'), ocrGraph('cls')];
  await wasm.prepare!(gWasm);
  runGraph(gWasm, new Map([['x', samples[0]]]), wasm);
  const scaled = [scaleConvChannels(gTs, samples, TS_HOST), scaleConvChannels(gWasm, samples, wasm)];
  assert.equal(scaled[1], scaled[0]);
  const [ts, compiled] = [await collectStats(gTs, samples, TS_HOST), await collectStats(gWasm, samples, wasm)];
  assert.is(compiled.values.size, ts.values.size);
  for (const [name, s] of ts.values) {
    const c = compiled.values.get(name);
    assert.ok(c && c.absMax === s.absMax && c.count === s.count && c.zeros === s.zeros, `${name}: max |x| ${c?.absMax} on wasm, ${s.absMax} on ts`);
  }
});

modelTest('recognizer on 4 lines bound at width 256: our fp32 texts equal onnxruntime\'s, probabilities within 5e-4, and read the true texts', async () => {
  // 256 instead of PaddleOCR's 320 keeps the test short (the cost grows with the width); these lines fit unsqueezed
  const width = 256;
  const lines = renderTextLines(4, { seed: SEED });
  for (const l of lines) assert.ok(l.rgba.width <= width, `${l.text} is ${l.rgba.width} wide`);
  const r = await evalRecognizer(lines, await hostRunner('rec', TS_HOST, width), await ortRunner('rec'), loadRecDict(), width);
  console.log(`rec: ${r.textsEqual}/${r.lines} texts equal, CER vs onnxruntime ${r.cerVsOracle}, vs truth ${r.cerVsTruth}; ${r.texts.map((t) => JSON.stringify(t.candidate)).join(' ')}`);
  assert.is(r.textsEqual, r.lines);
  assert.is(r.cerVsOracle, 0);
  // 40 steps x 6625 probabilities after 2 transformer blocks: 1.8e-4 was the largest over 100 lines
  assert.ok(r.maxAbsDiff <= 5e-4, `${r.maxAbsDiff}`);
  assert.ok(r.cerVsTruth <= 0.1, `CER vs the true texts ${r.cerVsTruth}: the pre- or post-processing is off`);
});

modelTest('recognizer figures: cerVsOracleTrimmed leaves out spaces at the ends, cerVsOracle counts them; eval scripts check --rec <= --texts first', async () => {
  // a dictionary of three symbols after CTC's blank: the oracle reads "ab", the candidate " ab  " (a space before, two after)
  const dict = ['', 'a', 'b', ' '];
  const width = 64;
  const steps = width / REC_STEP;
  const output = (classes: number[]): Runner => async () => {
    const p = new Float32Array(steps * 4);
    for (let t = 0; t < steps; t++) p[t * 4 + (classes[t] ?? 0)] = 1;
    return p;
  };
  const lines = renderTextLines(2, { seed: SEED });
  const oracle = output([1, 0, 2]);
  const r = await evalRecognizer(lines, output([3, 1, 2, 3, 0, 3]), oracle, dict, width);
  assert.equal(r.texts.map((t) => [t.candidate, t.oracle]), [[' ab  ', 'ab'], [' ab  ', 'ab']]);
  assert.is(r.cerVsOracle, 3 / 2);
  assert.is(r.cerVsOracleTrimmed, 0);
  assert.is((await evalRecognizer(lines, oracle, oracle, dict, width)).cerVsOracleTrimmed, 0);
  const why = (() => {
    try {
      checkOcrEvalOptions({ texts: 20, recLines: 60 });
      return 'no error';
    } catch (e) {
      return (e as Error).message;
    }
  })();
  assert.match(why, /--rec 60 is more than --texts 20.*raise --texts to at least 60/);
});

test('input: height 48, aspect ratio kept, BGR planes normalized to [-1, 1], zero padding on the right', () => {
  // a 96x48 image of pure red on the left half, white on the right: resized to 96 wide, padded to 192
  const w = 96;
  const data = new Uint8Array(4 * w * 48);
  for (let p = 0; p < w * 48; p++) data.set((p % w) < w / 2 ? [255, 0, 0, 255] : [255, 255, 255, 255], 4 * p);
  const x = clsInput({ width: w, height: 48, data });
  assert.equal(x.shape, [1, 3, 48, 192]);
  const at = (c: number, y: number, xx: number) => x.data[c * 48 * 192 + y * 192 + xx];
  assert.equal([at(0, 10, 5), at(1, 10, 5), at(2, 10, 5)], [-1, -1, 1]); // B, G, R of red
  assert.equal([at(0, 10, 90), at(1, 10, 90), at(2, 10, 90)], [1, 1, 1]);
  assert.equal([at(0, 10, 100), at(2, 47, 191)], [0, 0]);
  // a long line is squeezed to the full width; the recognizer keeps its own width
  const long = { width: 960, height: 48, data: new Uint8Array(4 * 960 * 48).fill(255) };
  assert.is(clsInput(long).data[191], 1);
  assert.equal(recInput(long, 160).shape, [1, 3, 48, 160]);
  assert.throws(() => recInput(long, 100), /multiple of 8/);
  assert.throws(() => clsInput({ width: 2, height: 2, data: new Uint8Array(3) }), /needs 16 bytes/);
});

test('classifier label; CTC greedy decoding merges repeats and drops blanks; edit distance and CER', () => {
  assert.equal(clsLabel([0.2, 0.8]), { label: 1, score: 0.8 });
  assert.is(clsLabel([0.9, 0.1]).label, 0);
  const dict = ['', 'a', 'b', ' '];
  // steps: a a blank a b b space  ->  "aab "
  const best = [1, 1, 0, 1, 2, 2, 3];
  const probs = best.flatMap((k) => dict.map((_, j) => (j === k ? 0.7 : 0.1)));
  const d = ctcGreedyDecode(probs, 4, dict);
  assert.is(d.text, 'aab ');
  assert.ok(Math.abs(d.score - 0.7) < 1e-12);
  assert.throws(() => ctcGreedyDecode(probs, 5, dict), /5 classes/);
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('日本', '日本'), 0);
  assert.is(charErrorRate([{ got: 'abc', want: 'abd' }, { got: 'x', want: 'xy' }]), 2 / 5);
});

modelTest('the recognizer dictionary: blank, the 6623 keys, then a space (6625 classes, the output width)', () => {
  const dict = loadRecDict();
  assert.is(dict.length, 6625);
  assert.is(dict[0], '');
  assert.is(dict[dict.length - 1], ' ');
  for (const ch of 'azAZ09.') assert.ok(dict.indexOf(ch) > 0, ch);
});

test.run();
