/**
 * Validation of a configuration and every quantity derived from it (vta-reference Part B §1.3 and
 * the ISA layout of §2.10). `deriveConfig` is the single place where a width, a depth or a bit
 * position is computed; every other layer reads the frozen `Derived` object.
 */
import { ConfigError, didYouMean } from '../errors.ts';
import { quoteUser } from '../util/quote.ts';
import { INSN_BYTES, PAGE_BYTES, UOP_BYTES, type MemTypeName } from '../isa/constants.ts';
import { computeLayout, layoutOverflows, type IsaLayout, type LogDepths } from '../isa/layout.ts';
import { fetchDecodeSerialLatency } from '../uarch/index.ts';
import { KEY_NAMES, KEY_SPECS, VTA_TARGETS, type ConfigKeys, type KeySpec, type VtaTarget } from './schema.ts';

export type BufferName = 'uop' | 'inp' | 'wgt' | 'acc' | 'out';
export const BUFFER_NAMES: readonly BufferName[] = ['uop', 'inp', 'wgt', 'acc', 'out'];

export interface MemoryTiming {
  readLatency: number;
  writeLatency: number;
  cyclesPerBeat: number;
  burstBeats: number;
  outstanding: number;
  /** Bits of a DRAM byte address: the accelerator addresses 2^addrBits bytes. */
  addrBits: number;
  /**
   * Alignment of data and micro-op buffers in DRAM: MEM_BUFFER_ALIGN raised to the largest element
   * (so every dram_base is whole), at most a page. The instruction buffer is always page-aligned.
   */
  bufferAlign: number;
}

export interface Derived {
  /** The validated keys (defaults filled in), exactly what `config show --json` prints as `keys`. */
  keys: Readonly<ConfigKeys>;
  /** VTA's configuration string, e.g. 1x16_i8w8a32_15_15_18_17. */
  name: string;
  /** VTA's `Environment.MODEL`: TARGET + '_' + name. */
  model: string;
  /** `name` plus a suffix for every extension key that differs from its target default. */
  variant: string;
  target: VtaTarget;

  inpWidth: number;
  wgtWidth: number;
  accWidth: number;
  outWidth: number;
  batch: number;
  blockIn: number;
  blockOut: number;
  logBatch: number;
  logBlockIn: number;
  logBlockOut: number;
  logOutWidth: number;
  logOutBuffSize: number;

  insnBytes: number;
  uopBytes: number;
  /** Bits of one SRAM element (a whole tile) per buffer. */
  matrixBits: Readonly<Record<BufferName, number>>;
  /** Bytes of one SRAM element per buffer (also the DRAM unit of dram_base for that memory type). */
  elemBytes: Readonly<Record<BufferName, number>>;
  /** Buffer sizes in bytes. */
  buffBytes: Readonly<Record<BufferName, number>>;
  /** Buffer depths in elements, and their log2. */
  depth: Readonly<Record<BufferName, number>>;
  logDepth: Readonly<Record<BufferName, number>>;

  busWidth: number;
  busBytes: number;
  logBusWidth: number;
  /** Bus beats per SRAM element (VTA's *_MAT_AXI_RATIO); fractional when an element is narrower than the bus. */
  beatsPerElem: Readonly<Record<BufferName, number>>;

