/**
 * The content store: immutable blobs (manifests, configs, compressed layers)
 * addressed by their sha256 digest, modelled on containerd's local content
 * store.
 *
 * On-disk layout under `<root>`:
 *
 * ```
 * <root>/
 *   blobs/sha256/<hex>        committed blobs, verified, mode 0444; never partial
 *   ingest/<sha256(ref)>/     one in-progress write per ref
 *     ref                     the ref string itself (refs may contain any character)
 *     expected                JSON {digest, size?} the writer was opened with, if any
 *     data                    the bytes received so far (a prefix of the blob)
 * ```
 *
 * A blob appears under `blobs/` only through a rename of a fully written,
 * fsynced and verified `data` file, followed by an fsync of `blobs/sha256`.
 * A crash (even SIGKILL mid-write) leaves at most a partial `ingest/` dir,
 * which a later `writer(ref)` resumes or `cleanupIngests` removes.
 */
import { constants as fsConstants } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  UnavailableError,
  errorMessage,
} from '../errors.js';
import { fsyncDir, isErrno, readJsonFile, readTextFile, writeFileAtomic } from './atomic.js';
import { DigestCounter, parseDigestString, sha256Digest, SHA256_PREFIX } from './digest.js';

/** What the store knows about a committed blob. */
export interface ContentInfo {
  readonly digest: string;
  readonly size: number;
}

/** The digest (and, when known, size) a writer's content must have. */
export interface ExpectedContent {
  readonly digest: string;
  readonly size?: number;
}

/** An in-progress ingest, as `ingests()` reports it. */
export interface IngestStatus {
  readonly ref: string;
  /** Bytes written so far: where a resumed download continues. */
  readonly offset: number;
  readonly updatedAt: Date;
  readonly expected?: ExpectedContent;
}

/**
 * Writes one blob. Obtained from {@link ContentStore.writer}; see there for
 * the lifecycle. Methods must not be called after commit, abort or close.
 */
export interface ContentWriter {
  readonly ref: string;
  /** Bytes written so far, including those recovered from an earlier, interrupted writer. */
  readonly offset: number;
  readonly expected: ExpectedContent | undefined;
  /** Appends bytes at `offset`. Writing past the expected size discards the ingest and throws. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * A Writable over {@link write}, for `pipeline(source, writer.stream())`.
   * Ending it does not commit. Destroying it with an error (a failed or
   * aborted pipeline) closes the writer, keeping the ingest for a resume.
   */
  stream(): Writable;
  /** sha256 of the bytes written so far. */
  digest(): string;
  /** Discards what has been written and starts again at offset 0 (a source that cannot resume). */
  reset(): Promise<void>;
  /**
   * Makes the content a blob. The expected digest and size default to those
   * the writer was opened with; with neither, the blob is stored under its
   * computed digest. fsyncs, verifies size then digest (a mismatch throws
   * InvalidParameterError and discards the ingest), renames into `blobs/`
   * and fsyncs that directory. If the blob already exists the ingest is
   * discarded and commit succeeds.
   */
  commit(expectedDigest?: string, expectedSize?: number): Promise<ContentInfo>;
  /** Discards the ingest (also after close, unless another writer has the ref). */
  abort(): Promise<void>;
  /** Releases the writer but keeps the ingest, so a later `writer(ref)` resumes it. */
  close(): Promise<void>;
}

