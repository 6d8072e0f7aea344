/**
 * Safe extraction of an uncompressed layer tar into an overlay-ready diff
 * directory, and the helper that performs the file operations Node lacks
 * (mknod, mkfifo, setxattr, getxattr).
 *
 * What `extractLayer` guarantees (the layer is untrusted input):
 * - Every entry lands inside `dir`. Names are cleaned (`a/../b` → `b`, a
 *   leading `/` is dropped, so `/etc/x` becomes `<dir>/etc/x`); a name that
 *   climbs out (`../x`) is refused.
 * - Nothing is ever created through a symlink: each parent component is
 *   lstat'ed (or known to have been created by this extraction) and a symlink
 *   there is refused with InvalidParameterError naming the entry. Final
 *   components are created with O_EXCL/mkdir/symlink/link/mknod, which do not
 *   follow symlinks; metadata uses lchown, lutimes and setxattr without
 *   following; chmod is only applied to nodes just created, never symlinks.
 * - Hardlink targets are resolved inside the layer under the same rules (an
 *   absolute target is layer-relative) and must already exist in it.
 * - Symlink targets are stored verbatim; they mean something only inside the
 *   container.
 * - AUFS/OCI whiteouts become overlayfs ones: `.wh.<name>` → a 0/0 character
 *   device `<name>`, `.wh..wh..opq` → xattr `trusted.overlay.opaque=y` on the
 *   directory. Other `.wh..wh.*` AUFS metadata is skipped, and
 *   `trusted.overlay.*` xattrs carried in the tar itself are dropped, so a
 *   layer can only influence overlayfs through the whiteout convention.
 * - A later entry replaces an earlier one at the same path (directories merge).
 *
 * The tar is parsed here rather than with tar-stream because tar-stream
 * decodes PAX values as UTF-8 text, which corrupts binary xattrs such as
 * `security.capability`, and drops sub-second PAX times.
 *
 * mknod/mkfifo/xattrs go through one long-lived `python3` helper
 * (line-delimited JSON over a pipe), in batches: a layer with thousands of
 * whiteouts costs one process and a few round trips. The helper resolves
 * each path with openat(O_NOFOLLOW) from the layer root, so it cannot be
 * led through a symlink even if the checks above had a gap. Without python3
 * it falls back to the `mknod`/`mkfifo` binaries and `setfattr`/`getfattr`
 * (Debian's `attr` package), one process per operation.
 *
 * Plain file operations are synchronous syscalls, run in slices of at most
 * 10 ms between yields to the event loop: for layers of many small files
 * that is an order of magnitude faster than fs/promises.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  writev as fsWritev,
  fdatasync as fsFdatasync,
  close as fsClose,
  writeSync,
} from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, delimiter, dirname, join, posix } from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { BerthError, InvalidParameterError, SystemError, UnavailableError, errorMessage } from '../errors.js';
import { isErrno } from './atomic.js';
import type { TarSplitRecorder } from './tar-split.js';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------
// Special file operations (mknod, xattrs)
// ---------------------------------------------------------------------------

export type DeviceKind = 'char' | 'block' | 'fifo';

/** One operation Node cannot do itself, on `rel` below a root directory. */
export type SpecialOp =
  | {
      op: 'mknod';
      rel: string;
      kind: DeviceKind;
      /** Permission bits, applied exactly (after the chown). */
      mode: number;
      major: number;
      minor: number;
      uid: number;
      gid: number;
      /** Seconds; both or neither. */
      atime?: number;
      mtime?: number;
    }
  | {
      op: 'setxattr';
      rel: string;
      name: string;
      value: Uint8Array;
      /** EPERM/ENOTSUP (e.g. user.* on a symlink) skip the op instead of failing the batch. */
      bestEffort?: boolean;
    };

/** A best-effort op that was skipped, by position in the batch. */
export interface SkippedOp {
  readonly index: number;
  readonly code: string;
}

/**
 * File operations Node has no API for.
 *
 * `apply(root, ops)` runs `ops` in order; each `rel` is a clean path below
 * `root` ('' is root itself, for setxattr). The python3 implementation walks
 * to the parent with openat(O_NOFOLLOW) per component, so a symlink anywhere
 * on the way fails the op (ELOOP/ENOTDIR) instead of being followed; final
 * components are never followed either. Failures reject with a
 * {@link HelperOsError} carrying the errno `code` and the failing op's
 * `index`; ops before it have been applied, ops after it have not.
 * Best-effort ops that the filesystem refused are returned instead.
 *
 * Lifecycle: {@link openSpecialFileOps} → any number of calls → `close()`
 * (ends the helper process, if one was started). Calls after close reject.
 */
export interface SpecialFileOps {
  apply(root: string, ops: readonly SpecialOp[]): Promise<SkippedOp[]>;
  /** Sets one xattr on `path` (not following a final symlink). */
  setxattr(path: string, name: string, value: Uint8Array): Promise<void>;
  /** The xattrs of each path that has any; paths without xattrs (or that vanished) are absent. */
  getxattrs(paths: readonly string[]): Promise<Map<string, Map<string, Buffer>>>;
  close(): Promise<void>;
}

/** An OS error reported by the helper, shaped like a node:fs error. */
export class HelperOsError extends Error {
  readonly code: string;
  readonly path: string | undefined;
  /** Position of the failing op in an `apply` batch. */
  readonly index: number | undefined;

