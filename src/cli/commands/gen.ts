import type { Command } from 'commander';
import type { Derived } from '../../config/index.ts';
import { VtwError } from '../../errors.ts';
import { bytes, table } from '../../report/table.ts';
import { generateDesign, writeDesign } from '../../../hw/gen.ts';
import { HW_TARGETS, type HwTarget } from '../../../hw/lib/mult.ts';
import { configOption, jsonOption, outOption } from '../options.ts';

export function registerGen(program: Command): void {
  program
    .command('gen')
    .description('generate synthesizable Verilog for a VTA configuration (one file per module + manifest.json)')
    .addOption(configOption())
    .addOption(outOption('dir', 'output folder (replaced as a whole when generation succeeds; vtw replaces only folders it wrote, see --force)', { required: true }))
    .option('-t, --target <target>', `generic or ice40`, 'generic')
    .addOption(jsonOption('print the manifest as JSON'))
    .option('--force', 'replace --out even when it holds files vtw did not write')
    .action((opts: { config: Derived; out: string; target: string; json?: boolean; force?: boolean }) => {
      if (!HW_TARGETS.includes(opts.target as HwTarget)) throw new VtwError(`unknown target ${opts.target}; targets: ${HW_TARGETS.join(', ')}`);
      const d = opts.config;
      const t0 = performance.now();
      process.stderr.write(`generating ${d.variant} for ${opts.target}...\n`);
      const design = generateDesign(d, opts.target as HwTarget);
      const t1 = performance.now();
      const files = writeDesign(design, opts.out, { force: opts.force });
      const lines = Object.values(design.files).reduce((n, t) => n + t.split('\n').length - 1, 0);
      process.stderr.write(`generated ${files.length - 1} modules, ${lines} lines in ${(t1 - t0).toFixed(0)} ms; wrote ${opts.out}\n`);
      if (opts.json) {
        console.log(JSON.stringify(design.manifest, null, 2));
        return;
      }
      const m = design.manifest;
      console.log(`top ${m.top}  (${m.config}, target ${m.target}, config id ${m.configId})`);
      console.log(`content hash ${m.contentHash}`);
      console.log(`multipliers ${m.resources.multipliers}${m.resources.dsps !== null ? `, SB_MAC16 ${m.resources.dsps}` : ''}`);
      console.log(table(['SRAM', 'bits', 'size'], Object.entries(m.resources.sramBits).map(([k, v]) => [k.toUpperCase(), v, bytes(v / 8)])));
    });
}
