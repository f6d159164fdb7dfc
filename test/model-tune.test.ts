/**
 * `vtw model tune` + `vtw model compile --tuned`: every layer LeNet-5 offloads is tuned into one
 * log (the later layers with the earlier ones as history); the model compiled with that log runs
 * in the cycles the log promises (the sum of each node's best record, an independent run of the
 * whole model) and gives the same outputs as the untuned compile: knobs change the schedule, never
 * the arithmetic. A second tune finds every layer in the log and measures nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';
import { readLog } from '../compiler/tune/log.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-model-tune-'));
const MODEL = 'models/lenet5.onnx';
const CALIB = ['--calib', 'mnist-train:40'];

test('model tune -> model compile --tuned: the log\'s cycles, the untuned outputs; a rerun resumes from the log', async () => {
  const log = join(tmp, 'lenet.jsonl');
  const t = await runCli('model', 'tune', MODEL, '--config', 'default', ...CALIB, '--log', log, '--trials', '4', '--seed', '1', '--json');
  assert.is(t.code, 0, t.stderr);
  const j = JSON.parse(t.stdout);
  assert.is(j.layers.length, 7, 'conv1, pool, conv2, pool, fc1-fc3');
  assert.ok(j.layers.every((l: { skipped: boolean; best: number; default: number }) => !l.skipped && l.best <= l.default));
  // Per layer: the default (trial 0) and 4 trials.
  assert.is(readLog(log).records.length, 7 * 5);

  // An input that exercises the arithmetic: random pixels over 0..255 as an .npy file.
  const x = new Float32Array(28 * 28).map((_, i) => (i * 7919) % 256);
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  const npy = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.from(Uint16Array.of(header.length + pad + 1).buffer), Buffer.from(header + ' '.repeat(pad) + '\n'), Buffer.from(x.buffer)]);
  const input = join(tmp, 'x.npy');
  writeFileSync(input, npy);

  const runs: { cycles: number; outputs: unknown }[] = [];
  for (const tuned of [true, false]) {
    const out = join(tmp, `lenet-${tuned}.vtwm`);
    const c = await runCli('model', 'compile', MODEL, '--config', 'default', ...CALIB, '-o', out, '--json', ...(tuned ? ['--tuned', log] : []));
    assert.is(c.code, 0, c.stderr);
    if (tuned) assert.is(JSON.parse(c.stdout).tuned_nodes.length, 7);
    const r = await runCli('model', 'run', out, '--input', input, '--json');
    assert.is(r.code, 0, r.stderr);
    const rj = JSON.parse(r.stdout);
    runs.push({ cycles: rj.vta_cycles, outputs: rj.outputs });
  }
  assert.is(runs[0].cycles, j.cycles.tuned, 'the tuned model runs in the cycles of the log\'s best records');
  assert.is(runs[1].cycles, j.cycles.default);
  assert.ok(runs[0].cycles <= runs[1].cycles);
  assert.equal(runs[0].outputs, runs[1].outputs, 'same outputs');

  const again = await runCli('model', 'tune', MODEL, '--config', 'default', ...CALIB, '--log', log, '--trials', '4', '--json');
  assert.is(again.code, 0, again.stderr);
  assert.ok(JSON.parse(again.stdout).layers.every((l: { skipped: boolean }) => l.skipped));
  assert.is(readFileSync(log, 'utf8').trim().split('\n').length, 7 * 5, 'nothing measured again');
});

test('bad input: a log that cannot be written is one line before any work', async () => {
  const r = await runCli('model', 'tune', MODEL, '--config', 'default', ...CALIB, '--log', join(tmp, 'no-such-dir', 'x.jsonl'));
  assert.is(r.code, 1);
  assert.match(r.stderr.trim(), /^vtw: error: cannot write the tuning log .*no-such-dir.* \(ENOENT\)/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

test.run();
