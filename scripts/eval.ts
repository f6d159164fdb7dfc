/**
 * `npm run eval`: the full model evaluations of docs/benchmarks.md ("Models on VTA"), each in its
 * own process, one after the other (progress bars on stderr):
 *   - LeNet-5 on the 10,000 MNIST test images, int8 on VTA (TS simulator) on default,
 *     batch2-block8 and ice40-small: accuracy fp32 / int8, agreement with onnxruntime, cycles, seconds;
 *   - the PaddleOCR classifier (200 rendered lines) and recognizer (100 lines) int8 on VTA default
 *     against onnxruntime fp32 (scripts/eval-ocr.ts --int8);
 *   - ResNet-18 (seeded) int8 on default: MACs offloaded, whole-network cycles and host time, each
 *     layer's cycles against `vtw op` (scripts/eval-resnet18.ts).
 * Writes build/eval/results.json and build/eval/results.md.
 *
 *   tsx scripts/eval.ts [--images N] [--texts N] [--rec N] [--only lenet|ocr|resnet18]
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { execa } from 'execa';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const only = opt('--only', 'all');
const images = opt('--images', '10000');
const CONFIGS = ['default', 'batch2-block8', 'ice40-small'];

async function json(cmd: string[]): Promise<Record<string, any>> {
  console.error(`$ ${cmd.join(' ')}`);
  const r = await execa('npx', ['tsx', ...cmd], { stderr: 'inherit', reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')} exited with ${r.exitCode}`);
  return JSON.parse(r.stdout);
}

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
const results: Record<string, any> = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadavg_start: loadavg() };
const rows: string[] = [];
if (only === 'all' || only === 'lenet') {
  results.lenet = [];
  rows.push('| model | config | images / lines | fp32 | int8 on VTA | agreement with onnxruntime | VTA cycles per input | int8 seconds | total seconds |', '|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const config of CONFIGS) {
    const r = await json(['src/cli/main.ts', 'model', 'eval', 'models/lenet5.onnx', '--config', config, '--dataset', `mnist-test:${images}`, '--json']);
    results.lenet.push(r);
    rows.push(`| LeNet-5 | ${config} | ${r.images} | ${pct(r.accuracy_fp32)} | ${pct(r.accuracy_int8)} | ${pct(r.agreement_onnxruntime)} | ${r.vta_cycles_per_image.toLocaleString('en-US')} | ${r.int8_seconds} | ${r.seconds} |`);
  }
}
if (only === 'all' || only === 'ocr') {
  const r = await json(['scripts/eval-ocr.ts', '--int8', '--texts', opt('--texts', '100'), '--rec', opt('--rec', '100'), '--json']);
  results.ocr = r;
  rows.push(`| PaddleOCR classifier | default | ${r.cls.lines} | onnxruntime ${pct(r.cls.accuracyOracle)} right | ${pct(r.cls.accuracy)} right | ${pct(r.cls.agreement)} (top-1) | ${r.vta.cls_cycles_per_line.toLocaleString('en-US')} | ${r.cls.seconds} | |`);
  if (r.rec.lines) rows.push(`| PaddleOCR recognizer | default | ${r.rec.lines} | CER vs truth ${pct(r.rec.cerOracleVsTruth)} | CER vs truth ${pct(r.rec.cerVsTruth)} | CER ${pct(r.rec.cerVsOracle)} (trimmed ${pct(r.rec.cerVsOracleTrimmed)}), ${r.rec.textsEqual}/${r.rec.lines} texts equal | ${r.vta.rec_cycles_per_line.toLocaleString('en-US')} | ${r.rec.seconds} | |`);
}
if (only === 'all' || only === 'resnet18') {
  const r = await json(['scripts/eval-resnet18.ts', '--json']);
  results.resnet18 = r;
  rows.push('', `ResNet-18 (seeded, 1x3x224x224) int8 on ${r.config}: ${(100 * r.offloaded_macs_fraction).toFixed(2)} % of ${(r.macs / 1e9).toFixed(2)} G MACs on VTA, ${r.vta_cycles.toLocaleString('en-US')} VTA cycles (${r.vta_ms_at_clock} ms at the clock), host ${r.host_ms} ms on ${r.host_nodes} nodes; every layer's cycles equal vtw op's: ${r.all_layers_equal_vtw_op ? 'yes' : 'NO'} (${r.layers.length} layers).`);
}
results.loadavg_end = loadavg();
mkdirSync('build/eval', { recursive: true });
const md = [`# Models on VTA (${results.date.slice(0, 10)}, ${results.cpu}, ${results.cores} cores, load ${results.loadavg_start.map((x: number) => x.toFixed(1)).join(' ')})`, '', ...rows, ''].join('\n');
for (const [file, text] of [['results.json', JSON.stringify(results, null, 2)], ['results.md', md]]) {
  writeFileSync(`build/eval/${file}.tmp`, text);
  renameSync(`build/eval/${file}.tmp`, `build/eval/${file}`);
}
console.log(md);
