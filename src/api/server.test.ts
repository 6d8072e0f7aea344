import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ConflictError, NotFoundError, NotModifiedError } from '../errors.js';
import { silentLogger } from '../util/log.js';
import { readJsonBody, sendJson } from './respond.js';
import type { Route } from './router.js';
import { ApiServer } from './server.js';
import { JsonLinesStream } from './streams/json-lines.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('ApiServer', () => {
  let dir = '';
  let socket = '';
  let server: ApiServer;
  let streamAborted: Promise<void>;
  let markAborted: () => void = () => undefined;

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/things/{id}/json',
      handler: (ctx) => {
        if (ctx.params['id'] === 'missing') throw new NotFoundError('No such thing: missing');
        if (ctx.params['id'] === 'busy')
          throw new Error('wrapped', { cause: new ConflictError('thing is busy') });
        if (ctx.params['id'] === 'same') throw new NotModifiedError('already so');
        if (ctx.params['id'] === 'boom') throw new Error('unexpected');
        sendJson(ctx.res, 200, { id: ctx.params['id'], version: ctx.apiVersion });
      },
    },
    {
      method: 'GET',
      path: '/files/{name*}',
      handler: (ctx) => sendJson(ctx.res, 200, { name: ctx.params['name'] }),
    },
    { method: 'GET', path: '/new', minApiVersion: '1.44', handler: (ctx) => sendJson(ctx.res, 200, {}) },
    {
      method: 'POST',
      path: '/echo',
      handler: async (ctx) => sendJson(ctx.res, 201, { got: await readJsonBody(ctx) }),
    },
    {
      method: 'POST',
      path: '/attach',
      handler: (ctx) => {
        const stream = ctx.hijack();
        stream.write('hello\n');
        stream.on('data', (d: Buffer) => stream.write(d.toString().toUpperCase()));
        stream.on('end', () => stream.end('bye\n'));
      },
    },
    {
      method: 'GET',
      path: '/stream',
      handler: async (ctx) => {
        const out = new JsonLinesStream(ctx.res, ctx.signal);
        out.open();
        await out.write({ n: 1 });
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        markAborted();
        out.end();
      },
    },
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-server-'));
    socket = join(dir, 'api.sock');
    server = new ApiServer({
      routes,
      logger: silentLogger(),
      serverHeader: 'berth/test (linux)',
      experimental: false,
    });
    await server.listen({ kind: 'unix', path: socket });
    streamAborted = new Promise((resolve) => (markAborted = resolve));
  });
  after(async () => {
    await server.close(1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('routes with parameters, versions and common headers', async () => {
    const r = await call(socket, 'GET', '/v1.30/things/abc/json');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { id: 'abc', version: '1.30' });
    assert.equal(r.headers['api-version'], '1.47');
    assert.equal(r.headers['server'], 'berth/test (linux)');
    assert.equal(r.body.endsWith('\n'), true, 'JSON bodies end in a newline, as json.Encoder writes them');
  });

  it('matches greedy parameters across slashes and decodes them', async () => {
    const r = await call(socket, 'GET', '/files/a/b%20c');
    assert.deepEqual(JSON.parse(r.body), { name: 'a/b c' });
  });

  it('hides routes newer than the requested version', async () => {
    assert.equal((await call(socket, 'GET', '/v1.43/new')).status, 404);
    assert.equal((await call(socket, 'GET', '/v1.44/new')).status, 200);
  });

  it('maps typed errors to statuses with Docker message bodies', async () => {
    const missing = await call(socket, 'GET', '/things/missing/json');
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.body), { message: 'No such thing: missing' });
    assert.equal(missing.headers['content-type'], 'application/json');
    const busy = await call(socket, 'GET', '/things/busy/json');
    assert.equal(busy.status, 409);
    assert.deepEqual(JSON.parse(busy.body), { message: 'wrapped' });
    const same = await call(socket, 'GET', '/things/same/json');
    assert.equal(same.status, 304);
    assert.equal(same.body, '');
    const boom = await call(socket, 'GET', '/things/boom/json');
    assert.equal(boom.status, 500);
    assert.deepEqual(JSON.parse(boom.body), { message: 'unexpected' });
  });

  it('reads JSON bodies and refuses bad ones with 400', async () => {
    const ok = await call(socket, 'POST', '/echo', '{"a":1}', { 'Content-Type': 'application/json' });
    assert.equal(ok.status, 201);
    assert.deepEqual(JSON.parse(ok.body), { got: { a: 1 } });
    const bad = await call(socket, 'POST', '/echo', '{"a":', { 'Content-Type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.body) as { message: string }).message, /^invalid JSON: /);
    const empty = await call(socket, 'POST', '/echo', '', { 'Content-Type': 'application/json' });
    assert.equal(empty.status, 400);
    assert.equal(
      (JSON.parse(empty.body) as { message: string }).message,
      'invalid JSON: got EOF while reading request body',
    );
    const wrongType = await call(socket, 'POST', '/echo', 'a=1', { 'Content-Type': 'text/plain' });
    assert.equal(wrongType.status, 400);
    assert.equal(
      (JSON.parse(wrongType.body) as { message: string }).message,
      "unsupported Content-Type header (text/plain): must be 'application/json'",
    );
  });

  it('hijacks upgraded connections into a raw bidirectional stream', async () => {
    const transcript = await new Promise<string>((resolve, reject) => {
      const sock = connect(socket, () => {
        sock.write(
          'POST /v1.47/attach HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
        );
      });
      let text = '';
      let sent = false;
      sock.on('data', (d: Buffer) => {
        text += d.toString();
        if (!sent && text.includes('hello\n')) {
          sent = true;
          sock.write('ping');
          setTimeout(() => sock.end(), 50);
        }
      });
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.match(transcript, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    assert.match(transcript, /Content-Type: application\/vnd\.docker\.raw-stream\r\n/);
    assert.match(transcript, /Upgrade: tcp\r\n/);
    assert.ok(transcript.endsWith('hello\nPINGbye\n'), transcript);
  });

  it('answers an upgrade request for an unknown route and closes it', async () => {
    const text = await new Promise<string>((resolve) => {
      const sock = connect(socket, () => {
        sock.write('POST /nope HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      });
      let t = '';
      sock.on('data', (d: Buffer) => (t += d.toString()));
      sock.on('close', () => resolve(t));
    });
    assert.match(text, /^HTTP\/1\.1 404 /);
    assert.match(text, /\{"message":"page not found"\}/);
  });

  it('hijacks a plain request as an output stream', async () => {
    const r = await call(socket, 'POST', '/attach', 'in');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.equal(r.body, 'hello\nINbye\n');
  });

  it('aborts a streaming handler when its client goes away', async () => {
    await new Promise<void>((resolve) => {
      const req = request({ socketPath: socket, path: '/stream' }, (res) => {
        res.once('data', (d: Buffer) => {
          assert.equal(d.toString(), '{"n":1}\n');
          req.destroy();
          resolve();
        });
      });
      req.end();
    });
    await streamAborted;
    assert.equal((await call(socket, 'GET', '/things/x/json')).status, 200);
  });

  it('refuses to listen where another server already answers', async () => {
    const other = new ApiServer({ routes, logger: silentLogger(), serverHeader: 'x', experimental: false });
    await assert.rejects(other.listen({ kind: 'unix', path: socket }), /another daemon is already listening/);
  });
});
