/**
 * Slow tier (npm run test:slow): the iCE40 LUT multipliers (DSP_BUDGET 0, shift-and-add rows) on
 * random vectors of several widths and signednesses. npm test keeps their exhaustive 8x8 check
 * (test/hw-mult.test.ts) and runs them inside hx8k-1x2's board top on the conformance suite
 * (test/fpga-board-top.test.ts).
 */
import { test } from 'uvu';
import { check } from '../helpers/mult.ts';
import { verilatorTest } from '../helpers/tools.ts';

verilatorTest('iCE40 LUT multipliers (DSP_BUDGET 0, shift-and-add rows) match BigInt', async () => {
  await check({ target: 'ice40', dspBudget: 0 }, true, 8, 8);
  await check({ target: 'ice40', dspBudget: 0 }, false, 4, 8);
  await check({ target: 'ice40', dspBudget: 0 }, 'a', 8, 8);
  await check({ target: 'ice40', dspBudget: 0 }, true, 2, 3);
});

test.run();
