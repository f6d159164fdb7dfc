/**
 * The fused element-wise loops of the graph hosts (compiler/host/fused.ts) as WebAssembly for the
 * wasm target: the same plan (members, operands, written values) printed with two elements per
 * instruction in f64x2 lanes. Each lane does what the JavaScript loop does to one element, in
 * double: + - * / are IEEE double operations in both, `F` (Math.fround) is a demotion to float32
 * and back, Math.max / Math.min are f64x2.max / min (NaN propagates, max(+0, -0) = +0 as in
 * JavaScript), CL and the sign selects are compares and bitselects (NaN passes through as there),
 * QuantizeP2's round-half-to-even is f64x2.nearest and its clamp and NaN-to-0 the saturating
 * conversions to int8. A member that needs Math.exp (Sigmoid) keeps the group in JavaScript:
 * WebAssembly has no exp.
 *
 * Memory: one region per slot, n float32s each (n: the group's elements). A row of odd length
 * ends with one element done alone (one-lane loads and stores), so a channel's value never
 * reaches the next channel's element.
 */
import type { Graph } from '../graph/ir.ts';
import { sizeOf } from '../graph/tensor.ts';
import { planLoop, writtenIn, type ElementwiseGroup, type Loop, type LoopLang, type LoopPlan } from '../host/fused.ts';
import type { WasmSource } from './codegen.ts';
import { assembleWat, instantiateOptimized } from './op.ts';

/** A double as a WAT float literal that reads back as the same value (NaN, infinities and -0 included). */
export const f64 = (x: number) => (Number.isNaN(x) ? 'nan' : !Number.isFinite(x) ? (x > 0 ? 'inf' : '-inf') : Object.is(x, -0) ? '-0' : String(x));
const addr = (s: number, shift: number) => `(i32.add (local.get $p${s}) (i32.shl (local.get $i) (i32.const ${shift})))`;

/**
 * The language of one loop body: `pair` (two elements, lanes 0 and 1) or one element (lane 0).
 * `types` are the slots' element types, known once the plan is made: a full read is printed as
 * a mark and filled in afterwards.
 */
function wasmLang(pair: boolean, scratch: { n: number }): LoopLang {
  return {
    F: (e) => `(f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero ${e}))`,
    lit: (x) => `(v128.const f64x2 ${f64(x)} ${f64(x)})`,
    unit: (e) => `(f64x2.max (v128.const f64x2 0 0) (f64x2.min (v128.const f64x2 1 1) ${e}))`,
    full: (s) => `@FULL${s}@`,
    channel: (s) => `(f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $p${s}) (i32.shl (local.get $c) (i32.const 2))))))`,
    scalar: (s) => `(f64x2.splat (f64.promote_f32 (f32.load (local.get $p${s}))))`,
    local: (name, e) => `(local.set $${name} ${e})`,
    store: (s, v, int8) => int8
      // saturating: beyond int32, then int16, then int8 (QuantizeP2's clamp); NaN gives 0
      ? `(v128.store${pair ? 16 : 8}_lane 0 ${addr(s, 0)} (i8x16.narrow_i16x8_s (i16x8.narrow_i32x4_s (i32x4.trunc_sat_f64x2_s_zero (local.get $${v})) (v128.const i32x4 0 0 0 0)) (v128.const i32x4 0 0 0 0)))`
      : `(v128.store${pair ? 64 : 32}_lane 0 ${addr(s, 2)} (f32x4.demote_f64x2_zero (local.get $${v})))`,
    ref: (name) => `(local.get $${name})`,
    bin: (op, a, b) => `(f64x2.${{ '+': 'add', '-': 'sub', '*': 'mul', '/': 'div' }[op]} ${a} ${b})`,
    cl: (x, lo, hi) => {
      const t = `$t${scratch.n++}`;
      return `(block (result v128) (local.set ${t} ${x}) (v128.bitselect ${lo} (v128.bitselect ${hi} (local.get ${t}) (f64x2.gt (local.get ${t}) ${hi})) (f64x2.lt (local.get ${t}) ${lo})))`;
    },
    q: (x) => `(f64x2.nearest ${x})`,
    sign: (v, strict, a, b) => `(v128.bitselect ${a} ${b} (f64x2.${strict ? 'gt' : 'ge'} ${v} (v128.const f64x2 0 0)))`,
  };
}

