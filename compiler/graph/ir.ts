/**
 * The graph IR: values (a name, a dtype, a shape, and for constants their tensor) and nodes (an
 * operator with attributes reading and writing values by name), in topological order.
 *
 * The importer (compiler/frontend/onnx.ts) gives every operator ONE canonical form whatever the
 * opset it came from (docs/models.md lists them), so passes and kernels see no opset differences.
 * A shape is `null` until shape inference; a dimension is a number, or a string naming a dynamic
 * dimension that the bind step (`--input x=1x3x48x192`) has not bound yet.
 */
import { shapeString, type DType, type Tensor } from './tensor.ts';

export type Dim = number | string;

/** An attribute value after import: numbers and lists of numbers, strings, tensors. */
export type Attr = number | number[] | string | string[] | Tensor;

export interface Value {
  name: string;
  dtype: DType | null;
  shape: Dim[] | null;
  /** The tensor of a constant (an initializer, a Constant node, or a folded value). */
  const?: Tensor;
}

export interface Node {
  /** Unique within the graph (the importer names unnamed nodes `<op>_<index>`). */
  name: string;
  op: string;
  /** Value names; '' for an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export interface Graph {
  name: string;
  /** The default-domain opset the model was written for (informational once imported). */
  opset: number;
  values: Map<string, Value>;
  nodes: Node[];
  /** Graph inputs that are not constants, in the model's order. */
  inputs: string[];
  outputs: string[];
}

export function value(g: Graph, name: string): Value {
  const v = g.values.get(name);
  if (!v) throw new Error(`graph has no value ${name}`);
  return v;
}

/** Add (or replace) a value. */
export function setValue(g: Graph, v: Value): Value {
  g.values.set(v.name, v);
  return v;
}

/** A fresh value name starting with `base`. */
export function freshName(g: Graph, base: string): string {
  if (!g.values.has(base)) return base;
  for (let i = 1; ; i++) if (!g.values.has(`${base}_${i}`)) return `${base}_${i}`;
}

/** Static shape of a value (every dimension bound), or null. */
export function staticShape(v: Value): number[] | null {
  return v.shape && v.shape.every((d) => typeof d === 'number') ? (v.shape as number[]) : null;
}

/** For each value name, the nodes reading it (graph outputs count as a reader named ''). */
export function consumers(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      const list = m.get(i) ?? [];
      if (!list.includes(n)) list.push(n);
      m.set(i, list);
    }
  }
  return m;
}

/** The node writing each value. */
export function producers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

/** Operator counts, most frequent first. */
export function opCounts(g: Graph): [string, number][] {
  const m = new Map<string, number>();
  for (const n of g.nodes) m.set(n.op, (m.get(n.op) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function typeString(v: Value | undefined): string {
  if (!v || (!v.dtype && !v.shape)) return '?';
  const shape = v.shape ? `[${v.shape.join(',')}]` : '[?]';
  return `${v.dtype ?? '?'}${shape}`;
}

function attrString(a: Attr): string {
  if (typeof a === 'number') return String(a);
  if (typeof a === 'string') return JSON.stringify(a);
  if (Array.isArray(a)) return `[${(a as (number | string)[]).map((x) => (typeof x === 'string' ? JSON.stringify(x) : x)).join(',')}]`;
  return `tensor ${a.dtype}${shapeString(a.shape)}`;
}

/** A constant printed inline: its values when small, else its type. */
function constString(v: Value): string {
  const t = v.const!;
  if (t.data.length <= 8) return `${t.dtype}${shapeString(t.shape)}{${Array.from(t.data).map((x) => +x.toPrecision(6)).join(',')}}`;
  return `const ${t.dtype}${shapeString(t.shape)}`;
}

/**
 * Text form, one line per node:
 *   %y = Conv(%x, @w: const float32[8,3,3,3]) {group=1, pads=[1,1,1,1]} -> float32[1,8,24,96]
 * `%name` is a computed value, `@name` a constant.
 */
export function printGraph(g: Graph): string {
  const lines: string[] = [`graph ${JSON.stringify(g.name)} (opset ${g.opset}, ${g.nodes.length} nodes)`];
  for (const i of g.inputs) lines.push(`  input %${i}: ${typeString(g.values.get(i))}`);
  for (const n of g.nodes) {
    const args = n.inputs.map((i) => {
      if (!i) return '_';
      const v = g.values.get(i);
      return v?.const ? `@${i}: ${constString(v)}` : `%${i}`;
    });
    const attrs = Object.keys(n.attrs).sort().map((k) => `${k}=${attrString(n.attrs[k])}`);
    const outs = n.outputs.map((o) => `%${o}`).join(', ');
    const types = n.outputs.map((o) => typeString(g.values.get(o))).join(', ');
    lines.push(`  ${outs} = ${n.op}(${args.join(', ')})${attrs.length ? ` {${attrs.join(', ')}}` : ''} -> ${types}   # ${n.name}`);
  }
  for (const o of g.outputs) {
    const v = g.values.get(o);
    lines.push(`  output ${v?.const ? '@' : '%'}${o}: ${typeString(v)}`);
  }
  return `${lines.join('\n')}\n`;
}