  constructor(code: string, message: string, path?: string, index?: number) {
    super(path === undefined ? `${code}: ${message}` : `${code}: ${message}, ${path}`);
    this.name = 'HelperOsError';
    this.code = code;
    this.path = path;
    this.index = index;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable named `name` among `preferred` paths, then $PATH. */
async function findExecutable(name: string, preferred: readonly string[] = []): Promise<string | undefined> {
  const dirs = (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).filter(Boolean);
  for (const candidate of [...preferred, ...dirs.map((d) => join(d, name))]) {
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

const PYTHON_HELPER = String.raw`
import base64, errno, json, os, stat, sys
O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
def reply(obj):
    sys.stdout.buffer.write(json.dumps(obj).encode() + b"\n")
    sys.stdout.buffer.flush()
def parent_fd(root, rel):
    parts = rel.split("/")
    fd = os.open(root, O_DIR)
    try:
        for comp in parts[:-1]:
            nfd = os.open(comp, O_DIR | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]
def apply(root, item):
    op = item["op"]
    rel = item["rel"]
    if rel == "":
        if op != "setxattr":
            raise OSError(errno.EINVAL, "operation needs a path below the root", root)
        os.setxattr(root, item["name"], base64.b64decode(item["value"]), follow_symlinks=False)
        return
    fd, name = parent_fd(root, rel)
    try:
        if op == "mknod":
            if item["kind"] == "fifo":
                os.mkfifo(name, 0o600, dir_fd=fd)
            else:
                t = stat.S_IFCHR if item["kind"] == "char" else stat.S_IFBLK
                os.mknod(name, t | 0o600, os.makedev(item["major"], item["minor"]), dir_fd=fd)
            os.chown(name, item["uid"], item["gid"], dir_fd=fd, follow_symlinks=False)
            os.chmod(name, item["mode"], dir_fd=fd)
            if "mtime" in item:
                os.utime(name, (item["atime"], item["mtime"]), dir_fd=fd, follow_symlinks=False)
        elif op == "setxattr":
            target = "/proc/self/fd/%d/%s" % (fd, name)
            os.setxattr(target, item["name"], base64.b64decode(item["value"]), follow_symlinks=False)
        else:
            raise OSError(errno.EINVAL, "unknown op %r" % (op,))
    finally:
        os.close(fd)
def getxattrs(paths):
    res = {}
    for p in paths:
        try:
            names = os.listxattr(p, follow_symlinks=False)
            if names:
                res[p] = {n: base64.b64encode(os.getxattr(p, n, follow_symlinks=False)).decode() for n in names}
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTSUP, errno.ENODATA):
                raise
    return res
LENIENT = (errno.EPERM, errno.ENOTSUP)
for line in sys.stdin.buffer:
    req = json.loads(line)
    index = None
    try:
        if req["op"] == "apply":
            skipped = []
            for index, item in enumerate(req["items"]):
                try:
                    apply(req["root"], item)
                except OSError as e:
                    if not (item.get("bestEffort") and e.errno in LENIENT):
                        raise
                    skipped.append([index, errno.errorcode.get(e.errno, "EIO")])
            reply({"ok": True, "skipped": skipped})
        elif req["op"] == "getxattrs":
            reply({"ok": True, "xattrs": getxattrs(req["paths"])})
        else:
            reply({"ok": False, "code": "EINVAL", "message": "unknown request"})
    except OSError as e:
        code = errno.errorcode.get(e.errno, "EIO") if e.errno else "EIO"
        reply({"ok": False, "code": code, "message": e.strerror or str(e), "index": index})
    except Exception as e:
        reply({"ok": False, "code": "EINVAL", "message": repr(e), "index": index})
`;

interface HelperReply {
  ok: boolean;
  code?: string;
  message?: string;
  index?: number | null;
  skipped?: Array<[number, string]>;
  xattrs?: Record<string, Record<string, string>>;
}

/** Paths per getxattrs request and ops per apply request, to bound message sizes. */
const HELPER_BATCH = 512;

function wireOp(op: SpecialOp): Record<string, unknown> {
  return op.op === 'setxattr' ? { ...op, value: Buffer.from(op.value).toString('base64') } : op;
}

function opPath(root: string, op: SpecialOp): string {
  return op.rel === '' ? root : join(root, op.rel);
}

/**
 * One python3 process answering requests in order. Its pipes are unref'd
 * while nothing is pending, so a forgotten close() cannot hold the event
 * loop open; close() still ends it.
 */
class PythonSpecialOps implements SpecialFileOps {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Array<{ resolve: (r: HelperReply) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;
  private stderr = '';
  private readonly exited: Promise<void>;

  constructor(python: string) {
    this.child = spawn(python, ['-I', '-S', '-X', 'utf8', '-c', PYTHON_HELPER], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise<void>((resolve) => {
      this.child.once('close', (code, signal) => {
        const detail = this.stderr.trim();
        this.fail(
          new SystemError(
            `special-file helper exited (${signal ?? `code ${code}`})${detail === '' ? '' : `: ${detail}`}`,
          ),
        );
        resolve();
      });
    });
    this.child.once('error', (err) => this.fail(new SystemError(`special-file helper: ${err.message}`)));
    this.child.stdin.on('error', () => undefined);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-4096);
    });
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => {
      const waiter = this.pending.shift();
      if (this.pending.length === 0) this.setRef(false);
      if (waiter === undefined) return;
      try {
        waiter.resolve(JSON.parse(line) as HelperReply);
      } catch (err) {
        waiter.reject(new SystemError(`special-file helper: bad reply: ${errorMessage(err)}`));
      }
    });
    this.setRef(false);
  }

  async apply(root: string, ops: readonly SpecialOp[]): Promise<SkippedOp[]> {
    const skipped: SkippedOp[] = [];
    for (let i = 0; i < ops.length; i += HELPER_BATCH) {
      const batch = ops.slice(i, i + HELPER_BATCH);
      const reply = await this.call({ op: 'apply', root, items: batch.map(wireOp) });
      if (!reply.ok) {
        const index = typeof reply.index === 'number' ? reply.index : undefined;
        const failed = index === undefined ? undefined : batch[index];
        throw new HelperOsError(
          reply.code ?? 'EIO',
          reply.message ?? 'failed',
          failed === undefined ? undefined : opPath(root, failed),
          index === undefined ? undefined : i + index,
        );
      }
      for (const [index, code] of reply.skipped ?? []) skipped.push({ index: i + index, code });
    }
    return skipped;
  }

  async setxattr(path: string, name: string, value: Uint8Array): Promise<void> {
    await this.apply(dirname(path), [{ op: 'setxattr', rel: basename(path), name, value }]);
  }

  async getxattrs(paths: readonly string[]): Promise<Map<string, Map<string, Buffer>>> {
    const out = new Map<string, Map<string, Buffer>>();
    for (let i = 0; i < paths.length; i += HELPER_BATCH) {
      const reply = await this.call({ op: 'getxattrs', paths: paths.slice(i, i + HELPER_BATCH) });
      if (!reply.ok) throw new HelperOsError(reply.code ?? 'EIO', reply.message ?? 'getxattrs failed');
      for (const [p, attrs] of Object.entries(reply.xattrs ?? {})) {
        const m = new Map<string, Buffer>();
        for (const [name, b64] of Object.entries(attrs)) m.set(name, Buffer.from(b64, 'base64'));
        out.set(p, m);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.setRef(true);
      this.child.stdin.end();
    }
    await this.exited;
  }

  private setRef(on: boolean): void {
    for (const s of [this.child.stdout, this.child.stdin, this.child.stderr] as unknown as Socket[]) {
      if (on) s.ref();
      else s.unref();
    }
    if (on) this.child.ref();
    else this.child.unref();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.pending.splice(0)) w.reject(err);
  }

  private call(req: Record<string, unknown>): Promise<HelperReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<HelperReply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      if (this.pending.length === 1) this.setRef(true);
      this.child.stdin.write(JSON.stringify(req) + '\n');
    });
  }
}

