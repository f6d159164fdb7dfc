/**
 * SRAM allocation and the configuration checks (field widths, capacities). Every buffer in an SRAM
 * scope gets a static range of elements (virtual-thread copies are separate buffers); the sum per
 * scope must fit the configuration's depth. Micro-op kernels must fit the micro-op buffer and their
 * hardware loops the instruction fields (fold_uop only creates fitting loops; this re-checks).
 */
import { CompileError } from '../errors.ts';
import { SCOPE_NAMES, type Buffer, type Scope } from '../ir/buffer.ts';
import { visitStmt, type Stmt } from '../ir/stmt.ts';
import { lanesOf, type VtaTarget } from './env.ts';

export interface SramLayout {
  base: Map<Buffer, number>;
  used: Record<'inp' | 'wgt' | 'acc', number>;
}

const KEY: Record<'inp' | 'wgt' | 'acc', string> = { inp: 'LOG_INP_BUFF_SIZE', wgt: 'LOG_WGT_BUFF_SIZE', acc: 'LOG_ACC_BUFF_SIZE' };

/** Elements a buffer occupies in its SRAM. */
export function sramElems(b: Buffer, t: VtaTarget): number {
  const lanes = lanesOf(t, b.scope as Scope);
  if (b.size % lanes) throw new CompileError(`${b.name} (${b.size} values) is not a whole number of ${lanes}-lane ${SCOPE_NAMES[b.scope]} elements`);
  return b.size / lanes;
}

export function allocateSram(s: Stmt, t: VtaTarget): SramLayout {
  const base = new Map<Buffer, number>();
  const used = { inp: 0, wgt: 0, acc: 0 };
  visitStmt(s, (x) => {
    if (x.k !== 'alloc' || x.buf.scope === 'global' || base.has(x.buf)) return;
    const sc = x.buf.scope as 'inp' | 'wgt' | 'acc';
    base.set(x.buf, used[sc]);
    used[sc] += sramElems(x.buf, t);
  });
  for (const sc of ['inp', 'wgt', 'acc'] as const) {
    if (used[sc] > t.depth[sc]) {
      throw new CompileError(`the schedule needs ${used[sc]} ${sc.toUpperCase()} buffer elements but ${t.d.variant} has ${t.depth[sc]} (${KEY[sc]} = ${t.d.keys[KEY[sc] as 'LOG_INP_BUFF_SIZE']}); use smaller tiles`);
    }
  }
  return { base, used };
}

/** Check hardware-loop fields and kernel sizes that are known before emission. */
export function checkFields(s: Stmt, t: VtaTarget): void {
  visitStmt(s, (x) => {
    if (x.k !== 'uop') return;
    if (x.loops.length > 2) throw new CompileError('a micro-op kernel has at most two hardware loops');
    const fm = x.mode === 'GEMM' ? t.gemmFactorMax : { ...t.aluFactorMax, wgt: 0 };
    for (const l of x.loops) {
      if (l.ext > t.maxIter) throw new CompileError(`hardware loop of ${l.ext} iterations exceeds the ${t.maxIter} the instruction encodes`);
      if (l.dst > fm.dst || l.src > fm.src || l.wgt > fm.wgt) throw new CompileError(`hardware loop factors ${l.dst}/${l.src}/${l.wgt} exceed the instruction fields`);
    }
  });
}
