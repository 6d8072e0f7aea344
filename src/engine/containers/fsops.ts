import { execFile, spawn } from 'node:child_process';
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { promisify } from 'node:util';

import { ConflictError, InvalidParameterError, NotFoundError } from '../../errors.js';
import { extractLayer } from '../../storage/tar-extract.js';
import type { Container, ContainerService } from './service.js';

const run = promisify(execFile);

/**
 * Resolves `path` inside `root` the way a process in the container would,
 * following symlinks but never leaving `root` (moby's FollowSymlinkInScope).
 * Returns the host path.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let pending = posix.normalize(`/${path}`).split('/').filter(Boolean);
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++links > 255) throw new InvalidParameterError(`too many symlinks resolving ${path}`);
      const target = await readlink(host);
      const parts = target.split('/').filter(Boolean);
      if (target.startsWith('/')) resolved = [];
      pending = [...parts, ...pending];
      continue;
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/** Go's os.FileMode bits for a stat, as `X-Docker-Container-Path-Stat` carries them. */
function goFileMode(st: Stats): number {
  let mode = st.mode & 0o777;
  if (st.mode & 0o4000) mode += 0x800000;
  if (st.mode & 0o2000) mode += 0x400000;
  if (st.mode & 0o1000) mode += 0x100000;
  if (st.isDirectory()) mode += 0x80000000;
  else if (st.isSymbolicLink()) mode += 0x8000000;
  else if (st.isFIFO()) mode += 0x2000000;
  else if (st.isSocket()) mode += 0x1000000;
  else if (st.isCharacterDevice()) mode += 0x4000000 + 0x200000;
  else if (st.isBlockDevice()) mode += 0x4000000;
  return mode;
}

export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Filesystem operations on a container: top, changes, export, and `docker cp` both ways. */
export class ContainerFiles {
  private readonly containers: ContainerService;

  constructor(containers: ContainerService) {
    this.containers = containers;
  }

