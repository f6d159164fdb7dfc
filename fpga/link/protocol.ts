/**
 * The vtw UART host-link protocol (docs/host-protocol.md): constants, CRC-8 and frame encoding,
 * shared by the RTL generator (link/rtl.ts) and the host driver (link/host.ts).
 *
 * Request:  A5 cmd seq addr[4] count[2] hcrc [payload pcrc]
 *           (WRITE_STREAM: the payload in blocks, each followed by its own CRC)
 * Response: 5A status seq cmd [payload] crc
 * Multi-byte fields are little-endian. CRC-8 is polynomial 0x07, initial value 0, MSB first, no
 * final XOR (CRC-8/SMBUS; "123456789" → 0xF4).
 */

export const REQ_SYNC = 0xa5;
export const RESP_SYNC = 0x5a;
/** Request header bytes before hcrc: sync, cmd, seq, addr×4, count×2. */
export const REQ_HEADER_BYTES = 9;
/** Response header bytes before the payload: sync, status, seq, cmd. */
export const RESP_HEADER_BYTES = 4;
export const PROTOCOL_VERSION = 1;
/** First four bytes of a PING payload: "VTWL". */
export const PING_MAGIC = 0x4c575456;

export const Cmd = {
  PING: 0x00,
  WRITE_MEM: 0x01,
  READ_MEM: 0x02,
  WRITE_REG: 0x03,
  READ_REG: 0x04,
  /** Memory write whose payload comes in blocks of 2^k words, each followed by its CRC; one response (links built with streaming only). */
  WRITE_STREAM: 0x05,
} as const;

/** PING's second word: memory words in bits 0..27, log2 of WRITE_STREAM's block words in bits 28..31 (0: no streaming). */
export const PING_MEM_MASK = 0x0fffffff;
export const PING_STREAM_SHIFT = 28;
/** WRITE_STREAM's block size in the board tops that stream: 64 words, a CRC per 256 bytes. */
export const STREAM_BLOCK_WORDS = 64;
export type CmdCode = (typeof Cmd)[keyof typeof Cmd];

export const Status = {
  ACK: 0x00,
  /** The payload CRC did not match: nothing of a register write happened; a memory burst may be partly written (send it again). */
  NAK_CRC: 0x01,
  /** The header CRC did not match; sent once the line has been quiet for the device's timeout. */
  NAK_HDR: 0x02,
  /** Unknown command (after the line has been quiet). */
  NAK_CMD: 0x03,
  /** Address not aligned, outside memory or the register file, or a zero count. */
  NAK_RANGE: 0x04,
  /** The frame stopped in the middle for longer than the device's timeout. */
  NAK_TIMEOUT: 0x05,
  /** The memory port did not take a written word before the next one arrived. */
  NAK_BUSY: 0x06,
} as const;

export const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k]));

/** CRC-8/SMBUS of one byte given the running value. */
export function crc8Byte(crc: number, byte: number): number {
  let c = (crc ^ byte) & 0xff;
  for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  return c;
}

export function crc8(bytes: Uint8Array | readonly number[], init = 0): number {
  let c = init;
  for (const b of bytes) c = crc8Byte(c, b);
  return c;
}

/** Bytes of a request frame. `payload` is the words of WRITE_MEM or the value of WRITE_REG. */
export function encodeRequest(cmd: number, seq: number, addr: number, count: number, payload?: Uint8Array): Uint8Array {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0xffffffff) throw new RangeError(`address ${addr} is not a 32-bit unsigned value`);
  if (!Number.isInteger(count) || count < 0 || count > 0xffff) throw new RangeError(`count ${count} does not fit 16 bits`);
  const head = new Uint8Array(REQ_HEADER_BYTES + 1);
  const dv = new DataView(head.buffer);
  head[0] = REQ_SYNC;
  head[1] = cmd & 0xff;
  head[2] = seq & 0xff;
  dv.setUint32(3, addr >>> 0, true);
  dv.setUint16(7, count, true);
  head[9] = crc8(head.subarray(0, REQ_HEADER_BYTES));
  if (!payload || payload.length === 0) return head;
  const out = new Uint8Array(head.length + payload.length + 1);
  out.set(head);
  out.set(payload, head.length);
  out[out.length - 1] = crc8(payload);
  return out;
}

/** The payload of a WRITE_STREAM: each block of `blockWords` words (the last one shorter) followed by its CRC-8. */
export function streamPayload(data: Uint8Array, blockWords: number): Uint8Array {
  const blockBytes = 4 * blockWords;
  const blocks = Math.ceil(data.length / blockBytes);
  const out = new Uint8Array(data.length + blocks);
  let o = 0;
  for (let i = 0; i < data.length; i += blockBytes) {
    const block = data.subarray(i, Math.min(data.length, i + blockBytes));
    out.set(block, o);
    o += block.length;
    out[o++] = crc8(block);
  }
  return out;
}

/**
 * Bytes of a WRITE_STREAM request: the header, then the words in blocks with their CRCs (the last
 * block's CRC ends the frame where a WRITE_MEM's payload CRC would).
 */
export function encodeStream(seq: number, addr: number, data: Uint8Array, blockWords: number): Uint8Array {
  const head = encodeRequest(Cmd.WRITE_STREAM, seq, addr, data.length / 4);
  const body = streamPayload(data, blockWords);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** Payload bytes the device sends with an ACK to this request. */
export function responsePayloadBytes(cmd: number, count: number): number {
  if (cmd === Cmd.PING) return 8;
  if (cmd === Cmd.READ_REG) return 4;
  if (cmd === Cmd.READ_MEM) return 4 * count;
  return 0;
}
