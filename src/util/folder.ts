/** Writing an output folder as a whole. */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { VtwError } from '../errors.ts';

/**
 * Write `files` (relative path → contents) into `outDir` atomically: everything goes to a sibling
 * temporary folder that replaces `outDir` only once complete, so a failure never leaves a
 * half-written output and a rebuild replaces the old folder as a whole.
 */
export function writeFolder(outDir: string, files: Record<string, string | Uint8Array>): void {
  const out = resolve(outDir);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(out), { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
    for (const [name, data] of Object.entries(files)) {
      mkdirSync(dirname(join(tmp, name)), { recursive: true });
      writeFileSync(join(tmp, name), data);
    }
    mkdirSync(tmp, { recursive: true });
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new VtwError(`cannot write ${outDir}: ${(e as Error).message}`);
  }
}
