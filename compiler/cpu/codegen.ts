/**
 * C from the loop IR: one exported function per lowered operator,
 *
 *   void NAME(const T0 *restrict in0, ..., TO *restrict out)
 *
 * Every IR operation keeps its wrap-around semantics: values narrower than int are cast back to
 * their type after each operation, int32 arithmetic wraps because the file is compiled with
 * -fwrapv, `//` and `%` are floor division and modulo, and `>>` shifts by min(b, bits-1) as the
 * interpreter does (compiler/ir/expr.ts). Pragmas a CPU schedule sets: `parallel` -> the loop body
 * becomes a task function run by the process's thread pool (POOL_SOURCE), `vectorize` -> `#pragma GCC ivdep`. VTA intrinsics and
 * VTA annotations have no C form and are refused with one line.
 */
import { CompileError } from '../errors.ts';
import type { Buffer } from '../ir/buffer.ts';
import { flatIndex } from '../ir/buffer.ts';
import { coefOf, dtypeBits, int, simplify, substitute, type DType, type Expr, type Var } from '../ir/expr.ts';
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
  /** Whether the code runs loops on the thread pool (needs -pthread). */
  openmp: boolean;
  /** Compiler flags the source needs besides the target's (float code: -ffp-contract=off). */
  flags?: string[];
}

/**
 * The tensorize intrinsic of the blocked int8 convolution / matrix multiplication
 * (compiler/cpu/strategies.ts marks it): a register tile of output lanes accumulated over the
 * whole reduction by an int8 dot-product instruction, 4 products per 32-bit lane.
 */
export const GEMM_TILE = 'vtw.gemm_tile_u8s8';

/**
 * An instruction computing 32-bit lanes acc[l] += sum of 4 byte products, unsigned data by signed
 * weights (vpdpbusd): `avx512vnni` on 512-bit vectors (16 lanes), `avxvnni` on 256-bit vectors
 * (8 lanes). The data reaches it as uint8 (the definition's +128 offset, corrected per output
 * channel by a constant computed with the weights).
 */
export type DotIsa = 'avx512vnni' | 'avxvnni';

/** 32-bit lanes of one dot-product instruction. */
export const DOT_LANES: Record<DotIsa, number> = { avx512vnni: 16, avxvnni: 8 };
/** Vector operations of each instruction set; `storeFirst` stores the first n lanes only. */
const DOT_VEC: Record<DotIsa, { t: string; zero: string; load: (p: string) => string; store: (p: string, v: string) => string; storeFirst: (p: string, v: string, n: number) => string; set1: string; dot: string }> = {
  avx512vnni: {
    t: '__m512i', zero: '_mm512_setzero_si512()', set1: '_mm512_set1_epi32', dot: '_mm512_dpbusd_epi32',
    load: (p) => `_mm512_loadu_si512((const void *)(${p}))`, store: (p, v) => `_mm512_storeu_si512((void *)(${p}), ${v})`,
    storeFirst: (p, v, n) => `_mm512_mask_storeu_epi32((void *)(${p}), (__mmask16)${(1 << n) - 1}u, ${v})`,
  },
  avxvnni: {
    t: '__m256i', zero: '_mm256_setzero_si256()', set1: '_mm256_set1_epi32', dot: '_mm256_dpbusd_avx_epi32',
    load: (p) => `_mm256_loadu_si256((const __m256i *)(${p}))`, store: (p, v) => `_mm256_storeu_si256((__m256i *)(${p}), ${v})`,
    storeFirst: (p, v, n) => `_mm256_maskstore_epi32((int *)(${p}), _mm256_setr_epi32(${Array.from({ length: 8 }, (_, i) => (i < n ? -1 : 0)).join(', ')}), ${v})`,
  },
};

/** Most accumulators a register tile may have (x86-64 has 32 zmm / 16 ymm registers). */
export const MAX_TILE_ACCS: Record<DotIsa, number> = { avx512vnni: 28, avxvnni: 12 };

