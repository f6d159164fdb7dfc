/**
 * A compiled host target for the graph executor: the quantized operators of a graph
 * (compiler/graph/quantized.ts: QConv, QDense, QAdd, QMaxPool) run as functions the cpu (C) or
 * wasm back end builds from the operator registry's definitions and host strategies, the same way
 * `vtw op --target cpu|wasm` builds them; every other node runs on the fallback host target
 * (the plain TypeScript kernels). `prepare(g)` builds one function per quantized node, with its
 * weights packed once; results are bit-exact with the reference kernels.
 */
import type { Derived } from '../../src/config/derive.ts';
import { kernelArgs, type KernelArray } from '../cpu/op.ts';
import { CompileError } from '../errors.ts';
import type { HostTarget } from '../graph/executor.ts';
import { type Graph, type Node } from '../graph/ir.ts';
import { isQuantizedOp } from '../graph/quantized.ts';
import type { Tensor } from '../graph/tensor.ts';
import type { Kernel } from '../host/kernels.ts';
import { TS_HOST } from '../host/ts.ts';
import { findOperator } from '../ops/registry.ts';
import { compileOperator } from './compile.ts';
import { operatorCall, outputShape, type OperatorCall } from './operator-call.ts';
import { targetString, type CpuTargetSpec, type WasmTargetSpec } from './target.ts';

/**
 * The graph host of a cpu or wasm target. `d` gives the data widths, which must be the quantized
 * graph's (int8 data and weights, int32 accumulator, int8 output).
 */
export function compiledHost(target: CpuTargetSpec | WasmTargetSpec, d: Derived, fallback: HostTarget = TS_HOST): HostTarget {
  if (d.inpWidth !== 8 || d.wgtWidth !== 8 || d.accWidth !== 32 || d.outWidth !== 8) {
    throw new CompileError(`the quantized graph is int8 x int8 -> int32 -> int8; configuration ${d.variant} has other data widths`);
  }
  const kernels = new Map<Node, Kernel>();
  return {
    name: targetString(target),
    async prepare(g) {
      for (const node of g.nodes) {
        if (kernels.has(node)) continue;
        const call = operatorCall(node, g);
        if (!call) continue;
        const compiled = await compileOperator(findOperator(call.op), call.shape, call.params, target, d);
        if (compiled.kind !== 'cpu' && compiled.kind !== 'wasm') throw new CompileError(`internal: ${call.op} compiled for ${compiled.kind}`);
        kernels.set(node, boundKernel(node, g, compiled.op, call));
      }
    },
    kernelFor(node, g) {
      const k = kernels.get(node);
      if (k) return k;
      if (isQuantizedOp(node.op) && operatorCall(node, g)) throw new CompileError(`host target ${targetString(target)}: node ${node.name} was not prepared (await prepare(graph) first)`);
      return fallback.kernelFor(node, g);
    },
  };
}

/**
 * A kernel with the node's constants bound once: the first call's arguments are kept and later
 * calls copy only the computed inputs into them (where `bind` passed them through unchanged).
 */
function boundKernel(node: Node, g: Graph, op: { def: Parameters<typeof kernelArgs>[0]; kernel: { call(args: KernelArray[]): void } }, call: OperatorCall): Kernel {
  const consts = node.inputs.map((name) => (name ? g.values.get(name)?.const : undefined));
  // Natural-layout operand values in the definition's order (node inputs, an omitted bias left out).
  const natural = (ins: (Tensor | undefined)[]) =>
    node.inputs.flatMap((name, i) => (name ? [Int32Array.from((consts[i] ?? ins[i])!.data as ArrayLike<number>)] : []));
  let cached: { args: KernelArray[]; out: KernelArray; slots: number[] } | undefined;
  const outShape = outputShape(node, g);
  return (_n, ins) => {
    for (const i of call.variable) if (!ins[i]) throw new CompileError(`${node.op} node ${node.name}: input ${i} is missing`);
    const nat = natural(ins);
    if (!cached) {
      const { args, out } = kernelArgs(op.def, nat);
      // Where each computed input landed among the arguments (bind passes data through), if it did.
      const bound = op.def.bind ? op.def.bind(nat) : nat;
      const slots = call.variable.map((i) => bound.indexOf(nat[i]));
      cached = { args, out, slots };
    } else if (cached.slots.every((s) => s >= 0)) {
      call.variable.forEach((i, j) => cached!.args[cached!.slots[j]].set(nat[i]));
    } else {
      const { args, out } = kernelArgs(op.def, nat);
      cached = { args, out, slots: cached.slots };
    }
    op.kernel.call(cached.args);
    return [{ dtype: 'int8', shape: outShape, data: Int8Array.from(cached.out) }];
  };
}
