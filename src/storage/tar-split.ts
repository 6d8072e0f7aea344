/**
 * Tar-split: what it takes to rebuild a layer tar byte for byte from its
 * extracted files, as moby keeps it next to each layer (its
 * `tar-split.json.gz`). Recorded while the layer is extracted, it is the
 * archive minus the contents of its regular files: header blocks, PAX and
 * long-name records, padding, the end-of-archive blocks and anything after
 * them stay as raw bytes; each file's contents become a reference to the
 * extracted file. Reassembly interleaves the two again, so `docker save`
 * and push of a layer need neither a second copy of the tar nor a gunzip,
 * and the result hashes to the layer's diff ID (checked while it streams).
 *
 * If an entry later in the same tar replaces or removes a file the split
 * refers to, that file is first moved into the layer's stash directory
 * (`stash/<n>`, beside `diff/`), so the reference stays valid.
 *
 * Verifying every rebuilt tar against its diff ID costs a sha256 of the
 * whole layer each time. The split is sealed with a time at least
 * {@link RACY_MS} after extraction finished (when the content had just been
 * hashed): a file whose size is unchanged and whose ctime is at least
 * RACY_MS before the seal has not been touched since (any write, truncate,
 * chmod or rename moves ctime to the kernel's clock, which lags real time
 * by at most a tick, and ctime cannot be set back), so a layer whose files
 * are all like that is rebuilt without hashing it again, as git trusts its
 * index's stat data (and, like git, treats "racy" times as changed).
 * Anything else is hashed and checked.
 *
 * Encoded form (then gzip'ed): the magic `BTS1`, then records:
 * - sealed: 0x02, f64 LE milliseconds since the epoch (first, optional);
 * - raw:  0x00, u32 LE length, the bytes;
 * - file: 0x01, u64 LE size, u32 LE stash index + 1 (0 = in diff/),
 *         u32 LE path length, the layer-relative path (UTF-8).
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  constants as fsConstants,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';

import { InvalidParameterError, SystemError } from '../errors.js';
import { OffThreadDigest } from './digest.js';

const MAGIC = Buffer.from('BTS1');
const RAW = 0;
const FILE = 1;
const SEALED = 2;
/** More than a kernel tick (1–10 ms): ctimes this close to the seal are not trusted. */
export const RACY_MS = 25;
/** Files up to this size are read with one synchronous read when reassembling. */
const SMALL_FILE = 256 * 1024;
const READ_CHUNK = 1024 * 1024;

/** A reference to a regular file's contents. */
interface FileSegment {
  readonly kind: 'file';
  /** Layer-relative path (cleaned, as extracted). */
  readonly rel: string;
  readonly size: number;
  /** Set once the file has been moved to `stash/<n>`. */
  stash: number | undefined;
}

interface RawSegment {
  readonly kind: 'raw';
  readonly bytes: Buffer;
}

export type TarSplitSegment = RawSegment | FileSegment;

/**
 * Records a tar's split while it is parsed (`raw`, `file`) and extracted
 * (`evict` before the extractor removes a path). One per layer.
 */
