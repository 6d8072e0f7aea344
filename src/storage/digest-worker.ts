/**
 * The worker side of {@link OffThreadDigest}: sha256 of streams whose
 * chunks the main thread posts, so that hashing a large layer runs on
 * another core while the main thread moves the bytes. Messages in:
 * `{ id, chunk }` and `{ id, end: true }`, `{ id, drop: true }`; out: `{ id, digest, size }`, and
 * `{ recycle }` handing each chunk's buffer back.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

interface In {
  id: number;
  chunk?: Uint8Array;
  end?: boolean;
  drop?: boolean;
}

const jobs = new Map<number, { hash: Hash; size: number }>();

parentPort?.on('message', (msg: In) => {
  if (msg.drop === true) {
    jobs.delete(msg.id);
    return;
  }
  let job = jobs.get(msg.id);
  if (job === undefined) {
    job = { hash: createHash('sha256'), size: 0 };
    jobs.set(msg.id, job);
  }
  if (msg.chunk !== undefined) {
    job.hash.update(msg.chunk);
    job.size += msg.chunk.byteLength;
    // The batch buffer goes back to the main thread for reuse.
    const buffer = msg.chunk.buffer as ArrayBuffer;
    parentPort?.postMessage({ recycle: buffer }, [buffer]);
  }
  if (msg.end === true) {
    jobs.delete(msg.id);
    parentPort?.postMessage({ id: msg.id, digest: `sha256:${job.hash.digest('hex')}`, size: job.size });
  }
});
