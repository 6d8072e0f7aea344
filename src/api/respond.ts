import type { ServerResponse } from 'node:http';

import { InvalidParameterError } from '../errors.js';
import type { RequestContext } from './router.js';
import { upgradeBody } from './upgrade-body.js';

/**
 * Response and request-body helpers for handlers. Handlers never write error
 * bodies: they throw, and the server's one error handler answers.
 */

/** Writes a JSON body as Docker does (json.NewEncoder: a trailing newline). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendRawJson(res, status, JSON.stringify(body));
}

/** Writes an already serialised JSON document. */
export function sendRawJson(res: ServerResponse, status: number, json: string): void {
  const payload = Buffer.from(json + '\n');
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
  res.end(payload);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  const payload = Buffer.from(text);
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': payload.length });
  res.end(payload);
}

export function sendNoContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** The largest JSON request body berth reads (a container create is a few KiB). */
export const MAX_JSON_BODY = 16 * 1024 * 1024;

/**
 * Reads and parses a JSON request body with moby's checks and messages:
 * a Content-Type other than application/json is refused, an empty body and
 * malformed JSON are 400 `invalid JSON: ...`.
 */
export async function readJsonBody(
  ctx: RequestContext,
  options: { allowEmpty?: boolean } = {},
): Promise<unknown> {
  const contentType = ctx.req.headers['content-type'];
  if (contentType !== undefined && contentType !== '' && !isJsonMediaType(contentType)) {
    throw new InvalidParameterError(
      `unsupported Content-Type header (${contentType}): must be 'application/json'`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const upgraded = upgradeBody(ctx.req);
  if (upgraded !== undefined) chunks.push(upgraded);
  for await (const chunk of upgraded !== undefined ? [] : ctx.req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_JSON_BODY) throw new InvalidParameterError(`request body exceeds ${MAX_JSON_BODY} bytes`);
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    if (options.allowEmpty) return undefined;
    throw new InvalidParameterError('invalid JSON: got EOF while reading request body');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidParameterError(`invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function isJsonMediaType(value: string): boolean {
  const mediaType = value.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/**
 * Query values as moby reads them. A boolean is false when absent or one of
 * "", "0", "no", "false", "none" (case-insensitive); anything else is true.
 */
export function queryBool(query: URLSearchParams, key: string): boolean {
  const value = query.get(key);
  if (value === null) return false;
  return !['', '0', 'no', 'false', 'none'].includes(value.trim().toLowerCase());
}

/** An integer query value; absent or empty gives the default, anything non-integer is 400. */
export function queryInt(query: URLSearchParams, key: string, fallback: number): number {
  const value = query.get(key);
  if (value === null || value === '') return fallback;
  if (!/^[+-]?\d+$/.test(value.trim())) {
    throw new InvalidParameterError(
      `invalid value for ${key}: strconv.ParseInt: parsing "${value}": invalid syntax`,
    );
  }
  return Number.parseInt(value, 10);
}
