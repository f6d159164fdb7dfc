/**
 * The test runner (scripts/run-tests.ts) on tiny fixture test files in a temporary folder: a
 * crash, a hang, a silent uvu .skip and a printed SKIP each end in the right summary line and
 * exit status; a missing prerequisite stops it at once with one line; `vtw doctor` lists the tools.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TOOLS, checkTool, installCommand, testPrerequisiteProblem } from '../src/prereq.ts';
import { runCli } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vtw-runner-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

// Fixture files live outside the repository, so they import uvu by its file URL.
const uvu = JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('uvu')).href);
const header = `import { test } from ${uvu};\n`;

function fixtures(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), `${header}${body}\ntest.run();\n`);
  return dir;
}

/** A PATH with no tools on it. */
function emptyPath(): string {
  const dir = join(tmp, 'empty-path');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const PASS = "test('adds', () => { if (1 + 1 !== 2) throw new Error('math'); });";
const SKIP = "test('needs foo', () => { console.log('SKIP needs foo: foo is not installed (apt-get install foo)'); });";

function runner(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/run-tests.ts', ...args], { env, encoding: 'utf8', timeout: 60_000 });
  const lines = r.stdout.trimEnd().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1], seconds: (Date.now() - started) / 1000 };
}

test('a crash, a hang and a silent .skip each count as one failure with the file named; the run still ends with its summary', () => {
  const dir = fixtures('bad', {
    'a-pass.test.ts': PASS,
    // What test/fpga-link.test.ts did without Verilator: its after hook crashed uvu before its summary.
    'b-crash.test.ts': "let sim: { close(): void } | undefined;\ntest.after(() => { sim!.close(); });\n" + PASS,
    'c-hang.test.ts': "test('waits forever', () => new Promise<void>(() => { setInterval(() => {}, 1000); }));",
    'd-silent.test.ts': `${PASS}\ntest` + ".skip('later', () => {});", // split so the check below does not find it here
    'e-exit.test.ts': 'process.exit(3);',
  });
  const r = runner([ '--dir', dir, '--no-prereq', '--timeout', '4', '--jobs', '3']);
  assert.is(r.code, 1, r.stdout);
  assert.is(r.last, '2 passed, 4 failed', r.stdout);
  assert.match(r.stdout, /b-crash\.test\.ts: ended before uvu's summary \(exit code 1\)/);
  assert.match(r.stdout, /c-hang\.test\.ts: timed out after 4 s \(killed\) with 0 test\(s\) done/);
  assert.match(r.stdout, /d-silent\.test\.ts: 1 test\(s\) skipped silently by uvu's \.skip\/\.only/);
  assert.match(r.stdout, /e-exit\.test\.ts: ended before uvu's summary \(exit code 3\)/);
  // the time table lists every file, slowest (the hang) first
  const rows = r.stdout.split('\n').filter((l) => /^\S+\.test\.ts\s+\d/.test(l));
  assert.is(rows.length, 5, r.stdout);
  assert.match(rows[0], 'c-hang.test.ts');
  // each file's output comes out whole: its header, then its lines, then its result
  assert.match(r.stdout, /──── \[\d\/5\] \S+a-pass\.test\.ts ────\n[^─]*Total:\s+1\n\s*Passed:\s+1\n[^─]*──── \S+a-pass\.test\.ts: 1 passed, 0 failed in/);
  assert.ok(r.seconds < 30, `${r.seconds} s`);
});

test('a test that prints SKIP counts as skipped, not passed; its reason is listed; exit 0 when nothing failed', () => {
  const pidFile = join(tmp, 'orphan.pid');
  const dir = fixtures('skip', {
    'a.test.ts': `${PASS}\n${SKIP}`,
    'b.test.ts': PASS,
    // leaves a process behind that holds its output open: the runner must not wait for it
    'c.test.ts': `import { spawn } from 'node:child_process';\nimport { writeFileSync } from 'node:fs';\n${PASS}\n` +
      `const orphan = spawn('sleep', ['300'], { stdio: 'inherit' });\norphan.unref();\nwriteFileSync(${JSON.stringify(pidFile)}, String(orphan.pid));`,
  });
  const r = runner(['--dir', dir, '--no-prereq']);
  assert.is(r.code, 0, r.stdout);
  assert.is(r.last, '3 passed, 0 failed, 1 skipped');
  assert.ok(r.seconds < 30, `${r.seconds} s`);
  const orphan = Number(readFileSync(pidFile, 'utf8'));
  // gone, or a zombie (killed, waiting for its new parent to reap it); a SIGKILLed process can still
  // show as running for a moment on a loaded machine, so look again for up to 3 s
  const stateNow = (): string | undefined => {
    try {
      return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${orphan}/stat`, 'utf8'))?.[1];
    } catch {
      return 'gone';
    }
  };
  let state = stateNow();
  for (let i = 0; i < 30 && state !== 'gone' && state !== 'Z'; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    state = stateNow();
  }
  assert.ok(state === 'gone' || state === 'Z', `the left-behind process was killed with its file (state ${state})`);
  assert.match(r.stdout, /skipped:\n\s+\S+a\.test\.ts: SKIP needs foo: foo is not installed \(apt-get install foo\)/);
  // a pattern narrows the files
  const one = runner(['--dir', dir, '--no-prereq', '^b\\.']);
  assert.is(one.last, '1 passed, 0 failed');
  const none = runner(['--dir', dir, '--no-prereq', 'nothing-matches']);
  assert.is(none.code, 1);
  assert.is(none.last, '0 passed, 1 failed');
});

test('a missing prerequisite: one line naming it and its install command, exit 1, at once', () => {
  const empty = emptyPath();
  const dir = fixtures('prereq', { 'a.test.ts': PASS });
  const r = runner(['--dir', dir], { ...process.env, PATH: empty });
  assert.is(r.code, 1);
  assert.is(r.stdout.trimEnd().split('\n').length, 1, r.stdout);
  assert.match(r.last, /^npm test needs Verilator >= 5 \(not found\), C\+\+ compiler \(not found\), make \(not found\): install with `sudo apt-get install -y verilator build-essential`/);
  assert.not.match(r.stdout, 'Total:');
  assert.ok(r.seconds < 30, `${r.seconds} s`);
});

test('vtw doctor --json lists every tool of src/prereq.ts; a too-old Verilator is reported with its install command', async () => {
  const r = await runCli('doctor', '--json');
  const j = JSON.parse(r.stdout) as { ok: boolean; tools: Array<{ id: string; found: boolean; ok: boolean; version: string | null; install: string; neededByTests: boolean; enables: string }> };
  assert.equal(j.tools.map((t) => t.id), TOOLS.map((t) => t.id));
  for (const id of ['verilator', 'cc', 'cxx', 'make', 'opencl', 'nvcc', 'yosys', 'nextpnr']) assert.ok(j.tools.some((t) => t.id === id), id);
  for (const t of j.tools) {
    assert.ok(t.enables.length > 0 && t.install.length > 0, t.id);
    assert.is(t.found, t.version !== null, t.id);
  }
  assert.is(r.code, j.ok ? 0 : 1);
  assert.is(j.ok, j.tools.every((t) => t.ok || !t.neededByTests));
  assert.equal(j.tools.filter((t) => t.neededByTests).map((t) => t.id), ['verilator', 'cxx', 'make', 'yosys', 'nextpnr']);
  assert.match(j.tools.find((t) => t.id === 'yosys')!.version!, /^\d+\.\d+/);

  const bin = join(tmp, 'old-verilator');
  mkdirSync(bin);
  writeFileSync(join(bin, 'verilator'), '#!/bin/sh\necho "Verilator 4.038 2020-07-11 rev v4.036-114-g0cd4a57ad"\n');
  chmodSync(join(bin, 'verilator'), 0o755);
  const old = checkTool(TOOLS.find((t) => t.id === 'verilator')!, { ...process.env, PATH: bin });
  assert.equal([old.found, old.version, old.ok, old.problem, old.install], [true, '4.038', false, '4.038 is older than 5', 'sudo apt-get install -y verilator']);
  assert.match(testPrerequisiteProblem([old])!, /^npm test needs Verilator >= 5 \(4\.038 is older than 5\): install with `sudo apt-get install -y verilator`; Ubuntu 22\.04 packages 4\.038: there, build 5\.x from source/);
  const gone = checkTool(TOOLS.find((t) => t.id === 'make')!, { ...process.env, PATH: emptyPath() });
  assert.equal([gone.found, gone.ok, gone.problem], [false, false, 'not found']);
  assert.is(installCommand(TOOLS.filter((t) => t.neededByTests)), 'sudo apt-get install -y verilator build-essential && npm ci');

  // Without them: the same table, then one error line naming them, exit 1.
  const bare = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'doctor', '--json'], { env: { ...process.env, PATH: emptyPath() }, encoding: 'utf8', timeout: 30_000 });
  assert.is(bare.status, 1);
  const jb = JSON.parse(bare.stdout) as typeof j;
  assert.is(jb.ok, false);
  assert.equal(jb.tools.filter((t) => !t.ok).map((t) => t.id).slice(0, 4), ['verilator', 'cxx', 'make', 'cc']);
  assert.is(bare.stderr, 'vtw: error: npm test needs Verilator >= 5 (not found), C++ compiler (not found), make (not found): install with `sudo apt-get install -y verilator build-essential`\n');

  const text = await runCli('doctor');
  assert.match(text.stdout, /^tool\s+status\s+version\s+needed by\s+enables\s+install/);
  for (const t of j.tools) assert.match(text.stdout, t.install);
});

test('no test file leaves tests out silently with uvu\'s .skip or .only (a skip prints SKIP <name>: <reason>)', () => {
  const files = ['test', 'test/slow'].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.test.ts')).map((f) => join(d, f)));
  assert.ok(files.length > 20);
  const offenders = files.filter((f) => /\b(test|suite|it)\s*\.\s*(skip|only)\s*\(/.test(readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '')));
  assert.equal(offenders, []);
});

test.run();
