/**
 * Models on VTA (compiler/model/): a hand-built quantized network (random int8 weights, shifts
 * chosen so outputs spread over the range) partitioned for a configuration, its QConv (plain,
 * depthwise, strided), QMaxPool, QAdd and QDense nodes compiled to VTA programs with their real
 * weights and run on the TypeScript simulator, bit for bit against the plain reference kernels
 * (runGraph on TS_HOST), on `default` and on `ice40-small` (tiny buffers force tiling); the
 * partition's MACs; the `.vtwm` artifact's round trip and its bad cases.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { runGraph } from '../compiler/graph/executor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { partitionGraph } from '../compiler/graph/partition.ts';
import { compileModel, type CompiledModel } from '../compiler/model/compile.ts';
import { runModel } from '../compiler/model/run.ts';
import { input, network } from './helpers/qnet.ts';
import { verilatorTest } from './helpers/tools.ts';
import { loadArtifact, saveArtifact } from '../compiler/model/artifact.ts';
import { CompileError } from '../compiler/errors.ts';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-model-vta-'));

const OFFLOADED = ['c1', 'p1', 'c2', 'a1', 'c3', 'y8'];

/** Runs every input through the compiled model and compares each graph output with the reference. */
async function checkBitExact(m: CompiledModel) {
  for (const seed of [1, 2]) {
    const want = runGraph(m.graph, input(seed), TS_HOST).outputs;
    const run = await runModel(m, input(seed), { engine: 'ts', host: TS_HOST });
    for (const [name, t] of want) {
      assert.equal([...run.outputs.get(name)!.data], [...t.data], `${m.configName}, input ${seed}: ${name} differs`);
      if (t.dtype === 'int8') {
        const clipped = [...t.data].filter((x) => x === 127 || x === -128).length / t.data.length;
        assert.ok(clipped < 0.15, `${name}: ${(clipped * 100).toFixed(0)} % of the values are clipped`);
      }
    }
    assert.equal(run.nodes.filter((n) => n.where === 'vta').map((n) => n.name), OFFLOADED);
    for (const n of run.nodes.filter((x) => x.where === 'vta')) assert.ok(n.vtaCycles! > 0 && n.dramBytes! > 0, `${n.name} reports cycles and bytes`);
    assert.is(run.vtaCycles, run.nodes.reduce((a, n) => a + (n.vtaCycles ?? 0), 0));
  }
}

for (const cfg of ['default', 'ice40-small']) {
  test(`${cfg}: the whole network on VTA equals the reference kernels bit for bit`, async () => {
    const d = loadConfig(cfg);
    const m = await compileModel(network(), d, { configName: cfg });
    await checkBitExact(m);
  });
}

verilatorTest('default on the Verilated RTL: the same outputs and cycles as the TypeScript simulator', async () => {
  const m = await compileModel(network(), loadConfig('default'), { configName: 'default' });
  const ts = await runModel(m, input(4), { engine: 'ts', host: TS_HOST });
  const rtl = await runModel(m, input(4), { engine: 'verilator', host: TS_HOST });
  for (const [name, t] of ts.outputs) assert.equal([...rtl.outputs.get(name)!.data], [...t.data], name);
  assert.equal(rtl.nodes.map((n) => n.vtaCycles), ts.nodes.map((n) => n.vtaCycles));
});

test('partition: MACs per node and the offloaded fraction', () => {
  const p = partitionGraph(network(), loadConfig('default'));
  const macs = Object.fromEntries(p.nodes.map((n) => [n.node.name, n.macs]));
  assert.is(macs.c1, 16 * 10 * 10 * 8 * 9);
  assert.is(macs.c2, 16 * 5 * 5 * 1 * 9);
  assert.is(macs.c3, 24 * 3 * 3 * 16 * 9);
  assert.is(macs.y8, 216 * 10);
  assert.is(macs.p1, 0);
  assert.equal(p.nodes.filter((n) => n.where === 'vta').map((n) => n.node.name), OFFLOADED);
  assert.is(p.offloadedMacsFraction, 1);
  // A configuration with other data widths keeps every quantized operator on the host, saying why.
  const wide = partitionGraph(network(), loadConfig('{"LOG_INP_WIDTH":2,"LOG_ACC_BUFF_SIZE":16}'));
  assert.is(wide.offloadedMacsFraction, 0);
  assert.match(wide.nodes.find((n) => n.node.name === 'c1')!.reason!, /int8 x int8 -> int32 -> int8/);
});