  /** Multiply-accumulates of one GEMM micro-op, and multipliers instantiated (MACs / GEMM_II). */
  macsPerUop: number;
  multipliers: number;
  gemmII: number;
  /** Tensor ALU time-multiplexing (config ALU_II): BATCH*BLOCK_OUT / aluII lanes, aluII cycles per lane group. */
  aluII: number;
  aluMul: boolean;
  /** ALU opcode 5 (RQ, fused requantization) is implemented (config ALU_REQUANT, docs/isa.md). */
  aluRequant: boolean;
  /** GEMM instructions have the requant bit (config GEMM_REQUANT, docs/isa.md); implies aluRequant. */
  gemmRequant: boolean;
  /** Entries of each module's command queue (docs/microarch.md §3; 0: none, modules take from fetch). */
  cmdQueueDepth: number;
  /** DMA read engines (docs/microarch.md §6): 2, or 1 shared by the load and compute modules. */
  dmaReadEngines: number;
  /** Compute's LOAD UOP/ACC reaches its read engine one cycle after its start (config COMPUTE_READ_REG, docs/microarch.md §17). */
  computeReadReg: boolean;
  /** Token pushes pass a register before the counters: visible one cycle later (config TOKEN_PUSH_REG, docs/microarch.md §19). */
  tokenPushReg: boolean;
  /** Compute's micro-op indices are registered before its issue decision (config UOP_ISSUE_REG, docs/microarch.md §20). */
  uopIssueReg: boolean;
  /** Memory requests pass a register before the arbiter: granted from the cycle after they rise (config MEM_REQ_REG, docs/microarch.md §21). */
  memReqReg: boolean;
  /** Compute completes one instruction a cycle, its write-back's last/slot decoded a cycle ahead (config COMPUTE_DONE_REG, docs/microarch.md §22). */
  computeDoneReg: boolean;
  /** A register before the tensor ALU: ALU writes one cycle later (config ALU_WRITE_REG, docs/microarch.md §22). */
  aluWriteReg: boolean;
  /** The fetch buffer is block RAM (docs/rtl.md), not flip-flops. */
  fetchBufferBram: boolean;
  /** The decode's products come from the serial unit (config FETCH_DECODE_SERIAL, docs/microarch.md §2.1). */
  fetchDecodeSerial: boolean;
  clockMhz: number;
  dspBudget: number | null;
  board: string | null;
  /** Config BOARD_MEM_BYTES: the board top's memory size (null = the board's default; fpga/top boardMemory). */
  boardMemBytes: number | null;
  mem: Readonly<MemoryTiming>;
  /** The read engine's completion passes a register: a LOAD with data or pads ends one cycle later (config READ_DONE_REG, docs/microarch.md §18). */
  readDoneReg: boolean;

  layout: IsaLayout;
}

/** Element bytes of a memory type as it appears in LOAD/STORE instructions. */
export function memTypeElemBytes(d: Derived, t: MemTypeName): number {
  return d.elemBytes[t.toLowerCase() as BufferName];
}

function describe(spec: KeySpec): string {
  switch (spec.kind) {
    case 'target':
      return `one of ${VTA_TARGETS.join(', ')}`;
    case 'bool':
      return 'true or false';
    case 'string':
      return spec.nullable ? 'a string or null' : 'a string';
    default: {
      const what = spec.kind === 'int' ? (spec.pow2 ? 'a power of two' : 'an integer') : 'a number';
      return `${what} in ${spec.min}..${spec.max}${spec.nullable ? ' or null' : ''}`;
    }
  }
}

function checkValue(spec: KeySpec, value: unknown): void {
  const bad = (): never => {
    const shown = typeof value === 'number' && !Number.isFinite(value) ? `${value} (not a finite number)` : quoteUser(JSON.stringify(value) ?? String(value), 60, false);
    throw new ConfigError(`config key ${spec.key} = ${shown} is invalid: expected ${describe(spec)}`);
  };
  if (value === null) {
    if (!spec.nullable) bad();
    return;
  }
  switch (spec.kind) {
    case 'target':
      if (typeof value !== 'string' || !(VTA_TARGETS as readonly string[]).includes(value)) bad();
      return;
    case 'string':
      if (typeof value !== 'string') bad();
      return;
    case 'bool':
      if (typeof value !== 'boolean') bad();
      return;
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) bad();
      const v = value as number;
      if (spec.kind === 'int' && !Number.isInteger(v)) bad();
      if (v < spec.min! || v > spec.max!) bad();
      if (spec.pow2 && (v & (v - 1)) !== 0) bad();
    }
  }
}

