/**
 * The VTA pass pipeline, from a lowered function to a program container:
 *
 *   tensorize -> ALU lowering (in-place merge first) -> DMA inference -> micro-op kernels
 *   -> virtual threads -> dependency tokens -> SRAM allocation and field checks -> emission
 *
 * Each pass is its own file and keeps the program's meaning (the reference interpreter runs the IR
 * between passes in the tests).
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Program } from '../../src/program/container.ts';
import type { Buffer } from '../ir/buffer.ts';
import type { Stmt } from '../ir/stmt.ts';
import type { LoweredFunc } from '../te/lower.ts';
import { lowerAlu } from './alu.ts';
import { allocateSram, checkFields, type SramLayout } from './check.ts';
import { injectDma } from './dma.ts';
import { ClearConflict, Emitter, type BufferRole, type EmitStats } from './emit.ts';
import { vtaTarget } from './env.ts';
import { foldUops } from './fold_uop.ts';
import { insertDeps } from './deps.ts';
import { tensorize } from './tensorize.ts';
import { injectVirtualThreads } from './vthread.ts';

export const PASSES = ['lowered', 'tensorize', 'alu', 'dma', 'fold_uop', 'vthread', 'deps'] as const;
export type PassName = (typeof PASSES)[number];

export interface VtaModule {
  func: LoweredFunc;
  d: Derived;
  /** The IR after each pass. */
  ir: Record<PassName, Stmt>;
  sram: SramLayout;
}

export function buildVta(func: LoweredFunc, d: Derived): VtaModule {
  const t = vtaTarget(d);
  const ir = {} as Record<PassName, Stmt>;
  let s = (ir.lowered = func.body);
  s = ir.tensorize = tensorize(s, t);
  s = ir.alu = lowerAlu(s, t);
  s = ir.dma = injectDma(s, t);
  s = ir.fold_uop = foldUops(s, t);
  s = ir.vthread = injectVirtualThreads(s);
  s = ir.deps = insertDeps(s);
  const sram = allocateSram(s, t);
  checkFields(s, t);
  return { func, d, ir, sram };
}

export interface TensorData {
  buf: Buffer;
  role: BufferRole;
  values?: ArrayLike<number>;
}

export interface EmitResult {
  program: Program;
  emitter: Emitter;
  stats: EmitStats;
}

/** Emit a built module with the given DRAM tensors (every global buffer the IR uses must be listed). */
export function emitModule(m: VtaModule, tensors: TensorData[], opts: { strict?: boolean; preload?: boolean } = {}): EmitResult {
  // ALU_REQUANT: fused requantizations clear the accumulator unless some element is read after it
  // (then the whole program is emitted again without clears; emit.ts RequantFuser).
  let clear = true;
  const emit = (preload?: Emitter['kernelSpecs']) => {
    for (;;) {
      const e = new Emitter(vtaTarget(m.d), m.sram, { strict: opts.strict, preload, clear });
      for (const td of tensors) e.allocTensor(td.buf, td.role, td.values);
      try {
        return { e, program: e.run(m.ir.deps) };
      } catch (err) {
        if (!(err instanceof ClearConflict) || !clear) throw err;
        clear = false;
      }
    }
  };
  // The first emission finds the micro-op kernels; the second loads them all with one LOAD UOP at
  // the start (while the first tiles' data is loading) instead of one at each kernel's first use.
  let { e, program } = emit();
  const total = e.kernelSpecs.reduce((n, k) => n + k.uops.length / 3, 0);
  if (opts.preload !== false && e.kernelSpecs.length > 1 && total <= m.d.depth.uop) ({ e, program } = emit(e.kernelSpecs));
  return { program, emitter: e, stats: e.stats };
}
