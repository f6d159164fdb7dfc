/**
 * Plain reference implementations the conformance suite checks against (vta-reference Part A.3,
 * A.4 and the references of the TVM tests, Part B §6): integer matmul wrapping at ACC_WIDTH, ALU
 * operations, truncation to OUT_WIDTH, relu/clip/shift-and-scale. Matrices are number[][].
 */
import { RQ_RELU_BIT, RQ_SHIFT_BITS, type AluOpName } from '../isa/alu.ts';
import { wrapSigned, type Matrix } from './pack.ts';

export { wrapSigned };

/** Truncate to the low `bits` bits, read back as signed (what STORE of OUT does). */
export function truncate(x: number, bits: number): number {
  return wrapSigned(x, bits);
}

/** `bias + inp · wgtᵀ` wrapping at accWidth: inp [M][K], wgt [N][K], bias [M][N] (or undefined = 0). */
export function matmulAcc(inp: Matrix, wgt: Matrix, bias: Matrix | undefined, accWidth: number): Matrix {
  const M = inp.length;
  const N = wgt.length;
  const K = M ? inp[0].length : 0;
  const out: Matrix = [];
  for (let m = 0; m < M; m++) {
    const row: number[] = [];
    for (let n = 0; n < N; n++) {
      let acc = bias ? bias[m][n] : 0;
      for (let k = 0; k < K; k++) acc = wrapSigned(acc + inp[m][k] * wgt[n][k], accWidth);
      row.push(wrapSigned(acc, accWidth));
    }
    out.push(row);
  }
  return out;
}

/**
 * What RQ (ALU opcode 5, docs/isa.md) needs beyond a lane's operands: the OUT width it clips to and,
 * in the vector form, the instruction's immediate (its parameter word; the immediate form's is b).
 */
export interface AluExt {
  outWidth: number;
  vectorImm?: number;
}

/** RQ's result (what OUT gets) for destination a, operand b; ACC gets it too unless p[6] clears it. */
function requantLane(a: number, b: number, accWidth: number, ext: AluExt | undefined): number {
  if (!ext) throw new Error('aluOp RQ needs the OUT width (and the vector form its immediate)');
  const p = ext.vectorImm ?? b;
  const s = Math.min(p & ((1 << RQ_SHIFT_BITS) - 1), accWidth - 1);
  let v = Math.floor(a / 2 ** s);
  if (ext.vectorImm !== undefined) v = wrapSigned(v + b, accWidth);
  const hi = 2 ** (ext.outWidth - 1) - 1;
  const lo = (p >> RQ_RELU_BIT) & 1 ? 0 : -(2 ** (ext.outWidth - 1));
  return Math.max(Math.min(v, hi), lo);
}

/** One ALU lane (Part A.4). `b` is the second operand (ACC value or sign-extended immediate). */
export function aluOp(op: AluOpName, a: number, b: number, accWidth: number, ext?: AluExt): number {
  switch (op) {
    case 'MIN':
      return Math.min(a, b);
    case 'MAX':
      return Math.max(a, b);
    case 'ADD':
      return wrapSigned(a + b, accWidth);
    case 'SHR': {
      if (b >= 0) {
        const s = Math.min(b, accWidth - 1);
        return Math.floor(a / 2 ** s);
      }
      const s = Math.min(-b, accWidth - 1);
      return wrapSigned(a * 2 ** s, accWidth);
    }
    case 'MUL':
      return Number(BigInt.asIntN(accWidth, BigInt(a) * BigInt(b)));
    case 'RQ':
      return requantLane(a, b, accWidth, ext);
  }
}

/** The ALU immediate: 16-bit signed, sign-extended then wrapped to ACC_WIDTH. */
export function aluImm(imm: number, accWidth: number): number {
  return wrapSigned(wrapSigned(imm, 16), accWidth);
}

/** Element-wise ALU over matrices: b is a matrix (vector-vector) or a number (immediate). */
export function aluMatrix(op: AluOpName, a: Matrix, b: Matrix | number, accWidth: number, ext?: AluExt): Matrix {
  return a.map((row, r) => row.map((x, c) => aluOp(op, x, typeof b === 'number' ? aluImm(b, accWidth) : b[r][c], accWidth, ext)));
}

export function mapMatrix(a: Matrix, f: (x: number) => number): Matrix {
  return a.map((row) => row.map(f));
}

export function truncateMatrix(a: Matrix, bits: number): Matrix {
  return mapMatrix(a, (x) => truncate(x, bits));
}

/** max(x, 0) then min(·, hi) (TVM's relu test: hi = 127 for int8). */
export function relu(a: Matrix, hi: number): Matrix {
  return mapMatrix(a, (x) => Math.min(Math.max(x, 0), hi));
}

/** clip(x, lo, hi) as TVM lowers it: MIN with hi, then MAX with lo. */
export function clip(a: Matrix, lo: number, hi: number): Matrix {
  return mapMatrix(a, (x) => Math.max(Math.min(x, hi), lo));
}

/** (x + shift) >> scale, arithmetic, wrapping at accWidth. */
export function shiftAndScale(a: Matrix, shift: number, scale: number, accWidth: number): Matrix {
  return mapMatrix(a, (x) => aluOp('SHR', aluOp('ADD', x, shift, accWidth), scale, accWidth));
}

/** Zero padding of a matrix by whole tiles: rows/cols given in values. */
export function padMatrix(a: Matrix, top: number, bottom: number, left: number, right: number): Matrix {
  const cols = (a[0]?.length ?? 0) + left + right;
  const zero = () => new Array<number>(cols).fill(0);
  return [
    ...Array.from({ length: top }, zero),
    ...a.map((row) => [...new Array<number>(left).fill(0), ...row, ...new Array<number>(right).fill(0)]),
    ...Array.from({ length: bottom }, zero),
  ];
}

/** First mismatch between two matrices, or undefined when equal. */
export function compareMatrices(got: Matrix, want: Matrix): string | undefined {
  if (got.length !== want.length) return `row count ${got.length} != ${want.length}`;
  let bad = 0;
  let first = '';
  for (let r = 0; r < want.length; r++) {
    if (got[r].length !== want[r].length) return `row ${r} has ${got[r].length} values, expected ${want[r].length}`;
    for (let c = 0; c < want[r].length; c++) {
      if (got[r][c] !== want[r][c]) {
        if (!bad) first = `[${r}][${c}] = ${got[r][c]}, expected ${want[r][c]}`;
        bad++;
      }
    }
  }
  return bad ? `${bad} mismatches; first ${first}` : undefined;
}
