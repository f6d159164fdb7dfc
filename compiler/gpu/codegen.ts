/**
 * GPU kernels from the loop IR: one emitter core, two dialects (CUDA C and OpenCL C).
 *
 * Each root loop nest of a lowered function (one per root stage of the schedule) becomes one kernel.
 * Loops a schedule bound to a thread index (`bind`, compiler/te/schedule.ts) become that index: the
 * launch configuration takes each tag's extent from the outermost loop bound to it, and a loop
 * whose extent is smaller is guarded (`if (i < ext)`). A loop bound to a thread index inside another
 * loop bound to it (the copy of a tile into shared memory, computed inside the threads' loops) is a
 * cooperative loop: all threads of the block share its iterations, strided by the block size.
 * Buffers allocated inside a kernel are a thread's private arrays (registers, scope `local`) or the
 * block's shared memory (scope `shared`, declared at the kernel's top); a statement that writes
 * shared memory has a barrier before it (the tile's last readers are done) and after it (the tile
 * is complete before anyone reads it). Every kernel takes all global buffers (inputs, outputs, scratch) in one
 * order, so the host binds the same argument list to each.
 *
 * Arithmetic keeps the loop IR's wrap-around semantics without relying on the device compiler:
 * int32 add / sub / mul go through unsigned arithmetic, values narrower than int are cast back to
 * their type after each operation, `//` and `%` are floor division and modulo, `>>` shifts by
 * min(b, bits-1) (compiler/ir/expr.ts), as the C back end does with -fwrapv.
 */
import { CompileError } from '../errors.ts';
import { flatIndex, type Buffer } from '../ir/buffer.ts';
import { dtypeBits, type DType, type Expr, type Var } from '../ir/expr.ts';
import type { Stmt } from '../ir/stmt.ts';
import type { LoweredFunc } from '../te/lower.ts';
import { GPU_THREAD_TAGS, type GpuThreadTag } from '../te/schedule.ts';

export type GpuDialect = 'cuda' | 'opencl';

/**
 * The tensorize intrinsic of a 4-deep int8 dot product into an int32 accumulator (the GPU schedules
 * mark the inner loop of 4 input channels): CUDA's `__dp4a` on sm_61 and later (selected by
 * `__CUDA_ARCH__`, the plain loop below it); plain int arithmetic on OpenCL.
 */
export const DP4A = 'vtw.dp4a';

/** What differs between the dialects: types, qualifiers, thread indices, barriers. */
interface Dialect {
  types: Record<'int8' | 'uint8' | 'int16' | 'int32' | 'uint32', string>;
  kernel: string;
  globalPtr: (t: string, isConst: boolean) => string;
  shared: string;
  index: (tag: GpuThreadTag) => string;
  barrier: string;
  inline: string;
}

const DIALECTS: Record<GpuDialect, Dialect> = {
  cuda: {
    types: { int8: 'signed char', uint8: 'unsigned char', int16: 'short', int32: 'int', uint32: 'unsigned int' },
    kernel: 'extern "C" __global__ void',
    globalPtr: (t, c) => `${c ? 'const ' : ''}${t} *__restrict__`,
    shared: '__shared__',
    index: (tag) => `(int)${tag}`,
    barrier: '__syncthreads();',
    inline: 'static __device__ __forceinline__',
  },
  opencl: {
    types: { int8: 'char', uint8: 'uchar', int16: 'short', int32: 'int', uint32: 'uint' },
    kernel: '__kernel void',
    globalPtr: (t, c) => `__global ${c ? 'const ' : ''}${t} *restrict`,
    shared: '__local',
    index: (tag) => `(int)${tag.startsWith('block') ? 'get_group_id' : 'get_local_id'}(${'xyz'.indexOf(tag.slice(-1))})`,
    barrier: 'barrier(CLK_LOCAL_MEM_FENCE);',
    inline: 'static inline',
  },
};

/** One kernel and its launch configuration: grid of blocks (work-groups) × threads per block. */
export interface GpuKernel {
  name: string;
  grid: [number, number, number];
  block: [number, number, number];
  /** Bytes of shared (OpenCL: local) memory the kernel declares. */
  sharedBytes: number;
}

export interface GpuSource {
  dialect: GpuDialect;
  text: string;
  /** Kernels in launch order. */
  kernels: GpuKernel[];
  /** Every kernel's arguments, in order: inputs, outputs, scratch. */
  params: Buffer[];
  inputs: Buffer[];
  outputs: Buffer[];
  scratch: Buffer[];
}

