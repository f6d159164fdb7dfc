import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from './helpers/cli.ts';
import { PRESETS } from '../src/config/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-cli-'));

test('config list names every preset with its VTA name', async () => {
  const r = await runCli('config', 'list');
  assert.is(r.code, 0);
  for (const p of PRESETS) assert.match(r.stdout, p.name);
  assert.match(r.stdout, '1x16_i8w8a32_15_15_18_17');
});

test('config show --json: derived quantities and field positions', async () => {
  const r = await runCli('config', 'show', '--config', 'block32', '--json');
  assert.is(r.code, 0);
  const j = JSON.parse(r.stdout);
  assert.is(j.name, '1x32_i8w8a32_15_15_18_17');
  assert.is(j.derived.blockOut, 32);
  assert.is(j.derived.elemBytes.wgt, 1024);
  assert.is(j.derived.depth.wgt, 256);
  assert.is(j.derived.busWidth, 64);
  const imm = j.layout.alu.find((f: { name: string }) => f.name === 'imm');
  assert.equal(imm, { name: 'imm', lsb: 108, msb: 123, width: 16, signed: true });
});

test('config show reads a VTA JSON file', async () => {
  const f = join(tmp, 'vta_config.json');
  writeFileSync(f, JSON.stringify({ TARGET: 'ultra96', LOG_BATCH: 1, LOG_BLOCK: 3, LOG_WGT_BUFF_SIZE: 16 }));
  const r = await runCli('config', 'show', '-c', f);
  assert.is(r.code, 0);
  assert.match(r.stdout, 'ultra96_2x8_i8w8a32_15_15_16_17');
});

test('isa encode / decode: VTA field names, 32 hex digits, same JSON back', async () => {
  const json = '{"opcode":"GEMM","pop_prev_dep":1,"push_next_dep":1,"uop_bgn":1,"uop_end":5,"iter_out":3,"iter_in":2,"dst_factor_out":16,"dst_factor_in":1,"src_factor_out":2,"wgt_factor_out":1,"wgt_factor_in":4}';
  const e = await runCli('isa', 'encode', '--config', 'default', json);
  assert.is(e.code, 0);
  assert.is(e.stdout.trim(), '01001000008008100004001800a0014a');
  const d = await runCli('isa', 'decode', '--config', 'default', e.stdout.trim());
  assert.is(d.code, 0);
  const back = JSON.parse(d.stdout);
  assert.equal({ ...back, reset_reg: undefined, src_factor_in: undefined, pop_next_dep: undefined, push_prev_dep: undefined }, { ...JSON.parse(json), reset_reg: undefined, src_factor_in: undefined, pop_next_dep: undefined, push_prev_dep: undefined });
  assert.is(back.src_factor_in, 0);
});

