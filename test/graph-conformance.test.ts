/**
 * The graph level against ONNX's own conformance data (Debian libonnx-testdata, node tests): every
 * test whose model uses only supported operators is imported, run on the TypeScript host target and
 * compared with its golden outputs. None may fail; a test may be refused only with a one-line
 * reason for a feature the graph level does not take (3-D pooling, training mode, linear/cubic
 * Resize, bfloat16/string types, MaxPool indices, non-tensor inputs), and every supported operator
 * must have passing tests, the quantized ones included.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SUPPORTED_OPS } from '../compiler/graph/ops.ts';
import { ONNX_NODE_TESTS, runNodeTest, testOps, type Outcome } from './helpers/onnx-conformance.ts';
import { testNeeding, toolsMissing } from './helpers/tools.ts';

const onnxTest = testNeeding(() => toolsMissing('onnx-testdata'));

/** Reasons a test may be refused for: features outside the graph level, each named in one line. */
const ACCEPTED_REFUSALS = [
  /3-D (AveragePool|MaxPool) is not supported/,
  /training mode is not supported/,
  /mode (linear|cubic) is not supported/,
  /element type (bfloat16|string) is not supported/,
  /the Indices output is not supported/,
  /its mask output is not supported/,
  /is not a tensor \(sequences, maps and optionals are not supported\)/,
];

/** Tests that must pass (the quantized operators by name, as the issue asks). */
const MUST_PASS = [
  'test_qlinearconv', 'test_qlinearmatmul_2D', 'test_qlinearmatmul_3D', 'test_convinteger_with_padding', 'test_convinteger_without_padding',
  'test_basic_convinteger', 'test_matmulinteger', 'test_quantizelinear', 'test_quantizelinear_axis', 'test_dequantizelinear', 'test_dequantizelinear_axis',
  'test_conv_with_autopad_same', 'test_conv_with_strides_and_asymmetric_padding', 'test_maxpool_2d_ceil', 'test_averagepool_2d_pads_count_include_pad',
  'test_resize_upsample_scales_nearest', 'test_upsample_nearest', 'test_clip_default_int8_min', 'test_softmax_example', 'test_gemm_all_attributes',
];

onnxTest('ONNX node conformance tests of every supported operator pass', () => {
  const results = new Map<string, Outcome & { ops: string[] }>();
  const t0 = performance.now();
  for (const name of readdirSync(ONNX_NODE_TESTS).sort()) {
    const dir = join(ONNX_NODE_TESTS, name);
    const ops = testOps(dir);
    if (!ops.every((o) => SUPPORTED_OPS.includes(o) || o === 'Dropout' || o === 'Upsample')) continue;
    results.set(name, { ...runNodeTest(dir), ops });
  }
  const all = [...results.entries()];
  const failed = all.filter(([, r]) => r.status === 'fail');
  const refused = all.filter(([, r]) => r.status === 'refused');
  const passed = all.filter(([, r]) => r.status === 'pass');
  console.log(`onnx conformance: ${passed.length} of ${all.length} node tests of supported operators pass, ${refused.length} refused in one line for unsupported features (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  assert.is(failed.length, 0, failed.map(([n, r]) => `${n}: ${'why' in r ? r.why : ''}`).join('\n'));
  for (const [n, r] of refused) {
    const why = 'why' in r ? r.why : '';
    assert.ok(ACCEPTED_REFUSALS.some((p) => p.test(why)), `${n} refused: ${why}`);
    assert.not.match(why, /\n/);
  }
  for (const n of MUST_PASS) assert.is(results.get(n)?.status, 'pass', `${n}: ${JSON.stringify(results.get(n))}`);
  // every supported operator is exercised by a passing test
  const covered = new Set(passed.flatMap(([, r]) => r.ops));
  const uncovered = SUPPORTED_OPS.filter((op) => !covered.has(op));
  assert.equal(uncovered, [], `operators without a passing conformance test: ${uncovered.join(', ')}`);
  assert.ok(passed.length >= 220, `${passed.length} passing tests`);
});

test.run();
