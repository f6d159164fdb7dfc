/**
 * The four dependency-token queues of docs/microarch.md §5 (l2g, g2l, g2s, s2g) as 8-bit counters.
 * A token pushed in cycle c (the producer's last active cycle) is visible to a pop from c + 1; a pop
 * in cycle s frees its slot for the producer from s + 1 (the counts are registered). The compute
 * module may complete several instructions in one cycle, so its pushes are counts.
 *
 * With TOKEN_PUSH_REG (§19, `pushReg`) each queue's push first goes to a register `<q>_push_q`, and
 * the counter adds that register: a push in c is counted from c + 2 (visible to pops then), and the
 * producer's occupancy `<q>_occ` (counter + registered push, from registers only) counts it from
 * c + 1 as before, so its room check never lets the queue overflow. The producers' push logic then
 * ends at a plain register instead of the counter's adder.
 */
import { add, sub, Mb, rz, type Expr } from '../hdl/index.ts';

export const TOKEN_BITS = 8;
export const QUEUES = ['l2g', 'g2l', 'g2s', 's2g'] as const;
/** Width of the compute module's push counts. */
export const MULTI_PUSH_BITS = 4;

export function tokensModule(name: string, pushReg = false): Mb {
  const mb = new Mb(name, [
    pushReg
      ? 'dependency-token counters l2g, g2l, g2s, s2g (8 bits each), pushes registered first (TOKEN_PUSH_REG)'
      : 'dependency-token counters l2g, g2l, g2s, s2g (8 bits each)',
  ]);
  for (const q of QUEUES) {
    const multi = q === 'g2l' || q === 'g2s';
    const pw = multi ? MULTI_PUSH_BITS : 1;
    const push = mb.input(`push_${q}`, pw);
    const pop = mb.input(`pop_${q}`);
    const cnt = mb.reg(`${q}_q`, TOKEN_BITS);
    let added: Expr = push;
    if (pushReg) {
      const pushQ = mb.reg(`${q}_push_q`, pw);
      mb.next(pushQ, push);
      added = pushQ;
    }
    const next: Expr = sub(add(cnt, rz(added, TOKEN_BITS)), rz(pop, TOKEN_BITS));
    mb.next(cnt, next);
    mb.output(`${q}_count`, cnt);
    // occupancy the producer's room check sees: the count plus the registered push (< 256: the
    // room check keeps count + pending <= TOKEN_QUEUE_DEPTH)
    if (pushReg) mb.output(`${q}_occ`, add(cnt, rz(added, TOKEN_BITS)));
  }
  return mb;
}
