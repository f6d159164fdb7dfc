/**
 * A GPU host target for the graph executor (compiler/graph/executor.ts `HostTarget`): the quantized
 * operators of a graph (compiler/graph/quantized.ts: QConv incl. group / depthwise, QDense, QAdd,
 * QMaxPool) run as GPU kernels from the operators' GPU schedules (compiler/gpu/strategies.ts), every
 * other node on the fallback host target (the plain TypeScript kernels by default).
 *
 * `prepare(g)` builds the kernels of all of g's quantized nodes as ONE program (each node's
 * kernels named after it: `vtw_n<i>_<op>_k<j>`), allocates every node's device buffers (inputs,
 * output, scratch) and uploads its constant operands (weights packed by the definition's `bind`,
 * bias) once. A run of a node writes its computed inputs into its buffers, launches its kernels
 * and reads its output back; nothing is allocated per run but the arrays of values that outlive
 * the run (graph outputs), as on the cpu / wasm hosts (compiler/target/graph-host.ts). One run of a
 * graph must end before the next starts on the same host. Results are bit-exact with the reference
 * kernels.
 *
 * - opencl: the program is built on the first OpenCL device (compiler/gpu/opencl.ts).
 * - cuda: the program is compiled with nvcc for the target's architectures (compiler/gpu/cuda.ts,
 *   cached); without a CUDA driver or GPU, `prepare` then fails with one line saying so. The
 *   driver-API path has not run on a GPU yet (docs/gpu.md).
 *
 * Not built: values stay on the device between consecutive GPU nodes only through the host (each
 * node reads its output back, the next writes it again).
 */
import type { Derived } from '../../src/config/derive.ts';
import { CompileError } from '../errors.ts';
import { escaping } from '../graph/escaping.ts';
import type { HostTarget } from '../graph/executor.ts';
import type { Graph, Node } from '../graph/ir.ts';
import { quantizedWidthsError } from '../graph/offload.ts';
import { isQuantizedOp } from '../graph/quantized.ts';
import { sizeOf, type Tensor } from '../graph/tensor.ts';
import type { Kernel } from '../host/kernels.ts';
import { TS_HOST } from '../host/ts.ts';
import { findOperator } from '../ops/registry.ts';
import { operatorCall, outputShape, shapeOf, type OperatorCall } from '../target/operator-call.ts';
import { targetString, type GpuTargetSpec } from '../target/target.ts';
import { dtypeBits } from '../ir/expr.ts';
import type { GpuKernel } from './codegen.ts';
import { buildCuda, checkSharedMemory, cudaGpu0, cudaUnavailable, CudaSession } from './cuda.ts';
import { buildGpuOp, typedArray, type GpuOp, type GpuSession } from './op.ts';
import { OpenclSession } from './opencl.ts';

/** One quantized node on the device: its operator, its kernels' indices in the session, its buffers. */
interface NodeProgram {
  call: OperatorCall;
  op: GpuOp;
  session: GpuSession;
  kernels: number[];
  /** Buffer indices in the session, in the kernels' argument order (inputs, outputs, scratch). */
  buffers: number[];
}

export interface GpuHostInfo {
  /** The device the kernels run on (undefined until a prepared graph had a quantized node). */
  device?: string;
  /** Kernels built, over all prepared graphs. */
  kernels: number;
  /** Quantized nodes that run on the device. */
  nodes: number;
}

/**
 * The graph host of an opencl or cuda target. `d` gives the data widths, which must be the
 * quantized graph's (int8 data and weights, int32 accumulator, int8 output). `info` reports what
 * was built and where it runs.
 */
export function gpuHost(target: GpuTargetSpec, d: Derived, fallback: HostTarget = TS_HOST, opts: { observable?: boolean } = {}): HostTarget & { info: GpuHostInfo } {
  const why = quantizedWidthsError(d);
  if (why) throw new CompileError(why);
  const programs = new Map<Node, NodeProgram>();
  const kernels = new WeakMap<Graph, Map<Node, Kernel>>();
  const info: GpuHostInfo = { kernels: 0, nodes: 0 };
  let observable: (HostTarget & { info: GpuHostInfo }) | undefined;
  let seq = 0;
  return {
    name: targetString(target),
    info,
    observable: () => (opts.observable ? undefined : (observable ??= gpuHost(target, d, fallback, { observable: true }))),
    async prepare(g) {
      const fresh: { node: Node; call: OperatorCall; op: GpuOp }[] = [];
      for (const node of g.nodes) {
        if (programs.has(node)) continue;
        const call = operatorCall(node, g);
        if (!call) continue;
        const entry = findOperator(call.op);
        fresh.push({ node, call, op: buildGpuOp(entry.define(call.shape, call.params, d), entry.strategies.gpu, target, {}, `n${seq++}_${call.op}`) });
      }
      if (!fresh.length) return;
      const launches = fresh.flatMap((f) => f.op.source.kernels);
      const source = fresh.map((f) => f.op.source.text).join('\n');
      const session = await openSession(target, source, launches, fresh.length);
      info.device = session.deviceName;
      info.kernels += launches.length;
      info.nodes += fresh.length;
      let k = 0;
      for (const { node, call, op } of fresh) {
        const buffers = session.addBuffers(op.source.params.map((b) => b.size * Math.max(1, dtypeBits(b.dtype) / 8)));
        const ks = op.source.kernels.map(() => k++);
        for (const i of ks) session.setArgs(i, buffers);
        const p: NodeProgram = { call, op, session, kernels: ks, buffers };
        uploadOperands(p, node, g);
        programs.set(node, p);
      }
      // One launch of every kernel now: an OpenCL implementation may compile a kernel for its
      // work-group size at its first launch (PoCL does), which belongs to the build, not to a run.
      session.launch(launches.map((_, i) => i));
      session.read(programs.get(fresh[0].node)!.buffers[0], new Uint8Array(1)); // waits for them (in-order queue)
    },
    kernelFor(node, g) {
      // observable: made afresh at each call, the constants uploaded again (a pass such as channel
      // scaling may have rewritten the graph's weights between runs)
      let made = kernels.get(g);
      if (!made) kernels.set(g, (made = new Map()));
      const have = opts.observable ? undefined : made.get(node);
      if (have) return have;
      const p = programs.get(node);
      if (!p) {
        if (isQuantizedOp(node.op) && operatorCall(node, g)) throw new CompileError(`host target ${targetString(target)}: node ${node.name} was not prepared (await prepare(graph) first)`);
        return fallback.kernelFor(node, g);
      }
      if (opts.observable) uploadOperands(p, node, g);
      const k = nodeKernel(node, g, p, opts.observable ? true : escaping(g)(node.outputs[0]));
      made.set(node, k);
      return k;
    },
  };
}

