/** Packing helpers and the plain references against hand-worked values. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config/load.ts';
import {
  decodeLanes, encodeLanes, packBlocked, packMatrix, unpackBlocked, unpackMatrix, viewInt32, viewInt8,
} from '../src/runtime/pack.ts';
import {
  aluImm, aluOp, clip, compareMatrices, matmulAcc, padMatrix, relu, shiftAndScale, truncate,
} from '../src/runtime/reference.ts';

test('encodeLanes / decodeLanes: little-endian lanes of 32, 8, 4 and 2 bits', () => {
  assert.equal([...encodeLanes([-2, 1], 32)], [0xfe, 0xff, 0xff, 0xff, 1, 0, 0, 0]);
  assert.equal([...encodeLanes([1, -1, 2, -2], 8)], [1, 255, 2, 254]);
  assert.equal([...encodeLanes([1, -1, 2, -2], 4)], [0xf1, 0xe2]);
  assert.equal([...encodeLanes([1, -1, -2, 0], 2)], [0b00101101]);
  assert.equal(decodeLanes(Uint8Array.of(0xf1, 0xe2), 4), [1, -1, 2, -2]);
  assert.equal(decodeLanes(Uint8Array.of(0b00101101), 2), [1, -1, -2, 0]);
  assert.equal(decodeLanes(Uint8Array.of(0b00101101), 2, 4, false), [1, 3, 2, 0]);
  assert.equal(decodeLanes(Uint8Array.of(0xfe, 0xff, 0xff, 0xff), 32), [-2]);
  assert.equal(decodeLanes(Uint8Array.of(0xff, 0x7f, 0, 0x80), 16), [32767, -32768]);
  // values wrap to the lane width
  assert.equal([...encodeLanes([200, 256], 8)], [200, 0]);
});

test("packBlocked / unpackBlocked follow VTA's packBuffer tile order", () => {
  const m = [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
    [8, 9, 10, 11],
    [12, 13, 14, 15],
  ];
  assert.equal(packBlocked(m, 2, 2), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  assert.equal(packBlocked(m, 1, 4), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  assert.equal(packBlocked(m, 4, 1), [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]);
  assert.equal(unpackBlocked(packBlocked(m, 2, 2), 4, 4, 2, 2), m);
  assert.throws(() => packBlocked(m, 3, 2), /tile/);
});

test('packMatrix uses the tile shape of each memory type (batch2-block8: INP 2x8, WGT 8x8, ACC 2x8 int32)', () => {
  const d = loadConfig('batch2-block8');
  const inp = Array.from({ length: 2 }, (_, r) => Array.from({ length: 16 }, (_, c) => r * 16 + c - 10));
  const bytes = packMatrix(d, 'INP', inp);
  assert.is(bytes.length, 2 * d.elemBytes.inp);
  // tile 0 = rows 0..1, cols 0..7
  assert.equal([...viewInt8(bytes.subarray(0, 16))], [...inp[0].slice(0, 8), ...inp[1].slice(0, 8)]);
  assert.equal(unpackMatrix(d, 'INP', bytes, 2, 16), inp);
  const acc = [[1, -2, 3, -4, 5, -6, 7, -8], [2 ** 31 - 1, -(2 ** 31), 0, 0, 0, 0, 0, 9]];
  const ab = packMatrix(d, 'ACC', acc);
  assert.is(ab.length, d.elemBytes.acc);
  assert.equal([...viewInt32(ab)], [...acc[0], ...acc[1]]);
  assert.equal(unpackMatrix(d, 'ACC', ab, 2, 8), acc);
  const w = Array.from({ length: 8 }, (_, o) => Array.from({ length: 8 }, (_, k) => o - k));
  assert.equal(unpackMatrix(d, 'WGT', packMatrix(d, 'WGT', w), 8, 8), w);
});

test('ALU reference semantics (Part A.4)', () => {
  assert.is(aluOp('MIN', -5, 3, 32), -5);
  assert.is(aluOp('MAX', -5, 3, 32), 3);
  assert.is(aluOp('ADD', 2 ** 31 - 1, 1, 32), -(2 ** 31));
  assert.is(aluOp('ADD', 100, 100, 8), -56);
  assert.is(aluOp('SHR', -7, 1, 32), -4); // arithmetic
  assert.is(aluOp('SHR', 5, -3, 32), 40); // negative = left shift
  assert.is(aluOp('SHR', -1, 40, 32), -1); // clamped to 31
  assert.is(aluOp('SHR', 2 ** 30, 40, 32), 0);
  assert.is(aluOp('SHR', 1, -40, 32), -(2 ** 31)); // clamped to 31, wraps
  assert.is(aluOp('SHR', 3, -31, 32), -(2 ** 31));
  assert.is(aluOp('MUL', 65536, 65536, 32), 0);
  assert.is(aluOp('MUL', -3, 7, 32), -21);
  assert.is(aluImm(-1, 32), -1);
  assert.is(aluImm(0x7fff, 8), -1);
  assert.is(truncate(200, 8), -56);
  assert.is(truncate(-129, 8), 127);
});

test('matmul, relu, clip, shift-and-scale, pad references', () => {
  const inp = [[1, 2], [3, 4]];
  const wgt = [[5, 6], [7, 8], [-1, 0]]; // [out][in]
  assert.equal(matmulAcc(inp, wgt, undefined, 32), [[17, 23, -1], [39, 53, -3]]);
  assert.equal(matmulAcc(inp, wgt, [[1, 1, 1], [0, 0, 2 ** 31 - 1]], 32), [[18, 24, 0], [39, 53, 2 ** 31 - 4]]);
  assert.equal(matmulAcc([[127]], [[127]], [[2 ** 31 - 1]], 32), [[-(2 ** 31) + 16128]]);
  assert.equal(relu([[-5, 5, 300]], 127), [[0, 5, 127]]);
  assert.equal(clip([[-5, 5, 300]], -2, 100), [[-2, 5, 100]]);
  assert.equal(shiftAndScale([[-10, 9]], 3, 2, 32), [[-2, 3]]);
  assert.equal(padMatrix([[1, 2]], 1, 0, 0, 1), [[0, 0, 0], [1, 2, 0]]);
  assert.is(compareMatrices([[1, 2]], [[1, 2]]), undefined);
  assert.match(compareMatrices([[1, 2]], [[1, 3]])!, /\[0\]\[1\] = 2, expected 3/);
});

test.run();
