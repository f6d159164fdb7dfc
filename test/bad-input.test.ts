/**
 * Bad input ends in ONE line naming what is wrong, a non-zero exit, quickly: hanging shapes and
 * inputs, huge sizes, multi-line parse errors, reserved names, runaway programs (issue 19, item 6).
 * What is about the process (exit status, one line, time limit) runs vtw in a child process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';
import { errorLines, runVtw } from './helpers/vtw-child.ts';
import { assemble, serializeProgram } from '../src/program/index.ts';
import { errorLine, MAX_ERROR_CHARS, quoteUser } from '../src/util/quote.ts';
import { divisors } from '../compiler/ops/common.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-bad-'));
const gemmTiny = readFileSync('examples/gemm-tiny.vasm', 'utf8');
const container = serializeProgram(assemble(gemmTiny, 'gemm-tiny.vasm'));

/** One `vtw: error:` line of at most MAX_ERROR_CHARS, no other output on stderr, exit 1. */
function oneLine(r: { code: number | undefined; stderr: string }, pattern: RegExp): string {
  assert.is(r.code, 1, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.length);
  assert.is(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.ok(lines[0].startsWith('vtw: error: '), lines[0]);
  assert.ok(lines[0].length <= MAX_ERROR_CHARS + 'vtw: error: '.length, `${lines[0].length} characters`);
  assert.not.match(lines[0], /[\x00-\x08\x0b-\x1f]/);
  assert.match(lines[0], pattern);
  return lines[0];
}

test('shapes that used to hang (1e300, 2^53 + 1) end in one line (well within the 30 s that counts as a hang)', async () => {
  for (const shape of ['1e300,16,16', '9007199254740993,16,16']) {
    const r = await runVtw(['op', 'dense', '--shape', shape], { timeoutMs: 30_000 });
    assert.not.ok(r.timedOut, `${shape} hangs`);
    oneLine(r, /larger than the 65536 a dimension may have/);
  }
});

test('huge operator shapes are refused with the size asked for (no "Invalid typed array length")', async () => {
  oneLine(await runCli('op', 'dense', '--shape', '60000,60000,16'), /dense: its tensors need 3601920064 bytes/);
  oneLine(await runCli('op', 'conv2d', '--shape', '4096,4096,256,64,3,1,1'), /conv2d: its tensors need \d+ bytes .*use a smaller shape/);
  oneLine(await runCli('op', 'add', '--shape', '65536,65536,16'), /add: its tensors need \d+ bytes/);
  oneLine(await runCli('op', 'maxpool', '--shape', '65536,65536,16,3,1,2'), /maxpool: its tensors need \d+ bytes/);
  // a configuration with little DRAM refuses what it cannot address
  oneLine(await runCli('op', 'dense', '--shape', '64,4096,1024', '--config', '{"MEM_ADDR_BITS": 20}'), /bytes of DRAM .*MEM_ADDR_BITS = 20/);
});

test('config show --config /dev/zero stops at the size limit; a folder is refused', async () => {
  const r = await runVtw(['config', 'show', '--config', '/dev/zero'], { timeoutMs: 30_000 });
  assert.not.ok(r.timedOut, '/dev/zero hangs');
  oneLine(r, /config file '\/dev\/zero' is larger than the 1 MiB/);
  oneLine(await runCli('config', 'show', '--config', tmp), /is a folder/);
  oneLine(await runCli('sim', '/dev/zero'), /larger than|not valid JSON/);
});

test('JSON errors are one line without the source snippet; a binary prints no NUL bytes', async () => {
  const broken = container.replace('"buffers"', '"buffers" x');
  writeFileSync(join(tmp, 'broken.json'), broken);
  const line = oneLine(await runCli('sim', join(tmp, 'broken.json')), /is not valid JSON: unexpected character 'x' at line \d+ column \d+/);
  assert.not.match(line, '"format"');
  const bin = new Uint8Array(4096).map((_, i) => (i * 37) % 256);
  bin[0] = 0;
  writeFileSync(join(tmp, 'binary.json'), bin);
  oneLine(await runCli('sim', join(tmp, 'binary.json')), /not valid JSON: unexpected character '\\x00'/);
  oneLine(await runCli('config', 'show', '--config', join(tmp, 'binary.json')), /not valid JSON/);
  oneLine(await runCli('isa', 'encode', '{"opcode":\n"GEMM",\n\n}'), /instruction is not valid JSON: .*line 4 column 1/);
  oneLine(await runCli('op', 'dense', '--shape', '16,16,16', '--knobs', '{tile_b}'), /--knobs is not valid JSON/);
});

test('buffer names __proto__, constructor, prototype are refused (container and assembly)', async () => {
  for (const name of ['__proto__', 'constructor', 'prototype']) {
    const j = JSON.parse(container);
    j.buffers.find((b: { name: string }) => b.name === 'out').name = name;
    writeFileSync(join(tmp, `${name}.json`), JSON.stringify(j));
    oneLine(await runCli('sim', join(tmp, `${name}.json`)), new RegExp(`buffer name ${name} is reserved`));
    writeFileSync(join(tmp, `${name}.vasm`), gemmTiny.replace('.buffer out ', `.buffer ${name} `).replace('@out', `@${name}`));
    oneLine(await runCli('asm', join(tmp, `${name}.vasm`), '-o', join(tmp, `${name}-out.json`)), /is reserved/);
  }
});

test('assembly: a huge size= is refused with the size asked for', async () => {
  writeFileSync(join(tmp, 'space.vasm'), gemmTiny.replace('.buffer out kind=data role=output size=16', '.buffer out kind=data role=output size=99999999999'));
  oneLine(await runCli('asm', join(tmp, 'space.vasm'), '-o', join(tmp, 'space.json')), /buffer out asks for size=99999999999 bytes/);
  writeFileSync(join(tmp, 'addr.vasm'), gemmTiny.replace('.buffer out kind=data role=output size=16', '.buffer out kind=data role=output size=16 addr=0xfffff000'));
  oneLine(await runCli('asm', join(tmp, 'addr.vasm'), '-o', join(tmp, 'addr.json')), /ends past the \d+ bytes of DRAM/);
  const j = JSON.parse(container);
  j.buffers.find((b: { name: string }) => b.name === 'out').addr = 0xf0000000;
  writeFileSync(join(tmp, 'high.json'), JSON.stringify(j));
  oneLine(await runCli('sim', join(tmp, 'high.json')), /needs \d+ bytes of DRAM .*at most 1073741824/);
});

test('config values: CLOCK_MHZ 1e999 is named as not finite; a byte-order mark is accepted', async () => {
  oneLine(await runCli('config', 'show', '--config', '{"CLOCK_MHZ": 1e999}'), /CLOCK_MHZ = Infinity \(not a finite number\)/);
  writeFileSync(join(tmp, 'bom.json'), '\ufeff{"LOG_BATCH": 1}');
  const r = await runCli('config', 'show', '--config', join(tmp, 'bom.json'));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, '2x16_i8w8a32');
  writeFileSync(join(tmp, 'bom-prog.json'), `\ufeff${container}`);
  assert.is((await runCli('sim', join(tmp, 'bom-prog.json'))).code, 0);
});

