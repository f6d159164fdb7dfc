/**
 * A compiled host target for the graph executor: the quantized operators of a graph
 * (compiler/graph/quantized.ts: QConv, QDense, QAdd, QMaxPool) run as functions the cpu (C) or
 * wasm back end builds from the operator registry's definitions and host strategies, the same way
 * `vtw op --target cpu|wasm` builds them; runs of element-wise nodes (quantize / dequantize at the
 * float boundaries, hard-swish, the SE blocks' scaling, ...) run as one fused loop each
 * (compiler/host/fused.ts; C on the cpu target, compiler/cpu/fused.ts, WebAssembly f64x2 on wasm, compiler/wasm/fused.ts, JavaScript where neither says a member exactly), float convolutions as C on the cpu target (compiler/cpu/float-conv.ts)
 * and as WebAssembly with f64x2 lanes on wasm (compiler/wasm/float-conv.ts), global average pooling planned (compiler/host/planned.ts); every other node runs on the fallback host target (the plain
 * TypeScript kernels). `prepare(g)` plans it all once: one function per quantized node with its
 * weights packed and its argument and output arrays allocated, the fused loops generated; a run
 * allocates nothing but the arrays of values that outlive it (graph outputs). Runs reuse the
 * planned arrays, so one run of a graph must end before the next starts (runGraph is synchronous;
 * runModel's awaits are not to be interleaved with another run on the same host). Results are
 * bit-exact with the reference kernels.
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Kernel as BuildKernel } from '../cpu/build.ts';
import { buildFloatConv } from '../cpu/float-conv.ts';
import { isFloatConv } from '../host/conv-loop.ts';
import { buildFused } from '../cpu/fused.ts';
import { buildWasmFloatConv } from '../wasm/float-conv.ts';
import { buildWasmFused } from '../wasm/fused.ts';
import { kernelArgs, type KernelArray } from '../cpu/op.ts';
import { CompileError } from '../errors.ts';
import { escaping } from '../graph/escaping.ts';
import type { HostTarget } from '../graph/executor.ts';
import { consumers, type Graph, type Node } from '../graph/ir.ts';
import { isQuantizedOp } from '../graph/quantized.ts';
import { sizeOf, type Tensor } from '../graph/tensor.ts';
import { plannedKernel } from '../host/planned.ts';
import { elementwiseGroups, groupKernels, JS_LANG, planLoop, writtenIn, type ElementwiseGroup, type Loop, type LoopPlan } from '../host/fused.ts';
import type { Kernel } from '../host/kernels.ts';
import { TS_HOST } from '../host/ts.ts';
import { findOperator } from '../ops/registry.ts';
import { compileOperator } from './compile.ts';
import { operatorCall, outputShape, shapeOf, type OperatorCall } from './operator-call.ts';
import { targetString, type CpuTargetSpec, type WasmTargetSpec } from './target.ts';

/**
 * The graph host of a cpu or wasm target. `d` gives the data widths, which must be the quantized
 * graph's (int8 data and weights, int32 accumulator, int8 output). Kernels are bound to a graph's
 * nodes (weights, plans) at first use: a graph rewritten after it ran here must run on a fresh
 * host, or on `observable()`, which binds nothing and fuses nothing (calibration uses it).
 */
