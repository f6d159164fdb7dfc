/**
 * Output folders (src/util/folder.ts): `vtw gen` / `vtw synth` replace only folders vtw wrote.
 * The CLI runs in a child process inside a scratch git repository.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVtw } from './helpers/vtw-child.ts';
import { OUTPUT_MARKER, writeFolder } from '../src/util/folder.ts';
import { VtwError } from '../src/errors.ts';

const repo = mkdtempSync(join(tmpdir(), 'vtw-outdir-'));
await execa('git', ['init', '-q'], { cwd: repo });
writeFileSync(join(repo, 'notes.txt'), 'mine\n');
await execa('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'add', 'notes.txt'], { cwd: repo });
await execa('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'x'], { cwd: repo });

function intact(): void {
  assert.is(readFileSync(join(repo, 'notes.txt'), 'utf8'), 'mine\n');
  assert.ok(existsSync(join(repo, '.git', 'HEAD')), '.git is intact');
}

function oneErrorLine(r: { code: number | undefined; stderr: string }, pattern: RegExp): void {
  assert.is(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('vtw:'));
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
  assert.ok(lines[0].length <= 300);
}

test('gen --out . in a git repository is refused; .git and the files stay', async () => {
  oneErrorLine(await runVtw(['gen', '--out', '.'], { cwd: repo }), /current folder or one of its parents/);
  intact();
  // --force does not change that
  oneErrorLine(await runVtw(['gen', '--out', '.', '--force'], { cwd: repo }), /current folder/);
  intact();
  const log = await execa('git', ['status', '--porcelain'], { cwd: repo });
  assert.is(log.stdout.trim(), '');
});

test('gen --out on an existing file, on a folder with foreign files, on a parent: refused', async () => {
  oneErrorLine(await runVtw(['gen', '--out', 'notes.txt'], { cwd: repo }), /existing file/);
  intact();
  mkdirSync(join(repo, 'theirs'));
  writeFileSync(join(repo, 'theirs', 'keep.v'), 'module keep; endmodule\n');
  oneErrorLine(await runVtw(['gen', '--out', 'theirs'], { cwd: repo }), /did not write .*'keep\.v'.*--force/);
  assert.is(readFileSync(join(repo, 'theirs', 'keep.v'), 'utf8'), 'module keep; endmodule\n');
  mkdirSync(join(repo, 'sub'));
  oneErrorLine(await runVtw(['gen', '--out', '..'], { cwd: join(repo, 'sub') }), /current folder or one of its parents/);
  intact();
});

test('gen into its own output replaces it; a file added there afterwards is kept unless --force', async () => {
  const first = await runVtw(['gen', '--out', 'rtl'], { cwd: repo });
  assert.is(first.code, 0, first.stderr);
  const marker = JSON.parse(readFileSync(join(repo, 'rtl', OUTPUT_MARKER), 'utf8'));
  assert.is(marker.writtenBy, 'vtw');
  assert.ok(marker.files.includes('manifest.json'));
  const before = readdirSync(join(repo, 'rtl')).sort();
  const again = await runVtw(['gen', '--out', 'rtl', '--config', 'block32'], { cwd: repo });
  assert.is(again.code, 0, again.stderr);
  const manifest = JSON.parse(readFileSync(join(repo, 'rtl', 'manifest.json'), 'utf8'));
  assert.match(manifest.config, /1x32/);
  assert.ok(!readdirSync(join(repo, 'rtl')).some((f) => f.includes('1x16')), 'the old design is gone');
  assert.ok(before.length > 3);
  writeFileSync(join(repo, 'rtl', 'my-notes.md'), 'x');
  oneErrorLine(await runVtw(['gen', '--out', 'rtl'], { cwd: repo }), /did not write .*my-notes\.md/);
  assert.ok(existsSync(join(repo, 'rtl', 'my-notes.md')));
  const forced = await runVtw(['gen', '--out', 'rtl', '--force'], { cwd: repo });
  assert.is(forced.code, 0, forced.stderr);
  assert.ok(!existsSync(join(repo, 'rtl', 'my-notes.md')));
  assert.ok(!readdirSync(repo).some((f) => f.includes('.tmp-') || f.includes('.old-')), 'no temporaries left');
  intact();
});

test('synth refuses the same folders before place and route starts', async () => {
  for (const [out, pattern] of [['.', /current folder/], ['notes.txt', /existing file/], ['theirs', /did not write/]] as const) {
    const r = await runVtw(['synth', '--demo', '--board', 'icebreaker', '--out', out], { cwd: repo, timeoutMs: 30_000 });
    assert.not.ok(r.timedOut);
    assert.not.match(r.stderr, /place and route|synthesis/, 'refused before the flow');
    oneErrorLine(r, pattern);
  }
  intact();
});

test('unwritable and odd --out paths end in one line, quickly', async () => {
  for (const [out, pattern] of [
    ['/proc/self/vtw-x/y', /cannot write/],
    ['notes.txt/sub', /not a folder|ENOTDIR/],
    ['/', /file system root/],
  ] as const) {
    const r = await runVtw(['gen', '--out', out], { cwd: repo, timeoutMs: 15_000 });
    assert.not.ok(r.timedOut, `${out} hangs`);
    oneErrorLine(r, pattern);
  }
  intact();
});

test('writeFolder: an old output without a marker is replaced only when it holds nothing else', () => {
  const dir = join(repo, 'old-style');
  mkdirSync(dir);
  writeFileSync(join(dir, 'top.bin'), 'old');
  writeFolder(dir, { 'top.bin': 'new', 'summary.json': '{}' });
  assert.is(readFileSync(join(dir, 'top.bin'), 'utf8'), 'new');
  writeFileSync(join(dir, 'extra'), '1');
  assert.throws(() => writeFolder(dir, { 'top.bin': 'x' }), (e: unknown) => e instanceof VtwError && /extra/.test((e as Error).message));
  assert.throws(() => writeFolder(join(repo, 'w'), { '../escape': 'x' }), (e: unknown) => e instanceof VtwError);
  assert.not.ok(existsSync(join(repo, 'escape')));
});

test.run();