/** A full operand's read (float32 or int8 elements, widened to f64x2). */
function fullRead(s: number, type: 'int8' | 'float32', pair: boolean): string {
  if (type === 'float32') return `(f64x2.promote_low_f32x4 (v128.load${pair ? 64 : 32}_zero ${addr(s, 2)}))`;
  return `(f64x2.convert_low_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (v128.load${pair ? 16 : 8}_splat ${addr(s, 0)}))))`;
}

/** A group's loop as WAT and its plan, or undefined where a member has no exact WebAssembly form. */
export function fusedWat(group: ElementwiseGroup, g: Graph, escapes: (name: string) => boolean): { text: string; plan: LoopPlan; offsets: number[]; name: string } | undefined {
  const written = writtenIn(group, g, escapes);
  const scratch = { n: 0 };
  const plan = planLoop(group, g, written, wasmLang(true, scratch));
  const single = planLoop(group, g, written, wasmLang(false, scratch));
  if (!plan || !single) return undefined;
  const fill = (body: string[], pair: boolean) => body.map((st) => st.replace(/@FULL(\d+)@/g, (_m, s) => fullRead(Number(s), plan.slotTypes[Number(s)], pair))).join('\n        ');
  const n = sizeOf(group.shape);
  const region = (4 * n + 31) & ~15; // n float32s and room for a pair load past the end
  const offsets = plan.slotTypes.map((_, s) => s * region);
  const pages = Math.max(1, Math.ceil((plan.slots * region) / 65536));
  const locals = [
    ...group.nodes.map((_, k) => `(local $v${k} v128)`),
    ...Array.from({ length: scratch.n }, (_, k) => `(local $t${k} v128)`),
    ...plan.slotTypes.map((_, s) => `(local $p${s} i32)`),
  ].join(' ');
  // Elements [i, e): pairs, then one left over.
  const span = `(block $pd (loop $pl
        (br_if $pd (i32.gt_s (i32.add (local.get $i) (i32.const 2)) (local.get $e)))
        ${fill(plan.body, true)}
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $pl)))
      (if (i32.lt_s (local.get $i) (local.get $e)) (then
        ${fill(single.body, false)}
        (local.set $i (i32.add (local.get $i) (i32.const 1)))))`;
  const C = group.shape[1];
  const HW = plan.channels ? group.shape[2] * group.shape[3] : n;
  const rows = plan.channels ? group.shape[0] * C : 1;
  const name = `fused_${group.nodes[group.nodes.length - 1].name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const text = `(module
  ;; ${group.nodes.map((m) => `${m.op} ${m.name}`).join(', ')}
  (memory (export "mem") ${pages})
  (func (export "run")
    (local $i i32) (local $e i32) (local $r i32) (local $c i32) ${locals}
    ${offsets.map((o, s) => `(local.set $p${s} (i32.const ${o}))`).join(' ')}
    (block $rd (loop $rl
      (br_if $rd (i32.ge_s (local.get $r) (i32.const ${rows})))
      (local.set $c (i32.rem_u (local.get $r) (i32.const ${plan.channels ? C : 1})))
      (local.set $e (i32.add (local.get $i) (i32.const ${HW})))
      ${span}
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl)))
  )
)
`;
  return { text, plan, offsets, name };
}

/** Assemble and instantiate a group's loop; undefined where it has no exact WebAssembly form. */
export async function buildWasmFused(group: ElementwiseGroup, g: Graph, escapes: (name: string) => boolean): Promise<{ plan: LoopPlan; loop: Loop } | undefined> {
  const made = fusedWat(group, g, escapes);
  if (!made) return undefined;
  const { plan, offsets } = made;
  const instance = instantiateOptimized(await assembleWat({ name: made.name, text: made.text } as WasmSource));
  const mem = instance.exports.mem as { buffer: ArrayBuffer };
  const run = instance.exports.run as () => void;
  const bytes = new Uint8Array(mem.buffer);
  const outputs = new Set(plan.outSlot.filter((s) => s >= 0));
  const inputs = offsets.map((_, s) => s).filter((s) => !outputs.has(s));
  const outs = [...outputs];
  return {
    plan,
    loop: (a) => {
      for (const s of inputs) bytes.set(new Uint8Array(a[s].buffer, a[s].byteOffset, a[s].byteLength), offsets[s]);
      run();
      for (const s of outs) new Uint8Array(a[s].buffer, a[s].byteOffset, a[s].byteLength).set(bytes.subarray(offsets[s], offsets[s] + a[s].byteLength));
    },
  };
}