/** Decodes the `\ooo` and `\\` escapes getfattr uses in `# file:` lines. */
function unescapeGetfattrPath(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x5c && raw[i + 1] === 0x5c) {
      bytes.push(0x5c);
      i++;
    } else if (c === 0x5c && /^[0-7]{3}$/.test(raw.toString('latin1', i + 1, i + 4))) {
      bytes.push(parseInt(raw.toString('latin1', i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Parses `getfattr -h -d -m - -e base64 --absolute-names` output
 * (`# file: <path>` blocks of `name=0s<base64>` lines). Exported for tests.
 */
export function parseGetfattrDump(text: string): Map<string, Map<string, Buffer>> {
  const out = new Map<string, Map<string, Buffer>>();
  let current: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      out.set(unescapeGetfattrPath(line.slice('# file: '.length)), current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq <= 0) continue;
    const name = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (value.startsWith('0s')) current.set(name, Buffer.from(value.slice(2), 'base64'));
    else if (value.startsWith('0x')) current.set(name, Buffer.from(value.slice(2), 'hex'));
    else if (value.startsWith('"') && value.endsWith('"')) current.set(name, Buffer.from(value.slice(1, -1)));
  }
  for (const [p, m] of out) if (m.size === 0) out.delete(p);
  return out;
}

function execError(err: unknown, what: string, path: string, index?: number): HelperOsError {
  const stderr = (err as { stderr?: unknown }).stderr;
  const text = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : errorMessage(err);
  const code = /File exists/.test(text)
    ? 'EEXIST'
    : /Operation not permitted/.test(text)
      ? 'EPERM'
      : /Operation not supported/.test(text)
        ? 'ENOTSUP'
        : /No such file/.test(text)
          ? 'ENOENT'
          : 'EIO';
  return new HelperOsError(code, `${what}: ${text}`, path, index);
}

/**
 * Fallback without python3: one process per op (`mknod`/`mkfifo` from
 * coreutils, `setfattr`/`getfattr` from Debian's `attr`). It relies on the
 * caller's checks that no parent of `rel` is a symlink.
 */
class CliSpecialOps implements SpecialFileOps {
  private tools: Promise<{ setfattr?: string; getfattr?: string }> | undefined;

  async apply(root: string, ops: readonly SpecialOp[]): Promise<SkippedOp[]> {
    const skipped: SkippedOp[] = [];
    for (const [index, op] of ops.entries()) {
      const path = opPath(root, op);
      if (op.op === 'setxattr') {
        const { setfattr } = await this.findTools();
        if (setfattr === undefined) throw noXattrTools();
        const v = '0s' + Buffer.from(op.value).toString('base64');
        try {
          await execFileAsync(setfattr, ['-h', '-n', op.name, '-v', v, '--', path]);
        } catch (err) {
          const e = execError(err, 'setfattr', path, index);
          if (op.bestEffort === true && (e.code === 'EPERM' || e.code === 'ENOTSUP')) {
            skipped.push({ index, code: e.code });
            continue;
          }
          throw e;
        }
        continue;
      }
      if (op.rel === '') throw new HelperOsError('EINVAL', 'mknod needs a path below the root', path, index);
      const args =
        op.kind === 'fifo'
          ? ['-m', '600', '--', path]
          : ['-m', '600', '--', path, op.kind === 'char' ? 'c' : 'b', String(op.major), String(op.minor)];
      await execFileAsync(op.kind === 'fifo' ? 'mkfifo' : 'mknod', args).catch((err: unknown) => {
        throw execError(err, op.kind === 'fifo' ? 'mkfifo' : 'mknod', path, index);
      });
      lchownSync(path, op.uid, op.gid);
      chmodSync(path, op.mode);
      if (op.mtime !== undefined) lutimesSync(path, op.atime ?? op.mtime, op.mtime);
    }
    return skipped;
  }

  async setxattr(path: string, name: string, value: Uint8Array): Promise<void> {
    await this.apply(dirname(path), [{ op: 'setxattr', rel: basename(path), name, value }]);
  }

  async getxattrs(paths: readonly string[]): Promise<Map<string, Map<string, Buffer>>> {
    const { getfattr } = await this.findTools();
    if (getfattr === undefined) throw noXattrTools();
    const out = new Map<string, Map<string, Buffer>>();
    for (let i = 0; i < paths.length; i += 64) {
      const batch = paths.slice(i, i + 64);
      const args = ['-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', '--', ...batch];
      let stdout: string;
      try {
        ({ stdout } = await execFileAsync(getfattr, args, { maxBuffer: 64 << 20 }));
      } catch (err) {
        // getfattr exits 1 when some path has no xattr support or vanished, yet prints the rest.
        const partial = (err as { stdout?: unknown }).stdout;
        if (typeof partial !== 'string') throw execError(err, 'getfattr', batch[0] ?? '');
        stdout = partial;
      }
      for (const [p, m] of parseGetfattrDump(stdout)) out.set(p, m);
    }
    return out;
  }

  async close(): Promise<void> {}

  private findTools(): Promise<{ setfattr?: string; getfattr?: string }> {
    this.tools ??= (async () => {
      const setfattr = await findExecutable('setfattr');
      const getfattr = await findExecutable('getfattr');
      return {
        ...(setfattr === undefined ? {} : { setfattr }),
        ...(getfattr === undefined ? {} : { getfattr }),
      };
    })();
    return this.tools;
  }
}

function noXattrTools(): UnavailableError {
  return new UnavailableError(
    'extended attributes need python3 or setfattr/getfattr (Debian package "attr")',
  );
}

/** Picks and starts the implementation on first use, so unused ops cost nothing. */
class LazySpecialOps implements SpecialFileOps {
  private readonly mode: 'auto' | 'cli';
  private impl: Promise<SpecialFileOps> | undefined;
  private closed = false;

  constructor(mode: 'auto' | 'cli') {
    this.mode = mode;
  }

  async apply(root: string, ops: readonly SpecialOp[]): Promise<SkippedOp[]> {
    if (ops.length === 0) return [];
    return (await this.get()).apply(root, ops);
  }

  async setxattr(path: string, name: string, value: Uint8Array): Promise<void> {
    return (await this.get()).setxattr(path, name, value);
  }

  async getxattrs(paths: readonly string[]): Promise<Map<string, Map<string, Buffer>>> {
    if (paths.length === 0) return new Map();
    return (await this.get()).getxattrs(paths);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.impl !== undefined) await (await this.impl).close();
  }

  private get(): Promise<SpecialFileOps> {
    if (this.closed) return Promise.reject(new SystemError('special-file helper is closed'));
    this.impl ??= (async (): Promise<SpecialFileOps> => {
      if (this.mode === 'auto') {
        const python = await findExecutable('python3', ['/usr/bin/python3', '/usr/local/bin/python3']);
        if (python !== undefined) return new PythonSpecialOps(python);
      }
      return new CliSpecialOps();
    })();
    return this.impl;
  }
}

/**
 * Special-file operations for this host: a python3 helper process when
 * python3 exists (started on first use), else the CLI tools. `implementation:
 * 'cli'` forces the fallback (tests). Share one across several layers to pay
 * for one process.
 */
export function openSpecialFileOps(options?: { implementation?: 'auto' | 'cli' }): SpecialFileOps {
  return new LazySpecialOps(options?.implementation ?? 'auto');
}

// ---------------------------------------------------------------------------
// Tar reading
// ---------------------------------------------------------------------------

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

/** One archive member, with PAX and GNU long names already applied. */
export interface TarEntry {
  /** As stored (not cleaned); directories may end in `/`. */
  readonly name: string;
  readonly type: TarEntryType;
  /** Permission and setuid/setgid/sticky bits (`& 0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Body size; 0 except for regular files. */
  readonly size: number;
  /** Seconds since the epoch, possibly fractional (PAX). */
  readonly mtime: number;
  readonly atime: number | undefined;
  /** Hardlink or symlink target ('' otherwise). */
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records, raw bytes. */
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

const BLOCK = 512;
/** Largest PAX or GNU long-name body accepted (as Go's archive/tar). */
const MAX_META_SIZE = 1 << 20;
const EMPTY = Buffer.alloc(0);

function badTar(message: string): InvalidParameterError {
  return new InvalidParameterError(`invalid tar archive: ${message}`);
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteSource {
  private readonly iter: AsyncIterator<unknown>;
  private leftover: Buffer = EMPTY;
  private eof = false;
  private readonly onRaw: ((chunk: Buffer) => void) | undefined;

  /** `onRaw` sees every byte handed out, except those read with {@link nextData}. */
  constructor(input: AsyncIterable<unknown>, onRaw?: (chunk: Buffer) => void) {
    this.iter = input[Symbol.asyncIterator]();
    this.onRaw = onRaw;
  }

  async next(max: number): Promise<Buffer | undefined> {
    const chunk = await this.nextData(max);
    if (chunk !== undefined) this.onRaw?.(chunk);
    return chunk;
  }

  /** As {@link next}, for file contents (not reported to `onRaw`). */
  async nextData(max: number): Promise<Buffer | undefined> {
    let chunk = this.leftover;
    this.leftover = EMPTY;
    while (chunk.length === 0) {
      if (this.eof) return undefined;
      const r = await this.iter.next();
      if (r.done === true) {
        this.eof = true;
        return undefined;
      }
      const v: unknown = r.value;
      chunk = Buffer.isBuffer(v)
        ? v
        : v instanceof Uint8Array
          ? Buffer.from(v.buffer, v.byteOffset, v.byteLength)
          : Buffer.from(String(v));
    }
    if (chunk.length > max) {
      this.leftover = chunk.subarray(max);
      return chunk.subarray(0, max);
    }
    return chunk;
  }

  /** Exactly `n` bytes; undefined at a clean end of input; throws when the input ends midway. */
  async readExact(n: number): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const c = await this.next(n - got);
      if (c === undefined) break;
      parts.push(c);
      got += c.length;
    }
    if (got === 0) return undefined;
    if (got < n) throw badTar('unexpected end of archive');
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const c = await this.next(left);
      if (c === undefined) throw badTar('unexpected end of archive');
      left -= c.length;
    }
  }

  /** Reads and discards everything left. */
  async drain(): Promise<void> {
    while ((await this.next(Number.MAX_SAFE_INTEGER)) !== undefined);
  }

  /** Stops reading early (destroys a Readable input). */
  async close(): Promise<void> {
    if (!this.eof) await this.iter.return?.();
  }
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end === -1 || end > start + length ? start + length : end);
}