function typeOf(d: Dialect, dt: DType): string {
  switch (dt) {
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'int32':
      return d.types[dt];
    case 'index':
    case 'bool':
      return 'int';
    default:
      throw new CompileError(`the GPU targets have no type for ${dt} (8, 16 and 32-bit integers only); use a configuration with those widths`);
  }
}

function prelude(d: Dialect): string {
  const i = d.inline;
  const u = d.types.uint32;
  // Guarded: the kernels of several operators may share one program (compiler/gpu/graph-host.ts).
  return `#ifndef VTW_PRELUDE
#define VTW_PRELUDE
/* floor division and modulo, as the loop IR defines them; int32 arithmetic wraps */
${i} int vtw_fdiv(int a, int b) { int q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
${i} int vtw_fmod(int a, int b) { int r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
${i} int vtw_add(int a, int b) { return (int)((${u})a + (${u})b); }
${i} int vtw_sub(int a, int b) { return (int)((${u})a - (${u})b); }
${i} int vtw_mul(int a, int b) { return (int)((${u})a * (${u})b); }
#define VTW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VTW_MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
`;
}

const positiveConst = (e: Expr): boolean => e.k === 'int' && e.value > 0;

/**
 * Whether an index expression is never negative: loop and thread variables (all count up from 0),
 * non-negative constants, and sums, products, quotients and remainders of such. There floor
 * division and modulo are C's `/` and `%` (the device compiler strength-reduces them by constants).
 */
function nonNegative(e: Expr): boolean {
  switch (e.k) {
    case 'int':
      return e.value >= 0;
    case 'var':
      return e.dtype === 'index';
    case 'bin':
      return ['add', 'mul', 'div', 'mod', 'min', 'max'].includes(e.op) && nonNegative(e.a) && nonNegative(e.b);
    default:
      return false;
  }
}

const strip = (s: Stmt): Stmt => (s.k === 'seq' && s.body.length === 1 ? strip(s.body[0]) : s);

/** The thread-index extents a nest binds (the largest loop per tag). */
function launchOf(s: Stmt, out: Map<GpuThreadTag, number>): void {
  switch (s.k) {
    case 'seq':
      s.body.forEach((x) => launchOf(x, out));
      return;
    case 'for':
    case 'alloc':
      launchOf(s.body, out);
      return;
    case 'if':
      launchOf(s.then, out);
      if (s.else) launchOf(s.else, out);
      return;
    case 'attr':
      if (s.key === 'bind') {
        const tag = s.value as GpuThreadTag;
        if (!GPU_THREAD_TAGS.includes(tag)) throw new CompileError(`internal: unknown thread tag ${s.value}`);
        if (s.body.k !== 'for') throw new CompileError(`internal: bind ${s.value} must annotate a loop`);
        // The outermost loop bound to a tag sets its launch extent; one nested inside it (a
        // cooperative copy into shared memory) runs strided over the block's threads.
        if (!out.has(tag)) out.set(tag, s.body.ext);
      }
      launchOf(s.body, out);
      return;
    default:
      return;
  }
}

class Printer {
  readonly names = new Map<Var | Buffer, string>();
  private readonly used = new Set<string>();
  lines: string[] = [];
  sharedBytes = 0;
  launch = new Map<GpuThreadTag, number>();
  /** Shared-memory declarations, hoisted to the kernel's top (OpenCL requires it there). */
  sharedDecls: string[] = [];
  /** Thread tags bound by an enclosing loop. */
  private readonly active = new Set<GpuThreadTag>();
  /** Shared buffers allocated so far (to find the statements that write them). */
  private readonly sharedBufs = new Set<Buffer>();
  /** Double-buffered shared buffers: the offset of the copy in use (C text). */
  private readonly bufOffset = new Map<Buffer, string>();

  private access(buf: Buffer, idx: readonly Expr[]): string {
    const off = this.bufOffset.get(buf);
    return `${this.name(buf, 'b')}[${off ? `${off} + ` : ''}${this.expr(flatIndex(buf, idx))}]`;
  }

