import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { errorKind } from '../errors.js';
import { autoDecompressStream, decompressStream, detectCompression, gzipStream } from './compression.js';

/** `'berth zstd fixture line\n' * 200`, compressed with `zstd -19`. */
const ZSTD_FIXTURE = Buffer.from(
  'KLUv/WTAEQUBAMBiZXJ0aCB6c3RkIGZpeHR1cmUgbGluZQoBAJTK9nMMhgZpNw==',
  'base64',
);
const ZSTD_PLAIN = 'berth zstd fixture line\n'.repeat(200);
/** `'second frame\n'`, a second zstd frame. */
const ZSTD_FRAME2 = Buffer.from('KLUv/QRYaQAAc2Vjb25kIGZyYW1lCp45c6s=', 'base64');

async function run(t: Transform, input: Buffer, chunkSize = 7): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunkSize) chunks.push(input.subarray(i, i + chunkSize));
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), t, async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) out.push(c);
  });
  return Buffer.concat(out);
}

describe('storage/compression', () => {
  it('detects compression from magic numbers', () => {
    assert.equal(detectCompression(gzipSync('x')), 'gzip');
    assert.equal(detectCompression(ZSTD_FIXTURE), 'zstd');
    assert.equal(detectCompression(Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0])), 'zstd');
    assert.equal(detectCompression(Buffer.from('ustar tar header')), 'none');
    assert.equal(detectCompression(Buffer.alloc(0)), 'none');
    assert.equal(detectCompression(Buffer.from([0x1f])), 'none');
  });

  it('gzip round-trips', async () => {
    const data = Buffer.from('hello layer '.repeat(1000));
    const gz = await run(gzipStream(), data, 100);
    assert.equal(detectCompression(gz), 'gzip');
    assert.deepEqual(await run(decompressStream('gzip'), gz), data);
  });

  it('decompresses zstd in small chunks, including several frames', async () => {
    assert.equal((await run(decompressStream('zstd'), ZSTD_FIXTURE, 3)).toString(), ZSTD_PLAIN);
    const two = Buffer.concat([ZSTD_FIXTURE, ZSTD_FRAME2]);
    assert.equal((await run(decompressStream('zstd'), two, 5)).toString(), ZSTD_PLAIN + 'second frame\n');
  });

  it('reports truncated zstd as invalid', async () => {
    await assert.rejects(
      run(decompressStream('zstd'), ZSTD_FIXTURE.subarray(0, ZSTD_FIXTURE.length - 6)),
      (err) => {
        assert.equal(errorKind(err), 'invalid-parameter');
        assert.match(String(err), /zstd/);
        return true;
      },
    );
  });

  it("'none' passes data through", async () => {
    assert.equal((await run(decompressStream('none'), Buffer.from('plain'))).toString(), 'plain');
  });

  it('autoDecompressStream handles gzip, zstd, plain and tiny inputs', async () => {
    const data = Buffer.from('auto '.repeat(500));
    assert.deepEqual(await run(autoDecompressStream(), gzipSync(data), 1), data);
    assert.equal((await run(autoDecompressStream(), ZSTD_FIXTURE, 2)).toString(), ZSTD_PLAIN);
    assert.deepEqual(await run(autoDecompressStream(), data, 3), data);
    assert.equal((await run(autoDecompressStream(), Buffer.from('ab'))).toString(), 'ab');
    assert.equal((await run(autoDecompressStream(), Buffer.alloc(0))).length, 0);
  });

  it('autoDecompressStream surfaces corrupt input as an error', async () => {
    const bad = Buffer.concat([gzipSync('x').subarray(0, 10), Buffer.from('garbage garbage')]);
    await assert.rejects(run(autoDecompressStream(), bad));
  });
});
