import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, PRESET_NAMES } from '../src/config/index.ts';
import { generateDesign } from '../hw/gen.ts';
import { yosysCheck } from '../hw/yosys.ts';

// Yosys (WebAssembly build) elaborates every preset and finds no latch, no multiple driver, no
// combinational loop and nothing undriven (`proc; opt; check -assert`).
for (const name of PRESET_NAMES) {
  test(`yosys check -assert: ${name} (generic)`, async () => {
    const d = loadConfig(name);
    const design = generateDesign(d, 'generic');
    const log = await yosysCheck(design.files, design.manifest.top);
    assert.not.match(log, /^ERROR/m);
  });
}

for (const name of ['ice40-small', 'ice40-tiny']) {
  test(`yosys check -assert: ${name} (ice40 target, SB_MAC16 from the cell library)`, async () => {
    const design = generateDesign(loadConfig(name), 'ice40');
    await yosysCheck(design.files, design.manifest.top, true);
  });
}

test.run();
