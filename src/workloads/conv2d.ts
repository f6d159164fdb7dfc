/**
 * Packed 2-D convolution built directly with the host runtime: VTA's conv2d schedule in miniature
 * (output tiles, input-channel chunks, padded input loads, one micro-op kernel per tile shape with
 * the reduction over input channels and kernel rows in the two hardware loops, requantization by
 * SHR / MAX / MIN, and optional double buffering with dependency tokens — VTA's virtual threads).
 * Used by benchmarks (ResNet-18 layers) and as a large end-to-end test against a plain reference.
 *
 * DRAM layouts (batch group n, channel block c): input [n][cin/BI][H][W] INP elements, weights
 * [cout/BO][cin/BI][K][K] WGT elements, output [n][cout/BO][OH][OW] OUT elements.
 */
import type { Derived } from '../config/derive.ts';
import { VtwError } from '../errors.ts';
import { Runtime, type DataBuffer, type UopKernel } from '../runtime/runtime.ts';
import type { Program } from '../program/container.ts';
import { Rng } from '../util/rng.ts';
import { wrapSigned } from '../runtime/pack.ts';

export interface Conv2dShape {
  name: string;
  batch: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  pad: number;
  stride: number;
}

/** ResNet-18 layers VTA offloads (vta-reference Part B §6.4), batch 1. */
export const RESNET18_CONVS: readonly Conv2dShape[] = [
  { name: 'C2', batch: 1, h: 56, w: 56, cin: 64, cout: 64, k: 3, pad: 1, stride: 1 },
  { name: 'C3', batch: 1, h: 56, w: 56, cin: 64, cout: 128, k: 3, pad: 1, stride: 2 },
  { name: 'C4', batch: 1, h: 56, w: 56, cin: 64, cout: 128, k: 1, pad: 0, stride: 2 },
  { name: 'C5', batch: 1, h: 28, w: 28, cin: 128, cout: 128, k: 3, pad: 1, stride: 1 },
  { name: 'C6', batch: 1, h: 28, w: 28, cin: 128, cout: 256, k: 3, pad: 1, stride: 2 },
  { name: 'C7', batch: 1, h: 28, w: 28, cin: 128, cout: 256, k: 1, pad: 0, stride: 2 },
  { name: 'C8', batch: 1, h: 14, w: 14, cin: 256, cout: 256, k: 3, pad: 1, stride: 1 },
  { name: 'C9', batch: 1, h: 14, w: 14, cin: 256, cout: 512, k: 3, pad: 1, stride: 2 },
  { name: 'C10', batch: 1, h: 14, w: 14, cin: 256, cout: 512, k: 1, pad: 0, stride: 2 },
  { name: 'C11', batch: 1, h: 7, w: 7, cin: 512, cout: 512, k: 3, pad: 1, stride: 1 },
];

export interface Conv2dTiling {
  /** Output rows and columns per tile. */
  tileH: number;
  tileW: number;
  /** Output / input channel blocks per tile / chunk. */
  tileCo: number;
  tileCi: number;
  /** 2 = double-buffered SRAM halves with overlapping load, compute and store (virtual threads). */
  threads: 1 | 2;
}

export interface Conv2dBuild {
  program: Program;
  shape: Conv2dShape;
  tiling: Conv2dTiling;
  macs: number;
  /** Host views of the operands, for the reference. */
  input: Int8Array;
  weight: Int8Array;
  output: DataBuffer;
  shift: number;
}

const outSize = (s: Conv2dShape) => ({
  oh: Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1,
  ow: Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1,
});

export function conv2dMacs(s: Conv2dShape): number {
  const { oh, ow } = outSize(s);
  return s.batch * oh * ow * s.cout * s.cin * s.k * s.k;
}

function checkShape(d: Derived, s: Conv2dShape): void {
  if (s.cin % d.blockIn || s.cout % d.blockOut || s.batch % d.batch) {
    throw new VtwError(`conv2d ${s.name}: channels must be multiples of ${d.blockIn} and batch of ${d.batch}`);
  }
  if (s.pad > 15) throw new VtwError(`conv2d ${s.name}: padding ${s.pad} exceeds the 4-bit pad fields`);
}

/** Largest tiling that fits the SRAM halves and the micro-op buffer (a simple analytical planner). */
export function planConv2d(d: Derived, s: Conv2dShape, threads: 1 | 2 = 2): Conv2dTiling {
  checkShape(d, s);
  const { oh, ow } = outSize(s);
  const cib = s.cin / d.blockIn;
  const cob = s.cout / d.blockOut;
  const half = (depth: number) => Math.floor(depth / threads);
  let best: Conv2dTiling | undefined;
  let bestScore = -1;
  for (let tileCo = 1; tileCo <= cob; tileCo++) {
    if (cob % tileCo) continue;
    for (let tileCi = 1; tileCi <= cib; tileCi++) {
      if (cib % tileCi) continue;
      for (let tileH = 1; tileH <= oh; tileH++) {
        const tileW = ow;
        const ih = (tileH - 1) * s.stride + s.k;
        const iw = (tileW - 1) * s.stride + s.k;
        const acc = tileCo * tileH * tileW;
        const inp = tileCi * ih * iw;
        const wgt = tileCo * tileCi * s.k * s.k;
        const uops = s.k * acc;
        // Kernels: one per (input half, acc half) pair for full tiles, plus edge-tile shapes.
        const uopNeed = uops * threads * threads * 2;
        if (acc > half(d.depth.acc) || inp > half(d.depth.inp) || wgt > half(d.depth.wgt) || uopNeed > d.depth.uop) continue;
        if (acc < 3 || acc > 16383) continue;
        // Prefer big output tiles (fewer weight reloads), then big input chunks.
        const score = acc * 4 + tileCi;
        if (score > bestScore) {
          bestScore = score;
          best = { tileH, tileW, tileCo, tileCi, threads };
        }
      }
    }
  }
  if (!best) throw new VtwError(`conv2d ${s.name}: no tiling fits the ${d.variant} buffers`);
  return best;
}

