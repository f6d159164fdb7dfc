/**
 * How a quantized graph node (compiler/graph/quantized.ts: QConv, QDense, QAdd, QMaxPool) maps
 * onto a registry operator (compiler/ops/registry.ts): its name, `--shape` dimensions and
 * parameters, and which of its inputs are computed per run. One mapping for every target that runs
 * graph nodes as compiled operators: the cpu / wasm graph hosts (graph-host.ts) and VTA
 * (compiler/model/compile.ts).
 */
import { CompileError } from '../errors.ts';
import { staticShape, type Graph, type Node } from '../graph/ir.ts';
import type { OpParams } from '../ops/registry.ts';

/** How a quantized node maps onto a registry operator: its name, `--shape` dimensions and parameters. */
export interface OperatorCall {
  op: string;
  shape: number[];
  params: OpParams;
  /** Which node inputs are computed per run (the others are constants, bound once). */
  variable: number[];
}

export function shapeOf(g: Graph, name: string, node: Node): number[] {
  const v = g.values.get(name);
  const s = v && staticShape(v);
  if (!s) throw new CompileError(`${node.op} node ${node.name}: the shape of ${name} is not known (run shape inference first)`);
  return s;
}

const ints = (n: Node, name: string): number[] => (Array.isArray(n.attrs[name]) ? (n.attrs[name] as number[]) : []);
const num = (n: Node, name: string): number => (typeof n.attrs[name] === 'number' ? (n.attrs[name] as number) : NaN);
const clipOf = (n: Node): [number, number] => ints(n, 'clip') as [number, number];

/** The registry operator of a quantized node (QuantizeP2 / DequantizeP2: none, they stay on the fallback). */
export function operatorCall(node: Node, g: Graph): OperatorCall | undefined {
  const base = { batch: 1, groups: 1, bias: false, clip: undefined } as OpParams;
  switch (node.op) {
    case 'QConv': {
      const [n, c, h, w] = shapeOf(g, node.inputs[0], node);
      const [co, , k] = shapeOf(g, node.inputs[1], node);
      const params = { ...base, batch: n, groups: num(node, 'group'), shift: num(node, 'shift'), bias: !!node.inputs[2], clip: clipOf(node) };
      return { op: 'conv2d', shape: [h, w, c, co, k, ints(node, 'pads')[0], ints(node, 'strides')[0]], params, variable: [0] };
    }
    case 'QDense': {
      const [m, k] = shapeOf(g, node.inputs[0], node);
      const [n] = shapeOf(g, node.inputs[1], node);
      return { op: 'dense', shape: [m, k, n], params: { ...base, shift: num(node, 'shift'), bias: !!node.inputs[2], clip: clipOf(node) }, variable: [0] };
    }
    case 'QAdd': {
      const [n, c, h, w] = shapeOf(g, node.inputs[0], node);
      return { op: 'add', shape: [h, w, c], params: { ...base, batch: n, clip: clipOf(node) }, variable: [0, 1] };
    }
    case 'QMaxPool': {
      const [n, c, h, w] = shapeOf(g, node.inputs[0], node);
      const shape = [h, w, c, ints(node, 'kernel_shape')[0], ints(node, 'pads')[0], ints(node, 'strides')[0]];
      return { op: 'maxpool', shape, params: { ...base, batch: n }, variable: [0] };
    }
    default:
      return undefined;
  }
}

/** The static shape of a node's (first) output. */
export function outputShape(node: Node, g: Graph): number[] {
  return shapeOf(g, node.outputs[0], node);
}
