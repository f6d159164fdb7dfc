/**
 * `npm run demo`: the main job on built-in defaults. Today it shows a configuration, assembles a
 * small program for it and disassembles it back; each capability joins as it lands (simulate,
 * generate Verilog, compile operators, build a bitstream) and the summary grows with it.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { configText, loadConfig } from '../src/config/index.ts';
import { assemble, disassemble, insnCount, readProgram, serializeProgram, writeProgram } from '../src/program/index.ts';
import { table } from '../src/report/table.ts';

const step = (title: string) => console.log(`\n=== ${title} ===`);
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
if (!same) {
  console.error('demo: round trip changed the program');
  process.exit(1);
}
summary.push(['disassemble', 'round trip', 'identical bytes']);

step('Summary');
console.log(table(['step', 'artifact', 'result'], summary));
console.log(`\ndemo finished in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
