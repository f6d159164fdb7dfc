export * from './runtime.ts';
export * from './pack.ts';
export * from './reference.ts';
export * from './conformance.ts';
export * from './random.ts';
