import { loadConfig } from './src/config/load.ts';
import { findOperator } from './compiler/ops/registry.ts';
import { lower } from './compiler/te/lower.ts';
import { emitC } from './compiler/cpu/codegen.ts';
const d = loadConfig('default');
for (const [n, s] of [['add',[7,5,19]],['maxpool',[7,5,19,3,1,2]]] as const) {
const e = findOperator(n); const def = e.define(s as any, { batch:1, groups:1, bias:true, clip:[0,127] }, d);
console.log(emitC(lower(e.strategies.cpu.schedule(def, {threads:1}), def.op),1).text.split('\n').slice(8).join('\n'));
}
