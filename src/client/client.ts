import { StringDecoder } from 'node:string_decoder';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';

import type { SystemInfo, SystemVersion } from '../api/types/index.js';
import { API_VERSION, compareVersions } from '../api/version.js';
import type { FilterArgs } from '../util/filters.js';

/** Where the CLI finds berthd when nothing says otherwise. */
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/**
 * The daemon address: the `-H` flag, else BERTH_HOST, else DOCKER_HOST, else
 * the default socket.
 */
export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env['BERTH_HOST'] || env['DOCKER_HOST'] || DEFAULT_HOST;
}

/** The daemon could not be reached at all. */
export class DaemonUnreachableError extends Error {
  readonly host: string;
  constructor(host: string, options?: { cause?: unknown }) {
    super(`Cannot connect to the berth daemon at ${host}. Is berthd running?`, options);
    this.host = host;
    this.name = 'DaemonUnreachableError';
  }
}

/** The daemon answered with an error status; `message` is its `{"message": ...}`. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: OutgoingHttpHeaders;
  signal?: AbortSignal;
}

export interface PingResult {
  apiVersion: string;
  osType: string;
  experimental: boolean;
  builderVersion: string | undefined;
}

/** An event as the daemon sends it; `timeNano` keeps all its digits. */
export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: bigint;
}

export interface EventsOptions {
  since?: string;
  until?: string;
  filters?: FilterArgs;
  signal?: AbortSignal;
}

type Endpoint = { socketPath: string } | { host: string; port: number };

/**
 * A typed client of the Docker Engine API as berthd serves it, over a unix
 * socket or TCP. It negotiates the API version on first use, as the docker
 * CLI does: the lower of the daemon's `Api-Version` and its own.
 */
export class BerthClient {
  private readonly endpoint: Endpoint;
  private negotiated: string | undefined;

  readonly host: string;

  constructor(host: string, fixedApiVersion?: string) {
    this.host = host;
    this.endpoint = parseEndpoint(host);
    this.negotiated = fixedApiVersion;
  }

  /** The API version requests use (after negotiation). */
  async apiVersion(): Promise<string> {
    if (this.negotiated === undefined) {
      const ping = await this.ping();
      this.negotiated = compareVersions(ping.apiVersion, API_VERSION) < 0 ? ping.apiVersion : API_VERSION;
    }
    return this.negotiated;
  }

  async ping(): Promise<PingResult> {
    const res = await this.send('GET', '/_ping', {});
    const text = await readBody(res);
    if (res.statusCode !== 200) throw apiErrorFrom(res.statusCode ?? 500, text);
    const header = (name: string): string | undefined => {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      apiVersion: header('Api-Version') ?? API_VERSION,
      osType: header('Ostype') ?? '',
      experimental: header('Docker-Experimental') === 'true',
      builderVersion: header('Builder-Version'),
    };
  }

  version(): Promise<SystemVersion> {
    return this.json<SystemVersion>('GET', '/version');
  }

  info(): Promise<SystemInfo> {
    return this.json<SystemInfo>('GET', '/info');
  }

  /** Streams events until the daemon ends the stream (`until`) or `signal` aborts. */
  async *events(options: EventsOptions = {}): AsyncGenerator<EventMessage> {
    const res = await this.stream('GET', '/events', {
      query: {
        since: options.since,
        until: options.until,
        filters: options.filters && options.filters.size > 0 ? JSON.stringify(options.filters) : undefined,
      },
      signal: options.signal,
    });
    try {
      for await (const line of readLines(res)) yield parseEventLine(line);
    } catch (err) {
      if (options.signal?.aborted) return;
      throw err;
    }
  }

  /** A request whose JSON answer is returned; error statuses throw ApiError. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, await this.versioned(path), options);
    const text = await readBody(res);
    const status = res.statusCode ?? 500;
    if (status >= 400) throw apiErrorFrom(status, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A request whose body is streamed back; error statuses throw ApiError. */
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.send(method, await this.versioned(path), options);
    const status = res.statusCode ?? 500;
    if (status >= 400) throw apiErrorFrom(status, await readBody(res));
    return res;
  }

  private async versioned(path: string): Promise<string> {
    return `/v${await this.apiVersion()}${path}`;
  }

  private send(method: string, path: string, options: RequestOptions): Promise<IncomingMessage> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) query.set(k, String(v));
    }
    const qs = query.toString();
    const headers: OutgoingHttpHeaders = { 'User-Agent': 'berth-cli', ...options.headers };
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(JSON.stringify(options.body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        ...this.endpoint,
        method,
        path: qs ? `${path}?${qs}` : path,
        headers,
        signal: options.signal,
      });
      req.once('response', resolve);
      req.once('error', (err: NodeJS.ErrnoException) => {
        if (isUnreachable(err)) {
          reject(new DaemonUnreachableError(this.host, { cause: err }));
        } else reject(err);
      });
      req.end(payload);
    });
  }
}

/** Connection errors that mean no daemon answers at the address (Docker's "Cannot connect"). */
export function isUnreachable(err: NodeJS.ErrnoException): boolean {
  return ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'ECONNRESET', 'EHOSTUNREACH'].includes(
    err.code ?? '',
  );
}

/** Where a `-H` address points: a Unix socket path, or a TCP host and port. */
export function parseEndpoint(host: string): Endpoint {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  if (host.startsWith('tcp://') || host.startsWith('http://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 2375) };
  }
  throw new Error(`unsupported daemon address: ${host} (use unix:///path or tcp://host:port)`);
}

/**
 * The non-empty lines of a JSON-lines body (trimmed), including a last one
 * without a newline. Text is decoded across chunk boundaries, so a UTF-8
 * character split between two chunks stays whole.
 */
export async function* readLines(body: AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.write(chunk as Buffer);
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line !== '') yield line;
    }
  }
  const last = (buffered + decoder.end()).trim();
  if (last !== '') yield last;
}

/** A response body as text. */
export async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The ApiError for an error response: the daemon's `message`, else the body text. */
export function apiErrorFrom(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return new ApiError(status, body.message);
  } catch {
    // not JSON
  }
  return new ApiError(status, text.trim() || `HTTP ${status}`);
}

/** Parses one event line, keeping `timeNano` exact (it does not fit in a JS number). */
export function parseEventLine(line: string): EventMessage {
  const quoted = line.replace(/"timeNano":(\d+)/, '"timeNano":"$1"');
  const raw = JSON.parse(quoted) as Omit<EventMessage, 'timeNano'> & { timeNano?: string };
  return {
    ...raw,
    Actor: { ID: raw.Actor?.ID ?? '', Attributes: raw.Actor?.Attributes ?? {} },
    timeNano: BigInt(raw.timeNano ?? String(BigInt(raw.time ?? 0) * 1_000_000_000n)),
  };
}