/** The dot-product instruction a target's features give (none: tensorized loops are printed plainly). */
export function dotIsaOf(features: readonly string[]): DotIsa | undefined {
  if (features.includes('avx512vnni')) return 'avx512vnni';
  if (features.includes('avxvnni')) return 'avxvnni';
  return undefined;
}

export interface EmitOptions {
  /** The target's int8 dot-product instruction, for loops tensorized with GEMM_TILE. */
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

/**
 * The thread pool for loops marked parallel: one shared object per process (built once, cached
 * like a kernel: compiler/cpu/build.ts), which every threaded kernel links against, so all kernels
 * share one pool of workers. (With a static pool per kernel, a graph of 50 threaded kernels had 50
 * workers spinning on 2 cores after each call: the PaddleOCR classifier took 4.4 s instead of ms.)
 *
 * It never waits for a worker that has not started: the caller publishes the loop (a generation
 * number in the task counter's high bits), claims iterations itself, and waits only for iterations
 * a worker claimed and is running. On a host whose cores other jobs hold, a descheduled worker
 * makes the loop serial, not late by a scheduler tick (an OpenMP loop ends in a barrier every team
 * thread must reach). Workers spin VTW_SPIN_NS for the next loop, then sleep.
 */
export const POOL_SOURCE = `#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
typedef ptrdiff_t vtw_index;
typedef void (*vtw_task_fn)(void *, vtw_index);
#define VTW_MAX_WORKERS 64
#define VTW_SPIN_NS 300000L
#if defined(__x86_64__) || defined(__i386__)
#define vtw_pause() __builtin_ia32_pause()
#else
#define vtw_pause() ((void)0)
#endif
static struct {
  pthread_mutex_t m;
  pthread_cond_t cv;
  int workers, sleepers;
  _Atomic unsigned long long next; /* generation << 32 | next iteration */
  _Atomic long done;
  vtw_task_fn fn;
  void *ctx;
  long n;
} vtw_pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0 };

/* Claim and run iterations of generation \`gen\` until none is left. */
static void vtw_drain(unsigned long long gen) {
  for (;;) {
    unsigned long long t = atomic_load_explicit(&vtw_pool.next, memory_order_acquire);
    if ((t >> 32) != gen || (long)(t & 0xffffffffu) >= vtw_pool.n) return;
    if (!atomic_compare_exchange_weak_explicit(&vtw_pool.next, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) continue;
    vtw_pool.fn(vtw_pool.ctx, (vtw_index)(t & 0xffffffffu));
    atomic_fetch_add_explicit(&vtw_pool.done, 1, memory_order_release);
  }
}

static long vtw_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *vtw_worker(void *arg) {
  (void)arg;
  unsigned long long seen = atomic_load(&vtw_pool.next) >> 32;
  for (;;) {
    unsigned long long gen = seen;
    long until = vtw_now_ns() + VTW_SPIN_NS;
    for (long i = 1; (gen = atomic_load_explicit(&vtw_pool.next, memory_order_acquire) >> 32) == seen; i++) {
      vtw_pause();
      if (i % 64 == 0 && vtw_now_ns() > until) break;
    }
    if (gen == seen) {
      pthread_mutex_lock(&vtw_pool.m);
      vtw_pool.sleepers++;
      while ((gen = atomic_load(&vtw_pool.next) >> 32) == seen) pthread_cond_wait(&vtw_pool.cv, &vtw_pool.m);
      vtw_pool.sleepers--;
      pthread_mutex_unlock(&vtw_pool.m);
    }
    seen = gen;
    vtw_drain(gen);
  }
  return 0;
}

void vtw_parallel_for(vtw_task_fn fn, void *ctx, long n, int threads) {
  while (vtw_pool.workers < threads - 1 && vtw_pool.workers < VTW_MAX_WORKERS) {
    pthread_t t;
    if (pthread_create(&t, 0, vtw_worker, 0)) break;
    pthread_detach(t);
    vtw_pool.workers++;
  }
  vtw_pool.fn = fn;
  vtw_pool.ctx = ctx;
  vtw_pool.n = n;
  atomic_store_explicit(&vtw_pool.done, 0, memory_order_relaxed);
  unsigned long long gen = (atomic_load(&vtw_pool.next) >> 32) + 1;
  atomic_store_explicit(&vtw_pool.next, gen << 32, memory_order_release);
  pthread_mutex_lock(&vtw_pool.m);
  if (vtw_pool.sleepers) pthread_cond_broadcast(&vtw_pool.cv);
  pthread_mutex_unlock(&vtw_pool.m);
  vtw_drain(gen);
  /* Only iterations a worker is running are left: yield the core now and then, in case that worker waits for it. */
  for (long i = 1; atomic_load_explicit(&vtw_pool.done, memory_order_acquire) < n; i++) {
    if (i % 256) vtw_pause();
    else sched_yield();
  }
}
`;

/** What a threaded kernel sees of the pool (it links against the pool's shared object). */
const POOL_PRELUDE = `
typedef void (*vtw_task_fn)(void *, vtw_index);
void vtw_parallel_for(vtw_task_fn fn, void *ctx, long n, int threads);
`;

const INTRINSICS_PRELUDE = `#include <immintrin.h>
#include <string.h>
/* four bytes as one 32-bit word, whatever their alignment */
static inline int32_t vtw_ld32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }
`;

class Printer {
  private readonly names = new Map<Var | Buffer, string>();
  private readonly used = new Set<string>();
  lines: string[] = [];
  openmp = false;
  /** Task functions of parallel loops, and whether one is being printed. */
  readonly tasks: string[] = [];
  outlining = false;
  /** The declarations a task function starts with: every buffer of the function, from the context. */
  ctxLocals = '';
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
   * GEMM_TILE on a loop whose body is `init; for r... { for t... { for o < L { for k < 4 {
   * C[..] += (int32)A[..] * (int32)W[..] }}}}`: the reduce loops r (not in C's index), then the
   * tile loops t (in C's index: one accumulator register per iteration, at most MAX_TILE_ACCS), then
   * the L lanes of one instruction (or fewer: a masked store) and the 4 products of a lane. A is uint8 with its 4 bytes
   * contiguous in k (one broadcast word), W int8 with (o, k) contiguous (one vector), C int32 with o
   * contiguous, the init stores 0. The accumulators stay in registers over the whole reduction and
   * are stored once. Returns false (the caller prints plain loops) when the nest has another form.
   */
  private gemmTile(s: Extract<Stmt, { k: 'for' }>, ind: string): boolean {
    const isa = this.dot!;
    const L = DOT_LANES[isa];
    const V = DOT_VEC[isa];
    const strip = (x: Stmt): Stmt => (x.k === 'attr' && x.key === 'pragma' ? strip(x.body) : x);
    const body = strip(s.body);
    if (body.k !== 'seq' || body.body.length !== 2) return false;
    const [init, red] = body.body;
    let i0 = strip(init);
    while (i0.k === 'for') i0 = strip(i0.body);
    if (i0.k !== 'store' || i0.value.k !== 'int' || i0.value.value !== 0) return false;
    const loops: Extract<Stmt, { k: 'for' }>[] = [];
    let b = strip(red);
    while (b.k === 'for') {
      loops.push(b);
      b = strip(b.body);
    }
    if (b.k !== 'store' || b.buf !== i0.buf || b.buf.dtype !== 'int32' || loops.length < 2) return false;
    const v = b.value;
    if (v.k !== 'bin' || v.op !== 'add' || !sameLoad(v.a, b.buf, b.idx) || v.b.k !== 'bin' || v.b.op !== 'mul') return false;
    const load8 = (e: Expr, dt: DType): Extract<Expr, { k: 'load' }> | undefined =>
      e.k === 'cast' && e.dtype === 'int32' && e.a.k === 'load' && e.a.buf.dtype === dt ? e.a : undefined;
    const A = load8(v.b.a, 'uint8') ?? load8(v.b.b, 'uint8');
    const W = load8(v.b.a, 'int8') ?? load8(v.b.b, 'int8');
    if (!A || !W) return false;
    const lk = loops[loops.length - 1];
    const lo = loops[loops.length - 2];
    // Fewer lanes than the instruction's: an operator with fewer output channels than one block
    // (the packed weights still hold a whole block; only the used lanes are stored).
    if (lk.ext !== 4 || lo.ext > L) return false;
    const cIdx = flatIndex(b.buf, b.idx);
    const aIdx = flatIndex(A.buf, A.idx);
    const wIdx = flatIndex(W.buf, W.idx);
    if (coefOf(aIdx, lk.v) !== 1 || uses(aIdx, lo.v) || coefOf(wIdx, lk.v) !== 1 || coefOf(wIdx, lo.v) !== 4 || coefOf(cIdx, lo.v) !== 1 || uses(cIdx, lk.v)) return false;
    const outer = loops.slice(0, -2);
    const firstTile = outer.findIndex((l) => uses(cIdx, l.v));
    const reduce = firstTile < 0 ? outer : outer.slice(0, firstTile);
    const tile = firstTile < 0 ? [] : outer.slice(firstTile);
    if (tile.some((l) => !uses(cIdx, l.v)) || reduce.some((l) => uses(cIdx, l.v))) return false;
    const nacc = tile.reduce((n, l) => n * l.ext, 1);
    if (nacc > MAX_TILE_ACCS[isa]) return false;

    this.intrinsics = true;
    this.name(s.v, 'v');
    const out = this.lines;
    // Every tile point: its accumulator, its data word and its weight vector (shared where equal).
    const points: Array<Map<Var, Expr>> = [];
    for (let p = 0; p < nacc; p++) {
      const m = new Map<Var, Expr>([[lo.v, int(0)], [lk.v, int(0)]]);
      let rest = p;
      for (let j = tile.length - 1; j >= 0; j--) {
        m.set(tile[j].v, int(rest % tile[j].ext));
        rest = Math.floor(rest / tile[j].ext);
      }
      points.push(m);
    }
    const at = (buf: Buffer, idx: Expr, m: Map<Var, Expr>) => `&${this.name(buf, 'b')}[${this.expr(simplify(substitute(idx, m)))}]`;
    const aText = points.map((m) => at(A.buf, aIdx, m));
    const wText = points.map((m) => at(W.buf, wIdx, m));
    const aNames = [...new Set(aText)];
    const wNames = [...new Set(wText)];
    const i2 = ind + '  ';
    out.push(`${ind}for (vtw_index ${this.name(s.v, 'v')} = 0; ${this.name(s.v, 'v')} < ${s.ext}; ++${this.name(s.v, 'v')}) { /* ${GEMM_TILE} on ${isa}: ${nacc} accumulators of ${L} lanes */`);
    out.push(`${i2}${V.t} ${points.map((_, p) => `t_acc${p} = ${V.zero}`).join(', ')};`);
    let ri = i2;
    for (const l of reduce) {
      const n = this.name(l.v, 'v');
      out.push(`${ri}for (vtw_index ${n} = 0; ${n} < ${l.ext}; ++${n}) {`);
      ri += '  ';
    }
    wNames.forEach((w, j) => out.push(`${ri}const ${V.t} t_w${j} = ${V.load(w)};`));
    aNames.forEach((a, j) => out.push(`${ri}const ${V.t} t_a${j} = ${V.set1}(vtw_ld32(${a}));`));
    points.forEach((_, p) => out.push(`${ri}t_acc${p} = ${V.dot}(t_acc${p}, t_a${aNames.indexOf(aText[p])}, t_w${wNames.indexOf(wText[p])});`));
    for (let j = reduce.length - 1; j >= 0; j--) {
      ri = ri.slice(2);
      out.push(`${ri}}`);
    }
    points.forEach((m, p) => out.push(`${i2}${lo.ext < L ? V.storeFirst(at(b.buf, cIdx, m), `t_acc${p}`, lo.ext) : V.store(at(b.buf, cIdx, m), `t_acc${p}`)};`));
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
        if (pragma === 'parallel' && this.threads > 1 && !this.outlining) {
          // The loop body becomes a task function over the iteration, run by the thread pool.
          this.openmp = true;
          this.outlining = true;
          const saved = this.lines;
          const body: string[] = [];
          this.lines = body;
          this.stmt(s.body, '  ');
          this.lines = saved;
          this.outlining = false;
          const id = this.tasks.length;
          this.tasks.push(`static void vtw_task${id}(void *vtw_c_, vtw_index ${v}) {\n  const struct vtw_ctx *vtw_c = (const struct vtw_ctx *)vtw_c_;\n${this.ctxLocals}${body.join('\n')}\n}\n`);
          this.lines.push(`${ind}vtw_parallel_for(vtw_task${id}, &vtw_c, ${s.ext}, ${this.threads});`);
          return;
        } else if (pragma === 'vectorize') {
          this.lines.push(`${ind}#pragma GCC ivdep`);
        }
        this.lines.push(`${ind}for (vtw_index ${v} = 0; ${v} < ${s.ext}; ++${v}) {`);
        this.stmt(s.body, ind + '  ');
        this.lines.push(`${ind}}`);
        return;
      }
      case 'attr':
        if (s.key === 'tensorize' && s.value === GEMM_TILE) {
          // The intrinsic where the target has an int8 dot-product instruction, else the plain loops.
          if (!this.dot || s.body.k !== 'for' || !this.gemmTile(s.body, ind)) this.stmt(s.body, ind);
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

/** Print a lowered function as C; `threads` > 1 runs loops marked parallel on the thread pool. */
export function emitC(func: LoweredFunc, threads: number, opts: EmitOptions = {}): CSource {
  const name = `vtw_${func.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const params = [...func.inputs, ...func.outputs];
  const body = new Printer(threads, opts.dot);
  const args = params.map((b, i) => `${i < func.inputs.length ? 'const ' : ''}${cType(b.dtype)} *restrict ${body.name(b, 'b')}`);
  for (const b of func.scratch) {
    const n = body.name(b, 'b');
    body.lines.push(`  ${cType(b.dtype)} *restrict ${n} = (${cType(b.dtype)} *)malloc(sizeof(${cType(b.dtype)}) * ${b.size});`);
  }
  // What a parallel loop's task function sees of the function: its buffers, through a context.
  const shared = [...params, ...func.scratch].map((b, i) => ({ n: body.name(b, 'b'), t: `${i < func.inputs.length ? 'const ' : ''}${cType(b.dtype)} *` }));
  body.ctxLocals = shared.map((x) => `  ${x.t}restrict ${x.n} = vtw_c->${x.n}; (void)${x.n};\n`).join('');
  const ctxAt = body.lines.length;
  body.stmt(func.body, '  ');
  if (body.openmp) body.lines.splice(ctxAt, 0, `  struct vtw_ctx vtw_c = { ${shared.map((x) => x.n).join(', ')} };`);
  for (const b of func.scratch) body.lines.push(`  free(${body.name(b, 'b')});`);
  const ctx = body.openmp ? `${POOL_PRELUDE}\nstruct vtw_ctx { ${shared.map((x) => `${x.t}${x.n};`).join(' ')} };\n\n${body.tasks.join('\n')}` : '';
  const text = `${PRELUDE}${body.intrinsics ? INTRINSICS_PRELUDE : ''}${ctx}\nvoid ${name}(${args.join(', ')}) {\n${body.lines.join('\n')}\n}\n`;
  return { name, text, params, openmp: body.openmp };
}
