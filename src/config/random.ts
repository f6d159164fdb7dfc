/** Random valid configurations, for property tests and design-space sweeps. */
import { ConfigError } from '../errors.ts';
import { Rng } from '../util/rng.ts';
import { deriveConfig, type Derived } from './derive.ts';

export interface RandomConfigRange {
  logBatch?: [number, number];
  logBlock?: [number, number];
}

/** Draw keys until a valid configuration comes out (most draws are valid; overflowing layouts are redrawn). */
export function randomConfig(rng: Rng, range: RandomConfigRange = {}): Derived {
  const [b0, b1] = range.logBatch ?? [0, 2];
  const [k0, k1] = range.logBlock ?? [1, 5];
  for (let attempt = 0; attempt < 1000; attempt++) {
    const json = {
      TARGET: rng.pick(['sim', 'pynq', 'ultra96', 'ice40'] as const),
      LOG_INP_WIDTH: rng.int(1, 3),
      LOG_WGT_WIDTH: rng.int(1, 3),
      LOG_ACC_WIDTH: rng.int(4, 5),
      LOG_BATCH: rng.int(b0, b1),
      LOG_BLOCK: rng.int(k0, k1),
      LOG_UOP_BUFF_SIZE: rng.int(8, 15),
      LOG_INP_BUFF_SIZE: rng.int(8, 16),
      LOG_WGT_BUFF_SIZE: rng.int(8, 18),
      LOG_ACC_BUFF_SIZE: rng.int(8, 17),
      ALU_MUL: rng.bool(0.3),
    };
    try {
      return deriveConfig(json);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
    }
  }
  throw new Error('randomConfig: no valid configuration in 1000 draws (range too narrow?)');
}
