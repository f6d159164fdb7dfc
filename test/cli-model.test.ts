/**
 * `vtw model inspect` on a small model written here, whose MACs and offload decisions are worked
 * out by hand: per-node MACs (N·M·OH·OW·C/G·K² for a convolution, rows·K·N for a matrix product),
 * which nodes the offload rule sends to VTA, how that depends on the configuration (a 9x9 kernel's
 * smallest weight tile fits default's WGT buffer, not ice40-small's 64 elements), and the fraction.
 * Bad input (a truncated or random file, an unsupported operator, an unbound dynamic dimension, an
 * --input that does not fit the model) ends in one line and exit 1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';
import { buildModel } from './helpers/onnx-build.ts';
import { MAX_ERROR_CHARS } from '../src/util/quote.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-model-'));
const f32 = (name: string, dims: number[]) => ({ name, type: 1, dims, data: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7919) % 13) / 13 - 0.5) });

const small = join(tmp, 'small.onnx');
writeFileSync(small, buildModel({
  opset: 13,
  inputs: [{ name: 'x', dims: ['N', 16, 16, 16] }],
  outputs: [{ name: 'y' }],
  initializers: [f32('wa', [32, 16, 3, 3]), f32('wb', [32, 1, 3, 3]), f32('wc', [8, 32, 9, 9]), f32('wd', [512, 10]), { name: 'flat', type: 7, dims: [2], data: [1, -1] }],
  nodes: [
    { name: 'conv_a', op: 'Conv', inputs: ['x', 'wa'], outputs: ['a'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
    { name: 'dw_b', op: 'Conv', inputs: ['a', 'wb'], outputs: ['b'], attrs: { pads: { ints: [1, 1, 1, 1] }, strides: { ints: [2, 1] }, group: { i: 32 } } },
    { name: 'pool', op: 'MaxPool', inputs: ['a'], outputs: ['p'], attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } } },
    { name: 'relu', op: 'Relu', inputs: ['p'], outputs: ['r'] },
    { name: 'res', op: 'Add', inputs: ['p', 'r'], outputs: ['s'] },
    { name: 'conv_c', op: 'Conv', inputs: ['s', 'wc'], outputs: ['c'], attrs: { pads: { ints: [4, 4, 4, 4] } } },
    { name: 'flatten', op: 'Reshape', inputs: ['c', 'flat'], outputs: ['f'] },
    { name: 'fc', op: 'MatMul', inputs: ['f', 'wd'], outputs: ['y0'] },
    { name: 'mix', op: 'Add', inputs: ['y0', 'y0'], outputs: ['y'] },
    { name: 'unused', op: 'Relu', inputs: ['b'], outputs: ['z'] },
  ],
}));

interface Inspect {
  inputs: { name: string; shape: number[] }[];
  nodes: { name: string; op: string; macs: number; target: string; vta_op: string | null; host_reason: string | null; outputs: { shape: number[] }[] }[];
  macs: number;
  offloaded_macs: number;
  offloaded_macs_fraction: number;
  ops: Record<string, number>;
  vta_regions: string[][];
  layout_transforms: { to_vta: string[]; to_host: string[] };
}

async function inspect(...args: string[]): Promise<Inspect> {
  const r = await runCli('model', 'inspect', small, '--input', 'x=1x16x16x16', '--json', ...args);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Inspect;
}

const CONV_A = 1 * 32 * 16 * 16 * 16 * 9; // 16 -> 32 channels, 3x3, 16x16 out
const CONV_C = 1 * 8 * 8 * 8 * 32 * 81; //   32 -> 8 channels, 9x9, 8x8 out
const FC = 1 * 512 * 10;

test('vtw model inspect --json: shapes, MACs per node and in total, the offload rule on default', async () => {
  const j = await inspect();
  const node = (n: string) => j.nodes.find((x) => x.name === n)!;
  assert.equal(j.inputs[0].shape, [1, 16, 16, 16]);
  // the depthwise conv feeds only a dead branch: removed with it
  assert.not.ok(node('dw_b'));
  assert.not.ok(node('unused'));
  assert.is(node('conv_a').macs, CONV_A);
  assert.is(node('conv_c').macs, CONV_C);
  assert.is(node('fc').macs, FC);
  assert.equal(node('conv_c').outputs[0].shape, [1, 8, 8, 8]);
  assert.is(j.macs, CONV_A + CONV_C + FC);
  const where = Object.fromEntries(j.nodes.map((n) => [n.name, n.vta_op ?? 'host']));
  assert.equal(where, { conv_a: 'conv2d', pool: 'maxpool', relu: 'host', res: 'add', conv_c: 'conv2d', flatten: 'host', fc: 'dense', mix: 'host' });
  assert.is(j.offloaded_macs, CONV_A + CONV_C + FC);
  assert.is(j.offloaded_macs_fraction, 1);
  assert.equal(j.ops, { Conv: 2, MaxPool: 1, Relu: 1, Add: 2, Reshape: 1, MatMul: 1 });
  // conv_a -> pool -> res -> conv_c is one region (relu leaves and re-enters it), fc another
  assert.equal(j.vta_regions, [['conv_a', 'pool', 'res', 'conv_c'], ['fc']]);
  assert.equal(j.layout_transforms, { to_vta: ['x', 'r', 'f'], to_host: ['p', 'c', 'y0'] });
});

test('the offload rule depends on the configuration: ice40-small\'s 64-element weight buffer cannot hold a 9x9 window', async () => {
  const j = await inspect('--config', 'ice40-small');
  const c = j.nodes.find((x) => x.name === 'conv_c')!;
  assert.is(c.target, 'host');
  assert.match(c.host_reason ?? '', /weight tiles need 81 WGT elements, the buffer has 64/);
  assert.is(j.offloaded_macs, CONV_A + FC);
  assert.ok(Math.abs(j.offloaded_macs_fraction - (CONV_A + FC) / (CONV_A + CONV_C + FC)) < 1e-6);
});

test('a depthwise conv (32·4·8·1·9 = 9216 MACs) goes to VTA, one with unequal strides stays on the host with its reason; the text report and --print-graph', async () => {
  const m = join(tmp, 'dw.onnx');
  writeFileSync(m, buildModel({
    opset: 13, inputs: [{ name: 'x', dims: [1, 32, 8, 8] }], outputs: [{ name: 'y' }], initializers: [f32('wb', [32, 1, 3, 3]), f32('wq', [32, 1, 3, 3])],
    nodes: [
      { name: 'dw_b', op: 'Conv', inputs: ['x', 'wb'], outputs: ['b'], attrs: { pads: { ints: [1, 1, 1, 1] }, strides: { ints: [2, 1] }, group: { i: 32 } } },
      { name: 'dw_q', op: 'Conv', inputs: ['b', 'wq'], outputs: ['y'], attrs: { pads: { ints: [1, 1, 1, 1] }, group: { i: 32 } } },
    ],
  }));
  const r = await runCli('model', 'inspect', m, '--print-graph', 'fold-constants');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /dw_b\s+Conv\s+float32\[1,32,4,8\]\s+9216\s+host \(strides 2,1 differ\)/);
  assert.match(r.stdout, /dw_q\s+Conv\s+float32\[1,32,4,8\]\s+9216\s+vta conv2d/);
  assert.match(r.stdout, /MACs: 18,432 in total, 9,216 \(50\.0 %\) would run on VTA/);
  assert.match(r.stdout, /VTA regions: 1; layout transforms at their boundaries: 1 into VTA's layout, 1 back/);
  assert.match(r.stderr, /^graph "test" \(opset 13, 2 nodes\)\n  input %x: float32\[1,32,8,8\]\n  %b = Conv\(%x, @wb: const float32\[32,1,3,3\]\) \{group=32, pads=\[1,1,1,1\], strides=\[2,1\]\} -> float32\[1,32,4,8\]/);
});

/** One `vtw: error:` line, exit 1, nothing on stdout. */
function oneLine(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.is(r.code, 1, r.stderr);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.is(lines.length, 1, r.stderr);
  assert.ok(lines[0].startsWith('vtw: error: ') && lines[0].length <= MAX_ERROR_CHARS + 12, lines[0]);
  assert.match(lines[0], pattern);
  assert.is(r.stdout, '');
}

