/** Target strings: vta, cpu with and without -mattr, wasm, opencl and cuda -arch, unknown targets, missing host features. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import { CompileError } from '../compiler/errors.ts';
import { featuresFromCpuinfo, type HostIsa } from '../compiler/target/host.ts';
import { parseTarget, targetString } from '../compiler/target/target.ts';
import { targetFlags } from '../compiler/cpu/build.ts';

const d = loadConfig('default');
const x86: HostIsa = { arch: 'x86_64', features: ['avx2', 'fma'] };
const arm: HostIsa = { arch: 'aarch64', features: ['neon', 'dotprod'] };

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof CompileError, String(e));
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

test('vta carries the configuration; cpu without -mattr takes every host feature and -march=native', () => {
  const v = parseTarget('vta', d, x86);
  assert.is(v.kind, 'vta');
  assert.is(v.kind === 'vta' && v.config, d);
  assert.is(targetString(v), `vta ${d.variant}`);
  const c = parseTarget('  cpu ', d, x86);
  assert.equal(c, { kind: 'cpu', arch: 'x86_64', features: ['avx2', 'fma'], explicit: false });
  assert.equal(c.kind === 'cpu' && targetFlags(c), ['-march=native']);
});

test('cpu -mattr=+f,...: only the named features, in compiler flags', () => {
  const c = parseTarget('cpu -mattr=+avx2', d, x86);
  assert.equal(c, { kind: 'cpu', arch: 'x86_64', features: ['avx2'], explicit: true });
  assert.is(targetString(c), 'cpu -mattr=+avx2');
  assert.equal(c.kind === 'cpu' && targetFlags(c), ['-mavx2']);
  const a = parseTarget('cpu -mattr=+dotprod,+neon', d, arm);
  assert.equal(a.kind === 'cpu' && targetFlags(a), ['-march=armv8.2-a+dotprod']);
});

test('a feature the host lacks, an unknown feature, a bad option: one line each', () => {
  const lacks = message(() => parseTarget('cpu -mattr=+avx512f', d, x86));
  assert.match(lacks, /this x86_64 host has no avx512f .*it has avx2, fma/);
  assert.not.match(lacks, /\n/);
  assert.match(message(() => parseTarget('cpu -mattr=+avx3', d, x86)), /unknown feature avx3/);
  assert.match(message(() => parseTarget('cpu -mattr=avx2', d, x86)), /must be \+feature/);
  assert.match(message(() => parseTarget('cpu -O3', d, x86)), /unknown option -O3/);
  assert.match(message(() => parseTarget('vta -mattr=+avx2', d, x86)), /takes no options/);
});

test('unknown targets get a did-you-mean; wasm, opencl and cuda -arch parse', () => {
  assert.match(message(() => parseTarget('cpus', d, x86)), /unknown target "cpus" \(did you mean cpu\?\)/);
  assert.match(message(() => parseTarget('', d, x86)), /unknown target ""/);
  assert.equal(parseTarget('wasm', d, x86), { kind: 'wasm' });
  assert.equal(parseTarget('opencl', d, x86), { kind: 'opencl' });
  assert.equal(parseTarget('cuda', d, x86), { kind: 'cuda', archs: ['sm_80'] });
  assert.equal(parseTarget('cuda -arch=sm_80,sm_90', d, x86), { kind: 'cuda', archs: ['sm_80', 'sm_90'] });
  assert.match(message(() => parseTarget('cuda -arch=80', d, x86)), /architecture 80 is not of the form sm_80/);
  assert.match(message(() => parseTarget('opencl -x', d, x86)), /takes no options/);
});

test('host features from /proc/cpuinfo text (x86-64 flags, aarch64 Features)', () => {
  const intel = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni avx512bw\n';
  assert.equal(featuresFromCpuinfo(intel, 'x86_64'), ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vnni']);
  const graviton = 'processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp\n';
  assert.equal(featuresFromCpuinfo(graviton, 'aarch64'), ['neon', 'dotprod']);
  assert.equal(featuresFromCpuinfo('', 'x86_64'), []);
});

test.run();
