import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { UnavailableError } from '../errors.js';

/**
 * An exclusive claim on a data root, so a second berthd cannot corrupt it.
 *
 * `<data-root>/berthd.lock` holds "<pid> <start time>" of the owner; the
 * start time (field 22 of /proc/<pid>/stat) guards against pid reuse. It is
 * created with link(2), which fails if the file exists. A lock whose owner is
 * gone (kill -9, crash) is stale and is taken over by rename(2); the taker
 * then re-reads the file, so of two daemons racing for a stale lock only the
 * one whose identity stands in it proceeds.
 */
export class DataRootLock {
  readonly path: string;
  private readonly identity: string;

  private constructor(path: string, identity: string) {
    this.path = path;
    this.identity = identity;
  }

  static async acquire(dataRoot: string): Promise<DataRootLock> {
    const path = join(dataRoot, 'berthd.lock');
    const identity = await processIdentity(process.pid);
    if (identity === undefined) throw new Error('cannot read own process start time from /proc');
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, identity + '\n', { mode: 0o644 });
    try {
      try {
        await link(temp, path);
        return new DataRootLock(path, identity);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = (await readFile(path, 'utf8').catch(() => '')).trim();
      if (holder !== '' && holder !== identity && (await isAlive(holder))) {
        throw inUse(dataRoot, holder);
      }
      await rename(temp, path);
      await new Promise((r) => setTimeout(r, 50));
      const now = (await readFile(path, 'utf8').catch(() => '')).trim();
      if (now !== identity) throw inUse(dataRoot, now);
      return new DataRootLock(path, identity);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  /** Gives the data root up, if this process still holds it. */
  async release(): Promise<void> {
    const holder = (await readFile(this.path, 'utf8').catch(() => '')).trim();
    if (holder === this.identity) await unlink(this.path).catch(() => undefined);
  }
}

function inUse(dataRoot: string, holder: string): UnavailableError {
  const pid = holder.split(' ')[0] ?? '?';
  return new UnavailableError(
    `data root ${dataRoot} is in use by another berthd (pid ${pid}); stop it, or start this one with a different --data-root`,
  );
}

/** "<pid> <start time>" for a live process, undefined when it does not exist. */
export async function processIdentity(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is parenthesised and may contain spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const startTime = fields[19];
    if (state === 'Z' || state === 'X' || startTime === undefined) return undefined;
    return `${pid} ${startTime}`;
  } catch {
    return undefined;
  }
}

async function isAlive(identity: string): Promise<boolean> {
  const pid = Number.parseInt(identity.split(' ')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return (await processIdentity(pid)) === identity;
}
