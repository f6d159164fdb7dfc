/**
 * Fused element-wise kernels for the compiled graph hosts (compiler/target/graph-host.ts): a run of
 * consecutive element-wise nodes of one output shape (the quantized graph's float islands:
 * DequantizeP2 -> hard-swish (Add+clip, Mul, Div) -> QuantizeP2, the SE blocks' HardSigmoid and
 * per-channel Mul, ...) becomes ONE generated typed-array loop: every element is read once, the
 * intermediate values stay in locals, and only values some node outside the run reads are
 * written out, into buffers allocated once. Results are bit-exact with the plain reference kernels
 * (compiler/host/kernels.ts, compiler/graph/quantized.ts): each float32 intermediate is rounded to
 * float32 (`Math.fround`) exactly where the reference stores it in a Float32Array, with the same
 * JavaScript arithmetic and Math functions.
 *
 * The executor calls kernels node by node, so a group runs under the Kernel interface: each member
 * records its outside operands and returns its (preallocated) output tensors; the last member runs
 * the loop, which fills them. That is sound because a group is a contiguous run of the graph's
 * nodes (its outside operands are all computed before it starts, and every outside reader of a
 * value it makes comes after it) and an int8 result (QuantizeP2) ends a group, so no node that is
 * not in the host's part of the graph (a VTA node, which reads int8 only) sits inside one.
 */
import { CompileError } from '../errors.ts';
import { consumers, staticShape, type Graph, type Node } from '../graph/ir.ts';
import { sizeOf, type Tensor, type TypedArray } from '../graph/tensor.ts';
import { attrFloat, type Kernel } from './kernels.ts';

/** How an operand of a member reaches the loop. */
type Operand =
  | { k: 'local'; name: string } // made by an earlier member
  | { k: 'full'; slot: number } // an outside array of the output's size, element i
  | { k: 'channel'; slot: number } // an outside array with one value per channel (dim 1 of a 4-D output)
  | { k: 'scalar'; slot: number } // an outside one-element array
  | { k: 'const'; value: number }; // a one-element constant, as a literal

/**
 * How a loop is printed: JavaScript (every target), or C (the cpu target: compiler/cpu/fused.ts).
 * A value is a float32 (or int8) number held in a double: `F` rounds to float32 where the
 * reference stores into a Float32Array, the rest is double arithmetic as JavaScript does it.
 */
export interface LoopLang {
  F(e: string): string;
  lit(x: number): string;
  /** Math.max(0, Math.min(1, e)) */
  unit(e: string): string;
  /** Math.exp, where the language has JavaScript's exactly (C's libm need not agree in the last bit). */
  exp?(e: string): string;
  /** Operand reads: element i of slot s, channel c of slot s, the one value of slot s. */
  full(s: number): string;
  channel(s: number): string;
  scalar(s: number): string;
  /** `const NAME = e;` / `aS[i] = v;` (int8: an int8 result) */
  local(name: string, e: string): string;
  store(s: number, v: string, int8: boolean): string;
  /**
   * Languages without infix arithmetic (WebAssembly) say how to write these; JavaScript and C
   * use the defaults below (DEFAULT_FORMS): a local's value, double arithmetic, CL, Q, and the
   * sign select of Relu / LeakyRelu.
   */
  ref?(name: string): string;
  bin?(op: '+' | '-' | '*' | '/', a: string, b: string): string;
  cl?(x: string, lo: string, hi: string): string;
  q?(x: string): string;
  /** v > 0 ? a : b (strict), v >= 0 ? a : b */
  sign?(v: string, strict: boolean, a: string, b: string): string;
}

