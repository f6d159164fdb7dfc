/**
 * WebAssembly text (WAT) from the loop IR — the same lowered functions the C printer
 * (compiler/cpu/codegen.ts) prints, for Node's own WebAssembly engine. One module per operator:
 *
 *   (memory (export "mem") PAGES)   every buffer at a fixed offset: parameters, scratch, allocations
 *   (func (export "run"))           the loop nest; no arguments (the host copies operands in and out)
 *
 * Values are i32 and keep the IR's wrap-around semantics: a result narrower than int32 is
 * sign-extended (i32.extend8_s / extend16_s) or masked (uint8) after each operation, as the C
 * printer casts; `//` and `%` are floor division and modulo, `>>` shifts by min(b, bits-1).
 *
 * 128-bit SIMD:
 * - a loop the schedule marks `vectorize` whose body is one store, contiguous in the loop
 *   variable, runs four lanes at a time in i32x4 (int8/int16 operands widened on load, results
 *   narrowed by a byte shuffle on store; loads with another stride are gathered lane by lane),
 *   then a scalar tail;
 * - an innermost reduction `acc[i] += int32(a[..k]) * int32(b[..k])` over contiguous int8 operands
 *   (dense's inner product) runs eight products at a time with i32x4.dot_i16x8_s, then a scalar tail;
 * - reduction loops around `unroll` loops around nests tensorized with WASM_DOT_I16X8 (the wasm
 *   conv2d schedule, compiler/wasm/strategies.ts) form a register block: accumulators in v128
 *   locals over the whole reduction, one i32x4.dot_i16x8_s per (channel vector, column), see
 *   `registerBlock`; such a nest elsewhere (its reduction init) is one v128 store.
 * An `unroll` loop outside a register block is printed once per iteration. Anything else is scalar. Types other than int8/uint8/int16/int32 and VTA intrinsics are refused.
 */
import { CompileError } from '../errors.ts';
import type { Buffer } from '../ir/buffer.ts';
import { flatIndex } from '../ir/buffer.ts';
import { dtypeBits, exprKey, fromLinear, ref, simplify, substitute, toLinear, type Linear, usesVar, visitExpr, add, int, type DType, type Expr, type Var } from '../ir/expr.ts';
import { substituteStmt, visitStmt, type For, type Stmt } from '../ir/stmt.ts';
import type { LoweredFunc } from '../te/lower.ts';
import { WASM_DOT_I16X8 } from './strategies.ts';

export interface WasmSource {
  name: string;
  /** The module as WebAssembly text. */
  text: string;
  /** Parameter buffers in call order (inputs, then the output), with their byte offsets in memory. */
  params: Buffer[];
  offsets: number[];
  /** Per parameter: stored in memory widened from int8 to int16 (the host sign-extends it as it copies it in). */
  widened: boolean[];
  /** Linear memory size in 64 KiB pages. */
  pages: number;
  /** How many loops run in SIMD (map loops, dot-product reductions, register-blocked WASM_DOT_I16X8 nests). */
  simdLoops: { map: number; dot: number; blocks: number };
}

/** Bytes per element of a type the wasm target stores. */
export function wasmElemBytes(dt: DType): number {
  switch (dt) {
    case 'int8':
    case 'uint8':
      return 1;
    case 'int16':
      return 2;
    case 'int32':
      return 4;
    default:
      throw new CompileError(`the wasm target cannot store ${dt} values (it handles int8, uint8, int16 and int32); use a configuration with 8, 16 or 32-bit widths`);
  }
}

const LANES = 4;
const DOT_LANES = 8;

class WatPrinter {
  private readonly names = new Map<Var | Buffer, string>();
  private readonly used = new Set<string>();
  private readonly offsets = new Map<Buffer, number>();
  readonly locals: string[] = [];
  readonly lines: string[] = [];
  top = 0;
  private labels = 0;
  simd = { map: 0, dot: 0, blocks: 0 };
  /** Statements computing a vector loop's invariant address parts, emitted just before the loop. */
  private pre: string[] = [];

  /**
   * int8 buffers stored as int16 (sign-extended): the operands of register-blocked WASM_DOT_I16X8
   * nests (see `widenedOperands`), so the block loads an input pair with one v128.load32_splat and a
   * weight block with one v128.load instead of a load plus a widening shuffle each.
   */
  private readonly wide: ReadonlySet<Buffer>;

  constructor(wide: ReadonlySet<Buffer> = new Set()) {
    this.wide = wide;
  }

  /** How a buffer's elements are stored in linear memory. */
  private stored(b: Buffer): StoredType {
    return this.wide.has(b) ? 'int16' : checkType(b.dtype);
  }

  private bytes(b: Buffer): number {
    return wasmElemBytes(this.stored(b));
  }

