/**
 * The CPU back end against onnxruntime-node on ResNet-18 C1-C11 (compiler/bench/cpu.ts); also run
 * by `npm run bench`. Usage: tsx scripts/bench-cpu.ts [--runs N] [--layers C2,C5]
 * (with --layers the table in docs/benchmarks.md is left as it is).
 */
import { cpuBench } from '../compiler/bench/cpu.ts';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
await cpuBench({ runs: Number(opt('--runs')) || undefined, layers: opt('--layers')?.split(',') });
