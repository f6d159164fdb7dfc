/**
 * Building generated C into a shared object and calling it: the system C compiler (`$CC`, default
 * `cc`) through execa, the result cached under .cache/cpu/ by a hash of (source, flags, compiler
 * version), loaded with koffi (no native addon to build at install time).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import koffi from 'koffi';
import { CompileError } from '../errors.ts';
import type { CpuTargetSpec } from '../target/target.ts';
import { POOL_SOURCE, type CSource } from './codegen.ts';

export const CPU_CACHE_DIR = resolve('.cache', 'cpu');

/** GCC/Clang flags of each -mattr feature (x86-64); aarch64 features go into one -march. */
const X86_FLAGS: Record<string, string> = {
  avx2: '-mavx2', fma: '-mfma', avx512f: '-mavx512f', avx512bw: '-mavx512bw', avx512vl: '-mavx512vl',
  avx512vnni: '-mavx512vnni', avxvnni: '-mavxvnni',
};

/** Compiler flags for a target: -march=native unless features were named. */
export function targetFlags(t: CpuTargetSpec): string[] {
  if (!t.explicit) return ['-march=native'];
  if (t.arch === 'x86_64') return t.features.map((f) => X86_FLAGS[f]).filter(Boolean);
  if (t.arch === 'aarch64') return [`-march=armv8.2-a${t.features.includes('dotprod') ? '+dotprod' : ''}`];
  return [];
}

export function cCompiler(): string {
  return process.env.CC?.trim() || 'cc';
}

const versions = new Map<string, string>();

async function compilerVersion(cc: string): Promise<string> {
  const known = versions.get(cc);
  if (known !== undefined) return known;
  const r = await execa(cc, ['--version'], { reject: false });
  if ((r as { code?: string }).code === 'ENOENT' || r.failed && !r.stdout) {
    throw new CompileError(`C compiler ${cc} not found or not working (the cpu target needs one: sudo apt-get install -y build-essential, or set CC)`);
  }
  const v = r.stdout.split('\n')[0] ?? '';
  versions.set(cc, v);
  return v;
}

export interface SharedObject {
  path: string;
  /** Whether it came from the cache. */
  cached: boolean;
  flags: string[];
}

/** Compile (or find in the cache) a shared object of `src` for target `t`. */
export async function buildShared(src: CSource, t: CpuTargetSpec, cacheDir = CPU_CACHE_DIR): Promise<SharedObject> {
  // A threaded kernel links against the process's one thread pool (its own shared object).
  const pool = src.openmp ? await compileCached({ name: 'vtw_pool', text: POOL_SOURCE }, ['-O2', '-fPIC', '-shared', '-pthread', '-Wl,-z,nodelete'], [], cacheDir) : undefined;
  const flags = ['-O3', ...targetFlags(t), '-fwrapv', '-fPIC', '-shared', ...(pool ? ['-pthread', '-Wl,-z,nodelete'] : []), ...(src.flags ?? [])];
  return compileCached(src, flags, pool ? [pool.path] : [], cacheDir);
}

/** `cc FLAGS -o NAME-HASH.so NAME-HASH.c LIBS` unless the cache has it (the hash covers the libraries' paths, which name their hashes). */
async function compileCached(src: { name: string; text: string }, flags: string[], libs: string[], cacheDir: string): Promise<SharedObject> {
  const cc = cCompiler();
  const version = await compilerVersion(cc);
  const hash = createHash('sha256').update(JSON.stringify([src.text, cc, flags, version, libs])).digest('hex').slice(0, 24);
  const so = resolve(cacheDir, `${src.name}-${hash}.so`);
  if (existsSync(so)) return { path: so, cached: true, flags };
  mkdirSync(cacheDir, { recursive: true });
  const c = join(cacheDir, `${src.name}-${hash}.c`);
  writeFileSync(c, src.text);
  const tmp = `${so}.${process.pid}.tmp`;
  const r = await execa(cc, [...flags, '-o', tmp, c, ...libs], { reject: false, all: true });
  if (r.failed) {
    rmSync(tmp, { force: true });
    const lines = (r.all ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    const first = lines.find((l) => /\berror\b/.test(l)) ?? lines[0] ?? `exit code ${r.exitCode ?? '?'}`;
    throw new CompileError(`C compiler ${cc} failed on ${c}: ${first}`);
  }
  renameSync(tmp, so);
  return { path: so, cached: false, flags };
}

/**
 * A loaded kernel: call it on typed arrays (inputs then output, in the CSource's order). It stays
 * loaded for the life of the process: the thread pool's workers (compiler/cpu/codegen.ts) outlive
 * a call, so unloading the shared object under them would crash at exit (it is also linked
 * -z nodelete for that reason).
 */
export interface Kernel {
  call(args: ArrayBufferView[]): void;
}

export function loadKernel(so: SharedObject, src: CSource): Kernel {
  const lib = koffi.load(so.path);
  const fn = lib.func(`void ${src.name}(${src.params.map((_, i) => `void *p${i}`).join(', ')})`);
  return {
    call: (args) => {
      if (args.length !== src.params.length) throw new CompileError(`internal: ${src.name} takes ${src.params.length} arrays, got ${args.length}`);
      fn(...args);
    },
  };
}
