/**
 * Bit-field access on little-endian arrays of 32-bit words (an instruction is four words, word 0
 * holding bits 31..0). Fields are at most 32 bits wide and may straddle two words.
 */

export function getBits(w: Uint32Array, lsb: number, width: number): number {
  const i = lsb >>> 5;
  const off = lsb & 31;
  let v = w[i] >>> off;
  if (off + width > 32) v = (v | (w[i + 1] << (32 - off))) >>> 0;
  return width >= 32 ? v >>> 0 : (v & (2 ** width - 1)) >>> 0;
}

export function setBits(w: Uint32Array, lsb: number, width: number, value: number): void {
  const i = lsb >>> 5;
  const off = lsb & 31;
  const v = value >>> 0;
  const lowWidth = Math.min(width, 32 - off);
  const lowMask = (lowWidth >= 32 ? 0xffffffff : 2 ** lowWidth - 1) >>> 0;
  w[i] = ((w[i] & ~(lowMask << off)) | ((v & lowMask) << off)) >>> 0;
  if (lowWidth < width) {
    const hiWidth = width - lowWidth;
    const hiMask = (2 ** hiWidth - 1) >>> 0;
    w[i + 1] = ((w[i + 1] & ~hiMask) | ((v >>> lowWidth) & hiMask)) >>> 0;
  }
}

/** Words → lowercase hex, most significant digit first (32 digits for an instruction). */
export function wordsToHex(w: Uint32Array): string {
  let s = '';
  for (let i = w.length - 1; i >= 0; i--) s += w[i].toString(16).padStart(8, '0');
  return s;
}

/** Words in memory order: little-endian bytes, word 0 at the lowest address. */
export function wordsToBytes(w: Uint32Array): Uint8Array {
  const out = new Uint8Array(w.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < w.length; i++) view.setUint32(i * 4, w[i], true);
  return out;
}

export function bytesToWords(bytes: Uint8Array, offset: number, count: number): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  const w = new Uint32Array(count);
  for (let i = 0; i < count; i++) w[i] = view.getUint32(i * 4, true);
  return w;
}