/** Validate raw JSON (VTA's keys verbatim plus extensions) and fill in defaults. */
export function normalizeKeys(raw: unknown): ConfigKeys {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('a configuration must be a JSON object of VTA keys, e.g. {"LOG_BLOCK": 4}');
  }
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!KEY_NAMES.includes(key)) {
      const hint = didYouMean(key, KEY_NAMES);
      throw new ConfigError(`unknown config key ${quoteUser(key, 40, false)}${hint || '; the keys are listed in docs/config.md'}`);
    }
  }
  const targetSpec = KEY_SPECS[0];
  const target = (input.TARGET ?? 'sim') as VtaTarget;
  checkValue(targetSpec, target);

  const out: Record<string, unknown> = {};
  for (const spec of KEY_SPECS) {
    const value = spec.key in input ? input[spec.key] : spec.default(target);
    checkValue(spec, value);
    out[spec.key] = value;
  }
  const keys = out as unknown as ConfigKeys;

  // Legacy keys: LOG_BLOCK_IN/OUT stand for LOG_BLOCK when it is absent; otherwise they must agree.
  const { LOG_BLOCK_IN: bin, LOG_BLOCK_OUT: bout } = keys;
  if (bin !== null || bout !== null) {
    if (bin !== null && bout !== null && bin !== bout) {
      throw new ConfigError(
        `LOG_BLOCK_IN = ${bin} and LOG_BLOCK_OUT = ${bout} differ: VTA needs BLOCK_IN == BLOCK_OUT; set both to the same value (or use LOG_BLOCK)`,
      );
    }
    const legacy = (bin ?? bout)!;
    if ('LOG_BLOCK' in input && keys.LOG_BLOCK !== legacy) {
      throw new ConfigError(`LOG_BLOCK = ${keys.LOG_BLOCK} contradicts legacy LOG_BLOCK_IN/OUT = ${legacy}; remove one of them`);
    }
    keys.LOG_BLOCK = legacy;
  }
  if (keys.LOG_OUT_WIDTH !== null && keys.LOG_OUT_WIDTH !== keys.LOG_INP_WIDTH) {
    throw new ConfigError(
      `LOG_OUT_WIDTH = ${keys.LOG_OUT_WIDTH} must equal LOG_INP_WIDTH = ${keys.LOG_INP_WIDTH} (VTA's output type is its input type)`,
    );
  }
  if (keys.HW_FREQ !== null) {
    if ('CLOCK_MHZ' in input && keys.CLOCK_MHZ !== keys.HW_FREQ) {
      throw new ConfigError(`HW_FREQ = ${keys.HW_FREQ} contradicts CLOCK_MHZ = ${keys.CLOCK_MHZ}; keep one of them`);
    }
    keys.CLOCK_MHZ = keys.HW_FREQ;
  }
  return keys;
}

interface Sizes {
  logDepth: Record<BufferName, number>;
  matrixBits: Record<BufferName, number>;
}

function sizesOf(k: ConfigKeys): Sizes {
  const logOut = k.LOG_INP_WIDTH;
  const matrixLog: Record<BufferName, number> = {
    uop: 5,
    inp: k.LOG_INP_WIDTH + k.LOG_BATCH + k.LOG_BLOCK,
    wgt: k.LOG_WGT_WIDTH + 2 * k.LOG_BLOCK,
    acc: k.LOG_ACC_WIDTH + k.LOG_BATCH + k.LOG_BLOCK,
    out: logOut + k.LOG_BATCH + k.LOG_BLOCK,
  };
  const logBytes: Record<BufferName, number> = {
    uop: k.LOG_UOP_BUFF_SIZE,
    inp: k.LOG_INP_BUFF_SIZE,
    wgt: k.LOG_WGT_BUFF_SIZE,
    acc: k.LOG_ACC_BUFF_SIZE,
    out: k.LOG_ACC_BUFF_SIZE + logOut - k.LOG_ACC_WIDTH,
  };
  const logDepth = {} as Record<BufferName, number>;
  const matrixBits = {} as Record<BufferName, number>;
  for (const b of ['uop', 'inp', 'wgt', 'acc', 'out'] as BufferName[]) {
    logDepth[b] = logBytes[b] + 3 - matrixLog[b];
    matrixBits[b] = 2 ** matrixLog[b];
  }
  return { logDepth, matrixBits };
}

const SIZE_KEY: Record<Exclude<BufferName, 'out'>, keyof ConfigKeys> = {
  uop: 'LOG_UOP_BUFF_SIZE',
  inp: 'LOG_INP_BUFF_SIZE',
  wgt: 'LOG_WGT_BUFF_SIZE',
  acc: 'LOG_ACC_BUFF_SIZE',
};

