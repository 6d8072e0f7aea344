/**
 * Tar export of a layer diff directory (overlayfs form) as an OCI/Docker
 * layer tar: the reverse of `extractLayer`, for `docker save` and
 * `docker commit`.
 *
 * - 0/0 character devices (overlay whiteouts) become empty `.wh.<name>` files
 *   (mode 0600, owner and mtime kept); a directory with
 *   `trusted.overlay.opaque=y` is followed by an empty `<dir>/.wh..wh..opq`.
 *   Other `trusted.overlay.*` xattrs are overlay bookkeeping and are left out.
 * - Output is deterministic for a given tree: entries in sorted order (a
 *   directory before its contents), mtimes truncated to seconds, no atime or
 *   ctime, no user/group names, hardlinks emitted as links to the first path
 *   (in that order) of each inode.
 * - Headers are ustar, with a PAX header when something does not fit (long
 *   or non-ASCII names, large ids or sizes) and for xattrs
 *   (`SCHILY.xattr.<name>`, raw bytes, so binary values survive). The
 *   archive ends with two zero blocks, as Go's archive/tar writes it.
 * - Sockets are skipped (as Docker does). The root directory itself gets no
 *   entry.
 *
 * The tar is written here rather than with tar-stream's pack, which turns
 * mode 0 into 0644 and encodes PAX values as UTF-8 text.
 */
import {
  closeSync,
  constants as fsConstants,
  createReadStream,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  type Stats,
} from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { SystemError } from '../errors.js';
import {
  OVERLAY_OPAQUE_XATTR,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
  openSpecialFileOps,
  type SpecialFileOps,
  type TarEntryType,
} from './tar-extract.js';

export interface ExportOptions {
  /** Helper for reading xattrs; by default one is started and closed by the export. */
  ops?: SpecialFileOps;
}

/** A header to encode; `name` is relative, directories without the trailing `/`. */
export interface TarHeaderInput {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: ReadonlyMap<string, Buffer>;
}

const BLOCK = 512;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

const TYPEFLAG: Readonly<Record<TarEntryType, string>> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

// eslint-disable-next-line no-control-regex
const ASCII_RE = /^[\x01-\x7f]*$/;

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'latin1');
}

