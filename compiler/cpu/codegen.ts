/**
 * C from the loop IR: one exported function per lowered operator,
 *
 *   void NAME(const T0 *restrict in0, ..., TO *restrict out)
 *
 * Every IR operation keeps its wrap-around semantics: values narrower than int are cast back to
 * their type after each operation, int32 arithmetic wraps because the file is compiled with
 * -fwrapv, `//` and `%` are floor division and modulo, and `>>` shifts by min(b, bits-1) as the
 * interpreter does (compiler/ir/expr.ts). Pragmas a CPU schedule sets become C pragmas:
 * `parallel` -> an OpenMP parallel for, `vectorize` -> `#pragma GCC ivdep`. VTA intrinsics and
 * VTA annotations have no C form and are refused with one line.
 */
import { CompileError } from '../errors.ts';
import type { Buffer } from '../ir/buffer.ts';
import { flatIndex } from '../ir/buffer.ts';
import { dtypeBits, type DType, type Expr, type Var } from '../ir/expr.ts';
import type { Stmt } from '../ir/stmt.ts';
import type { LoweredFunc } from '../te/lower.ts';

/** Allocations larger than this go on the heap instead of the stack. */
const STACK_BYTES = 64 * 1024;

export interface CSource {
  /** The exported function's name. */
  name: string;
  text: string;
  /** Parameter buffers in call order (inputs, then the output). */
  params: Buffer[];
  /** Whether the code has OpenMP loops (needs -fopenmp). */
  openmp: boolean;
}

/** The tensorize intrinsic of an int8 dot product of 4 (compiler/cpu/strategies.ts marks it). */
export const DOT_I8X4 = 'vtw.dot_i8x4';

/**
 * An instruction computing 32-bit lanes acc[l] += sum of 4 byte products:
 * - `avx512vnni`: vpdpbusd on 512-bit vectors (16 lanes), `avxvnni`: on 256-bit vectors (8 lanes).
 *   vpdpbusd multiplies unsigned by signed bytes: the signed data byte d is fed as d + 128 (d ^ 0x80)
 *   and 128 × (sum of the 4 weights) is subtracted first, which is exact in wrap-around int32.
 */
export type DotIsa = 'avx512vnni' | 'avxvnni';

/** 32-bit lanes of one dot-product instruction. */
export const DOT_LANES: Record<DotIsa, number> = { avx512vnni: 16, avxvnni: 8 };
const DOT_VEC: Record<DotIsa, { t: string; load: string; store: string; set1: string; sub: string; dot: string }> = {
  avx512vnni: { t: '__m512i', load: '_mm512_load_si512', store: '_mm512_store_si512', set1: '_mm512_set1_epi32', sub: '_mm512_sub_epi32', dot: '_mm512_dpbusd_epi32' },
  avxvnni: { t: '__m256i', load: '_mm256_load_si256', store: '_mm256_store_si256', set1: '_mm256_set1_epi32', sub: '_mm256_sub_epi32', dot: '_mm256_dpbusd_avx_epi32' },
};

/** The dot-product instruction a target's features give (none: the tensorized loops are printed plainly). */
export function dotIsaOf(features: readonly string[]): DotIsa | undefined {
  if (features.includes('avx512vnni')) return 'avx512vnni';
  if (features.includes('avxvnni')) return 'avxvnni';
  return undefined;
}

export interface EmitOptions {
  /** The target's int8 dot-product instruction, for loops tensorized with DOT_I8X4. */
  dot?: DotIsa;
}

/** Whether `e` reads variable `v`. */
function uses(e: Expr, v: Var): boolean {
  switch (e.k) {
    case 'int':
      return false;
    case 'var':
      return e.v === v;
    case 'bin':
    case 'cmp':
    case 'and':
    case 'or':
      return uses(e.a, v) || uses(e.b, v);
    case 'not':
    case 'cast':
      return uses(e.a, v);
    case 'select':
      return uses(e.c, v) || uses(e.t, v) || uses(e.f, v);
    case 'load':
      return e.idx.some((i) => uses(i, v));
    default:
      return true;
  }
}

