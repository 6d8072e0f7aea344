/**
 * Archives as clients send them to `docker load` and `docker import`:
 * plain, or compressed with gzip, zstd, xz or bzip2 (`docker save | gzip`),
 * told apart by their first bytes as moby's DetectCompression does, and
 * decompressed as they stream in. gzip and zstd are decoded in process; xz
 * and bzip2 by their tools, as moby runs `xz -d -c -q` (Node has neither
 * decoder; setup.sh installs xz-utils and bzip2).
 */
import { spawn } from 'node:child_process';
import { Readable, pipeline as pipelineCallback } from 'node:stream';

import { InvalidParameterError } from '../../errors.js';
import { decompressStream, detectCompression } from '../../storage/compression.js';

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const BZIP2_MAGIC = Buffer.from('BZh');
/** Compressions only a tool decodes; an import decompresses these before storing the layer. */
export const TOOL_COMPRESSIONS = new Set(['xz', 'bzip2'] as const);

/** An archive's compression, from its first 6 bytes (moby's DetectCompression, zstd included). */
export function archiveCompression(head: Buffer): 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none' {
  if (head.subarray(0, BZIP2_MAGIC.length).equals(BZIP2_MAGIC)) return 'bzip2';
  if (head.subarray(0, XZ_MAGIC.length).equals(XZ_MAGIC)) return 'xz';
  return detectCompression(head);
}

/**
 * The first `n` bytes of a chunk stream (fewer if it is shorter), and the
 * whole stream again, each chunk shown to `onChunk`. Leaving `all` early
 * closes `body`.
 */
export async function peek(
  body: AsyncIterableIterator<Buffer>,
  n: number,
  onChunk?: (chunk: Buffer) => void,
): Promise<{ head: Buffer; all: AsyncGenerator<Buffer> }> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const r = await body.next();
    if (r.done === true) break;
    parts.push(r.value);
    got += r.value.length;
  }
  const first = Buffer.concat(parts);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length > 0) {
      onChunk?.(first);
      yield first;
    }
    for await (const chunk of body) {
      onChunk?.(chunk);
      yield chunk;
    }
  }
  return { head: first, all: all() };
}

/**
 * The bytes of a `docker load` archive: as they come, or decompressed when
 * the archive is gzip, zstd, xz or bzip2 (`docker save | gzip`: the CLI
 * sends the file as it is and the daemon decompresses, as moby's
 * archive.DecompressStream does). `only` limits decompression to some kinds
 * (the rest pass as they are). Stopping early destroys the source.
 */
export async function* archiveBytes(
  source: Readable,
  only?: ReadonlySet<ReturnType<typeof archiveCompression>>,
): AsyncGenerator<Buffer> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterableIterator<Buffer>;
  try {
    const { head, all } = await peek(chunks, XZ_MAGIC.length);
    const kind = archiveCompression(head);
    if (kind === 'none' || (only !== undefined && !only.has(kind))) {
      yield* all;
    } else if (kind === 'xz' || kind === 'bzip2') {
      yield* throughTool(kind, all);
    } else {
      const decompressed = decompressStream(kind);
      pipelineCallback(Readable.from(all), decompressed, () => undefined); // errors surface below
      for await (const chunk of decompressed) yield chunk as Buffer;
    }
  } finally {
    await chunks.return?.();
  }
}

/** Decompresses with the `xz` or `bzip2` tool (Node has neither decoder), as moby runs `xz -d -c -q`. */
async function* throughTool(tool: 'xz' | 'bzip2', input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const child = spawn(tool, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  exited.catch(() => undefined);
  // The tool may stop reading (bad data): its exit status says why, not the EPIPE.
  pipelineCallback(Readable.from(input), child.stdin, () => undefined);
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited.catch((err: unknown) => {
      throw new InvalidParameterError(
        `the archive is ${tool}-compressed and ${tool} cannot run here: ${(err as Error).message}`,
      );
    });
    if (code !== 0) throw new InvalidParameterError(`${tool}: ${stderr.trim() || `exit status ${code}`}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