/** A numeric header field: octal text, or GNU base-256 when the top bit is set. */
function parseNumber(buf: Buffer, start: number, length: number, field: string): number {
  const first = buf[start];
  if ((first & 0x80) !== 0) {
    if (first === 0xff) throw badTar(`negative ${field}`);
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < length; i++) v = (v << 8n) | BigInt(buf[start + i]);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badTar(`${field} too large`);
    return Number(v);
  }
  const text = buf.toString('latin1', start, start + length);
  const m = /^[ \0]*([0-7]*)[ \0]*/.exec(text);
  const digits = m?.[1] ?? '';
  if (digits === '') return 0;
  const v = parseInt(digits, 8);
  if (!Number.isSafeInteger(v)) throw badTar(`${field} too large`);
  return v;
}

function checksumOk(block: Buffer): boolean {
  const stored = parseNumber(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  return stored === unsigned || stored === signed;
}

/** True when `buf` starts with a (non-zero) tar header block whose checksum is right. */
export function isTarHeader(buf: Buffer): boolean {
  if (buf.length < BLOCK) return false;
  const block = buf.subarray(0, BLOCK);
  if (block.every((b) => b === 0)) return false;
  try {
    return checksumOk(block);
  } catch {
    return false;
  }
}

/** PAX records `"<len> <key>=<value>\n"`, values kept as bytes. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const sp = data.indexOf(0x20, pos);
    const lenText = sp === -1 ? '' : data.toString('latin1', pos, sp);
    const len = /^[0-9]{1,9}$/.test(lenText) ? parseInt(lenText, 10) : NaN;
    if (!(len > sp - pos + 1) || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw badTar('malformed PAX header');
    }
    const record = data.subarray(sp + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw badTar('malformed PAX record');
    out.set(record.toString('utf8', 0, eq), record.subarray(eq + 1));
    pos += len;
  }
  return out;
}

const TYPEFLAGS: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  D: 'directory',
  '6': 'fifo',
};

const PAX_XATTR = 'SCHILY.xattr.';

function paxNumber(pax: Map<string, Buffer>, key: string, fallback: number, float = false): number {
  const raw = pax.get(key);
  if (raw === undefined || raw.length === 0) return fallback;
  const text = raw.toString('latin1');
  const ok = float ? /^-?[0-9]+(\.[0-9]*)?$/.test(text) : /^[0-9]+$/.test(text);
  const v = float ? parseFloat(text) : parseInt(text, 10);
  if (!ok || !Number.isFinite(v) || (!float && !Number.isSafeInteger(v))) {
    throw badTar(`bad PAX ${key} ${JSON.stringify(text)}`);
  }
  return v;
}

/** One entry and its body; the body must be consumed (or abandoned) before asking for the next entry. */
export interface TarMember {
  readonly entry: TarEntry;
  /** The entry's `size` bytes, in chunks. */
  body(): AsyncGenerator<Buffer>;
}

/** Sees a tar's bytes as it is read (a {@link TarSplitRecorder} fits). */
export interface TarByteRecorder {
  /** Bytes other than regular files' contents, in order. */
  raw(chunk: Buffer): void;
  /** The next `size` bytes are the contents of the regular file at layer path `rel` (called as they start). */
  file(rel: string, size: number): void;
}

/**
 * Iterates the members of an uncompressed tar stream (ustar, GNU and PAX
 * headers). After the end-of-archive block the rest of the input is read
 * and discarded, so a digest computed upstream covers the whole stream.
 * Sparse files and unknown entry types are refused. Leaving the loop early
 * destroys a Readable input. A `recorder` sees every byte: a regular file's
 * contents as a `file` reference when its body is read, the rest as `raw`.
 */
export async function* readTarEntries(
  input: AsyncIterable<unknown>,
  recorder?: TarByteRecorder,
): AsyncGenerator<TarMember> {
  const src = new ByteSource(input, recorder && ((chunk) => recorder.raw(chunk)));
  let finished = false;
  try {
    let pax = new Map<string, Buffer>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await src.readExact(BLOCK);
      if (block === undefined) break;
      if (block.every((b) => b === 0)) {
        await src.drain();
        break;
      }
      if (!checksumOk(block)) {
        throw badTar('header checksum mismatch (not a tar stream, or still compressed?)');
      }
      const flag = String.fromCharCode(block[156]);
      const size = parseNumber(block, 124, 12, 'size');
      const padded = Math.ceil(size / BLOCK) * BLOCK;

      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > MAX_META_SIZE) throw badTar(`${flag} header of ${size} bytes is too large`);
        const data = size === 0 ? EMPTY : ((await src.readExact(padded)) ?? EMPTY).subarray(0, size);
        if (data.length < size) throw badTar('unexpected end of archive');
        if (flag === 'x') pax = new Map([...pax, ...parsePax(data)]);
        else if (flag === 'L') longName = cString(data, 0, data.length);
        else if (flag === 'K') longLink = cString(data, 0, data.length);
        // 'g' (global PAX) is ignored, as Docker does.
        continue;
      }
      if (flag === 'V') {
        await src.skip(padded);
        continue;
      }
      let type = TYPEFLAGS[flag];
      if (type === undefined || flag === 'S' || [...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) {
        throw badTar(
          flag === 'S' || type !== undefined
            ? 'sparse files are not supported'
            : `unsupported entry type ${JSON.stringify(flag)}`,
        );
      }

      const magic = block.toString('latin1', 257, 263);
      let name = cString(block, 0, 100);
      if (magic === 'ustar\0' && block[345] !== 0) name = `${cString(block, 345, 155)}/${name}`;
      const paxPath = pax.get('path');
      if (paxPath !== undefined && paxPath.length > 0) name = paxPath.toString('utf8');
      else if (longName !== undefined) name = longName;
      if ((flag === '0' || flag === '\0') && name.endsWith('/')) type = 'directory';

      let linkname = cString(block, 157, 100);
      const paxLink = pax.get('linkpath');
      if (paxLink !== undefined && paxLink.length > 0) linkname = paxLink.toString('utf8');
      else if (longLink !== undefined) linkname = longLink;

      const xattrs = new Map<string, Buffer>();
      for (const [k, v] of pax) if (k.startsWith(PAX_XATTR)) xattrs.set(k.slice(PAX_XATTR.length), v);

      const bodySize = paxNumber(pax, 'size', size);
      const atime = paxNumber(pax, 'atime', NaN, true);
      const entry: TarEntry = {
        name,
        type,
        mode: parseNumber(block, 100, 8, 'mode') & 0o7777,
        uid: paxNumber(pax, 'uid', parseNumber(block, 108, 8, 'uid')),
        gid: paxNumber(pax, 'gid', parseNumber(block, 116, 8, 'gid')),
        size: type === 'file' ? bodySize : 0,
        mtime: paxNumber(pax, 'mtime', parseNumber(block, 136, 12, 'mtime'), true),
        atime: Number.isNaN(atime) ? undefined : atime,
        linkname,
        devmajor: parseNumber(block, 329, 8, 'devmajor'),
        devminor: parseNumber(block, 337, 8, 'devminor'),
        xattrs,
      };
      pax = new Map();
      longName = undefined;
      longLink = undefined;

      // Hardlinks, symlinks, devices and dirs may still carry a body; it is skipped.
      let left = bodySize;
      async function* body(): AsyncGenerator<Buffer> {
        if (entry.type !== 'file') return;
        if (recorder !== undefined && left > 0) {
          if (left !== bodySize) throw badTar(`body of ${JSON.stringify(entry.name)} read twice`);
          recorder.file(cleanLayerPath(entry.name, `entry ${JSON.stringify(entry.name)}`), bodySize);
        }
        while (left > 0) {
          const c = await src.nextData(left);
          if (c === undefined) throw badTar('unexpected end of archive');
          left -= c.length;
          yield c;
        }
      }
      yield { entry, body };
      await src.skip(left + (Math.ceil(bodySize / BLOCK) * BLOCK - bodySize));
    }
    finished = true;
  } finally {
    if (!finished) await src.close();
  }
}

