/**
 * Reading a user's input file with a size limit: a device like /dev/zero, a huge file or a folder
 * ends in one line instead of reading until memory runs out.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { VtwError } from '../errors.ts';
import { fsReason } from './folder.ts';
import { quoteUser } from './quote.ts';

/** Byte limits for each kind of input (documented in docs/program-format.md and docs/config.md). */
export const INPUT_LIMITS = {
  config: 1 << 20,
  container: 256 << 20, // below V8's longest string (~512 Mi characters)
  assembly: 64 << 20,
} as const;

function mib(n: number): string {
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n} bytes`;
}

/**
 * The bytes of `path`, refusing more than `limit` (a regular file by its size, anything else —
 * a device, a pipe — after reading `limit` bytes). `what` names the input in messages ("config file").
 */
export function readInputFile(path: string, what: string, limit: number, make: (message: string) => Error = (m) => new VtwError(m)): Buffer {
  const shown = quoteUser(path);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw make(`cannot read ${what} ${shown}: ${fsReason(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw make(`${what} ${shown} is a folder, not a file`);
    const tooBig = () => make(`${what} ${shown} is larger than the ${mib(limit)} a ${what} may have`);
    if (st.isFile() && st.size > limit) throw tooBig();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        throw make(`cannot read ${what} ${shown}: ${fsReason(e)}`);
      }
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > limit) throw tooBig();
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** Text of an input file as UTF-8, without a leading byte-order mark. */
export function readInputText(path: string, what: string, limit: number, make?: (message: string) => Error): string {
  return stripBom(readInputFile(path, what, limit, make).toString('utf8'));
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