  /**
   * A loop whose body fills a double-buffered shared tile and then reads it: the tile is declared
   * twice; the first fill comes before the loop, and each iteration fills the next iteration's copy
   * (the loop variable + 1) before computing on its own, with one barrier per iteration.
   */
  private doubleBuffered(f: Extract<Stmt, { k: 'for' }>, ind: string): boolean {
    const db = f.body;
    if (db.k !== 'attr' || db.key !== 'double_buffer' || db.body.k !== 'alloc' || db.body.buf.scope !== 'shared') return false;
    const buf = db.body.buf;
    const body = db.body.body;
    if (body.k !== 'seq' || body.body.length < 2) return false;
    const [fill, ...rest] = body.body;
    const t = this.type(buf.dtype);
    const b = this.name(buf, 'b');
    const v = this.name(f.v, 'v');
    const next = `${v}_next`;
    this.sharedBytes += 2 * buf.size * Math.max(1, dtypeBits(buf.dtype) / 8);
    this.sharedBufs.add(buf);
    this.sharedDecls.push(`  ${this.d.shared} ${t} ${b}[${2 * buf.size}];  /* double-buffered: 2 x ${buf.size} */`);
    const fillAt = (iter: string, ii: string) => {
      this.names.set(f.v, iter);
      this.bufOffset.set(buf, `${buf.size} * (${iter} & 1)`);
      this.stmt(fill, ii);
      this.names.set(f.v, v);
    };
    // The previous user of the buffer (an earlier iteration of an enclosing loop) is done.
    this.lines.push(`${ind}${this.d.barrier}`);
    this.lines.push(`${ind}{`);
    this.lines.push(`${ind}  const int ${next} = 0;`);
    fillAt(next, ind + '  ');
    this.lines.push(`${ind}}`);
    this.lines.push(`${ind}${this.d.barrier}`);
    this.lines.push(`${ind}for (int ${v} = 0; ${v} < ${f.ext}; ++${v}) {`);
    this.lines.push(`${ind}  if (${v} + 1 < ${f.ext}) {`);
    this.lines.push(`${ind}    const int ${next} = ${v} + 1;`);
    fillAt(next, ind + '    ');
    this.lines.push(`${ind}  }`);
    this.bufOffset.set(buf, `${buf.size} * (${v} & 1)`);
    for (const r of rest) this.stmt(r, ind + '  ');
    this.bufOffset.delete(buf);
    this.lines.push(`${ind}  ${this.d.barrier}`);
    this.lines.push(`${ind}}`);
    return true;
  }

  /** The thread's index in its block, and the block's size. */
  private linearThread(): { id: string; size: number } {
    const [x, y, z] = (['x', 'y', 'z'] as const).map((a) => this.launch.get(`threadIdx.${a}`) ?? 1);
    const idx = (a: 'x' | 'y' | 'z') => this.d.index(`threadIdx.${a}`);
    return { id: `(${idx('x')} + ${x} * (${idx('y')} + ${y} * ${idx('z')}))`, size: x * y * z };
  }

  private writesShared(s: Stmt): boolean {
    switch (s.k) {
      case 'store':
        return this.sharedBufs.has(s.buf);
      case 'seq':
        return s.body.some((x) => this.writesShared(x));
      case 'for':
      case 'attr':
      case 'alloc':
        return this.writesShared(s.body);
      case 'if':
        return this.writesShared(s.then) || (s.else !== undefined && this.writesShared(s.else));
      default:
        return false;
    }
  }

  constructor(readonly d: Dialect) {}

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

