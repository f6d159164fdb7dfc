/**
 * Reference interpreter of the loop-level IR: runs a statement tree on host arrays. It defines what
 * every pass must preserve, so tests run a program before and after a pass and compare. VTA's
 * intrinsic statements (GEMM / ALU micro-ops, 2-D DMA with zero padding, micro-op kernels) are
 * executed with the semantics of vta-reference Part B §2.5–2.7 when the element shape is given.
 */
import { aluOp, aluImm } from '../../src/runtime/reference.ts';
import { CompileError } from '../errors.ts';
import type { Buffer } from './buffer.ts';
import { dtypeBits, evaluate, wrapTo, type Expr, type Var } from './expr.ts';
import type { DmaMem, Stmt } from './stmt.ts';

/** GEMM geometry needed to execute VTA intrinsics (BATCH, BLOCK_IN, BLOCK_OUT). */
export interface ElemShape {
  batch: number;
  blockIn: number;
  blockOut: number;
}

export class Interpreter {
  readonly mem = new Map<Buffer, Int32Array>();
  /** Counters of intrinsic work, for tests. */
  readonly stats = { gemm: 0, alu: 0, dma: 0 };
  constructor(readonly shape?: ElemShape) {}

  /** Give a buffer initial contents (values are wrapped to its dtype). */
  bind(buf: Buffer, data?: ArrayLike<number>): Int32Array {
    const a = new Int32Array(buf.size);
    if (data) {
      if (data.length !== buf.size) throw new CompileError(`${buf.name} holds ${buf.size} values, got ${data.length}`);
      for (let i = 0; i < a.length; i++) a[i] = wrapTo(data[i], buf.dtype);
    }
    this.mem.set(buf, a);
    return a;
  }

  get(buf: Buffer): Int32Array {
    let a = this.mem.get(buf);
    if (!a) a = this.bind(buf);
    return a;
  }

  run(s: Stmt, env = new Map<Var, number>()): void {
    this.exec(s, env);
  }

  private ev(e: Expr, env: Map<Var, number>): number {
    return evaluate(e, env, (buf, idx) => this.get(buf)[this.flat(buf, idx)]);
  }

  private flat(buf: Buffer, idx: number[]): number {
    let f = 0;
    for (let d = 0; d < idx.length; d++) {
      if (idx[d] < 0 || idx[d] >= buf.shape[d]) throw new CompileError(`${buf.name}: index ${idx[d]} out of range 0..${buf.shape[d] - 1} in dimension ${d}`);
      f += idx[d] * buf.strides[d];
    }
    return f;
  }

  private lanes(scopeOrMem: string): number {
    const g = this.shape;
    if (!g) throw new CompileError('VTA intrinsics need the GEMM shape (Interpreter(shape))');
    switch (scopeOrMem) {
      case 'inp':
      case 'INP':
        return g.batch * g.blockIn;
      case 'wgt':
      case 'WGT':
        return g.blockOut * g.blockIn;
      default:
        return g.batch * g.blockOut;
    }
  }

  private elem(buf: Buffer, e: number, lanes: number): number {
    if (e < 0 || (e + 1) * lanes > buf.size) throw new CompileError(`${buf.name}: element ${e} out of range (${buf.size / lanes} elements)`);
    return e * lanes;
  }