test('a runaway program ends at --max-cycles in one line saying where each module was', async () => {
  const src = gemmTiny.replace('GEMM uop_bgn=0 uop_end=1 iter_out=1 iter_in=1', 'GEMM uop_bgn=0 uop_end=1 iter_out=16000 iter_in=16000');
  writeFileSync(join(tmp, 'runaway.json'), serializeProgram(assemble(src, 'runaway.vasm')));
  const r = await runVtw(['sim', join(tmp, 'runaway.json'), '--max-cycles', '200000'], { timeoutMs: 30_000 });
  assert.not.ok(r.timedOut);
  const line = errorLines(r.stderr).at(-1)!;
  assert.is(r.code, 1);
  assert.match(line, /timeout: no FINISH within 200000 cycles \(--max-cycles\): GEMM #4 has 256000000 micro-ops; at cycle \d+: load .*, compute running #4 GEMM, store .*; fetch dispatched \d+ of 7 instructions/);
  assert.ok(line.length <= MAX_ERROR_CHARS + 12);
  // a program that runs past the limit between instructions stops there too
  const many = gemmTiny.replace('GEMM uop_bgn=0 uop_end=1 iter_out=1 iter_in=1', 'GEMM uop_bgn=0 uop_end=1 iter_out=100 iter_in=100');
  writeFileSync(join(tmp, 'long.json'), serializeProgram(assemble(many, 'long.vasm')));
  oneLine(await runCli('sim', join(tmp, 'long.json'), '--max-cycles', '5000', '--json'), /no FINISH within 5000 cycles/);
  oneLine(await runCli('sim', join(tmp, 'long.json'), '--max-cycles', 'lots', '--json'), /--max-cycles 'lots' must be a positive integer/);
  const t = await runCli('test', '--suite', 'random', '--count', '2', '--max-cycles', '10', '--json');
  assert.is(process.exitCode, 1); // vtw test reports failures through the exit status
  process.exitCode = 0;
  assert.ok(JSON.parse(t.stdout).tests.every((x: { message: string }) => /no FINISH within 10 cycles/.test(x.message)));
});

test('divisors: the same as counting, in O(sqrt n) for huge n', () => {
  for (let n = 1; n <= 300; n++) {
    const slow: number[] = [];
    for (let i = 1; i <= n; i++) if (n % i === 0) slow.push(i);
    assert.equal(divisors(n), slow);
  }
  // 2^52 - 1 = 3 * 5 * 53 * 157 * 1613 * 2731 * 8191: 2^7 divisors. No clock here (a loaded machine
  // makes any bound flaky): counting up to n would take ~10^15 steps, so a linear version never
  // returns and the runner's per-file time limit fails the file; up to sqrt(n) it is ~7 * 10^7 steps.
  assert.equal(divisors(2 ** 52 - 1).length, 128);
});

test('quoteUser / errorLine: control characters escaped, quotes cut at ~80, lines at 300', () => {
  assert.is(quoteUser('a\nb\0c'), "'a\\nb\\x00c'");
  assert.is(quoteUser('x'.repeat(200)).length, 80 + 3);
  const long = errorLine(`deadlock: ${'waits; '.repeat(100)}\nsecond line`);
  assert.ok(long.length <= MAX_ERROR_CHARS);
  assert.not.match(long, '\n');
});

test.run();
