/**
 * The float32 convolution of a graph node as C for the cpu graph host (compiler/target/graph-host.ts):
 * the convolutions the quantizer leaves in float (MobileNetV3's depthwise convolutions with strides
 * [2, 1], which QConv does not take). The loop IR is integer-only, so this one kernel is printed
 * directly. It computes exactly what the reference kernel (compiler/host/kernels.ts, `convCore`)
 * does: per output, the products float x float in double precision (exact), summed in double in the
 * reference's order (input channel, kernel row, kernel column), a zero weight skipped, then the bias
 * added in double, the sum rounded to float32 and the fused clip applied against the double bounds.
 * The output row is the innermost loop, which the compiler vectorizes without reordering any sum.
 */
import { CompileError } from '../errors.ts';
import { staticShape, type Graph, type Node } from '../graph/ir.ts';
import { convGeometry } from '../graph/shapes.ts';
import type { CpuTargetSpec } from '../target/target.ts';
import { buildShared, loadKernel, type Kernel } from './build.ts';
import type { CSource } from './codegen.ts';

/** A double as a C literal that reads back as the same value. */
function cDouble(x: number): string {
  if (!Number.isFinite(x)) throw new CompileError(`internal: the float conv bound ${x} has no C literal`);
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** Whether `node` is a float32 Conv with constant weights (and bias) on 4-D data, which floatConvSource prints. */
export function isFloatConv(node: Node, g: Graph): boolean {
  if (node.op !== 'Conv') return false;
  const x = g.values.get(node.inputs[0]);
  const w = g.values.get(node.inputs[1]);
  const b = node.inputs[2] ? g.values.get(node.inputs[2]) : undefined;
  const clip = node.attrs.clip;
  return !!x && x.dtype === 'float32' && staticShape(x)?.length === 4 && !!w?.const && w.dtype === 'float32' && (!node.inputs[2] || (!!b?.const && b.dtype === 'float32')) &&
    (clip === undefined || (Array.isArray(clip) && clip.length === 2 && (Number.isFinite(clip[0]) || clip[0] === -Infinity) && (Number.isFinite(clip[1]) || clip[1] === Infinity)));
}

/** The C source of a float conv node: void NAME(const float *x, const float *w[, const float *b], float *y). */
export function floatConvSource(node: Node, g: Graph): CSource {
  const x = staticShape(g.values.get(node.inputs[0])!)!;
  const w = g.values.get(node.inputs[1])!.const!;
  const bias = !!node.inputs[2];
  const { M, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW } = convGeometry(node, x, w.shape);
  const [N, C, H, W] = x;
  const CG = C / G;
  const MG = M / G;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let kx = 0; kx < KW; kx++) {
    const x0 = kx * DW - PL;
    lo.push(Math.min(OW, Math.max(0, Math.ceil(-x0 / SW))));
    hi.push(Math.max(lo[kx], Math.min(OW, Math.floor((W - 1 - x0) / SW) + 1)));
  }
  const clip = Array.isArray(node.attrs.clip) ? (node.attrs.clip as number[]) : undefined;
  const name = `vtw_fconv_${N}_${C}_${H}_${W}_${M}_${G}_${KH}x${KW}_s${SH}x${SW}_d${DH}x${DW}_p${PT}x${PL}${bias ? '_b' : ''}${clip ? '_c' : ''}`;
  // the fused clip, an infinite bound left out (a fused Relu is [0, Infinity])
  const bound = (b: number, op: string) => (Number.isFinite(b) ? `v ${op} ${cDouble(b)} ? ${cDouble(b)} : ` : '');
  const store = clip ? `const double r = ${bound(clip[0], '<')}${bound(clip[1], '>')}(double)v; out[ox] = (float)r;` : 'out[ox] = v;';
  const text = `#include <stddef.h>
/* ${node.op} node ${node.name}: float32, sums in double in the reference's order */
void ${name}(const float *restrict x, const float *restrict w, ${bias ? 'const float *restrict b, ' : ''}float *restrict y) {
  static const ptrdiff_t lo[${KW}] = { ${lo.join(', ')} }, hi[${KW}] = { ${hi.join(', ')} };
  double acc[${OW}];
  for (ptrdiff_t n = 0; n < ${N}; n++)
  for (ptrdiff_t m = 0; m < ${M}; m++) {
    const ptrdiff_t grp = m / ${MG};
    for (ptrdiff_t oy = 0; oy < ${OH}; oy++) {
      for (ptrdiff_t ox = 0; ox < ${OW}; ox++) acc[ox] = 0;
      for (ptrdiff_t c = 0; c < ${CG}; c++) {
        const float *xin = x + (n * ${C} + grp * ${CG} + c) * ${H * W};
        for (ptrdiff_t ky = 0; ky < ${KH}; ky++) {
          const ptrdiff_t iy = oy * ${SH} - ${PT} + ky * ${DH};
          if (iy < 0 || iy >= ${H}) continue;
          for (ptrdiff_t kx = 0; kx < ${KW}; kx++) {
            const double wk = w[m * ${CG * KH * KW} + (c * ${KH} + ky) * ${KW} + kx];
            if (wk == 0) continue;
            const float *row = xin + iy * ${W} + kx * ${DW} - ${PL};
            for (ptrdiff_t ox = lo[kx]; ox < hi[kx]; ox++) acc[ox] += (double)row[ox * ${SW}] * wk;
          }
        }
      }
      float *out = y + ((n * ${M} + m) * ${OH} + oy) * ${OW};
      for (ptrdiff_t ox = 0; ox < ${OW}; ox++) {
        const float v = (float)(acc[ox]${bias ? ' + (double)b[m]' : ''});
        ${store}
      }
    }
  }
}
`;
  // Only the names and the count matter to the builder and loader.
  const params = Array.from({ length: bias ? 4 : 3 }, () => ({}) as CSource['params'][number]);
  return { name, text, params, openmp: false };
}

/** Build (cached) and load a float conv node's kernel for target `t`. */
export async function buildFloatConv(node: Node, g: Graph, t: CpuTargetSpec): Promise<Kernel> {
  const src = floatConvSource(node, g);
  return loadKernel(await buildShared(src, t), src);
}
