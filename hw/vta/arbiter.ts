/**
 * The memory arbiter of docs/microarch.md §8.1: at most one grant per cycle, to the first requesting
 * client in the order fetch > uop > acc > wgt > inp > store whose request can be accepted (fewer than
 * MEM_OUTSTANDING read, or write, bursts in flight). A read burst occupies a slot until its last beat
 * (free for a grant in the next cycle), a write burst until its response. Read beats return in
 * grant order and are routed to their client through a FIFO of (client, beats).
 *
 * MEM_REQ_REG (§21): each request line passes a register `req_q_<client>` first (set while the client
 * asserts it and is not granted), and the grant reads the registers: a request rising in cycle c is
 * granted from c + 1 on. Requests are sticky until granted (§8.1), so the client's address and beat
 * count are still the registered request's; the grant then depends on registers only.
 */
import type { Derived } from '../../src/config/derive.ts';
import { CLIENTS } from '../../src/uarch/index.ts';
import { add, cat, eq, lit, sub, type Expr, type Module } from '../hdl/index.ts';
import { BEATS_BITS } from './burst.ts';
import { Mb, all, any, bitsFor, c, eqc, inc, inst, inv, ltc, nonZero, pow2ceil, rz, sel } from '../hdl/index.ts';

export const CLIENT_NAMES = CLIENTS;
export const READ_CLIENTS = CLIENTS.filter((n) => n !== 'store');

export function arbiterModule(name: string, d: Derived, fifo: Module): Mb {
  const mb = new Mb(name, ['memory arbiter: fixed priority fetch > uop > acc > wgt > inp > store, outstanding limits, read-beat routing']);
  const outs = d.mem.outstanding;
  const cw = bitsFor(outs);
  const run = mb.input('run');
  const req = CLIENTS.map((n) => mb.input(`req_${n}`));
  const addr = CLIENTS.map((n) => mb.input(`addr_${n}`, 32));
  const beats = CLIENTS.map((n) => mb.input(`beats_${n}`, BEATS_BITS));
  const rvalid = mb.input('mem_rvalid');
  const bvalid = mb.input('mem_bvalid');

  const reads = mb.reg('reads_q', cw);
  const writes = mb.reg('writes_q', cw);
  const canRead = ltc(reads, outs);
  const canWrite = ltc(writes, outs);
  const isWrite = CLIENTS.map((n) => n === 'store');
  const reqQ = d.memReqReg ? CLIENTS.map((n) => mb.reg(`req_q_${n}`, 1)) : null;
  const ok = CLIENTS.map((_, i) => all(run, reqQ ? reqQ[i] : req[i], isWrite[i] ? canWrite : canRead));
  const grant: Expr[] = [];
  let taken: Expr = lit(1, 0);
  for (let i = 0; i < CLIENTS.length; i++) {
    grant.push(mb.w(`grant_${CLIENTS[i]}_w`, all(ok[i], inv(taken))));
    taken = any(taken, ok[i]);
  }
  const anyGrant = mb.w('any_grant', taken);
  const readGrant = mb.w('read_grant', all(anyGrant, inv(grant[CLIENTS.indexOf('store')])));
  const writeGrant = grant[CLIENTS.indexOf('store')];
  let gAddr: Expr = lit(32, 0);
  let gBeats: Expr = lit(BEATS_BITS, 0);
  let gClient: Expr = lit(3, 0);
  for (let i = CLIENTS.length - 1; i >= 0; i--) {
    gAddr = sel(grant[i], addr[i], gAddr);
    gBeats = sel(grant[i], beats[i], gBeats);
    gClient = sel(grant[i], c(3, i), gClient);
  }
  if (reqQ) reqQ.forEach((r, i) => mb.next(r, all(req[i], inv(grant[i]))));
  mb.output('mem_req_valid', anyGrant);
  mb.output('mem_req_write', writeGrant);
  mb.output('mem_req_addr', gAddr);
  mb.output('mem_req_beats', gBeats);
  CLIENTS.forEach((n, i) => mb.output(`grant_${n}`, grant[i]));

  // read routing: (client, beats) of every read burst in flight, oldest first
  const routePop = mb.wireLater('route_pop', 1);
  const rq = inst(mb, fifo, 'route', { push: readGrant, din: cat(gClient, gBeats), pop: routePop });
  const head = rq.dout;
  const hClient = head.slice(BEATS_BITS + 2, BEATS_BITS);
  const hBeats = head.slice(BEATS_BITS - 1, 0);
  const beat = mb.reg('beat_cnt', BEATS_BITS);
  // a beat with no burst in flight (left over from before a launch) is ignored
  const beatOk = mb.w('beat_ok', all(rvalid, rq.valid));
  const lastBeat = mb.w('last_beat', all(beatOk, eq(inc(beat), hBeats)));
  mb.drive(routePop, lastBeat);
  mb.next(beat, sel(lastBeat, lit(BEATS_BITS, 0), inc(beat)), beatOk);
  mb.next(reads, sub(add(reads, rz(readGrant, cw)), rz(lastBeat, cw)));
  mb.next(writes, sub(add(writes, rz(writeGrant, cw)), rz(all(bvalid, nonZero(writes)), cw)));
  READ_CLIENTS.forEach((n) => mb.output(`rbeat_${n}`, all(beatOk, eqc(hClient, CLIENTS.indexOf(n)))));
  mb.sink(rq.count, rq.full);
  return mb;
}

export function routeFifoDepth(d: Derived): number {
  return pow2ceil(Math.max(2, d.mem.outstanding));
}
export const ROUTE_BITS = BEATS_BITS + 3;
