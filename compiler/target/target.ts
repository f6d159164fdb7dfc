/**
 * Targets: what an operator is compiled for, parsed from a string (`--target`).
 *
 *   vta                       the accelerator, with the configuration given by --config
 *   cpu                       the host CPU through the system C compiler, every ISA feature it has
 *   cpu -mattr=+avx2,+fma     the host CPU restricted to (and requiring) the named features
 *
 *   wasm                      WebAssembly with 128-bit SIMD in Node's engine (no C compiler needed)
 *
 *   opencl                    the first OpenCL device of the system's OpenCL library (PoCL on a CPU, or a GPU)
 *   cuda -arch=sm_80,sm_90    NVIDIA GPUs through nvcc, for the listed architectures (default sm_80)
 *
 * The GPU targets are compiler/gpu (issue 15).
 */
import type { Derived } from '../../src/config/derive.ts';
import { didYouMean } from '../../src/errors.ts';
import { CompileError } from '../errors.ts';
import { detectHost, ISA_FEATURES, type HostArch, type HostIsa } from './host.ts';

export type TargetKind = 'vta' | 'cpu' | 'wasm' | 'opencl' | 'cuda';

export interface VtaTargetSpec {
  kind: 'vta';
  config: Derived;
}

export interface CpuTargetSpec {
  kind: 'cpu';
  arch: HostArch;
  /** Features the generated code may use. */
  features: string[];
  /** Whether the features were named with -mattr (else: everything the host has, -march=native). */
  explicit: boolean;
}

/** WebAssembly with 128-bit SIMD in Node's own engine: no C compiler needed (compiler/wasm). */
export interface WasmTargetSpec {
  kind: 'wasm';
}

/** OpenCL C, run on the system's first OpenCL device (compiler/gpu/opencl.ts). */
export interface OpenclTargetSpec {
  kind: 'opencl';
}

/** CUDA C, compiled by nvcc for each architecture (compiler/gpu/cuda.ts). */
export interface CudaTargetSpec {
  kind: 'cuda';
  /** Compute capabilities as nvcc names them: sm_80, sm_90, ... */
  archs: string[];
}

export type GpuTargetSpec = OpenclTargetSpec | CudaTargetSpec;

export type Target = VtaTargetSpec | CpuTargetSpec | WasmTargetSpec | GpuTargetSpec;

/** The architectures `cuda` compiles for when -arch is not given. */
export const DEFAULT_CUDA_ARCHS = ['sm_80'];

/** Names a target string may start with. */
export const TARGET_NAMES = ['vta', 'cpu', 'wasm', 'opencl', 'cuda'] as const;

/** How a target prints (`cpu -mattr=+avx2`, `vta default`). */
export function targetString(t: Target): string {
  if (t.kind === 'vta') return `vta ${t.config.variant}`;
  if (t.kind === 'wasm') return 'wasm';
  if (t.kind === 'opencl') return 'opencl';
  if (t.kind === 'cuda') return `cuda -arch=${t.archs.join(',')}`;
  return t.explicit ? `cpu -mattr=${t.features.map((f) => `+${f}`).join(',')}` : 'cpu';
}

/** Parse a target string; `config` is the configuration of a `vta` target. */
export function parseTarget(text: string, config: Derived, host: HostIsa = detectHost()): Target {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const name = words[0] ?? '';
  if (!(TARGET_NAMES as readonly string[]).includes(name)) {
    throw new CompileError(`unknown target ${JSON.stringify(text)}${didYouMean(name, TARGET_NAMES)}; targets: vta, cpu [-mattr=+feature,...], wasm, opencl, cuda [-arch=sm_80,...]`);
  }
  const opts = words.slice(1);
  if (name === 'vta') {
    if (opts.length) throw new CompileError(`target vta takes no options (got ${opts.join(' ')}); its configuration comes from --config`);
    return { kind: 'vta', config };
  }
  if (name === 'wasm') {
    if (opts.length) throw new CompileError(`target wasm takes no options (got ${opts.join(' ')}); it always uses 128-bit SIMD`);
    return { kind: 'wasm' };
  }
  if (name === 'opencl') {
    if (opts.length) throw new CompileError(`target opencl takes no options (got ${opts.join(' ')}); it runs on the first OpenCL device`);
    return { kind: 'opencl' };
  }
  if (name === 'cuda') return parseCudaOptions(opts);
  let features = host.features;
  let explicit = false;
  for (const o of opts) {
    const m = /^-mattr=(.*)$/.exec(o);
    if (!m) throw new CompileError(`target cpu: unknown option ${o}; it takes -mattr=+feature,... (features: ${ISA_FEATURES.map((f) => f.name).join(', ')})`);
    explicit = true;
    features = [];
    for (const item of m[1].split(',').filter(Boolean)) {
      if (!item.startsWith('+')) throw new CompileError(`target cpu: -mattr item ${item} must be +feature (features: ${ISA_FEATURES.map((f) => f.name).join(', ')})`);
      const f = item.slice(1);
      const known = ISA_FEATURES.find((x) => x.name === f);
      if (!known) throw new CompileError(`target cpu: unknown feature ${f}${didYouMean(f, ISA_FEATURES.map((x) => x.name))}`);
      if (!host.features.includes(f)) {
        throw new CompileError(`target cpu: this ${host.arch} host has no ${f} (${known.what}); it has ${host.features.join(', ') || 'none of the listed features'}`);
      }
      if (!features.includes(f)) features.push(f);
    }
  }
  return { kind: 'cpu', arch: host.arch, features, explicit };
}

/** `cuda [-arch=sm_80,sm_90]`: compute capabilities sm_XY (X, Y digits), as nvcc names them. */
function parseCudaOptions(opts: string[]): CudaTargetSpec {
  let archs = DEFAULT_CUDA_ARCHS;
  for (const o of opts) {
    const m = /^-arch=(.*)$/.exec(o);
    if (!m) throw new CompileError(`target cuda: unknown option ${o}; it takes -arch=sm_80,sm_90,...`);
    archs = m[1].split(',').filter(Boolean);
    if (!archs.length) throw new CompileError('target cuda: -arch= lists no architecture; e.g. -arch=sm_80,sm_90');
    for (const a of archs) {
      if (!/^sm_\d{2,3}[a-z]?$/.test(a)) throw new CompileError(`target cuda: architecture ${a} is not of the form sm_80 (compute capability 8.0), sm_90, ...`);
    }
  }
  return { kind: 'cuda', archs: [...new Set(archs)] };
}
