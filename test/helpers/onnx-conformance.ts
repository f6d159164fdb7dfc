/**
 * ONNX's own backend conformance data (Debian libonnx-testdata): one folder per node test with
 * model.onnx and test_data_set_N/{input,output}_K.pb (TensorProto). `runNodeTest` imports the model
 * with the inputs' shapes bound, runs it on the TypeScript host target and compares with the golden
 * outputs the way ONNX's backend test does (rtol 1e-3, atol 1e-7 for floats; integers exactly).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxPkg from 'onnx-proto';
import { decodeModel, importModel, tensorFromProto } from '../../compiler/frontend/onnx.ts';
import { runGraph } from '../../compiler/graph/executor.ts';
import { runPasses } from '../../compiler/graph/passes.ts';
import { OPS } from '../../compiler/graph/ops.ts';
import { isFloat, type Tensor } from '../../compiler/graph/tensor.ts';
import { TS_HOST } from '../../compiler/host/ts.ts';
import { VtwError } from '../../src/errors.ts';
import { ONNX_TESTDATA } from '../../src/prereq.ts';

const { onnx } = onnxPkg;

export const ONNX_NODE_TESTS = ONNX_TESTDATA;


/** The op types a test's model uses (Constant aside). */
export function testOps(dir: string): string[] {
  const m = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
  return [...new Set((m.graph?.node ?? []).map((n) => n.opType ?? '').filter((o) => o !== 'Constant'))];
}

export type Outcome = { status: 'pass' } | { status: 'fail'; why: string } | { status: 'refused'; why: string };

function readPb(file: string): Tensor {
  return tensorFromProto(onnx.TensorProto.decode(readFileSync(file)), file);
}

function compare(got: Tensor, want: Tensor): string | undefined {
  if (got.shape.join(',') !== want.shape.join(',')) return `shape [${got.shape}] instead of [${want.shape}]`;
  if (got.dtype !== want.dtype && !(isFloat(got.dtype) && isFloat(want.dtype))) return `dtype ${got.dtype} instead of ${want.dtype}`;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i];
    const b = want.data[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    const ok = isFloat(want.dtype) ? Math.abs(a - b) <= 1e-7 + 1e-3 * Math.abs(b) : a === b;
    if (!ok) return `element ${i}: ${a} instead of ${b}`;
  }
  return undefined;
}

/**
 * Run one node test. Graph inputs that an operator takes as a shape operand (Reshape's shape,
 * Slice's bounds, Pad's pads, Resize's scales and sizes, Squeeze/Unsqueeze axes: `OpDef.shapeInputs`)
 * are given as constants, as a real model has them once its inputs are bound; the other inputs
 * are fed at run time.
 */
export function runNodeTest(dir: string): Outcome {
  try {
    return runNodeTestOrThrow(dir);
  } catch (e) {
    if (e instanceof VtwError) return { status: 'refused', why: e.message };
    return { status: 'fail', why: e instanceof Error ? e.message : String(e) };
  }
}

function runNodeTestOrThrow(dir: string): Outcome {
  const m = decodeModel(readFileSync(join(dir, 'model.onnx')), dir);
  const sets = readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
  for (const set of sets) {
    const g = importModel(m, { file: dir });
    const files = (prefix: string) => readdirSync(join(dir, set)).filter((f) => f.startsWith(prefix)).sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)));
    const inputs = files('input_').map((f) => readPb(join(dir, set, f)));
    const wants = files('output_').map((f) => readPb(join(dir, set, f)));
    const shapeOperands = new Set(g.nodes.flatMap((n) => (OPS[n.op].shapeInputs ?? []).map((i) => n.inputs[i]).filter(Boolean)));
    const feeds = new Map<string, Tensor>();
    const names = [...g.inputs];
    names.forEach((name, i) => {
      const t = inputs[i];
      if (!t) return;
      const v = g.values.get(name)!;
      if (shapeOperands.has(name)) {
        v.const = t;
        g.inputs = g.inputs.filter((x) => x !== name);
      } else {
        feeds.set(name, { ...t, dtype: v.dtype ?? t.dtype });
      }
      // bound directly: a test's shapes may be scalars or empty, which --input cannot spell
      v.shape = [...t.shape];
      v.dtype = t.dtype;
    });
    runPasses(g, {});
    const run = runGraph(g, feeds, TS_HOST);
    for (let k = 0; k < wants.length; k++) {
      const got = run.outputs.get(g.outputs[k]) ?? g.values.get(g.outputs[k])?.const;
      if (!got) return { status: 'fail', why: `no output ${g.outputs[k]}` };
      const why = compare(got, wants[k]);
      if (why) return { status: 'fail', why: `${set} output ${k}: ${why}` };
    }
  }
  return { status: 'pass' };
}
