/**
 * VTA assembly: a readable text form of a whole program container (config, buffers, micro-ops,
 * instructions). `assemble(disassemble(p))` reproduces `p` exactly. Syntax: docs/assembly.md.
 */
import { deriveConfig, memTypeElemBytes, minimalKeys, type Derived } from '../config/derive.ts';
import { loadConfig } from '../config/load.ts';
import { PRESETS } from '../config/presets.ts';
import { ConfigError, IsaError, ProgramError, VtwError, didYouMean } from '../errors.ts';
import { ALU_OP_NAMES } from '../isa/alu.ts';
import { INSN_BYTES, OPCODE_NAMES, UOP_BYTES, type MemTypeName } from '../isa/constants.ts';
import { encodeInsn, encodeUops, insnFromJson, isEnumField, layoutOf, uopFromJson, type Insn, type Uop } from '../isa/insn.ts';
import {
  BUFFER_KINDS, BUFFER_ROLES, DTYPES, PAGE_BYTES, alignUp, bufferUops, dramLimit, programInsns, validateProgram,
  type BufferKind, type BufferRole, type Dtype, type Program, type ProgramBuffer,
} from './container.ts';
import { quoteUser } from '../util/quote.ts';

const INSN_BUFFER_NAME = 'insns';

interface BufferDecl {
  name: string;
  kind: BufferKind;
  role: BufferRole;
  addr?: number;
  size?: number;
  dtype?: Dtype;
  shape?: number[];
  bytes: number[];
  uops: Array<{ line: number; fields: Record<string, unknown> }>;
  line: number;
}

interface InsnLine {
  line: number;
  head: string[];
  fields: Map<string, string>;
}

function parseNumber(text: string, what: string): number {
  const t = text.trim();
  const v = /^-?0x[0-9a-f]+$/i.test(t) ? (t.startsWith('-') ? -parseInt(t.slice(3), 16) : parseInt(t, 16)) : /^-?\d+$/.test(t) ? parseInt(t, 10) : NaN;
  if (Number.isNaN(v)) throw new ProgramError(`${what} ${quoteUser(text, 40)} is not a number`);
  return v;
}

/** Split `key=value` and bare words of a line (comments already removed). */
function tokens(text: string): string[] {
  return text.split(/\s+/).filter((t) => t.length > 0);
}

function keyValues(toks: string[], allowed: readonly string[], what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of toks) {
    const eq = t.indexOf('=');
    const key = eq < 0 ? t : t.slice(0, eq);
    if (!allowed.includes(key)) throw new ProgramError(`${what}: unknown attribute ${quoteUser(key, 40)}${didYouMean(key, allowed)}; allowed: ${allowed.join(', ')}`);
    if (out.has(key)) throw new ProgramError(`${what}: attribute ${key} given twice`);
    out.set(key, eq < 0 ? '' : t.slice(eq + 1));
  }
  return out;
}

const BUFFER_ATTRS = ['kind', 'role', 'addr', 'size', 'dtype', 'shape'] as const;

