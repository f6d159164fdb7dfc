/**
 * Writes ResNet-18 with seeded random weights (compiler/models/resnet18.ts) as ONNX and prints its
 * SHA-256; the same seed gives the same bytes (docs/models.md, "ResNet-18 (seeded)").
 *
 *   tsx scripts/build-resnet18.ts [--out build/models/resnet18.onnx] [--seed 18]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildResnet18, RESNET18_SEED } from '../compiler/models/resnet18.ts';
import { VtwError } from '../src/errors.ts';

const USAGE = 'usage: build-resnet18 [--out FILE.onnx] [--seed N]';

function main(): void {
  const args = process.argv.slice(2);
  let out = 'build/models/resnet18.onnx';
  let seed = RESNET18_SEED;
  for (let i = 0; i < args.length; i += 2) {
    const value = args[i + 1];
    if (value === undefined) throw new VtwError(`${args[i]} needs a value; ${USAGE}`);
    if (args[i] === '--out') out = value;
    else if (args[i] === '--seed') {
      seed = Number(value);
      if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new VtwError(`--seed needs a whole number from 0 to 4294967295, got '${value}'`);
    } else throw new VtwError(`unknown option '${args[i]}'; ${USAGE}`);
  }
  const bytes = buildResnet18(seed);
  try {
    mkdirSync(dirname(out), { recursive: true });
    // a temp file renamed into place: no half-written model if this is interrupted
    writeFileSync(`${out}.tmp`, bytes);
    renameSync(`${out}.tmp`, out);
  } catch (e) {
    throw new VtwError(`cannot write ${out} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): choose a writable --out`);
  }
  console.log(`${out}: ResNet-18, seed ${seed}, ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`);
}

try {
  main();
} catch (e) {
  if (!(e instanceof VtwError)) throw e;
  console.error(`build-resnet18: error: ${e.message}`);
  process.exitCode = 1;
}
