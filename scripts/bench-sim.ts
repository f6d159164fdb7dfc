/**
 * Speed of the TypeScript simulator on a large GEMM (default config unless a preset is given):
 * tsx scripts/bench-sim.ts [preset] [iterOut]
 */
import { loadConfig } from '../src/config/load.ts';
import { runSync } from '../sim/ts/engine.ts';
import { ProgBuilder } from '../test/helpers/simprog.ts';

const d = loadConfig(process.argv[2] ?? 'default');
const iterOut = Number(process.argv[3] ?? 6400);
const b = new ProgBuilder(d);
const nU = 16;
const uops = Array.from({ length: nU }, (_, u) => ({ dst_idx: u, src_idx: u, wgt_idx: 0 }));
const uopAddr = b.uops('uops', uops);
const inp = new Uint8Array(d.elemBytes.inp * 1024).map((_, i) => (i * 7) & 0xff);
const wgt = new Uint8Array(d.elemBytes.wgt * 64).map((_, i) => (i * 13) & 0xff);
const inpAddr = b.data('inp', inp);
const wgtAddr = b.data('wgt', wgt);
b.insn({ opcode: 'LOAD', memory_type: 'UOP', sram_base: 0, dram_base: uopAddr / 4, y_size: 1, x_size: nU, x_stride: nU });
b.insn({ opcode: 'LOAD', memory_type: 'WGT', sram_base: 0, dram_base: wgtAddr / d.elemBytes.wgt, y_size: 1, x_size: 64, x_stride: 64 });
b.insn({ opcode: 'LOAD', memory_type: 'INP', sram_base: 0, dram_base: inpAddr / d.elemBytes.inp, y_size: 1, x_size: 1024, x_stride: 1024, push_next_dep: 1 });
b.insn({
  opcode: 'GEMM', pop_prev_dep: 1, uop_bgn: 0, uop_end: nU, iter_out: iterOut, iter_in: 64,
  dst_factor_out: 0, dst_factor_in: 16, src_factor_out: 0, src_factor_in: 16, wgt_factor_out: 0, wgt_factor_in: 1,
});
b.insn({ opcode: 'FINISH' });
const p = b.build();
const t0 = performance.now();
const r = runSync(p, { insnTiming: false });
const ms = performance.now() - t0;
const macs = r.counters.gemm_uops * d.macsPerUop;
console.log(
  `${d.name}: ${r.counters.gemm_uops} micro-ops, ${(macs / 1e9).toFixed(3)} GMAC, ${r.counters.cycles} cycles in ${(ms / 1000).toFixed(2)} s ` +
    `(${(macs / ms / 1e6).toFixed(2)} GMAC/s, ${((r.counters.cycles / ms) * 1000 / 1e6).toFixed(1)} Mcycle/s)${r.error ? ' ERROR ' + r.error.message : ''}`,
);
