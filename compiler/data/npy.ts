/**
 * NumPy `.npy` files (numpy.org/doc/stable/reference/generated/numpy.lib.format.html) as graph tensors.
 *
 * Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header length (little-endian
 * uint16 in version 1.0, uint32 in 2.0 and 3.0), then an ASCII (3.0: UTF-8) Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a newline,
 * then the elements.
 *
 * Read: little-endian (or byte-order-free one-byte) numbers in C order: <f4 -> float32, <f8 ->
 * float32 (the graph computes in float32; a calibration sample saved as float64 is the common case),
 * <f2 -> float16, |i1 int8, |u1 uint8, |b1 bool, <i2/<u2/<i4/<u4 their own type, <i8/<u8 -> int64/
 * uint64 (Float64Array, values beyond 2^53 refused). Fortran order, big-endian data, other types, a
 * bad magic and truncated data are one-line errors naming the file.
 * Written: version 1.0 (2.0 when the header needs it), the tensor's own dtype, C order.
 */
import { readFileSync } from 'node:fs';
import { VtwError } from '../../src/errors.ts';
import { writeFileAtomic } from '../../src/program/container.ts';
import { allocData, float16ToNumber, sizeOf, type DType, type Tensor } from '../graph/tensor.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Element kinds by numpy type code (without the byte-order character): the dtype read and the byte width. */
const READ_TYPES: Record<string, { dtype: DType; bytes: number }> = {
  f2: { dtype: 'float16', bytes: 2 },
  f4: { dtype: 'float32', bytes: 4 },
  f8: { dtype: 'float32', bytes: 8 },
  i1: { dtype: 'int8', bytes: 1 },
  u1: { dtype: 'uint8', bytes: 1 },
  b1: { dtype: 'bool', bytes: 1 },
  i2: { dtype: 'int16', bytes: 2 },
  u2: { dtype: 'uint16', bytes: 2 },
  i4: { dtype: 'int32', bytes: 4 },
  u4: { dtype: 'uint32', bytes: 4 },
  i8: { dtype: 'int64', bytes: 8 },
  u8: { dtype: 'uint64', bytes: 8 },
};

/** The numpy descr each tensor dtype is written as. */
const WRITE_DESCR: Record<DType, string> = {
  float32: '<f4', float16: '<f2', float64: '<f8', int8: '|i1', uint8: '|u1', bool: '|b1',
  int16: '<i2', uint16: '<u2', int32: '<i4', uint32: '<u4', int64: '<i8', uint64: '<u8',
};

const SUPPORTED = 'float16/32/64, int8/16/32/64, uint8/16/32/64 or bool, little-endian';

interface NpyHeader {
  descr: string;
  fortran: boolean;
  shape: number[];
}

/** Parse the dict literal of a header (the three keys numpy writes; the order does not matter). */
function parseHeader(text: string, name: string): NpyHeader {
  const bad = (what: string) => new VtwError(`${name}: malformed .npy header (${what}): ${JSON.stringify(text.trim().slice(0, 80))}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text);
  if (!descr) throw bad("no 'descr'");
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran) throw bad("no 'fortran_order'");
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shape) throw bad("no 'shape'");
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!dims.every((s) => /^[0-9]+L?$/.test(s))) throw bad(`shape (${shape[1]})`);
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims.map((s) => parseInt(s, 10)) };
}

/** Decode the bytes of a `.npy` file; `name` (the path) prefixes every error. */
export function decodeNpy(buf: Uint8Array, name: string): Tensor {
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) {
    throw new VtwError(`${name}: not a .npy file (it does not start with the magic \\x93NUMPY); save arrays with numpy.save`);
  }
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerStart: number;
  let headerLen: number;
  if (major === 1) {
    headerStart = 10;
    headerLen = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new VtwError(`${name}: truncated .npy file (${buf.length} bytes, a version ${major}.0 preamble needs 12)`);
    headerStart = 12;
    headerLen = view.getUint32(8, true);
  } else {
    throw new VtwError(`${name}: .npy format version ${major}.${buf[7]} is not supported (1.0, 2.0 and 3.0 are)`);
  }
  const dataStart = headerStart + headerLen;
  if (buf.length < dataStart) throw new VtwError(`${name}: truncated .npy file (${buf.length} bytes, its header ends at byte ${dataStart})`);
  const header = parseHeader(new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(headerStart, dataStart)), name);
  if (header.fortran) {
    throw new VtwError(`${name}: Fortran-order arrays are not supported; save a C-order copy (numpy.save(path, numpy.ascontiguousarray(a)))`);
  }
  const order = header.descr[0];
  const code = header.descr.slice(1);
  const kind = READ_TYPES[code];
  if (!kind || !'<>|='.includes(order) || header.descr.length !== 3) {
    throw new VtwError(`${name}: element type '${header.descr}' is not supported (${SUPPORTED})`);
  }
  if (order === '>' && kind.bytes > 1) {
    throw new VtwError(`${name}: big-endian data ('${header.descr}') is not supported; save with a little-endian dtype (a.astype('<${code}'))`);
  }
  const count = sizeOf(header.shape);
  const need = count * kind.bytes;
  const have = buf.length - dataStart;
  if (have < need) {
    throw new VtwError(`${name}: truncated .npy file: shape (${header.shape.join(', ')}) of '${header.descr}' needs ${need} bytes of data, the file has ${have}`);
  }
  if (have > need) {
    throw new VtwError(`${name}: .npy size disagrees with its header: shape (${header.shape.join(', ')}) of '${header.descr}' needs ${need} bytes of data, the file has ${have}`);
  }
  return { dtype: kind.dtype, shape: header.shape, data: decodeElements(view, dataStart, count, code, kind.dtype, name) };
}

function decodeElements(view: DataView, at: number, count: number, code: string, dtype: DType, name: string) {
  const out = allocData(dtype, count);
  const bytes = READ_TYPES[code].bytes;
  const get: (o: number) => number = {
    f2: (o: number) => float16ToNumber(view.getUint16(o, true)),
    f4: (o: number) => view.getFloat32(o, true),
    f8: (o: number) => view.getFloat64(o, true),
    i1: (o: number) => view.getInt8(o),
    u1: (o: number) => view.getUint8(o),
    b1: (o: number) => (view.getUint8(o) ? 1 : 0),
    i2: (o: number) => view.getInt16(o, true),
    u2: (o: number) => view.getUint16(o, true),
    i4: (o: number) => view.getInt32(o, true),
    u4: (o: number) => view.getUint32(o, true),
    i8: (o: number) => safeInteger(view.getBigInt64(o, true), name),
    u8: (o: number) => safeInteger(view.getBigUint64(o, true), name),
  }[code]!;
  for (let i = 0; i < count; i++) out[i] = get(at + i * bytes);
  return out;
}

function safeInteger(v: bigint, name: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new VtwError(`${name}: 64-bit integer ${v} is beyond 2^53, which the graph's int64 tensors hold exactly; rescale the data`);
  }
  return Number(v);
}

