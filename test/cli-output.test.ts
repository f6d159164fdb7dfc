/**
 * What the CLI prints when things end early, run as a user runs it (bin/vtw.js in a child process):
 * a reader that goes away, runs that end in an error, yosys errors, empty and missing inputs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { yosysErrorLines } from '../hw/yosys-errors.ts';
import { runCli } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-cli-output-'));

/** `node bin/vtw.js ARGS`: exit status, stdout, stderr. */
async function vtw(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa('node', ['bin/vtw.js', ...args], { reject: false, timeout: 60_000 });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** An assembled program of `src`'s text section. */
async function program(name: string, text: string): Promise<string> {
  const src = join(tmp, `${name}.vasm`);
  writeFileSync(src, `.text\n${text}`);
  const out = join(tmp, `${name}.json`);
  const r = await runCli('asm', src, '-o', out);
  assert.is(r.code, 0, r.stderr);
  return out;
}

test('a reader that goes away (vtw disasm BIG | head -1) ends vtw quietly with status 0', async () => {
  // 20,000 instructions: about 1.2 MB of listing, far more than a pipe holds.
  const big = await program('big', '  GEMM uop_end=1\n'.repeat(20_000) + '  FINISH\n');
  const child = execa('node', ['bin/vtw.js', 'disasm', big], { reject: false, timeout: 60_000 });
  let first = '';
  child.stdout!.once('data', (chunk: Buffer) => {
    first = chunk.toString();
    child.stdout!.destroy(); // what `head -1` does after its line
  });
  const r = await child;
  assert.match(first, /^; vtw program for /);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(r.stderr, '');
});

test('a run that ends in an error prints that one line; --verbose or --json add the counters', async () => {
  const dead = await program('dead', '  LOAD INP x_size=1 y_size=1 x_stride=1 pop_next_dep dram_base=256\n  FINISH pop_prev_dep\n');
  const illegal = await program('illegal', '  GEMM uop_end=16383\n  FINISH\n');
  for (const [file, what] of [[dead, /^vtw: error: deadlock: deadlock at cycle \d+; load: insn 0/], [illegal, /^vtw: error: illegal: illegal instruction 0 \(GEMM\)/]] as const) {
    const r = await vtw('sim', file);
    assert.is(r.code, 1);
    assert.is(r.stdout, '', 'no counters before the error');
    assert.is(r.stderr.split('\n').length, 1, r.stderr);
    assert.match(r.stderr, what);
    // The same code in-process (a child process costs seconds here).
    const v = await runCli('sim', file, '--verbose');
    assert.is(v.code, 1);
    assert.match(v.stdout, /^cycles \d+, GEMM utilization/m);
    assert.match(v.stdout, /wait token/);
    assert.is(v.stderr.trim().split('\n').length, 1, v.stderr);
    const j = await runCli('sim', file, '--json');
    assert.is(j.code, 1);
    assert.ok(JSON.parse(j.stdout).error.kind, j.stdout);
    assert.is(j.stderr.trim().split('\n').length, 1, j.stderr);
  }
});

test('vtw synth with bad Verilog shows yosys\'s ERROR line with its source location', async () => {
  const dir = join(tmp, 'bad-verilog');
  mkdirSync(dir);
  writeFileSync(join(dir, 'top.v'), 'module top(input clk, output led);\n  assign led = clk +;\nendmodule\n');
  const r = await vtw('synth', '--board', 'icestick', '--verilog', dir, '--top', 'top', '--out', join(tmp, 'never'));
  assert.is(r.code, 1);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('vtw:'));
  assert.equal(errors, ["vtw: error: yosys: top.v:2: syntax error, unexpected ';'"]);
  assert.not.match(r.stderr, 'Exited with status');
});

test('yosys error lines: plain and with a source location', () => {
  const log = 'Parsing..\nbad.v:2: ERROR: syntax error, unexpected \';\'\nERROR: Module `nope\' is not part of the design.\nINFO: ERROR: not at the start\n';
  assert.equal(yosysErrorLines(log), ["bad.v:2: syntax error, unexpected ';'", "Module `nope' is not part of the design."]);
});

test('disasm of an empty file and flash --dry-run of a missing bitstream are one-line errors', async () => {
  const empty = join(tmp, 'empty.json');
  writeFileSync(empty, '');
  const d = await vtw('disasm', empty);
  assert.is(d.code, 1);
  assert.is(d.stdout, '');
  assert.is(d.stderr, `vtw: error: ${empty} is empty: give a program container (vtw asm -o FILE) or a raw instruction stream`);
  const missing = join(tmp, 'missing.bin');
  const f = await vtw('flash', '--board', 'icebreaker', missing, '--dry-run');
  assert.is(f.code, 1);
  assert.is(f.stdout, '');
  assert.is(f.stderr, `vtw: error: bitstream ${missing} does not exist`);
  const folder = await runCli('flash', '--board', 'icebreaker', tmp, '--dry-run');
  assert.is(folder.code, 1);
  assert.is(folder.stderr, `vtw: error: bitstream ${tmp} is not a file\n`);
});

test('bin/vtw.js runs by its #! line, with vtw\'s V8 flags (env -S), as npx and an installed vtw run it', async () => {
  const r = await execa('bin/vtw.js', ['--version'], { reject: false, timeout: 60_000 });
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+$/);
  const flags = readFileSync('bin/vtw.js', 'utf8').split('\n')[0].replace('#!/usr/bin/env -S node', '').trim();
  assert.ok(flags.length > 0, 'the #! line names V8 flags');
  // node accepts them (a flag it did not know would stop every vtw command before it starts)
  const n = await execa('node', [...flags.split(/\s+/), '-e', 'process.exit(0)'], { reject: false });
  assert.is(n.exitCode, 0, n.stderr);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
