/**
 * A quantized graph compiled for a VTA configuration (issue 13 item 4): the partition
 * (compiler/graph/partition.ts) decides which nodes run on VTA; each of those is compiled once,
 * with the node's own weights, bias, shift and clip, by the compiler `vtw op` uses (the operator
 * registry through compileOperator), into a program container whose constant operands are
 * already packed in DRAM. The rest of the graph stays a graph for the host target.
 *
 * Per run, only the node's computed inputs are packed into its program's input buffers and its
 * output buffer is unpacked (compiler/model/run.ts); `OperandLayout` (the registry's `vtaLayout`)
 * says how, so a model loaded from an artifact needs no compile.
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Program } from '../../src/program/container.ts';
import { CompileError } from '../errors.ts';
import type { Graph } from '../graph/ir.ts';
import { partitionGraph, type Partition } from '../graph/partition.ts';
import { dtypeBits } from '../ir/expr.ts';
import type { Knobs } from '../ops/common.ts';
import type { OperandLayout } from '../ops/op.ts';
import { findOperator, type OpParams } from '../ops/registry.ts';
import { compileOperator } from '../target/compile.ts';
import { operatorCall, outputShape } from '../target/operator-call.ts';
import { bestScheduleRecord, type TuneRecord } from '../tune/log.ts';
import { tuneKey } from '../tune/task.ts';
import { emitModule } from '../vta/build.ts';

/** One program buffer of a node's program: its name and the bits of one element. */
export interface ProgramSlot {
  buffer: string;
  bits: number;
}

/** The VTA program of one offloaded node. */
export interface VtaNodeProgram {
  node: string;
  /** The registry operator and the instance (shape, parameters) it was compiled as. */
  op: string;
  shape: number[];
  params: OpParams;
  knobs: Knobs;
  /** Constants (weights, bias) already packed in; computed inputs are zero-filled placeholders. */
  program: Program;
  /** The computed inputs: the node input index and the program buffer it is packed into. */
  inputs: (ProgramSlot & { index: number })[];
  /** The output buffer, its element count (packed), and the node output's natural shape. */
  output: ProgramSlot & { count: number; shape: number[] };
  /** Useful multiply-accumulates. */
  macs: number;
}

export interface CompiledModel {
  /** The quantized graph: nodes without a VTA program run on the host target. */
  graph: Graph;
  config: Derived;
  /** The configuration's name as the user gave it (preset name, file) and its variant string. */
  configName: string;
  /** Per node name, in graph order: where it runs and its MACs. */
  partition: Pick<Partition, 'macs' | 'offloadedMacs' | 'offloadedMacsFraction'> & { nodes: { name: string; where: 'vta' | 'host'; macs: number; reason: string | null }[] };
  /** VTA programs by node name. */
  vta: Map<string, VtaNodeProgram>;
  /** The model file it was compiled from (for messages that say how to recompile). */
  source?: string;
  /** Nodes compiled with knobs from a tuning log (CompileModelOptions.tuned), with the log's cost. */
  tuned?: { node: string; cost: number; unit: string }[];
}

export interface CompileModelOptions {
  /** Name of the configuration for reports and the artifact (default: its variant string). */
  configName?: string;
  /** The model file (kept in the artifact: how to recompile). */
  source?: string;
  /**
   * A tuning log's records (compiler/tune/log.ts): a node whose operator, shape and parameters (any
   * shift) were tuned on this configuration compiles with the best record's knobs.
   */
  tuned?: readonly TuneRecord[];
  /** Called after each compiled node (progress). */
  onNode?: (done: number, total: number, node: string) => void;
}

