/**
 * Crash-safe file replacement, used for every JSON state file berth keeps.
 *
 * `writeFileAtomic` never leaves a half-written file at `path`: after a crash
 * a reader sees either the old content or the new content. It writes a temp
 * file named `.<basename>.tmp-<pid>-<random>` in the same directory (so the
 * rename stays within one filesystem), fsyncs it, renames it over `path` and
 * fsyncs the directory so the rename itself is durable. A crash may leave such
 * a dot-prefixed temp file behind; code that lists state directories should
 * ignore dotfiles.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Errors that mean "this filesystem cannot fsync a directory"; not fatal. */
const DIR_FSYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM', 'EBADF']);

function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** True when `err` is a Node system error with the given errno code. */
export function isErrno(err: unknown, code: string): boolean {
  return errnoCode(err) === code;
}

/** fsync a directory so that creations, renames and unlinks in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has(errnoCode(err) ?? '')) throw err;
  } finally {
    await fh.close();
  }
}

/** Synchronous {@link fsyncDir}, for callers that cannot yield (the event journal's append path). */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has(errnoCode(err) ?? '')) throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * Atomically replace `path` with `data`.
 *
 * `mode`, when given, is applied exactly (fchmod, so the umask does not
 * narrow it); otherwise the file is created 0666 minus the umask, like
 * `fs.writeFile`. The containing directory must exist.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let renamed = false;
  try {
    const fh = await open(tmp, 'wx', mode ?? 0o666);
    try {
      if (mode !== undefined) await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    renamed = true;
    await fsyncDir(dir);
  } catch (err) {
    if (!renamed) await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * Read and parse a JSON file. Resolves `undefined` when the file does not
 * exist; rejects (with the path in the message) when it exists but is not
 * valid JSON. The result is not validated: `T` is the caller's claim.
 */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** Reads a text file; `undefined` when it does not exist. */
export async function readTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
