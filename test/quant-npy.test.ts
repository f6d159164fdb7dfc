/**
 * `.npy` files (compiler/data/npy.ts): encode/decode round trips per dtype, files written by numpy
 * itself (when python3 has numpy), hand-assembled version 1.0 and 2.0 headers, and one-line errors
 * for the malformed cases (bad magic, Fortran order, big-endian, truncated, unknown type).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../compiler/data/npy.ts';
import { tensor, type DType } from '../compiler/graph/tensor.ts';
import { testNeeding } from './helpers/tools.ts';

/** A preamble + header + data, assembled by hand as the format document describes. */
function assemble(version: 1 | 2, dict: string, data: Uint8Array): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, ...Buffer.from('NUMPY'), version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), pre);
  out.set(data, total);
  return out;
}

function throwsLine(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    const msg = (e as Error).message;
    assert.not.ok(msg.includes('\n'), `one line: ${msg}`);
    assert.match(msg, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

test('round trip of every dtype keeps shape, dtype and values', () => {
  const cases: [DType, number[]][] = [
    ['float32', [0.5, -1.25, 3.0e-7, 1e30, -0]],
    ['float16', [0.5, -1.25, 65504, 2 ** -24, -3]],
    ['int8', [-128, 127, 0, -1, 5]],
    ['uint8', [0, 255, 1, 128, 7]],
    ['int16', [-32768, 32767, 0, 3, -3]],
    ['uint16', [0, 65535, 9, 10, 11]],
    ['int32', [-2147483648, 2147483647, 0, 12, -12]],
    ['uint32', [0, 4294967295, 1, 2, 3]],
    ['int64', [-(2 ** 53) + 1, 2 ** 53 - 1, 0, -7, 7]],
    ['uint64', [0, 2 ** 53 - 1, 1, 2, 3]],
    ['bool', [1, 0, 1, 1, 0]],
  ];
  for (const [dtype, values] of cases) {
    const t = tensor(dtype, [5], values);
    const back = decodeNpy(encodeNpy(t), `rt-${dtype}`);
    assert.is(back.dtype, dtype);
    assert.equal(back.shape, [5]);
    assert.equal(Array.from(back.data), Array.from(t.data), dtype);
  }
  const scalar = decodeNpy(encodeNpy(tensor('float32', [], [2.5])), 'scalar');
  assert.equal(scalar.shape, []);
  assert.is(scalar.data[0], 2.5);
  const big = tensor('float32', [2, 3, 4, 5], Array.from({ length: 120 }, (_, i) => i * 0.25 - 7));
  const back = decodeNpy(encodeNpy(big), 'big');
  assert.equal(back.shape, [2, 3, 4, 5]);
  assert.equal(Array.from(back.data), Array.from(big.data));
});

test('float64 files are read as float32 (the graph computes in float32)', () => {
  const t = decodeNpy(encodeNpy(tensor('float64', [3], [0.1, 1e-3, -2])), 'f8');
  assert.is(t.dtype, 'float32');
  assert.equal(Array.from(t.data), Array.from(Float32Array.of(0.1, 1e-3, -2)));
});

test('hand-assembled version 1.0 and 2.0 headers', () => {
  const data = new Uint8Array(new Int32Array([1, -2, 3, -4, 5, -6]).buffer);
  for (const version of [1, 2] as const) {
    // Key order and spacing differ from what numpy writes: the parser must not depend on them.
    const t = decodeNpy(assemble(version, "{'shape': (2,3), 'fortran_order': False, 'descr': '<i4'}", data), `v${version}`);
    assert.is(t.dtype, 'int32');
    assert.equal(t.shape, [2, 3]);
    assert.equal(Array.from(t.data), [1, -2, 3, -4, 5, -6]);
  }
  const bytes = decodeNpy(assemble(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", Uint8Array.of(9, 8, 7, 255)), 'u1');
  assert.equal(Array.from(bytes.data), [9, 8, 7, 255]);
});

test('malformed files give one-line errors naming the problem', () => {
  const f4 = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  throwsLine(() => decodeNpy(Uint8Array.from(Buffer.from('PK\x03\x04 not an npy file')), 'x.npy'), /x\.npy: not a \.npy file/);
  throwsLine(() => decodeNpy(assemble(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f4), 'f.npy'), /f\.npy: Fortran-order/);
  throwsLine(() => decodeNpy(assemble(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", f4), 'b.npy'), /b\.npy: big-endian/);
  throwsLine(() => decodeNpy(assemble(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4), 't.npy'), /t\.npy: truncated .*24 bytes.*16/);
  throwsLine(() => decodeNpy(assemble(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", f4), 'c.npy'), /c\.npy: element type '<c8' is not supported/);
  throwsLine(() => decodeNpy(assemble(1, "{'descr': '<f4', 'shape': (4,), }", f4), 'h.npy'), /h\.npy: malformed \.npy header/);
  const whole = encodeNpy(tensor('float32', [4], [1, 2, 3, 4]));
  throwsLine(() => decodeNpy(whole.subarray(0, 40), 'cut.npy'), /cut\.npy: truncated \.npy file/);
  throwsLine(() => decodeNpy(whole.subarray(0, 6), 'tiny.npy'), /tiny\.npy: not a \.npy file/);
  const huge = new Uint8Array(new BigInt64Array([2n ** 60n]).buffer);
  throwsLine(() => decodeNpy(assemble(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", huge), 'i8.npy'), /i8\.npy: 64-bit integer .* beyond 2\^53/);
  throwsLine(() => readNpy('/nonexistent/a.npy'), /cannot read \.npy file \/nonexistent\/a\.npy: ENOENT/);
});

function numpyMissing(): string | null {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'python3 with numpy is not available (apt install python3-numpy)';
  }
}

testNeeding(numpyMissing)('files written by numpy are read, and numpy reads ours', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-npy-'));
  try {
    const script = [
      'import numpy as np, sys',
      'd = sys.argv[1]',
      'np.save(d + "/f4.npy", (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5) / 8)',
      'np.save(d + "/f8.npy", np.linspace(-1, 1, 7))',
      'np.save(d + "/i8.npy", np.array([[-3, 4], [5, -6]], dtype=np.int64))',
      'np.save(d + "/u1.npy", np.arange(250, 256, dtype=np.uint8))',
      'a = np.load(d + "/ours.npy")',
      'assert a.dtype == np.int16 and a.shape == (2, 2) and a.tolist() == [[-300, 2], [3, 400]], (a.dtype, a.shape, a)',
    ].join('\n');
    writeNpy(join(dir, 'ours.npy'), tensor('int16', [2, 2], [-300, 2, 3, 400]));
    execFileSync('python3', ['-c', script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const f4 = readNpy(join(dir, 'f4.npy'));
    assert.is(f4.dtype, 'float32');
    assert.equal(f4.shape, [2, 3, 4]);
    assert.equal(Array.from(f4.data), Array.from({ length: 24 }, (_, i) => (i - 5) / 8));
    const f8 = readNpy(join(dir, 'f8.npy'));
    assert.equal(Array.from(f8.data), Array.from(Float32Array.from({ length: 7 }, (_, i) => -1 + i / 3)));
    assert.equal(Array.from(readNpy(join(dir, 'i8.npy')).data), [-3, 4, 5, -6]);
    assert.equal(Array.from(readNpy(join(dir, 'u1.npy')).data), [250, 251, 252, 253, 254, 255]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