/** The device a GPU host target's kernels run on (undefined: not a GPU host, or nothing was built for it). */
export function gpuDevice(h: HostTarget): string | undefined {
  return 'info' in h ? (h as { info: GpuHostInfo }).info.device : undefined;
}

/**
 * Build the program on the target's device. cuda: with nvcc for the target's architectures and,
 * where a GPU is, its own (`--host cuda` runs on any GPU); without a driver or GPU, one line.
 */
async function openSession(target: GpuTargetSpec, source: string, launches: GpuKernel[], nodes: number): Promise<GpuSession> {
  if (target.kind === 'opencl') return new OpenclSession(source, launches);
  const noGpu = cudaUnavailable();
  const archs = noGpu ? target.archs : [...new Set([...target.archs, cudaGpu0().arch])];
  const build = await buildCuda(source, archs);
  checkSharedMemory(build);
  if (noGpu) throw new CompileError(`host ${targetString(target)}: ${launches.length} kernels of ${nodes} quantized nodes compiled with nvcc for ${archs.join(', ')}, not run: ${noGpu}`);
  return new CudaSession(build, launches);
}

/** The natural-layout operand values of a node (the constants; zeros where computed inputs go) and their bound (packed) form. */
function operandsOf(node: Node, g: Graph, op: GpuOp): { natural: Int32Array[]; bound: Int32Array[] } {
  const natural = node.inputs.flatMap((name) => {
    if (!name) return [];
    const c = g.values.get(name)?.const;
    return [c ? Int32Array.from(c.data as ArrayLike<number>) : new Int32Array(sizeOf(shapeOf(g, name, node)))];
  });
  return { natural, bound: op.def.bind ? op.def.bind(natural) : natural };
}

/** Write every input operand of the node's kernels (constants packed; computed inputs as zeros until a run writes them). */
function uploadOperands(p: NodeProgram, node: Node, g: Graph): void {
  const { bound } = operandsOf(node, g, p.op);
  writeInputs(p, bound);
}

function writeInputs(p: NodeProgram, bound: Int32Array[]): void {
  p.op.source.inputs.forEach((b, i) => {
    const a = typedArray(b.dtype, b.size);
    a.set(bound[i]);
    p.session.write(p.buffers[i], a);
  });
}

/**
 * A node's kernel: its computed inputs written into their buffers (straight from the tensor's
 * array where the types match), its kernels launched, its output read back into an array reused
 * by the next run unless the value outlives the run (`fresh`).
 */
function nodeKernel(node: Node, g: Graph, p: NodeProgram, fresh: boolean): Kernel {
  const { natural, bound } = operandsOf(node, g, p.op);
  // Where each computed input lands among the kernels' inputs (bind passes data through), if it does.
  const slots = p.call.variable.map((i) => bound.indexOf(natural[i]));
  const src = p.op.source;
  const staging = src.inputs.map((b) => typedArray(b.dtype, b.size));
  const outBuf = src.outputs[0];
  const shape = outputShape(node, g);
  if (outBuf.size !== sizeOf(shape)) throw new CompileError(`internal: ${node.name}: the kernel writes ${outBuf.size} values, the node's output has ${sizeOf(shape)}`);
  const int8Out = outBuf.dtype === 'int8';
  const raw = int8Out ? undefined : typedArray(outBuf.dtype, outBuf.size);
  let out = new Int8Array(outBuf.size);
  const outIndex = src.inputs.length;
  return (_n, ins) => {
    for (let j = 0; j < p.call.variable.length; j++) {
      const i = p.call.variable[j];
      const t = ins[i];
      if (!t) throw new CompileError(`${node.op} node ${node.name}: input ${i} is missing`);
      const s = slots[j];
      if (s < 0) {
        // bind transforms this input: pack every operand again (not the case of any GPU definition today)
        natural[i] = Int32Array.from(t.data as ArrayLike<number>);
        writeInputs(p, p.op.def.bind!(natural));
      } else if (t.data instanceof Int8Array && staging[s] instanceof Int8Array && t.data.length === staging[s].length) {
        p.session.write(p.buffers[s], t.data);
      } else {
        staging[s].set(t.data as ArrayLike<number>);
        p.session.write(p.buffers[s], staging[s]);
      }
    }
    p.session.launch(p.kernels);
    if (fresh) out = new Int8Array(outBuf.size);
    if (raw) {
      p.session.read(p.buffers[outIndex], raw);
      out.set(raw);
    } else {
      p.session.read(p.buffers[outIndex], out);
    }
    const result: Tensor = { dtype: 'int8', shape, data: out };
    return [result];
  };
}
