/**
 * The local half of `docker cp` (moby/go-archive copy.go): path semantics
 * (a trailing `/` asserts a directory, a trailing `/.` means "the contents
 * of"), tarring a local file or directory with its name rebased, renaming
 * the entries of an archive, and extracting an archive into a directory
 * without letting it write outside of it.
 */
import { createReadStream, createWriteStream, promises as fsp, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { PassThrough, Transform, type Readable, type Writable } from 'node:stream';

import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';

type HeaderArgument = Partial<Header> & Pick<Header, 'name'>;

/** Pipes a (streamx or node) readable into a node writable, resolving once it is written. */
function pipeTo(
  source: { pipe(dest: Writable): unknown; on(event: 'error', fn: (err: Error) => void): unknown },
  dest: Writable,
): Promise<void> {
  return new Promise((resolve, reject) => {
    source.on('error', reject);
    dest.on('error', reject);
    dest.on('finish', () => resolve());
    source.pipe(dest);
  });
}

// ---------------------------------------------------------------------------
// Go's path/filepath on slash paths

/** filepath.Clean. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** filepath.Base: the last element, `.` for an empty path, `/` for the root. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** filepath.Dir: all but the last element, cleaned. */
export function goDir(p: string): string {
  const slash = p.lastIndexOf('/');
  return goClean(slash === -1 ? '' : p.slice(0, slash + 1));
}

/** filepath.Join. */
export function goJoin(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length === 0 ? '' : goClean(nonEmpty.join('/'));
}

function hasTrailingSeparator(p: string): boolean {
  return p.endsWith('/');
}

function specifiesCurrentDir(p: string): boolean {
  return goBase(p) === '.';
}

/** archive's assertsDirectory: a trailing `/` or `/.`. */
export function assertsDirectory(p: string): boolean {
  return hasTrailingSeparator(p) || specifiesCurrentDir(p);
}

/**
 * archive.PreserveTrailingDotOrSeparator: the cleaned path with the
 * original's trailing `/.` or `/` put back.
 */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(out)) out += '/';
    out += '.';
  }
  if (!hasTrailingSeparator(out) && hasTrailingSeparator(original)) out += '/';
  return out;
}

/** archive.SplitPathDirEntry: directory and base, keeping a trailing `.`. */
export function splitPathDirEntry(p: string): { dir: string; base: string } {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return { dir: goDir(cleaned), base: goBase(cleaned) };
}

/** docker cp's resolveLocalPath: absolute, with the trailing `/` or `/.` kept. */
export function resolveLocalPath(local: string, cwd: string = process.cwd()): string {
  const abs = goClean(posix.isAbsolute(local) ? local : goJoin(cwd, local));
  return preserveTrailingDotOrSeparator(abs, local);
}

/**
 * docker cp's splitCpArg: `CONTAINER:PATH`, unless the argument is an
 * absolute path or starts with `.` (a local `./file:name`).
 */
export function splitCpArg(arg: string): { container: string; path: string } {
  if (arg.startsWith('/')) return { container: '', path: arg };
  const colon = arg.indexOf(':');
  if (colon === -1 || arg.slice(0, colon).startsWith('.')) return { container: '', path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

/** archive.GetRebaseName: the resolved path with the original's trailing parts, and the name to rebase to. */
export function getRebaseName(path: string, resolved: string): { resolved: string; rebaseName: string } {
  let out = resolved;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(out)) out += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(out)) out += '/';
  return { resolved: out, rebaseName: goBase(path) !== goBase(out) ? goBase(path) : '' };
}

/** archive.CopyInfo. */
export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName: string;
}

/** An error of the copy, worded as go-archive's. */
export class CopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyError';
  }
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  ELOOP: 'too many levels of symbolic links',
  EISDIR: 'is a directory',
};

/** A Node file-system error as Go's: `lstat /x: no such file or directory`. */
export function goPathError(err: unknown, op: string, p: string): CopyError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new CopyError(`${op} ${p}: ${ERRNO_TEXT[code] ?? (err as Error).message}`);
}

