/**
 * A small OpenCL host layer over the system's OpenCL library (libOpenCL.so, the ocl-icd loader)
 * through koffi: platforms and devices, a context and an in-order queue on the first device,
 * program builds (the build log's first error line on failure), buffers, launches and reads.
 * Handles (cl_platform_id, cl_context, ...) are pointer-sized integers on the JavaScript side.
 */
import koffi from 'koffi';
import { CompileError } from '../errors.ts';
import type { GpuSession } from './op.ts';

const CL_SUCCESS = 0;
const CL_PLATFORM_NAME = 0x0902;
const CL_DEVICE_TYPE_ALL = 0xffffffff;
const CL_DEVICE_NAME = 0x102b;
const CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004;
const CL_DEVICE_LOCAL_MEM_SIZE = 0x1023;
const CL_DEVICE_VERSION = 0x102f;
const CL_PROGRAM_BUILD_LOG = 0x1183;
const CL_MEM_READ_WRITE = 1;
const CL_BUILD_PROGRAM_FAILURE = -11;

type Handle = number;

/** The library's functions, bound once. */
interface Cl {
  getPlatformIDs: (n: number, out: BigUint64Array | null, num: number[]) => number;
  getPlatformInfo: (p: Handle, param: number, size: number, value: Buffer | null, ret: number[]) => number;
  getDeviceIDs: (p: Handle, type: number, n: number, out: BigUint64Array | null, num: number[]) => number;
  getDeviceInfo: (d: Handle, param: number, size: number, value: Buffer | null, ret: number[]) => number;
  createContext: (props: null, n: number, devs: BigUint64Array, cb: null, ud: null, err: number[]) => Handle;
  createCommandQueue: (ctx: Handle, dev: Handle, props: number, err: number[]) => Handle;
  createProgramWithSource: (ctx: Handle, n: number, strings: string[], lengths: null, err: number[]) => Handle;
  buildProgram: (prog: Handle, n: number, devs: BigUint64Array, options: string, cb: null, ud: null) => number;
  getProgramBuildInfo: (prog: Handle, dev: Handle, param: number, size: number, value: Buffer | null, ret: number[]) => number;
  createKernel: (prog: Handle, name: string, err: number[]) => Handle;
  setKernelArg: (k: Handle, i: number, size: number, value: BigUint64Array) => number;
  createBuffer: (ctx: Handle, flags: number, size: number, host: null, err: number[]) => Handle;
  enqueueWriteBuffer: (q: Handle, b: Handle, blocking: number, off: number, size: number, ptr: ArrayBufferView, n: number, w: null, e: null) => number;
  enqueueReadBuffer: (q: Handle, b: Handle, blocking: number, off: number, size: number, ptr: ArrayBufferView, n: number, w: null, e: null) => number;
  enqueueNDRangeKernel: (q: Handle, k: Handle, dim: number, off: null, global: BigUint64Array, local: BigUint64Array, n: number, w: null, e: null) => number;
  finish: (q: Handle) => number;
  releaseMemObject: (b: Handle) => number;
  releaseKernel: (k: Handle) => number;
  releaseProgram: (p: Handle) => number;
  releaseCommandQueue: (q: Handle) => number;
  releaseContext: (c: Handle) => number;
}

let loaded: Cl | undefined;
let loadError: string | undefined;

