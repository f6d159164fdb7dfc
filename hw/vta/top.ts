/**
 * The top module `vta_<variant>` with exactly the ports of docs/rtl.md: register bus, memory master
 * port, busy, observation ports. It wires the modules together; a launch (write of 1 to
 * control.launch) resets the whole core at that edge so the run starts from an empty machine in
 * cycle 0.
 */
import type { Derived } from '../../src/config/derive.ts';
import { cat, declarePorts, lit, Mb, F, T, all, any, inst, inv, rz, sel, type Expr, type Module, type Signal } from '../hdl/index.ts';
import { entryLayout } from './insn.ts';
import type { ComputeGeoms } from './compute.ts';
import { memBus, regBus } from './ports.ts';
import { ERROR_CODE_BITS } from './regs.ts';

export function vtaTopName(d: Derived): string {
  return `vta_${d.variant.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export interface TopParts {
  regs: Module;
  fetch: Module;
  /** null with CMD_QUEUE_DEPTH 0 (the modules take their instructions from fetch's head). */
  cmdq: { load: Module; compute: Module; store: Module } | null;
  tokens: Module;
  /** The read engines: the load module's and compute's, or one shared (DMA_READ_ENGINES 1). */
  dmaRead: { load: Module; compute: Module } | { shared: Module };
  load: Module;
  compute: Module;
  store: Module;
  arbiter: Module;
  srams: { uop: Module; inp: Module; wgt: Module; acc: Module; out: Module };
}

export function topModule(name: string, d: Derived, p: TopParts, g: ComputeGeoms): Mb {
  const mb = new Mb(name, [
    `VTA ${d.variant} (${d.model}): fetch, load, compute, store, memory arbiter, control registers`,
    'Timing contract: docs/microarch.md; interface: docs/rtl.md.',
  ]);
  const reg = declarePorts(mb.m, regBus().flip(), 'reg_').ports;
  const mem = declarePorts(mb.m, memBus(d), 'mem_');
  const { rdata } = mem.ports;

  const errSet = mb.wireLater('err_set', 1);
  const errIndex = mb.wireLater('err_index', 32);
  const errCode = mb.wireLater('err_code', ERROR_CODE_BITS);
  const finishSet = mb.wireLater('finish_set', 1);
  const regs = inst(mb, p.regs, 'u_regs', {
    reg_wen: reg.wen, reg_addr: reg.addr, reg_wdata: reg.wdata, finish_set: finishSet, err_set: errSet, err_index: errIndex, err_code: errCode,
  });
  mb.drive(reg.rdata, regs.reg_rdata);
  const coreRst = mb.w('core_rst', any(mb.rst, regs.launch));
  const run = regs.run;

  // forward declarations of the wires that close loops between instances
  const W = (n: string, w: number) => mb.wireLater(n, w);
  const grant = { fetch: W('grant_fetch', 1), uop: W('grant_uop', 1), acc: W('grant_acc', 1), wgt: W('grant_wgt', 1), inp: W('grant_inp', 1), store: W('grant_store', 1) };
  const rbeat = { fetch: W('rbeat_fetch', 1), uop: W('rbeat_uop', 1), acc: W('rbeat_acc', 1), wgt: W('rbeat_wgt', 1), inp: W('rbeat_inp', 1) };
  const pop = { load: W('pop_load', 1), compute: W('pop_compute', 1), store: W('pop_store', 1) };
  const tok = { l2g: W('tok_l2g', 8), g2l: W('tok_g2l', 8), g2s: W('tok_g2s', 8), s2g: W('tok_s2g', 8) };
  // what each producer's room check reads (§4.3): the counts, or with TOKEN_PUSH_REG (§19) the
  // counts plus the registered pushes
  const occ = d.tokenPushReg ? { l2g: W('occ_l2g', 8), g2l: W('occ_g2l', 8), g2s: W('occ_g2s', 8), s2g: W('occ_s2g', 8) } : tok;

  const cmdq = p.cmdq;
  const fetch = inst(mb, p.fetch, 'u_fetch', {
    rst: coreRst, run, insn_count: regs.insn_count, insn_base: regs.insn_base, dram_size: regs.dram_size,
    grant: grant.fetch, rbeat: rbeat.fetch, rdata,
    ...(cmdq
      ? { full_load: W('full_load', 1), full_compute: W('full_compute', 1), full_store: W('full_store', 1) }
      : { take: W('take', 1) }),
  });
  // each module's instruction source: its command queue, or fetch's head when it goes to that module
  const q = (n: 'load' | 'compute' | 'store') => {
    if (!cmdq) return { valid: fetch[`head_${n}`], dout: fetch.entry };
    const el = entryLayout(d);
    const w = el.queueBits[n];
    const o = inst(mb, cmdq[n], `u_q_${n}`, { rst: coreRst, push: fetch[`push_${n}`], din: fetch.entry.slice(w - 1, 0), pop: pop[n] });
    mb.drive(sig(mb, `full_${n}`), o.full);
    mb.sink(o.count);
    return { valid: o.valid, dout: w === el.bits ? o.dout : cat(lit(el.bits - w, 0), o.dout) };
  };
  const qLoad = q('load');
  const qCompute = q('compute');
  const qStore = q('store');

  // the modules' read-engine ports, driven below
  const dl = { ready: W('dma_l_ready', 1), done: W('dma_l_done', 1), doneAtStart: W('dma_l_done_at_start', 1), busy: W('dma_l_busy', 1) };
  const dc = { ready: W('dma_c_ready', 1), done: W('dma_c_done', 1), doneAtStart: W('dma_c_done_at_start', 1), busy: W('dma_c_busy', 1) };
  const load = inst(mb, p.load, 'u_load', {
    rst: coreRst, run, q_valid: qLoad.valid, q_entry: qLoad.dout, g2l_count: tok.g2l, l2g_count: occ.l2g,
    dma_ready: dl.ready, dma_done: dl.done, dma_done_at_start: dl.doneAtStart, dma_busy: dl.busy,
  });
  const storeR = W('out_rdata', g.out.banks * g.out.ew);
  const store = inst(mb, p.store, 'u_store', {
    rst: coreRst, run, q_valid: qStore.valid, q_entry: qStore.dout, g2s_count: tok.g2s, s2g_count: occ.s2g,
    grant: grant.store, ...mem.byPortName('wready', 'bvalid'), out_rdata: storeR,
  });
  const uopR = W('uop_rdata', g.uop.banks * g.uop.ew);
  const inpR = W('inp_rdata', g.inp.banks * g.inp.ew);
  const wgtR = W('wgt_rdata', g.wgt.banks * g.wgt.ew);
  const accR = W('acc_rdata', g.acc.banks * g.acc.ew);
  const accW = { we: W('dma_acc_we', g.acc.banks * g.acc.parts), waddr: W('dma_acc_waddr', g.acc.banks * g.acc.baw), wdata: W('dma_acc_wdata', g.acc.banks * g.acc.ew) };
  const compute = inst(mb, p.compute, 'u_compute', {
    rst: coreRst, run, q_valid: qCompute.valid, q_entry: qCompute.dout,
    l2g_count: tok.l2g, s2g_count: tok.s2g, g2l_count: occ.g2l, g2s_count: occ.g2s,
    dma_ready: dc.ready, dma_done: dc.done, dma_done_at_start: dc.doneAtStart, dma_busy: dc.busy,
    dma_acc_we: accW.we, dma_acc_waddr: accW.waddr, dma_acc_wdata: accW.wdata,
    uop_rdata: uopR, inp_rdata: inpR, wgt_rdata: wgtR, acc_rdata: accR,
  });

  // COMPUTE_READ_REG (docs/microarch.md §17): compute's engine start passes a register, so the
  // engine takes a LOAD UOP/ACC in the cycle after compute starts it; the LOAD leaves compute's
  // queue (or fetch's head) in that cycle, so the engine reads it where it was. Compute sees the
  // engine's done_at_start then as its done and counts that cycle busy.
  let cStart: Expr = compute.dma_start;
  let startQ: Expr = F;
  if (d.computeReadReg) {
    const sq = mb.reg('c_dma_start_q', 1);
    // cleared by a launch like the core's registers (core_rst)
    mb.next(sq, all(compute.dma_start, inv(regs.launch)));
    startQ = sq;
    cStart = sq;
  }
  // read engines: each module its own, or one shared with the load module first (its start is
  // decided first; compute's LOAD waits while it is taken or busy)
  const driveComputeEngine = (e: Record<string, Signal>) => {
    if (!d.computeReadReg) {
      // (the order of the assigns as before the key, so that the RTL stays byte-identical)
      if ('shared' in p.dmaRead) mb.drive(dc.doneAtStart, e.done_at_start);
      mb.drive(dc.done, e.done);
      if (!('shared' in p.dmaRead)) mb.drive(dc.doneAtStart, e.done_at_start);
      mb.drive(dc.busy, e.busy);
      return;
    }
    mb.drive(dc.doneAtStart, F);
    mb.drive(dc.done, any(e.done, all(startQ, e.done_at_start)));
    mb.drive(dc.busy, any(e.busy, startQ));
  };
  const sram: Record<'inp' | 'wgt' | 'uop' | 'acc', { we: Expr; waddr: Expr; wdata: Expr }> = {} as never;
  const req: Record<'inp' | 'wgt' | 'uop' | 'acc', { req: Expr; addr: Expr; beats: Expr }> = {} as never;
  const engine = (m: Module, n: string, start: Expr, entry: Expr, bufs: Array<'inp' | 'wgt' | 'uop' | 'acc'>) => {
    const e = inst(mb, m, n, { rst: coreRst, start, entry, grant: any(...bufs.map((b) => grant[b])), rbeat: any(...bufs.map((b) => rbeat[b])), rdata });
    for (const b of bufs) {
      sram[b] = { we: e[`${b}_we`], waddr: e[`${b}_waddr`], wdata: e[`${b}_wdata`] };
      req[b] = { req: e[`req_${b}`], addr: e.req_addr, beats: e.req_beats };
    }
    return e;
  };
  if ('shared' in p.dmaRead) {
    const entry = cmdq ? sel(load.dma_start, qLoad.dout, qCompute.dout) : fetch.entry;
    const e = engine(p.dmaRead.shared, 'u_dma_read', any(load.dma_start, cStart), entry, ['inp', 'wgt', 'uop', 'acc']);
    // behind the register the engine is taken in the cycle after compute's start
    mb.drive(dl.ready, d.computeReadReg ? all(e.idle, inv(startQ)) : e.idle);
    // without command queues the two never start in one cycle (one instruction at fetch's head)
    mb.drive(dc.ready, cmdq ? all(e.idle, inv(load.dma_start)) : e.idle);
    // done and busy go to both modules unrouted: a module looks at them only while a transfer of
    // its own is in flight (the load module while busy and not blocked, compute while its
    // non-pipelined instruction is not done), and the engine has one transfer at a time
    mb.drive(dl.doneAtStart, e.done_at_start);
    mb.drive(dl.done, e.done);
    mb.drive(dl.busy, e.busy);
    driveComputeEngine(e);
  } else {
    const el = engine(p.dmaRead.load, 'u_dma_load', load.dma_start, qLoad.dout, ['inp', 'wgt']);
    const ec = engine(p.dmaRead.compute, 'u_dma_compute', cStart, qCompute.dout, ['uop', 'acc']);
    mb.drive(dl.ready, T);
    mb.drive(dc.ready, T);
    mb.drive(dl.done, el.done);
    mb.drive(dl.doneAtStart, el.done_at_start);
    mb.drive(dl.busy, el.busy);
    driveComputeEngine(ec);
    mb.sink(el.idle, ec.idle);
  }
  mb.drive(accW.we, sram.acc.we);
  mb.drive(accW.waddr, sram.acc.waddr);
  mb.drive(accW.wdata, sram.acc.wdata);
  mb.drive(pop.load, load.q_pop);
  mb.drive(pop.compute, d.computeReadReg ? any(all(compute.q_pop, inv(compute.dma_start)), startQ) : compute.q_pop);
  mb.drive(pop.store, store.q_pop);
  if (!cmdq) mb.drive(sig(mb, 'take'), any(pop.load, pop.compute, pop.store));

  const tokens = inst(mb, p.tokens, 'u_tokens', {
    rst: coreRst,
    push_l2g: load.push_l2g, pop_l2g: compute.pop_l2g,
    push_g2l: compute.push_g2l, pop_g2l: load.pop_g2l,
    push_g2s: compute.push_g2s, pop_g2s: store.pop_g2s,
    push_s2g: store.push_s2g, pop_s2g: compute.pop_s2g,
  });
  mb.drive(tok.l2g, tokens.l2g_count);
  mb.drive(tok.g2l, tokens.g2l_count);
  mb.drive(tok.g2s, tokens.g2s_count);
  mb.drive(tok.s2g, tokens.s2g_count);
  if (d.tokenPushReg) for (const q of ['l2g', 'g2l', 'g2s', 's2g'] as const) mb.drive(occ[q], tokens[`${q}_occ`]);

  const arb = inst(mb, p.arbiter, 'u_arbiter', {
    rst: coreRst, run,
    req_fetch: fetch.req, addr_fetch: fetch.req_addr, beats_fetch: fetch.req_beats,
    req_uop: req.uop.req, addr_uop: req.uop.addr, beats_uop: req.uop.beats,
    req_acc: req.acc.req, addr_acc: req.acc.addr, beats_acc: req.acc.beats,
    req_wgt: req.wgt.req, addr_wgt: req.wgt.addr, beats_wgt: req.wgt.beats,
    req_inp: req.inp.req, addr_inp: req.inp.addr, beats_inp: req.inp.beats,
    req_store: store.req, addr_store: store.addr, beats_store: store.beats,
    ...mem.byPortName('rvalid', 'bvalid'),
  });
  for (const n of ['fetch', 'uop', 'acc', 'wgt', 'inp', 'store'] as const) mb.drive(grant[n], arb[`grant_${n}`]);
  for (const n of ['fetch', 'uop', 'acc', 'wgt', 'inp'] as const) mb.drive(rbeat[n], arb[`rbeat_${n}`]);
  // the memory port: the arbiter's request channel, the store module's write data channel
  for (const n of ['req_valid', 'req_write', 'req_addr', 'req_beats'] as const) mb.drive(mem.ports[n], arb[`mem_${n}`]);
  for (const n of ['wdata', 'wstrb', 'wvalid'] as const) mb.drive(mem.ports[n], store[`mem_${n}`]);

  // buffers
  const sUop = inst(mb, p.srams.uop, 'u_sram_uop', {
    we: sram.uop.we, waddr: sram.uop.waddr, wdata: sram.uop.wdata, ren: compute.uop_ren, raddr: compute.uop_raddr,
  });
  const sInp = inst(mb, p.srams.inp, 'u_sram_inp', {
    we: sram.inp.we, waddr: sram.inp.waddr, wdata: sram.inp.wdata, ren: compute.inp_ren, raddr: compute.inp_raddr,
  });
  const sWgt = inst(mb, p.srams.wgt, 'u_sram_wgt', {
    we: sram.wgt.we, waddr: sram.wgt.waddr, wdata: sram.wgt.wdata, ren: compute.wgt_ren, raddr: compute.wgt_raddr,
  });
  const sAcc = inst(mb, p.srams.acc, 'u_sram_acc', {
    we: compute.acc_we, waddr: compute.acc_waddr, wdata: compute.acc_wdata, ren: compute.acc_ren, raddr: compute.acc_raddr,
  });
  const sOut = inst(mb, p.srams.out, 'u_sram_out', {
    we: compute.out_we, waddr: compute.out_waddr, wdata: compute.out_wdata, ren: store.out_ren, raddr: store.out_raddr,
  });
  mb.drive(uopR, sUop.rdata);
  mb.drive(inpR, sInp.rdata);
  mb.drive(wgtR, sWgt.rdata);
  mb.drive(accR, sAcc.rdata);
  mb.drive(storeR, sOut.rdata);

  // errors and finish
  mb.drive(errSet, any(fetch.err, compute.err));
  mb.drive(errIndex, sel(compute.err, rz(compute.err_index, 32), fetch.err_index));
  mb.drive(errCode, sel(compute.err, compute.err_code, fetch.err_code));
  mb.drive(finishSet, compute.finish);

  mb.output('busy', run);
  mb.output('obs_start', cat(store.obs_start, compute.obs_start, load.obs_start));
  mb.output('obs_end_load', load.obs_end);
  mb.output('obs_end_compute', compute.obs_end);
  mb.output('obs_end_store', store.obs_end);
  mb.output('obs_state_fetch', fetch.obs_state);
  mb.output('obs_state_load', load.obs_state);
  mb.output('obs_state_compute', compute.obs_state);
  mb.output('obs_state_store', store.obs_state);
  return mb;
}

function sig(mb: Mb, name: string) {
  const s = mb.m.signals.find((x) => x.name === name);
  if (!s) throw new Error(`no signal ${name}`);
  return s;
}
