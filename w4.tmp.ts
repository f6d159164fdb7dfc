import { loadConfig } from './src/config/load.ts';
import { findOperator } from './compiler/ops/registry.ts';
import { buildWasmOp } from './compiler/wasm/op.ts';
import { runCpuOp, median } from './compiler/cpu/op.ts';
const d = loadConfig('default');
const e = findOperator('dense'); const def = e.define([1,512,1000], { batch:1, groups:1, bias:true, clip:[0,127] }, d);
const op = await buildWasmOp(def, e.strategies.cpu, {kind:'wasm'});
const r = runCpuOp(op, {seed:1, check:true, runs: 30}); console.log(r.match, median(r.times));
console.log(op.source.text.split('\n').filter(l=>/dot|loop|br_if/.test(l)).join('\n'));
