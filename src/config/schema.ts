/**
 * The configuration keys vtw accepts: VTA's own JSON keys (verbatim, same meaning) and this
 * project's extensions (vta-reference Part A.2). Validation, defaults and the documentation table
 * in docs/config.md all come from this one table.
 */

export const VTA_TARGETS = ['sim', 'tsim', 'pynq', 'ultra96', 'zcu104', 'de10nano', 'intelfocl', 'ice40'] as const;
export type VtaTarget = (typeof VTA_TARGETS)[number];

export type KeyKind = 'int' | 'number' | 'string' | 'bool' | 'target';

export interface KeySpec {
  key: string;
  kind: KeyKind;
  /** Inclusive range for numeric keys. */
  min?: number;
  max?: number;
  /** Must be a power of two (numeric keys). */
  pow2?: boolean;
  /** null is an accepted value meaning "none / unlimited". */
  nullable?: boolean;
  /** Default when the key is absent; may depend on the target. */
  default: (target: VtaTarget) => unknown;
  /** 'vta': a key of VTA's own JSON; 'legacy': an old VTA key kept for compatibility; 'ext': ours. */
  origin: 'vta' | 'legacy' | 'ext';
  doc: string;
}

const fixed = (v: unknown) => () => v;

/** Memory bus width of VTA's pkg_config per target (log2 bits). */
function defaultLogBusWidth(t: VtaTarget): number {
  if (t === 'ultra96' || t === 'zcu104') return 7;
  if (t === 'ice40') return 5;
  return 6;
}

/** Clock VTA builds each target at (pkg_config), in MHz; ice40 is this project's choice. */
function defaultClockMhz(t: VtaTarget): number {
  if (t === 'ultra96' || t === 'zcu104') return 333;
  if (t === 'ice40') return 24;
  return 100;
}

