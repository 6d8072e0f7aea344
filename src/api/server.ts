import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

import { errorMessage, InvalidParameterError, UnavailableError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { sendRawJson } from './respond.js';
import { readUpgradeBody, upgradeBodies } from './upgrade-body.js';
import { RouteTable, type HttpMethod, type RequestContext, type Route } from './router.js';
import { statusFromError } from './status.js';
import { API_VERSION, lessThan, negotiateVersion, splitVersionPrefix } from './version.js';

/** Where the API listens. */
export type ListenAddress =
  | { kind: 'unix'; path: string; mode?: number; gid?: number | undefined }
  | { kind: 'tcp'; host: string; port: number };

export interface ApiServerOptions {
  routes: readonly Route[];
  logger: Logger;
  /** Value of the `Server` header, e.g. `berth/0.1.0 (linux)`. */
  serverHeader: string;
  experimental: boolean;
}

const METHODS: ReadonlySet<string> = new Set<HttpMethod>(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

interface InFlight {
  readonly res: ServerResponse;
  readonly socket: Socket;
  hijacked: boolean;
}

/**
 * The HTTP edge: serves the route table on unix sockets (and TCP if asked),
 * applies API-version negotiation, sets Docker's response headers, turns
 * thrown errors into `{"message": ...}` with the status from api/status.ts,
 * and hands hijacked connections to handlers for attach and exec.
 */
export class ApiServer {
  private readonly table: RouteTable;
  private readonly servers: { server: Server; address: ListenAddress }[] = [];
  private readonly inFlight = new Set<InFlight>();
  private readonly shutdown = new AbortController();
  private readonly logger: Logger;

  private readonly options: ApiServerOptions;

  constructor(options: ApiServerOptions) {
    this.options = options;
    this.table = new RouteTable(options.routes);
    this.logger = options.logger;
  }

  /** Starts listening on one more address. A unix socket that another process serves is refused. */
  async listen(address: ListenAddress): Promise<void> {
    const server = createServer({ keepAlive: true });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.dispatch(req, res, false);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      // No HTTP parser reads an upgraded request's body: take Content-Length bytes off the
      // socket here, so they never reach the hijacked stream (a JSON body is not stdin).
      void readUpgradeBody(req, socket, head).then(
        (body) => {
          upgradeBodies.set(req, body);
          const res = new ServerResponse(req);
          res.assignSocket(socket);
          this.dispatch(req, res, true);
        },
        () => socket.destroy(),
      );
    });
    server.on('clientError', (err: Error, socket: Duplex) => {
      this.logger.debug({ err: errorMessage(err) }, 'malformed request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });

    if (address.kind === 'unix') {
      await prepareUnixSocketPath(address.path);
      const previousMask = process.umask(0o177);
      try {
        await listenOn(server, address.path);
      } finally {
        process.umask(previousMask);
      }
      await chmod(address.path, address.mode ?? 0o660);
      if (address.gid !== undefined) await chown(address.path, 0, address.gid);
    } else {
      await listenOn(server, address.port, address.host);
    }
    this.servers.push({ server, address });
  }

  /** The TCP port of a TCP listener (for tests that ask for port 0). */
  tcpPort(): number | undefined {
    for (const { server } of this.servers) {
      const a = server.address();
      if (a !== null && typeof a === 'object') return a.port;
    }
    return undefined;
  }

  /**
   * Graceful stop: stop accepting, abort streams (events, logs -f), give
   * in-flight requests up to `graceMs` to finish, then cut what is left and
   * remove the unix sockets.
   */
  async close(graceMs: number): Promise<void> {
    const closed = this.servers.map(
      ({ server }) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const { server } of this.servers) server.closeIdleConnections();
    this.shutdown.abort();
    const deadline = Date.now() + graceMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const flight of this.inFlight) flight.socket.destroy();
    for (const { server } of this.servers) server.closeAllConnections();
    await Promise.all(closed);
    for (const { address } of this.servers) {
      if (address.kind === 'unix') await unlink(address.path).catch(() => undefined);
    }
    this.servers.length = 0;
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, upgrade: boolean): void {
    const socket = req.socket;
    const flight: InFlight = { res, socket, hijacked: false };
    this.inFlight.add(flight);
    if (upgrade) {
      // No HTTP parser owns an upgraded socket: close it after a plain answer.
      res.once('finish', () => {
        if (!flight.hijacked) socket.end();
      });
    }

    const abort = new AbortController();
    const onGone = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onGone);
    socket.once('close', onGone);
    const signal = AbortSignal.any([abort.signal, this.shutdown.signal]);
    const finish = (): void => {
      res.off('close', onGone);
      socket.off('close', onGone);
      if (!flight.hijacked) this.inFlight.delete(flight);
    };

    this.setCommonHeaders(res);
    const started = process.hrtime.bigint();
    this.handle(req, res, upgrade, flight, signal)
      .catch((err: unknown) => this.answerError(res, err, flight, req))
      .finally(() => {
        finish();
        this.logger.debug(
          {
            method: req.method,
            url: req.url,
            status: res.statusCode,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
          },
          'request',
        );
      });
  }

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    upgrade: boolean,
    flight: InFlight,
    signal: AbortSignal,
  ): Promise<void> {
    const url = parseRequestUrl(req.url ?? '/');
    const { version: requested, path } = splitVersionPrefix(url.pathname);
    const method = req.method ?? 'GET';
    const match = METHODS.has(method) ? this.table.match(method, path) : undefined;
    if (!match) {
      sendRawJson(res, 404, JSON.stringify({ message: 'page not found' }));
      return;
    }
    const apiVersion = negotiateVersion(requested);
    if (match.route.minApiVersion !== undefined && lessThan(apiVersion, match.route.minApiVersion)) {
      sendRawJson(res, 404, JSON.stringify({ message: 'page not found' }));
      return;
    }

    const ctx: RequestContext = {
      req,
      res,
      method: method as HttpMethod,
      path,
      apiVersion,
      params: match.params,
      query: url.searchParams,
      signal,
      hijack: () => {
        if (flight.hijacked) throw new Error('connection already hijacked');
        flight.hijacked = true;
        req.socket.once('close', () => this.inFlight.delete(flight));
        return upgrade ? hijackUpgraded(req) : hijackPlain(req, res);
      },
    };
    await match.route.handler(ctx);
  }

  private setCommonHeaders(res: ServerResponse): void {
    res.setHeader('Api-Version', API_VERSION);
    res.setHeader('Docker-Experimental', String(this.options.experimental));
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', this.options.serverHeader);
  }

  private answerError(res: ServerResponse, err: unknown, flight: InFlight, req: IncomingMessage): void {
    const status = statusFromError(err);
    const message = errorMessage(err);
    if (status >= 500) this.logger.error({ err, method: req.method, url: req.url }, 'request failed');
    else this.logger.debug({ status, message, method: req.method, url: req.url }, 'request refused');

    if (flight.hijacked) {
      flight.socket.end();
      return;
    }
    if (res.headersSent || res.destroyed || res.writableEnded) {
      // Mid-stream: the status is gone already; cut the stream so the client sees it end.
      if (!res.writableEnded) res.end();
      return;
    }
    if (status === 304) {
      res.writeHead(304);
      res.end();
      return;
    }
    sendRawJson(res, status, JSON.stringify({ message }));
  }
}

function parseRequestUrl(raw: string): URL {
  try {
    return new URL(raw, 'http://berth');
  } catch (err) {
    throw new InvalidParameterError(`invalid request URL: ${raw}`, { cause: err });
  }
}

const RAW_STREAM = 'application/vnd.docker.raw-stream';

function hijackUpgraded(req: IncomingMessage): Duplex {
  const socket = req.socket;
  socket.setTimeout(0);
  socket.setNoDelay(true);
  socket.write(
    `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${RAW_STREAM}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
  );
  return socket;
}

function hijackPlain(req: IncomingMessage, res: ServerResponse): Duplex {
  res.writeHead(200, { 'Content-Type': RAW_STREAM });
  res.flushHeaders();
  return Duplex.from({ readable: req, writable: res });
}

function listenOn(server: Server, portOrPath: number | string, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (typeof portOrPath === 'number') server.listen(portOrPath, host, done);
    else server.listen(portOrPath, done);
  });
}

/**
 * Makes a socket path usable: a stale socket (nobody answers) is removed; a
 * live one means another daemon serves it, and that is refused.
 */
export async function prepareUnixSocketPath(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isSocket()) throw new UnavailableError(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new UnavailableError(`another daemon is already listening on ${path}`);
  await unlink(path);
}
