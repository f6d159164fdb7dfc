/**
 * The host's instruction-set features that the CPU back end can use, read from /proc/cpuinfo on
 * Linux (x86-64 `flags`, aarch64 `Features`). Each feature knows its cpuinfo name and the C
 * compiler flag that enables it.
 */
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';

export type HostArch = 'x86_64' | 'aarch64' | 'other';

export interface IsaFeature {
  /** The name `-mattr=+NAME` uses. */
  name: string;
  arch: HostArch;
  /** Its name in /proc/cpuinfo. */
  cpuinfo: string;
  /** What it gives an int8 kernel. */
  what: string;
}

export const ISA_FEATURES: readonly IsaFeature[] = [
  { name: 'avx2', arch: 'x86_64', cpuinfo: 'avx2', what: '256-bit integer vectors' },
  { name: 'fma', arch: 'x86_64', cpuinfo: 'fma', what: 'fused multiply-add' },
  { name: 'avx512f', arch: 'x86_64', cpuinfo: 'avx512f', what: '512-bit vectors' },
  { name: 'avx512bw', arch: 'x86_64', cpuinfo: 'avx512bw', what: '512-bit byte / word operations' },
  { name: 'avx512vl', arch: 'x86_64', cpuinfo: 'avx512vl', what: 'AVX-512 on 128/256-bit vectors' },
  { name: 'avx512vnni', arch: 'x86_64', cpuinfo: 'avx512_vnni', what: 'int8 dot products (vpdpbusd) on 512-bit vectors' },
  { name: 'avxvnni', arch: 'x86_64', cpuinfo: 'avx_vnni', what: 'int8 dot products on 256-bit vectors' },
  { name: 'neon', arch: 'aarch64', cpuinfo: 'asimd', what: '128-bit SIMD' },
  { name: 'dotprod', arch: 'aarch64', cpuinfo: 'asimddp', what: 'int8 dot products (sdot)' },
];

export interface HostIsa {
  arch: HostArch;
  /** Feature names (as -mattr spells them) the host has. */
  features: string[];
}

export function hostArch(): HostArch {
  const a = arch();
  return a === 'x64' ? 'x86_64' : a === 'arm64' ? 'aarch64' : 'other';
}

/** Features named in a cpuinfo text (the flags / Features lines). */
export function featuresFromCpuinfo(text: string, a: HostArch): string[] {
  const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  const have = new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
  // aarch64 always has Advanced SIMD, even where the kernel does not list it.
  return ISA_FEATURES.filter((f) => f.arch === a && (have.has(f.cpuinfo) || (a === 'aarch64' && f.name === 'neon'))).map((f) => f.name);
}

let cached: HostIsa | undefined;

export function detectHost(): HostIsa {
  if (cached) return cached;
  const a = hostArch();
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // Not Linux: no features detected; -march=native still tunes for the host.
  }
  cached = { arch: a, features: featuresFromCpuinfo(text, a) };
  return cached;
}