export function compiledHost(target: CpuTargetSpec | WasmTargetSpec, d: Derived, fallback: HostTarget = TS_HOST, opts: { observable?: boolean } = {}): HostTarget {
  if (d.inpWidth !== 8 || d.wgtWidth !== 8 || d.accWidth !== 32 || d.outWidth !== 8) {
    throw new CompileError(`the quantized graph is int8 x int8 -> int32 -> int8; configuration ${d.variant} has other data widths`);
  }
  const compiled = new Map<Node, { op: CompiledOp; call: OperatorCall }>();
  const groupOf = new Map<Node, ElementwiseGroup>();
  // cpu: float convolutions as C (compiler/cpu/float-conv.ts); wasm: as WebAssembly (compiler/wasm/float-conv.ts)
  const floatConvs = new Map<Node, BuildKernel>();
  const wasmFloatConvs = new Map<Node, (fresh: boolean) => Kernel>();
  // the fused element-wise loops as C (cpu: compiler/cpu/fused.ts) or WebAssembly (wasm: compiler/wasm/fused.ts), planned against the prepared graph
  const compiledLoops = new Map<ElementwiseGroup, { plan: LoopPlan; loop: Loop }>();
  // Kernels are made at the first kernelFor, against the graph they will run in (the prepared
  // graph may be a part of it: which values have readers outside a node is the whole graph's).
  const kernels = new WeakMap<Graph, Map<Node, Kernel>>();
  const kernelsIn = (g: Graph) => {
    let m = kernels.get(g);
    if (!m) kernels.set(g, (m = new Map()));
    return m;
  };
  // observable (HostTarget.observable): no fused groups, and every value in an array of its own
  const escapes = (g: Graph) => (opts.observable ? () => true : escaping(g));
  let observable: HostTarget | undefined;
  return {
    name: targetString(target),
    observable: () => (opts.observable ? undefined : (observable ??= compiledHost(target, d, fallback, { observable: true }))),
    async prepare(g) {
      for (const node of g.nodes) {
        if (compiled.has(node)) continue;
        const call = operatorCall(node, g);
        if (!call) continue;
        const op = await compileOperator(findOperator(call.op), call.shape, call.params, target, d, target.kind === 'cpu' && macsOf(call) < PARALLEL_MIN_MACS ? { knobs: { threads: 1 } } : {});
        if (op.kind !== 'cpu' && op.kind !== 'wasm') throw new CompileError(`internal: ${call.op} compiled for ${op.kind}`);
        compiled.set(node, { op: op.op, call });
      }
      for (const node of g.nodes) {
        if (!isFloatConv(node, g) || floatConvs.has(node) || wasmFloatConvs.has(node)) continue;
        if (target.kind === 'cpu') floatConvs.set(node, await buildFloatConv(node, g, target));
        else wasmFloatConvs.set(node, await buildWasmFloatConv(node, g));
      }
      for (const group of opts.observable ? [] : elementwiseGroups(g, g.nodes.filter((n) => !compiled.has(n)))) {
        if (group.nodes.some((n) => groupOf.has(n))) continue;
        for (const n of group.nodes) groupOf.set(n, group);
        const c = target.kind === 'cpu' ? await buildFused(group, g, escapes(g), target) : await buildWasmFused(group, g, escapes(g));
        if (c) compiledLoops.set(group, c);
      }
    },
    kernelFor(node, g) {
      // observable: made afresh at each call (a pass such as channel scaling may have rewritten the graph between runs)
      const made = opts.observable ? new Map<Node, Kernel>() : kernelsIn(g);
      const have = made.get(node);
      if (have) return have;
      const c = compiled.get(node);
      if (c) {
        const k = boundKernel(node, g, c.op, c.call, escapes(g));
        made.set(node, k);
        return k;
      }
      const wfc = wasmFloatConvs.get(node);
      if (wfc) {
        const k = wfc(escapes(g)(node.outputs[0]));
        made.set(node, k);
        return k;
      }
      const fc = floatConvs.get(node);
      if (fc) {
        const k = floatConvKernel(node, g, fc, escapes(g)(node.outputs[0]));
        made.set(node, k);
        return k;
      }
      const group = groupOf.get(node);
      if (group) {
        // the compiled loop where its plan holds in this graph (the same values written out), else JavaScript
        const c = compiledLoops.get(group);
        const plan = planLoop(group, g, writtenIn(group, g, escapes(g)), JS_LANG);
        const same = c && plan && JSON.stringify([c.plan.inputSlots, c.plan.outSlot, c.plan.slotTypes]) === JSON.stringify([plan.inputSlots, plan.outSlot, plan.slotTypes]);
        for (const [n, k] of groupKernels(group, g, escapes(g), same ? c : undefined)) made.set(n, k);
        return made.get(node)!;
      }
      const planned = plannedKernel(node, g, escapes(g)(node.outputs[0]));
      if (planned) {
        made.set(node, planned);
        return planned;
      }
      if (isQuantizedOp(node.op) && operatorCall(node, g)) throw new CompileError(`host target ${targetString(target)}: node ${node.name} was not prepared (await prepare(graph) first)`);
      return fallback.kernelFor(node, g);
    },
  };
}