/** The half-precision bits of a value that float16 holds exactly (graph float16 tensors only hold such values). */
function toFloat16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  const e = Math.floor(Math.log2(a));
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

/** Read a `.npy` file (one-line errors for a missing or malformed file). */
export function readNpy(path: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new VtwError(`cannot read .npy file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeNpy(bytes, path);
}

/** Encode a tensor as a `.npy` file (C order, its own dtype, little-endian). */
export function encodeNpy(t: Tensor): Uint8Array {
  const descr = WRITE_DESCR[t.dtype];
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // The header (preamble included) is padded with spaces to a multiple of 64 bytes and ends in '\n'.
  const padded = (pre: number) => Math.ceil((pre + dict.length + 1) / 64) * 64;
  const v1 = padded(10) - 10 <= 0xffff; // version 1.0 stores the header length in 16 bits
  const pre = v1 ? 10 : 12;
  const total = padded(pre);
  const headerText = dict.padEnd(total - pre - 1, ' ') + '\n';
  const code = descr.slice(1);
  const bytes = READ_TYPES[code].bytes;
  const count = sizeOf(t.shape);
  if (t.data.length !== count) throw new VtwError(`encodeNpy: tensor data has ${t.data.length} elements, shape [${t.shape}] needs ${count}`);
  const out = new Uint8Array(total + count * bytes);
  out.set(MAGIC, 0);
  out[6] = v1 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (v1) view.setUint16(8, headerText.length, true);
  else view.setUint32(8, headerText.length, true);
  for (let i = 0; i < headerText.length; i++) out[pre + i] = headerText.charCodeAt(i);
  const set: (o: number, v: number) => void = {
    f2: (o: number, v: number) => view.setUint16(o, toFloat16Bits(v), true),
    f4: (o: number, v: number) => view.setFloat32(o, v, true),
    f8: (o: number, v: number) => view.setFloat64(o, v, true),
    i1: (o: number, v: number) => view.setInt8(o, v),
    u1: (o: number, v: number) => view.setUint8(o, v),
    b1: (o: number, v: number) => view.setUint8(o, v ? 1 : 0),
    i2: (o: number, v: number) => view.setInt16(o, v, true),
    u2: (o: number, v: number) => view.setUint16(o, v, true),
    i4: (o: number, v: number) => view.setInt32(o, v, true),
    u4: (o: number, v: number) => view.setUint32(o, v, true),
    i8: (o: number, v: number) => view.setBigInt64(o, BigInt(v), true),
    u8: (o: number, v: number) => view.setBigUint64(o, BigInt(v), true),
  }[code]!;
  for (let i = 0; i < count; i++) set(total + i * bytes, t.data[i] as number);
  return out;
}

/** Write a tensor as a `.npy` file (through a temporary file, so a failure leaves no partial file). */
export function writeNpy(path: string, t: Tensor): void {
  writeFileAtomic(path, encodeNpy(t));
}
