/**
 * Virtual threads (vta-reference Part B §5.6). A `vthread` loop of extent T is removed: every SRAM
 * buffer allocated inside gets T copies (one per thread), and the threads' work is interleaved task
 * by task — at each level, loops that do not depend on the thread stay shared and are entered once,
 * while a task that depends on the thread is issued once per thread in a row. With the dependency
 * tokens inserted afterwards, thread 1's loads run while thread 0 computes and thread 0's results
 * are stored while thread 1 computes: load, compute and store overlap.
 *
 * Before injection, adjacent tasks of one queue are merged (TVM's LiftAttrScope on coproc_scope),
 * so that e.g. a thread's input and weight loads stay together.
 */
import { CompileError } from '../errors.ts';
import type { Buffer } from '../ir/buffer.ts';
import { int, simplify, usesVar, type Var } from '../ir/expr.ts';
import { buffersOf, mapStmt, seq, substituteStmt, visitStmt, type For, type Stmt, type Task } from '../ir/stmt.ts';

/** Simplify the expressions held by one statement. */
function simplifyStmt(s: Stmt): Stmt | undefined {
  switch (s.k) {
    case 'gemm':
      return { ...s, accElem: simplify(s.accElem), ...(s.inpElem ? { inpElem: simplify(s.inpElem) } : {}), ...(s.wgtElem ? { wgtElem: simplify(s.wgtElem) } : {}) };
    case 'alu':
      return { ...s, dstElem: simplify(s.dstElem), ...(s.srcElem ? { srcElem: simplify(s.srcElem) } : {}) };
    case 'dma':
      return { ...s, sramElem: simplify(s.sramElem), dramElem: simplify(s.dramElem) };
    case 'if':
      return { ...s, c: simplify(s.c) };
    default:
      return undefined;
  }
}

/** Merge adjacent tasks of the same queue inside every statement list. */
export function mergeAdjacentTasks(s: Stmt): Stmt {
  return mapStmt(s, {
    stmt: (x) => {
      if (x.k !== 'seq') return undefined;
      const out: Stmt[] = [];
      for (const c of x.body) {
        const prev = out[out.length - 1];
        if (prev && prev.k === 'task' && c.k === 'task' && prev.queue === c.queue) {
          out[out.length - 1] = { k: 'task', queue: c.queue, body: seq(prev.body, c.body) } as Task;
        } else out.push(c);
      }
      return { k: 'seq', body: out };
    },
  });
}

function inject(vt: For): Stmt {
  const T = vt.ext;
  const allocated = new Set<Buffer>();
  visitStmt(vt.body, (x) => {
    if (x.k === 'alloc') allocated.add(x.buf);
  });
  const copies = new Map<Buffer, Buffer[]>();
  for (const b of allocated) copies.set(b, Array.from({ length: T }, (_, t) => b.clone(`${b.name}.t${t}`)));
  const touches = (x: Stmt): boolean => {
    visitStmt(x, (y) => {
      if (y.k === 'for' && y.kind === 'vthread') throw new CompileError('internal: nested vthread loops must be injected inner first');
    });
    const bufs = buffersOf(x);
    for (const b of bufs) if (copies.has(b)) return true;
    let uses = false;
    mapStmt(x, {
      expr: (e) => {
        if (e.k === 'var' && e.v === vt.v) uses = true;
        return undefined;
      },
    });
    return uses;
  };
  const threadCopy = (x: Stmt, t: number): Stmt => {
    const sub = substituteStmt(x, new Map<Var, ReturnType<typeof int>>([[vt.v, int(t)]]));
    return mapStmt(sub, { buffer: (b) => copies.get(b)?.[t], stmt: simplifyStmt });
  };
  const f = (x: Stmt): Stmt => {
    if (!touches(x)) return x;
    switch (x.k) {
      case 'seq':
        return { k: 'seq', body: x.body.map(f) };
      case 'for':
        if (x.kind === 'serial') return { ...x, body: f(x.body) };
        break;
      case 'alloc': {
        const cs = copies.get(x.buf);
        const body = f(x.body);
        if (!cs) return { ...x, body };
        return cs.reduceRight<Stmt>((b, c) => ({ k: 'alloc', buf: c, body: b }), body);
      }
      case 'if':
        if (!usesVar(x.c, vt.v)) return { ...x, then: f(x.then), ...(x.else ? { else: f(x.else) } : {}) };
        break;
      case 'attr':
        return { ...x, body: f(x.body) };
      default:
        break;
    }
    return seq(...Array.from({ length: T }, (_, t) => threadCopy(x, t)));
  };
  return f(vt.body);
}

/** Inject every virtual-thread loop (inner ones first). */
export function injectVirtualThreads(s: Stmt): Stmt {
  const merged = mergeAdjacentTasks(s);
  return mapStmt(merged, { stmt: (x) => (x.k === 'for' && x.kind === 'vthread' ? inject(x) : undefined) });
}