/** Compile the offloaded nodes of a quantized graph (shapes inferred) for configuration `d`. */
export async function compileModel(g: Graph, d: Derived, opts: CompileModelOptions = {}): Promise<CompiledModel> {
  const part = partitionGraph(g, d);
  const vta = new Map<string, VtaNodeProgram>();
  const offloaded = part.nodes.filter((p) => p.where === 'vta');
  const tuned: NonNullable<CompiledModel['tuned']> = [];
  for (const [i, p] of offloaded.entries()) {
    vta.set(p.node.name, await compileNode(g, p.node, d, p.macs, opts.tuned, (r) => tuned.push({ node: p.node.name, cost: r.cost, unit: r.unit })));
    opts.onNode?.(i + 1, offloaded.length, p.node.name);
  }
  return {
    graph: g,
    config: d,
    configName: opts.configName ?? d.variant,
    partition: {
      macs: part.macs,
      offloadedMacs: part.offloadedMacs,
      offloadedMacsFraction: part.offloadedMacsFraction,
      nodes: part.nodes.map((p) => ({ name: p.node.name, where: p.where, macs: p.macs, reason: p.reason })),
    },
    vta,
    ...(opts.source ? { source: opts.source } : {}),
    ...(opts.tuned ? { tuned } : {}),
  };
}

async function compileNode(
  g: Graph, node: Graph['nodes'][number], d: Derived, macs: number, log: readonly TuneRecord[] | undefined, onTuned: (r: TuneRecord) => void,
): Promise<VtaNodeProgram> {
  const call = operatorCall(node, g);
  if (!call) throw new CompileError(`node ${node.name} (${node.op}) has no VTA operator; only the quantized operators QConv, QDense, QAdd and QMaxPool offload`);
  const entry = findOperator(call.op);
  const target = { kind: 'vta' as const, config: d };
  const record = log && bestScheduleRecord(log, tuneKey(entry.name, call.shape, call.params, target));
  if (record) onTuned(record);
  const compiled = await compileOperator(entry, call.shape, call.params, target, d, record ? { vta: { knobs: record.knobs as unknown as Knobs } } : {});
  if (compiled.kind !== 'vta') throw new CompileError(`internal: ${call.op} compiled for ${compiled.kind}`);
  const inst = compiled.inst;
  const layout = entry.vtaLayout(call.shape, call.params, d);
  // The operator's own operand list gives the DRAM tensors in the definition's order (inputs:
  // data, weight, bias / a, b); the node's constants replace the random values, computed inputs
  // are left zero (filled per run).
  const ops = inst.operands(1);
  const inputTensors = ops.tensors.filter((t) => t.role === 'input');
  const present = node.inputs.map((name, index) => ({ name, index })).filter((x) => x.name);
  if (inputTensors.length !== present.length) throw new CompileError(`internal: ${call.op} takes ${inputTensors.length} inputs, node ${node.name} gives ${present.length}`);
  const tensors = ops.tensors.map((t) => {
    const k = inputTensors.indexOf(t);
    if (k < 0) return t;
    const c = g.values.get(present[k].name)?.const;
    return { ...t, values: c ? layout.pack[present[k].index](c.data) : undefined };
  });
  const emit = emitModule(inst.module, tensors);
  const slot = (t: (typeof tensors)[number]): ProgramSlot => ({ buffer: emit.emitter.dram.get(t.buf)!.name, bits: dtypeBits(t.buf.dtype) });
  const inputs = call.variable.map((index) => ({ index, ...slot(tensors[ops.tensors.indexOf(inputTensors[present.findIndex((p) => p.index === index)])]) }));
  const outTensor = tensors.find((t) => t.buf === ops.output)!;
  return {
    node: node.name,
    op: call.op,
    shape: [...call.shape],
    params: call.params,
    knobs: inst.knobs,
    program: emit.program,
    inputs,
    output: { ...slot(outTensor), count: ops.output.size, shape: outputShape(node, g) },
    macs,
  };
}

/** The operand layouts of a node program (from its operator instance; no compile). */
export function programLayout(p: VtaNodeProgram, d: Derived): OperandLayout {
  return findOperator(p.op).vtaLayout(p.shape, p.params, d);
}
