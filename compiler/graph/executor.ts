/**
 * The graph executor: runs a bound, inferred graph node by node on a host target. A target says,
 * per node, which kernel runs it (`HostTarget.kernelFor`); the plain TypeScript kernels
 * (compiler/host/ts.ts) are the reference host target until the CPU / WebAssembly back ends plug in
 * through the same interface, and the VTA partition (issue 13, item 4) will hand the nodes it
 * offloads to the accelerator and the rest to the host target given here.
 */
import { CompileError } from '../errors.ts';
import type { Kernel } from '../host/kernels.ts';
import { staticShape, type Graph, type Node } from './ir.ts';
import { shapeString, type Tensor } from './tensor.ts';

export interface HostTarget {
  /** How the target prints (`ts`, `cpu -mattr=+avx2`). */
  name: string;
  /** The kernel that runs `node` (shapes and dtypes are known: the graph has been inferred), or undefined if the target has none. */
  kernelFor(node: Node, g: Graph): Kernel | undefined;
  /**
   * Builds what the target's kernels for `g` need ahead of running (a compiling target builds and
   * loads its functions here); callers await it before `runGraph`. Absent: nothing to build.
   */
  prepare?(g: Graph): Promise<void>;
  /**
   * The same target for observers that read every node's outputs when its kernel returns
   * (calibration, reports: compiler/quant/calibrate.ts `tapTarget`): no node's work deferred to a
   * fused kernel later in the graph, no output array reused by a later run, no kernel bound to a
   * node before the graph was rewritten (passes such as channel scaling change a node's weights
   * between runs). Absent or undefined: this target already is.
   */
  observable?(): HostTarget | undefined;
}

export interface NodeRun {
  node: string;
  op: string;
  /** Wall time of the kernel. */
  ms: number;
}

export interface GraphRun {
  outputs: Map<string, Tensor>;
  /** Per node in execution order. */
  nodes: NodeRun[];
}

/**
 * The environment a run starts from: every graph input (its dtype and shape checked against the
 * bound graph) and every constant, by value name.
 */
export function initialValues(g: Graph, inputs: Map<string, Tensor>): Map<string, Tensor> {
  const env = new Map<string, Tensor>();
  for (const name of g.inputs) {
    const v = g.values.get(name)!;
    const t = inputs.get(name);
    if (!t) throw new CompileError(`no tensor for input ${name} (${v.dtype}${shapeString(staticShape(v) ?? [])})`);
    const want = staticShape(v);
    if (!want || shapeString(want) !== shapeString(t.shape) || t.dtype !== v.dtype) {
      throw new CompileError(`input ${name} is ${t.dtype}${shapeString(t.shape)}; the graph was bound to ${v.dtype}${shapeString(want ?? [])}`);
    }
    env.set(name, t);
  }
  for (const v of g.values.values()) if (v.const) env.set(v.name, v.const);
  return env;
}

/** A node's input tensors from the environment ('' inputs: undefined). */
export function nodeInputs(n: Node, env: Map<string, Tensor>): (Tensor | undefined)[] {
  return n.inputs.map((i) => {
    if (!i) return undefined;
    const t = env.get(i);
    if (!t) throw new Error(`value ${i} is not computed before node ${n.name}`);
    return t;
  });
}

/**
 * Stores a node's outputs and frees each computed tensor after its last reader (graph outputs
 * and constants stay): call once per node, in order.
 */
export function valueKeeper(g: Graph): (n: Node, outs: Tensor[], env: Map<string, Tensor>) => void {
  const frees = freePlan(g);
  return (n, outs, env) => {
    for (let k = 0; k < n.outputs.length; k++) if (n.outputs[k]) env.set(n.outputs[k], outs[k]);
    for (const i of frees.get(n) ?? []) env.delete(i);
  };
}

/** A graph's free plan and the arrays it was computed from (a pass that rewrites the graph replaces them). */
interface FreePlan {
  nodes: Node[];
  inputs: string[][];
  outputs: string[];
  frees: Map<Node, string[]>;
}
const freePlans = new WeakMap<Graph, FreePlan>();

/**
 * Per node, the computed values whose last reader it is (not constants, not graph outputs).
 * Cached per graph while its node list, every node's input list and the output list are the same
 * arrays (passes replace them rather than edit them in place): building it is most of the
 * executor's own per-run work (~0.2 ms of a 2-3 ms PaddleOCR classifier run on the cpu host).
 */
function freePlan(g: Graph): Map<Node, string[]> {
  const c = freePlans.get(g);
  if (c && c.nodes === g.nodes && c.outputs === g.outputs && c.inputs.length === g.nodes.length && g.nodes.every((n, i) => n.inputs === c.inputs[i])) return c.frees;
  const last = new Map<string, number>();
  g.nodes.forEach((n, i) => {
    for (const x of n.inputs) if (x) last.set(x, i);
  });
  const frees = new Map<Node, string[]>(g.nodes.map((n) => [n, []]));
  for (const [x, i] of last) if (!g.values.get(x)?.const && !g.outputs.includes(x)) frees.get(g.nodes[i])!.push(x);
  freePlans.set(g, { nodes: g.nodes, inputs: g.nodes.map((n) => n.inputs), outputs: g.outputs, frees });
  return frees;
}

/** Run `g` on `inputs` (by input name); every input's dtype and shape must match the bound graph. */
export function runGraph(g: Graph, inputs: Map<string, Tensor>, target: HostTarget): GraphRun {
  const env = initialValues(g, inputs);
  const keep = valueKeeper(g);
  const kernels = g.nodes.map((n) => {
    const k = target.kernelFor(n, g);
    if (!k) throw new CompileError(`host target ${target.name} has no kernel for ${n.op} (node ${n.name})`);
    return k;
  });
  const runs: NodeRun[] = [];
  g.nodes.forEach((n, idx) => {
    const ins = nodeInputs(n, env);
    const t0 = performance.now();
    const outs = kernels[idx](n, ins);
    runs.push({ node: n.name, op: n.op, ms: performance.now() - t0 });
    keep(n, outs, env);
  });
  const outputs = new Map<string, Tensor>();
  for (const o of g.outputs) outputs.set(o, env.get(o)!);
  return { outputs, nodes: runs };
}
