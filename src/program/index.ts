export * from './container.ts';
export * from './asm.ts';
