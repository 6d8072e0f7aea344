import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';

import {
  StdcopyDemuxer,
  StdcopyParser,
  StdcopyWriter,
  demux,
  frame,
  frameHeader,
  frameParts,
  type StdFrame,
} from './stdcopy.js';

async function collect(gen: AsyncIterable<StdFrame>): Promise<StdFrame[]> {
  const out: StdFrame[] = [];
  for await (const f of gen) out.push(f);
  return out;
}

/** Splits `buf` into chunks of the given sizes (cycling). */
function* split(buf: Buffer, sizes: number[]): Generator<Buffer> {
  let i = 0;
  for (let off = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    yield buf.subarray(off, off + n);
    off += n;
  }
}

describe('frame', () => {
  it('writes the 8-byte header', () => {
    assert.deepEqual([...frame(1, Buffer.from('hi'))], [1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]);
    assert.deepEqual([...frameHeader(2, 0x01020304)], [2, 0, 0, 0, 1, 2, 3, 4]);
    assert.deepEqual([...frame(2, Buffer.alloc(0))], [2, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(() => frameHeader(1, 2 ** 32));
  });

  it('splits payloads longer than the maximum into several frames', () => {
    const parts = frameParts(1, Buffer.from('abcdefg'), 3);
    assert.deepEqual(
      parts.map((p) => p.toString('latin1')),
      ['\x01\0\0\0\0\0\0\x03', 'abc', '\x01\0\0\0\0\0\0\x03', 'def', '\x01\0\0\0\0\0\0\x01', 'g'],
    );
    const parser = new StdcopyParser();
    assert.deepEqual(
      parser.push(Buffer.concat(parts)).map((f) => f.data.toString()),
      ['abc', 'def', 'g'],
    );
  });
});

describe('demux', () => {
  const frames: StdFrame[] = [
    { stream: 1, data: Buffer.from('out\n') },
    { stream: 2, data: Buffer.from('err\n') },
    { stream: 1, data: Buffer.alloc(0) },
    { stream: 0, data: Buffer.from('in') },
    { stream: 3, data: Buffer.from('system') },
    { stream: 2, data: randomBytes(70_000) },
  ];
  const wire = Buffer.concat(frames.map((f) => frame(f.stream as 0 | 1 | 2 | 3, f.data)));

  for (const sizes of [[wire.length], [1], [3, 5, 7], [8], [9, 100, 65536]]) {
    it(`round-trips with chunks of ${sizes.join('/')}`, async () => {
      const got = await collect(demux(Readable.from([...split(wire, sizes)])));
      assert.deepEqual(got, frames);
    });
  }

  it('handles a large payload', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 3);
    const got = await collect(demux(Readable.from([...split(frame(1, big), [65536, 1, 12345])])));
    assert.equal(got.length, 1);
    assert.ok(got[0]?.data.equals(big));
  });

  it('rejects an unknown stream and ends quietly inside a frame', async () => {
    await assert.rejects(collect(demux(Readable.from([Buffer.from([7, 0, 0, 0, 0, 0, 0, 1, 0])]))), {
      message: 'unrecognized stream: 7',
    });
    const truncated = Buffer.concat([
      frame(1, Buffer.from('whole')),
      frame(2, Buffer.from('cut')).subarray(0, 9),
    ]);
    const got = await collect(demux(Readable.from([truncated])));
    assert.deepEqual(
      got.map((f) => f.data.toString()),
      ['whole'],
    );
  });

  it('works as a Transform', async () => {
    const got: StdFrame[] = [];
    await pipeline(
      Readable.from([...split(wire, [2, 11])]),
      new StdcopyDemuxer(),
      new Writable({
        objectMode: true,
        write(f: StdFrame, _enc, cb): void {
          got.push(f);
          cb();
        },
      }),
    );
    assert.deepEqual(got, frames);
  });
});

describe('StdcopyWriter', () => {
  it('frames writes and waits for drain', async () => {
    const received: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, cb): void {
        received.push(chunk);
        setImmediate(cb);
      },
    });
    const writer = new StdcopyWriter(slow);
    const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(`message ${i}\n`));
    for (const [i, p] of payloads.entries()) {
      assert.equal(await writer.write(i % 2 === 0 ? 1 : 2, p), true);
      // Each frame is over the high-water mark, so every write waited for 'drain'.
      assert.ok(slow.writableLength < 16, `buffered ${slow.writableLength}`);
    }
    assert.equal(await writer.write(1, Buffer.alloc(0)), true);
    writer.end();
    await new Promise((r) => slow.on('finish', r));
    const got = new StdcopyParser().push(Buffer.concat(received));
    assert.deepEqual(
      got.map((f) => f.stream),
      payloads.map((_, i) => (i % 2 === 0 ? 1 : 2)),
    );
    assert.deepEqual(
      got.map((f) => f.data.toString()),
      payloads.map((p) => p.toString()),
    );
  });

  it('resolves false once the destination is gone', async () => {
    const dest = new PassThrough({ highWaterMark: 1 });
    const writer = new StdcopyWriter(dest);
    const pending = writer.write(1, Buffer.from('more than the high water mark'));
    dest.destroy();
    assert.equal(await pending, false);
    assert.equal(await writer.write(1, Buffer.from('x')), false);
  });
});
