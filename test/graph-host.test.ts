/**
 * The graph executor on compiled host targets (compiler/target/graph-host.ts): a quantized graph
 * whose QConv (plain, depthwise, strided), QMaxPool, QAdd and QDense nodes run as functions the
 * cpu (C) and wasm back ends build gives the same bytes as the plain reference kernels
 * (TS_HOST, compiler/graph/quantized.ts), over several inputs through the same prepared kernels
 * (the weights bound once, the data copied in per run).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { runGraph, type HostTarget } from '../compiler/graph/executor.ts';
import { TS_HOST } from '../compiler/host/ts.ts';
import { compiledHost } from '../compiler/target/graph-host.ts';
import { parseTarget, type CpuTargetSpec, type WasmTargetSpec } from '../compiler/target/target.ts';
import { testNeeding, toolsMissing } from './helpers/tools.ts';
import { input, network } from './helpers/qnet.ts';

const d = loadConfig('default');

async function checkHost(host: HostTarget) {
  const g = network();
  await host.prepare!(g);
  for (const seed of [1, 2, 3]) {
    const want = runGraph(g, input(seed), TS_HOST).outputs;
    const got = runGraph(g, input(seed), host).outputs;
    for (const [name, t] of want) {
      assert.equal([...got.get(name)!.data], [...t.data], `${host.name}, input ${seed}: ${name} differs`);
      // The data exercises the arithmetic: few values sit on a clip bound (a relu's zeros aside).
      if (t.dtype === 'int8') {
        const clipped = [...t.data].filter((x) => x === 127 || x === -128).length / t.data.length;
        assert.ok(clipped < 0.15, `${name}: ${(clipped * 100).toFixed(0)} % of the values are clipped`);
      }
    }
  }
}

testNeeding(() => toolsMissing('cc'))('cpu target: the quantized graph equals the reference kernels bit for bit', async () => {
  await checkHost(compiledHost(parseTarget('cpu', d) as CpuTargetSpec, d));
});

testNeeding(() => toolsMissing('wabt'))('wasm target: the quantized graph equals the reference kernels bit for bit', async () => {
  await checkHost(compiledHost(parseTarget('wasm', d) as WasmTargetSpec, d));
});

test('an unprepared compiled host names the node; other data widths are refused', () => {
  const host = compiledHost(parseTarget('wasm', d) as WasmTargetSpec, d);
  assert.throws(() => runGraph(network(), input(1), host), /node c1 was not prepared/);
  assert.throws(() => compiledHost({ kind: 'wasm' }, loadConfig('{"LOG_INP_WIDTH":2,"LOG_ACC_BUFF_SIZE":16}')), /other data widths/);
});

test.run();
