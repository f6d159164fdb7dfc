/**
 * Graph passes and the pass manager. A pass rewrites the graph in place; `PASSES` is the default
 * pipeline, in order, and `--print-graph NAME` prints the graph after the pass NAME (`import` is
 * the graph as imported). `fuse` gives conv / dense / add their bias and clip tail in fp32;
 * quantization adds its passes (the requantize step of that tail, layout transformation into VTA's
 * packed layouts) after it, where the graph is fully typed, static and free of foldable and dead
 * nodes (docs/models.md, "Adding a pass").
 */
import { CompileError } from '../errors.ts';
import { VtwError } from '../../src/errors.ts';
import { consumers, freshName, printGraph, staticShape, type Graph, type Node } from './ir.ts';
import { opDef, type ValueInfo } from './ops.ts';
import { QUANTIZED_KERNELS, isQuantizedOp } from './quantized.ts';
import { KERNELS } from '../host/kernels.ts';
import { shapeString, sizeOf, tensor, type Tensor } from './tensor.ts';

/** Largest value the host executor holds (2^28 elements: 1 GiB of float32). */
export const MAX_VALUE_ELEMENTS = 1 << 28;

export interface Pass {
  name: string;
  description: string;
  run(g: Graph, ctx: PassContext): void;
}

export interface PassContext {
  /** Shapes for inputs: every dynamic dimension must be bound (`--input x=1x3x48x192`). */
  inputShapes: Map<string, number[]>;
}

// ---- bind: input shapes ----

/** Parse `name=1x3x48x192` (the `--input` option). */
export function parseInputShape(text: string): [string, number[]] {
  const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(text.trim());
  if (!m) throw new CompileError(`--input ${JSON.stringify(text)} must be NAME=DIMS, e.g. x=1x3x48x192`);
  const dims = m[2].split('x').map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 1 || d > 1 << 16)) throw new CompileError(`--input ${JSON.stringify(text)}: every dimension must be an integer from 1 to 65536`);
  return [m[1], dims];
}

const bind: Pass = {
  name: 'bind',
  description: 'give every graph input a static shape (the model\'s fixed dimensions, --input for the dynamic ones)',
  run(g, ctx) {
    for (const name of ctx.inputShapes.keys()) {
      if (!g.inputs.includes(name)) throw new CompileError(`--input ${name}: the model has no input ${name}; its inputs are ${g.inputs.join(', ')}`);
    }
    for (const name of g.inputs) {
      const v = g.values.get(name)!;
      const given = ctx.inputShapes.get(name);
      const declared = v.shape;
      if (given) {
        if (declared && declared.length !== given.length) {
          throw new CompileError(`--input ${name}=${given.join('x')}: the model's input ${name} has ${declared.length} dimensions [${declared.map((d) => (typeof d === 'number' ? d : '?')).join(',')}], not ${given.length}`);
        }
        declared?.forEach((d, i) => {
          if (typeof d === 'number' && d !== given[i]) throw new CompileError(`--input ${name}=${given.join('x')}: dimension ${i} of input ${name} is fixed at ${d} in the model (${shapeString(given)} given)`);
        });
        if (sizeOf(given) > MAX_VALUE_ELEMENTS) throw new CompileError(`--input ${name}=${given.join('x')}: ${sizeOf(given)} elements, more than the ${MAX_VALUE_ELEMENTS} a value may have`);
        v.shape = [...given];
      } else if (!declared || declared.some((d) => typeof d !== 'number')) {
        const shown = declared ? `[${declared.map((d) => (typeof d === 'number' ? d : '?')).join(',')}]` : 'of unknown rank';
        const dynamic = (declared ?? []).filter((d): d is string => typeof d === 'string' && !d.startsWith('?'));
        const spell = declared ? declared.map((d) => (typeof d === 'number' ? d : 'D')).join('x') : 'DxDx...';
        throw new CompileError(`input ${name} ${shown} has dynamic dimensions${dynamic.length ? ` (${[...new Set(dynamic)].join(', ')})` : ''}; bind them with --input ${name}=${spell}, each D a size`);
      }
    }
  },
};

// ---- inference and folding ----

