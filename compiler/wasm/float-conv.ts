/**
 * The float32 convolution of a graph node as WebAssembly for the wasm graph host
 * (compiler/target/graph-host.ts): the loop nest of compiler/host/conv-loop.ts (which says what it
 * computes: exactly the reference kernel's sums, products and sums in double in the reference's
 * order, a zero weight skipped), printed as WAT with the output row in f64x2 lanes — two
 * output columns per instruction, each lane's sum in the same order as the scalar loop, so the
 * result is bit-identical. The loop IR is integer-only, so this kernel is printed directly.
 *
 * Memory: x, w, [b], y (float32), then acc (OW doubles). A stride-1 row loads a column pair with
 * v128.load64_zero; a stride-2 row loads four floats and keeps lanes 0 and 2 (the extra floats
 * read lie inside the memory: x is followed by w); other strides take the scalar loop.
 */
import { CompileError } from '../errors.ts';
import type { Graph, Node } from '../graph/ir.ts';
import { floatConvShape } from '../host/conv-loop.ts';
import type { Kernel } from '../host/kernels.ts';
import { sizeOf, type Tensor } from '../graph/tensor.ts';
import { f64 } from './fused.ts';
import { assembleWat, instantiateOptimized } from './op.ts';
import type { WasmSource } from './codegen.ts';

interface Layout {
  x: number;
  w: number;
  b: number;
  y: number;
  acc: number;
  pages: number;
}


/** The WAT of a float conv node, and where its arrays live in memory. */
export function floatConvWat(node: Node, g: Graph): { text: string; layout: Layout; name: string } {
  const { x: xs, w, bias, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, N, C, H, W, CG, MG } = floatConvShape(node, g);
  // x first, then w: a stride-2 pair load may read up to two floats past a row's last column
  const xBytes = 4 * sizeOf(xs);
  const wBytes = 4 * sizeOf(w.shape);
  const bBytes = bias ? 4 * M : 0;
  const yBytes = 4 * N * M * OH * OW;
  const at = { x: 0, w: xBytes, b: xBytes + wBytes, y: xBytes + wBytes + bBytes, acc: 0, pages: 0 };
  at.acc = (at.y + yBytes + 15) & ~15;
  at.pages = Math.ceil((at.acc + 8 * OW + 16) / 65536);

  const columns: string[] = [];
  for (let kx = 0; kx < KW; kx++) {
    const x0 = kx * DW - PL;
    const lo = Math.min(OW, Math.max(0, Math.ceil(-x0 / SW)));
    const hi = Math.max(lo, Math.min(OW, Math.floor((W - 1 - x0) / SW) + 1));
    if (hi <= lo) continue;
    // acc[ox] += f64(x[row + ox * SW]) * wk, row = xin + iy * W + x0 (as bytes: $row)
    const scalarBody = `(f64.store (i32.add (i32.const ${at.acc}) (i32.shl (local.get $ox) (i32.const 3)))
              (f64.add (f64.load (i32.add (i32.const ${at.acc}) (i32.shl (local.get $ox) (i32.const 3))))
                (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.mul (local.get $ox) (i32.const ${4 * SW}))))) (local.get $wk))))`;
    const pair = SW === 1
      ? `(v128.load64_zero (i32.add (local.get $row) (i32.shl (local.get $ox) (i32.const 2))))`
      : `(i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 0 1 2 3 (v128.load (i32.add (local.get $row) (i32.shl (local.get $ox) (i32.const 3)))) (v128.const i32x4 0 0 0 0))`;
    const vector = SW <= 2
      ? `(block $vd${kx} (loop $vl${kx}
              (br_if $vd${kx} (i32.gt_s (i32.add (local.get $ox) (i32.const 2)) (i32.const ${hi})))
              (v128.store (i32.add (i32.const ${at.acc}) (i32.shl (local.get $ox) (i32.const 3)))
                (f64x2.add (v128.load (i32.add (i32.const ${at.acc}) (i32.shl (local.get $ox) (i32.const 3))))
                  (f64x2.mul (f64x2.promote_low_f32x4 ${pair}) (local.get $wkv))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 2)))
              (br $vl${kx})))`
      : '';
    columns.push(`(local.set $wk (f64.promote_f32 (f32.load (i32.add (i32.const ${at.w}) (i32.shl (i32.add (i32.mul (local.get $m) (i32.const ${CG * KH * KW})) (i32.add (i32.mul (i32.add (i32.mul (local.get $c) (i32.const ${KH})) (local.get $ky)) (i32.const ${KW})) (i32.const ${kx}))) (i32.const 2))))))
          (if (f64.ne (local.get $wk) (f64.const 0)) (then
            (local.set $wkv (f64x2.splat (local.get $wk)))
            (local.set $row (i32.add (i32.const ${at.x}) (i32.shl (i32.add (local.get $xin) (i32.add (i32.mul (local.get $iy) (i32.const ${W})) (i32.const ${x0}))) (i32.const 2))))
            (local.set $ox (i32.const ${lo}))
            ${vector}
            (block $sd${kx} (loop $sl${kx}
              (br_if $sd${kx} (i32.ge_s (local.get $ox) (i32.const ${hi})))
              ${scalarBody}
              (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
              (br $sl${kx})))))`);
  }
  const clip = Array.isArray(node.attrs.clip) ? (node.attrs.clip as number[]) : undefined;
  // v = fround(acc + b); the clip against the double bounds, then fround (as the reference)
  let value = '(local.get $v)';
  if (clip) {
    if (Number.isFinite(clip[1])) value = `(select (f64.const ${f64(clip[1])}) ${value} (f64.gt (local.get $v) (f64.const ${f64(clip[1])})))`;
    if (Number.isFinite(clip[0])) value = `(select (f64.const ${f64(clip[0])}) ${value} (f64.lt (local.get $v) (f64.const ${f64(clip[0])})))`;
  }
  const sum = bias
    ? `(f64.add (f64.load (i32.add (i32.const ${at.acc}) (i32.shl (local.get $ox) (i32.const 3)))) (f64.promote_f32 (f32.load (i32.add (i32.const ${at.b}) (i32.shl (local.get $m) (i32.const 2))))))`
    : `(f64.load (i32.add (i32.const ${at.acc}) (i32.shl (local.get $ox) (i32.const 3))))`;
  const loop = (v: string, n: number, body: string) => `(local.set ${v} (i32.const 0))
  (block $d${v.slice(1)} (loop $l${v.slice(1)}
    (br_if $d${v.slice(1)} (i32.ge_s (local.get ${v}) (i32.const ${n})))
    ${body}
    (local.set ${v} (i32.add (local.get ${v}) (i32.const 1)))
    (br $l${v.slice(1)})))`;
  const text = `(module
  (memory (export "mem") ${at.pages})
  (func (export "run")
    (local $n i32) (local $m i32) (local $grp i32) (local $oy i32) (local $ox i32) (local $c i32) (local $ky i32) (local $iy i32)
    (local $xin i32) (local $row i32) (local $out i32) (local $wk f64) (local $wkv v128) (local $v f64)
  ${loop('$n', N, loop('$m', M, `(local.set $grp (i32.div_u (local.get $m) (i32.const ${MG})))
    ${loop('$oy', OH, `${loop('$ox', OW, `(f64.store (i32.add (i32.const ${at.acc}) (i32.shl (local.get $ox) (i32.const 3))) (f64.const 0))`)}
      ${loop('$c', CG, `(local.set $xin (i32.mul (i32.add (i32.mul (local.get $n) (i32.const ${C})) (i32.add (i32.mul (local.get $grp) (i32.const ${CG})) (local.get $c))) (i32.const ${H * W})))
        ${loop('$ky', KH, `(local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (i32.const ${SH})) (i32.const ${PT})) (i32.mul (local.get $ky) (i32.const ${DH}))))
          (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (i32.const ${H}))) (then
          ${columns.join('\n          ')}))`)}`)}
      (local.set $out (i32.add (i32.const ${at.y}) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (i32.const ${M})) (local.get $m)) (i32.const ${OH})) (local.get $oy)) (i32.const ${OW})) (i32.const 2))))
      ${loop('$ox', OW, `(local.set $v (f64.promote_f32 (f32.demote_f64 ${sum})))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $ox) (i32.const 2))) (f32.demote_f64 ${value}))`)}`)}`))}
  )
)
`;
  return { text, layout: at, name: `fconv_${node.name.replace(/[^A-Za-z0-9_]/g, '_')}` };
}