test('bad input: truncated file, random bytes, empty file, unsupported operator, unbound dynamic dimension, --input that does not fit, a folder: one line each', async () => {
  const full = readFileSync(small);
  const truncated = join(tmp, 'truncated.onnx');
  writeFileSync(truncated, full.subarray(0, Math.floor(full.length * 0.6)));
  oneLine(await runCli('model', 'inspect', truncated, '--input', 'x=1x16x16x16'), /truncated\.onnx is not a readable ONNX model \(truncated or corrupt: .*\); export it again/);
  const random = join(tmp, 'random.onnx');
  let s = 12345;
  writeFileSync(random, Uint8Array.from({ length: 4096 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24));
  oneLine(await runCli('model', 'inspect', random), /random\.onnx is not (a readable ONNX model|an ONNX model)/);
  const empty = join(tmp, 'empty.onnx');
  writeFileSync(empty, '');
  oneLine(await runCli('model', 'inspect', empty), /empty\.onnx is not an ONNX model: it has no graph/);
  const lstm = join(tmp, 'lstm.onnx');
  writeFileSync(lstm, buildModel({ opset: 14, inputs: [{ name: 'x', dims: [1, 2, 3] }], outputs: [{ name: 'y' }], nodes: [{ name: 'rnn', op: 'LSTM', inputs: ['x'], outputs: ['y'] }] }));
  oneLine(await runCli('model', 'inspect', lstm), /unsupported operator LSTM \(node rnn, opset 14\)/);
  oneLine(await runCli('model', 'inspect', small), /input x \[\?,16,16,16\] has dynamic dimensions \(N\); bind them with --input x=Dx16x16x16, each D a size/);
  oneLine(await runCli('model', 'inspect', small, '--input', 'x=1x16x16'), /--input x=1x16x16: the model's input x has 4 dimensions \[\?,16,16,16\], not 3/);
  oneLine(await runCli('model', 'inspect', small, '--input', 'x=1x3x16x16'), /dimension 1 of input x is fixed at 16 in the model/);
  oneLine(await runCli('model', 'inspect', small, '--input', 'img=1x16x16x16'), /the model has no input img; its inputs are x/);
  oneLine(await runCli('model', 'inspect', small, '--input', 'x=1x16x16xW'), /--input "x=1x16x16xW" must be NAME=DIMS/);
  oneLine(await runCli('model', 'inspect', small, '--input', 'x=1x16x16x16', '--print-graph', 'quantize'), /--print-graph quantize: passes are import, bind, fold-constants, simplify, fold-batchnorm, dead-code, fuse, infer/);
  const dyn = join(tmp, 'dyn.onnx');
  writeFileSync(dyn, buildModel({ opset: 13, inputs: [{ name: 'x', dims: ['N', 'C', 'H', 'W'] }], outputs: [{ name: 'y' }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] }));
  oneLine(await runCli('model', 'inspect', dyn, '--input', 'x=4096x16x4096x16'), /--input x=4096x16x4096x16: 4294967296 elements, more than the 268435456 a value may have/);
  const folder = join(tmp, 'dir.onnx');
  mkdirSync(folder);
  oneLine(await runCli('model', 'inspect', folder), /ONNX model .*dir\.onnx.* is a folder, not a file/);
  oneLine(await runCli('model', 'inspect', join(tmp, 'missing.onnx')), /cannot read ONNX model .*missing\.onnx/);
});

test.run();