/** The forms of JavaScript and C (the same text in both). */
const DEFAULT_FORMS: Required<Pick<LoopLang, 'ref' | 'bin' | 'cl' | 'q' | 'sign'>> = {
  ref: (name) => name,
  bin: (op, a, b) => `(${a} ${op} ${b})`,
  cl: (x, lo, hi) => `CL(${x}, ${lo}, ${hi})`,
  q: (x) => `Q(${x})`,
  sign: (v, strict, a, b) => `(${v} ${strict ? '>' : '>='} 0 ? ${a} : ${b})`,
};
const forms = (L: LoopLang): typeof DEFAULT_FORMS => ({ ...DEFAULT_FORMS, ...Object.fromEntries(Object.entries(L).filter(([k]) => k in DEFAULT_FORMS)) });

export const JS_LANG: LoopLang = {
  F: (e) => `F(${e})`,
  lit,
  unit: (e) => `Math.max(0, Math.min(1, ${e}))`,
  exp: (e) => `Math.exp(${e})`,
  full: (s) => `a${s}[i]`,
  channel: (s) => `a${s}[c]`,
  scalar: (s) => `s${s}`,
  local: (name, e) => `const ${name} = ${e};`,
  store: (s, v) => `a${s}[i] = ${v};`,
};

type Forms = ReturnType<typeof forms>;
const FLOAT_UNARY: Record<string, (n: Node, v: string, L: LoopLang, f: Forms) => string | undefined> = {
  Relu: (_n, v, L, f) => f.sign(v, true, v, L.lit(0)),
  Sigmoid: (_n, v, L) => L.exp && `1 / (1 + ${L.exp(`-${v}`)})`,
  HardSigmoid: (n, v, L, f) => L.unit(f.bin('+', f.bin('*', L.lit(attrFloat(n, 'alpha', 0.2)), v), L.lit(attrFloat(n, 'beta', 0.5)))),
  HardSwish: (_n, v, L, f) => f.bin('*', v, L.unit(f.bin('+', f.bin('/', v, L.lit(6)), L.lit(0.5)))),
  LeakyRelu: (n, v, L, f) => f.sign(v, false, v, f.bin('*', v, L.lit(attrFloat(n, 'alpha', 0.01)))),
};
const FLOAT_BINARY: Record<string, '+' | '-' | '*' | '/'> = { Add: '+', Sub: '-', Mul: '*', Div: '/' };
/** The binary operators the reference wraps in a fused clip (`withClip`). */
const CLIPPED = new Set(['Add']);

/** A number as a JavaScript literal that reads back as the same double. */
export function lit(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  return Object.is(x, -0) ? '-0' : `(${String(x)})`;
}

export interface ElementwiseGroup {
  nodes: Node[];
  shape: number[];
}

function outShape(g: Graph, n: Node): number[] | null {
  const v = n.outputs[0] ? g.values.get(n.outputs[0]) : undefined;
  return v ? staticShape(v) : null;
}

const dtypeOf = (g: Graph, name: string) => g.values.get(name)?.dtype;

/** How an input of a node with output shape `shape` broadcasts: a full array, per channel, one value, or not simply. */
function broadcastKind(g: Graph, name: string, shape: number[]): 'full' | 'channel' | 'scalar' | undefined {
  const v = g.values.get(name);
  const s = v && staticShape(v);
  if (!s) return undefined;
  const n = sizeOf(s);
  if (n === sizeOf(shape) && s.join() === shape.join()) return 'full';
  if (n === 1) return 'scalar';
  // [C,1,1] or [1,C,1,1] against [N,C,H,W]
  if (shape.length === 4 && s.length <= 4 && s.length >= 3) {
    const al = [...Array(4 - s.length).fill(1), ...s];
    if (al[0] === 1 && al[1] === shape[1] && al[2] === 1 && al[3] === 1) return 'channel';
  }
  return undefined;
}