/** Largest value of `key` (others fixed) for which the ISA layout fits, or undefined if none does. */
function largestFitting(k: ConfigKeys, key: keyof ConfigKeys): number | undefined {
  for (let v = (k[key] as number) - 1; v >= 1; v--) {
    const s = sizesOf({ ...k, [key]: v });
    if (Object.values(s.logDepth).some((x) => x < 1)) return undefined;
    if (!layoutOverflows(s.logDepth as LogDepths, k.GEMM_REQUANT)) return v;
  }
  return undefined;
}

function checkConsistency(k: ConfigKeys, s: Sizes): void {
  for (const b of ['inp', 'wgt', 'out'] as BufferName[]) {
    if (s.matrixBits[b] < 8) {
      throw new ConfigError(
        `a ${b.toUpperCase()} element would be ${s.matrixBits[b]} bits, less than a byte (DRAM is byte-addressed); increase LOG_BLOCK, LOG_BATCH or the element width`,
      );
    }
  }
  for (const b of ['uop', 'inp', 'wgt', 'acc'] as const) {
    const key = SIZE_KEY[b];
    const ld = s.logDepth[b];
    if (ld < 1) {
      throw new ConfigError(
        `${key} = ${k[key]} leaves the ${b.toUpperCase()} buffer with fewer than 2 elements; use ${key} >= ${(k[key] as number) - ld + 1}`,
      );
    }
    if (ld > 16) {
      throw new ConfigError(
        `${key} = ${k[key]} gives a ${b.toUpperCase()} buffer of ${2 ** ld} elements, more than the 16-bit sram_base field addresses; use ${key} <= ${(k[key] as number) - (ld - 16)}`,
      );
    }
  }
  if (k.GEMM_REQUANT && !k.ALU_REQUANT) {
    throw new ConfigError('GEMM_REQUANT needs ALU_REQUANT (a GEMM requantizes with the parameter word of the last RQ instruction); set ALU_REQUANT: true');
  }
  const overflow = layoutOverflows(s.logDepth as LogDepths, k.GEMM_REQUANT);
  if (overflow) {
    // Lead with the key that needs the smallest change: that is almost always the one the user raised.
    const fixes = overflow.params
      .map((p) => ({ key: p, value: k[p] as number, fit: largestFitting(k, p) }))
      .filter((f): f is { key: typeof f.key; value: number; fit: number } => f.fit !== undefined)
      .sort((a, b) => a.value - a.fit - (b.value - b.fit));
    const unit = overflow.struct === 'micro-op' ? '32-bit micro-op' : `${overflow.totalBits}-bit ${overflow.struct} instruction`;
    const lead = fixes[0] ? `${fixes[0].key} = ${fixes[0].value}` : overflow.params.map((p) => `${p} = ${k[p]}`).join(', ');
    const valid = fixes.length
      ? `valid: ${fixes[0].key} <= ${fixes[0].fit}` +
        (fixes.length > 1 ? ` (or ${fixes.slice(1).map((f) => `${f.key} <= ${f.fit}`).join(', or ')})` : '')
      : 'reduce the buffer sizes';
    throw new ConfigError(
      `${lead} overflows the ${unit}: field ${overflow.field} (${overflow.width} bits) would end at bit ${overflow.endBit}; ${valid}`,
    );
  }
  if (k.FETCH_DECODE_SERIAL) checkSerialDecode(k, s.logDepth);
  if (k.GEMM_II > 2 ** (k.LOG_BATCH + k.LOG_BLOCK)) {
    throw new ConfigError(
      `GEMM_II = ${k.GEMM_II} exceeds the ${2 ** (k.LOG_BATCH + k.LOG_BLOCK)} output lanes of a GEMM tile (BATCH * BLOCK_OUT); use GEMM_II <= ${2 ** (k.LOG_BATCH + k.LOG_BLOCK)}`,
    );
  }
  if (k.ALU_II > 2 ** (k.LOG_BATCH + k.LOG_BLOCK)) {
    throw new ConfigError(
      `ALU_II = ${k.ALU_II} does not divide the ${2 ** (k.LOG_BATCH + k.LOG_BLOCK)} ALU lanes (BATCH * BLOCK_OUT); use ALU_II <= ${2 ** (k.LOG_BATCH + k.LOG_BLOCK)}`,
    );
  }
  if (k.ALU_WRITE_REG && k.GEMM_REQUANT) {
    throw new ConfigError(
      'ALU_WRITE_REG cannot be combined with GEMM_REQUANT (a requantized GEMM write runs the ALU in the GEMM\'s write cycle, which the ALU\'s input register would delay); set ALU_WRITE_REG: false or GEMM_REQUANT: false',
    );
  }
  if (k.ALU_II > 1 && k.GEMM_REQUANT) {
    throw new ConfigError(
      `ALU_II = ${k.ALU_II} cannot be combined with GEMM_REQUANT (a requantized GEMM write runs every ALU lane in one cycle); set ALU_II: 1 or GEMM_REQUANT: false`,
    );
  }
}

