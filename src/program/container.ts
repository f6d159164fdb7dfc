/**
 * The program container: what every engine (TypeScript simulator, Verilated RTL, a board) runs and
 * every tool exchanges. It is a DRAM image made of named buffers — the instruction stream, micro-op
 * tables and data — plus the configuration it was built for. Format: docs/program-format.md.
 */
import { writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { INPUT_LIMITS, readInputText, stripBom } from '../util/input.ts';
import { parseJsonText, quoteUser } from '../util/quote.ts';
import { fsReason } from '../util/folder.ts';
import { deriveConfig, minimalKeys, type Derived } from '../config/derive.ts';
import { ConfigError, ProgramError, VtwError } from '../errors.ts';
import { INSN_BYTES, PAGE_BYTES, UOP_BYTES } from '../isa/constants.ts';
import { decodeInsn, decodeUops, type Insn, type Uop } from '../isa/insn.ts';

export const PROGRAM_FORMAT = 'vtw-program';
export const PROGRAM_VERSION = 1;
export { PAGE_BYTES };
export const DRAM_LIMIT = 2 ** 32;

export const BUFFER_KINDS = ['insn', 'uop', 'data'] as const;
export type BufferKind = (typeof BUFFER_KINDS)[number];
/** What the host does with a buffer: fills it before a run (input), reads it after (output), both, or neither. */
export const BUFFER_ROLES = ['input', 'output', 'inout', 'scratch'] as const;
export type BufferRole = (typeof BUFFER_ROLES)[number];
export const DTYPES = ['int8', 'int16', 'int32', 'uint8', 'int4', 'int2'] as const;
export type Dtype = (typeof DTYPES)[number];

export interface ProgramBuffer {
  name: string;
  kind: BufferKind;
  role: BufferRole;
  /** Byte address in accelerator DRAM (page-aligned, non-zero). */
  addr: number;
  size: number;
  dtype?: Dtype;
  shape?: number[];
  /** Initial contents; absent means zero-filled. Length equals `size`. */
  data?: Uint8Array;
}

export interface Program {
  config: Derived;
  buffers: ProgramBuffer[];
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** Names a buffer may not take: they would collide with JavaScript object internals wherever names key objects. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['prototype', ...Object.getOwnPropertyNames(Object.prototype)]);

/**
 * Most DRAM an engine holds for one program (the image is one array in memory): the
 * configuration's 2^MEM_ADDR_BITS bytes, at most MAX_DRAM_IMAGE (docs/program-format.md).
 */
export const MAX_DRAM_IMAGE = 2 ** 30;
export function dramLimit(d: Derived): number {
  return Math.min(2 ** d.mem.addrBits, MAX_DRAM_IMAGE);
}

export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

export function insnBuffer(p: Program): ProgramBuffer {
  const b = p.buffers.find((x) => x.kind === 'insn');
  if (!b) throw new ProgramError('the program has no instruction buffer (kind "insn")');
  return b;
}

export function insnCount(p: Program): number {
  return insnBuffer(p).size / INSN_BYTES;
}

/** Decode instructions in order until `stop` says so for one that fails (it may throw). */
function decodeWhile(p: Program, stop: (index: number, e: Error) => void): Insn[] {
  const b = insnBuffer(p);
  const bytes = b.data ?? new Uint8Array(b.size);
  const out: Insn[] = [];
  for (let i = 0; i < b.size / INSN_BYTES; i++) {
    try {
      out.push(decodeInsn(p.config, bytes, i * INSN_BYTES));
    } catch (e) {
      stop(i, e as Error);
      break;
    }
  }
  return out;
}

/** Decode the instruction stream; errors name the instruction index. */
export function programInsns(p: Program): Insn[] {
  return decodeWhile(p, (i, e) => {
    throw new ProgramError(`instruction ${i}: ${e.message}`);
  });
}

/**
 * The instructions that decode, up to the first that does not: what an engine that ran a
 * malformed program still executed (for counters), without throwing.
 */
export function decodablePrefix(p: Program): Insn[] {
  return decodeWhile(p, () => {});
}

export function bufferUops(p: Program, b: ProgramBuffer): Uop[] {
  try {
    return decodeUops(p.config, b.data ?? new Uint8Array(b.size));
  } catch (e) {
    throw new ProgramError(`buffer ${b.name}: ${(e as Error).message}`);
  }
}

/** Bytes of DRAM a program needs (end of its highest buffer). */
export function dramSize(p: Program): number {
  return p.buffers.reduce((m, b) => Math.max(m, b.addr + b.size), PAGE_BYTES);
}

/**
 * Why a program does not fit the DRAM its configuration addresses (MEM_ADDR_BITS) or vtw's engines
 * hold (undefined if it fits): the one check behind dramImage's refusal (the compiler's knob
 * chooser asks it too).
 */
export function dramFitError(p: Program): string | undefined {
  const size = dramSize(p);
  const bits = p.config.mem.addrBits;
  if (bits < 32 && size > 2 ** bits) {
    return `the program needs ${size} bytes of DRAM but ${p.config.variant} addresses ${2 ** bits} (MEM_ADDR_BITS = ${bits}); raise MEM_ADDR_BITS or use smaller buffers`;
  }
  if (size > MAX_DRAM_IMAGE) {
    return `the program needs ${size} bytes of DRAM (its highest buffer ends there); vtw's engines hold at most ${MAX_DRAM_IMAGE}: place buffers at lower addresses`;
  }
  return undefined;
}

/**
 * A flat DRAM image with every buffer's initial contents at its address. Refuses a program that
 * needs more DRAM than its configuration addresses (MEM_ADDR_BITS), so every engine runs only
 * programs whose addresses the hardware's narrowed address arithmetic represents exactly.
 */
export function dramImage(p: Program): Uint8Array {
  const why = dramFitError(p);
  if (why) throw new ProgramError(why);
  const size = dramSize(p);
  const mem = new Uint8Array(size);
  for (const b of p.buffers) if (b.data) mem.set(b.data, b.addr);
  return mem;
}

/** Check the invariants every engine relies on; throws ProgramError with one line. */
export function validateProgram(p: Program): void {
  const seen = new Set<string>();
  let insnBuffers = 0;
  for (const b of p.buffers) {
    const where = `buffer ${b.name}`;
    if (typeof b.name !== 'string' || !NAME_RE.test(b.name)) throw new ProgramError(`buffer name ${quoteUser(b.name, 40)} must be an identifier (letters, digits, _ . -)`);
    if (RESERVED_NAMES.has(b.name)) throw new ProgramError(`buffer name ${b.name} is reserved; choose another name`);
    if (seen.has(b.name)) throw new ProgramError(`buffer name ${b.name} is used twice`);
    seen.add(b.name);
    if (!BUFFER_KINDS.includes(b.kind)) throw new ProgramError(`${where}: kind ${quoteUser(b.kind, 40)} is not one of ${BUFFER_KINDS.join(', ')}`);
    if (!BUFFER_ROLES.includes(b.role)) throw new ProgramError(`${where}: role ${quoteUser(b.role, 40)} is not one of ${BUFFER_ROLES.join(', ')}`);
    // The instruction stream starts on a page (the fetch splits its bursts by offset from it);
    // data and micro-op buffers on the configuration's buffer alignment (MEM_BUFFER_ALIGN).
    const align = b.kind === 'insn' ? PAGE_BYTES : p.config.mem.bufferAlign;
    if (!Number.isInteger(b.addr) || b.addr <= 0 || b.addr % align) {
      const what = align === PAGE_BYTES ? `${PAGE_BYTES} (one DRAM page)` : `${align} (MEM_BUFFER_ALIGN)`;
      throw new ProgramError(`${where}: address ${b.addr} must be a non-zero multiple of ${what}`);
    }
    if (!Number.isInteger(b.size) || b.size <= 0) throw new ProgramError(`${where}: size ${b.size} must be a positive integer`);
    if (b.addr + b.size > DRAM_LIMIT) throw new ProgramError(`${where}: ends past the 32-bit DRAM address space`);
    if (b.data && b.data.length !== b.size) {
      throw new ProgramError(`${where}: data has ${b.data.length} bytes but size is ${b.size}`);
    }
    if (b.dtype !== undefined && !DTYPES.includes(b.dtype)) throw new ProgramError(`${where}: dtype ${quoteUser(b.dtype, 40)} is not one of ${DTYPES.join(', ')}`);
    if (b.shape !== undefined && (!Array.isArray(b.shape) || b.shape.some((x) => !Number.isInteger(x) || x <= 0))) {
      throw new ProgramError(`${where}: shape must be a list of positive integers`);
    }
    if (b.kind === 'insn') {
      insnBuffers++;
      if (b.size % INSN_BYTES) throw new ProgramError(`${where}: an instruction buffer's size must be a multiple of ${INSN_BYTES}`);
    }
    if (b.kind === 'uop' && b.size % UOP_BYTES) throw new ProgramError(`${where}: a micro-op buffer's size must be a multiple of ${UOP_BYTES}`);
  }
  if (insnBuffers !== 1) throw new ProgramError(`a program needs exactly one instruction buffer, found ${insnBuffers}`);
  const sorted = [...p.buffers].sort((a, b) => a.addr - b.addr);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (a.addr + a.size > b.addr) throw new ProgramError(`buffers ${a.name} and ${b.name} overlap in DRAM`);
  }
}

