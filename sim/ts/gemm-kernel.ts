/**
 * The GEMM inner product as a WebAssembly SIMD kernel: one micro-op's BLOCK_OUT accumulators of
 * one batch row, acc[o] += sum_k inp[k] * wgt[o][k], then the ACC_WIDTH wrap and the OUT narrowing.
 * The simulator keeps its INP, WGT, ACC and OUT SRAMs in the kernel's linear memory (Int32Array
 * views over it, so the rest of the simulator reads and writes them as before). Per output lane the
 * kernel multiplies four input lanes at a time (i32x4), and four outputs' partial sums are reduced
 * together by a 4x4 transpose-and-add, giving one i32x4 of results.
 *
 * The arithmetic is int32 modulo 2^32 before the wrap to ACC_WIDTH (<= 32 bits): the same integers
 * as the scalar loop and the RTL. The module is written here byte by byte (a dozen opcodes), so
 * nothing is assembled at run time; configurations it does not fit (BLOCK_IN or BLOCK_OUT not a
 * multiple of 4, no WebAssembly SIMD) use the scalar loop of datapath.ts.
 */
import type { Derived } from '../../src/config/derive.ts';

/** Byte offsets of the SRAMs in the kernel's memory and the memory's size. */
export interface KernelLayout {
  inp: number;
  wgt: number;
  acc: number;
  out: number;
  pages: number;
}

/** kernel(accByte, inpByte, wgtByte): one micro-op, one batch row. */
export type GemmKernel = (acc: number, inp: number, wgt: number) => void;

/** The WebAssembly JS API this file uses (the project's TypeScript libs do not declare it). */
interface WasmJs {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (limits: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmJs }).WebAssembly;

const PAGE = 65536;
const LANES = 4;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

// opcodes (WebAssembly core 2.0 and its SIMD proposal)
const I32 = 0x7f;
const V128 = 0x7b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const IF = 0x04;
const VOID = 0x40;
const END = 0x0b;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00];
const V128_STORE = [SIMD, 0x0b];
const V128_ZERO = [SIMD, 0x0c, ...new Array<number>(16).fill(0)];
const V128_ANY_TRUE = [SIMD, 0x53];
const I8X16_SHUFFLE = [SIMD, 0x0d];
const I32X4_SHL = [SIMD, ...uleb(171)];
const I32X4_SHR_S = [SIMD, ...uleb(172)];
const I32X4_ADD = [SIMD, ...uleb(174)];
const I32X4_MUL = [SIMD, ...uleb(181)];

