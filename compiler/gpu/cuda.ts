/**
 * CUDA: the CUDA C dialect compiled by nvcc (through execa) into one fatbin holding a cubin per
 * architecture (one front-end pass, ptxas per architecture), cached
 * under .cache/cuda/ by a hash of (source, architectures, flags, nvcc version), with each kernel's
 * registers and shared memory from ptxas (`-Xptxas -v`). Where the CUDA driver (libcuda.so.1) and a
 * GPU are present, `runCudaOp` loads the fatbin through the driver API (koffi; the driver picks
 * the GPU's architecture) and runs the kernels.
 *
 * NOT RUN HERE: the driver-API part (`cudaDriver`, `CudaSession`, `runCudaOp`) is written and type-checked but has
 * not run on a GPU yet (this machine has nvcc and no driver); scripts/gpu-check.sh runs it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import koffi from 'koffi';
import { CompileError } from '../errors.ts';
import type { GpuKernel } from './codegen.ts';
import { runGpuOp, STATIC_SHARED_LIMIT, type GpuOp, type GpuRun, type GpuSession } from './op.ts';

export { STATIC_SHARED_LIMIT };

export const CUDA_CACHE_DIR = resolve('.cache', 'cuda');

export function nvccPath(): string {
  return process.env.NVCC?.trim() || 'nvcc';
}

let versionCache: string | undefined;

/** nvcc's release line (`Cuda compilation tools, release 13.0, V13.0.88`), or undefined when there is no nvcc. */
export async function nvccVersion(): Promise<string | undefined> {
  if (versionCache !== undefined) return versionCache || undefined;
  const r = await execa(nvccPath(), ['--version'], { reject: false });
  versionCache = r.failed ? '' : (r.stdout.split('\n').find((l) => /release/.test(l)) ?? r.stdout.split('\n').pop() ?? '').trim();
  return versionCache || undefined;
}

export interface KernelUsage {
  name: string;
  registers: number;
  shared_bytes: number;
  spill_bytes: number;
}

export interface CudaArchBuild {
  arch: string;
  kernels: KernelUsage[];
}

export interface CudaBuild {
  /** The fatbin: one cubin per architecture. */
  fatbin: string;
  archs: CudaArchBuild[];
  cached: boolean;
  nvcc: string;
}

/** Per-kernel resource usage from ptxas -v output, by architecture (in the order ptxas reports them). */
export function parsePtxasUsage(text: string): CudaArchBuild[] {
  const out: CudaArchBuild[] = [];
  let cur: KernelUsage | undefined;
  for (const line of text.split('\n')) {
    const entry = /Compiling entry function '([^']+)' for '([^']+)'/.exec(line);
    if (entry) {
      cur = { name: entry[1], registers: 0, shared_bytes: 0, spill_bytes: 0 };
      let arch = out.find((a) => a.arch === entry[2]);
      if (!arch) out.push((arch = { arch: entry[2], kernels: [] }));
      arch.kernels.push(cur);
      continue;
    }
    if (!cur) continue;
    const spill = /(\d+) bytes spill stores/.exec(line);
    if (spill) cur.spill_bytes = Number(spill[1]);
    const used = /Used (\d+) registers/.exec(line);
    if (used) {
      cur.registers = Number(used[1]);
      const smem = /(\d+) bytes smem/.exec(line);
      cur.shared_bytes = smem ? Number(smem[1]) : 0;
    }
  }
  return out;
}

const FLAGS = ['-O3', '-Xptxas', '-v'];

