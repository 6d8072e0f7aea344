/**
 * Registry error responses: parsing the distribution error body
 * (`{"errors":[{"code","message","detail"}]}`) and mapping it onto berth's
 * error hierarchy with Docker's wording.
 *
 * Pull wording (manifest fetches), as Docker prints it:
 *  - DENIED           → NotFoundError  "pull access denied for <name>, repository does not exist or may require 'docker login': denied: <message>"
 *  - MANIFEST_UNKNOWN → NotFoundError  "manifest for <name>:<tag> not found: manifest unknown: <message>"
 *  - NAME_UNKNOWN     → NotFoundError  "repository <name> not found: name unknown: <message>"
 * Everything else (and every other operation) reads "<code in words>: <message>":
 *  - DENIED (also a 401 with `error="insufficient_scope"`) / 403 → ForbiddenError
 *  - UNAUTHORIZED / 401       → UnauthorizedError
 *  - TOOMANYREQUESTS / 429    → UnavailableError
 *  - 404                      → NotFoundError
 *  - UNSUPPORTED / 405        → NotImplementedError
 *  - 502 / 503 / 504          → UnavailableError
 *  - other 4xx                → InvalidParameterError (DIGEST_INVALID, MANIFEST_INVALID, ...)
 *  - anything else            → SystemError
 * The parsed body travels along as the `cause`, a RegistryResponseError.
 */
import type { IncomingMessage } from 'node:http';

import {
  ForbiddenError,
  InvalidParameterError,
  NotFoundError,
  NotImplementedError,
  SystemError,
  UnauthorizedError,
  UnavailableError,
  type BerthError,
} from '../errors.js';
import { parseChallenges } from './auth.js';

/** One entry of a distribution error body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** An HTTP error answer of a registry, parsed. Used as the `cause` of the BerthErrors thrown. */
export class RegistryResponseError extends Error {
  readonly status: number;
  readonly errors: readonly RegistryErrorEntry[];

  constructor(status: number, errors: readonly RegistryErrorEntry[]) {
    super(
      formatEntry(errors[0] ?? { code: 'UNKNOWN', message: `received unexpected HTTP status: ${status}` }),
    );
    this.name = 'RegistryResponseError';
    this.status = status;
    this.errors = errors;
  }

  /** The first error's code (`MANIFEST_UNKNOWN`, ...). */
  get code(): string {
    return this.errors[0]?.code ?? 'UNKNOWN';
  }
}

/** What the failed request was about, for the message. */
export interface ErrorContext {
  /** The object the request addressed: decides the code of a bare 404. */
  target: 'manifest' | 'blob' | 'upload' | 'other';
  /** A manifest fetch of a pull: Docker's pull wording applies. */
  pull?: boolean;
  /** The familiar repository name (`busybox`, `127.0.0.1:5000/app`). */
  name: string;
  /** The tag or digest of a manifest request. */
  reference?: string | undefined;
  /** Put before the message (e.g. `Get "<url>": ` for token failures). */
  prefix?: string | undefined;
}

/** Default messages of the codes a synthesized error can carry (distribution's wording). */
const DEFAULT_MESSAGES: Record<string, string> = {
  UNAUTHORIZED: 'authentication required',
  DENIED: 'requested access to the resource is denied',
  TOOMANYREQUESTS: 'too many requests',
  MANIFEST_UNKNOWN: 'manifest unknown',
  BLOB_UNKNOWN: 'blob unknown to registry',
  BLOB_UPLOAD_UNKNOWN: 'blob upload unknown to registry',
  NAME_UNKNOWN: 'repository name not known to registry',
  UNSUPPORTED: 'The operation is unsupported.',
};

/** `MANIFEST_UNKNOWN` → `manifest unknown`, as Docker prints codes. */
export function codeWords(code: string): string {
  return code.toLowerCase().replace(/_/g, ' ');
}

function formatEntry(e: RegistryErrorEntry): string {
  return `${codeWords(e.code)}: ${e.message}`;
}

/**
 * The error entries of a response: OAuth2 bearer errors of the
 * `WWW-Authenticate` header first (as Docker Hub answers an anonymous pull of
 * a missing repository: `error="insufficient_scope"`), then the body's.
 */
export function parseErrorResponse(
  status: number,
  headers: IncomingMessage['headers'],
  body: Buffer,
  target: ErrorContext['target'],
): RegistryErrorEntry[] {
  const out: RegistryErrorEntry[] = [];
  for (const c of parseChallenges(headers['www-authenticate'])) {
    if (c.scheme !== 'bearer') continue;
    const code =
      c.params['error'] === 'invalid_token'
        ? 'UNAUTHORIZED'
        : c.params['error'] === 'insufficient_scope'
          ? 'DENIED'
          : undefined;
    if (code === undefined) continue;
    out.push({ code, message: c.params['error_description'] || (DEFAULT_MESSAGES[code] ?? code) });
    break;
  }
  out.push(...parseBody(status, headers['content-type'], body, target));
  return out;
}