/** FETCH_DECODE_SERIAL's unit decodes one instruction at a time: the bus must not bring them faster. */
function checkSerialDecode(k: ConfigKeys, logDepth: Record<string, number>): void {
  const lat = fetchDecodeSerialLatency(Math.max(...Object.values(logDepth).map((l) => 2 ** l)));
  if (k.LOG_BUS_WIDTH > 7) {
    throw new ConfigError(`FETCH_DECODE_SERIAL decodes one instruction at a time, but LOG_BUS_WIDTH = ${k.LOG_BUS_WIDTH} brings ${2 ** (k.LOG_BUS_WIDTH - 7)} per beat; use LOG_BUS_WIDTH <= 7 or FETCH_DECODE_SERIAL: false`);
  }
  const gap = 2 ** (7 - k.LOG_BUS_WIDTH) * k.MEM_CYCLES_PER_BEAT;
  if (gap < lat) {
    const cpb = Math.ceil(lat / 2 ** (7 - k.LOG_BUS_WIDTH));
    throw new ConfigError(
      `FETCH_DECODE_SERIAL takes ${lat} cycles per instruction, but LOG_BUS_WIDTH = ${k.LOG_BUS_WIDTH} with MEM_CYCLES_PER_BEAT = ${k.MEM_CYCLES_PER_BEAT} brings one every ${gap}; use MEM_CYCLES_PER_BEAT >= ${cpb}${k.LOG_BUS_WIDTH > 5 ? ' or a narrower LOG_BUS_WIDTH' : ''}, or FETCH_DECODE_SERIAL: false`,
    );
  }
}

function variantSuffix(k: ConfigKeys): string {
  const parts: string[] = [];
  const target = k.TARGET;
  const spec = (key: string) => KEY_SPECS.find((s) => s.key === key)!;
  const differs = (key: keyof ConfigKeys) => k[key] !== spec(key).default(target);
  if (differs('LOG_BUS_WIDTH')) parts.push(`bus${2 ** k.LOG_BUS_WIDTH}`);
  if (differs('GEMM_II')) parts.push(`ii${k.GEMM_II}`);
  if (differs('ALU_II')) parts.push(`aii${k.ALU_II}`);
  if (k.ALU_MUL) parts.push('mul');
  if (k.ALU_REQUANT) parts.push('rq');
  if (k.GEMM_REQUANT) parts.push('grq');
  return parts.length ? `_${parts.join('_')}` : '';
}