/** Whether `n` can be a member of a fused group (its own operands permitting). */
export function isFusable(n: Node, g: Graph): boolean {
  if (n.outputs.length !== 1 || !n.outputs[0]) return false;
  const shape = outShape(g, n);
  if (!shape) return false;
  const ins = n.inputs;
  const floatIn = (i: number) => !!ins[i] && dtypeOf(g, ins[i]) === 'float32';
  switch (n.op) {
    case 'DequantizeP2':
      return typeof n.attrs.frac === 'number' && !!ins[0] && dtypeOf(g, ins[0]) === 'int8' && broadcastKind(g, ins[0], shape) === 'full';
    case 'QuantizeP2':
      return typeof n.attrs.frac === 'number' && floatIn(0) && broadcastKind(g, ins[0], shape) === 'full';
    case 'Clip':
      return floatIn(0) && broadcastKind(g, ins[0], shape) === 'full' && [1, 2].every((i) => !ins[i] || (!!g.values.get(ins[i])?.const && broadcastKind(g, ins[i], shape) === 'scalar'));
    default:
      if (FLOAT_UNARY[n.op]) return ins.length === 1 && floatIn(0) && broadcastKind(g, ins[0], shape) === 'full';
      if (FLOAT_BINARY[n.op]) {
        if (ins.length !== 2 || !floatIn(0) || !floatIn(1)) return false;
        if (n.attrs.clip !== undefined && (!CLIPPED.has(n.op) || !Array.isArray(n.attrs.clip))) return false;
        const kinds = [broadcastKind(g, ins[0], shape), broadcastKind(g, ins[1], shape)];
        return kinds.every(Boolean) && kinds.includes('full');
      }
      return false;
  }
}

/**
 * The fused groups of `nodes` (in graph order): a group is a maximal contiguous run of fusable
 * nodes of one output shape in which each member after the first reads a value an earlier member
 * made; an int8 result (QuantizeP2) ends a group.
 */
export function elementwiseGroups(g: Graph, nodes: readonly Node[]): ElementwiseGroup[] {
  const groups: ElementwiseGroup[] = [];
  let cur: (ElementwiseGroup & { made: Set<string> }) | undefined;
  for (const n of nodes) {
    if (!isFusable(n, g)) {
      cur = undefined;
      continue;
    }
    const shape = outShape(g, n)!;
    if (cur && cur.shape.join() === shape.join() && n.inputs.some((i) => cur!.made.has(i))) {
      cur.nodes.push(n);
      cur.made.add(n.outputs[0]);
    } else {
      cur = { nodes: [n], shape, made: new Set([n.outputs[0]]) };
      groups.push(cur);
    }
    if (n.op === 'QuantizeP2') cur = undefined;
  }
  return groups.map(({ nodes: ns, shape }) => ({ nodes: ns, shape }));
}

/** The loop of a group: its body (per element i, channel c) and where its operands and results go. */
export interface LoopPlan {
  /** Statements per element. */
  body: string[];
  /** Whether an operand is read per channel (then the loop is rows of N*C, c the channel). */
  channels: boolean;
  /** Per member: its inputs' slots (or -1: made inside, or a constant). */
  inputSlots: number[][];
  /** Per member: where its output goes (a slot), or -1 (stays a local). */
  outSlot: number[];
  /** Per slot: int8 or float32. */
  slotTypes: ('int8' | 'float32')[];
  slots: number;
}

