/**
 * Running a compiled model (compile.ts): nodes in graph order; an offloaded node's computed
 * inputs are packed into its program's input buffers, the program runs on a VTA engine (the
 * TypeScript cycle-accurate simulator or the Verilated RTL) and its output buffer is unpacked;
 * every other node runs on the host target. The report gives per node where it ran, VTA cycles,
 * host time and DRAM bytes, and per run the totals and the fraction of MACs offloaded.
 */
import type { Engine, RunResult } from '../../src/engine/index.ts';
import type { Program } from '../../src/program/container.ts';
import { decodeLanes, encodeLanes } from '../../src/runtime/pack.ts';
import { getEngine } from '../../sim/engines.ts';
import { runSync } from '../../sim/ts/engine.ts';
import { CompileError } from '../errors.ts';
import { initialValues, nodeInputs, valueKeeper, type HostTarget } from '../graph/executor.ts';
import type { Graph, Node } from '../graph/ir.ts';
import type { Tensor } from '../graph/tensor.ts';
import type { Kernel } from '../host/kernels.ts';
import type { OperandLayout } from '../ops/op.ts';
import { programLayout, type CompiledModel, type VtaNodeProgram } from './compile.ts';

export type VtaEngineName = 'ts' | 'verilator';

export interface RunModelOptions {
  engine: VtaEngineName;
  host: HostTarget;
  /** Progress messages of the engine (the Verilator build). */
  onProgress?: (msg: string) => void;
}

export interface NodeReport {
  name: string;
  op: string;
  where: 'vta' | 'host';
  vtaCycles?: number;
  /** Wall time on the host: the kernel, or for a VTA node packing, simulating and unpacking. */
  hostMs: number;
  /** Bytes VTA moved between DRAM and its SRAMs (instructions, micro-ops, data). */
  dramBytes?: number;
}

export interface ModelRun {
  outputs: Map<string, Tensor>;
  nodes: NodeReport[];
  vtaCycles: number;
  /** Wall time of the nodes that ran on the host target. */
  hostMs: number;
  offloadedMacsFraction: number;
}

/** What a model needs at run time besides its programs, built once per CompiledModel. */
interface Prepared {
  layouts: Map<string, OperandLayout>;
  hostKernels: Map<Node, Kernel>;
  hostName: string;
  engine?: Engine;
}

const prepared = new WeakMap<CompiledModel, Map<string, Prepared>>();

/** The host part of the graph: the nodes that have no VTA program. */
export function hostGraph(m: CompiledModel): Graph {
  return { ...m.graph, nodes: m.graph.nodes.filter((n) => !m.vta.has(n.name)) };
}

async function prepare(m: CompiledModel, opts: RunModelOptions): Promise<Prepared> {
  const key = `${opts.engine} ${opts.host.name}`;
  let byKey = prepared.get(m);
  if (!byKey) prepared.set(m, (byKey = new Map()));
  const have = byKey.get(key);
  if (have) return have;
  const host = hostGraph(m);
  await opts.host.prepare?.(host);
  const hostKernels = new Map<Node, Kernel>();
  for (const n of host.nodes) {
    const k = opts.host.kernelFor(n, m.graph);
    if (!k) throw new CompileError(`host target ${opts.host.name} has no kernel for ${n.op} (node ${n.name})`);
    hostKernels.set(n, k);
  }
  const layouts = new Map([...m.vta].map(([name, p]) => [name, programLayout(p, m.config)]));
  const p: Prepared = { layouts, hostKernels, hostName: opts.host.name, engine: opts.engine === 'ts' ? undefined : getEngine(opts.engine, { onProgress: opts.onProgress }) };
  byKey.set(key, p);
  return p;
}

/** Lane values -> bytes (8- and 32-bit lanes through typed-array views: the fast path per run). */
function toBytes(values: Int32Array, bits: number): Uint8Array {
  if (bits === 8) return new Uint8Array(Int8Array.from(values).buffer);
  if (bits === 32) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return encodeLanes(values, bits);
}

function fromBytes(bytes: Uint8Array, bits: number, count: number): ArrayLike<number> {
  if (bits === 8) return new Int8Array(bytes.buffer, bytes.byteOffset, count);
  return decodeLanes(bytes, bits, count);
}

/** One offloaded node: pack, run, unpack. */
async function runOnVta(p: VtaNodeProgram, layout: OperandLayout, ins: (Tensor | undefined)[], engine: Engine | undefined): Promise<{ out: Tensor; result: RunResult }> {
  const fill = new Map<string, Uint8Array>();
  for (const slot of p.inputs) {
    const t = ins[slot.index];
    if (!t) throw new CompileError(`node ${p.node}: input ${slot.index} is missing`);
    fill.set(slot.buffer, toBytes(layout.pack[slot.index](t.data), slot.bits));
  }
  const program: Program = { config: p.program.config, buffers: p.program.buffers.map((b) => (fill.has(b.name) ? { ...b, data: fill.get(b.name) } : b)) };
  const result = engine ? await engine.run(program, { insnTiming: false }) : runSync(program, { insnTiming: false });
  if (result.error) throw new CompileError(`node ${p.node} on VTA (${engine?.name ?? 'ts'} engine): ${result.error.kind}: ${result.error.message}`);
  const ob = program.buffers.find((b) => b.name === p.output.buffer)!;
  const packed = fromBytes(result.dram.subarray(ob.addr, ob.addr + ob.size), p.output.bits, p.output.count);
  const natural = layout.unpack(packed);
  return { out: { dtype: 'int8', shape: [...p.output.shape], data: Int8Array.from(natural) }, result };
}

/** Run a compiled model on `inputs` (by graph input name). */
export async function runModel(m: CompiledModel, inputs: Map<string, Tensor>, opts: RunModelOptions): Promise<ModelRun> {
  const prep = await prepare(m, opts);
  const g = m.graph;
  const env = initialValues(g, inputs);
  const keep = valueKeeper(g);
  const nodes: NodeReport[] = [];
  let vtaCycles = 0;
  let hostMs = 0;
  for (const n of g.nodes) {
    const ins = nodeInputs(n, env);
    const t0 = performance.now();
    const p = m.vta.get(n.name);
    if (p) {
      const { out, result } = await runOnVta(p, prep.layouts.get(n.name)!, ins, prep.engine);
      const ms = performance.now() - t0;
      const c = result.counters;
      const dramBytes = Object.values(c.bytes).reduce((a, b) => a + b, 0);
      nodes.push({ name: n.name, op: n.op, where: 'vta', vtaCycles: c.cycles, hostMs: ms, dramBytes });
      vtaCycles += c.cycles;
      keep(n, [out], env);
    } else {
      const outs = prep.hostKernels.get(n)!(n, ins);
      const ms = performance.now() - t0;
      nodes.push({ name: n.name, op: n.op, where: 'host', hostMs: ms });
      hostMs += ms;
      keep(n, outs, env);
    }
  }
  const outputs = new Map<string, Tensor>();
  for (const o of g.outputs) outputs.set(o, env.get(o)!);
  return { outputs, nodes, vtaCycles, hostMs, offloadedMacsFraction: m.partition.offloadedMacsFraction };
}
