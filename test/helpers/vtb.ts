/**
 * Cycle-by-cycle vector testbenches for generated modules, run in Verilator (`verilator --binary`
 * through hw/hdl/verilate.ts). Each step applies one value to every input (read from $readmemh
 * files), prints every sampled output in hex during that cycle (before the clock edge), then clocks.
 * So the printed value of a registered output at step i is the state after steps 0..i-1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printModule, verilateAndRun, type Module } from '../../hw/hdl/index.ts';

export type Step = Record<string, bigint | number>;

export interface TbOptions {
  /** Extra library files (e.g. the iCE40 cell models). */
  libraries?: string[];
}

/** Run `steps` on `dut` (dependencies in `modules`); returns, per step, the sampled outputs. */
export async function runVectors(modules: Module[], dut: Module, steps: Step[], sample: string[], opts: TbOptions = {}): Promise<bigint[][]> {
  const ports = dut.ports();
  const inputs = ports.filter((p) => p.kind === 'input' && p.name !== 'clk');
  const outs = sample.map((n) => {
    const p = ports.find((x) => x.name === n && x.kind === 'output');
    if (!p) throw new Error(`${dut.name} has no output ${n}`);
    return p;
  });
  const hasClk = ports.some((p) => p.name === 'clk');
  const dir = mkdtempSync(join(tmpdir(), 'vtw-vec-'));
  try {
    const n = steps.length;
    for (const p of inputs) {
      const digits = Math.ceil(p.width / 4);
      const mask = (1n << BigInt(p.width)) - 1n;
      const lines = steps.map((s) => (BigInt(s[p.name] ?? 0) & mask).toString(16).padStart(digits, '0'));
      writeFileSync(join(dir, `${p.name}.hex`), lines.join('\n') + '\n');
    }
    const w = (x: number) => (x === 1 ? '' : `[${x - 1}:0] `);
    const tb = [
      'module tb;',
      hasClk ? '  reg clk = 1\'b0;' : '',
      ...inputs.map((p) => `  reg ${w(p.width)}${p.name};\n  reg ${w(p.width)}v_${p.name} [0:${n - 1}];`),
      ...ports.filter((p) => p.kind === 'output').map((p) => `  wire ${w(p.width)}${p.name};`),
      `  ${dut.name} dut (${ports.map((p) => `.${p.name}(${p.name})`).join(', ')});`,
      '  integer i;',
      '  initial begin',
      ...inputs.map((p) => `    $readmemh("${join(dir, `${p.name}.hex`)}", v_${p.name});`),
      `    for (i = 0; i < ${n}; i = i + 1) begin`,
      ...inputs.map((p) => `      ${p.name} = v_${p.name}[i];`),
      '      #1;',
      `      $display("V${outs.map(() => ' %h').join('')}"${outs.map((p) => `, ${p.name}`).join('')});`,
      hasClk ? '      clk = 1\'b1; #1; clk = 1\'b0;' : '      #1;',
      '    end',
      '    $finish;',
      '  end',
      'endmodule',
      '',
    ].join('\n');
    const files: Record<string, string> = { 'tb.sv': tb };
    for (const m of modules) if (!m.blackbox) files[`${m.name}.v`] = printModule(m);
    const out = await verilateAndRun(files, 'tb', { libraries: opts.libraries });
    const rows = out.split('\n').filter((l) => l.startsWith('V')).map((l) => l.trim().split(/\s+/).slice(1).map((h) => BigInt(`0x${h.replace(/[xz]/gi, '0')}`)));
    if (rows.length !== n) throw new Error(`testbench printed ${rows.length} rows for ${n} steps`);
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Signed value of the low `w` bits of v. */
export function signed(v: bigint, w: number): bigint {
  const m = v & ((1n << BigInt(w)) - 1n);
  return m >= 1n << BigInt(w - 1) ? m - (1n << BigInt(w)) : m;
}
export function unsigned(v: bigint, w: number): bigint {
  return v & ((1n << BigInt(w)) - 1n);
}
/** Pack lane values (lane 0 in the least significant bits). */
export function packBig(values: Array<bigint | number>, w: number): bigint {
  return values.reduce<bigint>((acc, v, i) => acc | (unsigned(BigInt(v), w) << BigInt(i * w)), 0n);
}
export function unpackBig(x: bigint, w: number, n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => unsigned(x >> BigInt(i * w), w));
}