// ---- serialization ----

interface BufferJson {
  name: string;
  kind: BufferKind;
  role: BufferRole;
  addr: number;
  size: number;
  dtype?: Dtype;
  shape?: number[];
  data?: string;
}

export interface ProgramJson {
  format: typeof PROGRAM_FORMAT;
  version: number;
  configName: string;
  config: Record<string, unknown>;
  buffers: BufferJson[];
}

export function programToJson(p: Program): ProgramJson {
  return {
    format: PROGRAM_FORMAT,
    version: PROGRAM_VERSION,
    configName: p.config.variant,
    config: minimalKeys(p.config),
    buffers: p.buffers.map((b) => {
      const j: BufferJson = { name: b.name, kind: b.kind, role: b.role, addr: b.addr, size: b.size };
      if (b.dtype) j.dtype = b.dtype;
      if (b.shape) j.shape = [...b.shape];
      if (b.data && b.data.some((x) => x !== 0)) j.data = Buffer.from(b.data).toString('base64');
      return j;
    }),
  };
}

export function serializeProgram(p: Program): string {
  return JSON.stringify(programToJson(p), null, 1) + '\n';
}

function field<T>(obj: Record<string, unknown>, key: string, type: string, where: string): T {
  const v = obj[key];
  if (typeof v !== type) throw new ProgramError(`${where}: field ${key} must be a ${type}, got ${quoteUser(JSON.stringify(v) ?? String(v), 40, false)}`);
  return v as T;
}

