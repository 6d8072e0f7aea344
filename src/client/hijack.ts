/**
 * Hijacked connections, as the docker client makes them for attach and exec
 * start: the request goes out on a raw socket with `Connection: Upgrade` and
 * `Upgrade: tcp`; the daemon answers `101 UPGRADED` (or a `200` followed by
 * the raw stream), and from then on the socket carries the container's
 * output one way and its stdin the other. Closing our side (`end()`) is the
 * stdin EOF; the socket is half-open so the output keeps coming.
 *
 * Also the client side of docker's stdcopy framing, which the daemon uses on
 * those streams (and on logs) when the container has no TTY: frames of an
 * 8-byte header — the stream byte (0 stdin, 1 stdout, 2 stderr, 3 system
 * error), three zero bytes, the payload length as a big-endian uint32 —
 * then the payload. As moby's stdcopy.StdCopy: stdin frames go to stdout, a
 * system-error frame ends the copy with `error from daemon in stream: …`, an
 * unknown stream byte with `unrecognized stream: N`, and a stream that ends
 * inside a frame ends the copy quietly.
 */
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

import { ApiError, DaemonUnreachableError, type BerthClient } from './client.js';

// ---------------------------------------------------------------------------
// Response heads

/** The status line and headers of an HTTP response (header names lower-cased). */
export interface ResponseHead {
  httpVersion: string;
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
  /** The length of the head in bytes, the blank line included. */
  length: number;
}

/** Heads larger than this are refused. */
const MAX_HEAD = 64 * 1024;

/** A malformed response head. */
export class ResponseHeadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseHeadError';
  }
}

/**
 * Parses the response head at the start of `data`. Returns undefined when
 * the head is not complete yet (no blank line).
 * @throws ResponseHeadError for a malformed status line or header, or a
 *   head over 64 KiB.
 */
export function parseResponseHead(data: Buffer): ResponseHead | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) {
    if (data.length > MAX_HEAD) throw new ResponseHeadError('response head too large');
    return undefined;
  }
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^(HTTP\/\d(?:\.\d)?) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!status) throw new ResponseHeadError(`malformed HTTP response ${JSON.stringify(lines[0] ?? '')}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ResponseHeadError(`malformed MIME header line: ${line}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return {
    httpVersion: status[1] ?? 'HTTP/1.1',
    statusCode: Number(status[2]),
    statusMessage: status[3] ?? '',
    headers,
    length: end + 4,
  };
}

// ---------------------------------------------------------------------------
// Hijacking

/** A hijacked connection: read the output from `socket`, write stdin to it. */
export interface HijackedConnection {
  /** The raw socket, positioned after the response head. */
  readonly socket: Socket;
  readonly head: ResponseHead;
  /**
   * The `Content-Type` of the answer: `application/vnd.docker.raw-stream`
   * (TTY) or `application/vnd.docker.multiplexed-stream` (stdcopy frames);
   * undefined when the daemon did not say.
   */
  readonly mediaType: string | undefined;
  /** Half-closes the connection: the container's stdin sees EOF, output keeps coming. */
  closeWrite(): void;
  /** Closes the connection. */
  close(): void;
}

export interface HijackOptions {
  /** A JSON body (exec start's `{Detach, Tty, ConsoleSize}`). */
  body?: unknown;
  /** The request's Content-Type; `text/plain` without a body, as docker's attach. */
  contentType?: string;
  /** Extra headers. */
  headers?: Record<string, string>;
}

type Endpoint = { path: string } | { host: string; port: number };

