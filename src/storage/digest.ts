/**
 * Content digests as OCI and Docker use them: `sha256:<64 lowercase hex>`.
 *
 * berth only produces and accepts sha256. Other algorithms that the OCI spec
 * allows (sha512) are rejected with InvalidParameterError rather than being
 * half-supported.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { InvalidParameterError } from '../errors.js';

export const SHA256_PREFIX = 'sha256:';

const SHA256_RE = /^sha256:([0-9a-f]{64})$/;

/** A parsed digest string. */
export interface ParsedDigest {
  readonly algorithm: 'sha256';
  /** 64 lowercase hex characters. */
  readonly hex: string;
}

/** `sha256:<hex>` of `data` (strings are hashed as UTF-8). */
export function sha256Digest(data: Uint8Array | string): string {
  return SHA256_PREFIX + createHash('sha256').update(data).digest('hex');
}

/** True when `value` is a well-formed `sha256:<64 hex>` digest. */
export function isDigestString(value: string): boolean {
  return SHA256_RE.test(value);
}

/**
 * Validates a digest string and splits it. Throws InvalidParameterError for
 * anything but `sha256:` followed by 64 lowercase hex characters.
 */
export function parseDigestString(value: string): ParsedDigest {
  const m = SHA256_RE.exec(value);
  if (m === null) {
    throw new InvalidParameterError(
      `invalid digest ${JSON.stringify(value)}: expected sha256:<64 hex characters>`,
    );
  }
  return { algorithm: 'sha256', hex: m[1] };
}

/** The hex part of a valid digest (validated). */
export function digestHex(value: string): string {
  return parseDigestString(value).hex;
}

/**
 * Incremental sha256 plus byte count. The digest may be read at any time;
 * reading it does not end the hash (a copy of the state is finalised).
 */
export class DigestCounter {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.count += chunk.byteLength;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.count;
  }

  /** `sha256:<hex>` of the bytes seen so far. */
  digest(): string {
    return SHA256_PREFIX + this.hash.copy().digest('hex');
  }
}

/**
 * A pass-through stream that digests and counts what flows through it.
 * `digest()` and `size` are final once the readable side has ended.
 */
export class DigestingStream extends Transform {
  private readonly counter = new DigestCounter();

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.counter.update(chunk);
    callback(null, chunk);
  }

  get size(): number {
    return this.counter.size;
  }

  digest(): string {
    return this.counter.digest();
  }
}

/**
 * OCI chain IDs for a stack of layer diff IDs (bottom first):
 * `chain[0] = diff[0]`, `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
 * Every input is validated.
 */
export function chainId(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    parseDigestString(diffId);
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : sha256Digest(`${prev} ${diffId}`));
  }
  return out;
}

/** The chain ID of a layer with diff ID `diffId` on top of `parentChainId` (none for a base layer). */
export function childChainId(parentChainId: string | undefined, diffId: string): string {
  parseDigestString(diffId);
  if (parentChainId === undefined) return diffId;
  parseDigestString(parentChainId);
  return sha256Digest(`${parentChainId} ${diffId}`);
}

interface DigestResult {
  digest: string;
  size: number;
}

/** Bytes gathered per message to the digest worker. */
const BATCH_BYTES = 2 * 1024 * 1024;
/** Batch buffers the worker hands back for reuse, at most (fresh memory costs page faults). */
const POOL_SIZE = 6;
/** The worker and the batch pool go after this long without a digest (about 20 MiB between them). */
const IDLE_STOP_MS = 30_000;

/**
 * sha256 computed on a worker thread, so that hashing a large layer runs on
 * another core while the main thread moves its bytes. One worker is shared
 * by every digest in the process. It is started on first use (it starts
 * while the first batch fills, so nobody waits for it), keeps the process
 * alive only while a digest is pending, and is stopped, with the batch pool,
 * after IDLE_STOP_MS without any digest, so an idle daemon does not keep
 * them. `update` copies the chunk into a batch buffer (the caller keeps its
 * own); full batches are transferred to the worker, which hands the buffers
 * back for reuse. `digest()` resolves once the worker has hashed everything.
 * A digest begun on a worker that died fails instead of hashing only part.
 */
export class OffThreadDigest {
  private static worker: Worker | undefined;
  private static nextId = 1;
  private static readonly pending = new Map<
    number,
    { resolve: (r: DigestResult) => void; reject: (e: Error) => void }
  >();
  private static readonly free: ArrayBuffer[] = [];
  /** Digests begun (updated or asked for) and not yet answered or abandoned. */
  private static active = 0;
  private static idleTimer: NodeJS.Timeout | undefined;
  /** @internal how long an idle worker is kept (tests shorten it) */
  static idleStopMs = IDLE_STOP_MS;
  /** Bumped when a worker dies: a digest begun on an earlier one has lost bytes. */
  private static generation = 0;
  private readonly id = OffThreadDigest.nextId++;
  private begun = false;
  private generation = 0;
  private ended = false;
  private batch: Uint8Array | undefined;
  private batched = 0;

