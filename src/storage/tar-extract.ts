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
 * mknod/mkfifo/xattrs go through one long-lived `python3` helper per
 * extraction (line-delimited JSON over a pipe), so a layer with thousands of
 * whiteouts costs one process, not thousands. Without python3 the helper
 * falls back to the `mknod`/`mkfifo` binaries and `setfattr`/`getfattr`
 * (Debian's `attr` package), one process per call.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { delimiter, join, posix } from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { BerthError, InvalidParameterError, SystemError, UnavailableError, errorMessage } from '../errors.js';
import { isErrno } from './atomic.js';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------
// Special file operations (mknod, xattrs)
// ---------------------------------------------------------------------------

export type DeviceKind = 'char' | 'block' | 'fifo';

/**
 * File operations Node has no API for. Paths are absolute. None of them
 * follows a symlink in the final component. Failures reject with an Error
 * carrying the errno `code` (as node:fs errors do), so `isErrno` works.
 *
 * Lifecycle: create with {@link openSpecialFileOps}, use, then `close()`
 * (which ends any helper process). Calls after close reject.
 */
export interface SpecialFileOps {
  /** Creates a device node or fifo (the mode's permission bits are subject to the umask). */
  mknod(path: string, kind: DeviceKind, mode: number, major: number, minor: number): Promise<void>;
  setxattr(path: string, name: string, value: Uint8Array): Promise<void>;
  /** The xattrs of each path that has any; paths without xattrs (or that vanished) are absent. */
  getxattrs(paths: readonly string[]): Promise<Map<string, Map<string, Buffer>>>;
  close(): Promise<void>;
}

/** An OS error reported by the helper, shaped like a node:fs error. */
export class HelperOsError extends Error {
  readonly code: string;
  readonly path: string | undefined;

  constructor(code: string, message: string, path?: string) {
    super(path === undefined ? `${code}: ${message}` : `${code}: ${message}, ${path}`);
    this.name = 'HelperOsError';
    this.code = code;
    this.path = path;
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
inp = sys.stdin.buffer
out = sys.stdout.buffer
def reply(obj):
    out.write(json.dumps(obj).encode() + b"\n")
    out.flush()
for line in inp:
    req = json.loads(line)
    op = req.get("op")
    path = req.get("path")
    try:
        if op == "mknod":
            if req["kind"] == "fifo":
                os.mkfifo(path, req["mode"])
            else:
                t = stat.S_IFCHR if req["kind"] == "char" else stat.S_IFBLK
                os.mknod(path, t | req["mode"], os.makedev(req["major"], req["minor"]))
            reply({"ok": True})
        elif op == "setxattr":
            os.setxattr(path, req["name"], base64.b64decode(req["value"]), follow_symlinks=False)
            reply({"ok": True})
        elif op == "getxattrs":
            res = {}
            for p in req["paths"]:
                try:
                    names = os.listxattr(p, follow_symlinks=False)
                    if names:
                        res[p] = {n: base64.b64encode(os.getxattr(p, n, follow_symlinks=False)).decode() for n in names}
                except OSError as e:
                    if e.errno in (errno.ENOENT, errno.ENOTSUP, errno.ENODATA):
                        continue
                    raise
            reply({"ok": True, "xattrs": res})
        else:
            reply({"ok": False, "code": "EINVAL", "message": "unknown op %r" % (op,)})
    except OSError as e:
        reply({"ok": False, "code": errno.errorcode.get(e.errno, "EIO"), "message": e.strerror or str(e), "path": getattr(e, "filename", None) or path})
    except Exception as e:
        reply({"ok": False, "code": "EINVAL", "message": repr(e), "path": path})
`;

interface HelperReply {
  ok: boolean;
  code?: string;
  message?: string;
  path?: string | null;
  xattrs?: Record<string, Record<string, string>>;
}

/** Paths per getxattrs request, to bound request and reply sizes. */
const XATTR_BATCH = 512;

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

  async mknod(path: string, kind: DeviceKind, mode: number, major: number, minor: number): Promise<void> {
    await this.call({ op: 'mknod', path, kind, mode: mode & 0o7777, major, minor });
  }

  async setxattr(path: string, name: string, value: Uint8Array): Promise<void> {
    await this.call({ op: 'setxattr', path, name, value: Buffer.from(value).toString('base64') });
  }

  async getxattrs(paths: readonly string[]): Promise<Map<string, Map<string, Buffer>>> {
    const out = new Map<string, Map<string, Buffer>>();
    for (let i = 0; i < paths.length; i += XATTR_BATCH) {
      const reply = await this.call({ op: 'getxattrs', paths: paths.slice(i, i + XATTR_BATCH) });
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
    }).then((reply) => {
      if (!reply.ok) {
        throw new HelperOsError(reply.code ?? 'EIO', reply.message ?? 'failed', reply.path ?? undefined);
      }
      return reply;
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

function execError(err: unknown, what: string, path: string): Error {
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
  return new HelperOsError(code, `${what}: ${text}`, path);
}

/** Fallback without python3: one process per call. */
class CliSpecialOps implements SpecialFileOps {
  private tools: Promise<{ setfattr?: string; getfattr?: string }> | undefined;

  async mknod(path: string, kind: DeviceKind, mode: number, major: number, minor: number): Promise<void> {
    const m = (mode & 0o777).toString(8);
    const args =
      kind === 'fifo'
        ? ['mkfifo', ['-m', m, '--', path]]
        : ['mknod', ['-m', m, '--', path, kind === 'char' ? 'c' : 'b', String(major), String(minor)]];
    try {
      await execFileAsync(args[0] as string, args[1] as string[]);
    } catch (err) {
      throw execError(err, kind === 'fifo' ? 'mkfifo' : 'mknod', path);
    }
  }

  async setxattr(path: string, name: string, value: Uint8Array): Promise<void> {
    const { setfattr } = await this.findTools();
    if (setfattr === undefined) throw noXattrTools();
    const v = '0s' + Buffer.from(value).toString('base64');
    try {
      await execFileAsync(setfattr, ['-h', '-n', name, '-v', v, '--', path]);
    } catch (err) {
      throw execError(err, 'setfattr', path);
    }
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

  async mknod(path: string, kind: DeviceKind, mode: number, major: number, minor: number): Promise<void> {
    return (await this.get()).mknod(path, kind, mode, major, minor);
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

  constructor(input: AsyncIterable<unknown>) {
    this.iter = input[Symbol.asyncIterator]();
  }

  async next(max: number): Promise<Buffer | undefined> {
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

/**
 * Iterates the members of an uncompressed tar stream (ustar, GNU and PAX
 * headers). After the end-of-archive block the rest of the input is read
 * and discarded, so a digest computed upstream covers the whole stream.
 * Sparse files and unknown entry types are refused. Leaving the loop early
 * destroys a Readable input.
 */
export async function* readTarEntries(input: AsyncIterable<unknown>): AsyncGenerator<TarMember> {
  const src = new ByteSource(input);
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
        while (left > 0) {
          const c = await src.next(left);
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

class Extractor {
  private readonly dir: string;
  private readonly ops: SpecialFileOps;
  /** Layer-relative paths known to be real directories (created or lstat'ed here). */
  private readonly knownDirs = new Set<string>();
  /** Directory times, applied last since creating children changes them. */
  private readonly dirTimes = new Map<string, { atime: number; mtime: number }>();
  size = 0;
  readonly warnings: string[] = [];

  constructor(dir: string, ops: SpecialFileOps) {
    this.dir = dir;
    this.ops = ops;
  }

  async entry(entry: TarEntry, body: () => AsyncGenerator<Buffer>): Promise<void> {
    const what = `entry ${JSON.stringify(entry.name)}`;
    const rel = cleanLayerPath(entry.name, what);
    if (rel === '') return; // the root entry: the diff dir's own metadata is berth's
    const base = posix.basename(rel);
    const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);

    // AUFS bookkeeping (.wh..wh.plnk/…, .wh..wh.aufs) has no meaning for overlayfs.
    const components = rel.split('/');
    if (
      components.some(
        (c, i) =>
          c.startsWith(WHITEOUT_META_PREFIX) && !(c === WHITEOUT_OPAQUE && i === components.length - 1),
      )
    ) {
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      await this.parents(rel, what);
      if (base === WHITEOUT_OPAQUE) {
        await this.ops.setxattr(this.abs(parent), OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
        return;
      }
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') {
        throw new InvalidParameterError(`invalid layer: ${what}: malformed whiteout`);
      }
      const target = parent === '' ? hidden : `${parent}/${hidden}`;
      const abs = this.abs(target);
      await this.create(target, false, () => this.ops.mknod(abs, 'char', 0o600, 0, 0));
      await lchown(abs, entry.uid, entry.gid);
      return;
    }

    await this.parents(rel, what);
    const abs = this.abs(rel);
    switch (entry.type) {
      case 'directory': {
        await this.create(rel, true, () => mkdir(abs, 0o700));
        this.knownDirs.add(rel);
        await this.metadata(abs, entry);
        this.dirTimes.set(rel, { atime: entry.atime ?? entry.mtime, mtime: entry.mtime });
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
        await this.create(rel, false, () => symlink(entry.linkname, abs));
        await lchown(abs, entry.uid, entry.gid);
        await this.xattrs(abs, entry);
        await lutimes(abs, entry.atime ?? entry.mtime, entry.mtime);
        return;
      }
      case 'link': {
        const targetWhat = `${what}: hardlink target ${JSON.stringify(entry.linkname)}`;
        const target = cleanLayerPath(entry.linkname, targetWhat);
        if (target === '' || target === rel || target.startsWith(`${rel}/`)) {
          throw new InvalidParameterError(`invalid layer: ${targetWhat}: not a linkable path`);
        }
        await this.parents(target, targetWhat, false);
        const targetAbs = this.abs(target);
        const st = await lstat(targetAbs).catch((err: unknown) => {
          if (isErrno(err, 'ENOENT')) {
            throw new InvalidParameterError(`invalid layer: ${targetWhat}: no such file in the layer`);
          }
          throw err;
        });
        if (st.isDirectory()) {
          throw new InvalidParameterError(`invalid layer: ${targetWhat}: is a directory`);
        }
        await this.create(rel, false, () => link(targetAbs, abs));
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        await this.create(rel, false, () =>
          this.ops.mknod(abs, entry.type as DeviceKind, 0o600, entry.devmajor, entry.devminor),
        );
        await this.metadata(abs, entry);
        await lutimes(abs, entry.atime ?? entry.mtime, entry.mtime);
        return;
      }
    }
  }

  /** Applies directory times; call once after the last entry. */
  async finish(): Promise<void> {
    for (const [rel, t] of this.dirTimes) {
      await lutimes(this.abs(rel), t.atime, t.mtime).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err;
      });
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.dir : join(this.dir, rel);
  }

  /**
   * Makes sure every parent of `rel` is a real directory inside the layer,
   * creating missing ones (0755, root-owned, as Docker does) when `create`.
   */
  private async parents(rel: string, what: string, create = true): Promise<void> {
    const parts = rel.split('/');
    parts.pop();
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if (this.knownDirs.has(cur)) continue;
      const abs = this.abs(cur);
      let st;
      try {
        st = await lstat(abs);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        if (!create) {
          throw new InvalidParameterError(
            `invalid layer: ${what}: parent ${JSON.stringify(cur)} does not exist`,
          );
        }
        await mkdir(abs, 0o755);
        await chmod(abs, 0o755);
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
   * Runs `make` (an exclusive create); if the path exists, a directory is
   * kept when `isDir` (merge), anything else is removed and `make` retried.
   */
  private async create(rel: string, isDir: boolean, make: () => Promise<unknown>): Promise<void> {
    try {
      await make();
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const st = await lstat(this.abs(rel));
    if (isDir && st.isDirectory()) return;
    await rm(this.abs(rel), { recursive: true, force: true });
    this.forget(rel);
    await make();
  }

  private forget(rel: string): void {
    const prefix = `${rel}/`;
    for (const d of this.knownDirs) if (d === rel || d.startsWith(prefix)) this.knownDirs.delete(d);
    for (const d of this.dirTimes.keys()) if (d === rel || d.startsWith(prefix)) this.dirTimes.delete(d);
  }

  private async writeFile(
    rel: string,
    abs: string,
    entry: TarEntry,
    body: () => AsyncGenerator<Buffer>,
  ): Promise<void> {
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const fh = await open(abs, flags, 0o600).catch(async (err: unknown) => {
      if (!isErrno(err, 'EEXIST')) throw err;
      await rm(abs, { recursive: true, force: true });
      this.forget(rel);
      return open(abs, flags, 0o600);
    });
    try {
      let pos = 0;
      for await (const chunk of body()) {
        let done = 0;
        while (done < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, pos + done);
          done += bytesWritten;
        }
        pos += chunk.length;
      }
      await fh.chown(entry.uid, entry.gid);
      await fh.chmod(entry.mode); // after chown, which clears setuid/setgid
      await fh.utimes(entry.atime ?? entry.mtime, entry.mtime);
    } finally {
      await fh.close();
    }
    await this.xattrs(abs, entry);
  }

  /** Owner, mode and xattrs of a node just created (never a symlink: chmod follows them). */
  private async metadata(abs: string, entry: TarEntry): Promise<void> {
    await lchown(abs, entry.uid, entry.gid);
    await chmod(abs, entry.mode); // after chown, which clears setuid/setgid
    await this.xattrs(abs, entry);
  }

  private async xattrs(abs: string, entry: TarEntry): Promise<void> {
    for (const [name, value] of entry.xattrs) {
      if (name.startsWith('trusted.overlay.')) {
        this.warnings.push(`${entry.name}: dropped overlay xattr ${name}`);
        continue;
      }
      try {
        await this.ops.setxattr(abs, name, value);
      } catch (err) {
        if (!isErrno(err, 'EPERM') && !isErrno(err, 'ENOTSUP')) throw err;
        this.warnings.push(`${entry.name}: xattr ${name} not set: ${errorMessage(err)}`);
      }
    }
  }
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
  const ops = options?.ops ?? openSpecialFileOps();
  const ex = new Extractor(dir, ops);
  try {
    for await (const member of readTarEntries(tar)) {
      try {
        await ex.entry(member.entry, () => member.body());
      } catch (err) {
        throw wrapEntryError(err, member.entry.name);
      }
    }
    await ex.finish();
    return { size: ex.size, warnings: ex.warnings };
  } finally {
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
