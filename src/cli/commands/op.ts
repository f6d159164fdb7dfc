/**
 * `vtw op`: compile one operator for a configuration with the tensor compiler (compiler/), run it
 * on an engine, report cycles / ideal cycles / utilization / instructions / bytes / knobs, and with
 * --check compare the output bit for bit with a plain reference.
 */
import type { Command } from 'commander';
import { VtwError } from '../../errors.ts';
import { parseJsonText, quoteUser } from '../../util/quote.ts';
import { insnCount, writeProgram } from '../../program/index.ts';
import { table } from '../../report/table.ts';
import type { EngineEntry } from '../../../sim/engines.ts';
import { defaultClip, MAX_DIM, parseKnobs, type Knobs } from '../../../compiler/ops/common.ts';
import { idealCycles, runOp, type OpInstance } from '../../../compiler/ops/op.ts';
import { findOperator, OPERATORS, OPERATOR_NAMES, type OpParams } from '../../../compiler/ops/registry.ts';
import { PASSES, type PassName } from '../../../compiler/vta/build.ts';
import { printStmt } from '../../../compiler/ir/printer.ts';
import type { Derived } from '../../config/derive.ts';
import { parseTarget, targetString, type CpuTargetSpec, type WasmTargetSpec } from '../../../compiler/target/target.ts';
import { compileOperator } from '../../../compiler/target/compile.ts';
import { median, MIN_TIMED_RUNS, runCpuOp } from '../../../compiler/cpu/op.ts';
import { writeFileAtomic } from '../../program/container.ts';
import { bestRecord, readLogWarning } from '../../../compiler/tune/log.ts';
import { tuneKey } from '../../../compiler/tune/task.ts';
import type { Target } from '../../../compiler/target/target.ts';
import { runOpenclOp, type GpuRun } from '../../../compiler/gpu/op.ts';
import { buildCuda, checkSharedMemory, cudaUnavailable, runCudaOp } from '../../../compiler/gpu/cuda.ts';
import type { GpuTargetSpec } from '../../../compiler/target/target.ts';
import { configOption, engineOption, jsonOption, parseInteger, seedOption, startEngine } from '../options.ts';

/** The shape an operator's --shape lists, e.g. M,K,N. */
const shapeOf = (name: string): string => findOperator(name).dims.join(',');

export interface OpOptions {
  config: Derived;
  shape?: string;
  batch: number;
  groups: number;
  engine: EngineEntry;
  knobs?: string;
  latencyHiding: boolean;
  check?: boolean;
  json?: boolean;
  emit?: string;
  shift?: number;
  bias: boolean;
  clip?: string;
  relu?: boolean;
  seed: number;
  printIr?: string;
  target?: string;
  runs?: number;
  tuned?: string;
}

function ints(text: string, n: number, what: string): number[] {
  const parts = text.split(',').map((x) => x.trim());
  const vals = parts.map(Number);
  if (parts.length !== n || vals.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new VtwError(`--shape ${quoteUser(text, 60)}: expected ${n} non-negative integers ${what}`);
  }
  const big = parts.find((p, i) => vals[i] > MAX_DIM);
  if (big !== undefined) throw new VtwError(`--shape ${quoteUser(text, 60)}: ${quoteUser(big, 30)} is larger than the ${MAX_DIM} a dimension may have`);
  return vals;
}

function clipOf(opts: ShapeOptions, d: Derived): [number, number] | undefined {
  if (opts.clip === 'none') return undefined;
  if (opts.clip) {
    const [lo, hi] = opts.clip.split(',').map(Number);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi) throw new VtwError(`--clip ${opts.clip} must be LO,HI with LO <= HI (or none)`);
    return [lo, hi];
  }
  return defaultClip(d);
}

/** The options that say which operator instance (shared with vtw tune). */
export type ShapeOptions = Pick<OpOptions, 'shape' | 'batch' | 'groups' | 'shift' | 'bias' | 'clip'>;

