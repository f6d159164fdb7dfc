/**
 * A simulated serial link: a design with the UART host link (by default the demo top) is compiled
 * with Verilator together with fpga/link/sim/harness.cpp, which turns stdin bytes into serial
 * frames on uart_rx and decodes uart_tx onto stdout. `SimTransport` runs it with execa and is a
 * ByteStream, so the same host driver talks to the simulation and to a board.
 *
 * Builds are cached by content hash under the OS temp folder (`vtw-linksim-<hash>`).
 */
import { execa, type ResultPromise } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VtwError } from '../../src/errors.ts';
import { cleanStaleTemps, holdTemp, ownedTempName, releaseTemp, runBuildCommand } from '../../src/util/child-builds.ts';
import { BufferedStream } from './stream.ts';

const HARNESS = join(dirname(fileURLToPath(import.meta.url)), 'sim', 'harness.cpp');

export interface SimDesign {
  top: string;
  files: Record<string, string>;
  clksPerBit: number;
  timeoutCycles: number;
  /** Cell-model files (e.g. ice40CellsSim() for SB_SPRAM256KA / SB_MAC16), read as libraries with their warnings off. */
  libraries?: string[];
}

/** How Verilator's makefile compiles the C++ (in the cache key: a change rebuilds). */
const CXX_OPT = 'OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0';

/** Compile (or reuse) the Verilated harness for a design; returns the executable's path. */
export async function buildLinkSim(design: SimDesign, onProgress?: (msg: string) => void): Promise<string> {
  const harness = readFileSync(HARNESS, 'utf8');
  const h = createHash('sha256').update(design.top).update(harness).update(CXX_OPT);
  for (const name of Object.keys(design.files).sort()) h.update(name).update('\0').update(design.files[name]);
  const libs = design.libraries ?? [];
  for (const l of libs) h.update(l).update('\0').update(readFileSync(l));
  const dir = join(tmpdir(), `vtw-linksim-${h.digest('hex').slice(0, 16)}`);
  const exe = join(dir, 'harness');
  if (existsSync(exe)) return exe;
  cleanStaleTemps(tmpdir(), 'vtw-linksim-');
  const work = ownedTempName(dir);
  mkdirSync(work, { recursive: true });
  holdTemp(work);
  try {
    return await buildIn(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
    releaseTemp(work);
  }

  async function buildIn(work: string): Promise<string> {
  const paths = Object.entries(design.files).map(([name, text]) => {
    const p = join(work, name);
    writeFileSync(p, text);
    return p;
  });
  writeFileSync(join(work, 'harness.cpp'), harness);
  // Library files (vendor cell models) are read for the modules the design uses, warnings off.
  const vlt = join(work, 'libs.vlt');
  writeFileSync(vlt, '`verilator_config\n' + libs.map((l) => `lint_off -file "${l}"\n`).join(''));
  onProgress?.(`verilating ${design.top} with the link harness...`);
  // The C++ is compiled without optimization: a gate-level netlist is megabytes of C++ whose -Os
  // compile costs more than the short runs it speeds up (tests and link runs are thousands of cycles).
  const args = [
    '--cc', '--exe', '--build', '-j', '2', '-O2', '-MAKEFLAGS', CXX_OPT, '--prefix', 'Vdut', '--top-module', design.top, '-Wno-fatal',
    '--x-assign', '0', '--x-initial', '0', '--Mdir', join(work, 'obj'), '-o', join(work, 'harness'),
    ...(libs.length ? ['+define+NO_ICE40_DEFAULT_ASSIGNMENTS', '-Wno-TIMESCALEMOD', vlt, ...libs.flatMap((l) => ['-v', l])] : []),
    join(work, 'harness.cpp'), ...paths,
  ];
  const r = await runBuildCommand('verilator', args, { timeout: 300_000 });
  if ((r as { code?: string }).code === 'ENOENT') throw new VtwError('verilator is not installed; install it with: apt-get install verilator');
  if (r.exitCode !== 0) {
    const errs = `${r.stderr}\n${r.stdout}`.split('\n').filter((l) => /%Error|error:/.test(l)).slice(0, 4).join(' | ');
    throw new VtwError(`verilator build of the link harness failed: ${errs || r.stderr.slice(0, 400)}`);
  }
  mkdirSync(dir, { recursive: true });
  renameSync(join(work, 'harness'), exe);
  return exe;
  }
}

/** Simulated link time so far (the harness's "@link" report): cycles, and those spent waiting for the host. */
export interface LinkCycles {
  cycles: number;
  hostCycles: number;
  /** Bytes the harness has taken from the host. */
  bytes: number;
}

const isReport = (line: string) => line.startsWith('@link ');

/** The Verilated design as a byte stream. */
export class SimTransport extends BufferedStream {
  private written = 0;
  private report: LinkCycles = { cycles: 0, hostCycles: 0, bytes: 0 };
  private reportWaiters: Array<() => void> = [];
  private errText = '';

  private constructor(private readonly proc: ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe'; encoding: 'buffer'; reject: false }>) {
    super();
    proc.stdout.on('data', (d: Buffer) => this.push(new Uint8Array(d)));
    proc.stderr.on('data', (d: Buffer) => this.onStderr(d.toString()));
    void proc.then((r) => {
      const err = r.stderr?.length ? Buffer.from(r.stderr).toString().split('\n').filter((l) => l && !isReport(l)).join('\n').trim() : '';
      this.ended(`simulation exited (${r.exitCode ?? r.signal})${err ? `: ${err.slice(0, 200)}` : ''}`);
      for (const w of this.reportWaiters.splice(0)) w();
    });
  }

  private onStderr(text: string): void {
    this.errText += text;
    const lines = this.errText.split('\n');
    this.errText = lines.pop() ?? '';
    for (const l of lines) {
      if (!isReport(l)) continue;
      const [cycles, hostCycles, bytes] = l.slice(6).split(' ').map(Number);
      this.report = { cycles, hostCycles, bytes };
    }
    for (const w of this.reportWaiters.splice(0)) w();
  }

  /**
   * Simulated link time once the simulation has taken every byte written so far and gone quiet
   * (call it between transactions). Cycles minus host cycles is what a board spends on the link
   * and in the design, with a host that answers at once.
   */
  async linkCycles(timeoutMs = 30_000): Promise<LinkCycles> {
    const deadline = Date.now() + timeoutMs;
    while (this.report.bytes < this.written) {
      if (Date.now() > deadline) throw new VtwError(`link simulation: no time report after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.reportWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return { ...this.report };
  }

  /** Build if needed and start the simulation. */
  static async start(design: SimDesign, onProgress?: (msg: string) => void): Promise<SimTransport> {
    const exe = await buildLinkSim(design, onProgress);
    const quiet = design.timeoutCycles + 100 * design.clksPerBit;
    const proc = execa(exe, [String(design.clksPerBit), String(quiet)], {
      stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', encoding: 'buffer', reject: false,
    });
    return new SimTransport(proc);
  }

  async write(data: Uint8Array): Promise<void> {
    this.written += data.length;
    await new Promise<void>((resolve, reject) => this.proc.stdin.write(data, (e) => (e ? reject(e) : resolve())));
  }

  async close(): Promise<void> {
    this.proc.stdin.end();
    const r = await this.proc;
    if (r.exitCode !== 0 && r.exitCode !== undefined) throw new VtwError(`link simulation ended with status ${r.exitCode}`);
  }
}