  type(dt: DType): string {
    return typeOf(this.d, dt);
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
        // Only the chosen side is evaluated: a padded read is never performed.
        return `(${this.expr(e.c)} ? ${this.expr(e.t)} : ${this.expr(e.f)})`;
      case 'cast':
        return `((${this.type(e.dtype)})${this.expr(e.a)})`;
      case 'load':
        return this.access(e.buf, e.idx);
      case 'read':
      case 'reduce':
        throw new CompileError(`internal: ${e.k} must be lowered before GPU code generation`);
    }
  }

  private wrap(dt: DType, text: string): string {
    return dt !== 'index' && dt !== 'int32' && dt !== 'bool' ? `((${this.type(dt)})${text})` : text;
  }

  private bin(op: string, a: Expr, b: Expr, dt: DType): string {
    const x = this.expr(a);
    const y = this.expr(b);
    // Index arithmetic stays within the buffers' sizes (< 2^31): plain int. Values wrap.
    const plain = dt === 'index';
    switch (op) {
      case 'add':
        return plain ? `(${x} + ${y})` : `vtw_add(${x}, ${y})`;
      case 'sub':
        return plain ? `(${x} - ${y})` : `vtw_sub(${x}, ${y})`;
      case 'mul':
        return plain ? `(${x} * ${y})` : `vtw_mul(${x}, ${y})`;
      case 'div':
        return nonNegative(a) && positiveConst(b) ? `(${x} / ${y})` : `vtw_fdiv(${x}, ${y})`;
      case 'mod':
        return nonNegative(a) && positiveConst(b) ? `(${x} % ${y})` : `vtw_fmod(${x}, ${y})`;
      case 'min':
        return `VTW_MIN(${x}, ${y})`;
      case 'max':
        return `VTW_MAX(${x}, ${y})`;
      case 'shr':
      case 'shl': {
        if (b.k !== 'int') throw new CompileError('the GPU targets need constant shift amounts');
        const bits = dt === 'index' ? 31 : dtypeBits(dt);
        const amount = op === 'shr' ? b.value : -b.value;
        if (amount >= 0) return `(${x} >> ${Math.min(amount, bits - 1)})`;
        return `((int)((${this.d.types.uint32})${x} << ${Math.min(-amount, bits - 1)}))`;
      }
    }
    throw new CompileError(`internal: binary operation ${op}`);
  }

  /**
   * DP4A over `for k < 4 { C[i] = C[i] + (int32)A * (int32)B }` (A, B int8 loads; C int32, not
   * reading k): the four bytes of A and of B are packed into words and one __dp4a adds their dot
   * product to C. Exact in wrap-around int32 like the loop. False when the nest has another form.
   */
  private dp4a(s: Stmt, ind: string): boolean {
    if (s.k !== 'for' || s.ext !== 4 || s.body.k !== 'store' || s.body.buf.dtype !== 'int32') return false;
    const st = s.body;
    const v = st.value;
    if (v.k !== 'bin' || v.op !== 'add' || v.a.k !== 'load' || v.a.buf !== st.buf) return false;
    const m = v.b;
    if (m.k !== 'bin' || m.op !== 'mul') return false;
    const int8 = (e: Expr) => e.k === 'cast' && e.dtype === 'int32' && e.a.k === 'load' && e.a.buf.dtype === 'int8';
    if (!int8(m.a) || !int8(m.b)) return false;
    const k = this.name(s.v, 'v');
    const c = this.expr(v.a);
    if (c.includes(k)) return false;
    const a = this.expr((m.a as Extract<Expr, { k: 'cast' }>).a);
    const b = this.expr((m.b as Extract<Expr, { k: 'cast' }>).a);
    const i2 = ind + '  ';
    this.lines.push('#if __CUDA_ARCH__ >= 610');
    this.lines.push(`${ind}{ /* ${DP4A}: 4 int8 products into int32 with one __dp4a */`);
    this.lines.push(`${i2}unsigned int t_a = 0, t_b = 0;`);
    this.lines.push(`${i2}#pragma unroll`);
    this.lines.push(`${i2}for (int ${k} = 0; ${k} < 4; ++${k}) { t_a |= (unsigned int)(unsigned char)${a} << (8 * ${k}); t_b |= (unsigned int)(unsigned char)${b} << (8 * ${k}); }`);
    this.lines.push(`${i2}${c} = __dp4a((int)t_a, (int)t_b, ${c});`);
    this.lines.push(`${ind}}`);
    this.lines.push('#else');
    this.stmt(s, ind);
    this.lines.push('#endif');
    return true;
  }

  stmt(s: Stmt, ind: string): void {
    switch (s.k) {
      case 'seq':
        for (const x of s.body) {
          const barrier = this.sharedBufs.size > 0 && this.writesShared(x);
          if (barrier) this.lines.push(`${ind}${this.d.barrier}`);
          this.stmt(x, ind);
          if (barrier) this.lines.push(`${ind}${this.d.barrier}`);
        }
        return;
      case 'for': {
        if (this.doubleBuffered(s, ind)) return;
        const v = this.name(s.v, 'v');
        this.lines.push(`${ind}for (int ${v} = 0; ${v} < ${s.ext}; ++${v}) {`);
        this.stmt(s.body, ind + '  ');
        this.lines.push(`${ind}}`);
        return;
      }
      case 'attr': {
        if (s.key === 'bind') {
          const f = s.body;
          if (f.k !== 'for') throw new CompileError(`internal: bind ${s.value} must annotate a loop`);
          const tag = s.value as GpuThreadTag;
          const v = this.name(f.v, 'v');
          if (this.active.has(tag)) {
            const t = this.linearThread();
            this.lines.push(`${ind}for (int ${v} = ${t.id}; ${v} < ${f.ext}; ${v} += ${t.size}) {`);
            this.stmt(f.body, ind + '  ');
            this.lines.push(`${ind}}`);
            return;
          }
          this.active.add(tag);
          this.lines.push(`${ind}{`);
          this.lines.push(`${ind}  const int ${v} = ${this.d.index(tag)};`);
          if (f.ext < (this.launch.get(tag) ?? 1)) {
            this.lines.push(`${ind}  if (${v} < ${f.ext}) {`);
            this.stmt(f.body, ind + '    ');
            this.lines.push(`${ind}  }`);
          } else {
            this.stmt(f.body, ind + '  ');
          }
          this.lines.push(`${ind}}`);
          this.active.delete(tag);
          return;
        }
        if (s.key === 'tensorize' && s.value === DP4A) {
          if (this.d !== DIALECTS.cuda || !this.dp4a(s.body, ind)) this.stmt(s.body, ind);
          return;
        }
        // Annotations with no GPU meaning of their own (a CPU schedule's vectorize / unroll hints) are
        // plain loops here; VTA's pragmas and tensorize requests are not.
        if (s.key === 'pragma' && (s.value === 'vectorize' || s.value === 'unroll')) {
          if (s.value === 'unroll') this.lines.push(`${ind}#pragma unroll`);
          this.stmt(s.body, ind);
          return;
        }
        throw new CompileError(`the GPU targets cannot emit the ${s.key} ${s.value} annotation (a VTA or CPU schedule primitive)`);
      }
      case 'alloc': {
        const b = this.name(s.buf, 'b');
        const t = this.type(s.buf.dtype);
        this.lines.push(`${ind}{`);
        if (s.buf.scope === 'shared') {
          this.sharedBytes += s.buf.size * Math.max(1, dtypeBits(s.buf.dtype) / 8);
          this.sharedBufs.add(s.buf);
          this.sharedDecls.push(`  ${this.d.shared} ${t} ${b}[${s.buf.size}];`);
        } else if (s.buf.scope === 'local' || s.buf.scope === 'global') {
          // A buffer allocated inside a kernel is the thread's own: registers or private memory.
          this.lines.push(`${ind}  ${t} ${b}[${s.buf.size}];`);
        } else {
          throw new CompileError(`the GPU targets have no ${s.buf.scope} memory (a VTA scope)`);
        }
        this.stmt(s.body, ind + '  ');
        this.lines.push(`${ind}}`);
        return;
      }
      case 'store':
        this.lines.push(`${ind}${this.access(s.buf, s.idx)} = ${this.expr(s.value)};`);
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
        throw new CompileError(`the GPU targets cannot emit the VTA intrinsic ${s.k}`);
    }
  }
}

