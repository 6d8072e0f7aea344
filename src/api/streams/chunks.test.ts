import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

import { sendChunks } from './chunks.js';

/** Serves one request with `handler` and returns what a client received (or its error). */
async function roundTrip(
  handler: Parameters<typeof createServer>[1],
): Promise<{ body: Buffer; error?: Error }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const parts: Buffer[] = [];
      request({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ body: Buffer.concat(parts) }));
        res.on('error', (error) => resolve({ body: Buffer.concat(parts), error }));
      })
        .on('error', (error) => resolve({ body: Buffer.concat(parts), error }))
        .end();
    });
  } finally {
    server.close();
  }
}

describe('api/streams/chunks', () => {
  it('sends every chunk in order and gives each back once the socket took it', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const recycled: Buffer[] = [];
    const { body, error } = await roundTrip((_req, res) => {
      res.writeHead(200);
      void sendChunks(res, Readable.from(chunks), (c) => recycled.push(c));
    });
    assert.equal(error, undefined);
    assert.ok(body.equals(Buffer.concat(chunks)));
    assert.equal(recycled.length, chunks.length);
    assert.ok(
      recycled.every((c, i) => c === chunks[i]),
      'the very chunks, in order',
    );
  });

  it('cuts the connection when the source fails mid-stream', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('partial');
      await new Promise((resolve) => setImmediate(resolve));
      throw new Error('layer modified on disk');
    }
    let rejected: unknown;
    const { error } = await roundTrip((_req, res) => {
      res.writeHead(200);
      sendChunks(res, Readable.from(failing()), () => undefined).catch((err: unknown) => (rejected = err));
    });
    assert.ok(error, 'the client sees the body fail, not a clean end');
    assert.match(String(rejected), /modified on disk/);
  });
});
