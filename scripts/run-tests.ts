/**
 * The test runner behind `npm test` and `npm run test:slow` (docs/testing.md).
 *
 *   tsx scripts/run-tests.ts [PATTERN] [--dir DIR] [--jobs N] [--timeout SECONDS] [--no-prereq]
 *
 * 1. Checks the tools `npm test` needs (src/prereq.ts, the table `vtw doctor` prints); when one is
 *    missing it prints one line naming it and its install command and exits 1.
 * 2. Runs every DIR/*.test.ts (default test/; PATTERN, a regular expression, narrows the file names)
 *    in its own child process, N at a time (--jobs, VTW_TEST_JOBS, default 2), each with a time
 *    limit (--timeout, VTW_TEST_TIMEOUT, default 900 s). A file that crashes, exits non-zero without
 *    uvu's summary or runs past its limit counts as one failure, with the file named.
 * 3. Prints each file's output when it completes, then a table of per-file times (slowest first),
 *    and always ends with `N passed, N failed` (`, N skipped` when a test printed
 *    `SKIP <name>: <reason>`). Exit status 0 only when nothing failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { checkTestPrerequisites } from '../src/prereq.ts';
import { table } from '../src/report/table.ts';

interface Options {
  dir: string;
  pattern: RegExp | null;
  jobs: number;
  timeoutS: number;
  prereq: boolean;
}

interface FileResult {
  file: string;
  seconds: number;
  passed: number;
  failed: number;
  skipped: number;
  /** `SKIP <name>: <reason>` lines the file printed. */
  skipLines: string[];
  /** Why the file counts as failed beyond its failed tests (crash, timeout, silent skips). */
  problems: string[];
}

function usage(msg: string): never {
  console.log(`run-tests: ${msg}`);
  console.log('usage: tsx scripts/run-tests.ts [PATTERN] [--dir DIR] [--jobs N] [--timeout SECONDS] [--no-prereq]');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0)) usage(`${name} must be a positive number, got '${text}'`);
  return n;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    dir: 'test',
    pattern: null,
    jobs: positive('VTW_TEST_JOBS', process.env.VTW_TEST_JOBS, 2),
    timeoutS: positive('VTW_TEST_TIMEOUT', process.env.VTW_TEST_TIMEOUT, 900),
    prereq: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--dir') o.dir = value();
    else if (a === '--jobs') o.jobs = Math.floor(positive('--jobs', value(), 2));
    else if (a === '--timeout') o.timeoutS = positive('--timeout', value(), 900);
    else if (a === '--no-prereq') o.prereq = false;
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (o.pattern) usage(`give one PATTERN (got '${o.pattern.source}' and '${a}')`);
    else {
      try {
        o.pattern = new RegExp(a);
      } catch {
        usage(`PATTERN '${a}' is not a regular expression`);
      }
    }
  }
  return o;
}

/** A file's name relative to the current folder when it is inside it, else absolute. */
function shortPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/** Per-file seconds of earlier runs (build/ is not versioned), to start the longest files first. */
const TIMES_FILE = 'build/test-times.json';