  private static shared(): Worker {
    if (OffThreadDigest.worker !== undefined) return OffThreadDigest.worker;
    const worker = new Worker(new URL('./digest-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (msg: (DigestResult & { id: number }) | { recycle: ArrayBuffer }) => {
      if ('recycle' in msg) {
        if (OffThreadDigest.free.length < POOL_SIZE) OffThreadDigest.free.push(msg.recycle);
        return;
      }
      const waiter = OffThreadDigest.pending.get(msg.id);
      OffThreadDigest.pending.delete(msg.id);
      if (OffThreadDigest.pending.size === 0) worker.unref();
      if (waiter !== undefined) OffThreadDigest.finished();
      waiter?.resolve({ digest: msg.digest, size: msg.size });
    });
    const fail = (err: Error): void => {
      if (OffThreadDigest.worker !== worker) return; // one stopped for idleness, replaced since
      OffThreadDigest.worker = undefined;
      OffThreadDigest.generation++;
      OffThreadDigest.active -= OffThreadDigest.pending.size;
      for (const waiter of OffThreadDigest.pending.values()) waiter.reject(err);
      OffThreadDigest.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`digest worker exited with code ${code}`)));
    OffThreadDigest.worker = worker;
    return worker;
  }

  /** Counts this digest as active (the worker must not be stopped for idleness). */
  private begin(): void {
    if (this.begun) return;
    this.begun = true;
    this.generation = OffThreadDigest.generation;
    OffThreadDigest.active++;
    clearTimeout(OffThreadDigest.idleTimer);
    OffThreadDigest.idleTimer = undefined;
  }

  /** A digest was answered or abandoned: with none left, the worker and pool go after IDLE_STOP_MS. */
  private static finished(): void {
    OffThreadDigest.active--;
    if (OffThreadDigest.active > 0 || OffThreadDigest.worker === undefined) return;
    clearTimeout(OffThreadDigest.idleTimer);
    OffThreadDigest.idleTimer = setTimeout(() => {
      OffThreadDigest.idleTimer = undefined;
      const worker = OffThreadDigest.worker;
      if (OffThreadDigest.active > 0 || worker === undefined) return;
      OffThreadDigest.worker = undefined;
      OffThreadDigest.free.length = 0;
      void worker.terminate();
    }, OffThreadDigest.idleStopMs);
    OffThreadDigest.idleTimer.unref();
  }

  /** @internal whether the worker is running (tests) */
  static get workerRunning(): boolean {
    return OffThreadDigest.worker !== undefined;
  }

  update(chunk: Uint8Array): void {
    if (this.ended) return;
    this.begin();
    if (this.generation !== OffThreadDigest.generation) return; // digest() reports it
    let from = 0;
    while (from < chunk.byteLength) {
      this.batch ??= new Uint8Array(OffThreadDigest.free.pop() ?? new ArrayBuffer(BATCH_BYTES));
      const n = Math.min(chunk.byteLength - from, BATCH_BYTES - this.batched);
      this.batch.set(chunk.subarray(from, from + n), this.batched);
      this.batched += n;
      from += n;
      if (this.batched === BATCH_BYTES) this.post();
    }
  }

  /** Transfers the batch (its whole buffer; the view says how much of it counts). */
  private post(): void {
    const batch = this.batch;
    if (batch === undefined) return;
    const full = batch.subarray(0, this.batched);
    OffThreadDigest.shared().postMessage({ id: this.id, chunk: full }, [batch.buffer as ArrayBuffer]);
    this.batch = undefined;
    this.batched = 0;
  }

  /** Ends this digest without a result (the stream failed or was abandoned); no-op once ended. */
  abandon(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.begun) OffThreadDigest.finished();
    if (this.batch !== undefined && OffThreadDigest.free.length < POOL_SIZE)
      OffThreadDigest.free.push(this.batch.buffer as ArrayBuffer);
    this.batch = undefined;
    OffThreadDigest.worker?.postMessage({ id: this.id, drop: true });
  }

  /** `sha256:<hex>` and byte count of everything passed to `update`; ends this digest. */
  digest(): Promise<DigestResult> {
    if (this.ended) return Promise.reject(new Error('digest already ended'));
    this.begin();
    if (this.generation !== OffThreadDigest.generation) {
      this.abandon();
      return Promise.reject(new Error('the digest worker stopped while this digest ran'));
    }
    this.post();
    this.ended = true;
    const worker = OffThreadDigest.shared();
    return new Promise((resolve, reject) => {
      OffThreadDigest.pending.set(this.id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id: this.id, end: true });
    });
  }
}