/** Load libOpenCL once; undefined (with `openclLoadError()`) when the library is missing. */
function cl(): Cl | undefined {
  if (loaded || loadError) return loaded;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load('libOpenCL.so.1');
  } catch {
    loadError = 'no OpenCL library (libOpenCL.so.1) on this machine: sudo apt-get install -y ocl-icd-opencl-dev pocl-opencl-icd';
    return undefined;
  }
  const f = (sig: string) => lib.func(sig) as unknown;
  loaded = {
    getPlatformIDs: f('int clGetPlatformIDs(uint32_t n, void *plats, _Out_ uint32_t *num)'),
    getPlatformInfo: f('int clGetPlatformInfo(uintptr_t p, uint32_t param, size_t size, void *value, _Out_ size_t *ret)'),
    getDeviceIDs: f('int clGetDeviceIDs(uintptr_t p, uint64_t type, uint32_t n, void *devs, _Out_ uint32_t *num)'),
    getDeviceInfo: f('int clGetDeviceInfo(uintptr_t d, uint32_t param, size_t size, void *value, _Out_ size_t *ret)'),
    createContext: f('uintptr_t clCreateContext(void *props, uint32_t n, void *devs, void *cb, void *ud, _Out_ int *err)'),
    createCommandQueue: f('uintptr_t clCreateCommandQueue(uintptr_t ctx, uintptr_t dev, uint64_t props, _Out_ int *err)'),
    createProgramWithSource: f('uintptr_t clCreateProgramWithSource(uintptr_t ctx, uint32_t n, const char **strings, void *lengths, _Out_ int *err)'),
    buildProgram: f('int clBuildProgram(uintptr_t prog, uint32_t n, void *devs, const char *options, void *cb, void *ud)'),
    getProgramBuildInfo: f('int clGetProgramBuildInfo(uintptr_t prog, uintptr_t dev, uint32_t param, size_t size, void *value, _Out_ size_t *ret)'),
    createKernel: f('uintptr_t clCreateKernel(uintptr_t prog, const char *name, _Out_ int *err)'),
    setKernelArg: f('int clSetKernelArg(uintptr_t k, uint32_t i, size_t size, void *value)'),
    createBuffer: f('uintptr_t clCreateBuffer(uintptr_t ctx, uint64_t flags, size_t size, void *host, _Out_ int *err)'),
    enqueueWriteBuffer: f('int clEnqueueWriteBuffer(uintptr_t q, uintptr_t b, uint32_t blocking, size_t off, size_t size, void *ptr, uint32_t n, void *w, void *e)'),
    enqueueReadBuffer: f('int clEnqueueReadBuffer(uintptr_t q, uintptr_t b, uint32_t blocking, size_t off, size_t size, void *ptr, uint32_t n, void *w, void *e)'),
    enqueueNDRangeKernel: f('int clEnqueueNDRangeKernel(uintptr_t q, uintptr_t k, uint32_t dim, void *off, void *global, void *local, uint32_t n, void *w, void *e)'),
    finish: f('int clFinish(uintptr_t q)'),
    releaseMemObject: f('int clReleaseMemObject(uintptr_t b)'),
    releaseKernel: f('int clReleaseKernel(uintptr_t k)'),
    releaseProgram: f('int clReleaseProgram(uintptr_t p)'),
    releaseCommandQueue: f('int clReleaseCommandQueue(uintptr_t q)'),
    releaseContext: f('int clReleaseContext(uintptr_t c)'),
  } as Cl;
  return loaded;
}

export function openclLoadError(): string | undefined {
  cl();
  return loadError;
}

function check(code: number, what: string): void {
  if (code !== CL_SUCCESS) throw new CompileError(`OpenCL ${what} failed with error ${code}`);
}

function infoString(get: (size: number, value: Buffer | null, ret: number[]) => number, what: string): string {
  const ret = [0];
  check(get(0, null, ret), what);
  const b = Buffer.alloc(ret[0]);
  check(get(ret[0], b, ret), what);
  return b.toString('utf8', 0, Math.max(0, ret[0] - 1)).trim();
}

function infoNumber(get: (size: number, value: Buffer | null, ret: number[]) => number, what: string): number {
  const b = Buffer.alloc(8);
  check(get(8, b, [0]), what);
  return Number(b.readBigUInt64LE(0));
}

export interface OpenclDevice {
  platform: string;
  name: string;
  version: string;
  maxWorkGroupSize: number;
  localMemBytes: number;
  handle: Handle;
}

