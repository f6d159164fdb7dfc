/** Fixed ISA constants of VTA (hw_spec_const.h); everything config-dependent lives in layout.ts. */

export const INSN_BITS = 128;
export const INSN_BYTES = 16;
export const UOP_BITS = 32;
export const UOP_BYTES = 4;
/** DRAM page (VTA_PAGE_BITS = 12): no burst crosses a multiple of it; page 0 is never used (VTA's null). */
export const PAGE_BYTES = 4096;
/** C bit-fields of an instruction are allocated in uint64_t units, a micro-op in one uint32_t. */
export const INSN_UNIT_BITS = 64;

export const OPCODE_BITS = 3;
export const MEMOP_ID_BITS = 3;
export const MEMOP_SRAM_ADDR_BITS = 16;
export const MEMOP_DRAM_ADDR_BITS = 32;
export const MEMOP_SIZE_BITS = 16;
export const MEMOP_STRIDE_BITS = 16;
export const MEMOP_PAD_BITS = 4;
export const LOOP_ITER_BITS = 14;
export const ALU_OPCODE_BITS = 3;
export const ALUOP_IMM_BITS = 16;

export const OPCODES = { LOAD: 0, STORE: 1, GEMM: 2, FINISH: 3, ALU: 4 } as const;
export type OpcodeName = keyof typeof OPCODES;
export const OPCODE_NAMES: readonly OpcodeName[] = ['LOAD', 'STORE', 'GEMM', 'FINISH', 'ALU'];

export const MEM_TYPES = { UOP: 0, WGT: 1, INP: 2, ACC: 3, OUT: 4 } as const;
export type MemTypeName = keyof typeof MEM_TYPES;
export const MEM_TYPE_NAMES: readonly MemTypeName[] = ['UOP', 'WGT', 'INP', 'ACC', 'OUT'];
/** VTA's ACC_8BIT memory type (5) exists only in its functional simulator; vtw rejects it. */
export const MEM_TYPE_ACC_8BIT = 5;

/* ALU opcodes: the table in alu.ts. */

/** The four dependency flags common to every instruction, in bit order after the opcode. */
export const DEP_FLAGS = ['pop_prev_dep', 'pop_next_dep', 'push_prev_dep', 'push_next_dep'] as const;
export type DepFlag = (typeof DEP_FLAGS)[number];
