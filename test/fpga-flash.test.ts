import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';

// A fake programmer, first on PATH: records its arguments, prints and exits as FAKE_MODE says.
const dir = mkdtempSync(join(tmpdir(), 'vtw-flash-'));
const bin = join(dir, 'bin');
const empty = join(dir, 'empty');
const log = join(dir, 'args.log');
const bit = join(dir, 'top.bin');
writeFileSync(bit, new Uint8Array(16));
mkdirSync(bin);
mkdirSync(empty);
for (const tool of ['iceprog', 'openFPGALoader']) {
  const p = join(bin, tool);
  writeFileSync(
    p,
    [
      '#!/bin/sh',
      `echo "${tool} $*" > "${log}"`,
      'case "$FAKE_MODE" in',
      '  noboard) echo "init.."; echo "Can\'t find iCE FTDI USB device (vendor_id 0x0403, device_id 0x6010 or 0x6014)." >&2; echo "ABORT." >&2; exit 2;;',
      '  verify) echo "reading.."; echo "Found difference between flash and file!" >&2; exit 3;;',
      '  *) echo "done."; exit 0;;',
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(p, 0o755);
}

const savedPath = process.env.PATH;
async function withPath<T>(path: string, mode: string, f: () => Promise<T>): Promise<T> {
  process.env.PATH = path;
  process.env.FAKE_MODE = mode;
  try {
    return await f();
  } finally {
    process.env.PATH = savedPath;
    delete process.env.FAKE_MODE;
  }
}

test.before.each(() => rmSync(log, { force: true }));

test('flash writes the flash with the board\'s first programmer and exact arguments', async () => {
  const r = await withPath(`${bin}:${savedPath}`, 'ok', () => runCli('flash', '--board', 'icebreaker', bit));
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(log, 'utf8').trim(), `iceprog ${bit}`);
  assert.match(r.stdout, `flashed ${bit} onto icebreaker with iceprog ${bit}`);
});

test('--sram loads SRAM (iceprog -S); --programmer picks openFPGALoader with its board arguments', async () => {
  const r = await withPath(`${bin}:${savedPath}`, 'ok', () => runCli('flash', '--board', 'hx8k-breakout', bit, '--sram'));
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(log, 'utf8').trim(), `iceprog -S ${bit}`);
  const o = await withPath(`${bin}:${savedPath}`, 'ok', () => runCli('flash', '-b', 'icebreaker', bit, '--programmer', 'openFPGALoader'));
  assert.is(o.code, 0, o.stderr);
  assert.is(readFileSync(log, 'utf8').trim(), `openFPGALoader -b ice40_generic -f ${bit}`);
});

test('--dry-run prints the exact command and runs nothing', async () => {
  const r = await withPath(`${bin}:${savedPath}`, 'ok', () => runCli('flash', '--board', 'icebreaker', bit, '--sram', '--dry-run'));
  assert.is(r.code, 0);
  assert.is(r.stdout.trim(), `iceprog -S ${bit}`);
  assert.not.ok(existsSync(log));
  // Dry runs work without the programmer installed, and say so.
  const t = await withPath(empty, 'ok', () => runCli('flash', '--board', 'tinyfpga-bx', bit, '--dry-run'));
  assert.is(t.code, 0);
  assert.is(t.stdout.trim(), `tinyprog -p ${bit}`);
  assert.match(t.stderr, 'tinyprog is not installed (pip install tinyprog)');
});

test('no board found: one line about USB permissions, the programmer\'s exit status kept', async () => {
  const r = await withPath(`${bin}:${savedPath}`, 'noboard', () => runCli('flash', '--board', 'icestick', bit));
  assert.is(r.code, 2);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('vtw:'));
  assert.is(lines.length, 1);
  assert.match(lines[0], 'iceprog found no Lattice iCEstick (exit 2)');
  assert.match(lines[0], 'ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6010"');
  assert.match(lines[0], 'plugdev');
});

test('other programmer failures keep the exit status and its last line', async () => {
  const r = await withPath(`${bin}:${savedPath}`, 'verify', () => runCli('flash', '--board', 'icebreaker', bit));
  assert.is(r.code, 3);
  assert.match(r.stderr, 'vtw: error: iceprog failed (exit 3): Found difference between flash and file!');
});

test('a missing programmer names the package to install; impossible modes are refused', async () => {
  const r = await withPath(empty, 'ok', () => runCli('flash', '--board', 'icebreaker', bit));
  assert.is(r.code, 1);
  assert.match(r.stderr, 'no programmer for icebreaker on PATH: install iceprog (apt-get install fpga-icestorm), or openFPGALoader (apt-get install openfpgaloader)');
  const s = await withPath(`${bin}:${savedPath}`, 'ok', () => runCli('flash', '--board', 'icestick', bit, '--sram'));
  assert.is(s.code, 1);
  assert.match(s.stderr, 'icestick cannot be loaded into SRAM');
  const m = await withPath(`${bin}:${savedPath}`, 'ok', () => runCli('flash', '--board', 'icestick', join(dir, 'nope.bin')));
  assert.is(m.code, 1);
  assert.match(m.stderr, 'nope.bin does not exist');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
