/**
 * `npm run demo`: the main job on built-in defaults. It shows a configuration, assembles a small
 * program and disassembles it back, simulates it cycle by cycle, runs the conformance suite, and
 * runs a ResNet-18 layer built with the host runtime, checked against a plain reference. Each
 * capability joins as it lands (Verilog generation, compiled operators, a bitstream).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { configText, loadConfig } from '../src/config/index.ts';
import { assemble, disassemble, insnCount, readProgram, serializeProgram, writeProgram } from '../src/program/index.ts';
import { table } from '../src/report/table.ts';
import { runSync, TsEngine } from '../sim/ts/engine.ts';
import { runSuite } from '../sim/suite.ts';
import { buildConv2d, conv2dReference, RESNET18_CONVS } from '../src/workloads/conv2d.ts';

const step = (title: string) => console.log(`\n=== ${title} ===`);
function fail(msg: string): never {
  console.error(`demo: ${msg}`);
  process.exit(1);
}
const summary: Array<[string, string, string]> = [];
const t0 = performance.now();

step('1. Configuration (preset default = VTA 1x16_i8w8a32_15_15_18_17)');
const d = loadConfig('default');
console.log(configText(d).split('\n\n').slice(0, 2).join('\n\n'));
summary.push(['config', d.variant, `${d.multipliers} MACs/cycle, ${d.clockMhz} MHz, ISA layout checked`]);

step('2. Assemble examples/gemm-tiny.vasm');
mkdirSync('build/demo', { recursive: true });
const source = readFileSync('examples/gemm-tiny.vasm', 'utf8');
const program = assemble(source, 'examples/gemm-tiny.vasm');
writeProgram('build/demo/gemm-tiny.json', program);
console.log(`build/demo/gemm-tiny.json: ${insnCount(program)} instructions, ${program.buffers.length} buffers`);
summary.push(['assemble', 'build/demo/gemm-tiny.json', `${insnCount(program)} instructions`]);

step('3. Disassemble it and check the round trip');
const listing = disassemble(readProgram('build/demo/gemm-tiny.json'));
console.log(listing.split('\n').filter((l) => /^\s+[A-Z]/.test(l)).join('\n'));
const same = serializeProgram(assemble(listing, 'listing')) === serializeProgram(program);
if (!same) fail('round trip changed the program');
summary.push(['disassemble', 'round trip', 'identical bytes']);

step('4. Simulate it (TypeScript cycle-accurate engine)');
const run = runSync(program);
if (run.error) fail(`simulation failed: ${run.error.message}`);
const out = program.buffers.find((b) => b.name === 'out')!;
console.log(`${run.counters.cycles} cycles; out = [${[...new Int8Array(run.dram.buffer, run.dram.byteOffset + out.addr, 16)].join(', ')}]`);
summary.push(['simulate', 'gemm-tiny', `${run.counters.cycles} cycles, output read back`]);

step('5. Conformance suite (VTA hardware and unit tests, against plain references)');
const suite = await runSuite(d, new TsEngine(), { suite: 'conformance', seed: 1, count: 0 });
const passed = suite.filter((r) => r.ok).length;
console.log(`${passed} passed, ${suite.length - passed} failed`);
if (passed !== suite.length) fail('conformance failures: ' + suite.filter((r) => !r.ok).map((r) => r.name).join(', '));
summary.push(['conformance', `${suite.length} cases`, `${passed} passed`]);

step('6. ResNet-18 layer C2 built with the host runtime, simulated and checked');
const c2 = buildConv2d(d, RESNET18_CONVS[0], { seed: 1 });
const t1 = performance.now();
const r2 = runSync(c2.program, { insnTiming: false });
const ms = performance.now() - t1;
if (r2.error) fail(`C2 failed: ${r2.error.message}`);
const got = new Int8Array(c2.output.readFrom(r2.dram).buffer);
const want = conv2dReference(d, c2);
const mismatches = want.reduce((n, v, i) => n + (v !== got[i] ? 1 : 0), 0);
if (mismatches) fail(`C2 output differs from the reference in ${mismatches} values`);
console.log(`${(c2.macs / 1e6).toFixed(1)} M MACs, ${r2.counters.cycles} cycles, GEMM utilization ${(r2.counters.utilization * 100).toFixed(1)} %, simulated in ${ms.toFixed(0)} ms; output matches the reference`);
summary.push(['ResNet-18 C2', `${r2.counters.cycles} cycles`, `${(r2.counters.utilization * 100).toFixed(1)} % util, matches reference`]);

step('Summary');
console.log(table(['step', 'artifact', 'result'], summary));
console.log(`\ndemo finished in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