export function programFromJson(json: unknown): Program {
  if (typeof json !== 'object' || json === null) throw new ProgramError('a program container must be a JSON object');
  const o = json as Record<string, unknown>;
  if (o.format !== PROGRAM_FORMAT) throw new ProgramError(`not a vtw program container (format is ${quoteUser(JSON.stringify(o.format) ?? 'missing', 40, false)}, expected "${PROGRAM_FORMAT}")`);
  if (o.version !== PROGRAM_VERSION) throw new ProgramError(`program container version ${quoteUser(JSON.stringify(o.version) ?? 'missing', 40, false)} is not supported (this vtw reads version ${PROGRAM_VERSION})`);
  let config: Derived;
  try {
    config = deriveConfig(o.config);
  } catch (e) {
    if (e instanceof ConfigError) throw new ProgramError(`the program's config is invalid: ${e.message}`);
    throw e;
  }
  if (typeof o.configName === 'string' && o.configName !== config.variant) {
    throw new ProgramError(`configName ${quoteUser(o.configName, 60)} does not match its config, which is ${config.variant}`);
  }
  if (!Array.isArray(o.buffers)) throw new ProgramError('program field buffers must be a list');
  const buffers = o.buffers.map((raw, i): ProgramBuffer => {
    if (typeof raw !== 'object' || raw === null) throw new ProgramError(`buffers[${i}] must be an object`);
    const b = raw as Record<string, unknown>;
    const where = `buffers[${i}]`;
    const out: ProgramBuffer = {
      name: field<string>(b, 'name', 'string', where),
      kind: field<BufferKind>(b, 'kind', 'string', where),
      role: field<BufferRole>(b, 'role', 'string', where),
      addr: field<number>(b, 'addr', 'number', where),
      size: field<number>(b, 'size', 'number', where),
    };
    if (b.dtype !== undefined) out.dtype = field<Dtype>(b, 'dtype', 'string', where);
    if (b.shape !== undefined) out.shape = b.shape as number[];
    if (b.data !== undefined) {
      const text = field<string>(b, 'data', 'string', where);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new ProgramError(`${where}: data is not base64`);
      out.data = new Uint8Array(Buffer.from(text, 'base64'));
    }
    return out;
  });
  const p: Program = { config, buffers };
  validateProgram(p);
  return p;
}

export function parseProgram(text: string, where = 'program'): Program {
  const json = parseJsonText(stripBom(text), where, (m) => new ProgramError(m));
  try {
    return programFromJson(json);
  } catch (e) {
    if (e instanceof ProgramError) throw new ProgramError(`${where}: ${e.message}`);
    throw e;
  }
}

export function readProgram(path: string): Program {
  const text = readInputText(path, 'program container', INPUT_LIMITS.container, (m) => new ProgramError(m));
  return parseProgram(text, quoteUser(path));
}

/** Write a file atomically (temp file + rename) so a failure never leaves half an output behind. */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw new VtwError(`cannot write ${quoteUser(path)}: ${fsReason(e)}`);
  }
}

export function writeProgram(path: string, p: Program): void {
  validateProgram(p);
  writeFileAtomic(path, serializeProgram(p));
}