function parseBody(
  status: number,
  contentType: string | undefined,
  body: Buffer,
  target: ErrorContext['target'],
): RegistryErrorEntry[] {
  const text = body.toString('utf8').trim();
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const looksJson =
    type === 'application/json' || type === 'application/vnd.api+json' || text.startsWith('{');
  if (looksJson && text !== '') {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === 'object') {
        const obj = parsed as { details?: unknown; errors?: unknown };
        // Docker Hub's token service: {"details":"incorrect username or password"}
        if (typeof obj.details === 'string' && obj.details !== '')
          return [synthesize(status, obj.details, target)];
        if (Array.isArray(obj.errors)) {
          const entries = obj.errors.flatMap((e): RegistryErrorEntry[] => {
            if (e === null || typeof e !== 'object') return [];
            const { code, message, detail } = e as { code?: unknown; message?: unknown; detail?: unknown };
            const c = typeof code === 'string' && code !== '' ? code.toUpperCase() : 'UNKNOWN';
            const m =
              typeof message === 'string' && message !== ''
                ? message
                : (DEFAULT_MESSAGES[c] ?? 'unknown error');
            return [
              detail === undefined || detail === null
                ? { code: c, message: m }
                : { code: c, message: m, detail },
            ];
          });
          if (entries.length > 0) return entries;
        }
      }
    } catch {
      // not JSON after all: fall through
    }
  }
  return [synthesize(status, text, target)];
}

/** An entry for a response without a usable error body, by status (as distribution's client does). */
function synthesize(status: number, text: string, target: ErrorContext['target']): RegistryErrorEntry {
  const code =
    status === 401
      ? 'UNAUTHORIZED'
      : status === 403
        ? 'DENIED'
        : status === 429
          ? 'TOOMANYREQUESTS'
          : status === 405
            ? 'UNSUPPORTED'
            : status === 404
              ? {
                  manifest: 'MANIFEST_UNKNOWN',
                  blob: 'BLOB_UNKNOWN',
                  upload: 'BLOB_UPLOAD_UNKNOWN',
                  other: 'NAME_UNKNOWN',
                }[target]
              : 'UNKNOWN';
  const message =
    text !== '' && text.length <= 512 && !text.startsWith('<')
      ? text
      : (DEFAULT_MESSAGES[code] ?? `received unexpected HTTP status: ${status}`);
  return { code, message };
}

/** The familiar form of a reference: `name:tag` or `name@digest`. */
export function familiarReference(name: string, reference: string | undefined): string {
  if (reference === undefined) return name;
  return reference.includes(':') ? `${name}@${reference}` : `${name}:${reference}`;
}

/** Maps a parsed error answer onto berth's hierarchy (see the module comment). */
export function mapRegistryError(err: RegistryResponseError, ctx: ErrorContext): BerthError {
  const first = err.errors[0] ?? {
    code: 'UNKNOWN',
    message: `received unexpected HTTP status: ${err.status}`,
  };
  const detail = (ctx.prefix ?? '') + formatEntry(first);
  const options = { cause: err };
  if (ctx.pull) {
    switch (first.code) {
      case 'DENIED':
        return new NotFoundError(
          `pull access denied for ${ctx.name}, repository does not exist or may require 'docker login': ${detail}`,
          options,
        );
      case 'MANIFEST_UNKNOWN':
        return new NotFoundError(
          `manifest for ${familiarReference(ctx.name, ctx.reference)} not found: ${detail}`,
          options,
        );
      case 'NAME_UNKNOWN':
        return new NotFoundError(`repository ${ctx.name} not found: ${detail}`, options);
    }
  }
  const status = err.status;
  // The code decides first (a 401 with `insufficient_scope` is a denial), then the status.
  if (first.code === 'DENIED') return new ForbiddenError(detail, options);
  if (first.code === 'UNAUTHORIZED' || status === 401) return new UnauthorizedError(detail, options);
  if (status === 403) return new ForbiddenError(detail, options);
  if (first.code === 'TOOMANYREQUESTS' || status === 429) return new UnavailableError(detail, options);
  if (status === 404) return new NotFoundError(detail, options);
  if (first.code === 'UNSUPPORTED' || status === 405) return new NotImplementedError(detail, options);
  if (status === 502 || status === 503 || status === 504) return new UnavailableError(detail, options);
  if (status >= 400 && status < 500) return new InvalidParameterError(detail, options);
  return new SystemError(detail, options);
}

/** Reads (a bounded part of) an error response and maps it. */
export async function errorFromResponse(
  res: IncomingMessage,
  method: string,
  ctx: ErrorContext,
): Promise<BerthError> {
  const status = res.statusCode ?? 0;
  const body = method === 'HEAD' ? Buffer.alloc(0) : await readLimited(res, 64 * 1024);
  if (method === 'HEAD') res.resume();
  const entries = parseErrorResponse(status, res.headers, body, ctx.target);
  return mapRegistryError(new RegistryResponseError(status, entries), ctx);
}

/** Reads at most `limit` bytes of a response body; the rest is discarded. */
export async function readLimited(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res) {
      const buf = chunk as Buffer;
      if (total < limit) chunks.push(buf.subarray(0, limit - total));
      total += buf.length;
      if (total >= limit * 4) {
        res.destroy();
        break;
      }
    }
  } catch {
    // a broken error body still leaves the status to go by
  }
  return Buffer.concat(chunks);
}
