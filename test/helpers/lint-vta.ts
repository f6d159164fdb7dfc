/** `verilator --lint-only -Wall` of a configuration's whole generated VTA design, for the tests that lint configurations. */
import * as assert from 'uvu/assert';
import type { Derived } from '../../src/config/derive.ts';
import { ice40CellsSim, printModule, verilatorLint } from '../../hw/hdl/index.ts';
import { generateVta, vtaTopName } from '../../hw/vta/index.ts';

export async function lintVta(d: Derived, target: 'generic' | 'ice40', label = `${d.variant} (${target})`): Promise<void> {
  const mods = generateVta(d, { target, configId: 0x1234abcd });
  const top = mods[mods.length - 1];
  assert.is(top.name, vtaTopName(d));
  const files = Object.fromEntries(mods.map((m) => [`${m.name}.v`, printModule(m)]));
  const r = await verilatorLint(files, top.name, target === 'ice40' ? [ice40CellsSim()] : []);
  assert.ok(r.ok, `${label}:\n${r.messages.slice(0, 10).join('\n')}`);
}
