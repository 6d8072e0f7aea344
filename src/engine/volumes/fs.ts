import { execFile } from 'node:child_process';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { SystemError } from '../../errors.js';
import { isErrno } from '../../storage/atomic.js';
import { mountArgs, type MountSpec } from './options.js';

/** File-system work of the local volume driver: mounts, sizes, copies. */

const run = promisify(execFile);

function stderrOf(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  const text = typeof stderr === 'string' ? stderr.trim() : '';
  return text !== '' ? text : (err as Error).message;
}

/** Decodes mountinfo's octal escapes (`\040` for a space). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Every mount point of this mount namespace, in mount order (duplicates kept for stacked mounts). */
export async function mountPoints(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined && field !== '') out.push(unescapeMountPath(field));
  }
  return out;
}

/** Whether `path` is a mount point. */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return (await mountPoints())
    .filter((p) => p === dir || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** Mounts `spec` on `target`. @throws SystemError with mount(8)'s message. */
export async function mountVolume(spec: MountSpec, target: string): Promise<void> {
  try {
    await run('mount', mountArgs(spec, target));
  } catch (err) {
    throw new SystemError(`failed to mount local volume: ${stderrOf(err)}`, { cause: err });
  }
}

/**
 * Unmounts everything mounted at `target` (stacked mounts included),
 * detaching lazily when a plain unmount is refused (busy).
 * @throws SystemError when `target` is still a mount point afterwards.
 */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 16 && (await isMountPoint(target)); i++) {
    try {
      await run('umount', [target]);
    } catch (err) {
      try {
        await run('umount', ['-l', target]);
      } catch {
        throw new SystemError(`failed to unmount local volume at ${target}: ${stderrOf(err)}`, {
          cause: err,
        });
      }
    }
  }
  if (await isMountPoint(target)) throw new SystemError(`failed to unmount local volume at ${target}`);
}

/**
 * Bytes used under `dir` as moby's directory.Size counts them: regular
 * content only (directories and empty files add nothing), symlinks by their
 * own size, hard links once. Entries that vanish meanwhile are skipped.
 * @throws when `dir` itself cannot be read.
 */
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (path: string, top: boolean): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(path);
    } catch (err) {
      if (!top && (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR'))) return;
      throw err;
    }
    for (const name of names) {
      const p = join(path, name);
      let st;
      try {
        st = await lstat(p, { bigint: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      if (st.isDirectory()) {
        await walk(p, false);
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (st.size === 0n || seen.has(key)) continue;
      seen.add(key);
      total += Number(st.size);
    }
  };
  await walk(dir, true);
  return total;
}

/** Whether a directory has no entries. */
export async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir)).length === 0;
}

/**
 * Copies the content of `from` into `to` with `cp -a`: ownership, modes,
 * times, symlinks (not followed), hard links and special files kept; the
 * attributes of `from` itself are applied to `to`, as Docker's copy-up does.
 */
export async function copyTree(from: string, to: string): Promise<void> {
  try {
    await run('cp', ['-a', '--', `${from}/.`, `${to}/`]);
  } catch (err) {
    throw new SystemError(`copying ${from} into the volume failed: ${stderrOf(err)}`, { cause: err });
  }
}