/** Every platform's devices (empty when the library has no platform; throws when the library is missing). */
export function openclDevices(): OpenclDevice[] {
  const c = cl();
  if (!c) throw new CompileError(loadError!);
  const num = [0];
  // -1001 (CL_PLATFORM_NOT_FOUND_KHR): the ICD loader found no platform.
  if (c.getPlatformIDs(0, null, num) !== CL_SUCCESS || num[0] === 0) return [];
  const plats = new BigUint64Array(num[0]);
  check(c.getPlatformIDs(num[0], plats, num), 'clGetPlatformIDs');
  const out: OpenclDevice[] = [];
  for (const p of plats) {
    const ph = Number(p);
    const platform = infoString((s, v, r) => c.getPlatformInfo(ph, CL_PLATFORM_NAME, s, v, r), 'clGetPlatformInfo');
    const nd = [0];
    if (c.getDeviceIDs(ph, CL_DEVICE_TYPE_ALL, 0, null, nd) !== CL_SUCCESS || nd[0] === 0) continue;
    const devs = new BigUint64Array(nd[0]);
    check(c.getDeviceIDs(ph, CL_DEVICE_TYPE_ALL, nd[0], devs, nd), 'clGetDeviceIDs');
    for (const dv of devs) {
      const dh = Number(dv);
      const get = (param: number) => (s: number, v: Buffer | null, r: number[]) => c.getDeviceInfo(dh, param, s, v, r);
      out.push({
        platform,
        name: infoString(get(CL_DEVICE_NAME), 'clGetDeviceInfo'),
        version: infoString(get(CL_DEVICE_VERSION), 'clGetDeviceInfo'),
        maxWorkGroupSize: infoNumber(get(CL_DEVICE_MAX_WORK_GROUP_SIZE), 'clGetDeviceInfo'),
        localMemBytes: infoNumber(get(CL_DEVICE_LOCAL_MEM_SIZE), 'clGetDeviceInfo'),
        handle: dh,
      });
    }
  }
  return out;
}

/** The first error line of a build log (else its first line). */
export function firstErrorLine(log: string): string {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /\berror\b/i.test(l)) ?? lines[0] ?? '(empty build log)';
}

export interface OpenclLaunch {
  name: string;
  grid: readonly number[];
  block: readonly number[];
  sharedBytes: number;
}

/** A context, queue and built program on one device; buffers bound to every kernel's arguments. */
export class OpenclSession implements GpuSession {
  readonly device: OpenclDevice;
  readonly deviceName: string;
  private readonly c: Cl;
  private readonly ctx: Handle;
  private readonly queue: Handle;
  private readonly program: Handle;
  private readonly kernels: Array<{ handle: Handle; launch: OpenclLaunch }> = [];
  private readonly buffers: Array<{ handle: Handle; bytes: number }> = [];

  /** Build `source` on the first device; kernels launch in the given order. */
  constructor(source: string, launches: readonly OpenclLaunch[], options = '') {
    const devices = openclDevices();
    if (!devices.length) throw new CompileError('no OpenCL platform or device found (the OpenCL library lists none): sudo apt-get install -y pocl-opencl-icd, or install your GPU vendor\'s OpenCL driver');
    this.device = devices[0];
    this.deviceName = `${this.device.name} (${this.device.platform})`;
    this.c = cl()!;
    const c = this.c;
    const err = [0];
    const dev = new BigUint64Array([BigInt(this.device.handle)]);
    this.ctx = c.createContext(null, 1, dev, null, null, err);
    check(err[0], 'clCreateContext');
    this.queue = c.createCommandQueue(this.ctx, this.device.handle, 0, err);
    check(err[0], 'clCreateCommandQueue');
    for (const l of launches) {
      const threads = l.block.reduce((a, b) => a * b, 1);
      if (threads > this.device.maxWorkGroupSize) {
        this.release();
        throw new CompileError(`kernel ${l.name} needs ${threads} threads per work-group; ${this.device.name} allows ${this.device.maxWorkGroupSize}: choose a smaller threads knob`);
      }
      if (l.sharedBytes > this.device.localMemBytes) {
        this.release();
        throw new CompileError(`kernel ${l.name} needs ${l.sharedBytes} bytes of local (shared) memory; ${this.device.name} has ${this.device.localMemBytes}: choose smaller tiles`);
      }
    }
    this.program = c.createProgramWithSource(this.ctx, 1, [source], null, err);
    check(err[0], 'clCreateProgramWithSource');
    const code = c.buildProgram(this.program, 1, dev, options, null, null);
    if (code !== CL_SUCCESS) {
      const log = code === CL_BUILD_PROGRAM_FAILURE
        ? infoString((s, v, r) => c.getProgramBuildInfo(this.program, this.device.handle, CL_PROGRAM_BUILD_LOG, s, v, r), 'clGetProgramBuildInfo')
        : `error ${code}`;
      this.release();
      throw new CompileError(`OpenCL kernel build failed on ${this.device.name}: ${firstErrorLine(log)}`);
    }
    for (const l of launches) {
      const k = c.createKernel(this.program, l.name, err);
      check(err[0], `clCreateKernel ${l.name}`);
      this.kernels.push({ handle: k, launch: l });
    }
  }