// ---------------------------------------------------------------------------
// Layer extraction
// ---------------------------------------------------------------------------

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface ExtractOptions {
  /** Helper for mknod/xattrs; by default one is started on demand and closed at the end. */
  ops?: SpecialFileOps;
  /** Records the tar's split (see tar-split.ts) while extracting. */
  tarSplit?: TarSplitRecorder;
  /**
   * fdatasync each large file in the background as soon as it is written,
   * so that the caller's final syncfs has little left to flush.
   */
  syncFiles?: boolean;
}

export interface ExtractResult {
  /** Total size of the regular files written (what Docker reports as the layer size). */
  size: number;
  /** Things skipped without failing (xattrs the filesystem refused, overlay xattrs dropped). */
  warnings: string[];
}

/** Reasons a layer is refused, as opposed to I/O failures. */
const INVALID_ERRNOS = new Set(['ENAMETOOLONG', 'ENOTDIR', 'EISDIR', 'ELOOP', 'EINVAL', 'EEXIST', 'ENOENT']);

/**
 * Cleans a tar member name to a path relative to the layer root ('' for the
 * root itself). A leading `/` is dropped; a name that climbs out of the root
 * is refused.
 */
export function cleanLayerPath(raw: string, what: string): string {
  if (raw.includes('\0')) throw new InvalidParameterError(`invalid layer: ${what}: NUL byte in path`);
  let p = posix.normalize(raw.replace(/^\/+/, ''));
  while (p.endsWith('/')) p = p.slice(0, -1);
  if (p === '.' || p === '') return '';
  if (p === '..' || p.startsWith('../')) {
    throw new InvalidParameterError(`invalid layer: ${what}: path escapes the layer directory`);
  }
  return p;
}

