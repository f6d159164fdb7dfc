/**
 * The Verilator engine: runs a program container on the generated RTL. The design for the
 * program's configuration is generated, wrapped in the C++ harness (harness.ts) and built once;
 * builds are cached under .cache/verilator by a hash of (Verilog, harness, flags, Verilator version).
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Derived } from '../../src/config/derive.ts';
import { VtwError } from '../../src/errors.ts';
import { INSN_BYTES } from '../../src/isa/constants.ts';
import { decodablePrefix, dramImage, insnBuffer, programInsns, type Program } from '../../src/program/container.ts';
import { generateDesign, topName } from '../../hw/gen.ts';
import { DEFAULT_MAX_CYCLES, type Engine, type InsnTiming, type ModuleCounters, type RunOptions, type RunResult, type RunCounters } from '../../src/engine/index.ts';
import { harnessSource } from './harness.ts';
import { staticCounters } from '../../src/engine/counters.ts';
import { finishWarnings } from '../../src/engine/warnings.ts';
import { errorCodeName } from '../../hw/vta/regs.ts';
import { MODULES, moduleOf, type ModuleName } from '../../src/uarch/index.ts';
import { cleanStaleTemps, holdTemp, ownedTempName, releaseTemp, runBuildCommand } from '../../src/util/child-builds.ts';

const CACHE_DIR = resolve('.cache', 'verilator');
// The per-cycle eval code (OPT_FAST) is optimized; the rest of the C++ (construction, tracing) is
// not: -O0 there cuts a cold build by about a fifth and the runs do not notice.
const BUILD_FLAGS = ['--cc', '--exe', '--build', '-j', '2', '--trace', '-Wno-fatal', '--x-assign', 'fast', '--x-initial', 'fast', '-MAKEFLAGS', 'OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O0'];

let verilatorVersion: string | undefined;
async function version(): Promise<string> {
  if (verilatorVersion) return verilatorVersion;
  try {
    verilatorVersion = (await execa('verilator', ['--version'])).stdout.trim();
  } catch {
    throw new VtwError('verilator is not installed: run `apt-get install -y verilator` (Debian/Ubuntu), then retry');
  }
  return verilatorVersion;
}

export interface BuildInfo {
  binary: string;
  cached: boolean;
  seconds: number;
  top: string;
}

/** Build (or reuse) the simulator binary for a configuration; `fresh` rebuilds even when cached (benchmarks). */
export async function buildVerilated(d: Derived, onProgress?: (msg: string) => void, opts: { fresh?: boolean } = {}): Promise<BuildInfo> {
  const design = generateDesign(d, 'generic');
  const top = topName(d);
  const harness = harnessSource(d, top);
  const h = createHash('sha256');
  for (const name of Object.keys(design.files).sort()) h.update(name).update(design.files[name]);
  h.update(harness).update(BUILD_FLAGS.join(' ')).update(await version());
  const key = h.digest('hex').slice(0, 24);
  const dir = join(CACHE_DIR, key);
  const binary = join(dir, 'vtw_harness');
  if (existsSync(binary) && !opts.fresh) return { binary, cached: true, seconds: 0, top };
  onProgress?.(`building the Verilator model of ${d.variant} (cached afterwards)...`);
  const t0 = performance.now();
  mkdirSync(CACHE_DIR, { recursive: true });
  cleanStaleTemps(CACHE_DIR);
  const tmp = ownedTempName(join(CACHE_DIR, key));
  mkdirSync(tmp);
  holdTemp(tmp);
  try {
    for (const [name, text] of Object.entries(design.files)) writeFileSync(join(tmp, name), text);
    writeFileSync(join(tmp, 'harness.cpp'), harness);
    const files = Object.keys(design.files).map((f) => join(tmp, f));
    const r = await runBuildCommand('verilator', [...BUILD_FLAGS, '--top-module', top, '--Mdir', join(tmp, 'obj'), '-o', join(tmp, 'vtw_harness'), join(tmp, 'harness.cpp'), ...files]);
    if (r.exitCode !== 0) {
      const err = r.stderr.split('\n').find((l) => l.startsWith('%Error')) ?? r.stderr.split('\n').slice(-3).join(' ');
      throw new VtwError(`verilator build of ${top} failed: ${err}`);
    }
    rmSync(join(tmp, 'obj'), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    releaseTemp(tmp);
  }
  return { binary, cached: false, seconds: (performance.now() - t0) / 1000, top };
}

type Mod = ModuleName;

export interface VerilatorRunOptions extends RunOptions {
  /** Write a VCD waveform of the run here. */
  vcd?: string;
}

export class VerilatorEngine implements Engine {
  readonly name = 'verilator' as const;
  constructor(private readonly onProgress?: (msg: string) => void) {}

  async run(program: Program, opts: VerilatorRunOptions = {}): Promise<RunResult> {
    const d = program.config;
    const build = await buildVerilated(d, this.onProgress);
    // Undecodable instructions are the RTL's to report (as illegal); they take no part in timing.
    const insns = decodablePrefix(program);
    const ib = insnBuffer(program);
    const work = mkdtempSync(join(tmpdir(), 'vtw-vrun-'));
    try {
      const image = dramImage(program);
      writeFileSync(join(work, 'dram.bin'), image);
      const maxCycles = opts.maxCycles ?? DEFAULT_MAX_CYCLES;
      const args = [join(work, 'dram.bin'), join(work, 'out.bin'), String(ib.addr), String(ib.size / INSN_BYTES), String(maxCycles)];
      if (opts.vcd) args.push(resolve(opts.vcd));
      const r = await execa(build.binary, args, { reject: false, maxBuffer: 1 << 30 });
      if (r.exitCode !== 0) throw new VtwError(`the Verilator model of ${d.variant} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n')[0]}`);
      const dram = new Uint8Array(readFileSync(join(work, 'out.bin')));

      // Per-instruction timing: the k-th start (end) event of a module is its k-th instruction.
      const byModule: Record<Mod, number[]> = { load: [], compute: [], store: [] };
      insns.forEach((insn, i) => byModule[moduleOf(insn)].push(i));
      const timing: InsnTiming[] = insns.map((insn, i) => ({ index: i, module: moduleOf(insn), start: -1, end: -1 }));
      const next = { start: { load: 0, compute: 0, store: 0 }, end: { load: 0, compute: 0, store: 0 } };
      const modules = {} as Record<'fetch' | Mod, ModuleCounters>;
      let status = 'timeout';
      let cycles = 0;
      let errInsn = 0;
      let errCode = 0;
      for (const line of r.stdout.split('\n')) {
        const f = line.split(' ');
        if (f[0] === 'E') {
          const c = Number(f[1]);
          const starts = Number(f[2]);
          MODULES.forEach((m, k) => {
            if (starts & (1 << k)) {
              const idx = byModule[m][next.start[m]++];
              if (idx !== undefined) timing[idx].start = c;
            }
            for (let n = Number(f[3 + k]); n > 0; n--) {
              const idx = byModule[m][next.end[m]++];
              if (idx !== undefined) timing[idx].end = c;
            }
          });
        } else if (f[0] === 'R') {
          status = f[1];
          cycles = Number(f[3]);
          errInsn = Number(f[4]);
          errCode = Number(f[5]);
        } else if (f[0] === 'C') {
          const [busy, waitToken, waitMemory, queueFull, idle] = f.slice(2).map(Number);
          modules[f[1] as 'fetch' | Mod] = { busy, waitToken, waitMemory, queueFull, idle };
        }
      }
      const counters: RunCounters = { ...staticCounters(program, insns, cycles), modules };
      const result: RunResult = { engine: 'verilator', dram, counters, insnTiming: timing.filter((t) => t.start >= 0) };
      if (status === 'error') {
        result.error = { kind: 'illegal', insnIndex: errInsn, field: errorCodeName(errCode), message: `illegal instruction ${errInsn} (${errorCodeName(errCode)})` };
      } else if (status === 'deadlock') {
        result.error = { kind: 'deadlock', message: `no progress for many cycles at cycle ${cycles} (harness watchdog)` };
      } else if (status === 'timeout') {
        // Where each module was: the oldest started instruction that has not ended, else its next one.
        const at = MODULES.map((m) => {
          const running = next.start[m] > next.end[m];
          const idx = byModule[m][running ? next.end[m] : next.start[m]];
          if (idx === undefined) return `${m} idle`;
          const i = insns[idx];
          return `${m} ${running ? 'running' : 'waiting at'} #${idx} ${i.opcode}${'memory_type' in i ? ` ${i.memory_type}` : ''}`;
        });
        result.error = { kind: 'timeout', message: `no FINISH within ${maxCycles} cycles (--max-cycles); at cycle ${cycles}: ${at.join(', ')}` };
      } else {
        const warnings = finishWarnings(insns, timing);
        if (warnings.length) result.warnings = warnings;
      }
      return result;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
