/**
 * The `.vtwm` artifact: one compiled model (compile.ts) in one JSON file, loaded without
 * recompiling. Contents (docs/models.md, "Running a model on VTA"):
 *
 *   format "vtw-model", version ARTIFACT_VERSION;
 *   config: the configuration's name, its variant string, its keys, and `hash` (SHA-256 of its
 *           keys, sorted) that a load compares with the configuration asked for;
 *   graph:  the quantized graph (values with dtype and shape, constants as base64 bytes; nodes,
 *           with non-finite numbers of attributes as {num: "Infinity"});
 *   partition: per node where it runs and its MACs; the offloaded fraction;
 *   vta:    per offloaded node its operator instance (op, shape, parameters, knobs), which program
 *           buffers take its computed inputs and give its output, and the program container
 *           (program-format.md) with the node's weights packed in.
 *
 * Written atomically (temp file + rename). A file that is not JSON, is cut short, has another
 * format or version, or was compiled for another configuration is refused with one line that
 * names the problem and the command that fixes it.
 */
import { createHash } from 'node:crypto';
import type { Derived } from '../../src/config/derive.ts';
import { deriveConfig, minimalKeys } from '../../src/config/derive.ts';
import { programFromJson, programToJson, writeFileAtomic } from '../../src/program/container.ts';
import { readInputFile } from '../../src/util/input.ts';
import { quoteUser } from '../../src/util/quote.ts';
import { CompileError } from '../errors.ts';
import type { Attr, Graph, Node, Value } from '../graph/ir.ts';
import { allocData, type DType, type Tensor } from '../graph/tensor.ts';
import type { CompiledModel, VtaNodeProgram } from './compile.ts';

export const ARTIFACT_FORMAT = 'vtw-model';
export const ARTIFACT_VERSION = 1;
/** Largest artifact a load reads. */
const ARTIFACT_LIMIT = 256 << 20;

/** SHA-256 (first 16 hex digits) of a configuration's keys in sorted order. */
export function configHash(d: Derived): string {
  const keys = minimalKeys(d);
  const sorted = Object.fromEntries(Object.keys(keys).sort().map((k) => [k, keys[k]]));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

interface TensorJson {
  dtype: DType;
  shape: number[];
  data: string;
}

const tensorToJson = (t: Tensor): TensorJson => ({
  dtype: t.dtype,
  shape: [...t.shape],
  data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64'),
});

function tensorFromJson(j: TensorJson): Tensor {
  const bytes = Buffer.from(j.data, 'base64');
  const n = j.shape.reduce((a, b) => a * b, 1);
  const data = allocData(j.dtype, n);
  if (bytes.length !== data.byteLength) throw new Error(`a ${j.dtype}[${j.shape}] constant holds ${bytes.length} bytes, expected ${data.byteLength}`);
  new Uint8Array(data.buffer).set(bytes);
  return { dtype: j.dtype, shape: [...j.shape], data };
}

const isTensor = (a: Attr): a is Tensor => typeof a === 'object' && !Array.isArray(a);

/** JSON has no Infinity or NaN (a fused relu's clip is [0, Infinity]): such numbers travel as {num: "Infinity"}. */
type NumJson = number | { num: string };
const numToJson = (x: number): NumJson => (Number.isFinite(x) ? x : { num: String(x) });
const numFromJson = (x: NumJson): number => (typeof x === 'number' ? x : Number(x.num));

function attrToJson(a: Attr): unknown {
  if (typeof a === 'number') return numToJson(a);
  if (Array.isArray(a)) return (a as (number | string)[]).map((x) => (typeof x === 'number' ? numToJson(x) : x));
  if (isTensor(a)) return { tensor: tensorToJson(a) };
  return a;
}

function attrFromJson(a: unknown): Attr {
  if (Array.isArray(a)) return a.map((x) => (typeof x === 'string' ? x : numFromJson(x as NumJson))) as Attr;
  if (typeof a === 'object' && a !== null) {
    if ('tensor' in a) return tensorFromJson((a as { tensor: TensorJson }).tensor);
    if ('num' in a) return numFromJson(a as NumJson);
  }
  return a as Attr;
}

function graphToJson(g: Graph) {
  return {
    name: g.name,
    opset: g.opset,
    inputs: g.inputs,
    outputs: g.outputs,
    values: [...g.values.values()].map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape, ...(v.const ? { const: tensorToJson(v.const) } : {}) })),
    nodes: g.nodes.map((n) => ({
      ...n,
      attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, a]) => [k, attrToJson(a)])),
    })),
  };
}

