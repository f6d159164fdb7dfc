/**
 * Gate-level verification in full (slow tier): every board preset, on the RTL board top
 * (`--engine board`) and on its synthesized netlist with the iCE40 cell models
 * (`--engine board-netlist`), runs the whole conformance suite and 20 random programs through the
 * simulated UART link: all pass, each with the TS simulator's cycle count (and, inside the engine,
 * its error and every buffer's bytes). Cold, each preset's netlist costs a yosys synthesis and a
 * Verilator build of minutes (docs/fpga.md, "Gate-level verification").
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BOARD_PRESETS } from '../../fpga/top/engine.ts';
import { conformanceCases } from '../../src/runtime/conformance.ts';
import { deriveConfig, PRESETS } from '../../src/config/index.ts';
import { runCli } from '../helpers/cli.ts';
import { verilatorTest } from '../helpers/tools.ts';

const RANDOM = 20;
type SuiteJson = { passed: number; failed: number; engine: string; tests: Array<{ name: string; ok: boolean; cycles: number; message: string }> };

async function suite(preset: string, engine: string, ...more: string[]): Promise<SuiteJson> {
  const r = await runCli('test', '--config', preset, '--engine', engine, ...more, '--json');
  assert.is(r.stderr.includes('vtw: error'), false, r.stderr);
  return JSON.parse(r.stdout) as SuiteJson;
}

for (const preset of BOARD_PRESETS) {
  const d = deriveConfig(PRESETS.find((p) => p.name === preset)!.json);
  for (const engine of ['board', 'board-netlist']) {
    verilatorTest(`${preset} on ${engine}: conformance (${conformanceCases(d).length}) and ${RANDOM} random programs pass with the TS simulator's cycles`, async () => {
      for (const more of [[], ['--suite', 'random', '--count', String(RANDOM)]]) {
        const ref = await suite(preset, 'ts', ...more);
        const got = await suite(preset, engine, ...more);
        assert.is(got.engine, engine);
        assert.equal(got.tests.filter((t) => !t.ok).map((t) => `${t.name}: ${t.message}`), []);
        assert.equal(got.tests.map((t) => [t.name, t.cycles]), ref.tests.map((t) => [t.name, t.cycles]));
        assert.is(got.passed, more.length ? RANDOM : conformanceCases(d).length);
        assert.is(got.failed, 0);
      }
    });
  }
}

test.run();
