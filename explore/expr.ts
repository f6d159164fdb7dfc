/**
 * Constraint expressions of a space file (`"MACs <= 64"`, `"LOG_INP_BUFF_SIZE + LOG_WGT_BUFF_SIZE <= 32"`),
 * parsed by a small recursive-descent parser — never `eval`. Names are the configuration keys
 * (src/config's KEY_NAMES) and the derived quantities of DERIVED_VARS; numbers, `true`/`false`,
 * `+ - * / %`, comparisons `< <= > >= == !=`, `&& || !` and parentheses.
 */
import { KEY_NAMES, type Derived } from '../src/config/index.ts';
import { closest } from '../src/errors.ts';
import { quoteUser } from '../src/util/quote.ts';

/** Quantities a constraint can name besides the configuration keys, each read from `Derived`. */
export const DERIVED_VARS: Readonly<Record<string, { doc: string; of: (d: Derived) => number }>> = {
  MACs: { doc: 'multiply-accumulates per GEMM micro-op (BATCH x BLOCK x BLOCK)', of: (d) => d.macsPerUop },
  MULTIPLIERS: { doc: 'multipliers instantiated (MACs / GEMM_II)', of: (d) => d.multipliers },
  BATCH: { doc: 'GEMM batch', of: (d) => d.batch },
  BLOCK: { doc: 'GEMM block (BLOCK_IN = BLOCK_OUT)', of: (d) => d.blockIn },
  BUS_WIDTH: { doc: 'memory bus width in bits', of: (d) => d.busWidth },
  UOP_BYTES: { doc: 'micro-op SRAM bytes', of: (d) => d.buffBytes.uop },
  INP_BYTES: { doc: 'input SRAM bytes', of: (d) => d.buffBytes.inp },
  WGT_BYTES: { doc: 'weight SRAM bytes', of: (d) => d.buffBytes.wgt },
  ACC_BYTES: { doc: 'accumulator SRAM bytes', of: (d) => d.buffBytes.acc },
  OUT_BYTES: { doc: 'output SRAM bytes', of: (d) => d.buffBytes.out },
  SRAM_BYTES: { doc: 'all on-chip buffers, bytes', of: (d) => Object.values(d.buffBytes).reduce((a, b) => a + b, 0) },
};

export class ExprError extends Error {}

type Node =
  | { t: 'num'; v: number }
  | { t: 'var'; name: string }
  | { t: 'un'; op: '-' | '!'; a: Node }
  | { t: 'bin'; op: string; a: Node; b: Node };

const OPS = ['<=', '>=', '==', '!=', '&&', '||', '<', '>', '+', '-', '*', '/', '%', '!', '(', ')'];

interface Tok {
  kind: 'num' | 'name' | 'op';
  text: string;
  pos: number;
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ kind: 'num', text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (name) {
      out.push({ kind: 'name', text: name[0], pos: i });
      i += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExprError(`unexpected character ${quoteUser(c, 4)} at column ${i + 1}`);
    out.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  return out;
}

/** Binary operators by precedence level, loosest first. */
const LEVELS: string[][] = [['||'], ['&&'], ['==', '!='], ['<', '<=', '>', '>='], ['+', '-'], ['*', '/', '%']];

export interface Expr {
  text: string;
  /** Names the expression reads. */
  names: string[];
  eval(env: (name: string) => number | boolean): number | boolean;
}

/** Parse `text`; every name must be a config key or a DERIVED_VARS entry. Throws ExprError (one line). */
export function parseExpr(text: string): Expr {
  const toks = tokenize(text);
  let p = 0;
  const peek = () => toks[p];
  const expect = (t: string) => {
    const k = toks[p];
    if (!k || k.text !== t) throw new ExprError(`expected '${t}' ${k ? `at column ${k.pos + 1}` : 'at the end'}`);
    p++;
  };
  const names = new Set<string>();
  const known = [...KEY_NAMES, ...Object.keys(DERIVED_VARS)];
  const binary = (level: number): Node => {
    if (level === LEVELS.length) return unary();
    let a = binary(level + 1);
    for (;;) {
      const k = peek();
      if (!k || k.kind !== 'op' || !LEVELS[level].includes(k.text)) return a;
      p++;
      a = { t: 'bin', op: k.text, a, b: binary(level + 1) };
    }
  };
  const unary = (): Node => {
    const k = peek();
    if (k && k.kind === 'op' && (k.text === '-' || k.text === '!')) {
      p++;
      return { t: 'un', op: k.text, a: unary() };
    }
    return atom();
  };
  const atom = (): Node => {
    const k = toks[p++];
    if (!k) throw new ExprError('the expression ends too early');
    if (k.kind === 'num') return { t: 'num', v: Number(k.text) };
    if (k.kind === 'name') {
      if (k.text === 'true' || k.text === 'false') return { t: 'num', v: k.text === 'true' ? 1 : 0 };
      if (!known.includes(k.text)) {
        const hint = closest(k.text, known);
        throw new ExprError(`unknown name ${quoteUser(k.text, 40)}${hint ? ` (did you mean ${hint}?)` : ''}; names are config keys and ${Object.keys(DERIVED_VARS).join(', ')}`);
      }
      names.add(k.text);
      return { t: 'var', name: k.text };
    }
    if (k.text === '(') {
      const e = binary(0);
      expect(')');
      return e;
    }
    throw new ExprError(`unexpected '${k.text}' at column ${k.pos + 1}`);
  };
  if (!toks.length) throw new ExprError('the expression is empty');
  const root = binary(0);
  if (p < toks.length) throw new ExprError(`unexpected '${toks[p].text}' at column ${toks[p].pos + 1}`);
  const num = (v: number | boolean) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
  const ev = (n: Node, env: (name: string) => number | boolean): number | boolean => {
    switch (n.t) {
      case 'num':
        return n.v;
      case 'var':
        return env(n.name);
      case 'un':
        return n.op === '-' ? -num(ev(n.a, env)) : !num(ev(n.a, env));
      case 'bin': {
        if (n.op === '&&') return !!num(ev(n.a, env)) && !!num(ev(n.b, env));
        if (n.op === '||') return !!num(ev(n.a, env)) || !!num(ev(n.b, env));
        const a = num(ev(n.a, env));
        const b = num(ev(n.b, env));
        switch (n.op) {
          case '+': return a + b;
          case '-': return a - b;
          case '*': return a * b;
          case '/': return a / b;
          case '%': return a % b;
          case '<': return a < b;
          case '<=': return a <= b;
          case '>': return a > b;
          case '>=': return a >= b;
          case '==': return a === b;
          default: return a !== b;
        }
      }
    }
  };
  return { text, names: [...names], eval: (env) => ev(root, env) };
}

/** The value of a name for a configuration: its key (booleans as 0/1, null as 0) or a derived quantity. */
export function nameValue(d: Derived, name: string): number {
  const dv = DERIVED_VARS[name];
  if (dv) return dv.of(d);
  const v = (d.keys as unknown as Record<string, unknown>)[name];
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return 0;
}

/** Does `d` satisfy `e`? Returns undefined when it does, else "TEXT (NAME = v, ...)". */
export function violates(e: Expr, d: Derived): string | undefined {
  if (e.eval((n) => nameValue(d, n))) return undefined;
  return `${e.text} fails (${e.names.map((n) => `${n} = ${nameValue(d, n)}`).join(', ')})`;
}