export class TarSplitRecorder {
  private readonly segments: TarSplitSegment[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Files whose contents are still referenced at their extracted path. */
  private readonly live = new Map<string, FileSegment[]>();
  private stashed = 0;
  private readonly diffDir: string;
  private readonly stashDir: string;

  /** `diffDir` is where the layer is extracted, `stashDir` where evicted files go. */
  constructor(diffDir: string, stashDir: string) {
    this.diffDir = diffDir;
    this.stashDir = stashDir;
  }

  /** Bytes of the archive that are kept as they are (copied: callers may reuse their buffers). */
  raw(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(Buffer.from(chunk));
    this.pendingBytes += chunk.length;
  }

  /** The next `size` bytes of the archive are the contents of the regular file extracted at `rel`. */
  file(rel: string, size: number): void {
    if (size === 0) return;
    this.flushRaw();
    const seg: FileSegment = { kind: 'file', rel, size, stash: undefined };
    this.segments.push(seg);
    const list = this.live.get(rel);
    if (list) list.push(seg);
    else this.live.set(rel, [seg]);
  }

  /**
   * The extractor is about to remove or replace `rel` (and anything below
   * it): moves every referenced file there into the stash first.
   */
  evict(rel: string): void {
    const prefix = `${rel}/`;
    for (const [path, segs] of this.live) {
      if (path !== rel && !path.startsWith(prefix)) continue;
      if (this.stashed === 0) mkdirSync(this.stashDir, { recursive: true, mode: 0o700 });
      const n = this.stashed++;
      renameSync(join(this.diffDir, path), join(this.stashDir, String(n)));
      for (const seg of segs) seg.stash = n;
      this.live.delete(path);
    }
  }

  /** The recorded split, encoded and compressed, sealed at `sealedAt` (ms; see the file comment). */
  encode(sealedAt?: number): Buffer {
    this.flushRaw();
    return encodeTarSplit(this.segments, sealedAt);
  }

  private flushRaw(): void {
    if (this.pendingBytes === 0) return;
    this.segments.push({ kind: 'raw', bytes: Buffer.concat(this.pending, this.pendingBytes) });
    this.pending = [];
    this.pendingBytes = 0;
  }
}

/** Serialises segments (see the file comment). */
export function encodeTarSplit(segments: readonly TarSplitSegment[], sealedAt?: number): Buffer {
  const parts: Buffer[] = [MAGIC];
  if (sealedAt !== undefined) {
    const sealed = Buffer.alloc(9);
    sealed[0] = SEALED;
    sealed.writeDoubleLE(sealedAt, 1);
    parts.push(sealed);
  }
  for (const seg of segments) {
    if (seg.kind === 'raw') {
      const head = Buffer.alloc(5);
      head[0] = RAW;
      head.writeUInt32LE(seg.bytes.length, 1);
      parts.push(head, seg.bytes);
    } else {
      const path = Buffer.from(seg.rel, 'utf8');
      const head = Buffer.alloc(17);
      head[0] = FILE;
      head.writeBigUInt64LE(BigInt(seg.size), 1);
      head.writeUInt32LE(seg.stash === undefined ? 0 : seg.stash + 1, 9);
      head.writeUInt32LE(path.length, 13);
      parts.push(head, path);
    }
  }
  return gzipSync(Buffer.concat(parts), { level: zlibConstants.Z_BEST_SPEED });
}

export interface TarSplit {
  segments: TarSplitSegment[];
  /** When extraction finished (ms since the epoch), if recorded. */
  sealedAt: number | undefined;
}

/** Parses what {@link encodeTarSplit} wrote; InvalidParameterError for anything else. */
export function decodeTarSplit(encoded: Buffer): TarSplit {
  const bad = (why: string): InvalidParameterError => new InvalidParameterError(`corrupt tar-split: ${why}`);
  let buf: Buffer;
  try {
    buf = gunzipSync(encoded);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('bad magic');
  const out: TarSplitSegment[] = [];
  let sealedAt: number | undefined;
  let pos = MAGIC.length;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw bad('truncated');
  };
  while (pos < buf.length) {
    const kind = buf[pos];
    if (kind === SEALED && pos === MAGIC.length) {
      need(9);
      sealedAt = buf.readDoubleLE(pos + 1);
      pos += 9;
    } else if (kind === RAW) {
      need(5);
      const len = buf.readUInt32LE(pos + 1);
      pos += 5;
      need(len);
      out.push({ kind: 'raw', bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (kind === FILE) {
      need(17);
      const size = Number(buf.readBigUInt64LE(pos + 1));
      const stash = buf.readUInt32LE(pos + 9);
      const len = buf.readUInt32LE(pos + 13);
      pos += 17;
      need(len);
      const rel = buf.toString('utf8', pos, pos + len);
      pos += len;
      if (rel === '' || rel.startsWith('/') || rel.split('/').includes('..')) throw bad(`bad path ${rel}`);
      out.push({ kind: 'file', rel, size, stash: stash === 0 ? undefined : stash - 1 });
    } else {
      throw bad(`unknown record type ${kind}`);
    }
  }
  return { segments: out, sealedAt };
}

/** Total length of the tar the segments rebuild. */
export function tarSplitSize(segments: readonly TarSplitSegment[]): number {
  return segments.reduce((n, s) => n + (s.kind === 'raw' ? s.bytes.length : s.size), 0);
}

/**
 * True when every file the split refers to still has its recorded size and
 * has not changed (ctime) since `sealedAt`: the rebuilt tar is the one that
 * was hashed at extraction.
 */
export function filesUnchangedSince(
  segments: readonly TarSplitSegment[],
  diffDir: string,
  stashDir: string,
  sealedAt: number,
): boolean {
  for (const seg of segments) {
    if (seg.kind !== 'file') continue;
    const path = seg.stash === undefined ? join(diffDir, seg.rel) : join(stashDir, String(seg.stash));
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined || !st.isFile() || st.size !== seg.size || st.ctimeMs > sealedAt - RACY_MS)
      return false;
  }
  return true;
}

function changed(rel: string, why: string): SystemError {
  return new SystemError(`reassembling layer tar: ${rel} ${why}; the layer was modified on disk`);
}

/** Free read buffers (each READ_CHUNK bytes), at most {@link POOL_MAX}. */
const freeBuffers: ArrayBuffer[] = [];
const POOL_MAX = 16;
/** Buffers lent out, by the one view of each that was handed on. */
const lent = new WeakMap<ArrayBuffer, Uint8Array>();

function takeReadBuffer(): Buffer {
  const free = freeBuffers.pop();
  return free === undefined ? Buffer.allocUnsafeSlow(READ_CHUNK) : Buffer.from(free);
}

/**
 * Gives a chunk of a rebuilt tar back for reuse once its consumer is done
 * with it (the API does so when the socket has taken a chunk of `docker
 * save`): 200 MB of fresh 1 MiB buffers per save otherwise cost tens of
 * milliseconds of garbage collection. Only the exact chunk that was handed
 * out is taken back, once; anything else is ignored, and consumers that
 * never give chunks back only lose the reuse.
 */
export function recycleTarChunk(chunk: Uint8Array): void {
  const buffer = chunk.buffer as ArrayBuffer;
  if (lent.get(buffer) !== chunk) return;
  lent.delete(buffer);
  if (freeBuffers.length < POOL_MAX) freeBuffers.push(buffer);
}

async function* fileContents(path: string, rel: string, size: number): AsyncGenerator<Buffer> {
  if (size <= SMALL_FILE) {
    const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      if (fstatSync(fd).size !== size) throw changed(rel, 'changed size');
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const n = readSync(fd, buf, got, size - got, got);
        if (n === 0) throw changed(rel, 'changed size');
        got += n;
      }
      yield buf;
    } finally {
      closeSync(fd);
    }
    return;
  }
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    if ((await fh.stat()).size !== size) throw changed(rel, 'changed size');
    let pos = 0;
    while (pos < size) {
      const buf = takeReadBuffer();
      const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, size - pos), pos);
      if (bytesRead === 0) throw changed(rel, 'changed size');
      pos += bytesRead;
      const out = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      lent.set(buf.buffer as ArrayBuffer, out);
      yield out;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The original tar, rebuilt from `segments` and the layer's `diffDir` and
 * `stashDir`. With `expectedDigest`, the stream is hashed as it goes and
 * fails at the end if it does not match (nothing wrong is ever reported as
 * complete). Small pieces are gathered into chunks of about 64 KiB.
 */
export async function* assembleTar(
  segments: readonly TarSplitSegment[],
  diffDir: string,
  stashDir: string,
  expectedDigest?: string,
): AsyncGenerator<Buffer> {
  // Hashed on a worker thread: the main thread is busy enough moving the bytes.
  const counter = expectedDigest === undefined ? undefined : new OffThreadDigest();
  let complete = false;
  try {
    for await (const out of gathered(segments, diffDir, stashDir)) {
      counter?.update(out);
      yield out;
    }
    complete = true;
  } finally {
    if (!complete) counter?.abandon();
  }
  const got = counter === undefined ? undefined : (await counter.digest()).digest;
  if (got !== expectedDigest) {
    throw new SystemError(
      `reassembling layer tar: got ${got}, expected ${expectedDigest}; the layer was modified on disk`,
    );
  }
}

/** The rebuilt tar's pieces, small ones gathered into chunks of about 64 KiB. */
async function* gathered(
  segments: readonly TarSplitSegment[],
  diffDir: string,
  stashDir: string,
): AsyncGenerator<Buffer> {
  let batch: Buffer[] = [];
  let batched = 0;
  const take = (): Buffer => {
    const out = Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };
  for (const seg of segments) {
    const pieces =
      seg.kind === 'raw'
        ? [seg.bytes]
        : fileContents(
            seg.stash === undefined ? join(diffDir, seg.rel) : join(stashDir, String(seg.stash)),
            seg.rel,
            seg.size,
          );
    for await (const piece of pieces) {
      if (piece.length >= 64 * 1024) {
        if (batched > 0) yield take();
        yield piece;
        continue;
      }
      batch.push(piece);
      batched += piece.length;
      if (batched >= 64 * 1024) yield take();
    }
  }
  if (batched > 0) yield take();
}