/**
 * Content-addressed blob storage.
 *
 * Lifecycle of a blob:
 * 1. `writer(ref, expected?)` opens (or reopens) the ingest for `ref`, a
 *    caller-chosen name such as `layer-sha256:…`. One writer per ref at a
 *    time: a second one fails with UnavailableError until the first is
 *    closed. A reopened ingest reports how much it already holds in `offset`
 *    (also `resumeOffset(ref)`), so a download can continue with a Range
 *    request; if `expected` differs from what the ingest was started with,
 *    the old partial data is dropped.
 * 2. `write(chunk)` repeatedly, or `pipeline(source, writer.stream())`.
 * 3. `commit(expectedDigest?, expectedSize?)` → the blob is readable with
 *    `has`/`info`/`readStream`/`readBytes`/`path`; or `abort()` to drop the
 *    data; or `close()` to keep it for later.
 * 4. `delete(digest)` removes a blob. Blobs are immutable in between.
 *
 * Content being written is never visible under `blobs/` before it has been
 * verified. `cleanupIngests(ms)` removes ingests idle for longer than `ms`;
 * `LocalContentStore.open` does so at start for long-abandoned ones.
 */
export interface ContentStore {
  writer(ref: string, expected?: ExpectedContent): Promise<ContentWriter>;
  /** Bytes already held for `ref` (0 when there is no ingest). */
  resumeOffset(ref: string): Promise<number>;
  has(digest: string): Promise<boolean>;
  info(digest: string): Promise<ContentInfo | undefined>;
  /** A stream of the blob from byte `start` (default 0). NotFoundError when missing. */
  readStream(digest: string, start?: number): Promise<Readable>;
  /** The whole blob. NotFoundError when missing. */
  readBytes(digest: string): Promise<Buffer>;
  /** Stores `bytes` (verifying them against `expectedDigest` when given). */
  put(bytes: Uint8Array, expectedDigest?: string): Promise<ContentInfo>;
  /** Removes a blob; false when there was none. */
  delete(digest: string): Promise<boolean>;
  list(): Promise<ContentInfo[]>;
  /** Where the blob lives (or would live) on disk. */
  path(digest: string): string;
  ingests(): Promise<IngestStatus[]>;
  /** Removes ingests not written for `olderThanMs` and not open; returns their refs. */
  cleanupIngests(olderThanMs: number): Promise<string[]>;
}

export interface ContentStoreOptions {
  /** Ingests idle for longer than this are removed by `open`. Default 24 h; `Infinity` keeps all. */
  staleIngestMs?: number;
}

const DEFAULT_STALE_INGEST_MS = 24 * 60 * 60 * 1000;
const HEX_RE = /^[0-9a-f]{64}$/;

function notFound(digest: string): NotFoundError {
  return new NotFoundError(`content ${digest}: not found`);
}

/** The filesystem-backed {@link ContentStore}. One instance per root per process. */
export class LocalContentStore implements ContentStore {
  readonly root: string;
  private readonly blobDir: string;
  private readonly ingestRoot: string;
  /** Refs with an open writer. */
  private readonly locked = new Set<string>();

  private constructor(root: string) {
    this.root = root;
    this.blobDir = join(root, 'blobs', 'sha256');
    this.ingestRoot = join(root, 'ingest');
  }

  /** Creates the layout if needed and removes stale ingests. */
  static async open(root: string, options?: ContentStoreOptions): Promise<LocalContentStore> {
    const store = new LocalContentStore(root);
    await mkdir(store.blobDir, { recursive: true, mode: 0o700 });
    await mkdir(store.ingestRoot, { recursive: true, mode: 0o700 });
    const stale = options?.staleIngestMs ?? DEFAULT_STALE_INGEST_MS;
    if (Number.isFinite(stale)) await store.cleanupIngests(stale);
    return store;
  }

  path(digest: string): string {
    return join(this.blobDir, parseDigestString(digest).hex);
  }

  /** The ingest directory for `ref`. */
  ingestDir(ref: string): string {
    return join(this.ingestRoot, sha256Digest(ref).slice(SHA256_PREFIX.length));
  }

