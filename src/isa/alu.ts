/**
 * The ALU operations: one table that every list, check and decoder of an ALU opcode derives from
 * (ISA encoding, assembler, legality checks of the simulator, the RTL decoder, the runtime and the
 * compiler, the conformance suite and random programs). Adding an opcode touches this table and the
 * three implementations only (docs/architecture.md, "Adding an ALU opcode").
 */
import type { Derived } from '../config/derive.ts';

/** A configuration switch an opcode needs: the Derived flag and the config key a user sets. */
interface AluRequirement {
  flag: 'aluMul' | 'aluRequant';
  key: 'ALU_MUL' | 'ALU_REQUANT';
}

/** The flags of Derived that enable opcodes. */
export type AluFlags = Pick<Derived, 'aluMul' | 'aluRequant'>;

export interface AluOpSpec {
  /** Mnemonic (assembly, JSON instructions). */
  readonly name: string;
  /** Value of the alu_opcode field (VTA's ISA; opcodes are 0, 1, 2, ... without gaps). */
  readonly opcode: number;
  /** What one lane computes from a (the destination) and b (source element or immediate). */
  readonly description: string;
  /** The tensor-expression operator the compiler lowers to this opcode. */
  readonly irOp: string;
  /** op(a, b) = op(b, a): the compiler may take the destination as either operand. */
  readonly commutative: boolean;
  /** Element of the destination's dtype that leaves a unchanged, for conditional operands. */
  readonly identity?: 'zero' | 'dtypeMin' | 'dtypeMax';
  /** Legal only with this configuration switch on. */
  readonly requires?: AluRequirement;
  /**
   * Signed bit widths of the conformance test's operands (vector sources, immediates) that keep
   * every result exact and unsaturated on any configuration (test_lib's alu_test).
   */
  readonly testBits: (d: Pick<Derived, 'inpWidth' | 'accWidth'>) => { vector: number; imm: number };
  /** Immediate range of random programs; absent: half small (±100), half any 16-bit value. */
  readonly randomImm?: (d: Pick<Derived, 'accWidth'>) => [number, number];
  /** The vector form reads the instruction's immediate too (as parameters); random programs set it. */
  readonly vectorImm?: boolean;
  /**
   * A vtw extension, not VTA's: with its switch off the opcode does not exist at all (an illegal
   * opcode, as on VTA), rather than being a known operation this configuration lacks (VTA's MUL).
   */
  readonly extension?: boolean;
}

const ALU_MUL: AluRequirement = { flag: 'aluMul', key: 'ALU_MUL' };
const ALU_REQUANT: AluRequirement = { flag: 'aluRequant', key: 'ALU_REQUANT' };

/** Fields of the RQ parameter word p (docs/isa.md): shift p[4:0], relu p[5], clear p[6]. */
export const RQ_SHIFT_BITS = 5;
export const RQ_RELU_BIT = 5;
export const RQ_CLEAR_BIT = 6;
/** The RQ parameter word of a shift amount, a relu clip and an accumulator clear. */
export function rqParams(shift: number, relu: boolean, clear: boolean): number {
  return (shift & ((1 << RQ_SHIFT_BITS) - 1)) | (relu ? 1 << RQ_RELU_BIT : 0) | (clear ? 1 << RQ_CLEAR_BIT : 0);
}

/** Every ALU operation, in opcode order. Both operand kinds (vector, immediate) are legal for all. */
export const ALU_OPS = [
  {
    name: 'MIN', opcode: 0, description: 'signed minimum of a and b', irOp: 'min', commutative: true, identity: 'dtypeMax',
    testBits: (d) => ({ vector: d.inpWidth - 1, imm: 15 }),
  },
  {
    name: 'MAX', opcode: 1, description: 'signed maximum of a and b', irOp: 'max', commutative: true, identity: 'dtypeMin',
    testBits: (d) => ({ vector: d.inpWidth - 1, imm: 15 }),
  },
  {
    name: 'ADD', opcode: 2, description: 'a + b, wrapping at ACC_WIDTH bits', irOp: 'add', commutative: true, identity: 'zero',
    testBits: (d) => ({ vector: d.inpWidth - 2, imm: 15 }),
  },
  {
    name: 'SHR', opcode: 3,
    description: 'b >= 0: arithmetic right shift of a by min(b, W-1); b < 0: left shift by min(-b, W-1), wrapping',
    irOp: 'shr', commutative: false,
    testBits: (d) => ({ vector: Math.log2(d.accWidth) - 1, imm: Math.log2(d.accWidth) - 1 }),
    randomImm: (d) => [-(d.accWidth + 3), d.accWidth + 3],
  },
  {
    name: 'MUL', opcode: 4, description: 'low ACC_WIDTH bits of a * b', irOp: 'mul', commutative: true, requires: ALU_MUL,
    testBits: () => ({ vector: 7, imm: 7 }),
    randomImm: () => [-300, 300],
  },
  {
    name: 'RQ', opcode: 5,
    description: 'requantize (vtw extension): v = a >> min(p[4:0], W-1), plus b in the vector form; clip v to the OUT range (p[5]: to [0, OUT max]); OUT gets v, ACC v or, with p[6], 0. p = b (immediate form) or the instruction\'s imm (vector form)',
    irOp: 'requant', commutative: false, requires: ALU_REQUANT, vectorImm: true, extension: true,
    testBits: (d) => ({ vector: d.inpWidth - 2, imm: 7 }),
    randomImm: () => [-128, 127],
  },
] as const satisfies readonly AluOpSpec[];

export type AluOpName = (typeof ALU_OPS)[number]['name'];
export const ALU_OP_NAMES: readonly AluOpName[] = ALU_OPS.map((o) => o.name);
/** alu_opcode value of each mnemonic. */
export const ALU_OPCODES = Object.fromEntries(ALU_OPS.map((o) => [o.name, o.opcode])) as { readonly [K in AluOpName]: number };
/** The largest legal alu_opcode value; larger ones are illegal instructions. */
export const MAX_ALU_OPCODE = ALU_OPS.length - 1;

ALU_OPS.forEach((o, i) => {
  if (o.opcode !== i) throw new Error(`src/isa/alu.ts: ALU_OPS must list opcodes 0, 1, 2, ... in order (${o.name} is ${o.opcode} at ${i})`);
});

export function aluOpSpec(name: AluOpName): AluOpSpec {
  return ALU_OPS[ALU_OPCODES[name]];
}

/** Why `name` is illegal on configuration d (a switch it needs is off), or undefined when legal. */
export function aluOpUnavailable(name: AluOpName, d: AluFlags): string | undefined {
  const r = aluOpSpec(name).requires;
  if (!r || d[r.flag]) return undefined;
  return `this configuration has no ALU ${name} (opcode ${ALU_OPCODES[name]}): set ${r.key}: true`;
}

/** The ALU opcodes configuration d's ISA has (legal or not): VTA's, plus the extensions switched on. */
export function aluOpsKnown(d: AluFlags): readonly AluOpSpec[] {
  return ALU_OPS.filter((o: AluOpSpec) => !o.extension || (o.requires && d[o.requires.flag]));
}

/** The ALU operations legal on configuration d, in opcode order. */
export function aluOpsOf(d: AluFlags): AluOpName[] {
  return ALU_OP_NAMES.filter((n) => !aluOpUnavailable(n, d));
}
