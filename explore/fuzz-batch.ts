/**
 * One batch of the differential fuzzing campaign (scripts/fuzz.ts): random legal programs
 * `seed .. seed + count - 1` on the TypeScript simulator and the Verilated RTL in lock step, on one
 * configuration. A job kind (explore/jobs.ts, 'fuzz-batch'), so `npm run fuzz -- --queue URL`
 * spreads a campaign over `vtw worker` processes; the local campaign runs the same function.
 * Mismatches leave a reproducer and a waveform in `build/fuzz/NAME/seed-SEED/` where it runs.
 */
import { join } from 'node:path';
import { deriveConfig } from '../src/config/index.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { BothEngine } from '../sim/compare.ts';
import { TsEngine } from '../sim/ts/engine.ts';
import { VerilatorEngine, buildVerilated } from '../sim/verilator/engine.ts';

export interface FuzzBatch {
  /** Label of the configuration (a preset name) and folder of its mismatches. */
  name: string;
  /** The normalized configuration JSON (Derived.keys), so a worker needs no config file. */
  config: Record<string, unknown>;
  seed: number;
  count: number;
}

export interface FuzzBatchResult {
  variant: string;
  programs: number;
  failed: number;
  /** `seed N: message`, at most MAX_LISTED. */
  failures: string[];
  /** Verilator build time (0 when the model was cached). */
  buildSeconds: number;
  seconds: number;
}

const MAX_LISTED = 20;

export async function runFuzzBatch(b: FuzzBatch, onProgram?: (failed: number) => void, onBuild?: (m: string) => void): Promise<FuzzBatchResult> {
  const d = deriveConfig(b.config);
  const build = await buildVerilated(d, onBuild);
  const engine = new BothEngine(new TsEngine(), new VerilatorEngine(), { failDir: join('build', 'fuzz', b.name, `seed-${b.seed}`) });
  const t0 = performance.now();
  const failures: string[] = [];
  let failed = 0;
  for (let i = 0; i < b.count; i++) {
    const r = await engine.run(randomProgram(d, b.seed + i).program);
    if (r.error) {
      failed++;
      if (failures.length < MAX_LISTED) failures.push(`seed ${b.seed + i}: ${r.error.message}`);
    }
    onProgram?.(failed);
  }
  return { variant: d.variant, programs: b.count, failed, failures, buildSeconds: +build.seconds.toFixed(1), seconds: +((performance.now() - t0) / 1000).toFixed(1) };
}