  async writer(ref: string, expected?: ExpectedContent): Promise<ContentWriter> {
    if (ref === '') throw new InvalidParameterError('content writer: empty ref');
    if (expected !== undefined) {
      parseDigestString(expected.digest);
      if (expected.size !== undefined && (!Number.isSafeInteger(expected.size) || expected.size < 0)) {
        throw new InvalidParameterError(`content writer ${ref}: invalid expected size ${expected.size}`);
      }
    }
    if (this.locked.has(ref)) throw new UnavailableError(`content ref ${ref} is locked by another writer`);
    this.locked.add(ref);
    try {
      return await LocalContentWriter.open(this, ref, this.ingestDir(ref), expected);
    } catch (err) {
      this.locked.delete(ref);
      throw err;
    }
  }

  /** Called by writers when they are done. */
  release(ref: string): void {
    this.locked.delete(ref);
  }

  /** True while `ref` has an open writer. */
  isLocked(ref: string): boolean {
    return this.locked.has(ref);
  }

  async resumeOffset(ref: string): Promise<number> {
    try {
      return (await stat(join(this.ingestDir(ref), 'data'))).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async info(digest: string): Promise<ContentInfo | undefined> {
    const p = this.path(digest);
    try {
      const st = await stat(p);
      return { digest, size: st.size };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async readStream(digest: string, start = 0): Promise<Readable> {
    const p = this.path(digest);
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(digest);
      throw err;
    }
    try {
      const { size } = await fh.stat();
      if (!Number.isSafeInteger(start) || start < 0 || start > size) {
        throw new InvalidParameterError(`content ${digest}: read offset ${start} outside 0..${size}`);
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    return fh.createReadStream({ start, autoClose: true });
  }

  async readBytes(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(digest);
      throw err;
    }
  }

  async put(bytes: Uint8Array, expectedDigest?: string): Promise<ContentInfo> {
    const actual = sha256Digest(bytes);
    if (expectedDigest !== undefined) {
      parseDigestString(expectedDigest);
      if (actual !== expectedDigest) {
        throw new InvalidParameterError(`unexpected content digest ${actual}, expected ${expectedDigest}`);
      }
    }
    const existing = await this.info(actual);
    if (existing !== undefined) return existing;
    const w = await this.writer(`put-${actual}-${randomBytes(6).toString('hex')}`);
    try {
      await w.write(bytes);
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w.commit(actual, bytes.byteLength);
  }

  async delete(digest: string): Promise<boolean> {
    try {
      await unlink(this.path(digest));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
    await fsyncDir(this.blobDir);
    return true;
  }

  async list(): Promise<ContentInfo[]> {
    const out: ContentInfo[] = [];
    for (const name of (await readdir(this.blobDir)).sort()) {
      if (!HEX_RE.test(name)) continue;
      try {
        const st = await lstat(join(this.blobDir, name));
        if (st.isFile()) out.push({ digest: SHA256_PREFIX + name, size: st.size });
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    return out;
  }

  async ingests(): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const key of (await readdir(this.ingestRoot)).sort()) {
      const dir = join(this.ingestRoot, key);
      const ref = await readTextFile(join(dir, 'ref')).catch(() => undefined);
      if (ref === undefined) continue;
      let offset = 0;
      let updatedAt: Date;
      try {
        const st = await stat(join(dir, 'data'));
        offset = st.size;
        updatedAt = st.mtime;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        updatedAt = (await stat(dir)).mtime;
      }
      const expected = await readJsonFile<ExpectedContent>(join(dir, 'expected')).catch(() => undefined);
      out.push(expected === undefined ? { ref, offset, updatedAt } : { ref, offset, updatedAt, expected });
    }
    return out;
  }

  async cleanupIngests(olderThanMs: number): Promise<string[]> {
    const removed: string[] = [];
    const cutoff = Date.now() - olderThanMs;
    let keys: string[];
    try {
      keys = await readdir(this.ingestRoot);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return removed;
      throw err;
    }
    for (const key of keys) {
      const dir = join(this.ingestRoot, key);
      const ref = (await readTextFile(join(dir, 'ref')).catch(() => undefined)) ?? key;
      if (this.locked.has(ref)) continue;
      let mtime: number;
      try {
        mtime = (await stat(join(dir, 'data')).catch(() => stat(dir))).mtimeMs;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      if (mtime > cutoff) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(ref);
    }
    return removed;
  }
}

type WriterState = 'open' | 'committed' | 'aborted' | 'closed';

function sameExpected(a: ExpectedContent | undefined, b: ExpectedContent | undefined): boolean {
  return a?.digest === b?.digest && a?.size === b?.size;
}

class LocalContentWriter implements ContentWriter {
  readonly ref: string;
  private readonly store: LocalContentStore;
  private readonly dir: string;
  private readonly dataPath: string;
  private fh: FileHandle;
  private counter = new DigestCounter();
  private state: WriterState = 'open';
  /** Serialises writes so that concurrent `write` calls append in call order. */
  private tail: Promise<void> = Promise.resolve();
  private expectedContent: ExpectedContent | undefined;

  private constructor(
    store: LocalContentStore,
    ref: string,
    dir: string,
    fh: FileHandle,
    expected: ExpectedContent | undefined,
  ) {
    this.store = store;
    this.ref = ref;
    this.dir = dir;
    this.dataPath = join(dir, 'data');
    this.fh = fh;
    this.expectedContent = expected;
  }

  static async open(
    store: LocalContentStore,
    ref: string,
    dir: string,
    expected: ExpectedContent | undefined,
  ): Promise<LocalContentWriter> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if ((await readTextFile(join(dir, 'ref'))) !== ref) await writeFileAtomic(join(dir, 'ref'), ref);
    const expectedPath = join(dir, 'expected');
    const previous = await readJsonFile<ExpectedContent>(expectedPath).catch(() => undefined);
    let restart = false;
    let effective = previous;
    if (expected !== undefined && !sameExpected(previous, expected)) {
      // A different target for the same ref: old bytes are not a prefix of it.
      restart = previous !== undefined;
      effective = { ...expected };
      await writeFileAtomic(expectedPath, JSON.stringify(effective));
    }
    const fh = await open(join(dir, 'data'), fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600);
    const writer = new LocalContentWriter(store, ref, dir, fh, effective);
    try {
      const size = (await fh.stat()).size;
      if (restart || (effective?.size !== undefined && size > effective.size)) {
        await fh.truncate(0);
      } else if (size > 0) {
        await writer.rehash(size);
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    return writer;
  }

  get offset(): number {
    return this.counter.size;
  }

  get expected(): ExpectedContent | undefined {
    return this.expectedContent;
  }

  digest(): string {
    return this.counter.digest();
  }

  write(chunk: Uint8Array): Promise<void> {
    const run = this.tail.then(() => this.doWrite(chunk));
    this.tail = run.catch(() => undefined);
    return run;
  }

  stream(): Writable {
    const done =
      (callback: (err?: Error | null) => void) =>
      (err?: unknown): void =>
        callback(err === undefined ? null : err instanceof Error ? err : new Error(errorMessage(err)));
    return new Writable({
      // Chunks that queue up while a write is in flight go down in one writev (a network stream
      // brings many small ones; each fs call costs the main thread more than its bytes).
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, callback): void => {
        this.write(chunk).then(() => callback(), done(callback));
      },
      writev: (chunks, callback): void => {
        this.writeMany(chunks.map((c) => c.chunk as Buffer)).then(() => callback(), done(callback));
      },
      destroy: (err, callback): void => {
        if (err !== null && this.state === 'open') {
          this.close().then(
            () => callback(err),
            () => callback(err),
          );
          return;
        }
        callback(err);
      },
    });
  }

  /** Appends several chunks with one positional writev (as `write` for each, in order). */
  writeMany(chunks: Uint8Array[]): Promise<void> {
    const run = this.tail.then(() => this.doWriteMany(chunks));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async reset(): Promise<void> {
    this.assertOpen();
    await this.tail;
    await this.fh.truncate(0);
    this.counter = new DigestCounter();
  }

  async commit(expectedDigest?: string, expectedSize?: number): Promise<ContentInfo> {
    this.assertOpen();
    const wantDigest = expectedDigest ?? this.expectedContent?.digest;
    const wantSize = expectedSize ?? this.expectedContent?.size;
    if (wantDigest !== undefined) parseDigestString(wantDigest);
    this.state = 'committed';
    try {
      await this.tail;
      await this.fh.sync();
      await this.fh.close();
      const size = this.counter.size;
      if (wantSize !== undefined && size !== wantSize) {
        throw new InvalidParameterError(
          `commit of ${this.ref} failed: unexpected size ${size}, expected ${wantSize}`,
        );
      }
      const digest = this.counter.digest();
      if (wantDigest !== undefined && digest !== wantDigest) {
        throw new InvalidParameterError(
          `commit of ${this.ref} failed: unexpected digest ${digest}, expected ${wantDigest}`,
        );
      }
      const target = this.store.path(digest);
      if (!(await exists(target))) {
        await chmod(this.dataPath, 0o444);
        await rename(this.dataPath, target);
        await fsyncDir(dirname(target));
      }
      await rm(this.dir, { recursive: true, force: true });
      return { digest, size };
    } catch (err) {
      await this.fh.close().catch(() => undefined);
      await rm(this.dir, { recursive: true, force: true });
      throw err;
    } finally {
      this.store.release(this.ref);
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'closed' && !this.store.isLocked(this.ref)) {
      this.state = 'aborted';
      await rm(this.dir, { recursive: true, force: true });
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.tail;
    await this.discard();
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    try {
      await this.tail;
      await this.fh.close();
    } finally {
      this.store.release(this.ref);
    }
  }

  /** Closes the file and removes the ingest; the state has already left 'open'. */
  private async discard(): Promise<void> {
    try {
      await this.fh.close().catch(() => undefined);
      await rm(this.dir, { recursive: true, force: true });
    } finally {
      this.store.release(this.ref);
    }
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new ConflictError(`content writer for ${this.ref} is ${this.state}`);
  }

  private async doWrite(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    const limit = this.expectedContent?.size;
    if (limit !== undefined && this.counter.size + chunk.byteLength > limit) {
      const got = this.counter.size + chunk.byteLength;
      this.state = 'aborted';
      await this.discard();
      throw new InvalidParameterError(
        `content ${this.ref}: received at least ${got} bytes, more than the expected ${limit}`,
      );
    }
    let done = 0;
    while (done < chunk.byteLength) {
      const { bytesWritten } = await this.fh.write(
        chunk,
        done,
        chunk.byteLength - done,
        this.counter.size + done,
      );
      done += bytesWritten;
    }
    this.counter.update(chunk);
  }

  private async doWriteMany(chunks: Uint8Array[]): Promise<void> {
    this.assertOpen();
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    const limit = this.expectedContent?.size;
    if (limit !== undefined && this.counter.size + total > limit) {
      for (const c of chunks) await this.doWrite(c); // fails at the chunk that goes past the limit
      return;
    }
    let pending = chunks;
    let at = this.counter.size;
    while (pending.length > 0) {
      const { bytesWritten } = await this.fh.writev(pending, at);
      at += bytesWritten;
      let skip = bytesWritten;
      let i = 0;
      while (i < pending.length && skip >= (pending[i]?.byteLength ?? 0))
        skip -= pending[i++]?.byteLength ?? 0;
      pending = pending.slice(i);
      const first = pending[0];
      if (first !== undefined && skip > 0) pending[0] = first.subarray(skip);
    }
    for (const c of chunks) this.counter.update(c);
  }

  /** Rebuilds the hash state from the `size` bytes an earlier writer left. */
  private async rehash(size: number): Promise<void> {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      this.counter.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
