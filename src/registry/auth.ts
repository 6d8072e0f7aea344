/**
 * Registry authentication pieces that need no network: the credentials shape
 * (Docker's `X-Registry-Auth` JSON), `WWW-Authenticate` challenge parsing,
 * token scopes and the token cache.
 */
import { createHash } from 'node:crypto';

/** Docker's `X-Registry-Auth` / `POST /auth` body, as far as a registry client reads it. */
export interface AuthConfig {
  username?: string | undefined;
  password?: string | undefined;
  /** base64 of `username:password`, used when `username` is empty. */
  auth?: string | undefined;
  email?: string | undefined;
  /** An OAuth2 refresh token from an earlier login (Docker's IdentityToken). */
  identitytoken?: string | undefined;
  /** A bearer token sent to the registry as is (Docker's RegistryToken). */
  registrytoken?: string | undefined;
  serveraddress?: string | undefined;
}

export interface BasicCredentials {
  username: string;
  password: string;
}

/** Username and password of an AuthConfig, decoding `auth` when needed. */
export function basicCredentials(config: AuthConfig | undefined): BasicCredentials | undefined {
  if (!config) return undefined;
  if (config.username) return { username: config.username, password: config.password ?? '' };
  if (config.auth) {
    const decoded = Buffer.from(config.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}

/** The value of an `Authorization: Basic` header. */
export function basicHeader(creds: BasicCredentials): string {
  return 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64');
}

/** True when the config carries anything that can authenticate. */
export function hasCredentials(config: AuthConfig | undefined): boolean {
  return (
    basicCredentials(config) !== undefined || Boolean(config?.identitytoken) || Boolean(config?.registrytoken)
  );
}

/**
 * A short, non-reversible fingerprint of credentials, so that tokens obtained
 * with one set of credentials are never handed out for another.
 */
export function credentialKey(config: AuthConfig | undefined): string {
  if (!hasCredentials(config)) return 'anonymous';
  const basic = basicCredentials(config);
  const h = createHash('sha256');
  h.update(JSON.stringify([basic?.username, basic?.password, config?.identitytoken, config?.registrytoken]));
  return h.digest('hex').slice(0, 24);
}

export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`, ... */
  scheme: string;
  /** Parameters, names lower-cased. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses `WWW-Authenticate` values (RFC 7235): one or more challenges, each a
 * scheme followed by comma-separated `name=value` or `name="quoted"` params.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) out.push(...parseChallengeList(value));
  return out;
}

function parseChallengeList(s: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const skipWs = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const skipSeparators = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i] ?? '')) i++;
    return s.slice(start, i);
  };
  const readValue = (): string => {
    if (s[i] !== '"') return readToken();
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote
    return v;
  };
  /** Whether a `name=` parameter (not a new challenge) starts at i. */
  const paramAhead = (): boolean => {
    const save = i;
    const name = readToken();
    skipWs();
    const isParam = name !== '' && s[i] === '=' && s[i + 1] !== '=';
    i = save;
    return isParam;
  };

  skipSeparators();
  while (i < s.length) {
    const scheme = readToken();
    if (scheme === '') {
      i++; // skip a stray character
      skipSeparators();
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skipWs();
    for (;;) {
      skipSeparators();
      // Anything but `name=` starts the next challenge (token68 forms are
      // not used by registries and are skipped as stray characters).
      if (i >= s.length || !paramAhead()) break;
      const name = readToken().toLowerCase();
      skipWs();
      i++; // '='
      skipWs();
      challenge.params[name] = readValue();
    }
    skipSeparators();
  }
  return out;
}

/** `repository:<repo>:<actions>` */
export function repositoryScope(repo: string, actions: readonly string[]): string {
  return `repository:${repo}:${actions.join(',')}`;
}

/** Whether a granted scope list covers every needed scope. */
export function scopesCover(granted: readonly string[], needed: readonly string[]): boolean {
  const have = new Map<string, Set<string>>();
  for (const scope of granted) {
    const { resource, actions } = splitScope(scope);
    const set = have.get(resource) ?? new Set<string>();
    for (const a of actions) set.add(a);
    have.set(resource, set);
  }
  return needed.every((scope) => {
    const { resource, actions } = splitScope(scope);
    const set = have.get(resource);
    return set !== undefined && (actions.every((a) => set.has(a)) || set.has('*'));
  });
}

function splitScope(scope: string): { resource: string; actions: string[] } {
  const colon = scope.lastIndexOf(':');
  if (colon < 0) return { resource: scope, actions: [] };
  return {
    resource: scope.slice(0, colon),
    actions: scope
      .slice(colon + 1)
      .split(',')
      .filter(Boolean),
  };
}

interface CachedToken {
  token: string;
  scopes: readonly string[];
  expiresAt: number;
}

/**
 * Bearer tokens per (authority, credentials) and scope set, kept until shortly
 * before they expire. A token for `pull,push` also serves later `pull`s.
 */
export class TokenCache {
  readonly #entries = new Map<string, CachedToken[]>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get(key: string, scopes: readonly string[]): string | undefined {
    const list = this.#entries.get(key);
    if (!list) return undefined;
    const now = this.#now();
    const live = list.filter((t) => t.expiresAt > now);
    if (live.length !== list.length) this.#entries.set(key, live);
    return live.find((t) => scopesCover(t.scopes, scopes))?.token;
  }

  /** Stores a token valid for `lifetimeSeconds` from `issuedAt` (ms), less a safety margin. */
  set(
    key: string,
    scopes: readonly string[],
    token: string,
    lifetimeSeconds: number,
    issuedAt?: number,
  ): void {
    const start = issuedAt !== undefined && issuedAt <= this.#now() ? issuedAt : this.#now();
    const margin = Math.min(10, lifetimeSeconds / 4);
    const entry: CachedToken = {
      token,
      scopes: [...scopes],
      expiresAt: start + (lifetimeSeconds - margin) * 1000,
    };
    const list = (this.#entries.get(key) ?? []).filter(
      (t) => !(t.scopes.length === scopes.length && scopesCover(scopes, t.scopes)),
    );
    list.push(entry);
    this.#entries.set(key, list);
  }

  /** Forgets every token of `key` (after the registry rejected one). */
  invalidate(key: string, token: string): void {
    const list = this.#entries.get(key);
    if (list)
      this.#entries.set(
        key,
        list.filter((t) => t.token !== token),
      );
  }
}
