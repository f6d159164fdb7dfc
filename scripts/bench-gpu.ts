/**
 * ResNet-18 C2-C11 (vta-reference Part B §6.4) on a GPU target: `--target opencl` times each layer
 * on the first OpenCL device (warm median of 20 runs) beside the CPU back end (`--cpu`), and
 * `--target 'cuda -arch=sm_80,sm_90'` compiles each layer with nvcc and prints registers and shared
 * memory per kernel (and times it where a GPU is present). Output: a table, and JSON with --json.
 *   npx tsx scripts/bench-gpu.ts --target opencl --cpu [--layers C2,C5]
 */
import { RESNET18_LAYERS } from '../compiler/bench/layers.ts';
import { findOperator } from '../compiler/ops/registry.ts';
import { loadConfig } from '../src/config/load.ts';
import { parseTarget, type GpuTargetSpec, type CpuTargetSpec } from '../compiler/target/target.ts';
import { buildGpuOp, runOpenclOp } from '../compiler/gpu/op.ts';
import { buildCuda, cudaUnavailable, runCudaOp } from '../compiler/gpu/cuda.ts';
import { buildCpuOp, median, runCpuOp } from '../compiler/cpu/op.ts';
import { table } from '../src/report/table.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const d = loadConfig('default');
const target = parseTarget(arg('--target') ?? 'opencl', d) as GpuTargetSpec;
if (target.kind !== 'opencl' && target.kind !== 'cuda') throw new Error('--target opencl or cuda');
const withCpu = process.argv.includes('--cpu');
const only = arg('--layers')?.split(',');
const entry = findOperator('conv2d');
const rows: Record<string, unknown>[] = [];
const noGpu = target.kind === 'cuda' ? cudaUnavailable() : undefined;
for (const layer of RESNET18_LAYERS.filter((l) => !only || only.includes(l.name))) {
  const s = layer.spec;
  const shape = [s.h, s.w, s.cin, s.cout, s.k, s.pad, s.stride];
  const params = { batch: 1, groups: s.groups, bias: true, clip: [0, 127] as [number, number] };
  const def = entry.define(shape, params, d);
  const op = buildGpuOp(def, entry.strategies.gpu, target);
  const row: Record<string, unknown> = { layer: layer.name, macs: def.macs, knobs: op.knobs };
  process.stderr.write(`${layer.name} ...\n`);
  if (target.kind === 'cuda') {
    const build = await buildCuda(op.source.text, target.archs);
    row.kernels = build.archs.flatMap((a) => a.kernels.map((k) => ({ arch: a.arch, name: k.name, registers: k.registers, shared_bytes: k.shared_bytes })));
    if (!noGpu) {
      const r = runCudaOp(op, build, { check: true, runs: 20 });
      Object.assign(row, { device: r.device, match: r.match, time_ms: median(r.times) });
    }
  } else {
    const r = runOpenclOp(op, { check: true, runs: 20 });
    Object.assign(row, { device: r.device, match: r.match, time_ms: median(r.times) });
  }
  if (withCpu) {
    const cpu = await buildCpuOp(def, entry.strategies.cpu, parseTarget('cpu', d) as CpuTargetSpec);
    row.cpu_ms = median(runCpuOp(cpu, { runs: 20 }).times);
  }
  rows.push(row);
}
if (process.argv.includes('--json')) console.log(JSON.stringify({ target: target.kind, no_gpu: noGpu, rows }, null, 2));
else {
  const f = (x: unknown) => (typeof x === 'number' ? x.toFixed(3) : '-');
  console.log(table(['layer', 'GMAC', 'time ms', 'GMAC/s', ...(withCpu ? ['cpu ms', 'cpu/gpu'] : []), 'match', 'knobs'], rows.map((r): string[] => [
    String(r.layer), ((r.macs as number) / 1e9).toFixed(3), f(r.time_ms), r.time_ms ? ((r.macs as number) / (r.time_ms as number) / 1e6).toFixed(2) : '-',
    ...(withCpu ? [f(r.cpu_ms), r.time_ms ? ((r.cpu_ms as number) / (r.time_ms as number)).toFixed(2) : '-'] : []), String(r.match ?? '-'), JSON.stringify(r.knobs),
  ])));
  if (target.kind === 'cuda') {
    console.log(table(['layer', 'arch', 'kernel', 'registers', 'shared bytes'], rows.flatMap((r) => (r.kernels as Array<Record<string, unknown>>).map((k) => [r.layer, k.arch, k.name, k.registers, k.shared_bytes].map(String)))));
    if (noGpu) console.log(`not run: ${noGpu}`);
  }
  if (rows[0]?.device) console.log(`device: ${rows[0].device}`);
}
