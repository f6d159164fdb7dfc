export * from './ir.ts';
export * from './logic.ts';
export * from './builder.ts';
export * from './bundle.ts';
export * from './print.ts';
export * from './lint.ts';
export * from './verilate.ts';