/** Longest stretch of synchronous file work before yielding to the event loop. */
const SLICE_MS = 10;
/** Special ops queued before they are sent to the helper in one batch. */
const MAX_PENDING = 1024;
const OPAQUE_VALUE = Buffer.from('y');

interface PendingOp {
  readonly op: SpecialOp;
  /** The tar entry it came from, for error messages. */
  readonly entry: string;
  dropped: boolean;
}

/**
 * Applies entries one by one. Plain file operations are synchronous calls
 * (20x cheaper than fs/promises round trips for the many small files of a
 * typical layer), done in slices of at most SLICE_MS between yields to the
 * event loop. mknod and setxattr are queued and sent to the helper in
 * batches; the queue is flushed before anything that could depend on it
 * (a hardlink, directory times, the end), and ops for a path are dropped
 * when a later entry replaces that path or one of its parents.
 */
class Extractor {
  private readonly dir: string;
  private readonly ops: SpecialFileOps;
  /** Layer-relative paths known to be real directories (created or lstat'ed here). */
  private readonly knownDirs = new Set<string>();
  /** Directory times, applied last since creating children changes them. */
  private readonly dirTimes = new Map<string, { atime: number; mtime: number }>();
  private pending: PendingOp[] = [];
  /** Queued mknods by path: nodes that exist for this extraction but not yet on disk. */
  private readonly pendingNodes = new Map<string, PendingOp>();
  private sliceStart = performance.now();
  private readonly tarSplit: TarSplitRecorder | undefined;
  private readonly syncFiles: boolean;
  private readonly syncing = new Set<Promise<void>>();
  private syncFailure: Error | undefined;
  size = 0;
  readonly warnings: string[] = [];

  constructor(dir: string, ops: SpecialFileOps, tarSplit?: TarSplitRecorder, syncFiles = false) {
    this.dir = dir;
    this.ops = ops;
    this.tarSplit = tarSplit;
    this.syncFiles = syncFiles;
  }

  async entry(entry: TarEntry, body: () => AsyncGenerator<Buffer>): Promise<void> {
    await this.apply(entry, body);
    if (this.pending.length >= MAX_PENDING) await this.flush();
    if (performance.now() - this.sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      this.sliceStart = performance.now();
    }
  }

  /** Sends queued ops and applies directory times; call once after the last entry. */
  async finish(): Promise<void> {
    await this.flush();
    let n = 0;
    for (const [rel, t] of this.dirTimes) {
      try {
        lutimesSync(this.abs(rel), t.atime, t.mtime);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      if (++n % 1000 === 0) await yieldToEventLoop();
    }
  }

  private async apply(entry: TarEntry, body: () => AsyncGenerator<Buffer>): Promise<void> {
    const what = `entry ${JSON.stringify(entry.name)}`;
    const rel = cleanLayerPath(entry.name, what);
    if (rel === '') return; // the root entry: the diff dir's own metadata is berth's
    const base = posix.basename(rel);
    const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);

    // AUFS bookkeeping (.wh..wh.plnk/…, .wh..wh.aufs) has no meaning for overlayfs.
    const components = rel.split('/');
    const last = components.length - 1;
    if (
      components.some((c, i) => c.startsWith(WHITEOUT_META_PREFIX) && !(c === WHITEOUT_OPAQUE && i === last))
    ) {
      return;
    }

    this.parents(rel, what);
    if (base === WHITEOUT_OPAQUE) {
      this.queue(
        { op: 'setxattr', rel: parent, name: OVERLAY_OPAQUE_XATTR, value: OPAQUE_VALUE },
        entry.name,
      );
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') {
        throw new InvalidParameterError(`invalid layer: ${what}: malformed whiteout`);
      }
      const target = parent === '' ? hidden : `${parent}/${hidden}`;
      this.clearForNode(target);
      this.queue(
        {
          op: 'mknod',
          rel: target,
          kind: 'char',
          mode: 0o600,
          major: 0,
          minor: 0,
          uid: entry.uid,
          gid: entry.gid,
          atime: entry.atime ?? entry.mtime,
          mtime: entry.mtime, // so that export → extract → export is stable
        },
        entry.name,
      );
      return;
    }