/** GNU base-256 for numbers too large for octal (device numbers). */
function writeBase256(buf: Buffer, offset: number, length: number, value: number): void {
  let v = BigInt(value);
  for (let i = length - 1; i > 0; i--) {
    buf[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = 0x80;
}

/** Splits a name into ustar's prefix (≤155) and name (≤100) fields, if possible. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (name.length <= 100) return { prefix: '', name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (rest.length === 0 || rest.length > 100) return undefined;
    if (prefix.length <= 155) return { prefix, name: rest };
  }
  return undefined;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const tail = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = tail.length + 1;
  while (String(len).length + tail.length !== len) len = String(len).length + tail.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), tail]);
}

function headerBlock(
  name: string,
  prefix: string,
  typeflag: string,
  fields: {
    mode: number;
    uid: number;
    gid: number;
    size: number;
    mtime: number;
    linkname: string;
    devmajor: number;
    devminor: number;
  },
): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, fields.mode);
  writeOctal(b, 108, 8, fields.uid);
  writeOctal(b, 116, 8, fields.gid);
  writeOctal(b, 124, 12, fields.size);
  writeOctal(b, 136, 12, fields.mtime);
  b.write(typeflag, 156, 1, 'latin1');
  b.write(fields.linkname, 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  if (fields.devmajor > MAX_OCTAL_7) writeBase256(b, 329, 8, fields.devmajor);
  else writeOctal(b, 329, 8, fields.devmajor);
  if (fields.devminor > MAX_OCTAL_7) writeBase256(b, 337, 8, fields.devminor);
  else writeOctal(b, 337, 8, fields.devminor);
  b.write(prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

function padding(size: number): Buffer {
  const rem = size % BLOCK;
  return Buffer.alloc(rem === 0 ? 0 : BLOCK - rem);
}

/**
 * The header block(s) for one entry: a PAX extended header when needed,
 * then the ustar header. The body (files only) and its padding follow.
 */
export function encodeTarHeader(h: TarHeaderInput): Buffer {
  const pax: Buffer[] = [];
  const fullName = h.type === 'directory' ? `${h.name}/` : h.name;
  let split = ASCII_RE.test(fullName) ? splitUstar(fullName) : undefined;
  if (split === undefined) {
    pax.push(paxRecord('path', Buffer.from(fullName, 'utf8')));
    split = { prefix: '', name: fullName.replace(/[^\x20-\x7e]/g, '_').slice(-100) };
  }
  let linkname = h.linkname ?? '';
  if (linkname.length > 100 || !ASCII_RE.test(linkname)) {
    pax.push(paxRecord('linkpath', Buffer.from(linkname, 'utf8')));
    linkname = '';
  }
  const num = (key: string, value: number, max: number): number => {
    if (value >= 0 && value <= max) return value;
    pax.push(paxRecord(key, Buffer.from(String(value), 'latin1')));
    return 0;
  };
  const fields = {
    mode: h.mode & 0o7777,
    uid: num('uid', h.uid, MAX_OCTAL_7),
    gid: num('gid', h.gid, MAX_OCTAL_7),
    size: num('size', h.size, MAX_OCTAL_11),
    mtime: num('mtime', h.mtime, MAX_OCTAL_11),
    linkname,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  };
  for (const [k, v] of [...(h.xattrs ?? new Map<string, Buffer>())].sort(([a], [b]) => (a < b ? -1 : 1))) {
    pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
  }
  const header = headerBlock(split.name, split.prefix, TYPEFLAG[h.type], fields);
  if (pax.length === 0) return header;
  const data = Buffer.concat(pax);
  const paxName = `PaxHeaders/${posix.basename(split.name)}`.slice(0, 100);
  const paxHeader = headerBlock(paxName, '', 'x', {
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: fields.mtime,
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, data, padding(data.length), header]);
}

/** The end-of-archive marker. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

interface WalkEntry {
  rel: string;
  abs: string;
  st: Stats;
}

/** Sort key of a node: its name in the archive (whiteouts sort as `.wh.<name>`). */
function archiveName(name: string, st: Stats): string {
  return isWhiteout(st) ? `${WHITEOUT_PREFIX}${name}` : name;
}

/** Longest stretch of synchronous file work before yielding to the event loop. */
const SLICE_MS = 10;
/** Output is gathered into chunks of about this size. */
const CHUNK = 64 * 1024;
/** Files up to this size are read with one synchronous read; larger ones are streamed. */
const SMALL_FILE = 1024 * 1024;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Every node below `root`, depth first, each directory's children in
 * archive-name order. Synchronous calls (far cheaper than fs/promises for
 * many small files) in slices between yields to the event loop.
 */
async function walk(root: string): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  let sliceStart = performance.now();
  const visit = async (rel: string): Promise<void> => {
    const children: Array<WalkEntry & { key: string }> = [];
    for (const name of readdirSync(rel === '' ? root : join(root, rel))) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, childRel);
      const st = lstatSync(abs);
      children.push({ rel: childRel, abs, st, key: archiveName(name, st) });
    }
    children.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
    for (const { key: _key, ...child } of children) {
      out.push(child);
      if (child.st.isDirectory()) await visit(child.rel);
    }
  };
  await visit('');
  return out;
}