/** A group's loop in `L`, or undefined where `L` cannot say what a member does exactly. */
export function planLoop(group: ElementwiseGroup, g: Graph, written: (name: string) => boolean, L: LoopLang): LoopPlan | undefined {
  const { shape } = group;
  const local = new Map<string, string>();
  const body: string[] = [];
  const inputSlots: number[][] = [];
  const outSlot: number[] = [];
  const slotTypes: ('int8' | 'float32')[] = [];
  const outside = new Map<string, number>();
  let channels = false;
  const operand = (name: string): Operand => {
    const l = local.get(name);
    if (l) return { k: 'local', name: l };
    const v = g.values.get(name)!;
    const kind = broadcastKind(g, name, shape)!;
    if (kind === 'scalar' && v.const) return { k: 'const', value: v.const.data[0] as number };
    let slot = outside.get(name);
    if (slot === undefined) {
      outside.set(name, (slot = slotTypes.length));
      slotTypes.push(v.dtype === 'int8' ? 'int8' : 'float32');
    }
    if (kind === 'channel') channels = true;
    return { k: kind, slot };
  };
  const ref = forms(L).ref;
  const read = (o: Operand): string => {
    switch (o.k) {
      case 'local': return ref(o.name);
      case 'const': return L.lit(o.value);
      case 'full': return L.full(o.slot);
      case 'channel': return L.channel(o.slot);
      case 'scalar': return L.scalar(o.slot);
    }
  };
  for (const n of group.nodes) {
    const os = n.inputs.map((name, i) => (name && !(n.op === 'Clip' && i > 0) ? operand(name) : ({ k: 'const', value: NaN } as Operand)));
    inputSlots.push(os.map((o) => (o.k === 'full' || o.k === 'channel' || o.k === 'scalar' ? o.slot : -1)));
    const e = expression(n, g, os.map(read), L);
    if (e === undefined) return undefined;
    const v = `v${body.length}`;
    body.push(L.local(v, e));
    local.set(n.outputs[0], v);
  }
  group.nodes.forEach((n, k) => {
    if (!written(n.outputs[0]) && k !== group.nodes.length - 1) {
      outSlot.push(-1);
      return;
    }
    const slot = slotTypes.length;
    const int8 = n.op === 'QuantizeP2';
    slotTypes.push(int8 ? 'int8' : 'float32');
    outSlot.push(slot);
    body.push(L.store(slot, `v${k}`, int8));
  });
  return { body, channels, inputSlots, outSlot, slotTypes, slots: slotTypes.length };
}

/** The loop nest around a plan's body (the same text in JavaScript and C but for the index declarations: `let` / `const`, `ptrdiff_t` / `const ptrdiff_t`). */
export function loopNest(group: ElementwiseGroup, plan: LoopPlan, index: string, constIndex: string): string {
  const { shape } = group;
  if (!plan.channels) return `for (${index} i = 0; i < ${sizeOf(shape)}; i++) {\n  ${plan.body.join('\n  ')}\n}`;
  const HW = shape[2] * shape[3];
  return `for (${index} r = 0, i = 0; r < ${shape[0] * shape[1]}; r++) {\n  ${constIndex} c = r % ${shape[1]};\n  for (${index} e = i + ${HW}; i < e; i++) {\n    ${plan.body.join('\n    ')}\n  }\n}`;
}

/** One member's value as an expression of its operands' expressions (the reference's arithmetic, float32 stores as F). */
function expression(n: Node, g: Graph, x: string[], L: LoopLang): string | undefined {
  const f = forms(L);
  switch (n.op) {
    case 'DequantizeP2':
      return L.F(f.bin('*', x[0], L.lit(2 ** -(n.attrs.frac as number))));
    case 'QuantizeP2':
      return f.q(f.bin('*', x[0], L.lit(2 ** (n.attrs.frac as number))));
    case 'Clip': {
      const bound = (i: number, dflt: number) => (n.inputs[i] ? (g.values.get(n.inputs[i])!.const!.data[0] as number) : dflt);
      return L.F(f.cl(x[0], L.lit(bound(1, -Infinity)), L.lit(bound(2, Infinity))));
    }
    default: {
      if (FLOAT_UNARY[n.op]) {
        const e = FLOAT_UNARY[n.op](n, x[0], L, f);
        return e === undefined ? undefined : L.F(e);
      }
      const e = L.F(f.bin(FLOAT_BINARY[n.op], x[0], x[1]));
      if (!Array.isArray(n.attrs.clip)) return e;
      const [lo, hi] = n.attrs.clip as number[];
      return L.F(f.cl(e, L.lit(lo), L.lit(hi)));
    }
  }
}

