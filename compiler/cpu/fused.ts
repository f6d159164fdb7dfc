/**
 * The fused element-wise loops of the graph hosts (compiler/host/fused.ts) as C for the cpu
 * target: the same plan (members, operands, written values) printed with C's double arithmetic
 * and `(float)` where the JavaScript loop has Math.fround, built without floating-point
 * contraction (`-ffp-contract=off`: an a*b+c must round twice, as JavaScript does) and with
 * `-fno-trapping-math` (no FP exception is observed, so the compiler may evaluate both sides of a
 * select: the loops vectorize; values are unchanged). Every
 * operation then gives the bits the reference kernels give: IEEE double arithmetic and its
 * rounding to float32 are the same in both languages, and the helpers below restate
 * Math.max / Math.min (NaN and signed zeros included) and QuantizeP2's rounding. A member whose
 * JavaScript needs Math.exp (Sigmoid) keeps the group in JavaScript: libm's exp need not agree
 * with V8's in the last bit.
 */
import type { Graph } from '../graph/ir.ts';
import { loopNest, planLoop, writtenIn, type ElementwiseGroup, type Loop, type LoopLang, type LoopPlan } from '../host/fused.ts';
import type { CpuTargetSpec } from '../target/target.ts';
import { buildShared, loadKernel } from './build.ts';
import type { CSource } from './codegen.ts';

function cLit(x: number): string {
  if (Number.isNaN(x)) return 'NAN';
  if (!Number.isFinite(x)) return x > 0 ? 'INFINITY' : '(-INFINITY)';
  if (Object.is(x, -0)) return '(-0.0)';
  const s = String(x);
  return `(${/[.e]/.test(s) ? s : `${s}.0`})`;
}

const C_LANG: LoopLang = {
  F: (e) => `(double)(float)(${e})`,
  lit: cLit,
  unit: (e) => `vtw_max0(vtw_min1(${e}))`,
  full: (s) => `(double)a${s}[i]`,
  channel: (s) => `(double)a${s}[c]`,
  scalar: (s) => `(double)a${s}[0]`,
  local: (name, e) => `const double ${name} = ${e};`,
  store: (s, v, int8) => `a${s}[i] = ${int8 ? '(int8_t)(int32_t)' : '(float)'}${v};`,
};

const HELPERS = `#include <stdint.h>
#include <stddef.h>
#include <math.h>
/* x < lo ? lo : x > hi ? hi : x (NaN passes) */
static inline double CL(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
/* Math.max(0, x), Math.min(1, x): NaN passes, -0 gives +0 in max */
static inline double vtw_max0(double x) { return x > 0 ? x : x != x ? x : 0.0; }
static inline double vtw_min1(double x) { return x < 1 ? x : x != x ? x : 1.0; }
/* QuantizeP2: clamp(roundHalfEven(x), -128, 127); NaN gives 0 (a Float32 NaN stored into an Int8Array).
   Branch-free (the loop vectorizes): a tie t = r is moved to even when r / 2 is not whole. */
static inline double Q(double x) {
  const double y = x < -128.5 ? -128.5 : x > 127.25 ? 127.25 : x;
  const double t = y + 0.5;
  const double r = floor(t);
  const double q = ((r == t) & (floor(r * 0.5) != r * 0.5)) ? r - 1 : r;
  return x != x ? 0 : q;
}
`;

/** A group's loop as C, or undefined where a member has no exact C form. */
export function fusedSource(group: ElementwiseGroup, g: Graph, escapes: (name: string) => boolean): { src: CSource; plan: LoopPlan } | undefined {
  const plan = planLoop(group, g, writtenIn(group, g, escapes), C_LANG);
  if (!plan) return undefined;
  const name = `vtw_fused_${group.nodes[group.nodes.length - 1].name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const written = new Set(plan.outSlot);
  const args = plan.slotTypes.map((t, s) => `${written.has(s) ? '' : 'const '}${t === 'int8' ? 'int8_t' : 'float'} *restrict a${s}`);
  const text = `${HELPERS}
/* ${group.nodes.map((n) => `${n.op} ${n.name}`).join(', ')} */
void ${name}(${args.join(', ')}) {
${loopNest(group, plan, 'ptrdiff_t', 'const ptrdiff_t')}
}
`;
  // Only the parameter count matters to the builder and the loader.
  const params = plan.slotTypes.map(() => ({}) as CSource['params'][number]);
  return { src: { name, text, params, openmp: false, flags: ['-ffp-contract=off', '-fno-trapping-math'] }, plan };
}

/** Build (cached) and load a group's C loop for target `t`; undefined where it has no exact C form. */
export async function buildFused(group: ElementwiseGroup, g: Graph, escapes: (name: string) => boolean, t: CpuTargetSpec): Promise<{ plan: LoopPlan; loop: Loop } | undefined> {
  const made = fusedSource(group, g, escapes);
  if (!made) return undefined;
  const k = loadKernel(await buildShared(made.src, t), made.src);
  return { plan: made.plan, loop: (a) => k.call(a) };
}