export const KEY_SPECS: readonly KeySpec[] = [
  { key: 'TARGET', kind: 'target', default: fixed('sim'), origin: 'vta', doc: 'backend / board family' },
  { key: 'HW_VER', kind: 'string', default: fixed('0.0.2'), origin: 'vta', doc: 'free-form hardware version string' },
  { key: 'LOG_INP_WIDTH', kind: 'int', min: 1, max: 3, default: fixed(3), origin: 'vta', doc: 'log2 of input element bits (2, 4 or 8)' },
  { key: 'LOG_WGT_WIDTH', kind: 'int', min: 1, max: 3, default: fixed(3), origin: 'vta', doc: 'log2 of weight element bits (2, 4 or 8)' },
  { key: 'LOG_ACC_WIDTH', kind: 'int', min: 3, max: 5, default: fixed(5), origin: 'vta', doc: 'log2 of accumulator element bits (8, 16 or 32)' },
  { key: 'LOG_BATCH', kind: 'int', min: 0, max: 4, default: fixed(0), origin: 'vta', doc: 'log2 of GEMM batch (rows of an input tile)' },
  { key: 'LOG_BLOCK', kind: 'int', min: 1, max: 6, default: fixed(4), origin: 'vta', doc: 'log2 of GEMM block (BLOCK_IN = BLOCK_OUT)' },
  { key: 'LOG_UOP_BUFF_SIZE', kind: 'int', min: 3, max: 24, default: fixed(15), origin: 'vta', doc: 'log2 of micro-op SRAM bytes' },
  { key: 'LOG_INP_BUFF_SIZE', kind: 'int', min: 1, max: 24, default: fixed(15), origin: 'vta', doc: 'log2 of input SRAM bytes' },
  { key: 'LOG_WGT_BUFF_SIZE', kind: 'int', min: 1, max: 24, default: fixed(18), origin: 'vta', doc: 'log2 of weight SRAM bytes' },
  { key: 'LOG_ACC_BUFF_SIZE', kind: 'int', min: 1, max: 24, default: fixed(17), origin: 'vta', doc: 'log2 of accumulator SRAM bytes' },
  // 2018-era VTA keys, accepted so old config files keep working.
  { key: 'LOG_BLOCK_IN', kind: 'int', min: 1, max: 6, nullable: true, default: fixed(null), origin: 'legacy', doc: 'legacy: log2 BLOCK_IN; must equal LOG_BLOCK_OUT' },
  { key: 'LOG_BLOCK_OUT', kind: 'int', min: 1, max: 6, nullable: true, default: fixed(null), origin: 'legacy', doc: 'legacy: log2 BLOCK_OUT; must equal LOG_BLOCK_IN' },
  { key: 'LOG_OUT_WIDTH', kind: 'int', min: 1, max: 3, nullable: true, default: fixed(null), origin: 'legacy', doc: 'legacy: log2 output element bits; must equal LOG_INP_WIDTH' },
  { key: 'HW_FREQ', kind: 'number', min: 1, max: 1000, nullable: true, default: fixed(null), origin: 'legacy', doc: 'legacy: clock in MHz (same as CLOCK_MHZ)' },
  { key: 'HW_CLK_TARGET', kind: 'number', min: 0.5, max: 1000, nullable: true, default: fixed(null), origin: 'legacy', doc: 'legacy: HLS clock period target in ns (recorded, not used)' },
  // This project's extensions.
  { key: 'LOG_BUS_WIDTH', kind: 'int', min: 5, max: 9, default: defaultLogBusWidth, origin: 'ext', doc: 'log2 of the memory bus data width in bits (VTA derives it from TARGET)' },
  { key: 'CLOCK_MHZ', kind: 'number', min: 1, max: 1000, default: defaultClockMhz, origin: 'ext', doc: 'clock target in MHz' },
  { key: 'DSP_BUDGET', kind: 'int', min: 0, max: 100000, nullable: true, default: fixed(null), origin: 'ext', doc: 'hard multipliers the generator may use (null = no limit)' },
  { key: 'ALU_MUL', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'implement ALU opcode 4 (MUL); off as in VTA hardware' },
  { key: 'ALU_REQUANT', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'implement ALU opcode 5 (RQ, vtw extension): shift, optional bias add, clip to the OUT range (or relu) and optional accumulator clear in one micro-op; the compiler fuses each requantization into it and skips the resets it makes redundant (docs/isa.md). Off = VTA\'s ISA and timing' },
  { key: 'GEMM_REQUANT', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'needs ALU_REQUANT: a GEMM instruction bit (requant, vtw extension) makes each micro-op write the requantized sum, with the parameter word of the last RQ instruction, to OUT (and 0 or the value to ACC), so the last reduction step of a tile needs no RQ micro-op; the compiler uses it for requantizations without bias (docs/isa.md, docs/microarch.md §15). Off = no such bit' },
  { key: 'GEMM_II', kind: 'int', min: 1, max: 64, pow2: true, default: fixed(1), origin: 'ext', doc: 'GEMM initiation interval: cycles per micro-op (1 = full array)' },
  { key: 'ALU_II', kind: 'int', min: 1, max: 64, pow2: true, default: fixed(1), origin: 'ext', doc: 'tensor ALU lanes time-multiplexed: (BATCH*BLOCK_OUT)/ALU_II lanes, each micro-op ALU_II cycles with an immediate and ALU_II+1 with a vector operand (1 = full width, VTA\'s timing; docs/microarch.md §16); must divide BATCH*BLOCK_OUT; not with GEMM_REQUANT' },
  { key: 'MEM_READ_LATENCY', kind: 'int', min: 1, max: 1024, default: fixed(12), origin: 'ext', doc: 'cycles from a read request to its first data beat' },
  { key: 'MEM_WRITE_LATENCY', kind: 'int', min: 1, max: 1024, default: fixed(12), origin: 'ext', doc: 'cycles from the last write beat to the write response' },
  { key: 'MEM_CYCLES_PER_BEAT', kind: 'int', min: 1, max: 16, default: fixed(1), origin: 'ext', doc: 'cycles per data beat on the memory bus' },
  { key: 'MEM_BURST_BEATS', kind: 'int', min: 1, max: 256, pow2: true, default: fixed(16), origin: 'ext', doc: 'longest burst in beats' },
  { key: 'CMD_QUEUE_DEPTH', kind: 'int', min: 0, max: 4096, pow2: true, default: fixed(16), origin: 'ext', doc: 'instructions each command queue (load, compute, store) holds; 0 = no queues: a module takes its instruction from fetch in the cycle it starts it' },
  { key: 'DMA_READ_ENGINES', kind: 'int', min: 1, max: 2, default: fixed(2), origin: 'ext', doc: 'DMA read engines: 2 = one for the load module (INP, WGT) and one for compute (UOP, ACC); 1 = one shared, so a LOAD waits while the other module loads (the load module first)' },
  { key: 'COMPUTE_READ_REG', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'a register between the compute module and its read engine: a LOAD UOP/ACC reaches the engine one cycle after compute starts it (docs/microarch.md §17; cuts a long path on small FPGAs). Off = VTA\'s timing' },
  { key: 'FETCH_BUFFER_BRAM', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'keep the fetch buffer in block RAM rather than flip-flops (iCE40: 8 EBR per 128-bit bank instead of 2 x 128 flip-flops; what small parts run out of is logic cells)' },
  { key: 'FETCH_DECODE_SERIAL', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'compute the decode\'s address products (LOAD/STORE footprint, DRAM range, first element, padding) in one small shift-and-add unit over a few cycles as each instruction arrives, instead of LUT multipliers or DSPs; an instruction becomes available a fixed number of cycles later: ceil(max(K, 4) / 2) + 1, K = bits of (largest buffer depth + 1) (docs/microarch.md §2.1). The bus must bring instructions at least that many cycles apart: LOG_BUS_WIDTH <= 7 and (128 / bus bits) x MEM_CYCLES_PER_BEAT >= that latency' },
  { key: 'MEM_BUFFER_ALIGN', kind: 'int', min: 16, max: 4096, pow2: true, default: fixed(4096), origin: 'ext', doc: 'byte alignment of data and micro-op buffers in DRAM (at least the largest element; the instruction stream stays on a 4 KiB page); small values pack programs into small board memories' },
  { key: 'MEM_ADDR_BITS', kind: 'int', min: 13, max: 32, default: fixed(32), origin: 'ext', doc: 'bits of a DRAM byte address (on-chip DRAM of a board: its size); a program needing more DRAM is refused' },
  { key: 'MEM_OUTSTANDING', kind: 'int', min: 1, max: 64, default: fixed(4), origin: 'ext', doc: 'read bursts in flight at once' },
  { key: 'BOARD', kind: 'string', nullable: true, default: fixed(null), origin: 'ext', doc: 'FPGA board this variant is meant for (null = none)' },
  { key: 'BOARD_MEM_BYTES', kind: 'int', min: 1024, max: 2 ** 30, nullable: true, default: fixed(null), origin: 'ext', doc: 'bytes of on-chip memory the board top gives the core as its DRAM (null = the board\'s default: SPRAM banks up to 2^MEM_ADDR_BITS, half the block RAM on parts without SPRAM); block RAM takes whole EBRs per byte lane (6144 on an HX8K leaves the core 20 of its 32 EBR); `vtw synth/test/run --mem-bytes` overrides it' },
  { key: 'READ_DONE_REG', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'register the DMA read engine\'s completion: a LOAD that moves data or pads (load module INP/WGT, compute\'s UOP/ACC) ends one cycle later, its last active cycle the cycle after the one its last beat or pad is written in, so no path runs from the memory\'s read-valid into the LOAD\'s token push, compute\'s completion or the shared engine\'s free rule in one cycle (docs/microarch.md §18; cuts a long path on small FPGAs). Off = VTA\'s timing' },
  { key: 'TOKEN_PUSH_REG', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'a register before the dependency-token counters: a token pushed in a producer\'s last active cycle c can be popped from c + 2 instead of c + 1 (all four queues; the instruction still ends in c + 1), and the producers\' room check counts the registered pushes (docs/microarch.md §19; cuts the completion -> token-counter path on small FPGAs). Off = VTA\'s timing' },
  { key: 'UOP_ISSUE_REG', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'a register between compute\'s micro-op index computation and its issue decision: each micro-op\'s ACC/INP/WGT indices are computed from the UOP SRAM read a cycle ahead and registered, so the issue decision, and the GEMM/ALU start (which waits only for the index stage to be empty), read no SRAM data; a GEMM/ALU\'s first micro-op issues in start + 1 at the earliest instead of start, micro-ops still issue one per cycle (docs/microarch.md §20; cuts the micro-op read -> issue -> start path)' },
  { key: 'MEM_REQ_REG', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'a register between the memory clients\' request lines and the arbiter: a request asserted first in cycle c can be granted from c + 1 on (the grant, the memory controller\'s request and the client\'s next burst then depend on registers only; the DMA engines compute their requests from registers, not the command-queue head), so a client\'s bursts are granted at least two cycles apart and a transfer\'s first burst one cycle after its start at the earliest; the memory timing from the grant on is unchanged (docs/microarch.md §21; cuts the request -> grant -> memory controller / next request path on small FPGAs). Off = VTA\'s timing' },
  { key: 'COMPUTE_DONE_REG', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'compute completes at most one instruction a cycle (only the in-flight list\'s oldest entry is checked, against \'its queues are not full\'; an instruction done together with it completes a cycle later), and the write-back\'s "last micro-op of slot s" is decoded a cycle ahead into a register, so the completion reads registers only (docs/microarch.md §22; cuts the pipeline -> completion -> token path on small FPGAs). Compiled programs and the conformance suite take the same cycles as without it' },
  { key: 'ALU_WRITE_REG', kind: 'bool', default: fixed(false), origin: 'ext', doc: 'a register between the ACC read data and the tensor ALU: an ALU micro-op issued in t writes ACC/OUT in t + 3 + II_A instead of t + 2 + II_A (reads unchanged; the hazard interlock and write order follow the new write cycle), so no path runs from the ACC read port through the ALU into the SRAM write in one cycle (docs/microarch.md §22; small FPGAs). Not with GEMM_REQUANT. Off = VTA\'s timing' },
];