/**
 * Helpers of the generated loops: F = Math.fround; CL(x, lo, hi) = x < lo ? lo : x > hi ? hi : x
 * (NaN passes, as in the reference); Q(x) = QuantizeP2's clamp(roundHalfEven(x), -128, 127),
 * computed as floor(x + 0.5) with ties moved to even on x clamped to [-128.5, 127.25] first
 * (every x above 127.25 gives 127, a tie at -128.5 gives -128, and x + 0.5 is exact: x is a
 * float32 times a power of two), NaN giving NaN (stored as 0, as the reference's NaN is).
 * Declared in the generated source, so V8 inlines them.
 */
const HELPERS = `const F = Math.fround;
function CL(x, lo, hi) { return x < lo ? lo : x > hi ? hi : x; }
function Q(x) {
  const y = x < -128.5 ? -128.5 : x > 127.25 ? 127.25 : x;
  const t = y + 0.5;
  const r = Math.floor(t);
  return r === t && (r & 1) ? r - 1 : r;
}`;

export type Loop = (a: TypedArray[]) => void;

function compileLoop(group: ElementwiseGroup, plan: LoopPlan): Loop {
  const decl = Array.from({ length: plan.slots }, (_, s) => `const a${s} = a[${s}]; const s${s} = a${s}.length === 1 ? a${s}[0] : 0;`).join('\n');
  // eslint-disable-next-line no-new-func
  return new Function(`${HELPERS}\nreturn function fused(a) {\n${decl}\n${loopNest(group, plan, 'let', 'const')}\n};`)() as Loop;
}

/** Which values a group writes out in graph `full`: those read outside it or outliving the run. */
export function writtenIn(group: ElementwiseGroup, full: Graph, escapes: (name: string) => boolean): (name: string) => boolean {
  const readers = consumers(full);
  const members = new Set(group.nodes);
  return (name) => escapes(name) || (readers.get(name) ?? []).some((r) => !members.has(r));
}

/**
 * The members' kernels of a group. `full` is the whole graph the kernels will run in (which
 * values have readers outside the group); `escapes(name)`: the value outlives a run (a graph
 * output, or a view of one) and gets a fresh array per run; every other written value is a
 * buffer reused across runs. `compiled`: the loop built by a back end for this plan (else the
 * JavaScript loop).
 */
export function groupKernels(group: ElementwiseGroup, full: Graph, escapes: (name: string) => boolean, compiled?: { plan: LoopPlan; loop: Loop }): Map<Node, Kernel> {
  const written = writtenIn(group, full, escapes);
  const plan = compiled?.plan ?? planLoop(group, full, written, JS_LANG)!;
  const loop = compiled?.loop ?? compileLoop(group, plan);
  const n = sizeOf(group.shape);
  const a: TypedArray[] = new Array(plan.slots);
  const alloc = (k: number) => (group.nodes[k].op === 'QuantizeP2' ? new Int8Array(n) : new Float32Array(n));
  const outs: Tensor[] = group.nodes.map((m, k) => ({
    dtype: m.op === 'QuantizeP2' ? 'int8' : 'float32',
    shape: [...group.shape],
    data: plan.outSlot[k] < 0 ? new Float32Array(0) : alloc(k),
  }));
  const fresh = group.nodes.map((m, k) => plan.outSlot[k] >= 0 && escapes(m.outputs[0]));
  const last = group.nodes.length - 1;
  const kernels = new Map<Node, Kernel>();
  group.nodes.forEach((m, k) => {
    const slots = plan.inputSlots[k];
    kernels.set(m, (_node, ins) => {
      for (let i = 0; i < slots.length; i++) {
        if (slots[i] < 0) continue;
        const t = ins[i];
        if (!t) throw new CompileError(`${m.op} node ${m.name}: input ${i} is missing`);
        a[slots[i]] = t.data;
      }
      if (fresh[k]) outs[k] = { ...outs[k], data: alloc(k) };
      if (k === last) {
        for (let j = 0; j <= last; j++) if (plan.outSlot[j] >= 0) a[plan.outSlot[j]] = outs[j].data;
        loop(a);
      }
      return [outs[k]];
    });
  });
  return kernels;
}
