/**
 * Tensorization onto VTA's GEMM intrinsic (vta-reference Part B §5.2). A loop nest annotated
 * `tensorize = vta.gemm` must be exactly one intrinsic call:
 *
 *   update: for b < BATCH, o < BLOCK_OUT, k < BLOCK_IN:  acc[..b, o] += inp[..b, k] * wgt[..o, k]
 *   init:   for b < BATCH, o < BLOCK_OUT:                 acc[..b, o] = 0
 *
 * in any loop order, with each buffer's innermost dimensions laid out as one SRAM element. The nest
 * becomes one GEMM micro-op whose operands are element offsets into the three buffers.
 */
import { CompileError } from '../errors.ts';
import { flatIndex, type Buffer } from '../ir/buffer.ts';
import { coefOf, fromLinear, int, provablyEqual, simplify, substitute, toLinear, type Expr, type Var } from '../ir/expr.ts';
import { mapStmt, type For, type Stmt, type Store } from '../ir/stmt.ts';
import { printStmt } from '../ir/printer.ts';
import { GEMM_INTRIN, type VtaTarget } from './env.ts';

/** Divide an index expression by a lane count exactly (every coefficient must be a multiple). */
export function exactDiv(e: Expr, lanes: number, what: string): Expr {
  const l = toLinear(simplify(e));
  if (l.c % lanes) throw new CompileError(`${what}: offset ${l.c} is not a whole number of ${lanes}-lane elements`);
  const out = { terms: new Map(), c: l.c / lanes } as ReturnType<typeof toLinear>;
  for (const [k, t] of l.terms) {
    if (t.coef % lanes) throw new CompileError(`${what}: index coefficient ${t.coef} is not a whole number of ${lanes}-lane elements`);
    out.terms.set(k, { coef: t.coef / lanes, e: t.e });
  }
  return fromLinear(out);
}

/** Element offset of an access whose lane loops are set to zero. */
function elemOffset(flat: Expr, laneVars: Var[], lanes: number, what: string): Expr {
  const zero = new Map<Var, Expr>(laneVars.map((v) => [v, int(0)]));
  return exactDiv(substitute(flat, zero), lanes, what);
}

function stripCast(e: Expr): Expr {
  return e.k === 'cast' ? e.a : e;
}

