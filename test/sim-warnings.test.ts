/**
 * A run that reaches FINISH while another module still holds an instruction (here: ones waiting
 * for tokens nobody pushes) ends with warnings naming the module and the instruction, the same on
 * both engines; `vtw sim` prints them and `--engine both` compares them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { assemble, writeProgram } from '../src/program/index.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { compareResults } from '../sim/compare.ts';
import { runSync } from '../sim/ts/engine.ts';
import { VerilatorEngine } from '../sim/verilator/engine.ts';
import { runCli } from './helpers/cli.ts';
import { verilatorTest } from './helpers/tools.ts';

// The load module's two LOADs and the STORE pop tokens compute never pushes; FINISH pops nothing.
const HELD = assemble([
  '.config ice40-tiny',
  '.text',
  '  LOAD INP x_size=1 y_size=1 x_stride=1 pop_next_dep dram_base=256',
  '  LOAD WGT x_size=1 y_size=1 x_stride=1 dram_base=256',
  '  STORE OUT pop_prev_dep',
  '  FINISH',
  '',
].join('\n'));

const WANT = [
  'load: insn 0 (LOAD INP) waits for a token on g2l when FINISH (insn 3) ended the run (1 more of its instructions behind it)',
  'store: insn 2 (STORE OUT) waits for a token on g2s when FINISH (insn 3) ended the run',
];

test('TS engine: FINISH with instructions waiting for tokens ends with warnings naming module and instruction', () => {
  const r = runSync(HELD);
  assert.is(r.error, undefined, r.error?.message);
  assert.equal(r.warnings, WANT);
  // the held instructions never ran
  assert.equal(r.insnTiming!.map((t) => t.index), [3]);
  // ... and their modules count the cycles since they could have started as waiting for a token
  assert.ok(r.counters.modules.load.waitToken > 0 && r.counters.modules.store.waitToken > 0, JSON.stringify(r.counters.modules));
});

test('TS engine: a token that arrives lets the instruction run, and clean runs have no warnings', () => {
  // compute pushes g2l before FINISH: the first LOAD can start (the STORE still waits)
  const p = assemble('.config ice40-tiny\n.text\n  LOAD INP x_size=1 y_size=1 x_stride=1 pop_next_dep dram_base=256\n  STORE OUT pop_prev_dep\n  GEMM push_prev_dep\n  FINISH\n');
  const r = runSync(p);
  assert.is(r.error, undefined, r.error?.message);
  assert.equal(r.warnings, ['store: insn 1 (STORE OUT) waits for a token on g2s when FINISH (insn 3) ended the run']);
  const d = loadConfig('ice40-tiny');
  for (const seed of [1, 2, 3]) assert.is(runSync(randomProgram(d, seed).program).warnings, undefined, `random program ${seed}`);
});

test('compareResults reports differing warnings', () => {
  const a = runSync(HELD);
  const b = { ...a, engine: 'verilator' as const, warnings: undefined };
  const mm = compareResults(HELD, a, b);
  assert.equal(mm.map((m) => m.what), ['warnings']);
  assert.equal(compareResults(HELD, a, { ...a, engine: 'verilator' }), []);
});

test('vtw sim prints the warnings (text and --json)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtw-warn-'));
  try {
    const file = join(dir, 'held.json');
    writeProgram(file, HELD);
    const text = await runCli('sim', file);
    assert.is(text.code, 0, text.stderr);
    for (const w of WANT) assert.ok(text.stdout.includes(`warning: ${w}`), text.stdout);
    const json = await runCli('sim', file, '--json');
    assert.equal(JSON.parse(json.stdout).warnings, WANT);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

verilatorTest('Verilator engine: the same warnings from the RTL run', async () => {
  const rtl = new VerilatorEngine((m) => process.stderr.write(`${m}\n`));
  const b = await rtl.run(HELD);
  assert.is(b.error, undefined, b.error?.message);
  assert.equal(b.warnings, WANT);
  assert.equal(compareResults(HELD, runSync(HELD), b), []);
});

test.run();