function readTimes(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(TIMES_FILE, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

function writeTimes(rs: readonly FileResult[]): void {
  const times = readTimes();
  // Only the project's own files: fixtures in temporary folders would pile up.
  for (const r of rs) if (!isAbsolute(r.file)) times[r.file] = Number(r.seconds.toFixed(1));
  try {
    mkdirSync(dirname(TIMES_FILE), { recursive: true });
    writeFileSync(TIMES_FILE, `${JSON.stringify(times, null, 1)}\n`);
  } catch {
    // an unwritable build/ only loses the ordering hint
  }
}

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** `SKIP <name>: <reason>` anywhere on a line (uvu's progress marks may precede it). */
const SKIP_LINE = /(?:^|[^\w])(SKIP \S.*?: \S.*)$/gm;

/** Turn one file's captured output and exit into counts. */
function assess(file: string, output: string, exit: { code: number | null; signal: string | null; timedOutS: number | null }, seconds: number): FileResult {
  const text = strip(output);
  const skipLines = [...text.matchAll(SKIP_LINE)].map((m) => m[1].trim());
  const r: FileResult = { file, seconds, passed: 0, failed: 0, skipped: skipLines.length, skipLines, problems: [] };
  const num = (label: string) => {
    const all = [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, 'gm'))];
    return all.length ? Number(all[all.length - 1][1]) : null;
  };
  const total = num('Total');
  const passed = num('Passed');
  const uvuSkipped = num('Skipped') ?? 0;
  if (exit.timedOutS !== null) {
    // uvu prints a mark as each test ends: the count says how far the file got.
    const ended = (text.match(/[•✘]/g) ?? []).length;
    r.problems.push(`timed out after ${exit.timedOutS} s (killed) with ${ended} test(s) done`);
  } else if (total === null || passed === null) {
    r.problems.push(`ended before uvu's summary (${exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`})`);
  } else {
    // A test that prints SKIP returns normally, so uvu counted it as passed.
    r.passed = Math.max(0, passed - skipLines.length);
    // uvu's Total counts the tests it ran (a failing before hook fails them all); .skip/.only
    // leave tests out of Total and count them in Skipped.
    r.failed = total - passed;
    if (uvuSkipped > 0) r.problems.push(`${uvuSkipped} test(s) skipped silently by uvu's .skip/.only: print \`SKIP <name>: <reason>\` instead`);
    if (total === 0 && skipLines.length === 0) r.problems.push('ran no tests');
    if (exit.code !== 0 && r.failed === 0 && !r.problems.length) r.problems.push(`exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`} after its summary`);
  }
  if (r.problems.length && r.failed === 0) r.failed = 1;
  return r;
}

const running = new Set<ChildProcess>();

/** Kill a test file's whole process group (its Verilator builds and simulations included). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function runFile(file: string, timeoutS: number): Promise<FileResult> {
  return new Promise((done) => {
    const started = performance.now();
    // Each file in its own process group (detached) so a timeout can end everything it started.
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: process.cwd(),
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    let output = '';
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding('utf8'); // whole characters even when a chunk ends inside one
      stream.on('data', (d: string) => (output += d));
    }
    let timedOutS: number | null = null;
    const timer = setTimeout(() => {
      timedOutS = timeoutS;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 2000).unref();
    }, timeoutS * 1000);
    let spawnError: Error | null = null;
    child.on('error', (e) => (spawnError = e));
    // Processes the file left behind (a simulation it never closed) go with it; they would also
    // hold its output pipes open.
    child.on('exit', () => killGroup(child, 'SIGKILL'));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (spawnError) output += `\n${(spawnError as Error).message}\n`;
      const r = assess(file, output, { code, signal, timedOutS }, (performance.now() - started) / 1000);
      results.push(r);
      printFile(r, output);
      done(r);
    });
  });
}

let fileCount = 0;
const results: FileResult[] = [];

function printFile(r: FileResult, output: string): void {
  const file = r.file;
  const lines = [`──── [${results.length}/${fileCount}] ${file} ────`, output.trimEnd()];
  const counts = `${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}`;
  lines.push(`──── ${file}: ${counts} in ${r.seconds.toFixed(1)} s${r.problems.length ? `; FAILED: ${r.problems.join('; ')}` : ''}`);
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

function summarize(): number {
  const sorted = [...results].sort((a, b) => b.seconds - a.seconds);
  console.log(table(
    ['file', 'seconds', 'passed', 'failed', 'skipped'],
    sorted.map((r) => [r.file, Number(r.seconds.toFixed(1)), r.passed, r.failed, r.skipped]),
  ));
  const skips = results.flatMap((r) => r.skipLines.map((l) => `  ${r.file}: ${l}`));
  if (skips.length) console.log(`skipped:\n${skips.join('\n')}`);
  const bad = results.filter((r) => r.failed > 0);
  if (bad.length) {
    console.log(`failed files:\n${bad.map((r) => `  ${r.file}: ${r.problems.length ? r.problems.join('; ') : `${r.failed} failed test(s)`}`).join('\n')}`);
  }
  const passed = results.reduce((s, r) => s + r.passed, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const skipped = results.reduce((s, r) => s + r.skipped, 0);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (o.prereq) {
    const problem = checkTestPrerequisites();
    if (problem) {
      console.log(`${problem} (npm run doctor lists every tool)`);
      return 1;
    }
  }
  const dir = resolve(o.dir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.test.ts') && statSync(join(dir, f)).isFile());
  } catch {
    usage(`cannot read test folder ${o.dir}`);
  }
  const files = names.filter((f) => !o.pattern || o.pattern.test(f)).sort().map((f) => shortPath(join(dir, f)));
  if (!files.length) {
    console.log(`no test files in ${o.dir}${o.pattern ? ` match /${o.pattern.source}/` : ''}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  // Longest first (by the last run's times; files never timed before go first), so that the
  // slowest file does not start last and leave one job idle at the end.
  const last = readTimes();
  files.sort((a, b) => (last[b] ?? Infinity) - (last[a] ?? Infinity) || a.localeCompare(b));
  fileCount = files.length;
  console.log(`running ${files.length} test file(s) from ${o.dir}, ${o.jobs} at a time, ${o.timeoutS} s limit each`);
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      await runFile(f, o.timeoutS);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, files.length) }, worker));
  writeTimes(results);
  return summarize();
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const c of running) killGroup(c, 'SIGKILL');
    console.log(`\ninterrupted (${sig})`);
    summarize();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.log(`run-tests: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    summarize();
    process.exit(1);
  },
);