async function lstatOrError(p: string, op = 'lstat'): Promise<Stats> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    throw goPathError(err, op, p);
  }
}

/**
 * archive.CopyInfoSourcePath: a local source; symlinks before the last
 * element are resolved, the last one too with `followLink`.
 */
export async function copyInfoSourcePath(p: string, followLink: boolean): Promise<CopyInfo> {
  let resolved: string;
  let rebaseName = '';
  if (followLink) {
    let real: string;
    try {
      real = await fsp.realpath(p);
    } catch (err) {
      throw goPathError(err, 'lstat', p);
    }
    ({ resolved, rebaseName } = getRebaseName(p, real));
  } else {
    const slash = p.lastIndexOf('/');
    const dirPath = p.slice(0, slash + 1);
    const basePath = p.slice(slash + 1);
    let realDir: string;
    try {
      realDir = await fsp.realpath(dirPath === '' ? '.' : dirPath);
    } catch (err) {
      throw goPathError(err, 'lstat', dirPath);
    }
    resolved = (realDir === '/' ? '' : realDir) + '/' + basePath;
    if (hasTrailingSeparator(p) && goBase(p) !== goBase(resolved)) rebaseName = goBase(p);
  }
  const st = await lstatOrError(resolved);
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/**
 * archive.CopyInfoDestinationPath: a local destination, symlinks followed;
 * it need not exist, but its parent must be a directory.
 */
export async function copyInfoDestinationPath(p: string): Promise<CopyInfo> {
  let current = p;
  let st: Stats | undefined;
  try {
    st = await fsp.lstat(current);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw goPathError(err, 'lstat', current);
  }
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new CopyError(`too many symlinks in ${p}`);
    let target = await fsp.readlink(current);
    if (!posix.isAbsolute(target)) target = goJoin(splitPathDirEntry(current).dir, target);
    current = target;
    try {
      st = await fsp.lstat(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw goPathError(err, 'lstat', current);
      st = undefined;
    }
  }
  if (st) return { path: current, exists: true, isDir: st.isDirectory(), rebaseName: '' };
  const parent = splitPathDirEntry(current).dir;
  let parentStat: Stats;
  try {
    parentStat = await fsp.stat(parent);
  } catch (err) {
    throw goPathError(err, 'stat', parent);
  }
  if (!parentStat.isDirectory()) throw new CopyError('not a directory');
  return { path: current, exists: false, isDir: false, rebaseName: '' };
}

/** What prepareArchiveCopy decides: extract into `dstDir`, renaming `from` to `to` when set. */
export interface ArchivePlan {
  dstDir: string;
  rebase?: { from: string; to: string };
}

/**
 * archive.PrepareArchiveCopy's decision: where to extract, and how the
 * source's entries must be renamed so that the copy lands where docker
 * puts it.
 * @throws CopyError `cannot copy directory` or `no such directory`.
 */
export function planArchiveCopy(src: CopyInfo, dst: CopyInfo): ArchivePlan {
  const { dir: dstDir, base: dstBase } = splitPathDirEntry(dst.path);
  let srcBase = splitPathDirEntry(src.path).base;
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw new CopyError('cannot copy directory');
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new CopyError('no such directory');
  if (src.rebaseName !== '') srcBase = src.rebaseName;
  return { dstDir, rebase: { from: srcBase, to: dstBase } };
}

/** archive's newNameRebaser: `from` at the start of an entry name becomes `to`. */
export function nameRebaser(from: string, to: string): (name: string) => string {
  const oldBase = from.replace(/\/+$/, '');
  const newBase = to.replace(/\/+$/, '');
  if (oldBase === '') {
    return (name) => {
      const n = name.replace(/^\/+/, '');
      return newBase === '' ? n : `${newBase}/${n}`;
    };
  }
  return (name) => {
    if (!name.startsWith(oldBase)) return name;
    const suffix = name.slice(oldBase.length);
    if (suffix !== '' && !suffix.startsWith('/')) return name;
    return newBase + suffix;
  };
}

/** archive.RebaseArchiveEntries: a copy of the tar stream with entry (and hard link) names rebased. */
export function rebaseArchive(source: Readable, from: string, to: string): Readable {
  const rebase = nameRebaser(from, to);
  const extract = tarExtract();
  const pack = tarPack();
  const out = new PassThrough();
  extract.on('entry', (header, stream, next) => {
    const renamed: HeaderArgument = { ...header, name: rebase(header.name) };
    if (header.type === 'link' && header.linkname) renamed.linkname = rebase(header.linkname);
    const entry = pack.entry(renamed, (err) => next(err ?? undefined));
    stream.pipe(entry);
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (err: Error) => out.destroy(err));
  source.on('error', (err: Error) => out.destroy(err));
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out);
  source.pipe(extract);
  return out;
}

function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  const dev = BigInt(rdev);
  return {
    devmajor: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    devminor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}

/**
 * archive.TarResourceRebase: a tar of a local file or directory, entries
 * named from its base (`dir`, `dir/a`…; `./a` for a `dir/.` source), the
 * base replaced by `rebaseName` when set. Sockets are left out.
 */
export function tarResource(sourcePath: string, rebaseName = ''): Readable {
  const pack = tarPack();
  const out = new PassThrough();
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out);
  const { dir: sourceDir, base: sourceBase } = splitPathDirEntry(sourcePath);
  const inodes = new Map<string, string>();

  const add = async (filePath: string, name: string, st: Stats): Promise<void> => {
    const mode = st.mode & 0o7777;
    const header: HeaderArgument = {
      name,
      mode,
      uid: st.uid,
      gid: st.gid,
      mtime: st.mtime,
    };
    if (st.isDirectory()) {
      header.type = 'directory';
      if (!header.name.endsWith('/')) header.name += '/';
    } else if (st.isSymbolicLink()) {
      header.type = 'symlink';
      header.linkname = await fsp.readlink(filePath);
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) {
        header.type = 'link';
        header.linkname = first;
        header.size = 0;
      } else {
        if (st.nlink > 1) inodes.set(key, name);
        header.type = 'file';
        header.size = st.size;
      }
    } else if (st.isFIFO()) {
      header.type = 'fifo';
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      header.type = st.isCharacterDevice() ? 'character-device' : 'block-device';
      Object.assign(header, deviceNumbers(st.rdev));
    } else {
      return; // sockets are not archived
    }
    if (header.type === 'file') {
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
        const file = createReadStream(filePath);
        file.on('error', reject);
        file.pipe(entry as unknown as Writable);
      });
    } else {
      await new Promise<void>((resolve, reject) => {
        pack.entry(header, (err) => (err ? reject(err) : resolve()));
      });
    }
  };

  const walk = async (filePath: string, rel: string): Promise<void> => {
    const st = await fsp.lstat(filePath);
    let name = rel;
    if (sourceBase === '.' && rel !== '.') name = `./${rel}`;
    if (rebaseName !== '') {
      const replacement = rebaseName === '/' ? '' : rebaseName;
      const at = name.indexOf(sourceBase);
      if (at !== -1) name = name.slice(0, at) + replacement + name.slice(at + sourceBase.length);
    }
    await add(filePath, name, st);
    if (st.isDirectory()) {
      const children = (await fsp.readdir(filePath)).sort();
      for (const child of children) {
        await walk(goJoin(filePath, child), rel === '.' ? child : `${rel}/${child}`);
      }
    }
  };

  (async () => {
    await fsp.lstat(sourcePath);
    await walk(sourceBase === '.' ? sourceDir : goJoin(sourceDir, sourceBase), sourceBase);
    pack.finalize();
  })().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}