/** Structural equality of two expressions (variables and buffers by identity). */
function sameExpr(a: Expr, b: Expr): boolean {
  if (a.k !== b.k || a.dtype !== b.dtype) return false;
  switch (a.k) {
    case 'int':
      return a.value === (b as typeof a).value;
    case 'var':
      return a.v === (b as typeof a).v;
    case 'bin':
    case 'cmp': {
      const y = b as typeof a;
      return a.op === y.op && sameExpr(a.a, y.a) && sameExpr(a.b, y.b);
    }
    case 'and':
    case 'or':
      return sameExpr(a.a, (b as typeof a).a) && sameExpr(a.b, (b as typeof a).b);
    case 'not':
    case 'cast':
      return sameExpr(a.a, (b as typeof a).a);
    case 'select': {
      const y = b as typeof a;
      return sameExpr(a.c, y.c) && sameExpr(a.t, y.t) && sameExpr(a.f, y.f);
    }
    case 'load': {
      const y = b as typeof a;
      return a.buf === y.buf && a.idx.length === y.idx.length && a.idx.every((e, i) => sameExpr(e, y.idx[i]));
    }
    default:
      return false;
  }
}

const sameLoad = (a: Expr, buf: Buffer, idx: readonly Expr[]): boolean =>
  a.k === 'load' && a.buf === buf && a.idx.length === idx.length && a.idx.every((e, i) => sameExpr(e, idx[i]));

export function cType(dt: DType): string {
  switch (dt) {
    case 'int8':
      return 'int8_t';
    case 'uint8':
      return 'uint8_t';
    case 'int16':
      return 'int16_t';
    case 'int32':
      return 'int32_t';
    case 'index':
      return 'vtw_index';
    case 'bool':
      return 'int';
    default:
      throw new CompileError(`the cpu target has no C type for ${dt} yet (8, 16 and 32-bit integers only); use a configuration with those widths`);
  }
}

const PRELUDE = `#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
/* Loop variables and indices are pointer-wide: under -fwrapv a 32-bit index whose range GCC
   cannot bound (a thread's share of a parallel loop) might wrap before it is widened to an
   address, which makes the access non-affine and stops vectorization. */
typedef ptrdiff_t vtw_index;
/* floor division and modulo, as the loop IR defines them */
static inline vtw_index vtw_fdiv(vtw_index a, vtw_index b) { vtw_index q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
static inline vtw_index vtw_fmod(vtw_index a, vtw_index b) { vtw_index r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
static inline int vtw_fdiv32(int a, int b) { int q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
static inline int vtw_fmod32(int a, int b) { int r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
#define VTW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VTW_MAX(a, b) ((a) > (b) ? (a) : (b))
`;

class Printer {
  private readonly names = new Map<Var | Buffer, string>();
  private readonly used = new Set<string>();
  readonly lines: string[] = [];
  openmp = false;
  /** Whether the code uses <immintrin.h> intrinsics. */
  intrinsics = false;

  constructor(readonly threads: number, readonly dot?: DotIsa) {}