/** Assemble source text into a program container. `file` prefixes error messages (file:line: …). */
export function assemble(source: string, file = '<asm>', defaultConfig?: string): Program {
  let configSpec: string | undefined = defaultConfig;
  let configLine = 0;
  const buffers: BufferDecl[] = [];
  const insnLines: InsnLine[] = [];
  let textDecl: { addr?: number; line: number } | undefined;
  let current: BufferDecl | undefined;
  let order = 0;
  const textOrder = { index: -1 };

  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const at = `${file}:${lineNo}`;
    const text = lines[i].replace(/[;#].*$/, '').trim();
    if (!text) continue;
    try {
      const toks = tokens(text);
      const head = toks[0];
      if (head === '.config') {
        if (configLine) throw new ProgramError(`.config given twice (first on line ${configLine})`);
        configSpec = text.slice('.config'.length).trim();
        if (!configSpec) throw new ProgramError('.config needs a preset name, a JSON file or inline JSON');
        configLine = lineNo;
      } else if (head === '.buffer') {
        const name = toks[1];
        if (!name) throw new ProgramError('.buffer needs a name');
        if (buffers.some((b) => b.name === name) || name === INSN_BUFFER_NAME) throw new ProgramError(`buffer ${name} is declared twice`);
        const kv = keyValues(toks.slice(2), BUFFER_ATTRS, `.buffer ${name}`);
        const kind = (kv.get('kind') ?? 'data') as BufferKind;
        if (!BUFFER_KINDS.includes(kind) || kind === 'insn') throw new ProgramError(`.buffer ${name}: kind must be uop or data (instructions go in .text)`);
        const role = (kv.get('role') ?? (kind === 'uop' ? 'input' : 'scratch')) as BufferRole;
        if (!BUFFER_ROLES.includes(role)) throw new ProgramError(`.buffer ${name}: role must be one of ${BUFFER_ROLES.join(', ')}`);
        const dtype = kv.get('dtype') as Dtype | undefined;
        if (dtype !== undefined && !DTYPES.includes(dtype)) throw new ProgramError(`.buffer ${name}: dtype must be one of ${DTYPES.join(', ')}`);
        const shapeText = kv.get('shape');
        const shape = shapeText === undefined ? undefined : shapeText.split('x').map((s) => parseNumber(s, 'shape dimension'));
        current = {
          name, kind, role, dtype, shape, bytes: [], uops: [], line: lineNo,
          addr: kv.has('addr') ? parseNumber(kv.get('addr')!, 'addr') : undefined,
          size: kv.has('size') ? parseNumber(kv.get('size')!, 'size') : undefined,
        };
        buffers.push(current);
        order++;
      } else if (head === '.data') {
        if (!current || current.kind !== 'data') throw new ProgramError('.data must follow a .buffer of kind data');
        const hex = toks.slice(1).join('');
        if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new ProgramError('.data takes hexadecimal bytes (two digits each)');
        for (let j = 0; j < hex.length; j += 2) current.bytes.push(parseInt(hex.slice(j, j + 2), 16));
      } else if (head === 'uop') {
        if (!current || current.kind !== 'uop') throw new ProgramError('a uop line must follow a .buffer of kind uop');
        const fields: Record<string, unknown> = {};
        for (const t of toks.slice(1)) {
          const [k, v] = t.split('=');
          if (v === undefined) throw new ProgramError(`micro-op field ${quoteUser(t, 40)} needs a value (e.g. dst_idx=0)`);
          fields[k] = parseNumber(v, k);
        }
        current.uops.push({ line: lineNo, fields });
      } else if (head === '.text') {
        if (textDecl) throw new ProgramError(`.text given twice (first on line ${textDecl.line})`);
        const kv = keyValues(toks.slice(1), ['addr'], '.text');
        textDecl = { line: lineNo, addr: kv.has('addr') ? parseNumber(kv.get('addr')!, 'addr') : undefined };
        textOrder.index = order++;
        current = undefined;
      } else if (head.startsWith('.')) {
        throw new ProgramError(`unknown directive ${head}${didYouMean(head, ['.config', '.buffer', '.data', '.text'])}`);
      } else {
        if (!textDecl) throw new ProgramError(`instruction ${head} before .text`);
        const fields = new Map<string, string>();
        const headToks: string[] = [head.toUpperCase()];
        for (const t of toks.slice(1)) {
          const eq = t.indexOf('=');
          if (eq < 0) {
            // Second word of LOAD/STORE/ALU is the memory type / ALU op; other bare words are 1-bit fields set to 1.
            if (headToks.length === 1 && ['LOAD', 'STORE', 'ALU'].includes(headToks[0]) && !t.includes('_')) headToks.push(t.toUpperCase());
            else fields.set(t, '1');
          } else {
            const k = t.slice(0, eq);
            if (fields.has(k)) throw new ProgramError(`field ${k} given twice`);
            fields.set(k, t.slice(eq + 1));
          }
        }
        insnLines.push({ line: lineNo, head: headToks, fields });
      }
    } catch (e) {
      if (e instanceof VtwError) throw new ProgramError(`${at}: ${e.message}`);
      throw e;
    }
  }

  let config: Derived;
  try {
    config = loadConfig(configSpec);
  } catch (e) {
    if (e instanceof ConfigError) throw new ProgramError(`${file}:${configLine || 1}: ${e.message}`);
    throw e;
  }

  // Place buffers: explicit addresses first, then the others in declaration order on free pages.
  const insnSize = Math.max(insnLines.length, 0) * INSN_BYTES;
  const all: Array<{ decl?: BufferDecl; name: string; size: number; addr?: number; line: number }> = [];
  const sized = buffers.map((b) => {
    const natural = b.kind === 'uop' ? b.uops.length * UOP_BYTES : b.bytes.length;
    const size = b.size ?? natural;
    if (size < natural) throw new ProgramError(`${file}:${b.line}: buffer ${b.name} has ${natural} bytes of contents but size=${size}`);
    if (size <= 0) throw new ProgramError(`${file}:${b.line}: buffer ${b.name} is empty; give it size= or contents`);
    if (size > dramLimit(config)) throw new ProgramError(`${file}:${b.line}: buffer ${b.name} asks for size=${size} bytes, more than the ${dramLimit(config)} bytes of DRAM a program may use`);
    if (b.addr !== undefined && (b.addr < 0 || b.addr + size > dramLimit(config))) throw new ProgramError(`${file}:${b.line}: buffer ${b.name} at addr=${b.addr} with ${size} bytes ends past the ${dramLimit(config)} bytes of DRAM a program may use`);
    return { decl: b, name: b.name, size, addr: b.addr, line: b.line };
  });
  all.push(...sized);
  if (!textDecl) throw new ProgramError(`${file}: no .text section (a program needs instructions)`);
  if (insnLines.length === 0) throw new ProgramError(`${file}:${textDecl.line}: .text has no instructions`);
  all.splice(Math.min(textOrder.index, all.length), 0, { name: INSN_BUFFER_NAME, size: insnSize, addr: textDecl.addr, line: textDecl.line });
  const taken: Array<[number, number]> = all.filter((b) => b.addr !== undefined).map((b) => [b.addr!, b.addr! + b.size]);
  for (const b of all) {
    if (b.addr !== undefined) continue;
    // the instruction stream on a page, other buffers on the configuration's buffer alignment
    const align = b.name === INSN_BUFFER_NAME ? PAGE_BYTES : config.mem.bufferAlign;
    let addr = align;
    for (;;) {
      const clash = taken.find(([s, e]) => addr < e && s < addr + b.size);
      if (!clash) break;
      addr = alignUp(clash[1], align);
    }
    b.addr = addr;
    taken.push([addr, addr + b.size]);
  }
  const byName = new Map(all.map((b) => [b.name, b]));

  // Instructions, with @buffer references resolved against the placed buffers.
  const insns: Insn[] = insnLines.map((il) => {
    try {
      return buildInsn(config, il, byName);
    } catch (e) {
      if (e instanceof VtwError) throw new ProgramError(`${file}:${il.line}: ${e.message}`);
      throw e;
    }
  });

  const out: ProgramBuffer[] = all.map((b): ProgramBuffer => {
    if (!b.decl) {
      const data = new Uint8Array(b.size);
      insns.forEach((insn, i) => data.set(encodeInsn(config, insn), i * INSN_BYTES));
      return { name: INSN_BUFFER_NAME, kind: 'insn', role: 'input', addr: b.addr!, size: b.size, data };
    }
    const d = b.decl;
    const data = new Uint8Array(b.size);
    if (d.kind === 'uop') {
      const uops: Uop[] = d.uops.map((u) => {
        try {
          return uopFromJson(config, u.fields);
        } catch (e) {
          if (e instanceof VtwError) throw new ProgramError(`${file}:${u.line}: ${e.message}`);
          throw e;
        }
      });
      data.set(encodeUops(config, uops));
    } else {
      data.set(d.bytes);
    }
    const pb: ProgramBuffer = { name: d.name, kind: d.kind, role: d.role, addr: b.addr!, size: b.size, data };
    if (d.dtype) pb.dtype = d.dtype;
    if (d.shape) pb.shape = d.shape;
    return pb;
  });
  const program: Program = { config, buffers: out };
  try {
    validateProgram(program);
  } catch (e) {
    if (e instanceof VtwError) throw new ProgramError(`${file}: ${e.message}`);
    throw e;
  }
  return program;
}

function buildInsn(d: Derived, il: InsnLine, buffers: Map<string, { addr?: number; size: number }>): Insn {
  const [opcode, second] = il.head;
  if (!OPCODE_NAMES.includes(opcode as Insn['opcode'])) {
    throw new IsaError(`unknown instruction ${opcode}${didYouMean(opcode, OPCODE_NAMES)}; instructions: ${OPCODE_NAMES.join(', ')}`);
  }
  const json: Record<string, unknown> = { opcode };
  if (opcode === 'LOAD' || opcode === 'STORE') {
    if (!second) throw new IsaError(`${opcode} needs a memory type (UOP, WGT, INP, ACC, OUT), e.g. '${opcode} INP …'`);
    json.memory_type = second;
  } else if (opcode === 'ALU') {
    if (!second) throw new IsaError(`ALU needs an operation (${ALU_OP_NAMES.join(', ')}), e.g. 'ALU ADD …'`);
    json.alu_opcode = second;
  }
  const names = layoutOf(d, opcode as Insn['opcode']).fields.map((f) => f.name);
  for (const [key, value] of il.fields) {
    const k = names.includes(key) ? key : names.includes(`${key}_dep`) ? `${key}_dep` : key;
    if (!names.includes(k) || isEnumField(k)) {
      throw new IsaError(`${k} is not a field of ${opcode}${didYouMean(k, names)}; fields: ${names.filter((n) => !isEnumField(n)).join(', ')}`);
    }
    if (k === 'dram_base' && value.startsWith('@')) {
      json[k] = resolveSymbol(d, value, json.memory_type as MemTypeName, buffers);
    } else {
      json[k] = parseNumber(value, k);
    }
  }
  return insnFromJson(d, json);
}

/** `@name[+k|-k]` → the buffer's address in elements of the memory type, plus k. */
function resolveSymbol(d: Derived, ref: string, memType: MemTypeName, buffers: Map<string, { addr?: number; size: number }>): number {
  const m = /^@([A-Za-z_][A-Za-z0-9_.-]*?)([+-](?:0x[0-9a-fA-F]+|\d+))?$/.exec(ref);
  if (!m) throw new IsaError(`${quoteUser(ref, 60)} is not a buffer reference (@name or @name+offset)`);
  const b = buffers.get(m[1]);
  if (!b) throw new IsaError(`dram_base refers to unknown buffer ${m[1]}${didYouMean(m[1], [...buffers.keys()])}`);
  const eb = memTypeElemBytes(d, memType);
  if (b.addr! % eb) throw new IsaError(`buffer ${m[1]} at 0x${b.addr!.toString(16)} is not aligned to the ${eb}-byte ${memType} element`);
  return b.addr! / eb + (m[2] ? parseNumber(m[2].replace(/^\+/, ''), 'offset') : 0);
}

// ---- disassembly ----

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The name of a preset whose keys equal this config's, if any. */
function presetNameFor(d: Derived): string | undefined {
  const same = (a: object, b: object) => JSON.stringify(a) === JSON.stringify(b);
  return PRESETS.find((p) => same(deriveConfig(p.json).keys, d.keys))?.name;
}

export function formatInsn(d: Derived, insn: Insn, buffers: readonly ProgramBuffer[] = []): string {
  const rec = insn as unknown as Record<string, unknown>;
  const parts: string[] = [insn.opcode];
  if (insn.opcode === 'LOAD' || insn.opcode === 'STORE') parts.push(insn.memory_type);
  if (insn.opcode === 'ALU') parts.push(insn.alu_opcode);
  for (const f of layoutOf(d, insn.opcode).fields) {
    if (isEnumField(f.name)) continue;
    const v = rec[f.name] as number;
    if (v === 0) continue;
    if (f.width === 1) {
      parts.push(f.name);
    } else if (f.name === 'dram_base' && 'memory_type' in insn) {
      parts.push(`dram_base=${symbolFor(d, v, insn.memory_type, buffers) ?? v}`);
    } else {
      parts.push(`${f.name}=${v}`);
    }
  }
  return parts.join(' ');
}

function symbolFor(d: Derived, dram: number, memType: MemTypeName, buffers: readonly ProgramBuffer[]): string | undefined {
  const eb = memTypeElemBytes(d, memType);
  const addr = dram * eb;
  const b = buffers.find((x) => x.kind !== 'insn' && addr >= x.addr && addr < x.addr + x.size && x.addr % eb === 0);
  if (!b) return undefined;
  const k = dram - b.addr / eb;
  return k ? `@${b.name}+${k}` : `@${b.name}`;
}

function hexLines(bytes: Uint8Array, indent: string, perLine = 32): string[] {
  const out: string[] = [];
  // Trailing zeros are implied by the buffer size, so they are not printed.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  for (let i = 0; i < end; i += perLine) {
    out.push(`${indent}.data ${Buffer.from(bytes.subarray(i, Math.min(i + perLine, end))).toString('hex')}`);
  }
  return out;
}