/** i8x16.shuffle picking 32-bit lanes (0-3 of the first operand, 4-7 of the second). */
const shuffle32 = (lanes: number[]): number[] => [...I8X16_SHUFFLE, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
/** [a0 b0 a1 b1], [a2 b2 a3 b3], [a0 a1 b0 b1], [a2 a3 b2 b3] */
const UNPACK_LO = shuffle32([0, 4, 1, 5]);
const UNPACK_HI = shuffle32([2, 6, 3, 7]);
const LOW_HALVES = shuffle32([0, 1, 4, 5]);
const HIGH_HALVES = shuffle32([2, 3, 6, 7]);

/** memarg: alignment exponent and constant offset. */
const mem = (align: number, offset: number) => [align, ...uleb(offset)];

/** Sign-extend the low `32 - sh` bits of every lane of the v128 on the stack. */
const wrap = (sh: number): number[] => (sh ? [I32_CONST, ...uleb(sh), ...I32X4_SHL, I32_CONST, ...uleb(sh), ...I32X4_SHR_S] : []);

/** The kernel module for one configuration's block shape and widths, and its memory layout. */
function buildModule(d: Derived): { bytes: Uint8Array; layout: KernelLayout } {
  const BI = d.blockIn;
  const BO = d.blockOut;
  const sizes = { inp: d.depth.inp * d.batch * BI, wgt: d.depth.wgt * BO * BI, acc: d.depth.acc * d.batch * BO };
  let at = 0;
  const place = (n: number) => {
    const o = at;
    at += Math.ceil((n * 4) / 16) * 16;
    return o;
  };
  const layout = { inp: place(sizes.inp), wgt: place(sizes.wgt), acc: place(sizes.acc), out: place(sizes.acc), pages: 0 };
  layout.pages = Math.max(1, Math.ceil(at / PAGE));
  const accSh = 32 - d.accWidth;
  const outSh = 32 - d.outWidth;
  const outFromAcc = layout.out - layout.acc;

  // locals: 0 acc, 1 inp, 2 wgt (params); i32: whether each group of four input lanes has a
  // non-zero one; v128: the input's BI/4 vectors, four outputs' partial sums, two pair sums, the result
  const groupsIn = BI / LANES;
  const NZ = 3;
  const X = NZ + groupsIn;
  const V = X + groupsIn;
  const S01 = V + LANES;
  const S23 = S01 + 1;
  const R = S23 + 1;
  const code: number[] = [];
  for (let j = 0; j < groupsIn; j++) {
    code.push(LOCAL_GET, 1, ...V128_LOAD, ...mem(4, 16 * j), LOCAL_SET, X + j);
    code.push(LOCAL_GET, X + j, ...V128_ANY_TRUE, LOCAL_SET, NZ + j);
  }
  for (let g = 0; g < BO / LANES; g++) {
    // partial sums of outputs 4g..4g+3: lane l of V+i holds the sum over k = l mod 4 of
    // inp[k] * wgt[4g+i][k]; groups of input lanes that are all zero add nothing and are skipped
    // (padding channels: LeNet's first layer has one input channel in sixteen)
    for (let i = 0; i < LANES; i++) code.push(...V128_ZERO, LOCAL_SET, V + i);
    for (let j = 0; j < groupsIn; j++) {
      code.push(LOCAL_GET, NZ + j, IF, VOID);
      for (let i = 0; i < LANES; i++) {
        const o = LANES * g + i;
        code.push(LOCAL_GET, V + i, LOCAL_GET, X + j, LOCAL_GET, 2, ...V128_LOAD, ...mem(4, 4 * (o * BI + LANES * j)), ...I32X4_MUL, ...I32X4_ADD, LOCAL_SET, V + i);
      }
      code.push(END);
    }
    // transpose-and-add: R = [sum(V0) sum(V1) sum(V2) sum(V3)] + acc
    const pairSum = (a: number, b: number, to: number) =>
      code.push(LOCAL_GET, a, LOCAL_GET, b, ...UNPACK_LO, LOCAL_GET, a, LOCAL_GET, b, ...UNPACK_HI, ...I32X4_ADD, LOCAL_SET, to);
    pairSum(V, V + 1, S01);
    pairSum(V + 2, V + 3, S23);
    code.push(LOCAL_GET, S01, LOCAL_GET, S23, ...LOW_HALVES, LOCAL_GET, S01, LOCAL_GET, S23, ...HIGH_HALVES, ...I32X4_ADD);
    code.push(LOCAL_GET, 0, ...V128_LOAD, ...mem(4, 16 * g), ...I32X4_ADD, ...wrap(accSh), LOCAL_SET, R);
    code.push(LOCAL_GET, 0, LOCAL_GET, R, ...V128_STORE, ...mem(4, 16 * g));
    code.push(LOCAL_GET, 0, LOCAL_GET, R, ...wrap(outSh), ...V128_STORE, ...mem(4, outFromAcc + 16 * g));
  }
  code.push(END);
  const body = [...vec([[...uleb(groupsIn), I32], [...uleb(R - X + 1), V128]]), ...code];

  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), ...vec([])]])), // type: (i32 i32 i32) -> ()
    ...section(2, vec([[...str('e'), ...str('m'), 0x02, 0x00, ...uleb(layout.pages)]])), // import memory e.m
    ...section(3, vec([[0]])), // function 0 has type 0
    ...section(7, vec([[...str('k'), 0x00, 0]])), // export "k" = function 0
    ...section(10, vec([[...uleb(body.length), ...body]])), // code
  ];
  return { bytes: Uint8Array.from(bytes), layout };
}

/** Whether the kernel fits configuration d (four lanes per operation). */
export function kernelFits(d: Derived): boolean {
  return d.blockOut % LANES === 0 && d.blockIn % LANES === 0 && d.accWidth <= 32 && d.outWidth <= 32 && wasm !== undefined;
}

let enabled = true;

/**
 * Turn the kernel off (or back on) for Datapaths created afterwards: the scalar loop then runs
 * every configuration (tests compare the two).
 */
export function useGemmKernel(on: boolean): void {
  enabled = on;
}

/** Whether new Datapaths use the kernel where it fits. */
export function gemmKernelEnabled(): boolean {
  return enabled;
}

const modules = new Map<string, { module: object; layout: KernelLayout } | null>();

/** The compiled kernel module of configuration d, or undefined where it does not fit (or cannot compile). */
export function kernelModule(d: Derived): { module: object; layout: KernelLayout } | undefined {
  if (!enabled) return undefined;
  const key = [d.batch, d.blockIn, d.blockOut, d.accWidth, d.outWidth, d.depth.inp, d.depth.wgt, d.depth.acc].join(',');
  let m = modules.get(key);
  if (m === undefined) {
    m = null;
    if (kernelFits(d)) {
      try {
        const { bytes, layout } = buildModule(d);
        m = { module: new wasm!.Module(bytes), layout };
      } catch {
        m = null; // an engine without SIMD: the scalar loop
      }
    }
    modules.set(key, m);
  }
  return m ?? undefined;
}

/** A memory for the SRAMs and the kernel bound to it. */
export function instantiateKernel(m: { module: object; layout: KernelLayout }): { memory: { buffer: ArrayBuffer }; kernel: GemmKernel } {
  const memory = new wasm!.Memory({ initial: m.layout.pages, maximum: m.layout.pages });
  const inst = new wasm!.Instance(m.module, { e: { m: memory } });
  return { memory, kernel: inst.exports.k as GemmKernel };
}