test('artifact: a saved model loads without compiling and runs to the same outputs', async () => {
  const d = loadConfig('default');
  const g = network();
  // a host node's attributes with numbers JSON has no literal for (a fused relu: clip [0, Infinity])
  g.nodes.find((n) => n.name === 'f')!.attrs.clip = [0, Infinity];
  g.nodes.find((n) => n.name === 'f')!.attrs.big = -Infinity;
  const m = await compileModel(g, d, { configName: 'default', source: 'qnet.onnx' });
  const file = join(tmp, 'qnet.vtwm');
  saveArtifact(file, m);
  const back = loadArtifact(file, { config: d, configName: 'default' });
  assert.is(back.configName, 'default');
  assert.equal(back.graph.nodes.map((n) => n.attrs), g.nodes.map((n) => n.attrs));
  for (const [name, v] of g.values) assert.equal(back.graph.values.get(name)!.const?.data, v.const?.data, name);
  assert.equal([...back.vta.keys()], OFFLOADED);
  const a = await runModel(m, input(3), { engine: 'ts', host: TS_HOST });
  const b = await runModel(back, input(3), { engine: 'ts', host: TS_HOST });
  for (const [name, t] of a.outputs) assert.equal([...b.outputs.get(name)!.data], [...t.data], name);
  assert.is(b.vtaCycles, a.vtaCycles);
  assert.is(b.offloadedMacsFraction, 1);
  assert.equal(readdirSync(tmp).filter((f) => f.includes('.tmp')), [], 'no temp file left');

  // Bad artifacts: one line each, naming the problem and the fix.
  const text = readFileSync(file, 'utf8');
  const bad = (name: string, content: string) => {
    const f = join(tmp, name);
    writeFileSync(f, content);
    return f;
  };
  const oneLine = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert.instance(e, CompileError);
      assert.not.match((e as Error).message, /\n/);
      assert.match((e as Error).message, re, (e as Error).message);
      return;
    }
    assert.unreachable('loaded a bad artifact');
  };
  oneLine(() => loadArtifact(bad('cut.vtwm', text.slice(0, text.length >> 1))), /truncated or corrupt.*vtw model compile/);
  oneLine(() => loadArtifact(bad('v9.vtwm', text.replace('"version":1', '"version":9'))), /version 9 model artifact; this vtw reads version 1: recompile with vtw model compile 'qnet\.onnx' --config default/);
  oneLine(() => loadArtifact(file, { config: loadConfig('ice40-small'), configName: 'ice40-small' }), /compiled for configuration default .* not ice40-small .*--config ice40-small/);
  oneLine(() => loadArtifact(bad('hash.vtwm', text.replace(/"hash":"[0-9a-f]+"/, '"hash":"0000000000000000"'))), /corrupt \(its configuration does not match its hash\)/);
  oneLine(() => loadArtifact(bad('other.vtwm', '{"format":"vtw-program"}')), /not a vtw model artifact/);
  oneLine(() => loadArtifact(join(tmp, 'missing.vtwm')), /cannot read model artifact .*no such file/);
  // A failed save leaves nothing behind.
  assert.throws(() => saveArtifact(join(tmp, 'no-such-dir', 'x.vtwm'), m), /cannot write/);
  assert.not.ok(existsSync(join(tmp, 'no-such-dir')));
});

test.run();
