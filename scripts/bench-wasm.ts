/**
 * `npm run bench:wasm`: the WebAssembly back end against the C back end (`--target cpu`), one
 * thread each, on ResNet-18's convolutions C1 (the 7x7 stem) to C11 and its classifier (dense
 * 1x512 -> 1000), default configuration, default knobs. Both kernels are built in this process, checked bit for bit against
 * the reference, then timed alternately call by call (so both see the same machine load); the time
 * is the median of the warm runs. Each kernel gets its own definition's bound operands (the wasm
 * conv2d runs on the (1, 2, 4) blocked definition, the C one on its own). Writes
 * build/bench/wasm.json and build/bench/wasm.md. Beside the wall-time medians it records the median
 * CPU time of the calls (process.cpuUsage: on a loaded machine the wall time also counts the time
 * other jobs held the core) and the load average before and after.
 * Usage: tsx scripts/bench-wasm.ts [--runs N]   (N >= 20, default 30)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { loadConfig } from '../src/config/index.ts';
import { RESNET18_LAYERS } from '../compiler/bench/layers.ts';
import { findOperator, type OpParams } from '../compiler/ops/registry.ts';
import { buildCpuOp, median, MIN_TIMED_RUNS, runCpuOp } from '../compiler/cpu/op.ts';
import { buildWasmOp } from '../compiler/wasm/op.ts';
import { parseTarget, type CpuTargetSpec } from '../compiler/target/target.ts';
import { progress } from '../src/report/progress.ts';
import { defaultClip } from '../compiler/ops/common.ts';

const args = process.argv.slice(2);
const runs = Math.max(MIN_TIMED_RUNS, Number(args[args.indexOf('--runs') + 1]) || 30);
const d = loadConfig('default');
const cpu = parseTarget('cpu', d) as CpuTargetSpec;
const params: OpParams = { batch: 1, groups: 1, bias: true, clip: defaultClip(d) };

const layers: { name: string; op: string; shape: number[] }[] = [
  { name: 'C1', op: 'conv2d', shape: [224, 224, 3, 64, 7, 3, 2] },
  ...RESNET18_LAYERS.map(({ name, spec: c }) => ({ name, op: 'conv2d', shape: [c.h, c.w, c.cin, c.cout, c.k, c.pad, c.stride] })),
  { name: 'FC', op: 'dense', shape: [1, 512, 1000] },
];

const rows = [];
const load0 = loadavg();
const bar = progress(layers.length, 'wasm vs C');
for (const l of layers) {
  const entry = findOperator(l.op);
  const def = entry.define(l.shape, params, d);
  const c = await buildCpuOp(def, entry.strategies.cpu, cpu, { threads: 1 });
  const w = await buildWasmOp(def, entry.strategies.cpu, { kind: 'wasm' });
  const cr = runCpuOp(c, { seed: 1, check: true });
  const wr = runCpuOp(w, { seed: 1, check: true });
  if (!cr.match || !wr.match) throw new Error(`${l.name}: output differs from the reference (cpu ${cr.mismatch ?? 'ok'}, wasm ${wr.mismatch ?? 'ok'})`);
  // Operands as runCpuOp lays them out (each kernel's own definition binds them), timed alternately.
  const values = def.values(1);
  const arrays = (op: Pick<typeof c, 'def' | 'kernel'>) => {
    const bound = op.def.bind ? op.def.bind(values.inputs) : values.inputs;
    const a = op.def.inputs.map((t, i) => (t.dtype === 'int32' ? Int32Array.from(bound[i]) : Int8Array.from(bound[i])) as ArrayBufferView);
    a.push(op.def.output.dtype === 'int32' ? new Int32Array(cr.output.length) : new Int8Array(cr.output.length));
    for (let i = 0; i < 3; i++) op.kernel.call(a);
    return a;
  };
  const ca = arrays(c);
  const wa = arrays(w);
  const ct: number[] = [];
  const wt: number[] = [];
  const cu: number[] = [];
  const wu: number[] = [];
  const timed = (k: typeof c.kernel, a: ArrayBufferView[], wall: number[], cpuTime: number[]) => {
    const u0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    k.call(a);
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const u = process.cpuUsage(u0);
    cpuTime.push((u.user + u.system) / 1000);
  };
  for (let i = 0; i < runs; i++) {
    timed(c.kernel, ca, ct, cu);
    timed(w.kernel, wa, wt, wu);
  }
  const cm = median(ct);
  const wm = median(wt);
  rows.push({
    layer: l.name, op: l.op, shape: def.shape, macs: def.macs, runs, cpu_ms: +cm.toFixed(3), wasm_ms: +wm.toFixed(3), ratio: +(wm / cm).toFixed(2),
    cpu_time_ms: { c: +median(cu).toFixed(3), wasm: +median(wu).toFixed(3) }, cpu_time_ratio: +(median(wu) / median(cu)).toFixed(2),
    // The fastest call of each: the one least disturbed by other jobs (a rough floor, not the median).
    fastest_ms: { c: +Math.min(...ct).toFixed(3), wasm: +Math.min(...wt).toFixed(3) }, fastest_ratio: +(Math.min(...wt) / Math.min(...ct)).toFixed(2),
    knobs: c.knobs, wasm_knobs: w.knobs, simd_loops: w.source.simdLoops,
  });
  bar.tick(l.name);
}
bar.stop();
const load1 = loadavg();

const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
const md = [
  `WASM (Node's engine, 128-bit SIMD) vs the C back end (gcc -O3 -march=native), 1 thread each, default config and knobs, median of ${runs} warm runs, alternated call by call in one process. Machine: ${machine}.`,
  '',
  `1-minute load average ${load0[0].toFixed(1)} before, ${load1[0].toFixed(1)} after. "CPU" columns: median CPU time of the calls (process.cpuUsage), which leaves out the time other jobs held the core.`,
  '',
  '| layer | shape | MACs | C ms | WASM ms | WASM / C | C CPU ms | WASM CPU ms | WASM / C, CPU |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.layer} | ${r.op} ${Object.entries(r.shape).filter(([k]) => !['batch', 'groups'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ')} | ${r.macs} | ${r.cpu_ms} | ${r.wasm_ms} | ${r.ratio}x | ${r.cpu_time_ms.c} | ${r.cpu_time_ms.wasm} | ${r.cpu_time_ratio}x |`),
  '',
  `Median ratio ${median(rows.map((r) => r.ratio)).toFixed(2)}x, worst ${Math.max(...rows.map((r) => r.ratio)).toFixed(2)}x (goal: within 4x); by CPU time median ${median(rows.map((r) => r.cpu_time_ratio)).toFixed(2)}x, worst ${Math.max(...rows.map((r) => r.cpu_time_ratio)).toFixed(2)}x; fastest call against fastest call (the least disturbed) median ${median(rows.map((r) => r.fastest_ratio)).toFixed(2)}x, worst ${Math.max(...rows.map((r) => r.fastest_ratio)).toFixed(2)}x.`,
].join('\n');
mkdirSync('build/bench', { recursive: true });
writeFileSync('build/bench/wasm.json', JSON.stringify({ machine, runs, loadavg: { before: load0, after: load1 }, rows }, null, 2));
writeFileSync('build/bench/wasm.md', md + '\n');
console.log(md);
