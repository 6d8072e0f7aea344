import { InvalidParameterError } from '../errors.js';

/** The API version berth speaks by default and at most. */
export const API_VERSION = '1.47';
/** The oldest API version berth still answers. */
export const MIN_API_VERSION = '1.24';

/**
 * Compares dotted numeric versions segment by segment, as moby's
 * versions.compare does ("1.9" < "1.10"; missing segments count as 0).
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export const atLeast = (version: string, min: string): boolean => compareVersions(version, min) >= 0;
export const lessThan = (version: string, other: string): boolean => compareVersions(version, other) < 0;

/** Matches a `/vX.Y` prefix as moby's router does (`/v{version:[0-9.]+}`). */
const VERSION_PREFIX = /^\/v([0-9.]+)(\/.*)$/;

/** Splits `/v1.47/containers/json` into its version and the bare path. */
export function splitVersionPrefix(path: string): { version: string | undefined; path: string } {
  const m = VERSION_PREFIX.exec(path);
  if (!m) return { version: undefined, path };
  return { version: m[1], path: m[2] ?? '/' };
}

/**
 * The API version a request is served at: the one in its path, or the
 * default. Versions outside [MIN_API_VERSION, API_VERSION] are rejected with
 * Docker's messages.
 */
export function negotiateVersion(requested: string | undefined): string {
  const version = requested === undefined || requested === '' ? API_VERSION : requested;
  if (lessThan(version, MIN_API_VERSION)) {
    throw new InvalidParameterError(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  if (compareVersions(version, API_VERSION) > 0) {
    throw new InvalidParameterError(
      `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`,
    );
  }
  return version;
}