/** The total size of the regular files under a local path (docker cp's localContentSize). */
export async function localContentSize(p: string): Promise<number> {
  const st = await fsp.lstat(p);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let total = 0;
  for (const child of await fsp.readdir(p)) total += await localContentSize(goJoin(p, child));
  return total;
}

async function isInside(root: string, p: string): Promise<boolean> {
  const real = await fsp.realpath(p);
  return real === root || real.startsWith(root === '/' ? '/' : root + '/');
}

/**
 * archive.Untar with docker cp's options (no chown, no directory replaced
 * by a file or the reverse): extracts into `dest`, which must exist.
 * Entries that would land outside of it are refused; device nodes are
 * skipped (they need privileges).
 */
export async function untar(source: Readable, dest: string): Promise<void> {
  const root = await fsp.realpath(dest);
  const extract = tarExtract();
  const dirs: { path: string; mode: number; mtime: Date | undefined }[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const header = entry.header;
      const name = goClean(header.name.replace(/^\/+/, ''));
      if (name === '.') {
        entry.resume();
        continue;
      }
      if (name === '..' || name.startsWith('../'))
        throw new CopyError(`invalid entry name ${JSON.stringify(header.name)}`);
      const target = goJoin(root, name);
      const parent = goDir(target);
      await fsp.mkdir(parent, { recursive: true, mode: 0o755 });
      if (!(await isInside(root, parent))) {
        throw new CopyError(`invalid entry name ${JSON.stringify(header.name)}: outside of the destination`);
      }
      let existing: Stats | undefined;
      try {
        existing = await fsp.lstat(target);
      } catch {
        existing = undefined;
      }
      const isDirEntry = header.type === 'directory';
      if (existing) {
        if (existing.isDirectory() && !isDirEntry) {
          throw new CopyError(
            `cannot overwrite directory ${JSON.stringify(header.name)} with non-directory ${JSON.stringify(dest)}`,
          );
        }
        if (!existing.isDirectory() && isDirEntry) {
          throw new CopyError(
            `cannot overwrite non-directory ${JSON.stringify(header.name)} with directory ${JSON.stringify(dest)}`,
          );
        }
        if (!existing.isDirectory()) await fsp.rm(target, { recursive: true, force: true });
      }
      const mode = (header.mode ?? 0o644) & 0o7777;
      switch (header.type) {
        case 'directory':
          if (!existing) await fsp.mkdir(target, { mode });
          dirs.push({ path: target, mode, mtime: header.mtime });
          entry.resume();
          continue;
        case 'file':
        case 'contiguous-file': {
          await pipeTo(entry, createWriteStream(target, { mode }));
          await fsp.chmod(target, mode);
          break;
        }
        case 'symlink':
          entry.resume();
          await fsp.symlink(header.linkname ?? '', target);
          break;
        case 'link': {
          entry.resume();
          const linkName = goClean((header.linkname ?? '').replace(/^\/+/, ''));
          if (linkName === '..' || linkName.startsWith('../')) {
            throw new CopyError(`invalid hardlink ${JSON.stringify(header.linkname)}`);
          }
          await fsp.link(goJoin(root, linkName), target);
          break;
        }
        default:
          entry.resume();
          continue;
      }
      if (header.mtime) {
        try {
          await fsp.lutimes(target, header.mtime, header.mtime);
        } catch {
          // not supported for this kind of file
        }
      }
    }
    for (const d of dirs.reverse()) {
      await fsp.chmod(d.path, d.mode).catch(() => undefined);
      if (d.mtime) await fsp.utimes(d.path, d.mtime, d.mtime).catch(() => undefined);
    }
  })();
  source.on('error', (err: Error) => extract.destroy(err));
  source.pipe(extract as unknown as Writable);
  try {
    await done;
  } catch (err) {
    source.unpipe(extract);
    extract.destroy();
    source.resume();
    throw err;
  }
}

/** Counts the bytes that go through (docker cp's copyProgressPrinter). */
export function counted(source: Readable): { stream: Readable; bytes: () => number } {
  let total = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      callback(null, chunk);
    },
  });
  source.on('error', (err: Error) => counter.destroy(err));
  source.pipe(counter);
  return { stream: counter, bytes: () => total };
}