  /** `docker top`: the host's `ps` output, rows limited to the container's processes. */
  async top(c: Container, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    if (!c.running) throw new ConflictError(`Container ${c.id} is not running`);
    const pids = new Set(await this.containers.deps.driver.pids(c.record.Runtime, c.id));
    const args = psArgs.trim() === '' ? ['-ef'] : psArgs.trim().split(/\s+/);
    let stdout: string;
    try {
      ({ stdout } = await run('ps', args, { maxBuffer: 16 * 1024 * 1024 }));
    } catch (err) {
      throw new InvalidParameterError(
        `ps: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`,
      );
    }
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    const titles = (lines[0] ?? '').trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol === -1) throw new InvalidParameterError(`Couldn't find PID field in ps output`);
    const processes = lines.slice(1).flatMap((line) => {
      const fields = line.trim().split(/\s+/);
      if (!pids.has(Number(fields[pidCol]))) return [];
      const row = fields.slice(0, titles.length - 1);
      row.push(fields.slice(titles.length - 1).join(' '));
      return [row];
    });
    this.containers.publish(c, 'top');
    return { Titles: titles, Processes: processes };
  }

  /** `docker diff`: what the container changed (0 modified, 1 added, 2 deleted), from its overlay upper dir. */
  async changes(c: Container): Promise<{ Path: string; Kind: number }[]> {
    const image = this.containers.deps.images.meta.get(c.record.Image);
    const lowers = image ? this.containers.deps.images.lowerDirs(image) : [];
    const upper = join(this.containers.dir(c), 'upper');
    const out: { Path: string; Kind: number }[] = [];
    const existsInLower = async (rel: string): Promise<boolean> => {
      for (const l of lowers)
        if (
          await lstat(join(l, rel)).then(
            () => true,
            () => false,
          )
        )
          return true;
      return false;
    };
    const walk = async (rel: string): Promise<void> => {
      const entries = await readdir(join(upper, rel), { withFileTypes: true }).catch(() => []);
      for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const path = posix.join('/', rel, e.name);
        const st = await lstat(join(upper, rel, e.name));
        if (st.isCharacterDevice() && st.rdev === 0) {
          out.push({ Path: path, Kind: 2 });
          continue;
        }
        out.push({ Path: path, Kind: (await existsInLower(posix.join(rel, e.name))) ? 0 : 1 });
        if (e.isDirectory()) await walk(posix.join(rel, e.name));
      }
    };
    await walk('');
    return out;
  }

  /** Bytes the container added in its upper dir (SizeRw). */
  async upperSize(c: Container): Promise<number> {
    const walk = async (dir: string): Promise<number> => {
      let total = 0;
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = join(dir, e.name);
        if (e.isDirectory()) total += await walk(p);
        else if (e.isFile()) total += (await lstat(p).catch(() => undefined))?.size ?? 0;
      }
      return total;
    };
    return walk(join(this.containers.dir(c), 'upper'));
  }

  /** `docker export`: the container's filesystem as a tar stream. */
  exportTar(c: Container): Readable {
    const out = new PassThrough();
    void this.containers
      .withRootfs(c, async (rootfs) => {
        const entries = (await readdir(rootfs)).sort();
        await pipeTar(['-C', rootfs, '--numeric-owner', '-cf', '-', ...entries], out);
      })
      .then(() => this.containers.publish(c, 'export'))
      .catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  /** `HEAD /containers/{id}/archive`: stat of a path in the container. */
  async stat(c: Container, path: string): Promise<PathStat> {
    return this.containers.withRootfs(c, async (rootfs) => {
      const host = await resolveInRoot(rootfs, path);
      const st = await lstat(host).catch(() => undefined);
      if (!st) throw new NotFoundError(`Could not find the file ${path} in container ${c.name}`);
      return {
        name: basename(path) || '/',
        size: st.size,
        mode: goFileMode(st),
        mtime: st.mtime.toISOString(),
        linkTarget: '',
      };
    });
  }

  /** `GET /containers/{id}/archive`: a tar of the path, its top entry named as the path's base name. */
  async getArchive(c: Container, path: string): Promise<{ stat: PathStat; tar: Readable }> {
    const stat = await this.stat(c, path);
    const out = new PassThrough();
    void this.containers
      .withRootfs(c, async (rootfs) => {
        const host = await resolveInRoot(rootfs, path);
        const name = basename(host) || '.';
        const wanted = stat.name === '/' ? '.' : stat.name;
        const transform =
          name !== wanted ? ['--transform', `s,^${escapeSed(name)},${escapeSed(wanted)},`] : [];
        if (path.endsWith('/.')) {
          await pipeTar(['-C', host, '--numeric-owner', '-cf', '-', ...(await readdir(host)).sort()], out);
        } else {
          await pipeTar(['-C', dirname(host), '--numeric-owner', ...transform, '-cf', '-', name], out);
        }
      })
      .then(() => this.containers.publish(c, 'archive-path'))
      .catch((err: unknown) => out.destroy(err as Error));
    return { stat, tar: out };
  }

  /** `PUT /containers/{id}/archive`: extracts a tar into a directory of the container, refusing escapes. */
  async putArchive(c: Container, path: string, tar: Readable, noOverwriteDirNonDir: boolean): Promise<void> {
    if (c.record.HostConfig.ReadonlyRootfs && c.running) {
      throw new ConflictError('container rootfs is marked read-only');
    }
    void noOverwriteDirNonDir;
    await this.containers.withRootfs(c, async (rootfs) => {
      const host = await resolveInRoot(rootfs, path);
      const st = await lstat(host).catch(() => undefined);
      if (!st) throw new NotFoundError(`Could not find the file ${path} in container ${c.name}`);
      if (!st.isDirectory()) throw new InvalidParameterError(`extraction point is not a directory`);
      await extractLayer(tar, host);
    });
    this.containers.publish(c, 'extract-to-dir');
  }
}

function escapeSed(text: string): string {
  return text.replace(/[\\,.*[\]^$]/g, '\\$&');
}

function pipeTar(args: string[], out: PassThrough): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.pipe(out);
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0 || code === 1) resolve();
      else reject(new Error(`tar failed: ${stderr.trim()}`));
    });
  });
}