test('bad input: one line on stderr, non-zero exit, no stack trace', async () => {
  const cases: Array<[string[], string]> = [
    [['config', 'show', '-c', '{"LOG_UOP_BUFF_SIZE": 16}'], 'LOG_UOP_BUFF_SIZE <= 15'],
    [['config', 'show', '-c', 'nosuch'], 'unknown config preset nosuch'],
    [['isa', 'encode', '{"opcode":"LOAD","x_size":70000}'], 'x_size = 70000 does not fit in 16 bits'],
    [['isa', 'encode', '{"opcode":'], 'not valid JSON'],
    [['isa', 'decode', 'xyz'], 'not hexadecimal'],
    [['asm', join(tmp, 'missing.vasm'), '-o', join(tmp, 'o.json')], 'no such file'],
    [['disasm', join(tmp, 'missing.json')], 'no such file'],
    [['frob'], "unknown command 'frob'"],
    [['config', 'show', '--bogus'], "unknown option '--bogus'"],
    [['isa', 'encode'], "missing required argument 'json'"],
  ];
  for (const [args, fragment] of cases) {
    const r = await runCli(...args);
    assert.is.not(r.code, 0, args.join(' '));
    assert.ok(r.stderr.includes(fragment), `expected "${fragment}" in: ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.not.match(r.stderr, /\bat .*\.ts:\d+/);
  }
});

test('asm / disasm round trip through files; a failed asm leaves no output file', async () => {
  const out = join(tmp, 'g.json');
  const a = await runCli('asm', 'examples/gemm-tiny.vasm', '-o', out);
  assert.is(a.code, 0);
  const d = await runCli('disasm', out);
  assert.is(d.code, 0);
  const listing = join(tmp, 'g.vasm');
  writeFileSync(listing, d.stdout);
  const out2 = join(tmp, 'g2.json');
  assert.is((await runCli('asm', listing, '-o', out2)).code, 0);
  assert.is(readFileSync(out2, 'utf8'), readFileSync(out, 'utf8'));

  const bad = join(tmp, 'bad.vasm');
  writeFileSync(bad, '.text\n  GEMM uop_end=1\n  LOAD INP y_size=-1\n');
  const out3 = join(tmp, 'never.json');
  const r = await runCli('asm', bad, '-o', out3);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'bad.vasm:3:');
  assert.not.ok(existsSync(out3));
});

test('disasm of a raw instruction stream', async () => {
  const raw = join(tmp, 'raw.bin');
  const bytes = Buffer.alloc(32);
  bytes[0] = 0x13; // FINISH pop_next_dep
  bytes[16] = 0x02; // GEMM
  writeFileSync(raw, bytes);
  const r = await runCli('disasm', raw);
  assert.is(r.code, 0);
  assert.match(r.stdout, /FINISH pop_next_dep\s+; #0/);
  assert.match(r.stdout, /GEMM\s+; #1/);
});

test('npx vtw works from the repository root (bin launcher)', async () => {
  const r = await execa('node', ['bin/vtw.js', 'isa', 'encode', '{"opcode":"FINISH","pop_next_dep":1}'], { reject: false });
  assert.is(r.exitCode, 0);
  assert.is(r.stdout.trim(), '0'.repeat(30) + '13');
  const bad = await execa('node', ['bin/vtw.js', 'config', 'show', '-c', '{"LOG_BLOK": 3}'], { reject: false });
  assert.is(bad.exitCode, 1);
  assert.ok(bad.stderr.startsWith('vtw: error: inline config: unknown config key LOG_BLOK (did you mean LOG_BLOCK?)'), bad.stderr);
  assert.is(bad.stderr.trim().split('\n').length, 1);
});

test('vtw sim: counters as JSON, output digest, Chrome trace', async () => {
  const prog = join(tmp, 'sim.json');
  assert.is((await runCli('asm', 'examples/gemm-tiny.vasm', '-o', prog)).code, 0);
  const trace = join(tmp, 'trace.json');
  const r = await runCli('sim', prog, '--json', '--trace', trace);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const k of ['cycles', 'utilization', 'gemm_uops', 'alu_uops', 'bytes', 'outputs']) assert.ok(k in j, k);
  assert.is(j.gemm_uops, 1);
  assert.equal(j.bytes, { insn: 7 * 16, uop: 4, wgt: 256, inp: 16, acc: 64, out: 16 });
  assert.is(j.fsim.gemm_counter, 1);
  assert.match(j.outputs.out, /^[0-9a-f]{16}$/);
  const t = JSON.parse(readFileSync(trace, 'utf8'));
  const names = t.traceEvents.filter((e: { ph: string }) => e.ph === 'X').map((e: { name: string }) => e.name);
  assert.ok(names.some((n: string) => n.startsWith('GEMM')), names.join(','));
  const wrong = await runCli('sim', prog, '--config', 'block32');
  assert.is(wrong.code, 1);
  assert.match(wrong.stderr, 'was built for 1x16_i8w8a32_15_15_18_17, not 1x32_i8w8a32_15_15_18_17');
});

test('vtw sim: a deadlocking program is reported with the state of every queue', async () => {
  const src = join(tmp, 'dead.vasm');
  writeFileSync(src, '.text\n  LOAD INP x_size=1 y_size=1 x_stride=1 pop_next_dep dram_base=256\n  FINISH pop_prev_dep\n');
  const prog = join(tmp, 'dead.json');
  assert.is((await runCli('asm', src, '-o', prog)).code, 0);
  const r = await runCli('sim', prog);
  assert.is(r.code, 1);
  assert.match(r.stderr, /deadlock at cycle \d+; load: insn 0 \(LOAD INP\) waits for a token on g2l; compute: insn 1 \(FINISH\) waits for a token on l2g/);
});

test('vtw test: conformance table and JSON, random suite, bad options', async () => {
  const r = await runCli('test', '--config', 'ice40-tiny');
  assert.is(r.code, 0, r.stdout);
  assert.match(r.stdout, /^40 passed, 0 failed$/m);
  const j = JSON.parse((await runCli('test', '--suite', 'random', '--count', '3', '--seed', '7', '--json')).stdout);
  assert.is(j.passed, 3);
  assert.is(j.failed, 0);
  assert.equal(j.tests.map((t: { name: string }) => t.name), ['random#7', 'random#8', 'random#9']);
  const bad = await runCli('test', '--suite', 'fuzz');
  assert.is(bad.code, 1);
  assert.match(bad.stderr, '--suite fuzz: use conformance or random');
  const eng = await runCli('test', '--engine', 'fpga');
  assert.match(eng.stderr, 'unknown engine fpga');
});

test('vtw gen: files + manifest, identical bytes twice, one-line errors and no half-written output', async () => {
  const a = join(tmp, 'gen-a');
  const b = join(tmp, 'gen-b');
  assert.is((await runCli('gen', '--config', 'ice40-tiny', '--out', a)).code, 0);
  const r = await runCli('gen', '--config', 'ice40-tiny', '--out', b, '--json');
  assert.is(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  assert.is(m.top, 'vta_1x2_i8w8a32_9_8_8_10');
  assert.is(m.resources.multipliers, 4);
  assert.is(m.resources.sramBits.acc, 8192);
  for (const f of [...m.files, 'manifest.json']) assert.is(readFileSync(join(a, f), 'utf8'), readFileSync(join(b, f), 'utf8'), f);
  const tooSmall = await runCli('gen', '--config', '{"TARGET":"ice40","LOG_BLOCK":3,"LOG_UOP_BUFF_SIZE":10,"LOG_INP_BUFF_SIZE":10,"LOG_WGT_BUFF_SIZE":12,"LOG_ACC_BUFF_SIZE":12,"DSP_BUDGET":8}', '--target', 'ice40', '--out', join(tmp, 'gen-c'));
  assert.is(tooSmall.code, 1);
  assert.match(tooSmall.stderr, /needs 64 multipliers = 32 SB_MAC16.*DSP_BUDGET = 8/);
  assert.is(tooSmall.stderr.split('\n').filter((l) => l.startsWith('vtw: error')).length, 1);
  assert.not.ok(existsSync(join(tmp, 'gen-c')));
  const badTarget = await runCli('gen', '--target', 'ecp5', '--out', join(tmp, 'gen-d'));
  assert.match(badTarget.stderr, 'unknown target ecp5');
});

test.run();