/** The operator's shape and common parameters from the options. */
export function shapeAndParams(kind: string, opts: ShapeOptions, d: Derived): { shape: number[]; params: OpParams } {
  const op = findOperator(kind);
  if (!opts.shape) throw new VtwError(`vtw op ${kind} needs --shape ${shapeOf(kind)}`);
  const shape = ints(opts.shape, op.dims.length, shapeOf(kind));
  return { shape, params: { batch: opts.batch, groups: opts.groups, shift: opts.shift, bias: opts.bias, clip: clipOf(opts, d) } };
}

export function compileFromCli(kind: string, opts: OpOptions, d: Derived): OpInstance {
  const op = findOperator(kind);
  const { shape, params } = shapeAndParams(kind, opts, d);
  let knobs: Partial<Knobs> | undefined;
  if (opts.knobs) {
    const json = parseJsonText(opts.knobs, '--knobs', (m) => new VtwError(m));
    const full = parseKnobs(json, { tile_b: 1, tile_h: 1, tile_w: 1, tile_ci: 1, tile_co: 1, oc_nthread: 1, h_nthread: 1 });
    knobs = Object.fromEntries(Object.keys(json as object).map((k) => [k, full[k as keyof Knobs]]));
  }
  const co = { knobs, latencyHiding: opts.latencyHiding };
  return op.strategies.vta.build(shape, params, d, co);
}

/**
 * `vtw op ... --target cpu|wasm`: build with the operator's host strategy (C through the system
 * compiler, or WebAssembly in Node's engine at one thread), run, check, time warm runs.
 */
async function runOnHost(kind: string, opts: OpOptions, d: Derived, target: CpuTargetSpec | WasmTargetSpec): Promise<void> {
  const emitted = target.kind === 'cpu' ? 'the generated C' : 'the generated WebAssembly text';
  if (opts.printIr) throw new VtwError(`--print-ir names VTA passes; with --target ${target.kind} use --emit FILE to get ${emitted}`);
  const runs = opts.runs ?? MIN_TIMED_RUNS;
  if (runs < MIN_TIMED_RUNS) throw new VtwError(`--runs ${runs}: at least ${MIN_TIMED_RUNS} warm runs make a median`);
  const { shape, params } = shapeAndParams(kind, opts, d);
  let knobs: Record<string, number> | undefined;
  if (opts.knobs) {
    const json = parseJsonText(opts.knobs, '--knobs', (m) => new VtwError(m));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new VtwError('--knobs must be a JSON object such as {"tile_co": 8}');
    knobs = json as Record<string, number>;
  }
  const compiled = await compileOperator(findOperator(kind), shape, params, target, d, { knobs });
  if (compiled.kind !== target.kind) throw new VtwError(`internal: a ${target.kind} target compiled for another kind`);
  // What differs between the two host back ends: threads, what the build reports, how the run is described.
  const host = compiled.kind === 'cpu'
    ? {
      op: compiled.op,
      threads: compiled.op.knobs.threads ?? 1,
      extra: { compiler_flags: compiled.op.shared.flags, cached: compiled.op.shared.cached },
      where: targetString(target),
      built: `${compiled.op.shared.cached ? 'cached build' : 'built'} with ${compiled.op.shared.flags.join(' ')}`,
    }
    : compiled.kind === 'wasm'
      ? {
        op: compiled.op,
        threads: 1,
        extra: { simd_loops: compiled.op.source.simdLoops, module_bytes: compiled.op.bytes },
        where: "wasm (Node's WebAssembly engine, 128-bit SIMD)",
        built: `${compiled.op.bytes}-byte module, SIMD loops: ${compiled.op.source.simdLoops.map} element-wise, ${compiled.op.source.simdLoops.dot} dot-product, ${compiled.op.source.simdLoops.blocks} register-blocked dot-product nests`,
      }
      : undefined;
  if (!host) throw new VtwError(`internal: ${compiled.kind} is not a host target`);
  const { op } = host;
  const def = op.def;
  const run = runCpuOp(op, { seed: opts.seed, check: opts.check, runs });
  if (opts.emit) writeFileAtomic(opts.emit, op.source.text);
  const timeMs = median(run.times);
  const j = {
    op: def.op,
    target: targetString(target),
    shape: def.shape,
    time_ms: +timeMs.toFixed(6),
    runs: run.times.length,
    threads: host.threads,
    macs: def.macs,
    ...(def.macs ? { gmacs_per_s: +(def.macs / timeMs / 1e6).toFixed(3) } : {}),
    knobs: op.knobs,
    ...host.extra,
    ...(opts.check ? { match: run.match } : {}),
    ...(opts.emit ? { emitted: opts.emit } : {}),
  };
  if (opts.json) {
    console.log(JSON.stringify(j, null, 2));
  } else {
    const dims = Object.entries(def.shape).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`${def.op} ${dims} on ${host.where} (${d.variant}'s data widths)`);
    console.log(table(['median time', 'runs', 'threads', 'GMAC/s'], [[`${timeMs.toFixed(3)} ms`, j.runs, j.threads, j.gmacs_per_s ?? '-']]));
    console.log(`knobs ${JSON.stringify(op.knobs)}; ${host.built}`);
    if (opts.emit) console.log(`wrote ${opts.emit}`);
    if (opts.check) console.log(run.match ? 'check: output matches the reference bit for bit' : `check: MISMATCH (${run.mismatch})`);
  }
  if (opts.check && !run.match) {
    if (!opts.json) process.stderr.write(`vtw: error: ${def.op} output differs from the reference: ${run.mismatch}\n`);
    process.exitCode = 1;
  }
}

