import { open } from 'node:fs/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';

import { decompressStream, detectCompression } from '../../storage/compression.js';
import type { ContentStore } from '../../storage/content.js';
import type { LayerStore } from '../../storage/layers.js';

/** The compression of a stored blob, from its first bytes. */
export async function blobCompression(
  content: ContentStore,
  digest: string,
): Promise<'gzip' | 'zstd' | 'none'> {
  const handle = await open(content.path(digest), 'r');
  try {
    const buf = Buffer.alloc(8);
    const { bytesRead } = await handle.read(buf, 0, 8, 0);
    return detectCompression(buf.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/**
 * The uncompressed tar of a stored layer blob, counting the compressed bytes
 * read through `onCompressedBytes` (for Extracting progress).
 */
export async function uncompressedLayer(
  content: ContentStore,
  digest: string,
  onCompressedBytes?: (n: number) => void,
): Promise<Readable> {
  const kind = await blobCompression(content, digest);
  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      onCompressedBytes?.(read);
      cb(null, chunk);
    },
  });
  const source = await content.readStream(digest);
  const chain = source.pipe(counter);
  source.on('error', (err) => counter.destroy(err));
  if (kind === 'none') return chain;
  const out = decompressStream(kind);
  chain.on('error', (err) => out.destroy(err));
  return chain.pipe(out);
}

/** A Readable over a Buffer (for small blobs). */
export function bufferStream(buf: Buffer): Readable {
  const s = new PassThrough();
  s.end(buf);
  return s;
}

/** Runs tasks with at most `limit` in flight. */
export async function withConcurrency<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length && errors.length === 0) {
      const index = next++;
      try {
        await task(items[index], index);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/**
 * Unpacks a stored layer blob on top of `parent` in the layer store, with
 * the diff ID checked when given. Returns the chain ID, diff ID and the
 * uncompressed tar's byte length (which `docker save` needs up front).
 */
export async function unpackBlob(
  content: ContentStore,
  layers: LayerStore,
  blobDigest: string,
  parent: string | undefined,
  diffId: string | undefined,
  onCompressedBytes?: (n: number) => void,
): Promise<{ chainId: string; diffId: string; tarSize: number }> {
  const tar = await uncompressedLayer(content, blobDigest, onCompressedBytes);
  let tarSize = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      tarSize += chunk.length;
      cb(null, chunk);
    },
  });
  tar.on('error', (err) => counter.destroy(err));
  const info = await layers.register(tar.pipe(counter), parent, diffId);
  return { chainId: info.chainId, diffId: info.diffId, tarSize };
}
