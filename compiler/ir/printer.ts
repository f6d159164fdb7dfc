/** Text form of the IR, in the style of TVM's TIR printer, for `--print-ir`, docs and test failures. */
import { SCOPE_NAMES } from './buffer.ts';
import type { Expr } from './expr.ts';
import type { Stmt } from './stmt.ts';

const BIN: Record<string, string> = { add: '+', sub: '-', mul: '*', div: '//', mod: '%', shr: '>>', shl: '<<' };
const CMP: Record<string, string> = { lt: '<', le: '<=', eq: '==', ne: '!=', gt: '>', ge: '>=' };

export function printExpr(e: Expr): string {
  switch (e.k) {
    case 'int':
      return e.dtype === 'index' || e.dtype === 'bool' ? String(e.value) : `${e.value}i${e.dtype.replace('int', '')}`;
    case 'var':
      return e.v.name;
    case 'bin':
      if (e.op === 'min' || e.op === 'max') return `${e.op}(${printExpr(e.a)}, ${printExpr(e.b)})`;
      return `(${printExpr(e.a)} ${BIN[e.op]} ${printExpr(e.b)})`;
    case 'cmp':
      return `(${printExpr(e.a)} ${CMP[e.op]} ${printExpr(e.b)})`;
    case 'and':
      return `(${printExpr(e.a)} && ${printExpr(e.b)})`;
    case 'or':
      return `(${printExpr(e.a)} || ${printExpr(e.b)})`;
    case 'not':
      return `!${printExpr(e.a)}`;
    case 'select':
      return `select(${printExpr(e.c)}, ${printExpr(e.t)}, ${printExpr(e.f)})`;
    case 'cast':
      return `${e.dtype}(${printExpr(e.a)})`;
    case 'load':
      return `${e.buf.name}[${e.idx.map(printExpr).join(', ')}]`;
    case 'read':
      return `${e.tensor.name}(${e.idx.map(printExpr).join(', ')})`;
    case 'reduce':
      return `${e.op}(${printExpr(e.body)}, axis=[${e.axes.map((a) => a.var.name).join(', ')}])`;
  }
}

const QUEUE = ['', 'load', 'compute', 'store'];

export function printStmt(s: Stmt, indent = 0): string {
  const pad = '  '.repeat(indent);
  const P = (x: Stmt) => printStmt(x, indent + 1);
  switch (s.k) {
    case 'for':
      return `${pad}for (${s.v.name}, 0, ${s.ext})${s.kind === 'vthread' ? ' vthread' : ''} {\n${P(s.body)}${pad}}\n`;
    case 'seq':
      return s.body.map((x) => printStmt(x, indent)).join('');
    case 'alloc':
      return `${pad}allocate ${s.buf.name}[${s.buf.dtype} * ${s.buf.shape.join('x')}] in ${SCOPE_NAMES[s.buf.scope]}\n${printStmt(s.body, indent)}`;
    case 'store':
      return `${pad}${s.buf.name}[${s.idx.map(printExpr).join(', ')}] = ${printExpr(s.value)}\n`;
    case 'if':
      return `${pad}if ${printExpr(s.c)} {\n${P(s.then)}${pad}}${s.else ? ` else {\n${P(s.else)}${pad}}` : ''}\n`;
    case 'attr':
      return `${pad}// attr ${s.key} = ${s.value}\n${printStmt(s.body, indent)}`;
    case 'gemm':
      return s.reset
        ? `${pad}vta.gemm_reset(${s.acc.name}[${printExpr(s.accElem)}])\n`
        : `${pad}vta.gemm(${s.acc.name}[${printExpr(s.accElem)}], ${s.inp!.name}[${printExpr(s.inpElem!)}], ${s.wgt!.name}[${printExpr(s.wgtElem!)}])\n`;
    case 'alu':
      return `${pad}vta.alu.${s.op}(${s.dst.name}[${printExpr(s.dstElem)}], ${s.src ? `${s.src.name}[${printExpr(s.srcElem!)}]` : `imm ${s.imm}`})\n`;
    case 'dma': {
      const pads = [s.xPad0, s.yPad0, s.xPad1, s.yPad1].map(printExpr).join(', ');
      const sram = `${s.sram.name}[${printExpr(s.sramElem)}]`;
      const dram = `${s.dram.name}[${printExpr(s.dramElem)}]`;
      return s.dir === 'load'
        ? `${pad}vta.load_2d(${s.mem}, ${sram} <- ${dram}, x ${printExpr(s.xSize)}, y ${printExpr(s.ySize)}, stride ${printExpr(s.xStride)}, pad ${pads})\n`
        : `${pad}vta.store_2d(${s.mem}, ${dram} <- ${sram}, x ${printExpr(s.xSize)}, y ${printExpr(s.ySize)}, stride ${printExpr(s.xStride)})\n`;
    }
    case 'uop': {
      const loops = s.loops.map((l) => `${l.v.name} < ${l.ext} (dst +${l.dst}, src +${l.src}${s.mode === 'GEMM' ? `, wgt +${l.wgt}` : ''})`).join('; ');
      return `${pad}vta.uop_kernel ${s.mode} [${loops}] {\n${P(s.body)}${pad}}\n`;
    }
    case 'task':
      return `${pad}task ${QUEUE[s.queue]} {\n${P(s.body)}${pad}}\n`;
    case 'dep':
      return `${pad}vta.dep_${s.op}(${QUEUE[s.from]} -> ${QUEUE[s.to]})\n`;
  }
}
