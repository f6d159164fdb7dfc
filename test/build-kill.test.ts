/**
 * A Verilator build killed mid-way leaves no temporary folder and no verilator / make / g++
 * process behind (src/util/child-builds.ts), and the next build removes stale temporaries of dead
 * processes. Runs `vtw sim --engine verilator` in a child process in a scratch folder (its own,
 * empty build cache) and kills it once the build has started.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, writeProgram } from '../src/program/index.ts';
import { VTW_BIN } from './helpers/vtw-child.ts';

const haveVerilator = (await execa('verilator', ['--version'], { reject: false })).exitCode === 0;

/** Processes whose command line or working folder lies under `dir`. */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${p}/cwd`);
      } catch {
        /* not ours to read */
      }
      if (cmd.includes(dir) || cwd.startsWith(dir)) found.push(`${p}: ${cmd.slice(0, 80)}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function killedBuild(signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'vtw-buildkill-'));
  writeProgram(join(work, 'p.json'), assemble(readFileSync('examples/gemm-tiny.vasm', 'utf8'), 'gemm-tiny.vasm'));
  const cache = join(work, '.cache', 'verilator');
  mkdirSync(cache, { recursive: true });
  // A temporary of a build whose process is dead (a short-lived process's pid).
  const gone = execa('true');
  const deadPid = gone.pid;
  await gone;
  const stale = join(cache, `0123456789abcdef01234567.tmp-${deadPid}-zz`);
  mkdirSync(stale);
  writeFileSync(join(stale, 'half.o'), 'x');

  const child = execa(process.execPath, [VTW_BIN, 'sim', 'p.json', '--engine', 'verilator'], { cwd: work, reject: false, stdin: 'ignore' });
  const mine = () => readdirSync(cache).filter((n) => n.includes(`.tmp-${child.pid}-`));
  let started = false;
  for (let i = 0; i < 600 && !started; i++) {
    await sleep(100);
    started = mine().length > 0 && processesUnder(join(cache, mine()[0] ?? 'none')).length > 0;
  }
  assert.ok(started, 'the build started (a temporary folder and a verilator process)');
  assert.not.ok(existsSync(stale), 'the stale temporary of a dead process was removed at build start');
  await sleep(1500); // let make and g++ start too
  child.kill(signal);
  const r = await child;
  assert.ok(r.exitCode !== 0 || r.signal, 'vtw ended abnormally');
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = processesUnder(work);
    if (!left.length && !readdirSync(cache).some((n) => n.includes('.tmp-'))) break;
    await sleep(100);
  }
  assert.equal(left, [], 'no build process outlives vtw');
  assert.equal(readdirSync(cache).filter((n) => n.includes('.tmp-')), [], 'no temporary folder is left');
}

if (!haveVerilator) {
  console.log('SKIP build-kill: verilator is not installed (apt-get install -y verilator)');
} else {
  test('a build killed with SIGTERM leaves no temporaries and no processes', () => killedBuild('SIGTERM'));
  test('a build interrupted with SIGINT leaves no temporaries and no processes', () => killedBuild('SIGINT'));
}

test.run();