function deviceNumbers(rdev: number): { major: number; minor: number } {
  const d = BigInt(rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function sizeChanged(rel: string): SystemError {
  return new SystemError(`exporting layer: ${rel} changed size while being read`);
}

/** A small file's content plus tar padding, read synchronously. */
function smallFileBody(abs: string, size: number, rel: string): Buffer {
  const buf = Buffer.alloc(size + ((BLOCK - (size % BLOCK)) % BLOCK));
  const fd = openSync(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) throw sizeChanged(rel);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

async function* largeFileBody(abs: string, size: number, rel: string): AsyncGenerator<Buffer> {
  let got = 0;
  for await (const chunk of createReadStream(abs, { start: 0, end: size - 1 })) {
    const buf = chunk as Buffer;
    got += buf.length;
    yield buf;
  }
  if (got !== size) throw sizeChanged(rel);
  if (size % BLOCK !== 0) yield padding(size);
}

async function* generate(dir: string, ops: SpecialFileOps, ownOps: boolean): AsyncGenerator<Buffer> {
  try {
    const entries = await walk(dir);
    const xattrs = await ops.getxattrs([dir, ...entries.filter((e) => !isWhiteout(e.st)).map((e) => e.abs)]);
    const firstPathOfInode = new Map<string, string>();
    const isOpaque = (abs: string): boolean => xattrs.get(abs)?.get(OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
    const opaqueMarker = (rel: string, st: Stats): Buffer =>
      encodeTarHeader({
        name: rel === '' ? WHITEOUT_OPAQUE : `${rel}/${WHITEOUT_OPAQUE}`,
        type: 'file',
        mode: st.mode & 0o777,
        uid: st.uid,
        gid: st.gid,
        size: 0,
        mtime: Math.floor(st.mtimeMs / 1000),
      });

    let parts: Buffer[] = [];
    let buffered = 0;
    const add = (b: Buffer): void => {
      parts.push(b);
      buffered += b.length;
    };
    const take = (): Buffer => {
      const chunk = parts.length === 1 ? parts[0] : Buffer.concat(parts, buffered);
      parts = [];
      buffered = 0;
      return chunk;
    };
    let sliceStart = performance.now();

    if (isOpaque(dir)) add(opaqueMarker('', lstatSync(dir)));
    for (const { rel, abs, st } of entries) {
      const base = {
        name: rel,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        xattrs: new Map(
          [...(xattrs.get(abs) ?? new Map<string, Buffer>())].filter(
            ([k]) => !k.startsWith('trusted.overlay.'),
          ),
        ),
      };
      if (isWhiteout(st)) {
        const parent = posix.dirname(rel);
        const name = `${parent === '.' ? '' : `${parent}/`}${WHITEOUT_PREFIX}${posix.basename(rel)}`;
        add(encodeTarHeader({ ...base, name, type: 'file', mode: 0o600, xattrs: new Map() }));
      } else if (st.isDirectory()) {
        add(encodeTarHeader({ ...base, type: 'directory' }));
        if (isOpaque(abs)) add(opaqueMarker(rel, st));
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? firstPathOfInode.get(key) : undefined;
        if (first !== undefined) {
          add(encodeTarHeader({ ...base, type: 'link', linkname: first }));
        } else {
          if (st.nlink > 1) firstPathOfInode.set(key, rel);
          add(encodeTarHeader({ ...base, type: 'file', size: st.size }));
          if (st.size <= SMALL_FILE) {
            add(smallFileBody(abs, st.size, rel));
          } else {
            yield take();
            yield* largeFileBody(abs, st.size, rel);
          }
        }
      } else if (st.isSymbolicLink()) {
        add(encodeTarHeader({ ...base, type: 'symlink', linkname: readlinkSync(abs) }));
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const { major, minor } = deviceNumbers(st.rdev);
        const type = st.isCharacterDevice() ? 'char' : 'block';
        add(encodeTarHeader({ ...base, type, devmajor: major, devminor: minor }));
      } else if (st.isFIFO()) {
        add(encodeTarHeader({ ...base, type: 'fifo' }));
      }
      // sockets: skipped
      if (buffered >= CHUNK) yield take();
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    add(TAR_END);
    yield take();
  } finally {
    if (ownOps) await ops.close();
  }
}

/**
 * A tar stream of the layer diff in `dir` (see the file comment for the
 * format). The tree must not change while it is read; a file changing size
 * fails the stream.
 */
export function exportLayer(dir: string, options?: ExportOptions): Readable {
  const ops = options?.ops ?? openSpecialFileOps();
  return Readable.from(generate(dir, ops, options?.ops === undefined), { objectMode: false });
}
