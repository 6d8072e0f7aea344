/**
 * berth's one error hierarchy. Engine code throws these; the API layer maps
 * them to HTTP statuses in exactly one place (src/api/status.ts). Nothing
 * here knows about HTTP.
 *
 * Each class carries a `kind` discriminant so that errors crossing module or
 * realm boundaries are still recognised (duck typing over bare instanceof).
 * Messages follow Docker's wording where clients match on them
 * ("No such container: <id>").
 */
export type ErrorKind =
  | 'not-found'
  | 'invalid-parameter'
  | 'conflict'
  | 'not-modified'
  | 'unauthorized'
  | 'forbidden'
  | 'unavailable'
  | 'not-implemented'
  | 'system';

export class BerthError extends Error {
  readonly kind: ErrorKind = 'system';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** 404: the named object does not exist. */
export class NotFoundError extends BerthError {
  override readonly kind = 'not-found';
}

/** 400: the request is malformed or a value is out of range. */
export class InvalidParameterError extends BerthError {
  override readonly kind = 'invalid-parameter';
}

/** 409: the request conflicts with the object's current state. */
export class ConflictError extends BerthError {
  override readonly kind = 'conflict';
}

/** 304: the object is already in the requested state (e.g. stopping a stopped container). */
export class NotModifiedError extends BerthError {
  override readonly kind = 'not-modified';
}

/** 401 */
export class UnauthorizedError extends BerthError {
  override readonly kind = 'unauthorized';
}

/** 403 */
export class ForbiddenError extends BerthError {
  override readonly kind = 'forbidden';
}

/** 503: the daemon (or a dependency such as a registry) cannot serve this now. */
export class UnavailableError extends BerthError {
  override readonly kind = 'unavailable';
}

/** 501: a feature berth does not offer. */
export class NotImplementedError extends BerthError {
  override readonly kind = 'not-implemented';
}

/** 500: anything unexpected. The default for errors that are not BerthErrors. */
export class SystemError extends BerthError {
  override readonly kind = 'system';
}

const KINDS: ReadonlySet<string> = new Set<ErrorKind>([
  'not-found',
  'invalid-parameter',
  'conflict',
  'not-modified',
  'unauthorized',
  'forbidden',
  'unavailable',
  'not-implemented',
  'system',
]);

/**
 * The kind of an error, found by walking its `cause` chain: the first error
 * with a known `kind` decides. Unknown errors are 'system'.
 */
export function errorKind(err: unknown): ErrorKind {
  let current: unknown = err;
  for (let depth = 0; depth < 16 && current !== null && typeof current === 'object'; depth++) {
    const kind = (current as { kind?: unknown }).kind;
    if (typeof kind === 'string' && KINDS.has(kind)) return kind as ErrorKind;
    current = (current as { cause?: unknown }).cause;
  }
  return 'system';
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