/**
 * `vtw op ... --target opencl|cuda`: one GPU schedule printed in the target's dialect. opencl builds
 * and runs on the first OpenCL device (PoCL on a CPU here); cuda compiles with nvcc for each
 * architecture, reports registers and shared memory per kernel, and runs where a GPU is present
 * (else one line says none is, and `ran: false`).
 */
async function runOnGpu(kind: string, opts: OpOptions, d: Derived, target: GpuTargetSpec): Promise<void> {
  if (opts.printIr) throw new VtwError(`--print-ir names VTA passes; with --target ${target.kind} use --emit FILE to get the generated kernels`);
  const runs = opts.runs ?? MIN_TIMED_RUNS;
  if (runs < MIN_TIMED_RUNS) throw new VtwError(`--runs ${runs}: at least ${MIN_TIMED_RUNS} warm runs make a median`);
  const { shape, params } = shapeAndParams(kind, opts, d);
  let knobs: Record<string, number> | undefined;
  if (opts.knobs) {
    const json = parseJsonText(opts.knobs, '--knobs', (m) => new VtwError(m));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new VtwError('--knobs must be a JSON object such as {"threads": 128}');
    knobs = json as Record<string, number>;
  }
  const compiled = await compileOperator(findOperator(kind), shape, params, target, d, { knobs });
  if (compiled.kind !== 'opencl' && compiled.kind !== 'cuda') throw new VtwError(`internal: a ${target.kind} target compiled for another kind`);
  const op = compiled.op;
  const def = op.def;
  if (opts.emit) writeFileAtomic(opts.emit, op.source.text);
  let run: GpuRun | undefined;
  let cuda: Record<string, unknown> = {};
  let noGpu: string | undefined;
  if (target.kind === 'opencl') {
    run = runOpenclOp(op, { seed: opts.seed, check: opts.check, runs });
  } else {
    const build = await buildCuda(op.source.text, target.archs);
    checkSharedMemory(build);
    noGpu = cudaUnavailable();
    if (!noGpu) run = runCudaOp(op, build, { seed: opts.seed, check: opts.check, runs });
    cuda = {
      compiled: true,
      ran: run !== undefined,
      nvcc: build.nvcc,
      cached: build.cached,
      kernels: build.archs.flatMap((a) => a.kernels.map((k) => ({ arch: a.arch, ...k }))),
    };
  }
  const timeMs = run ? median(run.times) : undefined;
  const launches = op.source.kernels.map((k) => ({ name: k.name, grid: k.grid, block: k.block }));
  const j = {
    op: def.op,
    target: targetString(target),
    shape: def.shape,
    ...(run ? { device: run.device, time_ms: +timeMs!.toFixed(6), runs: run.times.length } : {}),
    macs: def.macs,
    ...(def.macs && timeMs ? { gmacs_per_s: +(def.macs / timeMs / 1e6).toFixed(3) } : {}),
    knobs: op.knobs,
    launches,
    ...cuda,
    ...(opts.check && run ? { match: run.match } : {}),
    ...(opts.emit ? { emitted: opts.emit } : {}),
  };
  if (opts.json) {
    console.log(JSON.stringify(j, null, 2));
  } else {
    const dims = Object.entries(def.shape).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`${def.op} ${dims} on ${targetString(target)}${run ? ` (${run.device})` : ''} (${d.variant}'s data widths)`);
    console.log(`knobs ${JSON.stringify(op.knobs)}; kernels ${launches.map((l) => `${l.name} <<<${l.grid.join('x')}, ${l.block.join('x')}>>>`).join(', ')}`);
    if (target.kind === 'cuda') {
      const ks = cuda.kernels as Array<{ arch: string; name: string; registers: number; shared_bytes: number }>;
      console.log(table(['arch', 'kernel', 'registers', 'shared bytes'], ks.map((k) => [k.arch, k.name, k.registers, k.shared_bytes])));
    }
    if (run) console.log(table(['median time', 'runs', 'GMAC/s'], [[`${timeMs!.toFixed(3)} ms`, run.times.length, j.gmacs_per_s ?? '-']]));
    if (noGpu) console.log(`compiled for ${(target as { archs: string[] }).archs.join(', ')}; not run: ${noGpu}`);
    if (opts.emit) console.log(`wrote ${opts.emit}`);
    if (opts.check && run) console.log(run.match ? 'check: output matches the reference bit for bit' : `check: MISMATCH (${run.mismatch})`);
  }
  if (opts.check && run && !run.match) {
    if (!opts.json) process.stderr.write(`vtw: error: ${def.op} output differs from the reference: ${run.mismatch}\n`);
    process.exitCode = 1;
  }
}

