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

  constructor(readonly threads: number) {}

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
export function emitC(func: LoweredFunc, threads: number): CSource {
  const name = `vtw_${func.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const params = [...func.inputs, ...func.outputs];
  const body = new Printer(threads);
  const args = params.map((b, i) => `${i < func.inputs.length ? 'const ' : ''}${cType(b.dtype)} *restrict ${body.name(b, 'b')}`);
  for (const b of func.scratch) {
    const n = body.name(b, 'b');
    body.lines.push(`  ${cType(b.dtype)} *restrict ${n} = (${cType(b.dtype)} *)malloc(sizeof(${cType(b.dtype)}) * ${b.size});`);
  }
  body.stmt(func.body, '  ');
  for (const b of func.scratch) body.lines.push(`  free(${body.name(b, 'b')});`);
  const text = `${PRELUDE}\nvoid ${name}(${args.join(', ')}) {\n${body.lines.join('\n')}\n}\n`;
  return { name, text, params, openmp: body.openmp };
}
