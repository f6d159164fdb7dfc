/**
 * Host-side data layout helpers (vta-reference Part B §2.11): lanes of an SRAM element packed
 * little-endian (lane w at bits [(w+1)*width-1 : w*width]), and VTA's packBuffer/unpackBuffer
 * tiling of 2-D matrices into `yBlock x xBlock` tiles stored tile-row-major.
 *
 * Tile shapes per memory type: INP [BATCH][BLOCK_IN], WGT [BLOCK_OUT][BLOCK_IN],
 * ACC [BATCH][BLOCK_OUT] (ACC_WIDTH lanes), OUT [BATCH][BLOCK_OUT] (OUT_WIDTH lanes).
 */
import type { Derived } from '../config/derive.ts';
import type { MemTypeName } from '../isa/constants.ts';
import { RuntimeError } from './runtime.ts';

export type Matrix = number[][];
export type TileMemType = Exclude<MemTypeName, 'UOP'>;

/** Two's complement wrap of an integer to `bits` bits (bits <= 32), as a signed value. */
export function wrapSigned(x: number, bits: number): number {
  const m = 2 ** bits;
  let r = x % m;
  if (r < 0) r += m;
  return r >= m / 2 ? r - m : r;
}

/** Pack lane values into bytes, `width` bits each, LSB first (width 1..32). */
export function encodeLanes(values: ArrayLike<number>, width: number): Uint8Array {
  if (width % 8 === 0) {
    const bytesPer = width / 8;
    const out = new Uint8Array(values.length * bytesPer);
    for (let i = 0; i < values.length; i++) {
      let v = wrapSigned(Math.trunc(values[i]), width);
      if (v < 0) v += 2 ** width;
      for (let b = 0; b < bytesPer; b++) {
        out[i * bytesPer + b] = v % 256;
        v = Math.floor(v / 256);
      }
    }
    return out;
  }
  if (8 % width !== 0) throw new RuntimeError(`lane width ${width} must divide 8 or be a multiple of 8`);
  const perByte = 8 / width;
  const out = new Uint8Array(Math.ceil(values.length / perByte));
  const mask = (1 << width) - 1;
  for (let i = 0; i < values.length; i++) {
    const v = Math.trunc(values[i]) & mask;
    out[Math.floor(i / perByte)] |= v << ((i % perByte) * width);
  }
  return out;
}

/** Unpack `count` lanes of `width` bits (sign-extended unless `signed` is false). */
export function decodeLanes(bytes: Uint8Array, width: number, count?: number, signed = true): number[] {
  const n = count ?? Math.floor((bytes.length * 8) / width);
  const out: number[] = new Array(n);
  if (width % 8 === 0) {
    const bytesPer = width / 8;
    if (n * bytesPer > bytes.length) throw new RuntimeError(`${n} lanes of ${width} bits need ${n * bytesPer} bytes, have ${bytes.length}`);
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let b = bytesPer - 1; b >= 0; b--) v = v * 256 + bytes[i * bytesPer + b];
      out[i] = signed && v >= 2 ** (width - 1) ? v - 2 ** width : v;
    }
    return out;
  }
  if (8 % width !== 0) throw new RuntimeError(`lane width ${width} must divide 8 or be a multiple of 8`);
  const perByte = 8 / width;
  if (Math.ceil(n / perByte) > bytes.length) throw new RuntimeError(`${n} lanes of ${width} bits do not fit in ${bytes.length} bytes`);
  const mask = (1 << width) - 1;
  for (let i = 0; i < n; i++) {
    const v = (bytes[Math.floor(i / perByte)] >> ((i % perByte) * width)) & mask;
    out[i] = signed && v >= 1 << (width - 1) ? v - (1 << width) : v;
  }
  return out;
}

/**
 * VTA's packBuffer: a rows x cols matrix into tiles of yBlock x xBlock, tiles in row-major order,
 * values row-major inside a tile. Returns the flat lane sequence.
 */
export function packBlocked(mat: Matrix, yBlock: number, xBlock: number): number[] {
  const rows = mat.length;
  const cols = rows ? mat[0].length : 0;
  if (rows % yBlock || cols % xBlock) throw new RuntimeError(`a ${rows}x${cols} matrix does not tile into ${yBlock}x${xBlock} blocks`);
  const out: number[] = [];
  for (let ty = 0; ty < rows / yBlock; ty++) {
    for (let tx = 0; tx < cols / xBlock; tx++) {
      for (let y = 0; y < yBlock; y++) {
        const row = mat[ty * yBlock + y];
        if (row.length !== cols) throw new RuntimeError('matrix rows must all have the same length');
        for (let x = 0; x < xBlock; x++) out.push(row[tx * xBlock + x]);
      }
    }
  }
  return out;
}

/** VTA's unpackBuffer: the inverse of packBlocked. */
export function unpackBlocked(flat: ArrayLike<number>, rows: number, cols: number, yBlock: number, xBlock: number): Matrix {
  if (rows % yBlock || cols % xBlock) throw new RuntimeError(`a ${rows}x${cols} matrix does not tile into ${yBlock}x${xBlock} blocks`);
  if (flat.length < rows * cols) throw new RuntimeError(`${flat.length} values are fewer than ${rows}x${cols}`);
  const out: Matrix = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  let i = 0;
  for (let ty = 0; ty < rows / yBlock; ty++) {
    for (let tx = 0; tx < cols / xBlock; tx++) {
      for (let y = 0; y < yBlock; y++) {
        for (let x = 0; x < xBlock; x++) out[ty * yBlock + y][tx * xBlock + x] = flat[i++];
      }
    }
  }
  return out;
}

/** Lane width and tile shape [yBlock, xBlock] of a memory type. */
export function tileShape(d: Derived, memType: TileMemType): { width: number; yBlock: number; xBlock: number } {
  switch (memType) {
    case 'INP':
      return { width: d.inpWidth, yBlock: d.batch, xBlock: d.blockIn };
    case 'WGT':
      return { width: d.wgtWidth, yBlock: d.blockOut, xBlock: d.blockIn };
    case 'ACC':
      return { width: d.accWidth, yBlock: d.batch, xBlock: d.blockOut };
    case 'OUT':
      return { width: d.outWidth, yBlock: d.batch, xBlock: d.blockOut };
  }
}

/** Pack a matrix into the DRAM bytes of `memType` tiles (INP [batch][in], WGT [out][in], ACC/OUT [batch][out]). */
export function packMatrix(d: Derived, memType: TileMemType, mat: Matrix): Uint8Array {
  const t = tileShape(d, memType);
  return encodeLanes(packBlocked(mat, t.yBlock, t.xBlock), t.width);
}

/** Unpack rows x cols values of `memType` tiles from DRAM bytes (sign-extended). */
export function unpackMatrix(d: Derived, memType: TileMemType, bytes: Uint8Array, rows: number, cols: number): Matrix {
  const t = tileShape(d, memType);
  return unpackBlocked(decodeLanes(bytes, t.width, rows * cols), rows, cols, t.yBlock, t.xBlock);
}

/** Typed views of a buffer's bytes. */
export function viewInt8(bytes: Uint8Array): Int8Array {
  return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function viewInt32(bytes: Uint8Array): Int32Array {
  if (bytes.byteOffset % 4 || bytes.length % 4) return new Int32Array(decodeLanes(bytes, 32));
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

/** A rows x cols matrix filled by f(r, c). */
export function makeMatrix(rows: number, cols: number, f: (r: number, c: number) => number): Matrix {
  return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => f(r, c)));
}
