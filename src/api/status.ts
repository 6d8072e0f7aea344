import { errorKind, type ErrorKind } from '../errors.js';

/**
 * The single table from error kinds to HTTP statuses. No other code decides a
 * status for an error (moby's httpstatus rule: no new type checks elsewhere).
 */
const STATUS_BY_KIND: Record<ErrorKind, number> = {
  'not-found': 404,
  'invalid-parameter': 400,
  conflict: 409,
  'not-modified': 304,
  unauthorized: 401,
  forbidden: 403,
  unavailable: 503,
  'not-implemented': 501,
  system: 500,
};

export function statusFromError(err: unknown): number {
  return STATUS_BY_KIND[errorKind(err)];
}
