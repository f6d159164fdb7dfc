/**
 * Writing an output folder as a whole, without ever deleting what vtw did not write.
 *
 * Every folder vtw writes holds a marker, OUTPUT_MARKER, listing the files it wrote. A later run may
 * replace that folder; any other folder is replaced only when it is empty, when everything in it is
 * a file this run writes anyway, or when the user passes `--force`. The current folder, its parents,
 * the home folder, a file system root and an existing file are never replaced, even with `--force`.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, parse, relative, resolve, sep } from 'node:path';
import { VtwError } from '../errors.ts';
import { quoteUser } from './quote.ts';

/** The file in each output folder that says vtw wrote it, and what it wrote. */
export const OUTPUT_MARKER = '.vtw-output.json';

export interface WriteFolderOptions {
  /** Replace a non-empty folder that vtw did not write (still never `.`, a parent of it, home, `/`, a file). */
  force?: boolean;
}

/** A one-line reason for a file system error, for messages. */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or folder', EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
    ENOTDIR: 'a part of the path is not a folder', EISDIR: 'is a folder', ENOSPC: 'no space left on the device', EEXIST: 'already exists',
    ENAMETOOLONG: 'name too long', ELOOP: 'too many symbolic links', EBUSY: 'busy', EXDEV: 'crosses file systems', EINVAL: 'invalid path',
  };
  if (code && known[code]) return `${known[code]} (${code})`;
  return quoteUser(e instanceof Error ? e.message : String(e), 120, false);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * mkdir -p without { recursive: true }, which never returns for some paths under /proc
 * (Node 20): create each missing folder from the first existing ancestor down.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    const st = lstatOrUndefined(p);
    if (st) {
      if (!st.isDirectory() && !(st.isSymbolicLink() && statIsDir(p))) {
        throw Object.assign(new Error(`${p} is not a folder`), { code: 'ENOTDIR' });
      }
      break;
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing.reverse()) mkdirSync(m);
}

function statIsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Files a marker says vtw wrote, or undefined when `dir` has no readable marker. */
function markedFiles(dir: string): Set<string> | undefined {
  try {
    const j = JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8')) as { writtenBy?: unknown; files?: unknown };
    if (j.writtenBy !== 'vtw' || !Array.isArray(j.files)) return undefined;
    return new Set(j.files.filter((f): f is string => typeof f === 'string'));
  } catch {
    return undefined;
  }
}

/** Files below `dir` as relative paths with '/' separators (an empty folder as 'name/'), lazily. */
function* walkTree(dir: string, prefix = ''): Generator<string> {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix + ent.name;
    if (ent.isDirectory()) {
      let empty = true;
      for (const f of walkTree(join(dir, ent.name), rel + '/')) {
        empty = false;
        yield f;
      }
      if (empty) yield rel + '/';
    } else yield rel;
  }
}

/** Refuse output paths that must never be replaced; returns the absolute path. */
export function checkOutputFolder(outDir: string, files: readonly string[], opts: WriteFolderOptions = {}): string {
  const out = resolve(outDir);
  const shown = quoteUser(outDir);
  const cwd = process.cwd();
  const isSameOrParent = (p: string) => p === cwd || cwd.startsWith(p.endsWith(sep) ? p : p + sep);
  if (parse(out).root === out) throw new VtwError(`--out ${shown} is a file system root; give a folder of its own, e.g. build/out`);
  if (isSameOrParent(out)) throw new VtwError(`--out ${shown} is the current folder or one of its parents; give a folder of its own, e.g. build/out`);
  if (out === resolve(homedir())) throw new VtwError(`--out ${shown} is the home folder; give a folder of its own, e.g. build/out`);
  let st: Stats | undefined;
  try {
    st = lstatOrUndefined(out);
  } catch (e) {
    throw new VtwError(`cannot write ${shown}: ${fsReason(e)}`);
  }
  if (!st) return out;
  if (!st.isDirectory()) throw new VtwError(`--out ${shown} is ${st.isSymbolicLink() ? 'a symbolic link' : 'an existing file'}, not a folder; give a new or empty folder`);
  if (lstatOrUndefined(join(out, '.git'))) throw new VtwError(`--out ${shown} holds a git repository (.git); give a folder of its own, e.g. build/out`);
  if (opts.force) return out;
  // Replaceable: what a marker says vtw wrote, the marker itself, and files this run rewrites anyway.
  const ours = new Set([...(markedFiles(out) ?? []), OUTPUT_MARKER, ...files.map((f) => f.split(sep).join('/'))]);
  let foreign: string | undefined;
  try {
    for (const f of walkTree(out)) {
      if (!ours.has(f)) {
        foreign = f;
        break;
      }
    }
  } catch (e) {
    throw new VtwError(`cannot read ${shown}: ${fsReason(e)}`);
  }
  if (foreign !== undefined) {
    throw new VtwError(`--out ${shown} holds files vtw did not write (e.g. ${quoteUser(foreign, 60)}); give a new or empty folder, or pass --force to replace it`);
  }
  return out;
}

/**
 * Write `files` (relative path → contents) into `outDir` atomically: everything goes to a sibling
 * temporary folder that replaces `outDir` only once complete, so a failure never leaves a
 * half-written output. The old folder is removed only after checkOutputFolder allowed it.
 */
export function writeFolder(outDir: string, files: Record<string, string | Uint8Array>, opts: WriteFolderOptions = {}): void {
  const names = Object.keys(files);
  for (const n of names) {
    const parts = n.split(/[\\/]/);
    if (!n || parts.some((p) => p === '' || p === '.' || p === '..') || n === OUTPUT_MARKER) {
      throw new VtwError(`output file name ${quoteUser(n)} must be a plain relative path`);
    }
  }
  const out = checkOutputFolder(outDir, names, opts);
  const shown = quoteUser(outDir);
  const tmp = `${out}.tmp-${process.pid}`;
  const old = `${out}.old-${process.pid}`;
  try {
    makeDirs(dirname(out));
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    for (const [name, data] of Object.entries(files)) {
      makeDirs(dirname(join(tmp, name)));
      writeFileSync(join(tmp, name), data);
    }
    const marker = { writtenBy: 'vtw', note: 'vtw may replace this folder as a whole; it refuses folders without this file', files: names.map((n) => n.split(sep).join('/')).sort() };
    writeFileSync(join(tmp, OUTPUT_MARKER), JSON.stringify(marker, null, 1) + '\n');
    // Move the old folder aside, put the new one in place, then delete the old one.
    const existed = lstatOrUndefined(out) !== undefined;
    if (existed) renameSync(out, old);
    try {
      renameSync(tmp, out);
    } catch (e) {
      if (existed) renameSync(old, out);
      throw e;
    }
    if (existed) rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new VtwError(`cannot write ${shown}: ${fsReason(e)}`);
  }
}
