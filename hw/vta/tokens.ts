/**
 * The four dependency-token queues of docs/microarch.md §5 (l2g, g2l, g2s, s2g) as 8-bit counters.
 * A token pushed in cycle c (the producer's last active cycle) is visible to a pop from c + 1; a pop
 * in cycle s frees its slot for the producer from s + 1 (the counts are registered). The compute
 * module may complete several instructions in one cycle, so its pushes are counts.
 */
import { add, sub, Mb, rz, type Expr } from '../hdl/index.ts';

export const TOKEN_BITS = 8;
export const QUEUES = ['l2g', 'g2l', 'g2s', 's2g'] as const;
/** Width of the compute module's push counts. */
export const MULTI_PUSH_BITS = 4;

export function tokensModule(name: string): Mb {
  const mb = new Mb(name, ['dependency-token counters l2g, g2l, g2s, s2g (8 bits each)']);
  for (const q of QUEUES) {
    const multi = q === 'g2l' || q === 'g2s';
    const push = mb.input(`push_${q}`, multi ? MULTI_PUSH_BITS : 1);
    const pop = mb.input(`pop_${q}`);
    const cnt = mb.reg(`${q}_q`, TOKEN_BITS);
    const next: Expr = sub(add(cnt, rz(push, TOKEN_BITS)), rz(pop, TOKEN_BITS));
    mb.next(cnt, next);
    mb.output(`${q}_count`, cnt);
  }
  return mb;
}