    const abs = this.abs(rel);
    const atime = entry.atime ?? entry.mtime;
    switch (entry.type) {
      case 'directory': {
        this.create(rel, true, () => mkdirSync(abs, 0o700));
        this.knownDirs.add(rel);
        lchownSync(abs, entry.uid, entry.gid);
        chmodSync(abs, entry.mode); // after chown, which clears setuid/setgid; never a symlink here
        this.queueXattrs(rel, entry);
        this.dirTimes.set(rel, { atime, mtime: entry.mtime });
        return;
      }
      case 'file': {
        await this.writeFile(rel, abs, entry, body);
        this.size += entry.size;
        return;
      }
      case 'symlink': {
        if (entry.linkname === '')
          throw new InvalidParameterError(`invalid layer: ${what}: empty symlink target`);
        this.create(rel, false, () => symlinkSync(entry.linkname, abs));
        lchownSync(abs, entry.uid, entry.gid);
        lutimesSync(abs, atime, entry.mtime);
        this.queueXattrs(rel, entry);
        return;
      }
      case 'link': {
        const targetWhat = `${what}: hardlink target ${JSON.stringify(entry.linkname)}`;
        const target = cleanLayerPath(entry.linkname, targetWhat);
        if (target === '' || target === rel || target.startsWith(`${rel}/`)) {
          throw new InvalidParameterError(`invalid layer: ${targetWhat}: not a linkable path`);
        }
        await this.flush(); // the target may be a queued node
        this.parents(target, targetWhat, false);
        const targetAbs = this.abs(target);
        let st;
        try {
          st = lstatSync(targetAbs);
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err;
          throw new InvalidParameterError(`invalid layer: ${targetWhat}: no such file in the layer`);
        }
        if (st.isDirectory()) throw new InvalidParameterError(`invalid layer: ${targetWhat}: is a directory`);
        this.create(rel, false, () => linkSync(targetAbs, abs));
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        this.clearForNode(rel);
        this.queue(
          {
            op: 'mknod',
            rel,
            kind: entry.type,
            mode: entry.mode,
            major: entry.devmajor,
            minor: entry.devminor,
            uid: entry.uid,
            gid: entry.gid,
            atime,
            mtime: entry.mtime,
          },
          entry.name,
        );
        this.queueXattrs(rel, entry);
        return;
      }
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.dir : join(this.dir, rel);
  }

  /**
   * Makes sure every parent of `rel` is a real directory inside the layer,
   * creating missing ones (0755, root-owned, as Docker does) when `create`.
   */
  private parents(rel: string, what: string, create = true): void {
    const parts = rel.split('/');
    parts.pop();
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if (this.knownDirs.has(cur)) continue;
      if (this.pendingNodes.has(cur)) {
        throw new InvalidParameterError(
          `invalid layer: ${what}: parent ${JSON.stringify(cur)} is not a directory`,
        );
      }
      const abs = this.abs(cur);
      let st;
      try {
        st = lstatSync(abs);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        if (!create) {
          throw new InvalidParameterError(
            `invalid layer: ${what}: parent ${JSON.stringify(cur)} does not exist`,
          );
        }
        mkdirSync(abs, 0o755);
        chmodSync(abs, 0o755);
        this.knownDirs.add(cur);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new InvalidParameterError(
          `invalid layer: ${what}: parent ${JSON.stringify(cur)} is a symlink; refusing to extract through it`,
        );
      }
      if (!st.isDirectory()) {
        throw new InvalidParameterError(
          `invalid layer: ${what}: parent ${JSON.stringify(cur)} is not a directory`,
        );
      }
      this.knownDirs.add(cur);
    }
  }

  /**
   * Runs `make` (an exclusive create). If the path exists, a directory is
   * kept when `isDir` (merge); anything else is removed and `make` retried.
   */
  private create(rel: string, isDir: boolean, make: () => void): void {
    if (this.pendingNodes.has(rel)) this.forget(rel);
    try {
      make();
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    if (isDir && lstatSync(this.abs(rel)).isDirectory()) return;
    this.tarSplit?.evict(rel);
    rmSync(this.abs(rel), { recursive: true, force: true });
    this.forget(rel);
    make();
  }

  /** Clears `rel` for a node that will be created later by the helper. */
  private clearForNode(rel: string): void {
    if (this.pendingNodes.has(rel)) {
      this.forget(rel);
      return;
    }
    try {
      lstatSync(this.abs(rel));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    this.tarSplit?.evict(rel);
    rmSync(this.abs(rel), { recursive: true, force: true });
    this.forget(rel);
  }

  /** `rel` and everything below it is gone (or about to be replaced): drop what is known or queued for it. */
  private forget(rel: string): void {
    const prefix = `${rel}/`;
    const under = (p: string): boolean => p === rel || p.startsWith(prefix);
    for (const d of this.knownDirs) if (under(d)) this.knownDirs.delete(d);
    for (const d of this.dirTimes.keys()) if (under(d)) this.dirTimes.delete(d);
    for (const p of this.pending) {
      if (!p.dropped && under(p.op.rel)) {
        p.dropped = true;
        if (p.op.op === 'mknod') this.pendingNodes.delete(p.op.rel);
      }
    }
  }

  private queue(op: SpecialOp, entry: string): void {
    const item: PendingOp = { op, entry, dropped: false };
    this.pending.push(item);
    if (op.op === 'mknod') this.pendingNodes.set(op.rel, item);
  }

  private queueXattrs(rel: string, entry: TarEntry): void {
    for (const [name, value] of entry.xattrs) {
      if (name.startsWith('trusted.overlay.')) {
        this.warnings.push(`${entry.name}: dropped overlay xattr ${name}`);
        continue;
      }
      this.queue({ op: 'setxattr', rel, name, value, bestEffort: true }, entry.name);
    }
  }

  private async flush(): Promise<void> {
    const live = this.pending.filter((p) => !p.dropped);
    this.pending = [];
    this.pendingNodes.clear();
    if (live.length === 0) return;
    try {
      const skipped = await this.ops.apply(
        this.dir,
        live.map((p) => p.op),
      );
      for (const { index, code } of skipped) {
        const p = live[index];
        if (p?.op.op === 'setxattr') this.warnings.push(`${p.entry}: xattr ${p.op.name} not set: ${code}`);
      }
    } catch (err) {
      const index = err instanceof HelperOsError ? err.index : undefined;
      const p = index === undefined ? undefined : live[index];
      throw p === undefined ? err : wrapEntryError(err, p.entry);
    }
  }

  private async writeFile(
    rel: string,
    abs: string,
    entry: TarEntry,
    body: () => AsyncGenerator<Buffer>,
  ): Promise<void> {
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    let fd = -1;
    this.create(rel, false, () => {
      fd = openSync(abs, flags, 0o600);
    });
    try {
      if (entry.size < ASYNC_WRITE_MIN) {
        let pos = 0;
        for await (const chunk of body()) {
          let done = 0;
          while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done, pos + done);
          pos += chunk.length;
        }
      } else {
        await writeLargeFile(fd, body());
      }
      fchownSync(fd, entry.uid, entry.gid);
      fchmodSync(fd, entry.mode); // after chown, which clears setuid/setgid
      futimesSync(fd, entry.atime ?? entry.mtime, entry.mtime);
      if (this.syncFiles && entry.size >= ASYNC_WRITE_MIN) {
        await this.syncAndClose(fd);
        fd = -1;
      }
    } finally {
      if (fd !== -1) closeSync(fd);
    }
    this.queueXattrs(rel, entry);
  }

  /**
   * fdatasync + close of a large file on the thread pool while extraction
   * goes on (at most {@link MAX_SYNCING} at a time); `settle` waits for all.
   */
  private async syncAndClose(fd: number): Promise<void> {
    const done: Promise<void> = new Promise<void>((resolve) => {
      fsFdatasync(fd, (syncErr) => {
        fsClose(fd, (closeErr) => {
          this.syncFailure ??= syncErr ?? closeErr ?? undefined;
          resolve();
        });
      });
    }).finally(() => this.syncing.delete(done));
    this.syncing.add(done);
    while (this.syncing.size > MAX_SYNCING) await Promise.race(this.syncing);
  }

  /** Waits for the background fdatasyncs; throws the first failure. */
  async settle(): Promise<void> {
    while (this.syncing.size > 0) await Promise.all([...this.syncing]);
    if (this.syncFailure) throw this.syncFailure;
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Files at least this large are written by the thread pool, overlapping the main thread's parsing and hashing. */
const ASYNC_WRITE_MIN = 256 * 1024;
/** Large files being fdatasync'ed in the background, at most. */
const MAX_SYNCING = 16;
/** Bytes of a large file handed to the thread pool and not yet written, at most. */
const MAX_WRITES_IN_FLIGHT = 8 * 1024 * 1024;

/** Chunks gathered into one positional writev of about this size (socket reads arrive in pieces). */
const WRITE_BATCH = 1024 * 1024;

/** pwritev of `buffers` at `pos` on the thread pool, all of them (short writes resumed). */
function writeBatch(fd: number, buffers: Buffer[], pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (bufs: Buffer[], at: number): void => {
      if (bufs.length === 0) {
        resolve();
        return;
      }
      fsWritev(fd, bufs, at, (err, written) => {
        if (err) {
          reject(err);
          return;
        }
        let skip = written;
        let i = 0;
        while (i < bufs.length && skip >= (bufs[i]?.length ?? 0)) skip -= bufs[i++]?.length ?? 0;
        const rest = bufs.slice(i);
        const first = rest[0];
        if (first !== undefined && skip > 0) rest[0] = first.subarray(skip);
        step(rest, at + written);
      });
    };
    step(buffers, pos);
  });
}

