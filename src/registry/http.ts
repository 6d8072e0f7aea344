/**
 * The HTTP transport of the registry client: node:http/node:https with
 * keep-alive agents, replayable request bodies, an inactivity timeout, and
 * transport failures reported as TransportError (Go's `Get "<url>": ...`
 * wording, so that the message names the host).
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

import { SystemError } from '../errors.js';

/**
 * A request body: bytes, or a factory opening a fresh stream for every
 * attempt (so that a request can be replayed after an auth challenge).
 */
export type RequestBody = Buffer | (() => Readable);

export interface TransportRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: RequestBody | undefined;
  /** Skip TLS certificate verification (insecure registries). */
  insecureTls?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** A request that never got an HTTP answer (refused, reset, TLS failure, timeout). */
export class TransportError extends Error {
  readonly code: string | undefined;
  /** Whether the request went out on a reused keep-alive connection. */
  readonly reusedSocket: boolean;

  constructor(method: string, url: URL, cause: unknown, reusedSocket: boolean) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${goMethod(method)} "${redact(url)}": ${reason}`, { cause });
    this.name = 'TransportError';
    this.code = (cause as { code?: unknown } | null)?.code as string | undefined;
    this.reusedSocket = reusedSocket;
  }
}

/** `GET` → `Get`, as Go's url.Error prints methods. */
export function goMethod(method: string): string {
  return method.charAt(0).toUpperCase() + method.slice(1).toLowerCase();
}

/** A URL for messages: without userinfo. */
export function redact(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/** Whether an error is (caused by) an abort of the caller's signal. */
export function isAbortError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
    const e = current as { name?: unknown; code?: unknown; cause?: unknown };
    if (e.name === 'AbortError' || e.code === 'ABORT_ERR') return true;
    current = e.cause;
  }
  return false;
}

export class Transport {
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  readonly #https = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  readonly #httpsInsecure = new HttpsAgent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false });
  readonly #timeoutMs: number;

  constructor(options: { timeoutMs?: number | undefined } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * Sends a request; resolves with the response once its headers arrived.
   * The caller must consume or destroy the response.
   */
  request(req: TransportRequest): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const https = req.url.protocol === 'https:';
      const headers: OutgoingHttpHeaders = { ...req.headers };
      const body = req.body;
      if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
      else if (body === undefined && methodTakesBody(req.method)) headers['content-length'] = '0';
      const send = https ? httpsRequest : httpRequest;
      let settled = false;
      const r = send(req.url, {
        method: req.method,
        headers,
        agent: https ? (req.insecureTls ? this.#httpsInsecure : this.#https) : this.#http,
        signal: req.signal,
      });
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        reject(isAbortError(err) ? err : new TransportError(req.method, req.url, err, r.reusedSocket));
      };
      r.setTimeout(this.#timeoutMs, () => {
        const err = Object.assign(new Error(`no activity for ${this.#timeoutMs / 1000}s`), {
          code: 'ETIMEDOUT',
        });
        r.destroy(err);
      });
      r.on('error', fail);
      let source: Readable | undefined;
      r.on('response', (res) => {
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        if (source && !source.readableEnded) {
          // The server answered before reading the whole body (an error or
          // an auth challenge): stop sending, and do not reuse the connection.
          source.unpipe(r);
          source.destroy();
          res.once('close', () => r.destroy());
        }
        resolve(res);
      });
      if (typeof body === 'function') {
        try {
          source = body();
        } catch (err) {
          settled = true;
          r.destroy();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        source.once('error', (err) => {
          // The body's own failure (a short source, a read error) is not the
          // registry's: reject with it as it is.
          if (!settled) {
            settled = true;
            reject(err);
          }
          r.destroy();
        });
        source.pipe(r);
      } else {
        r.end(body);
      }
    });
  }

  /** Closes idle connections; requests in flight finish. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
    this.#httpsInsecure.destroy();
  }
}

function methodTakesBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

/** Reads a whole response body, failing past `limit` bytes. */
export async function readAll(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new SystemError(`${what} is too large: ${declared} bytes (limit ${limit})`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      res.destroy();
      throw new SystemError(`${what} is too large: more than ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Gets rid of a response that is not needed: small bodies drained (keeping the connection), large ones cut. */
export function discard(res: IncomingMessage): void {
  const length = Number(res.headers['content-length']);
  if (res.complete) return;
  if (Number.isFinite(length) && length <= 64 * 1024) res.resume();
  else res.destroy();
}