/** Build the conv2d program with random int8 data; `shift` is the requantization shift. */
export function buildConv2d(d: Derived, s: Conv2dShape, opts: { seed?: number; tiling?: Conv2dTiling; shift?: number } = {}): Conv2dBuild {
  checkShape(d, s);
  const t = opts.tiling ?? planConv2d(d, s);
  const shift = opts.shift ?? 8;
  const rng = new Rng(opts.seed ?? 1);
  const rt = new Runtime(d, { strict: false });
  const { oh: OH, ow: OW } = outSize(s);
  const B = d.batch;
  const nb = s.batch / B;
  const cib = s.cin / d.blockIn;
  const cob = s.cout / d.blockOut;
  const K = s.k;

  const input = new Int8Array(nb * cib * s.h * s.w * d.elemBytes.inp);
  const weight = new Int8Array(cob * cib * K * K * d.elemBytes.wgt);
  for (let i = 0; i < input.length; i++) input[i] = rng.int(-128, 127);
  for (let i = 0; i < weight.length; i++) weight[i] = rng.int(-128, 127);
  if (d.inpWidth !== 8 || d.wgtWidth !== 8) throw new VtwError('conv2d workloads need 8-bit inputs and weights');
  const inpBuf = rt.alloc('input', input.length, { role: 'input', dtype: 'int8', data: new Uint8Array(input.buffer) });
  const wgtBuf = rt.alloc('weight', weight.length, { role: 'input', dtype: 'int8', data: new Uint8Array(weight.buffer) });
  const outBuf = rt.alloc('output', nb * cob * OH * OW * d.elemBytes.out, { role: 'output', dtype: 'int8' });

  const halves = t.threads;
  const accHalf = Math.floor(d.depth.acc / halves);
  const inpHalf = Math.floor(d.depth.inp / halves);
  const wgtHalf = Math.floor(d.depth.wgt / halves);
  const kernels = new Map<string, UopKernel>();
  const kernel = (key: string, build: (r: Runtime) => void) => {
    let k = kernels.get(key);
    if (!k) kernels.set(key, (k = rt.recordKernel(build)));
    return k;
  };

  // Initial tokens: one free SRAM half per thread for the loads (compute -> load) and for the
  // accumulators (store -> compute). They are drained at the end so every queue ends empty.
  for (let i = 0; i < halves; i++) rt.depPush(2, 1);
  for (let i = 0; i < halves; i++) rt.depPush(3, 2);

  let tile = 0;
  let chunk = 0;
  for (let n = 0; n < nb; n++) {
    for (let oh0 = 0; oh0 < OH; oh0 += t.tileH) {
      const th = Math.min(t.tileH, OH - oh0);
      const ih = (th - 1) * s.stride + K;
      for (let co0 = 0; co0 < cob; co0 += t.tileCo) {
        const tco = Math.min(t.tileCo, cob - co0);
        for (let ow0 = 0; ow0 < OW; ow0 += t.tileW) {
          const tw = Math.min(t.tileW, OW - ow0);
          const iw = (tw - 1) * s.stride + K;
          const accBase = (tile % halves) * accHalf;
          const nAcc = tco * th * tw;
          tile++;

          rt.depPop(3, 2); // this accumulator half has been stored
          rt.pushGemmOp(kernel(`reset:${accBase}:${nAcc}`, (r) => {
            r.uopLoopBegin(nAcc, 1, 0, 0);
            r.uopPush('GEMM', 1, accBase, 0, 0);
            r.uopLoopEnd();
          }));

          for (let ci0 = 0; ci0 < cib; ci0 += t.tileCi) {
            const tci = Math.min(t.tileCi, cib - ci0);
            const h = chunk % halves;
            chunk++;
            const inpBase = h * inpHalf;
            const wgtBase = h * wgtHalf;
            // Loads: wait for the half to be free, padded input rows per channel block, weights.
            rt.depPop(2, 1);
            const iy0 = oh0 * s.stride - s.pad;
            const ix0 = ow0 * s.stride - s.pad;
            const yPad0 = Math.max(0, -iy0);
            const xPad0 = Math.max(0, -ix0);
            const yPad1 = Math.max(0, iy0 + ih - s.h);
            const xPad1 = Math.max(0, ix0 + iw - s.w);
            const ySize = ih - yPad0 - yPad1;
            const xSize = iw - xPad0 - xPad1;
            for (let c = 0; c < tci; c++) {
              const off = ((n * cib + ci0 + c) * s.h + iy0 + yPad0) * s.w + ix0 + xPad0;
              rt.loadBuffer2D(inpBuf, off, xSize, ySize, s.w, xPad0, yPad0, xPad1, yPad1, inpBase + c * ih * iw, 'INP');
            }
            rt.loadBuffer2D(wgtBuf, (co0 * cib + ci0) * K * K, tci * K * K, tco, cib * K * K, 0, 0, 0, 0, wgtBase, 'WGT');
            rt.depPush(1, 2);

            // Compute: micro-ops over (kw, co, oh, ow); hardware loops over input channel and kernel row.
            rt.depPop(1, 2);
            const key = `gemm:${accBase}:${inpBase}:${wgtBase}:${tco}:${th}:${tw}:${tci}`;
            rt.pushGemmOp(kernel(key, (r) => {
              r.uopLoopBegin(tci, 0, ih * iw, K * K);
              r.uopLoopBegin(K, 0, iw, K);
              for (let kw = 0; kw < K; kw++) {
                for (let co = 0; co < tco; co++) {
                  for (let y = 0; y < th; y++) {
                    for (let x = 0; x < tw; x++) {
                      r.uopPush('GEMM', 0, accBase + (co * th + y) * tw + x, inpBase + y * s.stride * iw + x * s.stride + kw, wgtBase + co * tci * K * K + kw);
                    }
                  }
                }
              }
              r.uopLoopEnd();
              r.uopLoopEnd();
            }));
            rt.depPush(2, 1); // the input half may be overwritten
          }

          // Requantize: (acc >> shift) clipped to [0, 127]; the ALU writes OUT.
          for (const [op, imm] of [['SHR', shift], ['MAX', 0], ['MIN', 127]] as const) {
            rt.pushAluOp(kernel(`alu:${op}:${accBase}:${nAcc}`, (r) => {
              r.uopLoopBegin(nAcc, 1, 1, 0);
              r.uopPush('ALU', 0, accBase, accBase, 0, op, 1, imm);
              r.uopLoopEnd();
            }));
          }
          rt.depPush(2, 3);

          rt.depPop(2, 3);
          for (let co = 0; co < tco; co++) {
            const off = ((n * cob + co0 + co) * OH + oh0) * OW + ow0;
            rt.storeBuffer2D(accBase + co * th * tw, 'OUT', outBuf, off, tw, th, OW);
          }
          rt.depPush(3, 2);
        }
      }
    }
  }
  for (let i = 0; i < halves; i++) rt.depPop(2, 1);
  rt.commitPendingPop(1);
  for (let i = 0; i < halves; i++) {
    rt.depPop(3, 2);
    rt.commitPendingPop(2);
  }
  const program = rt.synchronize();
  return { program, shape: s, tiling: t, macs: conv2dMacs(s), input, weight, output: outBuf, shift };
}