export function disassemble(p: Program): string {
  const d = p.config;
  const preset = presetNameFor(d);
  const lines: string[] = [
    `; vtw program for ${d.variant} (${d.model})`,
    `.config ${preset ?? JSON.stringify(minimalKeys(d))}`,
  ];
  const insns = programInsns(p);
  for (const b of p.buffers) {
    lines.push('');
    if (b.kind === 'insn') {
      lines.push(`.text addr=${hex(b.addr)}`);
      insns.forEach((insn, i) => lines.push(`    ${formatInsn(d, insn, p.buffers).padEnd(60)} ; #${i}`));
      continue;
    }
    const attrs = [`kind=${b.kind}`, `role=${b.role}`, `addr=${hex(b.addr)}`, `size=${b.size}`];
    if (b.dtype) attrs.push(`dtype=${b.dtype}`);
    if (b.shape) attrs.push(`shape=${b.shape.join('x')}`);
    lines.push(`.buffer ${b.name} ${attrs.join(' ')}`);
    if (b.kind === 'uop') {
      bufferUops(p, b).forEach((u, i) => lines.push(`    uop dst_idx=${u.dst_idx} src_idx=${u.src_idx} wgt_idx=${u.wgt_idx}`.padEnd(64) + ` ; [${i}]`));
    } else if (b.data) {
      lines.push(...hexLines(b.data, '    '));
    }
  }
  return lines.join('\n') + '\n';
}

/** Listing of a raw instruction stream (no container), one instruction per line. */
export function disassembleInsnBytes(d: Derived, bytes: Uint8Array): string {
  if (bytes.length % INSN_BYTES) throw new ProgramError(`an instruction stream is a multiple of 16 bytes; this one has ${bytes.length}`);
  const p: Program = { config: d, buffers: [{ name: INSN_BUFFER_NAME, kind: 'insn', role: 'input', addr: PAGE_BYTES, size: bytes.length, data: bytes }] };
  return programInsns(p).map((insn, i) => `${formatInsn(d, insn).padEnd(60)} ; #${i}`).join('\n') + '\n';
}
