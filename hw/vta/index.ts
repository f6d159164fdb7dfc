/**
 * The VTA generator: every module of a variant, built from `Derived` only, top last.
 *
 * Hierarchy (prefix = top name):
 *   vta_<variant>
 *     _regs      control registers (regs.ts)
 *     _fetch     fetch, decode, static checks (fetch.ts)
 *     _cmdq_load, _cmdq_compute, _cmdq_store   command FIFOs (fifo.ts), entries of the bits each module uses
 *     _tokens    dependency-token counters (tokens.ts)
 *     _load      load module (loadstore.ts) -> _dma_load (dma.ts: one read engine for INP and WGT)
 *     _compute   compute module (compute.ts, its stages in compute/) -> _dma_compute (dma.ts: one read engine for UOP and ACC),
 *                _gemm (gemm.ts), _alu (alu.ts)
 *     _store     store module (loadstore.ts) -> _dma_store (dma.ts: the write engine)
 *     _arbiter   memory arbiter (arbiter.ts) -> _route (fifo.ts)
 *     _sram_uop, _sram_inp, _sram_wgt, _sram_acc, _sram_out   on-chip buffers (sram.ts)
 */
import type { Derived } from '../../src/config/derive.ts';
import type { Module } from '../hdl/index.ts';
import type { HwTarget } from '../lib/mult.ts';
import { aluModule } from './alu.ts';
import { arbiterModule, routeFifoDepth, ROUTE_BITS } from './arbiter.ts';
import { computeModule } from './compute.ts';
import { dmaReadModule, dmaWriteModule } from './dma.ts';
import { fetchModule } from './fetch.ts';
import { fifoModule } from './fifo.ts';
import { gemmModule } from './gemm.ts';
import { entryLayout } from './insn.ts';
import { loadModule, storeModule } from './loadstore.ts';
import { regsModule } from './regs.ts';
import { sramGeom, sramModule } from './sram.ts';
import { tokensModule } from './tokens.ts';
import { topModule, vtaTopName } from './top.ts';

export { vtaTopName } from './top.ts';
export { errorCodeName, ERROR_CODES, REG } from './regs.ts';

export interface VtaOptions {
  target: HwTarget;
  /** 32-bit identifier readable at register 0x18. */
  configId: number;
}

export function generateVta(d: Derived, opts: VtaOptions): Module[] {
  const top = vtaTopName(d);
  const p = (s: string) => `${top}_${s}`;
  const geom = {
    uop: sramGeom(d, 'uop'),
    inp: sramGeom(d, 'inp'),
    wgt: sramGeom(d, 'wgt'),
    acc: sramGeom(d, 'acc'),
    out: sramGeom(d, 'out'),
  };
  const ctx = { target: opts.target, dspBudget: d.dspBudget };
  const regs = regsModule(p('regs'), opts.configId, d.mem.addrBits).finish();
  const fetch = fetchModule(p('fetch'), d, ctx).finish();
  const qb = entryLayout(d).queueBits;
  // CMD_QUEUE_DEPTH 0: no queues, the modules take their instructions from fetch's head
  const cmdq = d.cmdQueueDepth === 0 ? null : {
    load: fifoModule(p('cmdq_load'), qb.load, d.cmdQueueDepth, 'load command queue').finish(),
    compute: fifoModule(p('cmdq_compute'), qb.compute, d.cmdQueueDepth, 'compute command queue').finish(),
    store: fifoModule(p('cmdq_store'), qb.store, d.cmdQueueDepth, 'store command queue').finish(),
  };
  const tokens = tokensModule(p('tokens'), d.tokenPushReg).finish();
  // read engines: the load module's and compute's, or one for both (DMA_READ_ENGINES 1)
  const dmaRead = d.dmaReadEngines === 1
    ? { shared: dmaReadModule(p('dma_read'), d, [geom.inp, geom.wgt, geom.uop, geom.acc]).finish() }
    : { load: dmaReadModule(p('dma_load'), d, [geom.inp, geom.wgt]).finish(), compute: dmaReadModule(p('dma_compute'), d, [geom.uop, geom.acc]).finish() };
  const dmaStore = dmaWriteModule(p('dma_store'), d, geom.out).finish();
  const load = loadModule(p('load'), d).finish();
  const store = storeModule(p('store'), d, dmaStore, geom.out).finish();
  const gemm = gemmModule(p('gemm'), d, ctx).finish();
  const alu = aluModule(p('alu'), d, ctx).finish();
  const compute = computeModule(p('compute'), d, geom, { gemm, alu }).finish();
  const route = fifoModule(p('route'), ROUTE_BITS, routeFifoDepth(d), 'read-burst routing').finish();
  const arbiter = arbiterModule(p('arbiter'), d, route).finish();
  const srams = {
    uop: sramModule(p('sram_uop'), geom.uop).finish(),
    inp: sramModule(p('sram_inp'), geom.inp).finish(),
    wgt: sramModule(p('sram_wgt'), geom.wgt).finish(),
    acc: sramModule(p('sram_acc'), geom.acc).finish(),
    out: sramModule(p('sram_out'), geom.out).finish(),
  };
  const topM = topModule(top, d, { regs, fetch, cmdq, tokens, dmaRead, load, compute, store, arbiter, srams }, geom).finish();
  // Cell-library primitives (SB_MAC16) are instantiated but not returned: they have no Verilog here.
  return [
    regs, fetch, ...(cmdq ? [cmdq.load, cmdq.compute, cmdq.store] : []), tokens, ...Object.values(dmaRead), dmaStore, load, store, gemm, alu, compute, route, arbiter,
    srams.uop, srams.inp, srams.wgt, srams.acc, srams.out, topM,
  ];
}