function info(g: Graph, name: string, n: Node): ValueInfo | undefined {
  if (!name) return undefined;
  const v = g.values.get(name)!;
  const shape = staticShape(v);
  if (!shape || !v.dtype) throw new CompileError(`${n.op} node ${n.name}: input ${name} has no known shape`);
  return { dtype: v.dtype, shape, const: v.const };
}

/** Errors from inference or a kernel become one line naming the node. */
function atNode<T>(n: Node, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof VtwError) throw e;
    throw new CompileError(`${n.op} node ${n.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Evaluate a node whose inputs are all constants (the host kernels are the reference). */
export function evaluate(g: Graph, n: Node): Tensor[] {
  const ins = n.inputs.map((i) => (i ? g.values.get(i)!.const : undefined));
  return atNode(n, () => (isQuantizedOp(n.op) ? QUANTIZED_KERNELS[n.op] : KERNELS[n.op])(n, ins));
}

/** Infer one node's outputs; returns whether they were folded to constants. */
function inferNode(g: Graph, n: Node, fold: boolean): boolean {
  const ins = n.inputs.map((i) => info(g, i, n));
  const def = opDef(n.op);
  if (!def) throw new CompileError(`${n.op} node ${n.name}: unknown operator ${n.op}`);
  const outs = atNode(n, () => def.infer(n, ins));
  for (const [k, t] of outs.entries()) {
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0) || sizeOf(t.shape) > MAX_VALUE_ELEMENTS) {
      throw new CompileError(`${n.op} node ${n.name}: output ${n.outputs[k]} would be [${t.shape.join(',')}], more than the ${MAX_VALUE_ELEMENTS} elements a value may have`);
    }
  }
  const allConst = n.inputs.every((i) => !i || g.values.get(i)!.const);
  let folded: Tensor[] | undefined;
  if (fold && allConst) folded = evaluate(g, n);
  else if (fold && n.op === 'Shape') {
    // the shape of a computed value is known once the graph is bound
    const x = ins[0]!;
    folded = KERNELS.Shape(n, [{ dtype: x.dtype, shape: x.shape, data: new Float32Array(0) }]);
  }
  n.outputs.forEach((o, k) => {
    if (!o) return;
    const v = g.values.get(o)!;
    const t = outs[k];
    if (folded) {
      const f = folded[k];
      if (shapeString(f.shape) !== shapeString(t.shape)) throw new CompileError(`${n.op} node ${n.name}: inferred shape ${shapeString(t.shape)} but computed ${shapeString(f.shape)} (a bug in vtw)`);
      v.const = f;
    }
    v.dtype = t.dtype;
    v.shape = [...t.shape];
  });
  return folded !== undefined;
}

const foldConstants: Pass = {
  name: 'fold-constants',
  description: 'shape and dtype inference in one walk with constant folding: a node whose inputs are all constants (or a Shape of a bound value) is evaluated and removed, so Shape/Slice/Gather/Cast/Concat chains disappear',
  run(g) {
    g.nodes = g.nodes.filter((n) => !inferNode(g, n, true));
  },
};

const infer: Pass = {
  name: 'infer',
  description: 'shape and dtype inference without folding (re-checks a rewritten graph)',
  run(g) {
    for (const n of g.nodes) inferNode(g, n, false);
  },
};

/** Shape and dtype inference over a rewritten graph (float, quantized or mixed), without folding. */
export function inferShapes(g: Graph): Graph {
  infer.run(g, { inputShapes: new Map() });
  return g;
}

const simplify: Pass = {
  name: 'simplify',
  description: 'remove Identity and Cast to the same type (readers of the output read the input)',
  run(g) {
    const keep: Node[] = [];
    for (const n of g.nodes) {
      const x = n.inputs[0];
      const noop = n.op === 'Identity' || (n.op === 'Cast' && g.values.get(x)?.dtype === n.attrs.to);
      if (!noop || g.outputs.includes(n.outputs[0])) {
        keep.push(n);
        continue;
      }
      for (const m of g.nodes) m.inputs = m.inputs.map((i) => (i === n.outputs[0] ? x : i));
    }
    g.nodes = keep;
  },
};

const foldBatchNorm: Pass = {
  name: 'fold-batchnorm',
  description: 'BatchNormalization after a Conv whose output nothing else reads, with constant weights and statistics: folded into the Conv\'s weight and bias',
  run(g) {
    const readers = consumers(g);
    const byOutput = new Map<string, Node>();
    for (const n of g.nodes) for (const o of n.outputs) byOutput.set(o, n);
    const removed = new Set<Node>();
    for (const bn of g.nodes) {
      if (bn.op !== 'BatchNormalization') continue;
      const conv = byOutput.get(bn.inputs[0]);
      if (!conv || conv.op !== 'Conv' || g.outputs.includes(conv.outputs[0]) || (readers.get(conv.outputs[0]) ?? []).length !== 1) continue;
      const c = (i: string | undefined) => (i ? g.values.get(i)?.const : undefined);
      const w = c(conv.inputs[1]);
      const [scale, beta, mean, variance] = bn.inputs.slice(1).map(c);
      const oldBias = conv.inputs[2] ? c(conv.inputs[2]) : undefined;
      if (!w || !scale || !beta || !mean || !variance || (conv.inputs[2] && !oldBias) || w.dtype !== 'float32') continue;
      const eps = typeof bn.attrs.epsilon === 'number' ? bn.attrs.epsilon : 1e-5;
      const M = w.shape[0];
      const per = sizeOf(w.shape.slice(1));
      const nw = tensor('float32', w.shape);
      const nb = tensor('float32', [M]);
      for (let m = 0; m < M; m++) {
        const k = scale.data[m] / Math.sqrt(variance.data[m] + eps);
        for (let i = 0; i < per; i++) nw.data[m * per + i] = w.data[m * per + i] * k;
        nb.data[m] = ((oldBias ? oldBias.data[m] : 0) - mean.data[m]) * k + beta.data[m];
      }
      const wName = freshName(g, `${conv.inputs[1]}.bn`);
      g.values.set(wName, { name: wName, dtype: 'float32', shape: [...w.shape], const: nw });
      const bName = freshName(g, `${conv.name}.bias.bn`);
      g.values.set(bName, { name: bName, dtype: 'float32', shape: [M], const: nb });
      conv.inputs = [conv.inputs[0], wName, bName];
      g.values.delete(conv.outputs[0]);
      conv.outputs = [bn.outputs[0]];
      removed.add(bn);
    }
    g.nodes = g.nodes.filter((n) => !removed.has(n));
  },
};

/** The node writing each value. */
function writers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

/** Operators that take a fused activation (attribute `clip` = [lo, hi], applied to their result). */
export const CLIP_FUSABLE: readonly string[] = ['Conv', 'Gemm', 'MatMul', 'Add'];

const fuse: Pass = {
  name: 'fuse',
  description: 'Relu / Clip with constant bounds after a Conv, Gemm, MatMul or Add whose result nothing else reads become that node\'s `clip` attribute; MatMul of a 2-D input by a constant weight followed by an Add of a constant [N] or [1,N] bias becomes Gemm with that bias (VTA\'s conv/dense + bias + clip tail, add + relu)',
  run(g) {
    const c = (i: string | undefined) => (i ? g.values.get(i)?.const : undefined);
    const dropped = new Set<Node>();
    /** Replace `second` (reading only `first`'s output) by `first` writing `second`'s output. */
    const absorb = (first: Node, second: Node) => {
      g.values.delete(first.outputs[0]);
      first.outputs = [second.outputs[0]];
      dropped.add(second);
    };
    const single = (first: Node | undefined, readers: Map<string, Node[]>): boolean =>
      !!first && first.outputs.length === 1 && !g.outputs.includes(first.outputs[0]) && (readers.get(first.outputs[0]) ?? []).length === 1;
    // MatMul + constant bias -> Gemm
    let readers = consumers(g);
    let byOutput = writers(g);
    for (const add of g.nodes) {
      if (add.op !== 'Add') continue;
      const [a, b] = add.inputs;
      const mm = byOutput.get(c(a) ? b : a);
      const bias = c(a) ?? c(b);
      if (!mm || mm.op !== 'MatMul' || !bias || !single(mm, readers) || dropped.has(mm)) continue;
      const x = g.values.get(mm.inputs[0])!;
      const w = c(mm.inputs[1]);
      const N = w?.shape[1];
      if (!w || w.shape.length !== 2 || x.shape?.length !== 2 || bias.data.length !== N || bias.shape.length > 2 || (bias.shape.length === 2 && bias.shape[0] !== 1)) continue;
      mm.op = 'Gemm';
      mm.inputs = [mm.inputs[0], mm.inputs[1], c(a) ? a : b];
      absorb(mm, add);
    }
    g.nodes = g.nodes.filter((n) => !dropped.has(n));
    // activations
    readers = consumers(g);
    byOutput = writers(g);
    for (const act of g.nodes) {
      if (act.op !== 'Relu' && act.op !== 'Clip') continue;
      const first = byOutput.get(act.inputs[0]);
      if (!first || !CLIP_FUSABLE.includes(first.op) || first.attrs.clip !== undefined || !single(first, readers) || !g.values.get(first.outputs[0])?.dtype?.startsWith('float')) continue;
      let bounds: number[] = [0, Infinity];
      if (act.op === 'Clip') {
        const lo = act.inputs[1] ? c(act.inputs[1]) : undefined;
        const hi = act.inputs[2] ? c(act.inputs[2]) : undefined;
        if ((act.inputs[1] && !lo) || (act.inputs[2] && !hi)) continue;
        bounds = [lo ? lo.data[0] : -Infinity, hi ? hi.data[0] : Infinity];
      }
      first.attrs.clip = bounds;
      absorb(first, act);
    }
    g.nodes = g.nodes.filter((n) => !dropped.has(n));
  },
};

const deadCode: Pass = {
  name: 'dead-code',
  description: 'remove nodes whose outputs reach no graph output, and values nothing reads',
  run(g) {
    const live = new Set<string>(g.outputs);
    const keep: Node[] = [];
    for (let k = g.nodes.length - 1; k >= 0; k--) {
      const n = g.nodes[k];
      if (!n.outputs.some((o) => live.has(o))) continue;
      keep.push(n);
      for (const i of n.inputs) if (i) live.add(i);
    }
    g.nodes = keep.reverse();
    for (const n of g.nodes) for (const o of n.outputs) live.add(o);
    for (const i of g.inputs) live.add(i);
    for (const name of [...g.values.keys()]) if (!live.has(name)) g.values.delete(name);
  },
};

/** The default pipeline, in order. */
export const PASSES: readonly Pass[] = [bind, foldConstants, simplify, foldBatchNorm, deadCode, fuse, infer];
export const PASS_NAMES: readonly string[] = ['import', ...PASSES.map((p) => p.name)];

export interface PipelineOptions {
  inputShapes?: Map<string, number[]>;
  /** Print the graph after this pass (`import`: before the first). */
  printAfter?: string;
  print?: (text: string) => void;
  /** Passes to leave out (e.g. `fold-batchnorm`, to compare). bind, fold-constants and infer cannot be left out. */
  skip?: readonly string[];
}

export function runPasses(g: Graph, opts: PipelineOptions = {}): Graph {
  const print = opts.print ?? ((t: string) => process.stderr.write(t));
  if (opts.printAfter !== undefined && !PASS_NAMES.includes(opts.printAfter)) {
    throw new CompileError(`--print-graph ${opts.printAfter}: passes are ${PASS_NAMES.join(', ')}`);
  }
  for (const s of opts.skip ?? []) {
    if (!PASS_NAMES.includes(s) || ['import', 'bind', 'fold-constants', 'infer'].includes(s)) throw new CompileError(`cannot leave out pass ${s}; optional passes: simplify, fold-batchnorm, dead-code, fuse`);
  }
  if (opts.printAfter === 'import') print(printGraph(g));
  const ctx: PassContext = { inputShapes: opts.inputShapes ?? new Map() };
  for (const p of PASSES) {
    if (opts.skip?.includes(p.name)) continue;
    p.run(g, ctx);
    if (opts.printAfter === p.name) print(printGraph(g));
  }
  return g;
}