/** Compile the CUDA source for each architecture (or take it from the cache). */
export async function buildCuda(source: string, archs: readonly string[], cacheDir = CUDA_CACHE_DIR): Promise<CudaBuild> {
  const nvcc = await nvccVersion();
  if (!nvcc) throw new CompileError(`nvcc not found (${nvccPath()}): install the CUDA toolkit or set NVCC; the cuda target compiles with it`);
  const hash = createHash('sha256').update(JSON.stringify([source, archs, FLAGS, nvcc])).digest('hex').slice(0, 24);
  const dir = join(cacheDir, hash);
  const index = join(dir, 'usage.json');
  const fatbin = join(dir, 'kernels.fatbin');
  if (existsSync(index)) return { fatbin, archs: JSON.parse(readFileSync(index, 'utf8')) as CudaArchBuild[], cached: true, nvcc };
  mkdirSync(dir, { recursive: true });
  const cu = join(dir, 'kernels.cu');
  writeFileSync(cu, source);
  const tmp = `${fatbin}.${process.pid}.tmp`;
  const gencode = archs.flatMap((a) => ['-gencode', `arch=${a.replace('sm_', 'compute_')},code=${a}`]);
  const r = await execa(nvccPath(), ['-fatbin', ...gencode, ...FLAGS, '-o', tmp, cu], { reject: false, all: true });
  if (r.failed) {
    rmSync(tmp, { force: true });
    const lines = (r.all ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    throw new CompileError(`nvcc failed for ${archs.join(', ')} on ${cu}: ${lines.find((l) => /\berror\b/.test(l)) ?? lines[0] ?? `exit code ${r.exitCode ?? '?'}`}`);
  }
  renameSync(tmp, fatbin);
  const usage = parsePtxasUsage(r.all ?? '');
  const built = archs.map((a) => usage.find((u) => u.arch === a) ?? { arch: a, kernels: [] });
  writeFileSync(`${index}.tmp`, JSON.stringify(built, null, 2));
  renameSync(`${index}.tmp`, index);
  return { fatbin, archs: built, cached: false, nvcc };
}


/** Refuse kernels that declare more static shared memory than a block may have. */
export function checkSharedMemory(b: CudaBuild): void {
  for (const a of b.archs) {
    for (const k of a.kernels) {
      if (k.shared_bytes > STATIC_SHARED_LIMIT) {
        throw new CompileError(`kernel ${k.name} needs ${k.shared_bytes} bytes of shared memory on ${a.arch}; a block may have ${STATIC_SHARED_LIMIT}: choose smaller tiles`);
      }
    }
  }
}

// ---------------------------------------------------------------- driver API (not run here)

type Ptr = number;
interface Cu {
  init: (flags: number) => number;
  deviceGetCount: (n: number[]) => number;
  deviceGet: (d: number[], ordinal: number) => number;
  deviceGetName: (name: Buffer, len: number, dev: number) => number;
  deviceGetAttribute: (v: number[], attr: number, dev: number) => number;
  primaryCtxRetain: (ctx: number[], dev: number) => number;
  primaryCtxRelease: (dev: number) => number;
  ctxSetCurrent: (ctx: Ptr) => number;
  ctxSynchronize: () => number;
  moduleLoadData: (mod: number[], image: Buffer) => number;
  moduleUnload: (mod: Ptr) => number;
  moduleGetFunction: (fn: number[], mod: Ptr, name: string) => number;
  memAlloc: (ptr: number[], bytes: number) => number;
  memFree: (ptr: Ptr) => number;
  memcpyHtoD: (dst: Ptr, src: ArrayBufferView, bytes: number) => number;
  memcpyDtoH: (dst: ArrayBufferView, src: Ptr, bytes: number) => number;
  launchKernel: (fn: Ptr, gx: number, gy: number, gz: number, bx: number, by: number, bz: number, shared: number, stream: null, params: BigUint64Array[], extra: null) => number;
}

let cuLoaded: Cu | undefined;
let cuMissing = false;

/** The CUDA driver API, or undefined when libcuda.so.1 is not on this machine. */
export function cudaDriver(): Cu | undefined {
  if (cuLoaded || cuMissing) return cuLoaded;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load('libcuda.so.1');
  } catch {
    cuMissing = true;
    return undefined;
  }
  const f = (sig: string) => lib.func(sig) as unknown;
  cuLoaded = {
    init: f('int cuInit(uint32_t flags)'),
    deviceGetCount: f('int cuDeviceGetCount(_Out_ int *n)'),
    deviceGet: f('int cuDeviceGet(_Out_ int *dev, int ordinal)'),
    deviceGetName: f('int cuDeviceGetName(void *name, int len, int dev)'),
    deviceGetAttribute: f('int cuDeviceGetAttribute(_Out_ int *v, int attr, int dev)'),
    // The device's primary context: the same call in every CUDA version (cuCtxCreate changed in 13).
    primaryCtxRetain: f('int cuDevicePrimaryCtxRetain(_Out_ uintptr_t *ctx, int dev)'),
    primaryCtxRelease: f('int cuDevicePrimaryCtxRelease_v2(int dev)'),
    ctxSetCurrent: f('int cuCtxSetCurrent(uintptr_t ctx)'),
    ctxSynchronize: f('int cuCtxSynchronize()'),
    moduleLoadData: f('int cuModuleLoadData(_Out_ uintptr_t *mod, void *image)'),
    moduleUnload: f('int cuModuleUnload(uintptr_t mod)'),
    moduleGetFunction: f('int cuModuleGetFunction(_Out_ uintptr_t *fn, uintptr_t mod, const char *name)'),
    memAlloc: f('int cuMemAlloc_v2(_Out_ uint64_t *ptr, size_t bytes)'),
    memFree: f('int cuMemFree_v2(uint64_t ptr)'),
    memcpyHtoD: f('int cuMemcpyHtoD_v2(uint64_t dst, void *src, size_t bytes)'),
    memcpyDtoH: f('int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)'),
    launchKernel: f('int cuLaunchKernel(uintptr_t fn, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx, uint32_t by, uint32_t bz, uint32_t shared, void *stream, void **params, void *extra)'),
  } as Cu;
  return cuLoaded;
}

/** Why CUDA kernels cannot run here (no driver, or no GPU), or undefined when they can. */
export function cudaUnavailable(): string | undefined {
  const cu = cudaDriver();
  if (!cu) return 'no CUDA driver (libcuda.so.1) on this machine, so no GPU is present to run on';
  if (cu.init(0) !== 0) return 'the CUDA driver found no usable GPU (cuInit failed)';
  const n = [0];
  if (cu.deviceGetCount(n) !== 0 || n[0] < 1) return 'the CUDA driver lists no GPU';
  return undefined;
}

