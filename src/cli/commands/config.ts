import type { Command } from 'commander';
import { configJson, configText, deriveConfig, PRESETS, type Derived } from '../../config/index.ts';
import { configOption, jsonOption } from '../options.ts';
import { bytes, table } from '../../report/table.ts';

export function registerConfig(program: Command): void {
  const cmd = program.command('config').description('list, show and validate VTA configurations');
  cmd
    .command('list')
    .description('list the built-in presets with their canonical VTA names and sizes')
    .addOption(jsonOption())
    .action((opts: { json?: boolean }) => {
      const rows = PRESETS.map((p) => ({ preset: p, d: deriveConfig(p.json) }));
      if (opts.json) {
        console.log(JSON.stringify(rows.map(({ preset, d }) => ({ preset: preset.name, description: preset.description, ...configJson(d) })), null, 2));
        return;
      }
      console.log(
        table(
          ['preset', 'VTA name', 'target', 'GEMM', 'MACs', 'bus', 'MHz', 'SRAM', 'description'],
          rows.map(({ preset, d }) => [
            preset.name, d.variant, d.target, `${d.batch}x${d.blockIn}x${d.blockOut}`, d.multipliers, d.busWidth, d.clockMhz,
            bytes(d.buffBytes.uop + d.buffBytes.inp + d.buffBytes.wgt + d.buffBytes.acc + d.buffBytes.out), preset.description,
          ]),
        ),
      );
    });
  cmd
    .command('show')
    .description('show a configuration, every derived quantity and the ISA field layout')
    .addOption(configOption())
    .addOption(jsonOption('print JSON (configuration, derived quantities, field layout)'))
    .action((opts: { config: Derived; json?: boolean }) => {
      const d = opts.config;
      console.log(opts.json ? JSON.stringify(configJson(d), null, 2) : configText(d));
    });
}