export const KEY_NAMES: readonly string[] = KEY_SPECS.map((s) => s.key);

/** A complete, validated configuration: every key of KEY_SPECS present. */
export interface ConfigKeys {
  TARGET: VtaTarget;
  HW_VER: string;
  LOG_INP_WIDTH: number;
  LOG_WGT_WIDTH: number;
  LOG_ACC_WIDTH: number;
  LOG_BATCH: number;
  LOG_BLOCK: number;
  LOG_UOP_BUFF_SIZE: number;
  LOG_INP_BUFF_SIZE: number;
  LOG_WGT_BUFF_SIZE: number;
  LOG_ACC_BUFF_SIZE: number;
  LOG_BLOCK_IN: number | null;
  LOG_BLOCK_OUT: number | null;
  LOG_OUT_WIDTH: number | null;
  HW_FREQ: number | null;
  HW_CLK_TARGET: number | null;
  LOG_BUS_WIDTH: number;
  CLOCK_MHZ: number;
  DSP_BUDGET: number | null;
  ALU_MUL: boolean;
  ALU_REQUANT: boolean;
  GEMM_REQUANT: boolean;
  GEMM_II: number;
  ALU_II: number;
  MEM_READ_LATENCY: number;
  MEM_WRITE_LATENCY: number;
  MEM_CYCLES_PER_BEAT: number;
  MEM_BURST_BEATS: number;
  CMD_QUEUE_DEPTH: number;
  DMA_READ_ENGINES: number;
  COMPUTE_READ_REG: boolean;
  TOKEN_PUSH_REG: boolean;
  UOP_ISSUE_REG: boolean;
  MEM_REQ_REG: boolean;
  COMPUTE_DONE_REG: boolean;
  ALU_WRITE_REG: boolean;
  FETCH_BUFFER_BRAM: boolean;
  FETCH_DECODE_SERIAL: boolean;
  MEM_BUFFER_ALIGN: number;
  MEM_ADDR_BITS: number;
  MEM_OUTSTANDING: number;
  BOARD: string | null;
  BOARD_MEM_BYTES: number | null;
  READ_DONE_REG: boolean;
}
