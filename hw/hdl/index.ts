export * from './ir.ts';
export * from './print.ts';
export * from './lint.ts';
export * from './verilate.ts';