/**
 * Writes a large file's chunks with positional writes on the thread pool,
 * gathered into batches of about {@link WRITE_BATCH}, several in flight
 * (order does not matter at explicit offsets), bounded to
 * {@link MAX_WRITES_IN_FLIGHT} bytes. Returns when every byte is written.
 */
async function writeLargeFile(fd: number, chunks: AsyncIterable<Buffer>): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let inflightBytes = 0;
  let failure: Error | undefined;
  let pos = 0;
  let batch: Buffer[] = [];
  let batched = 0;
  const submit = async (): Promise<void> => {
    const buffers = batch;
    const bytes = batched;
    batch = [];
    batched = 0;
    const tracked: Promise<void> = writeBatch(fd, buffers, pos)
      .catch((err: unknown) => {
        failure ??= err as Error; // fs callbacks fail with Errors
      })
      .finally(() => {
        inflight.delete(tracked);
        inflightBytes -= bytes;
      });
    inflight.add(tracked);
    inflightBytes += bytes;
    pos += bytes;
    while (inflightBytes > MAX_WRITES_IN_FLIGHT && inflight.size > 0) await Promise.race(inflight);
  };
  for await (const chunk of chunks) {
    if (failure !== undefined) break;
    batch.push(chunk);
    batched += chunk.length;
    if (batched >= WRITE_BATCH) await submit();
  }
  if (batched > 0 && failure === undefined) await submit();
  await Promise.all(inflight);
  if (failure !== undefined) throw failure;
}

/**
 * Extracts the uncompressed layer tar `tar` into `dir` (which must exist and
 * should be empty), in overlayfs' diff form. See the file comment for the
 * safety rules. Reads `tar` to its end, even past the end-of-archive marker.
 * On failure `dir` is left partially populated: the caller removes it.
 * Must run as root (ownership, device nodes, trusted.* xattrs).
 */
export async function extractLayer(
  tar: Readable | AsyncIterable<Uint8Array>,
  dir: string,
  options?: ExtractOptions,
): Promise<ExtractResult> {
  if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InvalidParameterError(`extracting layer: ${dir} is not a directory`);
  }
  const ops = options?.ops ?? openSpecialFileOps();
  const ex = new Extractor(dir, ops, options?.tarSplit, options?.syncFiles === true);
  let complete = false;
  try {
    for await (const member of readTarEntries(tar, options?.tarSplit)) {
      try {
        await ex.entry(member.entry, () => member.body());
      } catch (err) {
        throw wrapEntryError(err, member.entry.name);
      }
    }
    await ex.finish();
    await ex.settle();
    complete = true;
    return { size: ex.size, warnings: ex.warnings };
  } finally {
    if (!complete) await ex.settle().catch(() => undefined); // no fd left open
    if (options?.ops === undefined) await ops.close();
  }
}

function wrapEntryError(err: unknown, name: string): Error {
  if (err instanceof BerthError) return err;
  const code = (err as { code?: unknown }).code;
  const message = `entry ${JSON.stringify(name)}: ${errorMessage(err)}`;
  if (typeof code === 'string' && INVALID_ERRNOS.has(code)) {
    return new InvalidParameterError(`invalid layer: ${message}`, { cause: err });
  }
  return new SystemError(`extracting layer: ${message}`, { cause: err });
}