  name(x: Var | Buffer, prefix: string): string {
    let n = this.names.get(x);
    if (n) return n;
    const base = `$${prefix}_${x.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    this.names.set(x, n);
    return n;
  }

  local(v: Var): string {
    const had = this.names.has(v);
    const n = this.name(v, 'v');
    if (!had) this.locals.push(`(local ${n} i32)`);
    return n;
  }

  private tmp(type: 'i32' | 'v128'): string {
    const n = `$t${this.locals.length}`;
    this.locals.push(`(local ${n} ${type})`);
    return n;
  }

  /** Place a buffer in linear memory (16-byte aligned); returns its byte offset. */
  place(b: Buffer): number {
    const known = this.offsets.get(b);
    if (known !== undefined) return known;
    const at = this.top;
    this.offsets.set(b, at);
    this.top = at + Math.ceil((b.size * this.bytes(b)) / 16) * 16 + 16;
    return at;
  }

  private offset(b: Buffer): number {
    const at = this.offsets.get(b);
    if (at === undefined) throw new CompileError(`internal: buffer ${b.name} used outside its allocation`);
    return at;
  }

  private label(): string {
    return `$L${this.labels++}`;
  }

  // ---- scalar expressions ----

  expr(e: Expr): string {
    switch (e.k) {
      case 'int':
        if (e.value < -(2 ** 31) || e.value >= 2 ** 32) throw new CompileError(`the wasm target needs 32-bit constants, got ${e.value}`);
        return `(i32.const ${e.value | 0})`;
      case 'var':
        return `(local.get ${this.local(e.v)})`;
      case 'bin':
        return wrap(e.dtype, this.bin(e.op, e.a, e.b, e.dtype));
      case 'cmp': {
        const op = { lt: 'lt_s', le: 'le_s', eq: 'eq', ne: 'ne', gt: 'gt_s', ge: 'ge_s' }[e.op];
        return `(i32.${op} ${this.expr(e.a)} ${this.expr(e.b)})`;
      }
      case 'and':
        return `(i32.and ${this.expr(e.a)} ${this.expr(e.b)})`;
      case 'or':
        return `(i32.or ${this.expr(e.a)} ${this.expr(e.b)})`;
      case 'not':
        return `(i32.eqz ${this.expr(e.a)})`;
      case 'select':
        // A branch, not wasm's `select`: only the chosen side runs, so a padded read is never made.
        return `(if (result i32) ${this.expr(e.c)} (then ${this.expr(e.t)}) (else ${this.expr(e.f)}))`;
      case 'cast':
        return wrap(e.dtype, this.expr(e.a));
      case 'load':
        return `(${LOAD[this.stored(e.buf)]} offset=${this.offset(e.buf)} ${this.address(e.buf, e.idx)})`;
      case 'read':
      case 'reduce':
        throw new CompileError(`internal: ${e.k} must be lowered before wasm generation`);
    }
  }

  private address(buf: Buffer, idx: readonly Expr[]): string {
    const flat = this.expr(flatIndex(buf, idx));
    const shift = Math.log2(this.bytes(buf));
    return shift ? `(i32.shl ${flat} (i32.const ${shift}))` : flat;
  }

  /**
   * The byte address of an access whose flat index is `base + stride * v`, with `base` (free of v)
   * computed once before the vector loop rather than in every iteration.
   */
  private hoistedAddress(buf: Buffer, idx: readonly Expr[], v: Var, stride: number): string {
    const base = simplify(substitute(flatIndex(buf, idx), new Map([[v, int(0)]])));
    const t = this.tmp('i32');
    this.pre.push(`(local.set ${t} ${this.expr(base)})`);
    const vi = `(local.get ${this.local(v)})`;
    const flat = `(i32.add (local.get ${t}) ${stride === 1 ? vi : `(i32.mul ${vi} (i32.const ${stride}))`})`;
    const shift = Math.log2(this.bytes(buf));
    return shift ? `(i32.shl ${flat} (i32.const ${shift}))` : flat;
  }

  private bin(op: string, a: Expr, b: Expr, dt: DType): string {
    const x = this.expr(a);
    const y = this.expr(b);
    const pow2 = b.k === 'int' && b.value > 0 && Number.isInteger(Math.log2(b.value)) ? Math.log2(b.value) : -1;
    switch (op) {
      case 'add':
        return `(i32.add ${x} ${y})`;
      case 'sub':
        return `(i32.sub ${x} ${y})`;
      case 'mul':
        return `(i32.mul ${x} ${y})`;
      case 'div':
        // Floor division by 2^k is an arithmetic shift.
        return pow2 >= 0 ? `(i32.shr_s ${x} (i32.const ${pow2}))` : `(call $fdiv ${x} ${y})`;
      case 'mod':
        return pow2 >= 0 ? `(i32.and ${x} (i32.const ${2 ** pow2 - 1}))` : `(call $fmod ${x} ${y})`;
      case 'min':
        return `(call $min ${x} ${y})`;
      case 'max':
        return `(call $max ${x} ${y})`;
      case 'shr':
      case 'shl': {
        if (b.k !== 'int') throw new CompileError('the wasm target needs constant shift amounts');
        const bits = dt === 'index' ? 31 : dtypeBits(dt);
        const amount = op === 'shr' ? b.value : -b.value;
        if (amount >= 0) return `(i32.shr_s ${x} (i32.const ${Math.min(amount, bits - 1)}))`;
        return `(i32.shl ${x} (i32.const ${Math.min(-amount, bits - 1)}))`;
      }
    }
    throw new CompileError(`internal: binary operation ${op}`);
  }

  // ---- statements ----

  stmt(s: Stmt, ind: string, pragma?: string): void {
    switch (s.k) {
      case 'seq':
        for (const x of s.body) this.stmt(x, ind);
        return;
      case 'for':
        if (pragma === 'vectorize' && this.mapLoop(s, ind)) return;
        if (this.registerBlock(s, ind)) return;
        if (this.dotLoop(s, ind)) return;
        this.serialLoop(s, ind, 0);
        return;
      case 'attr':
        // Outside a register block (registerBlock): a tensorized nest is a vector fill or its plain loops, an unrolled loop its bodies.
        if (s.key === 'tensorize' && s.value === WASM_DOT_I16X8) {
          if (!this.vectorFill(s.body, ind)) this.stmt(s.body, ind);
          return;
        }
        if (s.key === 'pragma' && s.value === 'unroll' && s.body.k === 'for') {
          const f = s.body;
          for (let i = 0; i < f.ext; i++) this.stmt(substituteStmt(f.body, new Map([[f.v, int(i)]])), ind);
          return;
        }
        if (s.key !== 'pragma' || (s.value !== 'parallel' && s.value !== 'vectorize')) {
          throw new CompileError(`the wasm target cannot emit the ${s.key} ${s.value} annotation (a VTA schedule primitive)`);
        }
        if (s.body.k !== 'for') throw new CompileError(`internal: pragma ${s.value} must annotate a loop`);
        // parallel: the wasm target runs one thread, so a parallel loop is a serial one.
        this.stmt(s.body, ind, s.value);
        return;
      case 'alloc':
        this.place(s.buf);
        this.stmt(s.body, ind);
        return;
      case 'store':
        {
          // A widened int8 buffer holds the value wrapped to int8 (store8 would truncate it).
          const value = this.wide.has(s.buf) ? wrap('int8', this.expr(s.value)) : this.expr(s.value);
          this.lines.push(`${ind}(${STORE[this.stored(s.buf)]} offset=${this.offset(s.buf)} ${this.address(s.buf, s.idx)} ${value})`);
        }
        return;
      case 'if':
        this.lines.push(`${ind}(if ${this.expr(s.c)} (then`);
        this.stmt(s.then, ind + '  ');
        if (s.else) {
          this.lines.push(`${ind}) (else`);
          this.stmt(s.else, ind + '  ');
        }
        this.lines.push(`${ind}))`);
        return;
      default:
        throw new CompileError(`the wasm target cannot emit the VTA intrinsic ${s.k}`);
    }
  }

  /** for (v = from; v < ext; ++v) body — a do-while, entered only when from < ext. */
  private serialLoop(s: For, ind: string, from: number): void {
    if (from >= s.ext) return;
    const v = this.local(s.v);
    const l = this.label();
    this.lines.push(`${ind}(local.set ${v} (i32.const ${from}))`);
    this.lines.push(`${ind}(loop ${l}`);
    this.stmt(s.body, ind + '  ');
    this.lines.push(`${ind}  (br_if ${l} (i32.lt_s (local.tee ${v} (i32.add (local.get ${v}) (i32.const 1))) (i32.const ${s.ext})))`);
    this.lines.push(`${ind})`);
  }

  /** A counted loop stepping by `step` while v + step <= ext; returns where the scalar tail starts. */
  private vectorLoop(s: For, ind: string, step: number, body: string[]): number {
    const v = this.local(s.v);
    const l = this.label();
    for (const p of this.pre) this.lines.push(`${ind}${p}`);
    this.pre = [];
    this.lines.push(`${ind}(local.set ${v} (i32.const 0))`);
    this.lines.push(`${ind}(loop ${l}`);
    for (const b of body) this.lines.push(`${ind}  ${b}`);
    this.lines.push(`${ind}  (br_if ${l} (i32.le_s (local.tee ${v} (i32.add (local.get ${v}) (i32.const ${step}))) (i32.const ${s.ext - step})))`);
    this.lines.push(`${ind})`);
    return s.ext - (s.ext % step);
  }

  /** The coefficient of `v` in an index expression, or undefined where it is not affine in v. */
  private stride(e: Expr, v: Var): number | undefined {
    const lin = toLinear(e);
    // c*m*(x // c) + m*(x % c) is m*x: a fused loop (add's y*W + x) indexes its buffers this way.
    for (const [k, t] of [...lin.terms]) {
      const d = t.e;
      if (d.k !== 'bin' || d.op !== 'div' || d.b.k !== 'int') continue;
      const modKey = exprKey({ ...d, op: 'mod' });
      const m = lin.terms.get(modKey);
      if (!m || m.coef * d.b.value !== t.coef) continue;
      lin.terms.delete(k);
      lin.terms.delete(modKey);
      for (const [k2, t2] of toLinear(d.a).terms) {
        const have = lin.terms.get(k2);
        lin.terms.set(k2, { coef: (have?.coef ?? 0) + m.coef * t2.coef, e: t2.e });
      }
    }
    const key = exprKey(ref(v));
    let coef = 0;
    for (const [k, t] of lin.terms) {
      if (k === key) coef = t.coef;
      else if (usesVar(t.e, v)) return undefined;
    }
    return coef;
  }

  /** The loop `for v: B[f(v)] = value(v)` with f contiguous, four lanes at a time in i32x4. */
  private mapLoop(s: For, ind: string): boolean {
    const st = s.body.k === 'seq' && s.body.body.length === 1 ? s.body.body[0] : s.body;
    if (st.k !== 'store' || s.ext < LANES) return false;
    const flat = flatIndex(st.buf, st.idx);
    if (this.stride(flat, s.v) !== 1) return false;
    // A read of the stored buffer at another index would be a dependence across lanes.
    let dependent = false;
    visitExpr(st.value, (x) => {
      if (x.k === 'load' && x.buf === st.buf && exprKey(flatIndex(x.buf, x.idx)) !== exprKey(flat)) dependent = true;
    });
    if (dependent) return false;
    this.pre = [];
    const vvalue = this.vexpr(st.value, s.v);
    const value = vvalue && this.wide.has(st.buf) ? vwrap('int8', vvalue) : vvalue;
    if (!value) {
      this.pre = [];
      return false;
    }
    const addr = this.hoistedAddress(st.buf, st.idx, s.v, 1);
    const o = this.offset(st.buf);
    const store = {
      int32: `(v128.store offset=${o} ${addr} ${value})`,
      int16: `(v128.store64_lane offset=${o} 0 ${addr} (i8x16.shuffle 0 1 4 5 8 9 12 13 0 1 4 5 8 9 12 13 ${value} (v128.const i32x4 0 0 0 0)))`,
      int8: `(v128.store32_lane offset=${o} 0 ${addr} (i8x16.shuffle 0 4 8 12 0 4 8 12 0 4 8 12 0 4 8 12 ${value} (v128.const i32x4 0 0 0 0)))`,
      uint8: `(v128.store32_lane offset=${o} 0 ${addr} (i8x16.shuffle 0 4 8 12 0 4 8 12 0 4 8 12 0 4 8 12 ${value} (v128.const i32x4 0 0 0 0)))`,
    }[this.stored(st.buf)];
    const tail = this.vectorLoop(s, ind, LANES, [store]);
    this.serialLoop(s, ind, tail);
    this.simd.map++;
    return true;
  }

  /** An expression as an i32x4 of lanes v..v+3 (each lane wrapped to the type), or undefined. */
  private vexpr(e: Expr, v: Var): string | undefined {
    if (!usesVar(e, v)) {
      // Invariant in the loop: splat once, before it.
      if (e.k === 'int') return `(i32x4.splat (i32.const ${e.value | 0}))`;
      const t = this.tmp('v128');
      this.pre.push(`(local.set ${t} (i32x4.splat ${this.expr(e)}))`);
      return `(local.get ${t})`;
    }
    switch (e.k) {
      case 'bin': {
        const a = this.vexpr(e.a, v);
        const b = e.op === 'shr' || e.op === 'shl' ? '' : this.vexpr(e.b, v);
        if (a === undefined || b === undefined) return undefined;
        const op = { add: 'i32x4.add', sub: 'i32x4.sub', mul: 'i32x4.mul', min: 'i32x4.min_s', max: 'i32x4.max_s' }[e.op as string];
        if (op) return vwrap(e.dtype, `(${op} ${a} ${b})`);
        if ((e.op === 'shr' || e.op === 'shl') && e.b.k === 'int') {
          const bits = e.dtype === 'index' ? 31 : dtypeBits(e.dtype);
          const amount = e.op === 'shr' ? e.b.value : -e.b.value;
          if (amount >= 0) return `(i32x4.shr_s ${a} (i32.const ${Math.min(amount, bits - 1)}))`;
          return vwrap(e.dtype, `(i32x4.shl ${a} (i32.const ${Math.min(-amount, bits - 1)}))`);
        }
        return undefined;
      }
      case 'cast': {
        const a = this.vexpr(e.a, v);
        return a === undefined ? undefined : vwrap(e.dtype, a);
      }
      case 'load': {
        const flat = flatIndex(e.buf, e.idx);
        const stride = this.stride(flat, v);
        if (stride === undefined) return undefined;
        const dt = this.stored(e.buf);
        if (stride === 1) {
          const at = `offset=${this.offset(e.buf)} ${this.hoistedAddress(e.buf, e.idx, v, 1)}`;
          return {
            int32: `(v128.load ${at})`,
            int16: `(v128.load16x4_s ${at})`,
            int8: `(i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (v128.load32_zero ${at})))`,
            uint8: `(i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero ${at})))`,
          }[dt];
        }
        // Another stride (a stride-2 convolution's input row, a blocked accumulator's channel):
        // gather the four lanes from one hoisted address, lane l at the constant offset l * stride.
        if (stride >= 0) {
          const addr = this.hoistedAddress(e.buf, e.idx, v, stride);
          const bytes = this.bytes(e.buf);
          const lane = (l: number) => `(${LOAD[dt]} offset=${this.offset(e.buf) + l * stride * bytes} ${addr})`;
          let out = `(i32x4.splat ${lane(0)})`;
          for (let l = 1; l < LANES; l++) out = `(i32x4.replace_lane ${l} ${out} ${lane(l)})`;
          return out;
        }
        let out = `(i32x4.splat ${this.expr(e)})`;
        for (let lane = 1; lane < LANES; lane++) {
          out = `(i32x4.replace_lane ${lane} ${out} ${this.expr(substitute(e, new Map([[v, add(ref(v), int(lane))]])))})`;
        }
        return out;
      }
      default:
        return undefined;
    }
  }

  /**
   * A register block: serial reduction loops `for r1 { … for rm { U } }` whose innermost body U is
   * unrolled loops (pragma unroll) around WASM_DOT_I16X8 nests
   *   for o < 4 { for k < 2 { C[..o] = C[..o] + int32(A[..k]) * int32(W[..o, k]) } }
   * with C's address free of the serial loops. Each distinct C vector lives in a v128 local over
   * the whole nest (loaded before, stored after); per iteration each distinct A pair is loaded once
   * (splat, int8 -> i16x8), each distinct W block once (8 x int8 -> i16x8), then one
   * i32x4.dot_i16x8_s per instance. An address is a base (one i32 local per distinct base) plus a
   * constant (the load's offset immediate). Returns false (plain loops) when the nest has another form.
   */
  private registerBlock(s: For, ind: string): boolean {
    const serial: For[] = [];
    let b: Stmt = s;
    while (b.k === 'for') {
      serial.push(b);
      b = b.body;
    }
    if (b.k !== 'attr') return false;
    const found: DotInstance[] = [];
    if (!this.expandBlock(b, new Map(), found) || !found.length) return false;
    if (found.some((d) => serial.some((f) => usesVar(d.acc.base, f.v)))) return false;

    const bases = new Map<string, { local: string; expr: Expr; bytes: number; inner: boolean }>();
    const baseLocal = (a: Addr, inner: boolean): string => {
      const key = `${a.bytes}:${exprKey(a.base)}`;
      let x = bases.get(key);
      if (!x) bases.set(key, (x = { local: this.tmp('i32'), expr: a.base, bytes: a.bytes, inner }));
      return x.local;
    };
    const vectors = (pick: (d: DotInstance) => Addr, inner: boolean) => {
      const m = new Map<string, { local: string; base: string; offset: number }>();
      for (const d of found) {
        const a = pick(d);
        const base = baseLocal(a, inner);
        const key = `${base}+${a.offset}`;
        if (!m.has(key)) m.set(key, { local: this.tmp('v128'), base, offset: a.offset });
      }
      return m;
    };
    const key = (a: Addr) => `${baseLocal(a, false)}+${a.offset}`;
    const accs = vectors((d) => d.acc, false);
    const as = vectors((d) => d.a, true);
    const ws = vectors((d) => d.w, true);
    const byteAddress = (e: Expr, bytes: number) => {
      const shift = Math.log2(bytes);
      return shift ? `(i32.shl ${this.expr(e)} (i32.const ${shift}))` : this.expr(e);
    };
    // An inner base's terms free of the reduction loops are summed once, before them.
    const invariant = new Map<string, string>();
    for (const x of bases.values()) {
      if (!x.inner) continue;
      const lin = toLinear(x.expr);
      const outer: Linear = { terms: new Map(), c: lin.c };
      lin.c = 0;
      for (const [k, t] of [...lin.terms]) {
        if (serial.some((f) => usesVar(t.e, f.v))) continue;
        outer.terms.set(k, t);
        lin.terms.delete(k);
      }
      if (!outer.terms.size) continue;
      const t = this.tmp('i32');
      this.lines.push(`${ind}(local.set ${t} ${byteAddress(fromLinear(outer), x.bytes)})`);
      invariant.set(x.local, t);
      x.expr = fromLinear(lin);
    }
    const setBases = (inner: boolean, at: string) => {
      for (const x of bases.values()) {
        if (x.inner !== inner) continue;
        const e = byteAddress(x.expr, x.bytes);
        const pre = invariant.get(x.local);
        this.lines.push(`${at}(local.set ${x.local} ${pre ? `(i32.add (local.get ${pre}) ${e})` : e})`);
      }
    };
    setBases(false, ind);
    for (const x of accs.values()) this.lines.push(`${ind}(local.set ${x.local} (v128.load offset=${x.offset} (local.get ${x.base})))`);
    // Strength reduction of the innermost reduction loop: the inner bases are set once before it
    // (its variable at 0) and advanced by their constant stride at the end of each iteration,
    // instead of being recomputed from all the loop variables in every iteration.
    const innerIdx = serial.map((f) => f.ext > 1).lastIndexOf(true);
    const innerLoop = innerIdx >= 0 ? serial[innerIdx] : undefined;
    const steps = new Map<string, number>();
    if (innerLoop) {
      for (const x of bases.values()) {
        if (!x.inner) continue;
        const st = this.stride(x.expr, innerLoop.v);
        if (st === undefined) {
          steps.clear();
          break;
        }
        steps.set(x.local, st * x.bytes);
      }
    }
    const reduced = innerLoop !== undefined && steps.size > 0;
    const labels: string[] = [];
    let at = ind;
    for (const [i, f] of serial.entries()) {
      const v = this.local(f.v);
      // A loop of one iteration (a 1x1 kernel's) is its body with the variable at 0.
      if (f.ext === 1) {
        this.lines.push(`${at}(local.set ${v} (i32.const 0))`);
        labels.push('');
        continue;
      }
      const l = this.label();
      labels.push(l);
      this.lines.push(`${at}(local.set ${v} (i32.const 0))`);
      if (reduced && i === innerIdx) {
        const zero = new Map([[f.v, int(0)]]);
        for (const x of bases.values()) if (x.inner) x.expr = simplify(substitute(x.expr, zero));
        setBases(true, at);
      }
      this.lines.push(`${at}(loop ${l}`);
      at += '  ';
    }
    if (!reduced) setBases(true, at);
    // Each operand is loaded just before its first use: V8 keeps wasm loads in program order, so
    // loading all of them first would hold them all in registers at once.
    const loaded = new Set<string>();
    const load = (x: { local: string; base: string; offset: number }, text: (at: string) => string) => {
      if (loaded.has(x.local)) return x.local;
      loaded.add(x.local);
      this.lines.push(`${at}(local.set ${x.local} ${text(`offset=${x.offset} (local.get ${x.base})`)})`);
      return x.local;
    };
    // V8 (x64) folds a plain load's offset into the address's displacement but adds a splat load's
    // offset to the memory base outside the loop: one general register per distinct offset, which
    // spill. The splat's offset goes into its index instead (one lea each).
    const splatAddress = (x: { base: string; offset: number }) => `(i32.add (local.get ${x.base}) (i32.const ${x.offset}))`;
    for (const d of found) {
      const acc = accs.get(key(d.acc))!.local;
      const w = load(ws.get(key(d.w))!, (m) => (d.wWide ? `(v128.load ${m})` : `(v128.load8x8_s ${m})`));
      const ax = as.get(key(d.a))!;
      const a = load(ax, () => (d.aWide ? `(v128.load32_splat ${splatAddress(ax)})` : `(i16x8.extend_low_i8x16_s (v128.load16_splat ${splatAddress(ax)}))`));
      this.lines.push(`${at}(local.set ${acc} (i32x4.add (local.get ${acc}) (i32x4.dot_i16x8_s (local.get ${a}) (local.get ${w}))))`);
    }
    for (let i = serial.length - 1; i >= 0; i--) {
      if (!labels[i]) continue;
      if (reduced && i === innerIdx) {
        for (const [local, step] of steps) if (step) this.lines.push(`${at}(local.set ${local} (i32.add (local.get ${local}) (i32.const ${step})))`);
      }
      at = at.slice(2);
      const v = this.local(serial[i].v);
      this.lines.push(`${at}  (br_if ${labels[i]} (i32.lt_s (local.tee ${v} (i32.add (local.get ${v}) (i32.const 1))) (i32.const ${serial[i].ext})))`);
      this.lines.push(`${at})`);
    }
    for (const x of accs.values()) this.lines.push(`${ind}(v128.store offset=${x.offset} (local.get ${x.base}) (local.get ${x.local}))`);
    this.simd.blocks++;
    return true;
  }

  /** A tensorized nest's reduction init `for o < 4 { C[..o] = c }` (int32 C contiguous in o): one v128 store. */
  private vectorFill(s: Stmt, ind: string): boolean {
    const st = s.k === 'for' && s.ext === LANES ? (s.body.k === 'seq' && s.body.body.length === 1 ? s.body.body[0] : s.body) : undefined;
    if (!st || s.k !== 'for' || st.k !== 'store' || st.buf.dtype !== 'int32' || st.value.k !== 'int') return false;
    const flat = flatIndex(st.buf, st.idx);
    if (this.stride(flat, s.v) !== 1) return false;
    const base = simplify(substitute(flat, new Map([[s.v, int(0)]])));
    this.lines.push(`${ind}(v128.store offset=${this.offset(st.buf)} (i32.shl ${this.expr(base)} (i32.const 2)) (i32x4.splat (i32.const ${st.value.value | 0})))`);
    return true;
  }

  /** The WASM_DOT_I16X8 instances of a register block's body, unrolled loops bound to constants. */
  private expandBlock(s: Stmt, bind: Map<Var, Expr>, out: DotInstance[]): boolean {
    if (s.k === 'seq') return s.body.every((x) => this.expandBlock(x, bind, out));
    if (s.k !== 'attr' || s.body.k !== 'for') return false;
    const f = s.body;
    if (s.key === 'pragma' && s.value === 'unroll') {
      for (let i = 0; i < f.ext; i++) {
        bind.set(f.v, int(i));
        const ok = this.expandBlock(f.body, bind, out);
        bind.delete(f.v);
        if (!ok) return false;
      }
      return true;
    }
    if (s.key !== 'tensorize' || s.value !== WASM_DOT_I16X8) return false;
    const d = this.dotI16x8(f, bind);
    if (d) out.push(d);
    return d !== undefined;
  }

  /** Match `for o < 4 { for k < 2 { C[..o] = C[..o] + int32(A[..k]) * int32(W[..o, k]) } }` (int8 A, W; int32 C). */
  private dotI16x8(lo: For, bind: Map<Var, Expr>): DotInstance | undefined {
    const single = (x: Stmt): Stmt => (x.k === 'seq' && x.body.length === 1 ? single(x.body[0]) : x);
    const lk = single(lo.body);
    if (lo.ext !== 4 || lk.k !== 'for' || lk.ext !== 2) return undefined;
    const st = single(lk.body);
    if (st.k !== 'store' || st.buf.dtype !== 'int32') return undefined;
    const flat = flatIndex(st.buf, st.idx);
    const v = st.value;
    if (v.k !== 'bin' || v.op !== 'add' || v.dtype !== 'int32' || !isLoadOf(v.a, st.buf, flat)) return undefined;
    const m = v.b;
    if (m.k !== 'bin' || m.op !== 'mul' || m.dtype !== 'int32') return undefined;
    const int8Load = (e: Expr) => (e.k === 'cast' && e.dtype === 'int32' && e.a.k === 'load' && e.a.buf.dtype === 'int8' ? e.a : undefined);
    const p = int8Load(m.a);
    const q = int8Load(m.b);
    if (!p || !q) return undefined;
    const [A, W] = !usesVar(flatIndex(p.buf, p.idx), lo.v) ? [p, q] : [q, p];
    const fa = flatIndex(A.buf, A.idx);
    const fw = flatIndex(W.buf, W.idx);
    if (usesVar(fa, lo.v) || this.stride(fa, lk.v) !== 1 || this.stride(fw, lk.v) !== 1 || this.stride(fw, lo.v) !== 2) return undefined;
    if (usesVar(flat, lk.v) || this.stride(flat, lo.v) !== 1) return undefined;
    const at = (buf: Buffer, e: Expr): Addr => {
      const lanes = new Map(bind);
      lanes.set(lo.v, int(0));
      lanes.set(lk.v, int(0));
      const lin = toLinear(simplify(substitute(e, lanes)));
      const bytes = this.bytes(buf);
      // A negative constant stays in the base (an offset immediate is unsigned).
      let offset = this.offset(buf);
      if (offset + lin.c * bytes >= 0) {
        offset += lin.c * bytes;
        lin.c = 0;
      }
      return { base: fromLinear(lin), bytes, offset };
    };
    return { acc: at(st.buf, flat), a: at(A.buf, fa), w: at(W.buf, fw), aWide: this.wide.has(A.buf), wWide: this.wide.has(W.buf) };
  }

  /**
   * The innermost reduction `B[i] = B[i] + int32(X[..k]) * int32(Y[..k])` with int8 X, Y contiguous
   * in k and i free of k: eight products per i32x4.dot_i16x8_s into a vector accumulator, summed
   * once at the end, then a scalar tail (int32 addition wraps, so the order does not matter).
   */
  private dotLoop(s: For, ind: string): boolean {
    const st = s.body.k === 'seq' && s.body.body.length === 1 ? s.body.body[0] : s.body;
    if (st.k !== 'store' || st.buf.dtype !== 'int32' || s.ext < DOT_LANES) return false;
    const flat = flatIndex(st.buf, st.idx);
    if (usesVar(flat, s.v)) return false;
    const v = st.value;
    if (v.k !== 'bin' || v.op !== 'add' || v.dtype !== 'int32') return false;
    const [acc, prod] = isLoadOf(v.a, st.buf, flat) ? [v.a, v.b] : isLoadOf(v.b, st.buf, flat) ? [v.b, v.a] : [undefined, undefined];
    if (!acc || !prod || prod.k !== 'bin' || prod.op !== 'mul' || prod.dtype !== 'int32') return false;
    const operand = (x: Expr): Expr | undefined => {
      const l = x.k === 'cast' && x.dtype === 'int32' ? x.a : undefined;
      return l && l.k === 'load' && this.stored(l.buf) === 'int8' && l.buf !== st.buf && this.stride(flatIndex(l.buf, l.idx), s.v) === 1 ? l : undefined;
    };
    const x = operand(prod.a);
    const y = operand(prod.b);
    if (!x || !y || x.k !== 'load' || y.k !== 'load') return false;
    const vacc = this.tmp('v128');
    this.pre = [];
    const at = (l: typeof x) => `offset=${this.offset(l.buf)} ${this.hoistedAddress(l.buf, l.idx, s.v, 1)}`;
    this.lines.push(`${ind}(local.set ${vacc} (v128.const i32x4 0 0 0 0))`);
    const tail = this.vectorLoop(s, ind, DOT_LANES, [
      `(local.set ${vacc} (i32x4.add (local.get ${vacc}) (i32x4.dot_i16x8_s (v128.load8x8_s ${at(x)}) (v128.load8x8_s ${at(y)}))))`,
    ]);
    const lane = (i: number) => `(i32x4.extract_lane ${i} (local.get ${vacc}))`;
    const sum = `(i32.add (i32.add ${lane(0)} ${lane(1)}) (i32.add ${lane(2)} ${lane(3)}))`;
    this.lines.push(`${ind}(i32.store offset=${this.offset(st.buf)} ${this.address(st.buf, st.idx)} (i32.add ${this.expr(acc)} ${sum}))`);
    this.serialLoop(s, ind, tail);
    this.simd.dot++;
    return true;
  }
}

/** A byte address: base (elements, scaled by `bytes`) plus a constant byte offset. */
interface Addr {
  base: Expr;
  bytes: number;
  offset: number;
}
/** One WASM_DOT_I16X8 of a register block: the accumulator vector, the input pair, the weight block. */
interface DotInstance {
  acc: Addr;
  a: Addr;
  w: Addr;
  /** The input pair / weight block are stored widened to int16. */
  aWide: boolean;
  wWide: boolean;
}

function isLoadOf(e: Expr, buf: Buffer, flat: Expr): boolean {
  return e.k === 'load' && e.buf === buf && exprKey(flatIndex(buf, e.idx)) === exprKey(flat);
}

type StoredType = 'int8' | 'uint8' | 'int16' | 'int32';

function checkType(dt: DType): StoredType {
  wasmElemBytes(dt);
  return dt as StoredType;
}

const LOAD: Record<StoredType, string> = { int8: 'i32.load8_s', uint8: 'i32.load8_u', int16: 'i32.load16_s', int32: 'i32.load' };
const STORE: Record<StoredType, string> = { int8: 'i32.store8', uint8: 'i32.store8', int16: 'i32.store16', int32: 'i32.store' };

/** Wrap an i32 result to a narrower type, as the C printer's casts do. */
function wrap(dt: DType, text: string): string {
  switch (dt) {
    case 'int8':
      return `(i32.extend8_s ${text})`;
    case 'int16':
      return `(i32.extend16_s ${text})`;
    case 'uint8':
      return `(i32.and ${text} (i32.const 255))`;
    case 'int32':
    case 'index':
    case 'bool':
      return text;
    default:
      throw new CompileError(`the wasm target cannot compute in ${dt} (it handles int8, uint8, int16 and int32); use a configuration with 8, 16 or 32-bit widths`);
  }
}

function vwrap(dt: DType, text: string): string {
  switch (dt) {
    case 'int8':
      return `(i32x4.shr_s (i32x4.shl ${text} (i32.const 24)) (i32.const 24))`;
    case 'int16':
      return `(i32x4.shr_s (i32x4.shl ${text} (i32.const 16)) (i32.const 16))`;
    case 'uint8':
      return `(v128.and ${text} (v128.const i32x4 255 255 255 255))`;
    default:
      return wrap(dt, text);
  }
}

const HELPERS = `  (func $fdiv (param $a i32) (param $b i32) (result i32)
    (local $q i32)
    (local.set $q (i32.div_s (local.get $a) (local.get $b)))
    (if (result i32) (i32.and (i32.ne (i32.rem_s (local.get $a) (local.get $b)) (i32.const 0)) (i32.ne (i32.lt_s (local.get $a) (i32.const 0)) (i32.lt_s (local.get $b) (i32.const 0))))
      (then (i32.sub (local.get $q) (i32.const 1))) (else (local.get $q))))
  (func $fmod (param $a i32) (param $b i32) (result i32)
    (local $r i32)
    (local.set $r (i32.rem_s (local.get $a) (local.get $b)))
    (if (result i32) (i32.and (i32.ne (local.get $r) (i32.const 0)) (i32.ne (i32.lt_s (local.get $r) (i32.const 0)) (i32.lt_s (local.get $b) (i32.const 0))))
      (then (i32.add (local.get $r) (local.get $b))) (else (local.get $r))))
  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_s (local.get $a) (local.get $b))))
  (func $max (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.gt_s (local.get $a) (local.get $b))))