/**
 * `--tuned LOG`: the knobs of the log's cheapest record for exactly this operator, shape, parameters
 * and target become --knobs (a note when the log has none). Each corrupt line of the log is one
 * warning with its line number, and is skipped.
 */
function applyTuned(kind: string, opts: OpOptions, d: Derived, target: Target): void {
  const file = opts.tuned!;
  if (opts.knobs) throw new VtwError('--tuned and --knobs both set the knobs; give one of them');
  const records = readLogWarning(file);
  const { shape, params } = shapeAndParams(kind, opts, d);
  const key = tuneKey(findOperator(kind).name, shape, params, target);
  const best = bestRecord(records, key);
  if (!best) {
    process.stderr.write(`vtw: note: ${file} has no record for ${kind} --shape ${shape.join(',')} on ${key.target} with these parameters; using the default knobs\n`);
    return;
  }
  process.stderr.write(`vtw: note: knobs from ${file} (${best.strategy} trial ${best.trial}: ${best.cost} ${best.unit})\n`);
  opts.knobs = JSON.stringify(best.knobs);
}

/** The operators that take a common parameter, for its help text. */
const takes = (param: keyof OpParams): string => OPERATORS.filter((o) => o.params.includes(param)).map((o) => o.name).join(', ');

export function registerOp(program: Command): void {
  program
    .command('op')
    .description('compile an operator with the tensor compiler, run it and report cycles, utilization, instructions and bytes')
    .argument('<operator>', `one of ${OPERATOR_NAMES.join(', ')}`)
    .addOption(configOption())
    .option('--target <target>', 'vta (the accelerator of --config), cpu [-mattr=+avx2,...] (the host through the C compiler), wasm (WebAssembly SIMD in Node, no compiler), opencl (first OpenCL device) or cuda [-arch=sm_80,sm_90] (nvcc; runs where a GPU is); docs/targets.md, docs/gpu.md', 'vta')
    .option('--runs <n>', `with --target cpu / wasm: timed warm runs (at least ${MIN_TIMED_RUNS}); the time is their median`, parseInteger('runs', 1), MIN_TIMED_RUNS)
    .option('--shape <dims>', OPERATORS.map((o) => `${o.name} ${o.dims.join(',')}`).join('; '))
    .option('--batch <n>', `batch size (${takes('batch')})`, parseInteger('batch', 1), 1)
    .option('--groups <g>', 'groups of a grouped / depthwise conv2d', parseInteger('groups', 1), 1)
    .addOption(engineOption())
    .option('--knobs <json>', 'schedule knobs, e.g. {"tile_h":7,"oc_nthread":2}; unspecified ones are chosen')
    .option('--tuned <log>', 'take the knobs of the best record for this operator, shape and target in a tuning log (vtw tune --log)')
    .option('--no-latency-hiding', 'one virtual thread: no overlap of load, compute and store')
    .option('--check', 'compare the output bit for bit with a plain reference')
    .addOption(jsonOption())
    .option('--emit <file>', 'write the program container (for vtw sim / vtw disasm); with --target cpu the generated C, with wasm the WebAssembly text')
    .option('--shift <n>', `requantization: arithmetic shift right (${takes('shift')}; default from the accumulation depth, so outputs spread over the range)`, parseInteger('shift'))
    .option('--no-bias', `no per-channel bias (${takes('bias')})`)
    .option('--clip <lo,hi>', 'clip the result before the cast (default 0,max of the output type; "none" for no clip)')
    .addOption(seedOption('seed of the random operands', 1))
    .option('--print-ir <pass>', `print the IR after a pass: ${PASSES.join(', ')}`)
    .action(async (kind: string, opts: OpOptions) => {
      const d = opts.config;
      const target = parseTarget(opts.target ?? 'vta', d);
      if (opts.tuned) applyTuned(kind, opts, d, target);
      if (target.kind === 'cpu' || target.kind === 'wasm') return runOnHost(kind, opts, d, target);
      if (target.kind === 'opencl' || target.kind === 'cuda') return runOnGpu(kind, opts, d, target);
      if (opts.printIr && !(PASSES as readonly string[]).includes(opts.printIr)) {
        throw new VtwError(`--print-ir ${opts.printIr}: passes are ${PASSES.join(', ')}`);
      }
      const engine = startEngine(opts.engine);
      const inst = compileFromCli(kind, opts, d);
      if (opts.printIr) process.stderr.write(printStmt(inst.module.ir[opts.printIr as PassName]));
      const run = await runOp(inst, engine, { seed: opts.seed, check: opts.check });
      if (run.result.error) throw new VtwError(`${engine.name} engine: ${run.result.error.kind}: ${run.result.error.message}`);
      if (opts.emit) writeProgram(opts.emit, run.program);
      const c = run.result.counters;
      const ideal = idealCycles(inst);
      const j = {
        op: inst.op,
        config: d.variant,
        engine: engine.name,
        shape: inst.shape,
        cycles: c.cycles,
        ideal_cycles: ideal,
        utilization: +(ideal / c.cycles).toFixed(6),
        macs: inst.macs,
        insns: insnCount(run.program),
        bytes: c.bytes,
        gemm_uops: c.gemm_uops,
        alu_uops: c.alu_uops,
        knobs: inst.knobs,
        ...(opts.check ? { match: run.match } : {}),
        ...(opts.emit ? { emitted: opts.emit } : {}),
      };
      if (opts.json) {
        console.log(JSON.stringify(j, null, 2));
      } else {
        const dims = Object.entries(inst.shape).map(([k, v]) => `${k}=${v}`).join(' ');
        console.log(`${inst.op} ${dims} on ${d.variant} (${engine.name} engine)`);
        console.log(table(['cycles', 'ideal cycles', 'utilization', 'instructions'], [[c.cycles, ideal, `${((ideal / c.cycles) * 100).toFixed(1)} %`, j.insns]]));
        console.log(table(['bytes', ...Object.keys(c.bytes)], [['moved', ...Object.values(c.bytes)]]));
        console.log(`knobs ${JSON.stringify(inst.knobs)}`);
        if (opts.emit) console.log(`wrote ${opts.emit}`);
        if (opts.check) console.log(run.match ? 'check: output matches the reference bit for bit' : `check: MISMATCH (${run.mismatch})`);
      }
      if (opts.check && !run.match) {
        if (!opts.json) process.stderr.write(`vtw: error: ${inst.op} output differs from the reference: ${run.mismatch}\n`);
        process.exitCode = 1;
      }
    });
}