/**
 * Assemble and instantiate a float conv node's module (weights and bias copied in once); the
 * kernel it makes copies the input into linear memory, runs, and returns the output: a fresh
 * array when the value outlives the run (`fresh`), else one reused.
 */
export async function buildWasmFloatConv(node: Node, g: Graph): Promise<(fresh: boolean) => Kernel> {
  const { text, layout: at, name } = floatConvWat(node, g);
  const instance = instantiateOptimized(await assembleWat({ name, text } as WasmSource));
  const mem = instance.exports.mem as { buffer: ArrayBuffer };
  const run = instance.exports.run as () => void;
  const f32 = new Float32Array(mem.buffer);
  f32.set(g.values.get(node.inputs[1])!.const!.data as Float32Array, at.w / 4);
  if (node.inputs[2]) f32.set(g.values.get(node.inputs[2])!.const!.data as Float32Array, at.b / 4);
  const outShape = floatConvShape(node, g).outShape;
  const n = sizeOf(outShape);
  const y = new Float32Array(n);
  return (fresh) => (_node, [x]): Tensor[] => {
    if (!x) throw new CompileError(`${node.op} node ${node.name}: input 0 is missing`);
    f32.set(x.data as Float32Array, at.x / 4);
    run();
    const out = fresh ? new Float32Array(n) : y;
    out.set(f32.subarray(at.y / 4, at.y / 4 + n));
    return [{ dtype: 'float32', shape: outShape, data: out }];
  };
}
