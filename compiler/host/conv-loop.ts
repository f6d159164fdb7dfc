/**
 * The float32 convolution of a graph node as a loop nest printed in C (the cpu graph host:
 * compiler/cpu/float-conv.ts) or JavaScript (the wasm graph host: compiler/host/planned.ts), from
 * one template: the convolutions the quantizer leaves in float (MobileNetV3's depthwise
 * convolutions with strides [2, 1], which QConv does not take). Both compute exactly what the
 * reference kernel (compiler/host/kernels.ts, `convCore` + `conv`) does: per output, the products
 * float x float in double precision (exact), summed in double in the reference's order (input
 * channel, kernel row, kernel column), a zero weight skipped, the bias added in double, the sum
 * rounded to float32 and the fused clip applied against the double bounds. The output row is the
 * innermost loop (the C compiler vectorizes it without reordering any sum); geometry and the
 * in-bounds column ranges are constants of the text.
 */
import { CompileError } from '../errors.ts';
import { staticShape, type Graph, type Node } from '../graph/ir.ts';
import { convGeometry } from '../graph/shapes.ts';

/** What differs between the two printings. */
export interface ConvLang {
  /** An index variable declaration keyword (`let` / `ptrdiff_t`) and a constant one. */
  index: string;
  constIndex: string;
  /** A constant double declaration. */
  constDouble: string;
  /** Element `i` of a float array as a double; a double rounded to float32 (as a double). */
  load(a: string, i: string): string;
  toFloat(e: string): string;
  /** A double literal. */
  lit(x: number): string;
  /** Pointer arithmetic: a base offset into an array (C: a pointer; JS: an offset). */
  offset(a: string, off: string): { decl: string; at: (i: string) => string };
}

export const JS_CONV: ConvLang = {
  index: 'let',
  constIndex: 'const',
  constDouble: 'const',
  load: (a, i) => `${a}[${i}]`,
  toFloat: (e) => `Math.fround(${e})`,
  lit: (x) => `(${String(x)})`,
  offset: (a, off) => ({ decl: `const ${a}0 = ${off};`, at: (i) => `${a}[${a}0 + ${i}]` }),
};

export const C_CONV: ConvLang = {
  index: 'ptrdiff_t',
  constIndex: 'const ptrdiff_t',
  constDouble: 'const double',
  load: (a, i) => `(double)${a}[${i}]`,
  toFloat: (e) => `(double)(float)(${e})`,
  lit: (x) => {
    const s = String(x);
    return `(${/[.e]/.test(s) ? s : `${s}.0`})`;
  },
  offset: (a, off) => ({ decl: `const float *${a}0 = ${a} + ${off};`, at: (i) => `(double)${a}0[${i}]` }),
};

/** Whether `node` is a float32 Conv with constant weights (and bias) on 4-D data and a finite (or open) clip. */
export function isFloatConv(node: Node, g: Graph): boolean {
  if (node.op !== 'Conv') return false;
  const x = g.values.get(node.inputs[0]);
  const w = g.values.get(node.inputs[1]);
  const b = node.inputs[2] ? g.values.get(node.inputs[2]) : undefined;
  const clip = node.attrs.clip;
  return !!x && x.dtype === 'float32' && staticShape(x)?.length === 4 && !!w?.const && w.dtype === 'float32' && (!node.inputs[2] || (!!b?.const && b.dtype === 'float32')) &&
    (clip === undefined || (Array.isArray(clip) && clip.length === 2 && (Number.isFinite(clip[0]) || clip[0] === -Infinity) && (Number.isFinite(clip[1]) || clip[1] === Infinity)));
}

/** A float conv node's input shape, weight, geometry and per-group channel counts (the printings' common start). */
export function floatConvShape(node: Node, g: Graph) {
  if (!isFloatConv(node, g)) throw new CompileError(`internal: ${node.op} node ${node.name} is not a float conv`);
  const x = staticShape(g.values.get(node.inputs[0])!)!;
  const w = g.values.get(node.inputs[1])!.const!;
  const geometry = convGeometry(node, x, w.shape);
  const [N, C, H, W] = x;
  return { x, w, bias: !!node.inputs[2], ...geometry, N, C, H, W, CG: C / geometry.G, MG: geometry.M / geometry.G };
}

/**
 * The body of the kernel over arrays `x`, `w`, `b` (if the node has a bias) and `y`, and `acc`
 * (OW doubles): statements only, the caller wraps them in a function of its language.
 */
export function floatConvBody(node: Node, g: Graph, L: ConvLang): { body: string; OW: number; bias: boolean; name: string } {
  const { x, bias, M, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, N, C, H, W, CG, MG } = floatConvShape(node, g);
  const I = L.index;
  const K = L.constIndex;
  // per kernel column: the output columns whose input column is inside the row (a loop per column, bounds as constants)
  const columns: string[] = [];
  for (let kx = 0; kx < KW; kx++) {
    const x0 = kx * DW - PL;
    const lo = Math.min(OW, Math.max(0, Math.ceil(-x0 / SW)));
    const hi = Math.max(lo, Math.min(OW, Math.floor((W - 1 - x0) / SW) + 1));
    const row = L.offset('x', `xin + iy * ${W} + ${x0}`);
    columns.push(`{
            ${L.constDouble} wk = ${L.load('w', `m * ${CG * KH * KW} + (c * ${KH} + ky) * ${KW} + ${kx}`)};
            if (wk != 0) {
              ${row.decl}
              for (${I} ox = ${lo}; ox < ${hi}; ox++) acc[ox] += ${row.at(`ox * ${SW}`)} * wk;
            }
          }`);
  }
  const clip = Array.isArray(node.attrs.clip) ? (node.attrs.clip as number[]) : undefined;
  const bound = (b: number, op: string) => (Number.isFinite(b) ? `v ${op} ${L.lit(b)} ? ${L.lit(b)} : ` : '');
  const value = clip ? `${L.toFloat(`${bound(clip[0], '<')}${bound(clip[1], '>')}v`)}` : 'v';
  const body = `for (${I} n = 0; n < ${N}; n++)
  for (${I} m = 0; m < ${M}; m++) {
    ${K} grp = (m - m % ${MG}) / ${MG};
    for (${I} oy = 0; oy < ${OH}; oy++) {
      for (${I} ox = 0; ox < ${OW}; ox++) acc[ox] = 0;
      for (${I} c = 0; c < ${CG}; c++) {
        ${K} xin = (n * ${C} + grp * ${CG} + c) * ${H * W};
        for (${I} ky = 0; ky < ${KH}; ky++) {
          ${K} iy = oy * ${SH} - ${PT} + ky * ${DH};
          if (iy < 0 || iy >= ${H}) continue;
          ${columns.join('\n          ')}
        }
      }
      ${K} out = ((n * ${M} + m) * ${OH} + oy) * ${OW};
      for (${I} ox = 0; ox < ${OW}; ox++) {
        ${L.constDouble} v = ${L.toFloat(`acc[ox]${bias ? ` + ${L.load('b', 'm')}` : ''}`)};
        y[out + ox] = ${value};
      }
    }
  }`;
  const name = `fconv_${N}_${C}_${H}_${W}_${M}_${G}_${KH}x${KW}_s${SH}x${SW}_d${DH}x${DW}_p${PT}x${PL}${bias ? '_b' : ''}${clip ? '_c' : ''}`;
  return { body, OW, bias, name };
}
