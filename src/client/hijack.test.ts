import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';

import { ApiError } from './client.js';
import {
  ResponseHeadError,
  StdcopyDemuxer,
  demuxStream,
  hijackAt,
  hijackRequest,
  parseResponseHead,
  stdcopyFrame,
} from './hijack.js';

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('response heads', () => {
  it('parses a 101 head and says where the stream starts', () => {
    const data = Buffer.from(
      'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello',
    );
    const head = parseResponseHead(data);
    assert.deepEqual(head, {
      httpVersion: 'HTTP/1.1',
      statusCode: 101,
      statusMessage: 'UPGRADED',
      headers: {
        'content-type': 'application/vnd.docker.raw-stream',
        connection: 'Upgrade',
        upgrade: 'tcp',
      },
      length: data.length - 5,
    });
  });

  it('waits for a complete head and refuses malformed ones', () => {
    assert.equal(parseResponseHead(Buffer.from('HTTP/1.1 101 UPGRADED\r\nConnection: Up')), undefined);
    assert.throws(() => parseResponseHead(Buffer.from('garbage\r\n\r\n')), ResponseHeadError);
    assert.throws(() => parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nnocolon\r\n\r\n')), {
      message: 'malformed MIME header line: nocolon',
    });
    const joined = parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nA: 1\r\na: 2\r\n\r\n'));
    assert.equal(joined?.headers['a'], '1, 2');
  });

  it('writes the upgrade request as the docker client does', () => {
    const req = hijackRequest('/v1.47/containers/x/attach?stream=1', 'api.berth', {});
    assert.equal(
      req.head,
      'POST /v1.47/containers/x/attach?stream=1 HTTP/1.1\r\nHost: api.berth\r\nUser-Agent: berth-cli\r\n' +
        'Content-Type: text/plain\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    const withBody = hijackRequest('/x', 'h', { body: { Detach: false, Tty: true } });
    assert.equal(withBody.body.toString(), '{"Detach":false,"Tty":true}');
    assert.match(withBody.head, /Content-Type: application\/json\r\nContent-Length: 27\r\n/);
  });
});

describe('stdcopy demultiplexing', () => {
  it('splits frames whatever the chunk boundaries', () => {
    const stream = Buffer.concat([
      stdcopyFrame(1, 'out1\n'),
      stdcopyFrame(2, 'err1\n'),
      stdcopyFrame(0, 'in\n'),
      stdcopyFrame(1, ''),
      stdcopyFrame(1, 'out2'),
    ]);
    for (const size of [1, 3, 8, 9, 1000]) {
      const demuxer = new StdcopyDemuxer();
      const got: string[] = [];
      for (let i = 0; i < stream.length; i += size) {
        for (const f of demuxer.push(stream.subarray(i, i + size)))
          got.push(`${f.stream}:${f.payload.toString()}`);
      }
      assert.deepEqual(got, ['1:out1\n', '2:err1\n', '1:in\n', '1:', '1:out2'], `chunk size ${size}`);
      assert.equal(demuxer.buffered, 0);
    }
  });

  it('ends on an error frame or an unknown stream', () => {
    const d = new StdcopyDemuxer();
    assert.throws(() => d.push(stdcopyFrame(3, 'boom')), { message: 'error from daemon in stream: boom' });
    assert.throws(() => d.push(Buffer.alloc(0)), { message: 'error from daemon in stream: boom' });
    const header = Buffer.alloc(8);
    header[0] = 7;
    assert.throws(() => new StdcopyDemuxer().push(header), { message: 'unrecognized stream: 7' });
  });

  it('copies to stdout and stderr, quietly stopping inside a truncated frame', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const source = Readable.from([
      Buffer.concat([stdcopyFrame(1, 'a'), stdcopyFrame(2, 'b')]),
      stdcopyFrame(1, 'cdef').subarray(0, 10),
    ]);
    await demuxStream(source, out, err);
    out.end();
    err.end();
    assert.equal(await collect(out), 'a');
    assert.equal(await collect(err), 'b');
  });
});

describe('hijacked connections over a unix socket', () => {
  let dir: string;
  let socketPath: string;
  let server: Server;
  const requests: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-hijack-'));
    socketPath = join(dir, 'd.sock');
    server = createServer({ allowHalfOpen: true }, (sock: Socket) => {
      let buf = Buffer.alloc(0);
      let upgraded = false;
      sock.on('data', (chunk: Buffer) => {
        if (upgraded) {
          sock.write(stdcopyFrame(1, `echo:${chunk.toString()}`));
          return;
        }
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.subarray(0, end).toString();
        requests.push(head);
        if (head.startsWith('POST /missing')) {
          const body = '{"message":"No such container: missing"}';
          sock.end(
            `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          );
          return;
        }
        upgraded = true;
        // The head and the first output arrive in one write.
        sock.write(
          'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n' +
            stdcopyFrame(1, 'hello\n').toString('latin1'),
          'latin1',
        );
      });
      sock.on('end', () => {
        // stdin closed: the "container" says goodbye and closes its side.
        if (!upgraded) return;
        sock.write(stdcopyFrame(2, 'bye\n'));
        sock.end();
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades, keeps the bytes after the head, and reads on after stdin is closed', async () => {
    const conn = await hijackAt(`unix://${socketPath}`, '/v1.47/containers/c1/attach?stream=1&stdin=1', {});
    assert.equal(conn.head.statusCode, 101);
    assert.equal(conn.mediaType, 'application/vnd.docker.multiplexed-stream');
    assert.match(
      requests[0] ?? '',
      /^POST \/v1\.47\/containers\/c1\/attach\?stream=1&stdin=1 HTTP\/1\.1\r\n/,
    );
    assert.match(requests[0] ?? '', /\r\nConnection: Upgrade\r\nUpgrade: tcp$/);
    const out = new PassThrough();
    const err = new PassThrough();
    const done = demuxStream(conn.socket, out, err);
    conn.socket.write('ping');
    await new Promise((r) => setTimeout(r, 50));
    conn.closeWrite();
    await done;
    out.end();
    err.end();
    assert.equal(await collect(out), 'hello\necho:ping');
    assert.equal(await collect(err), 'bye\n');
    conn.close();
  });

  it('turns an error answer into the daemon message', async () => {
    await assert.rejects(hijackAt(socketPath, '/missing/attach', {}), (err: unknown) => {
      return err instanceof ApiError && err.status === 404 && err.message === 'No such container: missing';
    });
  });

  it('reports an unreachable daemon', async () => {
    await assert.rejects(hijackAt(`unix://${join(dir, 'none.sock')}`, '/x', {}), {
      name: 'DaemonUnreachableError',
    });
  });
});