type GraphJson = ReturnType<typeof graphToJson>;

function graphFromJson(j: GraphJson): Graph {
  const values = new Map<string, Value>(j.values.map((v) => [v.name, { name: v.name, dtype: v.dtype, shape: v.shape, ...(v.const ? { const: tensorFromJson(v.const) } : {}) }]));
  const nodes: Node[] = j.nodes.map((n) => ({
    ...n,
    attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, a]) => [k, attrFromJson(a)])),
  }));
  return { name: j.name, opset: j.opset, values, nodes, inputs: j.inputs, outputs: j.outputs };
}

export function artifactJson(m: CompiledModel) {
  return {
    format: ARTIFACT_FORMAT,
    version: ARTIFACT_VERSION,
    ...(m.source ? { source: m.source } : {}),
    config: { name: m.configName, variant: m.config.variant, hash: configHash(m.config), keys: minimalKeys(m.config) },
    graph: graphToJson(m.graph),
    partition: m.partition,
    vta: [...m.vta.values()].map((p) => ({ ...p, program: programToJson(p.program) })),
  };
}

/** Write `m` to `path` atomically. */
export function saveArtifact(path: string, m: CompiledModel): void {
  writeFileAtomic(path, JSON.stringify(artifactJson(m)) + '\n');
}

export interface LoadArtifactOptions {
  /** The configuration the caller runs on: refused when the artifact was compiled for another. */
  config?: Derived;
  configName?: string;
}

/** Read a `.vtwm`; every problem is one CompileError line naming the fix. */
export function loadArtifact(path: string, opts: LoadArtifactOptions = {}): CompiledModel {
  const shown = quoteUser(path);
  const bytes = readInputFile(path, 'model artifact', ARTIFACT_LIMIT, (m) => new CompileError(m));
  let raw: ReturnType<typeof artifactJson>;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new CompileError(`${shown} is truncated or corrupt (not valid JSON); recompile it with vtw model compile MODEL.onnx --config C --calib SPEC -o ${shown}`);
  }
  const recompile = (cfg: string) => `recompile with vtw model compile ${raw.source ? quoteUser(raw.source) : 'MODEL.onnx'} --config ${cfg} --calib SPEC -o ${shown}`;
  if (typeof raw !== 'object' || raw === null || raw.format !== ARTIFACT_FORMAT) {
    throw new CompileError(`${shown} is not a vtw model artifact (format ${quoteUser(JSON.stringify((raw as { format?: unknown })?.format) ?? 'missing', 30, false)}); compile one with vtw model compile MODEL.onnx --config C --calib SPEC -o ${shown}`);
  }
  const storedName = typeof raw.config?.name === 'string' ? raw.config.name : 'C';
  if (raw.version !== ARTIFACT_VERSION) {
    throw new CompileError(`${shown} is a version ${quoteUser(JSON.stringify(raw.version) ?? 'missing', 20, false)} model artifact; this vtw reads version ${ARTIFACT_VERSION}: ${recompile(storedName)}`);
  }
  let m: CompiledModel;
  try {
    const config = deriveConfig(raw.config.keys);
    if (configHash(config) !== raw.config.hash) throw new Error('its configuration does not match its hash');
    const vta = new Map<string, VtaNodeProgram>(raw.vta.map((p) => [p.node, { ...p, program: programFromJson(p.program) }]));
    m = { graph: graphFromJson(raw.graph), config, configName: storedName, partition: raw.partition, vta, ...(raw.source ? { source: raw.source } : {}) };
    for (const p of vta.values()) {
      if (!m.graph.nodes.some((n) => n.name === p.node)) throw new Error(`its VTA program for node ${p.node} has no node in the graph`);
      if (p.program.config.variant !== config.variant) throw new Error(`node ${p.node}'s program is for ${p.program.config.variant}`);
    }
  } catch (e) {
    throw new CompileError(`${shown} is corrupt (${(e as Error).message.split('\n')[0]}); ${recompile(storedName)}`);
  }
  if (opts.config && configHash(opts.config) !== configHash(m.config)) {
    const want = opts.configName ?? opts.config.variant;
    throw new CompileError(`${shown} was compiled for configuration ${storedName} (${m.config.variant}), not ${want} (${opts.config.variant}); ${recompile(want)}`);
  }
  return m;
}