/** The root nests of a lowered body: its top-level sequence (allocations of on-chip roots refused). */
function rootNests(body: Stmt): Stmt[] {
  const s = strip(body);
  if (s.k === 'alloc') throw new CompileError(`the GPU targets need ${s.buf.name} in global memory or computed inside a kernel (compute_at)`);
  if (s.k !== 'seq') return [s];
  return s.body.flatMap((x) => (x.k === 'seq' ? rootNests(x) : [strip(x)])).filter((x) => !(x.k === 'seq' && x.body.length === 0));
}

/** Print a lowered function as kernels of one dialect, with their launch configurations. */
export function emitGpu(func: LoweredFunc, dialect: GpuDialect): GpuSource {
  const d = DIALECTS[dialect];
  const base = `vtw_${func.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const params = [...func.inputs, ...func.outputs, ...func.scratch];
  const p = new Printer(d);
  const args = params.map((b, i) => `${d.globalPtr(p.type(b.dtype), i < func.inputs.length)} ${p.name(b, 'b')}`);
  const kernels: GpuKernel[] = [];
  const texts: string[] = [];
  rootNests(func.body).forEach((nest, i) => {
    const name = `${base}_k${i}`;
    p.lines = [];
    p.sharedBytes = 0;
    p.launch = new Map();
    p.sharedDecls = [];
    launchOf(nest, p.launch);
    p.stmt(nest, '  ');
    p.lines.unshift(...p.sharedDecls);
    const dim = (kind: 'block' | 'thread'): [number, number, number] =>
      (['x', 'y', 'z'] as const).map((a) => p.launch.get(`${kind === 'block' ? 'blockIdx' : 'threadIdx'}.${a}` as GpuThreadTag) ?? 1) as [number, number, number];
    kernels.push({ name, grid: dim('block'), block: dim('thread'), sharedBytes: p.sharedBytes });
    texts.push(`${d.kernel} ${name}(${args.join(', ')}) {\n${p.lines.join('\n')}\n}\n`);
  });
  const text = `/* generated by vta-workbench (compiler/gpu/codegen.ts), ${dialect} dialect */\n${prelude(d)}\n${texts.join('\n')}`;
  return { dialect, text, kernels, params, inputs: func.inputs, outputs: func.outputs, scratch: func.scratch };
}
