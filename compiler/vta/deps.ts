/**
 * Dependency-token insertion (vta-reference Part B §5.5). Load, compute and store run as separate
 * in-order modules; a task that uses an SRAM buffer another module writes (or writes one another
 * module still reads) must wait for a token. For every task c on queue C and each adjacent queue P
 * (load <-> compute <-> store) the pass finds the nearest earlier task p on P that conflicts with
 * c — searching backwards in program order, and around loops (the previous iteration: a
 * loop-carried dependency). Then:
 *
 * - p pushes a token right after it (only in the last iteration of loops between p and the level
 *   where the dependency was found), c pops one right before it (only in the first iteration of the
 *   loops between c and that level);
 * - a loop-carried dependency at loop L also gets a compensating push before L (the first
 *   iteration has no previous one) and a draining pop after L (the last iteration's token). When
 *   nothing else in an enclosing loop uses that direction, the pair moves out of the enclosing loop,
 *   so the token of one tile's last iteration serves the next tile's first (double buffering
 *   continues across tiles instead of draining at every tile);
 * - a dependency already implied by an earlier consumer's token (same producer, same level) gets
 *   none.
 *
 * Conflicts are per buffer and per part: an accumulator buffer has its ACC part (GEMM, ALU, LOAD
 * ACC, reset) and its OUT part (written by GEMM / ALU, read by STORE), as in the hardware (Part A.3).
 */
import { CompileError } from '../errors.ts';
import { and, eq, int, ref, type Expr } from '../ir/expr.ts';
import type { Buffer } from '../ir/buffer.ts';
import type { Stmt, Queue, Task } from '../ir/stmt.ts';
import { visitStmt } from '../ir/stmt.ts';

export interface TaskAccess {
  reads: Set<string>;
  writes: Set<string>;
}

/** Resources a task reads and writes (buffer id + part). */
export function taskAccess(task: Task): TaskAccess {
  const reads = new Set<string>();
  const writes = new Set<string>();
  const key = (b: { id: number }, part = '') => `${b.id}${part}`;
  visitStmt(task.body, (x) => {
    switch (x.k) {
      case 'dma':
        if (x.dir === 'load') writes.add(key(x.sram, x.mem === 'ACC' ? '.acc' : ''));
        else reads.add(key(x.sram, '.out'));
        break;
      case 'gemm':
        writes.add(key(x.acc, '.acc'));
        if (!x.reset) {
          reads.add(key(x.acc, '.acc'));
          writes.add(key(x.acc, '.out'));
          reads.add(key(x.inp!));
          reads.add(key(x.wgt!));
        }
        break;
      case 'alu':
        reads.add(key(x.dst, '.acc'));
        writes.add(key(x.dst, '.acc'));
        writes.add(key(x.dst, '.out'));
        if (x.src) reads.add(key(x.src, '.acc'));
        break;
    }
  });
  return { reads, writes };
}

export function conflicts(p: TaskAccess, c: TaskAccess): boolean {
  for (const w of p.writes) if (c.reads.has(w) || c.writes.has(w)) return true;
  for (const r of p.reads) if (c.writes.has(r)) return true;
  return false;
}

/** A tree node with parent links (host-level statements only). */
interface Node {
  s: Stmt;
  parent?: Node;
  kids: Node[];
  idx: number;
  /** Program-order index (pre-order). */
  order: number;
  access?: TaskAccess;
}

function buildTree(s: Stmt): { root: Node; tasks: Node[] } {
  const tasks: Node[] = [];
  let order = 0;
  const make = (x: Stmt, parent: Node | undefined, idx: number): Node => {
    const n: Node = { s: x, parent, kids: [], idx, order: order++ };
    if (x.k === 'task') {
      n.access = taskAccess(x);
      tasks.push(n);
      return n;
    }
    const kids: Stmt[] = x.k === 'seq' ? x.body : x.k === 'for' ? (x.body.k === 'seq' ? x.body.body : [x.body]) : x.k === 'alloc' || x.k === 'attr' ? [x.body] : [];
    if (x.k === 'if' || x.k === 'uop' || x.k === 'gemm' || x.k === 'alu' || x.k === 'dma' || x.k === 'store') {
      throw new CompileError(`internal: ${x.k} outside a task at the host level`);
    }
    n.kids = kids.map((k, i) => make(k, n, i));
    return n;
  };
  return { root: make(s, undefined, 0), tasks };
}

/** Tasks of a subtree in program order. */
function tasksIn(n: Node, out: Node[] = []): Node[] {
  if (n.s.k === 'task') out.push(n);
  else for (const k of n.kids) tasksIn(k, out);
  return out;
}

interface Edge {
  from: Queue;
  to: Queue;
  kind: 'intra' | 'carried';
  level: Node;
  p: Node;
  c: Node;
}

const queueOf = (n: Node) => (n.s as Task).queue;

function lastConflicting(sub: Node, P: Queue, c: Node): Node | undefined {
  const ts = tasksIn(sub);
  for (let i = ts.length - 1; i >= 0; i--) {
    const t = ts[i];
    if (queueOf(t) === P && conflicts(t.access!, c.access!)) return t;
  }
  return undefined;
}

function findEdge(c: Node, P: Queue): Edge | undefined {
  const C = queueOf(c);
  let cur = c;
  while (cur.parent) {
    const L = cur.parent;
    const i = cur.idx;
    for (let j = i - 1; j >= 0; j--) {
      const p = lastConflicting(L.kids[j], P, c);
      if (p) return { from: P, to: C, kind: 'intra', level: L, p, c };
    }
    if (L.s.k === 'for') {
      for (let j = L.kids.length - 1; j >= i; j--) {
        const p = lastConflicting(L.kids[j], P, c);
        if (p) return { from: P, to: C, kind: 'carried', level: L, p, c };
      }
    }
    cur = L;
  }
  return undefined;
}

