export * from './alu.ts';
export * from './constants.ts';
export * from './layout.ts';
export * from './bits.ts';
export * from './insn.ts';
