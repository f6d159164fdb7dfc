export * from './schema.ts';
export * from './derive.ts';
export * from './presets.ts';
export * from './load.ts';
export * from './describe.ts';
export * from './random.ts';