/**
 * Below this many multiply-accumulates a graph node runs on one thread on the cpu target: waking
 * the pool's worker and sharing the loop costs more than such a node's work (a small conv runs in
 * a few microseconds), and the graph's nodes come one after another, with typed-array kernels in
 * between, so the worker is usually asleep. Measured on the PaddleOCR classifier (all its convs are
 * below 1.3 M MACs) on the 2-core machine under load: its QConv nodes took 10 ms in all on two
 * threads, 2 ms on one.
 */
const PARALLEL_MIN_MACS = 4_000_000;

/** Multiply-accumulates of a node's operator (0 for add and pooling). */
function macsOf(call: OperatorCall): number {
  if (call.op === 'conv2d') {
    const [h, w, c, co, k, pad, stride] = call.shape;
    const out = (x: number) => Math.floor((x + 2 * pad - k) / stride) + 1;
    return call.params.batch * co * out(h) * out(w) * (c / call.params.groups) * k * k;
  }
  if (call.op === 'dense') return call.shape[0] * call.shape[1] * call.shape[2];
  return 0;
}

/** A float conv node's C kernel: the input array in place, the constant weight (and bias), the output array reused unless it outlives the run. */
function floatConvKernel(node: Node, g: Graph, k: BuildKernel, fresh: boolean): Kernel {
  const consts = node.inputs.slice(1).filter(Boolean).map((name) => g.values.get(name)!.const!.data);
  const shape = outputShape(node, g);
  const y = new Float32Array(sizeOf(shape));
  const args: ArrayBufferView[] = [y, ...consts, y];
  return (_n, [x]) => {
    const out = fresh ? new Float32Array(y.length) : y;
    args[0] = x!.data;
    args[args.length - 1] = out;
    k.call(args);
    return [{ dtype: 'float32', shape, data: out }];
  };
}

type CompiledOp = { def: Parameters<typeof kernelArgs>[0]; kernel: { call(args: KernelArray[]): void } };

/**
 * A compiled node's kernel, planned once: its constants bound (packed) and its argument arrays
 * allocated at the first kernelFor. A call hands the computed inputs' arrays to the kernel in
 * place (no copy where the argument type is the input's) and returns the output array itself,
 * reused by the next run unless the value outlives the run.
 */
function boundKernel(node: Node, g: Graph, op: CompiledOp, call: OperatorCall, escapes: (name: string) => boolean): Kernel {
  const consts = node.inputs.map((name) => (name ? g.values.get(name)?.const : undefined));
  // Natural-layout operand values in the definition's order (node inputs, an omitted bias left out):
  // the constants, and zeros of the right size where the computed inputs go.
  const natural = node.inputs.flatMap((name, i) => (name ? [consts[i] ? Int32Array.from(consts[i]!.data as ArrayLike<number>) : new Int32Array(sizeOf(shapeOf(g, name, node)))] : []));
  const { args, out } = kernelArgs(op.def, natural);
  // Where each computed input lands among the arguments (bind passes data through), if it does.
  const bound = op.def.bind ? op.def.bind(natural) : natural;
  const slots = call.variable.map((i) => bound.indexOf(natural[i]));
  const outShape = outputShape(node, g);
  const fresh = escapes(node.outputs[0]);
  const last = args.length - 1;
  const int8Out = out instanceof Int8Array;
  return (_n, ins) => {
    for (let j = 0; j < call.variable.length; j++) {
      const i = call.variable[j];
      const t = ins[i];
      if (!t) throw new CompileError(`${node.op} node ${node.name}: input ${i} is missing`);
      const s = slots[j];
      if (s < 0) {
        // bind transforms this input: pack every operand again (not the case of any host strategy today)
        natural[i] = Int32Array.from(t.data as ArrayLike<number>);
        const again = kernelArgs(op.def, natural).args;
        for (let a = 0; a < last; a++) args[a] = again[a];
      } else if (t.data instanceof Int8Array && args[s] instanceof Int8Array && t.data.length === args[s].length) args[s] = t.data;
      else args[s].set(t.data as ArrayLike<number>);
    }
    if (fresh && int8Out) args[last] = new Int8Array(out.length);
    op.kernel.call(args);
    const data = int8Out ? (args[last] as Int8Array) : Int8Array.from(args[last]);
    return [{ dtype: 'int8', shape: outShape, data }];
  };
}
