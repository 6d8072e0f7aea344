import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

import { InvalidParameterError } from '../../errors.js';
import { TOOL_COMPRESSIONS, archiveBytes, archiveCompression } from './decompress.js';

/** `data` compressed by a tool (`xz`, `bzip2`, `zstd`), as a user's shell would. */
function packed(tool: string, data: Buffer): Buffer {
  return execFileSync(tool, ['-c'], { input: data, maxBuffer: 64 << 20 });
}

/** A stream of `data` in pieces of `size` bytes, the first `first` bytes long (default `size`). */
function pieces(data: Buffer, size: number, first = size): Readable {
  const parts: Buffer[] = [data.subarray(0, first)];
  for (let i = first; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

async function all(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('archive decompression', () => {
  // Random bytes: incompressible, and several decoder outputs long.
  const data = randomBytes(1024 * 1024 + 17);

  it('tells compressions apart by their first bytes', () => {
    assert.equal(archiveCompression(gzipSync(data).subarray(0, 6)), 'gzip');
    assert.equal(archiveCompression(packed('zstd', data).subarray(0, 6)), 'zstd');
    assert.equal(archiveCompression(packed('xz', data).subarray(0, 6)), 'xz');
    assert.equal(archiveCompression(packed('bzip2', data).subarray(0, 6)), 'bzip2');
    assert.equal(archiveCompression(Buffer.from('manifest.json\0')), 'none');
    assert.equal(archiveCompression(Buffer.alloc(0)), 'none');
  });

  it('passes a plain archive through and decompresses gzip, zstd, xz and bzip2, whatever the pieces', async () => {
    assert.ok((await all(archiveBytes(pieces(data, 65536)))).equals(data), 'plain');
    // A first piece shorter than the 6 magic bytes.
    assert.ok((await all(archiveBytes(pieces(gzipSync(data), 65536, 3)))).equals(data), 'gzip');
    for (const tool of ['zstd', 'xz', 'bzip2']) {
      const out = await all(archiveBytes(pieces(packed(tool, data), 32 * 1024)));
      assert.ok(out.equals(data), tool);
    }
    assert.equal((await all(archiveBytes(Readable.from([])))).length, 0, 'empty');
  });

  it('decompresses only the kinds asked for (an import keeps gzip as its layer blob)', async () => {
    const gz = gzipSync(data);
    assert.ok((await all(archiveBytes(pieces(gz, 65536), TOOL_COMPRESSIONS))).equals(gz));
    const xz = packed('xz', data);
    assert.ok((await all(archiveBytes(pieces(xz, 65536), TOOL_COMPRESSIONS))).equals(data));
  });

  it('refuses damaged archives with the decoder’s reason', async () => {
    const xz = packed('xz', data);
    const damagedXz = Buffer.concat([xz.subarray(0, 64), Buffer.alloc(4096, 7)]);
    await assert.rejects(all(archiveBytes(pieces(damagedXz, 1000))), (err: Error) => {
      assert.ok(err instanceof InvalidParameterError);
      assert.match(err.message, /^xz: /);
      return true;
    });
    const gz = gzipSync(data);
    const damagedGz = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(4096, 0x55)]);
    await assert.rejects(all(archiveBytes(pieces(damagedGz, 1000))));
  });

  it('stopping early destroys the source and ends the tool', async () => {
    for (const input of [data, packed('xz', data)]) {
      const source = pieces(input, 16 * 1024);
      for await (const chunk of archiveBytes(source)) {
        assert.ok(chunk.length > 0);
        break;
      }
      assert.equal(source.destroyed, true);
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // the killed tool's exit
    const children = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'comm=']).toString();
    assert.doesNotMatch(children, /^xz$/m, 'no xz left running');
  });
});
