import { loadConfig } from './src/config/load.ts';
import { findOperator } from './compiler/ops/registry.ts';
import { buildWasmOp } from './compiler/wasm/op.ts';
import { runCpuOp } from './compiler/cpu/op.ts';
const d = loadConfig('default');
for (const [n, s] of [['conv2d',[8,8,16,16,3,1,1]],['dense',[4,64,32]],['add',[7,5,19]],['maxpool',[7,5,19,3,1,2]]] as const) {
const e = findOperator(n); const def = e.define(s as any, { batch:1, groups:1, bias:true, clip:[0,127] }, d);
try { const op = await buildWasmOp(def, e.strategies.cpu, {kind:'wasm'});
const r = runCpuOp(op, {seed:1, check:true}); console.log(n, r.match, r.mismatch, op.source.simdLoops);
} catch (err) { console.log(n, (err as Error).message); }
}