/** The socket address of a daemon host (`unix:///path`, `/path`, `tcp://host:port`). */
export function endpointOf(host: string): Endpoint {
  if (host.startsWith('unix://')) return { path: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { path: host };
  if (host.startsWith('tcp://') || host.startsWith('http://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 2375) };
  }
  throw new Error(`unsupported daemon address: ${host} (use unix:///path or tcp://host:port)`);
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'EHOSTUNREACH', 'ECONNRESET']);

/** Builds the request text of a hijacking POST. */
export function hijackRequest(
  path: string,
  hostHeader: string,
  options: HijackOptions = {},
): { head: string; body: Buffer } {
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = {
    Host: hostHeader,
    'User-Agent': 'berth-cli',
    'Content-Type': options.contentType ?? (options.body === undefined ? 'text/plain' : 'application/json'),
    'Content-Length': String(body.length),
    ...options.headers,
    Connection: 'Upgrade',
    Upgrade: 'tcp',
  };
  let head = `POST ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return { head: head + '\r\n', body };
}

/**
 * Sends `POST path` (with the API version prefixed) asking to upgrade the
 * connection, and returns it once the daemon has answered `101` (or `200`).
 * An error status is thrown as ApiError with the daemon's message.
 */
export async function hijack(
  client: BerthClient,
  pathAndQuery: string,
  options: HijackOptions = {},
): Promise<HijackedConnection> {
  const version = await client.apiVersion();
  return hijackAt(client.host, `/v${version}${pathAndQuery}`, options);
}

/** {@link hijack} against a host address, with the path as is (no version prefix). */
export function hijackAt(
  host: string,
  path: string,
  options: HijackOptions = {},
): Promise<HijackedConnection> {
  const endpoint = endpointOf(host);
  const hostHeader = 'path' in endpoint ? 'api.berth' : `${endpoint.host}:${endpoint.port}`;
  const request = hijackRequest(path, hostHeader, options);
  return new Promise<HijackedConnection>((resolve, reject) => {
    const socket = connect({ ...endpoint, allowHalfOpen: true });
    let received: Buffer = Buffer.alloc(0);
    let settled = false;

    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onConnectError = (err: NodeJS.ErrnoException): void => {
      fail(UNREACHABLE.has(err.code ?? '') ? new DaemonUnreachableError(host, { cause: err }) : err);
    };
    const onEnd = (): void => {
      fail(new ResponseHeadError('unexpected EOF reading the response head'));
    };
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      let head: ResponseHead | undefined;
      try {
        head = parseResponseHead(received);
      } catch (err) {
        fail(err as Error);
        return;
      }
      if (head === undefined) return;
      const rest = received.subarray(head.length);
      if (head.statusCode === 101 || head.statusCode === 200) {
        settled = true;
        cleanup();
        socket.pause();
        if (rest.length > 0) socket.unshift(rest);
        socket.on('error', () => {
          // errors after the upgrade surface through the readers and writers
        });
        resolve(connection(socket, head));
        return;
      }
      settled = true;
      cleanup();
      readErrorBody(socket, head, rest).then(
        (text) => reject(errorOf(head, text)),
        (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
      );
    };
    const cleanup = (): void => {
      socket.removeListener('error', onConnectError);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
    };

    socket.on('error', onConnectError);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.once('connect', () => {
      socket.write(request.head);
      if (request.body.length > 0) socket.write(request.body);
    });
  });
}

function connection(socket: Socket, head: ResponseHead): HijackedConnection {
  return {
    socket,
    head,
    mediaType: head.headers['content-type'],
    closeWrite: () => {
      if (!socket.destroyed && !socket.writableEnded) socket.end();
    },
    close: () => socket.destroy(),
  };
}

/** Reads the body of an error answer: Content-Length bytes, or up to EOF. */
function readErrorBody(socket: Socket, head: ResponseHead, rest: Buffer): Promise<string> {
  const length = head.headers['content-length'];
  const want = length === undefined ? Infinity : Number(length);
  return new Promise((resolve) => {
    let body: Buffer = rest;
    const done = (): void => {
      socket.removeAllListeners('data');
      socket.destroy();
      resolve(body.subarray(0, Number.isFinite(want) ? want : body.length).toString('utf8'));
    };
    if (body.length >= want) {
      done();
      return;
    }
    socket.on('data', (chunk: Buffer) => {
      body = Buffer.concat([body, chunk]);
      if (body.length >= want) done();
    });
    socket.once('end', done);
    socket.once('error', done);
  });
}

function errorOf(head: ResponseHead, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return new ApiError(head.statusCode, body.message);
  } catch {
    // not JSON
  }
  return new ApiError(head.statusCode, text.trim() || `HTTP ${head.statusCode}`);
}

// ---------------------------------------------------------------------------
// stdcopy

const FRAME_HEADER = 8;

/** A system-error frame, or a frame of an unknown stream. */
export class StdcopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StdcopyError';
  }
}

/** One demultiplexed payload. */
export interface StdFrame {
  /** 1 for stdout (stdin frames too), 2 for stderr. */
  stream: 1 | 2;
  payload: Buffer;
}

/**
 * An incremental stdcopy demultiplexer: feed it the chunks in whatever sizes
 * they arrive; it returns the complete frames.
 */
export class StdcopyDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private failed: StdcopyError | undefined;

  /**
   * Takes the next chunk and returns the frames it completes.
   * @throws StdcopyError on a system-error frame or an unknown stream byte
   *   (and on every later call).
   */
  push(chunk: Buffer): StdFrame[] {
    if (this.failed) throw this.failed;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: StdFrame[] = [];
    let offset = 0;
    while (this.pending.length - offset >= FRAME_HEADER) {
      const stream = this.pending[offset] ?? 0;
      if (stream > 3) {
        this.failed = new StdcopyError(`unrecognized stream: ${stream}`);
        throw this.failed;
      }
      const size = this.pending.readUInt32BE(offset + 4);
      if (this.pending.length - offset - FRAME_HEADER < size) break;
      const payload = this.pending.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + size);
      offset += FRAME_HEADER + size;
      if (stream === 3) {
        this.failed = new StdcopyError(`error from daemon in stream: ${payload.toString('utf8')}`);
        throw this.failed;
      }
      frames.push({ stream: stream === 2 ? 2 : 1, payload });
    }
    if (offset > 0) this.pending = Buffer.from(this.pending.subarray(offset));
    return frames;
  }

  /** Bytes of an incomplete frame held back. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** Encodes one stdcopy frame. */
export function stdcopyFrame(stream: 0 | 1 | 2 | 3, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(FRAME_HEADER);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Writes, waiting for `drain` when the writable asks for it. */
function writeAll(out: NodeJS.WritableStream, data: Buffer): Promise<void> | undefined {
  if (out.write(data)) return undefined;
  return new Promise((resolve) => {
    const done = (): void => {
      out.removeListener('drain', done);
      out.removeListener('close', done);
      out.removeListener('error', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
  });
}

/**
 * Copies a multiplexed stream to stdout and stderr writables (either may be
 * undefined to drop it) until the source ends, even inside a frame.
 * @throws StdcopyError on a framing error; source errors reject too.
 */
export async function demuxStream(
  source: Readable,
  stdout: NodeJS.WritableStream | undefined,
  stderr: NodeJS.WritableStream | undefined,
): Promise<void> {
  const demuxer = new StdcopyDemuxer();
  for await (const chunk of source) {
    for (const frame of demuxer.push(chunk as Buffer)) {
      const out = frame.stream === 2 ? stderr : stdout;
      if (out) await writeAll(out, frame.payload);
    }
  }
}

/** Copies a raw (TTY) stream to a writable until the source ends. */
export async function copyStream(source: Readable, out: NodeJS.WritableStream | undefined): Promise<void> {
  for await (const chunk of source) {
    if (out) await writeAll(out, chunk as Buffer);
  }
}
