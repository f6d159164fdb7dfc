/**
 * Where a configuration's clock goes, before place and route (fpga/timing-estimate.ts): the
 * estimated arrival at every register of its board top's synthesized netlist (yosys
 * `synth_ice40`, as `vtw synth --config` runs it), the worst registers, and the families of
 * endpoints over the limit by the register their paths start from.
 *
 *   tsx scripts/fpga-depth.ts CONFIG [--board B] [--mem-bytes N] [--ns T] [--top N] [--path REGISTER] [--from REGEX] [--netlist F] [--json]
 *
 * `--ns T`: the limit (default: the configuration's clock period; the estimate runs about 1/0.85
 * of nextpnr's routed delays on a full UP5K, docs/fpga.md "Where the clock goes"); `--top N`: the N
 * worst registers (default 20); `--path REGISTER`: the longest path into it, net by net;
 * `--from REGEX`: only paths that start at registers (or RAM outputs) whose listed name matches,
 * to measure a family that longer paths from elsewhere hide (e.g. `'u_compute\.(fl_|alu_)'`);
 * `--netlist F`: a yosys JSON netlist of the same top (another synthesis script's) instead of
 * synthesizing; `--mem-bytes N`: the board top's memory, as `vtw synth --mem-bytes`. The netlist
 * is the gate-level simulation's (fpga/top/netlist.ts), cached by content. About 30 s.
 */
import { readFileSync } from 'node:fs';
import { getBoard } from '../fpga/boards/index.ts';
import { estimateTiming, pathFamilies } from '../fpga/timing-estimate.ts';
import { buildVtaBoardTop } from '../fpga/top/index.ts';
import { synthNetlist } from '../fpga/top/netlist.ts';
import { loadConfig } from '../src/config/index.ts';

const args = process.argv.slice(2);
const valued = new Set(['--board', '--ns', '--top', '--path', '--from', '--netlist', '--mem-bytes']);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const spec = args.find((a, i) => !a.startsWith('--') && !(i > 0 && valued.has(args[i - 1])));
/** Bad input: one line, exit 2. */
function fail(msg: string): never {
  console.error(`fpga-depth: ${msg}`);
  process.exit(2);
}
function orExit<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    fail((e as Error).message);
  }
}
if (!spec) fail('usage: tsx scripts/fpga-depth.ts CONFIG [--board B] [--mem-bytes N] [--ns T] [--top N] [--path REGISTER] [--from REGEX] [--netlist F] [--json]');
const d = orExit(() => loadConfig(spec));
const boardName = opt('--board') ?? d.board ?? fail(`config ${d.variant} names no BOARD: give --board B`);
const board = orExit(() => getBoard(boardName));
const memText = opt('--mem-bytes');
const memBytes = memText === undefined ? undefined : Number(memText);
if (memBytes !== undefined && !(Number.isInteger(memBytes) && memBytes > 0)) fail(`--mem-bytes takes a positive integer (a power of two), not ${memText}`);
const design = orExit(() => buildVtaBoardTop(d, board, null, memBytes !== undefined ? { memBytes } : {}));
const limitNs = Number(opt('--ns') ?? 1000 / d.clockMhz);
const topN = Number(opt('--top') ?? 20);
if (!(limitNs > 0) || !(topN > 0)) fail('--ns and --top take positive numbers');

let json: string;
const given = opt('--netlist');
if (given !== undefined) json = orExit(() => readFileSync(given, 'utf8'));
else json = (await synthNetlist(design, { onProgress: (m) => console.error(m) })).json;

const fromText = opt('--from');
const from = fromText === undefined ? undefined : orExit(() => new RegExp(fromText));
const est = orExit(() => estimateTiming(json, design.top, limitNs, from ? { from } : {}));
const families = pathFamilies(est);
const pathOf = opt('--path');
if (pathOf !== undefined) {
  const steps = est.pathInto(pathOf) ?? fail(`no register ${pathOf} (give a name as listed, without a bit index)`);
  const g = est.groups.find((x) => x.group === pathOf)!;
  console.log(`longest path into ${pathOf} (${g.ns.toFixed(1)} ns with routing and setup), arrival per net:`);
  for (const s of steps) console.log(`${s.ns.toFixed(1).padStart(6)}  ${s.net}${s.via ? `  (${s.via})` : ''}`);
} else if (args.includes('--json')) {
  console.log(JSON.stringify({ config: d.variant, board: board.name, limitNs, endpoints: est.endpoints, over: est.over, families, groups: est.groups }, null, 1));
} else {
  const only = from ? ` (paths from registers matching /${fromText}/ only)` : '';
  console.log(`${d.variant} on ${board.name}: ${est.endpoints} register/RAM inputs, ${est.over} estimated over ${limitNs.toFixed(1)} ns${only}`);
  console.log('\nworst registers:');
  console.log(`${'est. ns'.padStart(8)}  ${'over/inputs'.padStart(11)}  register  <-  its longest path starts at`);
  for (const g of est.groups.slice(0, topN)) {
    console.log(`${g.ns.toFixed(1).padStart(8)}  ${`${g.over}/${g.endpoints}`.padStart(11)}  ${g.group}  <-  ${g.from}`);
  }
  if (families.length) {
    console.log(`\ninputs over ${limitNs.toFixed(1)} ns by where their longest path starts:`);
    console.log(`${'est. ns'.padStart(8)}  ${'inputs'.padStart(6)}  from  ->  into (first 4)`);
    for (const f of families) {
      console.log(`${f.ns.toFixed(1).padStart(8)}  ${String(f.over).padStart(6)}  ${f.from}  ->  ${f.into.slice(0, 4).join(', ')}${f.into.length > 4 ? ', ...' : ''}`);
    }
  }
}