  private exec(s: Stmt, env: Map<Var, number>): void {
    switch (s.k) {
      case 'for':
        for (let i = 0; i < s.ext; i++) {
          env.set(s.v, i);
          this.exec(s.body, env);
        }
        env.delete(s.v);
        return;
      case 'seq':
        for (const x of s.body) this.exec(x, env);
        return;
      case 'alloc':
        this.get(s.buf);
        this.exec(s.body, env);
        return;
      case 'store': {
        const idx = s.idx.map((i) => this.ev(i, env));
        const v = this.ev(s.value, env);
        this.get(s.buf)[this.flat(s.buf, idx)] = wrapTo(v, s.buf.dtype);
        return;
      }
      case 'if':
        if (this.ev(s.c, env)) this.exec(s.then, env);
        else if (s.else) this.exec(s.else, env);
        return;
      case 'attr':
      case 'task':
        this.exec(s.body, env);
        return;
      case 'dep':
        return;
      case 'uop': {
        const [outer, inner] = s.loops;
        const no = outer?.ext ?? 1;
        const ni = inner?.ext ?? 1;
        for (let i = 0; i < no; i++) {
          if (outer) env.set(outer.v, i);
          for (let j = 0; j < ni; j++) {
            if (inner) env.set(inner.v, j);
            this.exec(s.body, env);
          }
        }
        for (const l of s.loops) env.delete(l.v);
        return;
      }
      case 'gemm': {
        this.stats.gemm++;
        const g = this.shape!;
        const la = this.lanes('acc');
        const acc = this.get(s.acc);
        const a0 = this.elem(s.acc, this.ev(s.accElem, env), la);
        if (s.reset) {
          acc.fill(0, a0, a0 + la);
          return;
        }
        const inp = this.get(s.inp!);
        const wgt = this.get(s.wgt!);
        const i0 = this.elem(s.inp!, this.ev(s.inpElem!, env), this.lanes('inp'));
        const w0 = this.elem(s.wgt!, this.ev(s.wgtElem!, env), this.lanes('wgt'));
        for (let b = 0; b < g.batch; b++) {
          for (let o = 0; o < g.blockOut; o++) {
            let sum = acc[a0 + b * g.blockOut + o];
            for (let k = 0; k < g.blockIn; k++) sum += inp[i0 + b * g.blockIn + k] * wgt[w0 + o * g.blockIn + k];
            acc[a0 + b * g.blockOut + o] = wrapTo(sum, s.acc.dtype);
          }
        }
        return;
      }
      case 'alu': {
        this.stats.alu++;
        const la = this.lanes('acc');
        const dst = this.get(s.dst);
        const d0 = this.elem(s.dst, this.ev(s.dstElem, env), la);
        const bits = dtypeBits(s.dst.dtype);
        let src: Int32Array | undefined;
        let s0 = 0;
        if (s.src) {
          src = this.get(s.src);
          s0 = this.elem(s.src, this.ev(s.srcElem!, env), la);
        }
        const imm = aluImm(s.imm, bits);
        for (let l = 0; l < la; l++) {
          dst[d0 + l] = wrapTo(aluOp(s.op, dst[d0 + l], src ? src[s0 + l] : imm, bits), s.dst.dtype);
        }
        return;
      }
      case 'dma': {
        this.stats.dma++;
        const f = (e: Expr) => this.ev(e, env);
        const x = f(s.xSize);
        const y = f(s.ySize);
        const stride = f(s.xStride);
        const [xp0, yp0, xp1, yp1] = [f(s.xPad0), f(s.yPad0), f(s.xPad1), f(s.yPad1)];
        const lanes = this.lanes(s.mem);
        const sram = this.get(s.sram);
        const dram = this.get(s.dram);
        const sBase = f(s.sramElem);
        const dBase = f(s.dramElem);
        if (s.dir === 'load') {
          const W = xp0 + x + xp1;
          const H = yp0 + y + yp1;
          if (x === 0) return;
          this.elem(s.sram, sBase + W * H - 1, lanes);
          for (let r = 0; r < H; r++) {
            for (let c = 0; c < W; c++) {
              const se = (sBase + r * W + c) * lanes;
              const inside = r >= yp0 && r < yp0 + y && c >= xp0 && c < xp0 + x;
              const de = inside ? this.elem(s.dram, dBase + (r - yp0) * stride + (c - xp0), lanes) : -1;
              for (let l = 0; l < lanes; l++) sram[se + l] = inside ? wrapTo(dram[de + l], s.sram.dtype) : 0;
            }
          }
        } else {
          for (let r = 0; r < y; r++) {
            for (let c = 0; c < x; c++) {
              const se = this.elem(s.sram, sBase + r * x + c, lanes);
              const de = this.elem(s.dram, dBase + r * stride + c, lanes);
              for (let l = 0; l < lanes; l++) dram[de + l] = wrapTo(sram[se + l], s.dram.dtype);
            }
          }
        }
        return;
      }
    }
  }
}

/** Memory type of a DMA from an SRAM scope (used by passes and the emitter). */
export function memOfScope(scope: string): DmaMem {
  switch (scope) {
    case 'inp':
      return 'INP';
    case 'wgt':
      return 'WGT';
    case 'acc':
      return 'ACC';
    default:
      throw new CompileError(`no DMA into scope ${scope}`);
  }
}