function matchGemm(attr: Stmt, t: VtaTarget): Stmt {
  const loops: For[] = [];
  let s: Stmt = attr;
  while (s.k === 'for' || s.k === 'attr') {
    if (s.k === 'for') loops.push(s);
    s = s.body;
  }
  const fail = (why: string): never => {
    throw new CompileError(`tensorize ${GEMM_INTRIN}: ${why}\n${printStmt(attr)}`);
  };
  if (s.k !== 'store') fail('the nest must end in one store');
  const st = s as Store;
  const acc = st.buf;
  if (acc.scope !== 'acc') fail(`the result must be in the accumulator scope, not ${acc.scope}`);
  if (acc.dtype !== t.accDtype) fail(`the accumulator must be ${t.accDtype}, not ${acc.dtype}`);
  const accFlat = flatIndex(acc, st.idx);
  const B = t.batch;
  const BI = t.blockIn;
  const BO = t.blockOut;
  const value = simplify(st.value);
  const vars = loops.map((l) => l.v);
  const ext = new Map(loops.map((l) => [l.v, l.ext]));
  const role = (v: Var, coefs: { acc: number; inp?: number; wgt?: number }, flats: { acc: Expr; inp?: Expr; wgt?: Expr }) =>
    coefOf(flats.acc, v) === coefs.acc && (flats.inp === undefined || coefOf(flats.inp, v) === coefs.inp) && (flats.wgt === undefined || coefOf(flats.wgt, v) === coefs.wgt);

  if (value.k === 'int') {
    if (value.value !== 0) fail('an init must store 0');
    if (loops.length !== 2) fail(`the reset nest needs 2 loops (batch, block_out), found ${loops.length}`);
    const vb = vars.find((v) => ext.get(v) === B && role(v, { acc: BO }, { acc: accFlat }));
    const vo = vars.find((v) => v !== vb && ext.get(v) === BO && role(v, { acc: 1 }, { acc: accFlat }));
    if (!vb || !vo) fail(`the reset nest must cover one ${B}x${BO} accumulator element`);
    return { k: 'gemm', reset: true, acc, accElem: elemOffset(accFlat, vars, B * BO, 'accumulator') };
  }
  if (value.k !== 'bin' || value.op !== 'add') fail('the update must be acc + inp * wgt');
  const v2 = value as Extract<Expr, { k: 'bin' }>;
  const isSelf = (e: Expr) => e.k === 'load' && e.buf === acc && e.idx.every((x, i) => provablyEqual(x, st.idx[i]));
  const prod = isSelf(v2.a) ? v2.b : isSelf(v2.b) ? v2.a : fail('the update must accumulate into the stored element');
  if (prod.k !== 'bin' || prod.op !== 'mul') fail('the update must add a product');
  const p = prod as Extract<Expr, { k: 'bin' }>;
  const x = stripCast(p.a);
  const y = stripCast(p.b);
  if (x.k !== 'load' || y.k !== 'load') fail('the product must multiply two buffer reads');
  const [li, lw] = (x as Extract<Expr, { k: 'load' }>).buf.scope === 'inp' ? [x, y] : [y, x];
  if (li.k !== 'load' || lw.k !== 'load' || li.buf.scope !== 'inp' || lw.buf.scope !== 'wgt') fail('the product must read the input and the weight scope');
  const inp = (li as Extract<Expr, { k: 'load' }>).buf as Buffer;
  const wgt = (lw as Extract<Expr, { k: 'load' }>).buf as Buffer;
  if (inp.dtype !== t.inpDtype || wgt.dtype !== t.wgtDtype) fail(`operands must be ${t.inpDtype} x ${t.wgtDtype}`);
  const inpFlat = flatIndex(inp, (li as Extract<Expr, { k: 'load' }>).idx);
  const wgtFlat = flatIndex(wgt, (lw as Extract<Expr, { k: 'load' }>).idx);
  if (loops.length !== 3) fail(`the update nest needs 3 loops (batch, block_out, block_in), found ${loops.length}`);
  const flats = { acc: accFlat, inp: inpFlat, wgt: wgtFlat };
  const vb = vars.find((v) => ext.get(v) === B && role(v, { acc: BO, inp: BI, wgt: 0 }, flats));
  const vo = vars.find((v) => v !== vb && ext.get(v) === BO && role(v, { acc: 1, inp: 0, wgt: BI }, flats));
  const vk = vars.find((v) => v !== vb && v !== vo && ext.get(v) === BI && role(v, { acc: 0, inp: 1, wgt: 1 }, flats));
  if (!vb || !vo || !vk) fail(`the loops must cover one ${B}x${BI} input, ${BO}x${BI} weight and ${B}x${BO} accumulator element`);
  return {
    k: 'gemm', reset: false,
    acc, accElem: elemOffset(accFlat, vars, B * BO, 'accumulator'),
    inp, inpElem: elemOffset(inpFlat, vars, B * BI, 'input'),
    wgt, wgtElem: elemOffset(wgtFlat, vars, BO * BI, 'weight'),
  };
}

/** Replace every `tensorize = vta.gemm` nest by a GEMM micro-op. */
export function tensorize(s: Stmt, t: VtaTarget): Stmt {
  return mapStmt(s, {
    stmt: (x) => {
      if (x.k !== 'attr' || x.key !== 'tensorize') return undefined;
      if (x.value !== GEMM_INTRIN) throw new CompileError(`unknown intrinsic ${x.value}; VTA has ${GEMM_INTRIN}`);
      return matchGemm(x.body, t);
    },
  });
}