  /** Device buffers of the given sizes in bytes, set as every kernel's arguments in order. */
  allocate(bytes: readonly number[]): void {
    const bufs = this.addBuffers(bytes);
    this.kernels.forEach((_, k) => this.setArgs(k, bufs));
  }

  /** More device buffers of the given sizes in bytes; returns their indices (for write, read, setArgs). */
  addBuffers(bytes: readonly number[]): number[] {
    const err = [0];
    return bytes.map((n) => {
      const h = this.c.createBuffer(this.ctx, CL_MEM_READ_WRITE, Math.max(1, n), null, err);
      check(err[0], 'clCreateBuffer');
      return this.buffers.push({ handle: h, bytes: n }) - 1;
    });
  }

  /** Kernel `k`'s arguments: the buffers of the given indices, in order. */
  setArgs(k: number, buffers: readonly number[]): void {
    const { handle, launch } = this.kernels[k];
    buffers.forEach((b, i) => check(this.c.setKernelArg(handle, i, 8, new BigUint64Array([BigInt(this.buffers[b].handle)])), `clSetKernelArg ${i} of ${launch.name}`));
  }

  write(i: number, data: ArrayBufferView): void {
    check(this.c.enqueueWriteBuffer(this.queue, this.buffers[i].handle, 1, 0, data.byteLength, data, 0, null, null), 'clEnqueueWriteBuffer');
  }

  read(i: number, data: ArrayBufferView): void {
    check(this.c.enqueueReadBuffer(this.queue, this.buffers[i].handle, 1, 0, data.byteLength, data, 0, null, null), 'clEnqueueReadBuffer');
  }

  /** Launch every kernel in order and wait for the queue. */
  run(): void {
    this.launch(this.kernels.map((_, k) => k));
    check(this.c.finish(this.queue), 'clFinish');
  }

  /**
   * Enqueue the kernels of the given indices in order, without waiting: the queue is in order, so a
   * (blocking) read after them sees their results.
   */
  launch(kernels: readonly number[]): void {
    for (const k of kernels) {
      const { handle, launch } = this.kernels[k];
      const local = new BigUint64Array(launch.block.map(BigInt));
      const global = new BigUint64Array(launch.grid.map((g, d) => BigInt(g * launch.block[d])));
      check(this.c.enqueueNDRangeKernel(this.queue, handle, 3, null, global, local, 0, null, null), `clEnqueueNDRangeKernel ${launch.name}`);
    }
  }

  release(): void {
    const c = this.c;
    for (const b of this.buffers.splice(0)) c.releaseMemObject(b.handle);
    for (const k of this.kernels.splice(0)) c.releaseKernel(k.handle);
    if (this.program) c.releaseProgram(this.program);
    if (this.queue) c.releaseCommandQueue(this.queue);
    if (this.ctx) c.releaseContext(this.ctx);
  }
}
