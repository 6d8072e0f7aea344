/**
 * Layer compression: detection by magic number and streaming (de)compression.
 *
 * Image layers come as gzip (`application/vnd.oci.image.layer.v1.tar+gzip`,
 * the Docker default), zstd (`…tar+zstd`) or plain tar. gzip goes through
 * node:zlib; zstd decompression uses fzstd (pure JS), since Node 20 has no
 * zstd in zlib. berth never produces zstd.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { InvalidParameterError } from '../errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** How many leading bytes {@link detectCompression} needs to decide. */
export const COMPRESSION_MAGIC_BYTES = 4;

/**
 * The compression of a stream, from its first bytes (at least 4 should be
 * given; fewer can only ever yield 'none'). zstd skippable frames
 * (0x184D2A50–5F) count as zstd. Anything unrecognised is 'none'.
 */
export function detectCompression(firstBytes: Uint8Array): Compression {
  const b = firstBytes;
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) return 'gzip';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  if (b.length >= 4 && (b[0] & 0xf0) === 0x50 && b[1] === 0x2a && b[2] === 0x4d && b[3] === 0x18) {
    return 'zstd';
  }
  return 'none';
}

/** A Transform that decompresses `kind`; 'none' is a pass-through. */
export function decompressStream(kind: Compression): Transform {
  switch (kind) {
    case 'gzip':
      // 256 KiB output pieces instead of zlib's 16 KiB: a sixteenth of the callbacks on the main thread.
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd':
      return new ZstdDecompressStream();
    case 'none':
      return new Transform({
        transform(chunk: Buffer, _enc, cb): void {
          cb(null, chunk);
        },
      });
  }
}

/** A gzip compressor (default level 6, as Docker uses). */
export function gzipStream(options?: { level?: number }): Transform {
  return createGzip({ level: options?.level ?? 6 });
}

/**
 * A Transform that sniffs the first bytes of its input and decompresses
 * accordingly, for inputs whose compression is not known up front
 * (`docker load` archives, layers with a lying media type).
 */
export function autoDecompressStream(): Transform {
  return new AutoDecompressStream();
}

function zstdError(err: unknown): InvalidParameterError {
  const message = err instanceof Error ? err.message : String(err);
  return new InvalidParameterError(`invalid zstd stream: ${message}`, { cause: err });
}

/** fzstd's synchronous streaming decoder wrapped as a Transform. */
class ZstdDecompressStream extends Transform {
  private readonly decoder: Decompress;

  constructor() {
    super();
    this.decoder = new Decompress((data) => {
      if (data.byteLength > 0) this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      callback(zstdError(err));
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
    } catch (err) {
      callback(zstdError(err));
      return;
    }
    callback();
  }
}

/**
 * Buffers until it has seen {@link COMPRESSION_MAGIC_BYTES} bytes (or the
 * end), then routes everything through the matching decompressor. The inner
 * stream's output is pushed as it comes; the write side waits for the inner
 * stream to accept each chunk, which bounds buffering.
 */
class AutoDecompressStream extends Transform {
  private head: Buffer[] = [];
  private headLength = 0;
  private inner: Transform | undefined;
  private innerEnded: Promise<void> | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.inner !== undefined) {
      this.feed(chunk, callback);
      return;
    }
    this.head.push(chunk);
    this.headLength += chunk.byteLength;
    if (this.headLength < COMPRESSION_MAGIC_BYTES) {
      callback();
      return;
    }
    this.feed(this.start(), callback);
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.inner === undefined ? this.start() : undefined;
    const inner = this.inner as Transform;
    const ended = this.innerEnded as Promise<void>;
    if (rest !== undefined && rest.byteLength > 0) inner.write(rest);
    inner.end();
    ended.then(
      () => callback(),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy();
    callback(err);
  }

  /** Chooses the decompressor; returns the buffered head to feed it. */
  private start(): Buffer {
    const head = Buffer.concat(this.head, this.headLength);
    this.head = [];
    const inner = decompressStream(detectCompression(head));
    this.inner = inner;
    inner.on('data', (data: Buffer) => this.push(data));
    this.innerEnded = new Promise<void>((resolve, reject) => {
      inner.once('end', resolve);
      inner.once('error', reject);
    });
    // Errors surface through the pending write or flush callbacks.
    this.innerEnded.catch(() => undefined);
    return head;
  }

  private feed(chunk: Buffer, callback: TransformCallback): void {
    const inner = this.inner as Transform;
    let done = false;
    const finish = (err?: Error | null): void => {
      if (done) return;
      done = true;
      inner.off('error', finish);
      callback(err ?? null);
    };
    inner.once('error', finish);
    inner.write(chunk, (err) => finish(err));
  }
}