/** Loops strictly between a node and an ancestor level. */
function loopsBetween(n: Node, level: Node): Extract<Stmt, { k: 'for' }>[] {
  const out: Extract<Stmt, { k: 'for' }>[] = [];
  for (let x = n.parent; x && x !== level; x = x.parent) if (x.s.k === 'for') out.push(x.s);
  return out;
}

function isInside(n: Node, anc: Node): boolean {
  for (let x: Node | undefined = n; x; x = x.parent) if (x === anc) return true;
  return false;
}

/** Nearest enclosing loop of a node (skipping seq / alloc / attr). */
function enclosingLoop(n: Node): Node | undefined {
  for (let x = n.parent; x; x = x.parent) if (x.s.k === 'for') return x;
  return undefined;
}

interface Insertions {
  before: Map<Node, Stmt[]>;
  after: Map<Node, Stmt[]>;
}

function addAt(m: Map<Node, Stmt[]>, n: Node, s: Stmt): void {
  const l = m.get(n);
  if (l) l.push(s);
  else m.set(n, [s]);
}

function guarded(cond: Expr[], s: Stmt): Stmt {
  return cond.length ? { k: 'if', c: and(...cond), then: s } : s;
}

/** The SRAM buffers a store task reads. */
function storeReads(c: Node): Buffer[] {
  const out = new Set<Buffer>();
  visitStmt((c.s as Task).body, (x) => {
    if (x.k === 'dma' && x.dir === 'store') out.add(x.sram);
  });
  return [...out];
}

/** Insert dependency pushes and pops. */
export function insertDeps(s: Stmt): Stmt {
  const { root, tasks } = buildTree({ k: 'seq', body: [s] });
  const ins: Insertions = { before: new Map(), after: new Map() };
  const dirs: Array<[Queue, Queue]> = [[1, 2], [2, 1], [2, 3], [3, 2]];
  // DRAM hazards between load and store cannot be expressed with tokens.
  for (const a of tasks) {
    if (queueOf(a) !== 1) continue;
    for (const b of tasks) if (queueOf(b) === 3 && (conflicts(a.access!, b.access!) || conflicts(b.access!, a.access!))) throw new CompileError('a load and a store share a buffer; VTA has no token between the load and store modules');
  }
  for (const [P, C] of dirs) {
    const edges: Edge[] = [];
    for (const c of tasks) {
      if (queueOf(c) !== C) continue;
      const e = findEdge(c, P);
      if (e) edges.push(e);
    }
    // Redundancy: same producer, level and kind -> only the first consumer needs a token.
    const seen = new Set<string>();
    const kept = edges
      .sort((a, b) => a.c.order - b.c.order)
      .filter((e) => {
        const key = `${e.p.order}:${e.level.order}:${e.kind}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    const push: Stmt = { k: 'dep', op: 'push', from: P, to: C };
    const pop: Stmt = { k: 'dep', op: 'pop', from: P, to: C };
    const carriedAt = new Map<Node, number>();
    for (const e of kept) {
      const pl = loopsBetween(e.p, e.level).map((l) => eq(ref(l.v), int(l.ext - 1)));
      const cl = loopsBetween(e.c, e.level).map((l) => eq(ref(l.v), int(0)));
      addAt(ins.after, e.p, guarded(pl, P === 2 && C === 3 ? { ...push, reads: storeReads(e.c) } : push));
      addAt(ins.before, e.c, guarded(cl, pop));
      if (e.kind === 'carried') carriedAt.set(e.level, (carriedAt.get(e.level) ?? 0) + 1);
    }
    // Compensation / drain pairs, hoisted out of enclosing loops where nothing else interferes.
    for (const [L, n] of carriedAt) {
      let target = L;
      for (;;) {
        const F = enclosingLoop(target);
        if (!F) break;
        const outside = (x: Node) => isInside(x, F) && !isInside(x, target);
        const interferes =
          kept.some((e) => (isInside(e.p, F) || isInside(e.c, F)) && !(isInside(e.p, L) && isInside(e.c, L))) ||
          tasks.some((t) => {
            if (!outside(t)) return false;
            const q = queueOf(t);
            if (q !== P && q !== C) return false;
            return tasks.some((u) => isInside(u, target) && queueOf(u) === (q === P ? C : P) && (q === P ? conflicts(t.access!, u.access!) : conflicts(u.access!, t.access!)));
          });
        if (interferes) break;
        target = F;
      }
      for (let k = 0; k < n; k++) {
        addAt(ins.before, target, push);
        addAt(ins.after, target, pop);
      }
    }
  }
  return rebuild(root, ins);
}

function rebuild(n: Node, ins: Insertions): Stmt {
  const wrapList = (kids: Node[]): Stmt[] => {
    const out: Stmt[] = [];
    for (const k of kids) {
      out.push(...(ins.before.get(k) ?? []));
      out.push(rebuild(k, ins));
      out.push(...(ins.after.get(k) ?? []));
    }
    return out;
  };
  const s = n.s;
  let body: Stmt;
  switch (s.k) {
    case 'task':
      return s;
    case 'seq':
      return { k: 'seq', body: wrapList(n.kids) };
    case 'for': {
      const list = wrapList(n.kids);
      body = list.length === 1 ? list[0] : { k: 'seq', body: list };
      return { ...s, body };
    }
    case 'alloc':
    case 'attr': {
      const list = wrapList(n.kids);
      body = list.length === 1 ? list[0] : { k: 'seq', body: list };
      return { ...s, body } as Stmt;
    }
    default:
      return s;
  }
}