/** Validate raw config JSON and compute every derived quantity. Throws ConfigError with one line. */
export function deriveConfig(raw: unknown): Derived {
  const k = normalizeKeys(raw);
  const s = sizesOf(k);
  checkConsistency(k, s);
  const layout = computeLayout(s.logDepth as LogDepths, k.GEMM_REQUANT);

  const batch = 2 ** k.LOG_BATCH;
  const block = 2 ** k.LOG_BLOCK;
  const busWidth = 2 ** k.LOG_BUS_WIDTH;
  const elemBytes = {} as Record<BufferName, number>;
  const buffBytes = {} as Record<BufferName, number>;
  const depth = {} as Record<BufferName, number>;
  const beatsPerElem = {} as Record<BufferName, number>;
  for (const b of BUFFER_NAMES) {
    elemBytes[b] = s.matrixBits[b] / 8;
    depth[b] = 2 ** s.logDepth[b];
    buffBytes[b] = depth[b] * elemBytes[b];
    beatsPerElem[b] = s.matrixBits[b] / busWidth;
  }
  const name =
    `${batch}x${block}_i${2 ** k.LOG_INP_WIDTH}w${2 ** k.LOG_WGT_WIDTH}a${2 ** k.LOG_ACC_WIDTH}_` +
    `${k.LOG_UOP_BUFF_SIZE}_${k.LOG_INP_BUFF_SIZE}_${k.LOG_WGT_BUFF_SIZE}_${k.LOG_ACC_BUFF_SIZE}`;
  const macsPerUop = batch * block * block;

  const derived: Derived = {
    keys: Object.freeze({ ...k }),
    name,
    model: `${k.TARGET}_${name}`,
    variant: name + variantSuffix(k),
    target: k.TARGET,
    inpWidth: 2 ** k.LOG_INP_WIDTH,
    wgtWidth: 2 ** k.LOG_WGT_WIDTH,
    accWidth: 2 ** k.LOG_ACC_WIDTH,
    outWidth: 2 ** k.LOG_INP_WIDTH,
    batch,
    blockIn: block,
    blockOut: block,
    logBatch: k.LOG_BATCH,
    logBlockIn: k.LOG_BLOCK,
    logBlockOut: k.LOG_BLOCK,
    logOutWidth: k.LOG_INP_WIDTH,
    logOutBuffSize: k.LOG_ACC_BUFF_SIZE + k.LOG_INP_WIDTH - k.LOG_ACC_WIDTH,
    insnBytes: INSN_BYTES,
    uopBytes: UOP_BYTES,
    matrixBits: Object.freeze(s.matrixBits),
    elemBytes: Object.freeze(elemBytes),
    buffBytes: Object.freeze(buffBytes),
    depth: Object.freeze(depth),
    logDepth: Object.freeze(s.logDepth),
    busWidth,
    busBytes: busWidth / 8,
    logBusWidth: k.LOG_BUS_WIDTH,
    beatsPerElem: Object.freeze(beatsPerElem),
    macsPerUop,
    multipliers: macsPerUop / k.GEMM_II,
    gemmII: k.GEMM_II,
    aluII: k.ALU_II,
    aluMul: k.ALU_MUL,
    aluRequant: k.ALU_REQUANT,
    gemmRequant: k.GEMM_REQUANT,
    cmdQueueDepth: k.CMD_QUEUE_DEPTH,
    fetchBufferBram: k.FETCH_BUFFER_BRAM,
    fetchDecodeSerial: k.FETCH_DECODE_SERIAL,
    dmaReadEngines: k.DMA_READ_ENGINES,
    computeReadReg: k.COMPUTE_READ_REG,
    tokenPushReg: k.TOKEN_PUSH_REG,
    uopIssueReg: k.UOP_ISSUE_REG,
    memReqReg: k.MEM_REQ_REG,
    computeDoneReg: k.COMPUTE_DONE_REG,
    aluWriteReg: k.ALU_WRITE_REG,
    clockMhz: k.CLOCK_MHZ,
    dspBudget: k.DSP_BUDGET,
    board: k.BOARD,
    boardMemBytes: k.BOARD_MEM_BYTES,
    readDoneReg: k.READ_DONE_REG,
    mem: Object.freeze({
      readLatency: k.MEM_READ_LATENCY,
      writeLatency: k.MEM_WRITE_LATENCY,
      cyclesPerBeat: k.MEM_CYCLES_PER_BEAT,
      burstBeats: k.MEM_BURST_BEATS,
      outstanding: k.MEM_OUTSTANDING,
      addrBits: k.MEM_ADDR_BITS,
      bufferAlign: Math.min(PAGE_BYTES, Math.max(k.MEM_BUFFER_ALIGN, ...Object.values(elemBytes))),
    }),
    layout,
  };
  return Object.freeze(derived);
}

/** The keys a file would need to reproduce this configuration: only those that differ from defaults. */
export function minimalKeys(d: Derived): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const k = d.keys as unknown as Record<string, unknown>;
  for (const spec of KEY_SPECS) {
    if (spec.key === 'TARGET' || k[spec.key] !== spec.default(d.target)) out[spec.key] = k[spec.key];
  }
  return out;
}