`;

/**
 * The int8 operands of WASM_DOT_I16X8 nests that are stored widened to int16: inputs (the host
 * widens them as it copies them in: bound weights once) and scratch buffers (the pack stage stores
 * int16), not outputs (the host reads those back as they are).
 */
function widenedOperands(func: LoweredFunc): Set<Buffer> {
  const wide = new Set<Buffer>();
  const outputs = new Set(func.outputs);
  visitStmt(func.body, (s) => {
    if (s.k !== 'attr' || s.key !== 'tensorize' || s.value !== WASM_DOT_I16X8) return;
    visitStmt(s.body, (t) => {
      if (t.k !== 'store') return;
      visitExpr(t.value, (e) => {
        if (e.k === 'load' && e.buf.dtype === 'int8' && !outputs.has(e.buf)) wide.add(e.buf);
      });
    });
  });
  return wide;
}

/** Print a lowered function as a WebAssembly module (one thread: parallel loops run serially). */
export function emitWat(func: LoweredFunc): WasmSource {
  const name = `vtw_${func.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const params = [...func.inputs, ...func.outputs];
  const wide = widenedOperands(func);
  const p = new WatPrinter(wide);
  const offsets = params.map((b) => p.place(b));
  for (const b of func.scratch) p.place(b);
  p.stmt(func.body, '    ');
  const pages = Math.max(1, Math.ceil(p.top / 65536));
  const text = `(module
  (memory (export "mem") ${pages})
${HELPERS}  (func $${name} (export "run")
    ${p.locals.join(' ')}
${p.lines.join('\n')}
  )
)
`;
  return { name, text, params, offsets, widened: params.map((b) => wide.has(b)), pages, simdLoops: p.simd };
}
