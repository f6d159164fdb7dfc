/**
 * Layout packing (vta-reference Part B §5.3): NCHW activations become NCHW{BATCH}n{BLOCK_IN}c
 * ([N/B][C/BI][H][W][B][BI]), OIHW weights become OIHW{BLOCK_OUT}o{BLOCK_IN}i
 * ([O/BO][I/BI][KH][KW][BO][BI]), per-channel biases become one accumulator element per channel
 * block, replicated over the batch rows ([C/BO][B][BO]). Batch and channels that are not whole
 * blocks are padded with zeros (padded outputs are dropped when unpacking).
 *
 * Grouped convolutions whose groups are narrower than a block are packed several groups per block:
 * a supergroup of `gs` groups gets block-diagonal weights (zero between groups), which computes the
 * same result with up to `gs` times fewer micro-ops (depthwise convolution included).
 *
 * The channel positions come from the one layout description (compiler/ops/layout.ts) that the
 * host targets' pack / unpack stages use too; `packConvKernel` packs the host targets' weights.
 */
import { inputPacking, outputPacking, type ConvGeom } from '../ops/conv2d.ts';
import { packedChannel } from '../ops/layout.ts';

/** NCHW activations -> [NB][CB][H][W][B][BI] with CB = total channel blocks. */
export function packActivations(nchw: ArrayLike<number>, n: number, c: number, h: number, w: number, B: number, BI: number, channelOf: (c: number) => number, CB: number): Int32Array {
  const NB = Math.ceil(n / B);
  const out = new Int32Array(NB * CB * h * w * B * BI);
  for (let i = 0; i < n; i++) {
    const nb = Math.floor(i / B);
    const bi = i % B;
    for (let ch = 0; ch < c; ch++) {
      const pc = channelOf(ch);
      const cb = Math.floor(pc / BI);
      const lane = pc % BI;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          out[((((nb * CB + cb) * h + y) * w + x) * B + bi) * BI + lane] = nchw[((i * c + ch) * h + y) * w + x];
        }
      }
    }
  }
  return out;
}

/** [NB][CB][H][W][B][BO] -> NCHW, dropping padded batch rows and channels. */
export function unpackActivations(packed: ArrayLike<number>, n: number, c: number, h: number, w: number, B: number, BO: number, channelOf: (c: number) => number, CB: number): Int32Array {
  const out = new Int32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    const nb = Math.floor(i / B);
    const bi = i % B;
    for (let ch = 0; ch < c; ch++) {
      const pc = channelOf(ch);
      const cb = Math.floor(pc / BO);
      const lane = pc % BO;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          out[((i * c + ch) * h + y) * w + x] = packed[((((nb * CB + cb) * h + y) * w + x) * B + bi) * BO + lane];
        }
      }
    }
  }
  return out;
}

/** Packed positions of input / output channels: the layout description of compiler/ops/layout.ts. */
export function convInputChannel(g: ConvGeom): (c: number) => number {
  const p = inputPacking(g);
  return (c) => packedChannel(p, c);
}

export function convOutputChannel(g: ConvGeom): (c: number) => number {
  const p = outputPacking(g);
  return (c) => packedChannel(p, c);
}

export function packConvData(g: ConvGeom, nchw: ArrayLike<number>): Int32Array {
  const s = g.spec;
  return packActivations(nchw, s.batch, s.cin, s.h, s.w, g.B, g.BI, convInputChannel(g), g.CIB);
}

export function unpackConvOutput(g: ConvGeom, packed: ArrayLike<number>): Int32Array {
  const s = g.spec;
  return unpackActivations(packed, s.batch, s.cout, g.OH, g.OW, g.B, g.BO, convOutputChannel(g), g.COB);
}

/** OIHW grouped weights [cout][cin/groups][K][K] -> [COB][cibg][K][K][BO][BI] (block-diagonal supergroups). */
export function packConvKernel(g: ConvGeom, oihw: ArrayLike<number>): Int32Array {
  const s = g.spec;
  const K = g.K;
  const cinG0 = s.cin / s.groups;
  const coutG0 = s.cout / s.groups;
  const out = new Int32Array(g.COB * g.cibg * K * K * g.BO * g.BI);
  const outCh = convOutputChannel(g);
  for (let o = 0; o < s.cout; o++) {
    const po = outCh(o);
    const cob = Math.floor(po / g.BO);
    const ol = po % g.BO;
    const gi = Math.floor(o / coutG0);
    for (let l = 0; l < cinG0; l++) {
      const pos = (gi % g.gs) * cinG0 + l; // position inside the supergroup
      const cib = Math.floor(pos / g.BI);
      const il = pos % g.BI;
      for (let ky = 0; ky < K; ky++) {
        for (let kx = 0; kx < K; kx++) {
          out[(((((cob * g.cibg + cib) * K + ky) * K + kx) * g.BO + ol) * g.BI) + il] = oihw[((o * cinG0 + l) * K + ky) * K + kx];
        }
      }
    }
  }
  return out;
}

/** Per-output-channel bias -> [COB][B][BO]. */
export function packBias(g: { COB: number; B: number; BO: number }, bias: ArrayLike<number>, channelOf: (c: number) => number): Int32Array {
  const out = new Int32Array(g.COB * g.B * g.BO);
  for (let c = 0; c < bias.length; c++) {
    const pc = channelOf(c);
    const cb = Math.floor(pc / g.BO);
    const lane = pc % g.BO;
    for (let b = 0; b < g.B; b++) out[(cb * g.B + b) * g.BO + lane] = bias[c];
  }
  return out;
}
