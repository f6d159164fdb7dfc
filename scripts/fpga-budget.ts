/**
 * Per-module logic budget of a configuration's board top: yosys `synth_ice40 -noflatten` (the flow's
 * synthesis, each module kept) and its `stat`, one row per module: SB_LUT4, flip-flops (SB_DFF*),
 * SB_CARRY, block RAM, DSP, SPRAM. With `--flat`, the flattened design's totals (what nextpnr packs).
 *
 *   tsx scripts/fpga-budget.ts CONFIG [--board B] [--mem-bytes N] [--flat] [--json]
 *
 * CONFIG: a preset, a JSON file or inline JSON (as `vtw synth --config`); `--mem-bytes` sizes the
 * board top's memory as `vtw synth --mem-bytes` does. The link is generated for
 * 115200 baud at the board clock, as `vtw synth --config` builds it. About 40 s of CPU for a 1x4 core.
 * docs/fpga.md, "Per-module budget".
 */
import { getBoard } from '../fpga/boards/index.ts';
import { buildVtaBoardTop } from '../fpga/top/index.ts';
import { loadConfig } from '../src/config/index.ts';

interface Row { module: string; lut4: number; ff: number; carry: number; ebr: number; dsp: number; spram: number }

const args = process.argv.slice(2);
const flat = args.includes('--flat');
const json = args.includes('--json');
const bi = args.indexOf('--board');
const mi = args.indexOf('--mem-bytes');
const spec = args.find((a, i) => !a.startsWith('--') && (bi < 0 || i !== bi + 1) && (mi < 0 || i !== mi + 1));
if (!spec) {
  console.error('usage: tsx scripts/fpga-budget.ts CONFIG [--board B] [--mem-bytes N] [--flat] [--json]');
  process.exit(2);
}
const memBytes = mi >= 0 ? Number(args[mi + 1]) : undefined;
if (memBytes !== undefined && !(Number.isInteger(memBytes) && memBytes > 0)) {
  console.error(`fpga-budget: --mem-bytes takes a positive integer (a power of two), not ${args[mi + 1]}`);
  process.exit(2);
}
/** Bad input (a config, a board, a configuration the board cannot take): one line, exit 2. */
function orExit<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    console.error(`fpga-budget: ${(e as Error).message}`);
    process.exit(2);
  }
}
const d = orExit(() => loadConfig(spec));
const boardName = bi >= 0 ? args[bi + 1] : d.board;
if (!boardName) {
  console.error(`fpga-budget: config ${d.variant} names no BOARD: give --board B`);
  process.exit(2);
}
const design = orExit(() => buildVtaBoardTop(d, getBoard(boardName), null, memBytes !== undefined ? { memBytes } : {}));
const { runYosys } = await import('@yowasp/yosys');
const reads = Object.keys(design.files).map((n) => `read_verilog ${n}`).join('; ');
const script = `${reads}; synth_ice40 -top ${design.top}${flat ? '' : ' -noflatten'}; tee -q -o stat.txt stat`;
let log = '';
const sink = (b: Uint8Array | string | null) => {
  if (b) log += typeof b === 'string' ? b : new TextDecoder().decode(b);
};
const t0 = performance.now();
console.error(`synthesizing ${design.top} (yosys synth_ice40${flat ? '' : ' -noflatten'})...`);
const tree = (await (runYosys as (a: string[], f: Record<string, string>, o: object) => Promise<Record<string, unknown>>)(['-q', '-p', script], { ...design.files }, { stdout: sink, stderr: sink })) ?? {};
const st = tree['stat.txt'];
if (st === undefined) {
  console.error(`yosys wrote no statistics: ${log.split('\n').find((l) => l.includes('ERROR')) ?? 'see its log'}`);
  process.exit(1);
}
const text = typeof st === 'string' ? st : new TextDecoder().decode(st as Uint8Array);
const rows: Row[] = [];
const prefix = `${design.vtaTop}_`;
for (const part of text.split('=== ').slice(1)) {
  const name = part.split(' ===')[0].trim();
  const sum = (re: RegExp) => [...part.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
  rows.push({
    module: name === design.top ? 'board top' : name.startsWith(prefix) ? name.slice(prefix.length) || 'link' : name === design.vtaTop ? 'core top' : name,
    lut4: sum(/^\s+SB_LUT4\s+(\d+)$/gm),
    ff: sum(/^\s+SB_DFF\w*\s+(\d+)$/gm),
    carry: sum(/^\s+SB_CARRY\s+(\d+)$/gm),
    ebr: sum(/^\s+SB_RAM40_4K\s+(\d+)$/gm),
    dsp: sum(/^\s+SB_MAC16\s+(\d+)$/gm),
    spram: sum(/^\s+SB_SPRAM256KA\s+(\d+)$/gm),
  });
}
const total = rows.find((r) => r.module === 'design hierarchy');
const mods = rows.filter((r) => r !== total).sort((a, b) => b.lut4 - a.lut4);
if (json) {
  console.log(JSON.stringify({ config: d.variant, board: boardName, flat, modules: mods, total: total ?? mods[0] }, null, 1));
} else {
  console.log(`${d.variant} on ${boardName}${flat ? ' (flattened)' : ''}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log('| module | LUT4 | FF | carry | EBR | DSP | SPRAM |\n|---|---|---|---|---|---|---|');
  for (const r of [...mods, ...(total ? [{ ...total, module: 'total' }] : [])]) {
    console.log(`| ${r.module} | ${r.lut4} | ${r.ff} | ${r.carry} | ${r.ebr} | ${r.dsp} | ${r.spram} |`);
  }
}