function ok(code: number, what: string): void {
  if (code !== 0) throw new CompileError(`CUDA ${what} failed with error ${code}`);
}

const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

/** GPU 0: its driver handle, name and architecture (sm_XY); call where `cudaUnavailable()` is undefined. */
export function cudaGpu0(): { dev: number; name: string; arch: string } {
  const cu = cudaDriver();
  if (!cu) throw new CompileError(cudaUnavailable()!);
  const dev = [0];
  ok(cu.deviceGet(dev, 0), 'cuDeviceGet');
  const nameBuf = Buffer.alloc(256);
  ok(cu.deviceGetName(nameBuf, 256, dev[0]), 'cuDeviceGetName');
  const major = [0];
  const minor = [0];
  ok(cu.deviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev[0]), 'cuDeviceGetAttribute');
  ok(cu.deviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev[0]), 'cuDeviceGetAttribute');
  return { dev: dev[0], name: nameBuf.toString('utf8').replace(/\0.*$/s, ''), arch: `sm_${major[0]}${minor[0]}` };
}

/**
 * GPU 0 with the fatbin loaded (the cubin of its architecture) and the kernels looked up: device
 * buffers and launches on the default stream (in order; cuMemcpyDtoH waits for the launches).
 */
export class CudaSession implements GpuSession {
  readonly deviceName: string;
  private readonly cu: Cu;
  private readonly dev: number;
  private mod = 0;
  private readonly fns: Array<{ fn: Ptr; k: GpuKernel }> = [];
  private readonly ptrs: number[] = [];
  private readonly params: BigUint64Array[][] = [];

  constructor(build: CudaBuild, kernels: readonly GpuKernel[]) {
    const why = cudaUnavailable();
    if (why) throw new CompileError(why);
    const cu = (this.cu = cudaDriver()!);
    const gpu = cudaGpu0();
    this.dev = gpu.dev;
    this.deviceName = gpu.name;
    if (!build.archs.some((a) => a.arch === gpu.arch)) throw new CompileError(`${gpu.name} is ${gpu.arch}; the kernels were compiled for ${build.archs.map((a) => a.arch).join(', ')}: add -arch=${gpu.arch}`);
    const ctx = [0];
    ok(cu.primaryCtxRetain(ctx, this.dev), 'cuDevicePrimaryCtxRetain');
    try {
      ok(cu.ctxSetCurrent(ctx[0]), 'cuCtxSetCurrent');
      const mod = [0];
      ok(cu.moduleLoadData(mod, readFileSync(build.fatbin)), 'cuModuleLoadData');
      this.mod = mod[0];
      for (const k of kernels) {
        const fn = [0];
        ok(cu.moduleGetFunction(fn, this.mod, k.name), `cuModuleGetFunction ${k.name}`);
        this.fns.push({ fn: fn[0], k });
      }
    } catch (e) {
      this.release();
      throw e;
    }
  }

  allocate(bytes: readonly number[]): void {
    const bufs = this.addBuffers(bytes);
    this.fns.forEach((_, k) => this.setArgs(k, bufs));
  }

  addBuffers(bytes: readonly number[]): number[] {
    return bytes.map((n) => {
      const p = [0];
      ok(this.cu.memAlloc(p, Math.max(1, n)), 'cuMemAlloc');
      return this.ptrs.push(p[0]) - 1;
    });
  }

  /** kernelParams: one pointer per argument, to a device pointer value. */
  setArgs(k: number, buffers: readonly number[]): void {
    this.params[k] = buffers.map((b) => new BigUint64Array([BigInt(this.ptrs[b])]));
  }

  write(b: number, data: ArrayBufferView): void {
    ok(this.cu.memcpyHtoD(this.ptrs[b], data, data.byteLength), 'cuMemcpyHtoD');
  }

  read(b: number, data: ArrayBufferView): void {
    ok(this.cu.memcpyDtoH(data, this.ptrs[b], data.byteLength), 'cuMemcpyDtoH');
  }

  launch(kernels: readonly number[]): void {
    for (const i of kernels) {
      const { fn, k } = this.fns[i];
      ok(this.cu.launchKernel(fn, ...k.grid, ...k.block, 0, null, this.params[i], null), `cuLaunchKernel ${k.name}`);
    }
  }

  run(): void {
    this.launch(this.fns.map((_, k) => k));
    ok(this.cu.ctxSynchronize(), 'cuCtxSynchronize');
  }

  release(): void {
    for (const p of this.ptrs.splice(0)) this.cu.memFree(p);
    if (this.mod) this.cu.moduleUnload(this.mod);
    this.mod = 0;
    this.cu.primaryCtxRelease(this.dev);
  }
}

/** Run a CUDA op on GPU 0: once for the result, then timed warm runs. */
export function runCudaOp(op: GpuOp, build: CudaBuild, opts: { seed?: number; check?: boolean; runs?: number } = {}): GpuRun {
  return runGpuOp(op, new CudaSession(build, op.source.kernels), opts);
}