  name(x: Var | Buffer, prefix: string): string {
    let n = this.names.get(x);
    if (n) return n;
    const base = `${prefix}_${x.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    this.names.set(x, n);
    return n;
  }

  expr(e: Expr): string {
    switch (e.k) {
      case 'int':
        return e.value < 0 ? `(${e.value})` : `${e.value}`;
      case 'var':
        return this.name(e.v, 'v');
      case 'bin':
        return this.wrap(e.dtype, this.bin(e.op, e.a, e.b, e.dtype));
      case 'cmp': {
        const op = { lt: '<', le: '<=', eq: '==', ne: '!=', gt: '>', ge: '>=' }[e.op];
        return `(${this.expr(e.a)} ${op} ${this.expr(e.b)})`;
      }
      case 'and':
        return `(${this.expr(e.a)} && ${this.expr(e.b)})`;
      case 'or':
        return `(${this.expr(e.a)} || ${this.expr(e.b)})`;
      case 'not':
        return `(!${this.expr(e.a)})`;
      case 'select':
        // The C conditional evaluates only the chosen side: a padded read is never performed.
        return `(${this.expr(e.c)} ? ${this.expr(e.t)} : ${this.expr(e.f)})`;
      case 'cast':
        return `((${cType(e.dtype)})${this.expr(e.a)})`;
      case 'load':
        return `${this.name(e.buf, 'b')}[${this.expr(flatIndex(e.buf, e.idx))}]`;
      case 'read':
      case 'reduce':
        throw new CompileError(`internal: ${e.k} must be lowered before C generation`);
    }
  }

  /** Results narrower than int are wrapped back to their type (C computes them in int). */
  private wrap(dt: DType, text: string): string {
    return dt !== 'index' && dt !== 'int32' && dt !== 'bool' ? `((${cType(dt)})${text})` : text;
  }

  private bin(op: string, a: Expr, b: Expr, dt: DType): string {
    const x = this.expr(a);
    const y = this.expr(b);
    switch (op) {
      case 'add':
        return `(${x} + ${y})`;
      case 'sub':
        return `(${x} - ${y})`;
      case 'mul':
        return `(${x} * ${y})`;
      case 'div':
        return dt === 'index' ? `vtw_fdiv(${x}, ${y})` : `vtw_fdiv32(${x}, ${y})`;
      case 'mod':
        return dt === 'index' ? `vtw_fmod(${x}, ${y})` : `vtw_fmod32(${x}, ${y})`;
      case 'min':
        return `VTW_MIN(${x}, ${y})`;
      case 'max':
        return `VTW_MAX(${x}, ${y})`;
      case 'shr':
      case 'shl': {
        if (b.k !== 'int') throw new CompileError('the cpu target needs constant shift amounts');
        const bits = dt === 'index' ? 31 : dtypeBits(dt);
        const amount = op === 'shr' ? b.value : -b.value;
        if (amount >= 0) return `(${x} >> ${Math.min(amount, bits - 1)})`;
        return `((int32_t)((uint32_t)${x} << ${Math.min(-amount, bits - 1)}))`;
      }
    }
    throw new CompileError(`internal: binary operation ${op}`);
  }

  /**
   * DOT_I8X4 over the nest `for o { for x { for k < 4 { C[o, x] += (int32)A[x, k] * (int32)B[o, k] } } }`
   * (A not reading o, B not reading x, C not reading k; int8 A and B, int32 C): the 4-byte groups of
   * A for every x are packed once (offset by 128), then for each o the 4 weights are one broadcast
   * word and each block of lanes of x is one dot-product instruction. Returns false (the caller
   * prints the plain loops) when the nest does not have that form.
   */
  private dotI8x4(s: Stmt, ind: string): boolean {
    const isa = this.dot!;
    const strip = (x: Stmt): Stmt => (x.k === 'attr' && x.key === 'pragma' ? strip(x.body) : x);
    const loops: Extract<Stmt, { k: 'for' }>[] = [];
    let b = strip(s);
    while (loops.length < 3) {
      if (b.k !== 'for') return false;
      loops.push(b);
      b = strip(b.body);
    }
    const [lo, lx, lk] = loops;
    if (b.k !== 'store' || lk.ext !== 4 || b.buf.dtype !== 'int32') return false;
    const v = b.value;
    if (v.k !== 'bin' || v.op !== 'add' || !sameLoad(v.a, b.buf, b.idx)) return false;
    const m = v.b;
    if (m.k !== 'bin' || m.op !== 'mul') return false;
    const int8Load = (e: Expr): Extract<Expr, { k: 'load' }> | undefined =>
      e.k === 'cast' && e.dtype === 'int32' && e.a.k === 'load' && e.a.buf.dtype === 'int8' ? e.a : undefined;
    const p = int8Load(m.a);
    const q = int8Load(m.b);
    if (!p || !q) return false;
    const fits = (a: typeof p, w: typeof p) => !uses(a, lo.v) && !uses(w, lx.v);
    const [A, B] = fits(p, q) ? [p, q] : fits(q, p) ? [q, p] : [undefined, undefined];
    if (!A || !B || b.idx.some((e) => uses(e, lk.v))) return false;

    this.intrinsics = true;
    const L = DOT_LANES[isa];
    const V = DOT_VEC[isa];
    const nb = Math.ceil(lx.ext / L);
    const o = this.name(lo.v, 'v');
    const x = this.name(lx.v, 'v');
    const k = this.name(lk.v, 'v');
    const c = `${this.name(b.buf, 'b')}[${this.expr(flatIndex(b.buf, b.idx))}]`;
    const aText = this.expr(A);
    const bText = this.expr(B);
    const i2 = ind + '  ';
    const i3 = ind + '    ';
    const out = this.lines;
    out.push(`${ind}{ /* ${DOT_I8X4} on ${isa}: ${L} lanes of x, 4 products each */`);
    out.push(`${i2}uint8_t t_a[${nb}][${4 * L}] __attribute__((aligned(64)));`);
    out.push(`${i2}for (int t_b = 0; t_b < ${nb}; ++t_b) {`);
    out.push(`${i3}for (int t_l = 0; t_l < ${L}; ++t_l) {`);
    out.push(`${i3}  const vtw_index ${x} = t_b * ${L} + t_l;`);
    out.push(`${i3}  for (vtw_index ${k} = 0; ${k} < 4; ++${k}) t_a[t_b][4 * t_l + ${k}] = ${x} < ${lx.ext} ? (uint8_t)((uint8_t)${aText} ^ 0x80u) : 0;`);
    out.push(`${i3}}`);
    out.push(`${i2}}`);
    out.push(`${i2}for (vtw_index ${o} = 0; ${o} < ${lo.ext}; ++${o}) {`);
    out.push(`${i3}uint32_t t_w = 0;`);
    out.push(`${i3}int32_t t_wsum = 0;`);
    out.push(`${i3}for (vtw_index ${k} = 0; ${k} < 4; ++${k}) { const int8_t t_q = ${bText}; t_w |= (uint32_t)(uint8_t)t_q << (8 * ${k}); t_wsum += t_q; }`);
    out.push(`${i3}const ${V.t} t_wv = ${V.set1}((int32_t)t_w), t_corr = ${V.set1}(128 * t_wsum);`);
    out.push(`${i3}const vtw_index ${k} = 0;`);
    out.push(`${i3}(void)${k};`);
    const block = (count: string, ii: string) => {
      out.push(`${ii}int32_t t_c[${L}] __attribute__((aligned(64)));`);
      out.push(`${ii}for (int t_l = 0; t_l < ${count}; ++t_l) { const vtw_index ${x} = t_b * ${L} + t_l; t_c[t_l] = ${c}; }`);
      out.push(`${ii}${V.store}((${V.t} *)t_c, ${V.dot}(${V.sub}(${V.load}((const ${V.t} *)t_c), t_corr), ${V.load}((const ${V.t} *)t_a[t_b]), t_wv));`);
      out.push(`${ii}for (int t_l = 0; t_l < ${count}; ++t_l) { const vtw_index ${x} = t_b * ${L} + t_l; ${c} = t_c[t_l]; }`);
    };
    const full = Math.floor(lx.ext / L);
    if (full > 0) {
      out.push(`${i3}for (int t_b = 0; t_b < ${full}; ++t_b) {`);
      block(`${L}`, i3 + '  ');
      out.push(`${i3}}`);
    }
    if (full < nb) {
      out.push(`${i3}{`);
      out.push(`${i3}  const int t_b = ${full};`);
      block(`${lx.ext - full * L}`, i3 + '  ');
      out.push(`${i3}}`);
    }
    out.push(`${i2}}`);
    out.push(`${ind}}`);
    return true;
  }

  stmt(s: Stmt, ind: string, pragma?: string): void {
    switch (s.k) {
      case 'seq':
        for (const x of s.body) this.stmt(x, ind);
        return;
      case 'for': {
        const v = this.name(s.v, 'v');
        if (pragma === 'parallel' && this.threads > 1) {
          this.openmp = true;
          this.lines.push(`${ind}#pragma omp parallel for num_threads(${this.threads}) schedule(static)`);
        } else if (pragma === 'vectorize') {
          this.lines.push(`${ind}#pragma GCC ivdep`);
        }
        this.lines.push(`${ind}for (vtw_index ${v} = 0; ${v} < ${s.ext}; ++${v}) {`);
        this.stmt(s.body, ind + '  ');
        this.lines.push(`${ind}}`);
        return;
      }
      case 'attr':
        if (s.key === 'tensorize' && s.value === DOT_I8X4) {
          // The intrinsic where the target has an int8 dot-product instruction, else the plain loops.
          if (!this.dot || !this.dotI8x4(s.body, ind)) this.stmt(s.body, ind);
          return;
        }
        if (s.key !== 'pragma' || (s.value !== 'parallel' && s.value !== 'vectorize')) {
          throw new CompileError(`the cpu target cannot emit the ${s.key} ${s.value} annotation (a VTA schedule primitive)`);
        }
        if (s.body.k !== 'for') throw new CompileError(`internal: pragma ${s.value} must annotate a loop`);
        this.stmt(s.body, ind, s.value);
        return;
      case 'alloc': {
        const b = this.name(s.buf, 'b');
        const t = cType(s.buf.dtype);
        const heap = s.buf.size * (dtypeBits(s.buf.dtype) / 8) > STACK_BYTES;
        this.lines.push(`${ind}{`);
        if (heap) this.lines.push(`${ind}  ${t} *restrict ${b} = (${t} *)malloc(sizeof(${t}) * ${s.buf.size});`);
        else this.lines.push(`${ind}  ${t} ${b}[${s.buf.size}];`);
        this.stmt(s.body, ind + '  ');
        if (heap) this.lines.push(`${ind}  free(${b});`);
        this.lines.push(`${ind}}`);
        return;
      }
      case 'store':
        this.lines.push(`${ind}${this.name(s.buf, 'b')}[${this.expr(flatIndex(s.buf, s.idx))}] = ${this.expr(s.value)};`);
        return;
      case 'if':
        this.lines.push(`${ind}if (${this.expr(s.c)}) {`);
        this.stmt(s.then, ind + '  ');
        if (s.else) {
          this.lines.push(`${ind}} else {`);
          this.stmt(s.else, ind + '  ');
        }
        this.lines.push(`${ind}}`);
        return;
      default:
        throw new CompileError(`the cpu target cannot emit the VTA intrinsic ${s.k}`);
    }
  }
}

/** Print a lowered function as C; `threads` > 1 makes loops marked parallel OpenMP loops. */
export function emitC(func: LoweredFunc, threads: number, opts: EmitOptions = {}): CSource {
  const name = `vtw_${func.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const params = [...func.inputs, ...func.outputs];
  const body = new Printer(threads, opts.dot);
  const args = params.map((b, i) => `${i < func.inputs.length ? 'const ' : ''}${cType(b.dtype)} *restrict ${body.name(b, 'b')}`);
  for (const b of func.scratch) {
    const n = body.name(b, 'b');
    body.lines.push(`  ${cType(b.dtype)} *restrict ${n} = (${cType(b.dtype)} *)malloc(sizeof(${cType(b.dtype)}) * ${b.size});`);
  }
  body.stmt(func.body, '  ');
  for (const b of func.scratch) body.lines.push(`  free(${body.name(b, 'b')});`);
  const text = `${PRELUDE}${body.intrinsics ? '#include <immintrin.h>\n' : ''}\nvoid ${name}(${args.join(', ')}) {\n${body.lines.join('\n')}\n}\n`;
  return { name, text, params, openmp: body.openmp };
}