/** Plain reference: NCHW-blocked conv, >> shift, clip to [0, 127], as int8 in the output layout. */
export function conv2dReference(d: Derived, b: Conv2dBuild): Int8Array {
  const s = b.shape;
  const { oh: OH, ow: OW } = outSize(s);
  const BI = d.blockIn;
  const BO = d.blockOut;
  const B = d.batch;
  const cib = s.cin / BI;
  const cob = s.cout / BO;
  const out = new Int8Array(s.batch / B * cob * OH * OW * B * BO);
  const inpAt = (n: number, c: number, y: number, x: number, bi: number, k: number) =>
    b.input[((((n * cib + c) * s.h + y) * s.w + x) * B + bi) * BI + k];
  const wgtAt = (co: number, c: number, ky: number, kx: number, o: number, k: number) =>
    b.weight[((((co * cib + c) * s.k + ky) * s.k + kx) * BO + o) * BI + k];
  for (let n = 0; n < s.batch / B; n++)
    for (let co = 0; co < cob; co++)
      for (let y = 0; y < OH; y++)
        for (let x = 0; x < OW; x++)
          for (let bi = 0; bi < B; bi++)
            for (let o = 0; o < BO; o++) {
              let acc = 0;
              for (let c = 0; c < cib; c++)
                for (let ky = 0; ky < s.k; ky++) {
                  const iy = y * s.stride - s.pad + ky;
                  if (iy < 0 || iy >= s.h) continue;
                  for (let kx = 0; kx < s.k; kx++) {
                    const ix = x * s.stride - s.pad + kx;
                    if (ix < 0 || ix >= s.w) continue;
                    for (let k = 0; k < BI; k++) acc += inpAt(n, c, iy, ix, bi, k) * wgtAt(co, c, ky, kx, o, k);
                  }
                }
              const v = Math.min(127, Math.max(0, wrapSigned(acc, d.accWidth) >> b.shift));
              out[((((n * cob + co) * OH + y) * OW + x) * B + bi) * BO + o] = v;
            }
  return out;
}
