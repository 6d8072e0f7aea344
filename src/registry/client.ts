/**
 * The registry (OCI distribution API v2) client berth pulls and pushes with.
 *
 * Hosts: `docker.io` (and its aliases) is served by `registry-1.docker.io`
 * over HTTPS; `mirrors` are tried first for Docker Hub reads (manifests and
 * blobs), falling back to Docker Hub on any failure. Pushes and logins never
 * go to mirrors. Credentials are asked of `credentials(host)` with `docker.io`
 * for Docker Hub, the mirror's `host[:port]` for a mirror (Docker Hub
 * credentials are not sent to mirrors), and the registry's `host[:port]`
 * otherwise.
 *
 * Scheme rule: see hosts.ts — loopback is plain HTTP directly; insecure
 * registries are HTTPS without verification, then HTTP when HTTPS fails at
 * the transport level; everything else HTTPS.
 *
 * Authentication: requests go out anonymously (or with what an earlier
 * challenge from the host taught); a 401 is answered once, per its
 * `WWW-Authenticate`: `Basic` with the credentials, `Bearer` with a token
 * from the realm for the operation's scopes (`repository:<repo>:pull`, or
 * `pull,push` for pushes, plus `repository:<from>:pull` for mounts), cached
 * per host, credentials and scopes until it expires.
 *
 * Everything returned is plain data and Node Readables; errors are berth's
 * (see errors.ts for the mapping).
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  BerthError,
  ForbiddenError,
  InvalidParameterError,
  SystemError,
  UnauthorizedError,
  UnavailableError,
  errorKind,
  errorMessage,
} from '../errors.js';
import {
  TokenCache,
  basicCredentials,
  basicHeader,
  credentialKey,
  parseChallenges,
  repositoryScope,
  type AuthConfig,
  type Challenge,
} from './auth.js';
import { RegistryResponseError, errorFromResponse, mapRegistryError, parseErrorResponse } from './errors.js';
import {
  DOCKER_HUB,
  DOCKER_HUB_REGISTRY,
  InsecureRegistries,
  isLoopbackHost,
  normalizeHost,
} from './hosts.js';
import {
  Transport,
  TransportError,
  discard,
  goMethod,
  isAbortError,
  readAll,
  redact,
  type RequestBody,
} from './http.js';

export type { AuthConfig } from './auth.js';

/** Manifest media types the client asks for, in order of preference. */
export const MANIFEST_MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const MANIFEST_ACCEPT = [
  MANIFEST_MEDIA_TYPES.dockerManifest,
  MANIFEST_MEDIA_TYPES.dockerManifestList,
  MANIFEST_MEDIA_TYPES.ociManifest,
  MANIFEST_MEDIA_TYPES.ociIndex,
].join(', ');

const SCHEMA1_TYPES: readonly string[] = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];
const KNOWN_MANIFEST_TYPES: ReadonlySet<string> = new Set([
  ...Object.values(MANIFEST_MEDIA_TYPES),
  ...SCHEMA1_TYPES,
]);

/** Manifests larger than this are refused (containerd's limit). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The OAuth2 client id Docker uses; refresh tokens are bound to it. */
const OAUTH_CLIENT_ID = 'docker';
/** Mirrors that failed to answer are skipped this long. */
const MIRROR_BACKOFF_MS = 30_000;

export interface RegistryClientOptions {
  /** Hosts (`host[:port]`) or CIDRs allowed without verified TLS. Loopback always is. */
  insecureRegistries: readonly string[];
  /** Docker Hub mirrors (`https://mirror.example`), tried first for docker.io reads. */
  mirrors: readonly string[];
  userAgent: string;
  /** Credentials per registry host (`docker.io` for Docker Hub). */
  credentials?: ((registryHost: string) => AuthConfig | undefined) | undefined;
  /** Aborts every request of this client. */
  signal?: AbortSignal | undefined;
  /** Blobs up to this size go up in one PUT; larger ones in PATCH chunks. Default 16 MiB. */
  chunkThreshold?: number | undefined;
  /** Size of one PATCH chunk. Default 16 MiB. */
  chunkSize?: number | undefined;
  /** Inactivity timeout of a request, ms. Default 60 s. */
  timeoutMs?: number | undefined;
  /** Attempts of a GET/HEAD failing with a 5xx or a connection error. Default 3. */
  maxAttempts?: number | undefined;
  /** Delay before the first retry, doubled for each further one. Default 250 ms. */
  retryDelayMs?: number | undefined;
}

export interface ManifestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Manifest extends ManifestDescriptor {
  bytes: Buffer;
}

export interface BlobDownload {
  /** The blob's bytes from `offset` on. Destroy it when abandoning the download. Not verified: hash it. */
  stream: Readable;
  /** The whole blob's size, or -1 when the registry did not say. */
  size: number;
  /** Where `stream` starts: the requested offset, or 0 when the registry ignored the Range. */
  offset: number;
}

export interface LoginResult {
  status: 'Login Succeeded';
  /** A refresh token the registry issued, to be stored instead of the password. */
  identityToken?: string;
}

interface Endpoint {
  /** The name credentials are asked for. */
  name: string;
  /** `host[:port]` connected to. */
  authority: string;
  /** A mirror's path prefix ('' or `/path`). */
  prefix: string;
  /** Fixed by a mirror URL; otherwise the host rule decides. */
  scheme: 'http' | 'https' | undefined;
  mirror: boolean;
}

interface Operation {
  ep: Endpoint;
  scopes: string[];
  auth: AuthConfig | undefined;
  signal: AbortSignal | undefined;
  /** Ask the token server for a refresh token (login). */
  offline?: boolean;
  onRefreshToken?: (token: string) => void;
  /** The token just fetched in answer to a challenge, for the retry (a login must not fetch a second one). */
  retryToken?: string | undefined;
}

interface SendOptions {
  headers?: Record<string, string>;
  body?: RequestBody | undefined;
  /** Retry 5xx answers and connection failures with backoff. */
  idempotent?: boolean;
  followRedirects?: boolean;
}

interface Target {
  host: string;
  repo: string;
  /** The familiar name, for messages. */
  name: string;
}

/** `probe`: HTTPS without verification, falling back to HTTP on a transport failure. */
type SchemeState = 'http' | 'https' | 'https-insecure' | 'probe';

const REPO_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPO_RE = new RegExp(`^${REPO_COMPONENT}(?:/${REPO_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^(sha256|sha384|sha512):([a-f0-9]+)$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export class RegistryClient {
  readonly #insecure: InsecureRegistries;
  readonly #mirrors: Endpoint[];
  readonly #userAgent: string;
  readonly #credentials: ((registryHost: string) => AuthConfig | undefined) | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #chunkThreshold: number;
  readonly #chunkSize: number;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #transport: Transport;
  readonly #schemes = new Map<string, SchemeState>();
  /** The last auth challenge of each host, to authenticate up front. */
  readonly #challenges = new Map<string, Challenge>();
  readonly #tokens = new TokenCache();
  readonly #tokenFetches = new Map<string, Promise<string>>();
  readonly #mirrorDownUntil = new Map<string, number>();

  constructor(options: RegistryClientOptions) {
    this.#insecure = new InsecureRegistries(options.insecureRegistries);
    this.#mirrors = options.mirrors.map(parseMirror);
    this.#userAgent = options.userAgent;
    this.#credentials = options.credentials;
    this.#signal = options.signal;
    this.#chunkThreshold = options.chunkThreshold ?? 16 * 1024 * 1024;
    this.#chunkSize = Math.max(1, options.chunkSize ?? 16 * 1024 * 1024);
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#retryDelayMs = options.retryDelayMs ?? 250;
    this.#transport = new Transport({ timeoutMs: options.timeoutMs });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#transport.close();
  }

  /**
   * Fetches a manifest by tag or digest. The digest is verified when fetched
   * by digest, computed (sha256) otherwise and checked against
   * `Docker-Content-Digest`.
   */
  async getManifest(host: string, repo: string, reference: string): Promise<Manifest> {
    const t = this.#target(host, repo);
    checkReference(reference);
    return this.#withEndpoints(t.host, true, (ep) => this.#fetchManifest(ep, t, reference));
  }

  /**
   * Every tag of a repository (`GET /v2/<name>/tags/list`), following the
   * registry's `Link: <...>; rel="next"` pages, in the registry's order.
   */
  async listTags(host: string, repo: string): Promise<string[]> {
    const t = this.#target(host, repo);
    return this.#withEndpoints(t.host, true, async (ep) => {
      const op = this.#op(ep, [repositoryScope(t.repo, ['pull'])]);
      const tags: string[] = [];
      let path: string | undefined = `/v2/${t.repo}/tags/list`;
      for (let page = 0; path !== undefined && page < MAX_TAG_PAGES; page++) {
        const { res, url } = await this.#send(op, 'GET', path, {
          headers: { accept: 'application/json' },
          idempotent: true,
          followRedirects: true,
        });
        if (res.statusCode !== 200) {
          throw await errorFromResponse(res, 'GET', { target: 'other', pull: true, name: t.name });
        }
        let body: { tags?: unknown };
        try {
          body = JSON.parse((await readAll(res, MAX_MANIFEST_BYTES, 'tag list')).toString()) as {
            tags?: unknown;
          };
        } catch (err) {
          throw bodyError(err, 'GET', url);
        }
        if (Array.isArray(body.tags))
          for (const tag of body.tags) if (typeof tag === 'string') tags.push(tag);
        path = nextPage(headerValue(res.headers['link']), url);
      }
      return tags;
    });
  }

  /** A manifest's descriptor without its body (HEAD; GET when the registry's HEAD says too little). */
  async headManifest(host: string, repo: string, reference: string): Promise<ManifestDescriptor> {
    const t = this.#target(host, repo);
    checkReference(reference);
    return this.#withEndpoints(t.host, true, async (ep) => {
      const op = this.#op(ep, [repositoryScope(t.repo, ['pull'])]);
      const { res } = await this.#send(op, 'HEAD', `/v2/${t.repo}/manifests/${reference}`, {
        headers: { accept: MANIFEST_ACCEPT },
        idempotent: true,
        followRedirects: true,
      });
      if (res.statusCode !== 200) {
        throw await errorFromResponse(res, 'HEAD', {
          target: 'manifest',
          pull: true,
          name: t.name,
          reference,
        });
      }
      discard(res);
      const header = headerValue(res.headers['docker-content-digest']);
      const contentType = baseType(headerValue(res.headers['content-type']));
      const size = Number(res.headers['content-length']);
      const digest = isDigest(reference)
        ? reference
        : header !== undefined && isDigest(header)
          ? header
          : undefined;
      if (digest === undefined || !KNOWN_MANIFEST_TYPES.has(contentType) || !Number.isSafeInteger(size)) {
        const m = await this.#fetchManifest(ep, t, reference);
        return { mediaType: m.mediaType, digest: m.digest, size: m.size };
      }
      return { mediaType: contentType, digest, size };
    });
  }

  /**
   * Opens a blob for download, from `offset` on when given (HTTP Range; the
   * whole blob when the registry ignores it: check `offset` of the result).
   */
  async getBlob(
    host: string,
    repo: string,
    digest: string,
    options: { offset?: number | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<BlobDownload> {
    const t = this.#target(host, repo);
    checkDigest(digest);
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new InvalidParameterError(`invalid offset: ${offset}`);
    const signal = combineSignals(this.#signal, options.signal);
    return this.#withEndpoints(t.host, true, async (ep) => {
      const op: Operation = { ...this.#op(ep, [repositoryScope(t.repo, ['pull'])]), signal };
      const path = `/v2/${t.repo}/blobs/${digest}`;
      const get = (range: boolean): Promise<{ res: IncomingMessage; url: URL }> =>
        this.#send(op, 'GET', path, {
          headers: range ? { range: `bytes=${offset}-` } : {},
          idempotent: true,
          followRedirects: true,
        });
      let { res } = await get(offset > 0);
      if (res.statusCode === 206) {
        const range = parseContentRange(headerValue(res.headers['content-range']));
        if (range) return { stream: res, size: range.total ?? -1, offset: range.start };
      }
      if (res.statusCode === 416 || res.statusCode === 206) {
        // Unsatisfiable or unreadable range: start over with the whole blob.
        discard(res);
        ({ res } = await get(false));
      }
      if (res.statusCode === 200) {
        const length = Number(res.headers['content-length']);
        return { stream: res, size: Number.isSafeInteger(length) ? length : -1, offset: 0 };
      }
      throw await errorFromResponse(res, 'GET', { target: 'blob', name: t.name });
    });
  }

  /**
   * The size of a blob when the repository has it, else undefined (-1 when
   * the registry gave no length). Asks for `pull,push` access, as it is part
   * of pushes; token servers grant pull-only users the pull part.
   */
  async blobExists(host: string, repo: string, digest: string): Promise<number | undefined> {
    const t = this.#target(host, repo);
    checkDigest(digest);
    const op = this.#op(this.#upstream(t.host), [repositoryScope(t.repo, ['pull', 'push'])]);
    const { res } = await this.#send(op, 'HEAD', `/v2/${t.repo}/blobs/${digest}`, {
      idempotent: true,
      followRedirects: true,
    });
    if (res.statusCode === 200) {
      discard(res);
      const length = Number(res.headers['content-length']);
      return Number.isSafeInteger(length) ? length : -1;
    }
    if (res.statusCode === 404) {
      discard(res);
      return undefined;
    }
    throw await errorFromResponse(res, 'HEAD', { target: 'blob', name: t.name });
  }

  /**
   * Cross-repository mount of a blob of `fromRepo` (same registry) into
   * `repo`. False when the registry could not mount it (the upload session
   * it opened instead is cancelled): push the blob then.
   */
  async mountBlob(host: string, repo: string, fromRepo: string, digest: string): Promise<boolean> {
    const t = this.#target(host, repo);
    const from = this.#target(host, fromRepo);
    checkDigest(digest);
    const op = this.#op(this.#upstream(t.host), [
      repositoryScope(t.repo, ['pull', 'push']),
      repositoryScope(from.repo, ['pull']),
    ]);
    const path = `/v2/${t.repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from.repo)}`;
    const { res, url } = await this.#send(op, 'POST', path, { body: Buffer.alloc(0) });
    if (res.statusCode === 201) {
      discard(res);
      return true;
    }
    if (res.statusCode === 202) {
      discard(res);
      const location = headerValue(res.headers['location']);
      if (location !== undefined) await this.#cancelUpload(op, new URL(location, url));
      return false;
    }
    throw await errorFromResponse(res, 'POST', { target: 'upload', name: t.name });
  }

  /**
   * Uploads a blob: one PUT up to the chunk threshold, PATCH chunks beyond.
   * `open` is called for each attempt; `onProgress` gets the bytes sent so far.
   */
  async pushBlob(
    host: string,
    repo: string,
    digest: string,
    size: number,
    open: () => Readable,
    onProgress?: (bytes: number) => void,
  ): Promise<void> {
    const t = this.#target(host, repo);
    checkDigest(digest);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new InvalidParameterError(`invalid blob size: ${size}`);
    const op = this.#op(this.#upstream(t.host), [repositoryScope(t.repo, ['pull', 'push'])]);
    const ctx = { target: 'upload' as const, name: t.name };

    const start = await this.#send(op, 'POST', `/v2/${t.repo}/blobs/uploads/`, { body: Buffer.alloc(0) });
    if (start.res.statusCode !== 202) throw await errorFromResponse(start.res, 'POST', ctx);
    discard(start.res);
    let location = uploadLocation(start.res, start.url);

    const octet = { 'content-type': 'application/octet-stream' };
    try {
      if (size <= this.#chunkThreshold) {
        const body = (): Readable => counted(open(), size, digest, onProgress);
        const put = await this.#send(op, 'PUT', withDigest(location, digest), { headers: octet, body });
        if (put.res.statusCode !== 201 && put.res.statusCode !== 204) {
          throw await errorFromResponse(put.res, 'PUT', ctx);
        }
        discard(put.res);
        return;
      }
      let sent = 0;
      for await (const chunk of chunksOf(open(), this.#chunkSize)) {
        if (sent + chunk.length > size) throw sizeMismatch(digest, size, sent + chunk.length);
        const patch = await this.#send(op, 'PATCH', location, {
          headers: { ...octet, 'content-range': `${sent}-${sent + chunk.length - 1}` },
          body: chunk,
        });
        if (patch.res.statusCode !== 202 && patch.res.statusCode !== 204) {
          throw await errorFromResponse(patch.res, 'PATCH', ctx);
        }
        discard(patch.res);
        location = uploadLocation(patch.res, patch.url);
        sent += chunk.length;
        onProgress?.(sent);
      }
      if (sent !== size) throw sizeMismatch(digest, size, sent);
      const put = await this.#send(op, 'PUT', withDigest(location, digest), { body: Buffer.alloc(0) });
      if (put.res.statusCode !== 201 && put.res.statusCode !== 204)
        throw await errorFromResponse(put.res, 'PUT', ctx);
      discard(put.res);
    } catch (err) {
      await this.#cancelUpload(op, location);
      throw err;
    }
  }

  /** Uploads a manifest under a tag or its digest; returns its digest. */
  async putManifest(
    host: string,
    repo: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
  ): Promise<string> {
    const t = this.#target(host, repo);
    checkReference(reference);
    if (mediaType === '') throw new InvalidParameterError('manifest media type is empty');
    const digest = digestOf(bytes, 'sha256');
    if (isDigest(reference) && digestOf(bytes, algorithmOf(reference)) !== reference) {
      throw new InvalidParameterError(`manifest digest ${digest} does not match reference ${reference}`);
    }
    const op = this.#op(this.#upstream(t.host), [repositoryScope(t.repo, ['pull', 'push'])]);
    const { res } = await this.#send(op, 'PUT', `/v2/${t.repo}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) {
      throw await errorFromResponse(res, 'PUT', { target: 'manifest', name: t.name, reference });
    }
    discard(res);
    const header = headerValue(res.headers['docker-content-digest']);
    if (header !== undefined && isDigest(header) && digestOf(bytes, algorithmOf(header)) !== header) {
      throw new SystemError(`registry stored manifest as ${header}, expected ${digest}`);
    }
    return isDigest(reference) ? reference : digest;
  }

  /**
   * Checks credentials against a registry (`GET /v2/` with them), as
   * `POST /auth` does. Docker Hub aliases log into Docker Hub; mirrors are
   * never used.
   */
  async login(host: string, auth: AuthConfig): Promise<LoginResult> {
    let identityToken: string | undefined;
    const ep = this.#upstream(normalizeHost(host) || DOCKER_HUB);
    const op: Operation = {
      ep,
      scopes: [],
      auth,
      signal: this.#signal,
      offline: true,
      onRefreshToken: (token) => (identityToken = token),
    };
    const { res, url } = await this.#send(op, 'GET', '/v2/', { idempotent: true });
    discard(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      return identityToken !== undefined
        ? { status: 'Login Succeeded', identityToken }
        : { status: 'Login Succeeded' };
    }
    const message =
      `login attempt to ${redact(url)} failed with status: ${status} ${STATUS_CODES[status] ?? ''}`.trim();
    if (status === 401) throw new UnauthorizedError(message);
    if (status === 403) throw new ForbiddenError(message);
    if (status === 429 || status >= 500) throw new UnavailableError(message);
    throw new SystemError(message);
  }

  // ---- operations' parts ----

  async #fetchManifest(ep: Endpoint, t: Target, reference: string): Promise<Manifest> {
    const op = this.#op(ep, [repositoryScope(t.repo, ['pull'])]);
    const { res, url } = await this.#send(op, 'GET', `/v2/${t.repo}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
      idempotent: true,
      followRedirects: true,
    });
    if (res.statusCode !== 200) {
      throw await errorFromResponse(res, 'GET', { target: 'manifest', pull: true, name: t.name, reference });
    }
    let bytes: Buffer;
    try {
      bytes = await readAll(res, MAX_MANIFEST_BYTES, 'manifest');
    } catch (err) {
      throw bodyError(err, 'GET', url);
    }
    let digest: string;
    if (isDigest(reference)) {
      if (digestOf(bytes, algorithmOf(reference)) !== reference) {
        throw new SystemError(`manifest verification failed for digest ${reference}`);
      }
      digest = reference;
    } else {
      digest = digestOf(bytes, 'sha256');
      const header = headerValue(res.headers['docker-content-digest']);
      if (header !== undefined && isDigest(header) && digestOf(bytes, algorithmOf(header)) !== header) {
        throw new SystemError(`manifest verification failed for digest ${header}`);
      }
    }
    return {
      mediaType: manifestMediaType(headerValue(res.headers['content-type']), bytes),
      digest,
      size: bytes.length,
      bytes,
    };
  }

  async #cancelUpload(op: Operation, location: URL): Promise<void> {
    try {
      const { res } = await this.#send(op, 'DELETE', location, {});
      discard(res);
    } catch {
      // best effort: the registry purges stale uploads itself
    }
  }

  #target(host: string, repo: string): Target {
    const h = normalizeHost(host);
    if (h === '') throw new InvalidParameterError(`invalid registry host: "${host}"`);
    let r = repo.replace(/^\/+|\/+$/g, '');
    if (h === DOCKER_HUB && r !== '' && !r.includes('/')) r = `library/${r}`;
    if (r.length > 255 || !REPO_RE.test(r))
      throw new InvalidParameterError(`invalid repository name: "${repo}"`);
    const name = h === DOCKER_HUB ? r.replace(/^library\//, '') : `${h}/${r}`;
    return { host: h, repo: r, name };
  }

  #upstream(host: string): Endpoint {
    if (host === DOCKER_HUB) {
      return { name: DOCKER_HUB, authority: DOCKER_HUB_REGISTRY, prefix: '', scheme: 'https', mirror: false };
    }
    return { name: host, authority: host, prefix: '', scheme: undefined, mirror: false };
  }

  #op(ep: Endpoint, scopes: string[]): Operation {
    return { ep, scopes, auth: this.#credentials?.(ep.name), signal: this.#signal };
  }

  /** Runs a read on Docker Hub's mirrors first (if any), then on the registry itself. */
  async #withEndpoints<T>(host: string, read: boolean, fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    if (read && host === DOCKER_HUB) {
      for (const mirror of this.#mirrors) {
        if ((this.#mirrorDownUntil.get(mirror.authority) ?? 0) > Date.now()) continue;
        try {
          return await fn(mirror);
        } catch (err) {
          if (isAbortError(err)) throw err;
          if (errorKind(err) === 'unavailable')
            this.#mirrorDownUntil.set(mirror.authority, Date.now() + MIRROR_BACKOFF_MS);
        }
      }
    }
    return fn(this.#upstream(host));
  }

  // ---- HTTP with scheme selection, auth, retries and redirects ----

  async #scheme(ep: Endpoint): Promise<SchemeState> {
    let state = this.#schemes.get(ep.authority);
    if (state !== undefined) return state;
    if (ep.scheme === 'http' || (ep.scheme === undefined && isLoopbackHost(ep.authority))) {
      state = 'http';
    } else if (await this.#insecure.matches(ep.authority)) {
      state = ep.scheme === 'https' ? 'https-insecure' : 'probe';
    } else {
      state = 'https';
    }
    this.#schemes.set(ep.authority, state);
    return state;
  }

  async #send(
    op: Operation,
    method: string,
    target: string | URL,
    options: SendOptions,
  ): Promise<{ res: IncomingMessage; url: URL }> {
    const { ep } = op;
    let url: URL;
    if (typeof target === 'string') {
      const state = await this.#scheme(ep);
      url = new URL(`${state === 'http' ? 'http' : 'https'}://${ep.authority}${ep.prefix}${target}`);
    } else {
      url = target;
    }
    let m = method;
    let body = options.body;
    let attempt = 1;
    let redirects = 0;
    let authRetried = false;
    for (;;) {
      const own = url.host.toLowerCase() === ep.authority.toLowerCase();
      const state = own ? this.#schemes.get(ep.authority) : undefined;
      const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...options.headers };
      let fresh = false;
      if (own) {
        const auth = await this.#authorization(op, url, m);
        if (auth) {
          headers['authorization'] = auth.header;
          fresh = auth.fresh;
        }
      }
      let res: IncomingMessage;
      try {
        res = await this.#transport.request({
          method: m,
          url,
          headers,
          body,
          insecureTls: state === 'probe' || state === 'https-insecure',
          signal: op.signal,
        });
      } catch (err) {
        if (isAbortError(err) || !(err instanceof TransportError)) throw asBerthError(err);
        if (state === 'probe' && url.protocol === 'https:') {
          // An insecure registry that does not speak TLS: plain HTTP from now on.
          this.#schemes.set(ep.authority, 'http');
          url = new URL(url.href.replace(/^https:/, 'http:'));
          continue;
        }
        const retryable = err.code !== undefined && RETRYABLE_CODES.has(err.code);
        if (retryable && (options.idempotent || err.reusedSocket) && attempt < this.#maxAttempts) {
          await this.#backoff(attempt++, op.signal);
          continue;
        }
        throw new UnavailableError(err.message, { cause: err });
      }
      if (state === 'probe' && url.protocol === 'https:') this.#schemes.set(ep.authority, 'https-insecure');
      const status = res.statusCode ?? 0;
      if (status === 401 && own && !authRetried) {
        if (await this.#authenticate(op, url, m, res, headers['authorization'], fresh)) {
          discard(res);
          authRetried = true;
          continue;
        }
        return { res, url };
      }
      if (
        options.idempotent &&
        status >= 500 &&
        status !== 501 &&
        status !== 505 &&
        attempt < this.#maxAttempts
      ) {
        discard(res);
        await this.#backoff(attempt++, op.signal);
        continue;
      }
      const location = headerValue(res.headers['location']);
      if (options.followRedirects && isRedirect(status) && location !== undefined) {
        discard(res);
        if (++redirects > 10)
          throw new SystemError(`${goMethod(m)} "${redact(url)}": stopped after 10 redirects`);
        url = new URL(location, url);
        if (status === 303 && m !== 'HEAD') {
          m = 'GET';
          body = undefined;
        }
        continue;
      }
      return { res, url };
    }
  }

  async #backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const delay = Math.min(this.#retryDelayMs * 2 ** (attempt - 1), 5_000);
    await sleep(delay, undefined, signal ? { signal } : undefined);
  }

  /** The Authorization header for a request to the operation's host, from what earlier challenges taught. */
  async #authorization(
    op: Operation,
    url: URL,
    method: string,
  ): Promise<{ header: string; fresh: boolean } | undefined> {
    const challenge = this.#challenges.get(op.ep.authority);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = basicCredentials(op.auth);
      return creds ? { header: basicHeader(creds), fresh: false } : undefined;
    }
    if (op.auth?.registrytoken) return { header: `Bearer ${op.auth.registrytoken}`, fresh: false };
    if (op.retryToken !== undefined) {
      const token = op.retryToken;
      op.retryToken = undefined;
      return { header: `Bearer ${token}`, fresh: true };
    }
    const scopes = scopesFor(op, challenge);
    // A login always asks the token server: it checks the credentials and may issue an identity token.
    const cached = op.offline ? undefined : this.#tokens.get(this.#tokenKey(op, challenge), scopes);
    if (cached !== undefined) return { header: `Bearer ${cached}`, fresh: false };
    return { header: `Bearer ${await this.#token(op, challenge, scopes, url, method)}`, fresh: true };
  }

  /** Answers a 401: true when the request should be sent again with new credentials. */
  async #authenticate(
    op: Operation,
    url: URL,
    method: string,
    res: IncomingMessage,
    sent: string | undefined,
    fresh: boolean,
  ): Promise<boolean> {
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm']);
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.#challenges.set(op.ep.authority, bearer);
      if (op.auth?.registrytoken) return sent !== `Bearer ${op.auth.registrytoken}`;
      if (fresh) return false; // a token just issued for these scopes was refused
      const scopes = scopesFor(op, bearer);
      const key = this.#tokenKey(op, bearer);
      if (sent?.startsWith('Bearer ')) this.#tokens.invalidate(key, sent.slice('Bearer '.length));
      try {
        op.retryToken = await this.#token(op, bearer, scopes, url, method);
      } catch (err) {
        discard(res);
        throw err;
      }
      return true;
    }
    if (basic) {
      this.#challenges.set(op.ep.authority, basic);
      const creds = basicCredentials(op.auth);
      return creds !== undefined && sent !== basicHeader(creds);
    }
    return false;
  }

  #tokenKey(op: Operation, challenge: Challenge): string {
    const { realm = '', service = '' } = challenge.params;
    return `${op.ep.authority}|${realm}|${service}|${credentialKey(op.auth)}`;
  }

  /** A bearer token for the scopes: fetched once for concurrent requests, then cached. */
  async #token(
    op: Operation,
    challenge: Challenge,
    scopes: string[],
    url: URL,
    method: string,
  ): Promise<string> {
    const key = this.#tokenKey(op, challenge);
    const flight = `${key}|${scopes.join(' ')}|${op.offline ? 'offline' : ''}`;
    let pending = this.#tokenFetches.get(flight);
    if (!pending) {
      pending = this.#fetchToken(op, challenge, scopes, url, method).finally(() =>
        this.#tokenFetches.delete(flight),
      );
      this.#tokenFetches.set(flight, pending);
    }
    return pending;
  }

  async #fetchToken(
    op: Operation,
    challenge: Challenge,
    scopes: string[],
    url: URL,
    method: string,
  ): Promise<string> {
    const prefix = `${goMethod(method)} "${redact(url)}": `;
    let realm: URL;
    try {
      realm = new URL(challenge.params['realm'] ?? '');
    } catch {
      throw new SystemError(`${prefix}invalid token realm "${challenge.params['realm']}"`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new SystemError(`${prefix}unsupported token realm "${realm.href}"`);
    }
    const service = challenge.params['service'];
    const basic = basicCredentials(op.auth);
    const refresh = op.auth?.identitytoken;
    const headers: Record<string, string> = { 'user-agent': this.#userAgent };
    let tokenUrl: URL;
    let tokenMethod: string;
    let body: Buffer | undefined;
    if (refresh) {
      // OAuth2 refresh-token grant (Docker's identity tokens).
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refresh,
        client_id: OAUTH_CLIENT_ID,
      });
      if (op.offline) form.set('access_type', 'offline');
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      headers['content-type'] = 'application/x-www-form-urlencoded';
      tokenUrl = realm;
      tokenMethod = 'POST';
      body = Buffer.from(form.toString());
    } else {
      tokenUrl = new URL(realm.href);
      if (service) tokenUrl.searchParams.set('service', service);
      for (const scope of scopes) tokenUrl.searchParams.append('scope', scope);
      if (basic) {
        tokenUrl.searchParams.set('account', basic.username);
        headers['authorization'] = basicHeader(basic);
      }
      if (op.offline && basic) {
        tokenUrl.searchParams.set('offline_token', 'true');
        tokenUrl.searchParams.set('client_id', OAUTH_CLIENT_ID);
      }
      tokenMethod = 'GET';
    }
    const insecureTls = isLoopbackHost(realm.host) || (await this.#insecure.matches(realm.host));
    let res: IncomingMessage | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await this.#transport.request({
          method: tokenMethod,
          url: tokenUrl,
          headers,
          body,
          insecureTls,
          signal: op.signal,
        });
      } catch (err) {
        if (isAbortError(err) || !(err instanceof TransportError)) throw asBerthError(err);
        const retryable = err.code !== undefined && RETRYABLE_CODES.has(err.code);
        if (!retryable || attempt >= this.#maxAttempts)
          throw new UnavailableError(err.message, { cause: err });
        await this.#backoff(attempt, op.signal);
        continue;
      }
      const status = res.statusCode ?? 0;
      if (status >= 500 && attempt < this.#maxAttempts) {
        discard(res);
        await this.#backoff(attempt, op.signal);
        continue;
      }
      break;
    }
    const status = res.statusCode ?? 0;
    let raw: Buffer;
    try {
      raw = await readAll(res, 1024 * 1024, 'token response');
    } catch (err) {
      throw bodyError(err, tokenMethod, tokenUrl);
    }
    if (status !== 200) {
      const entries = parseErrorResponse(status, res.headers, raw, 'other');
      throw mapRegistryError(new RegistryResponseError(status, entries), {
        target: 'other',
        name: op.ep.name,
        prefix,
      });
    }
    let parsed: {
      token?: unknown;
      access_token?: unknown;
      expires_in?: unknown;
      issued_at?: unknown;
      refresh_token?: unknown;
    };
    try {
      parsed = JSON.parse(raw.toString('utf8')) as typeof parsed;
    } catch {
      throw new SystemError(`${prefix}unable to decode token response`);
    }
    const token =
      typeof parsed.token === 'string' && parsed.token !== ''
        ? parsed.token
        : typeof parsed.access_token === 'string'
          ? parsed.access_token
          : '';
    if (token === '')
      throw new SystemError(`${prefix}authorization server did not include a token in the response`);
    if (typeof parsed.refresh_token === 'string' && parsed.refresh_token !== '')
      op.onRefreshToken?.(parsed.refresh_token);
    const expiresIn =
      typeof parsed.expires_in === 'number' && parsed.expires_in >= 60 ? parsed.expires_in : 60;
    const issued = typeof parsed.issued_at === 'string' ? Date.parse(parsed.issued_at) : NaN;
    this.#tokens.set(
      this.#tokenKey(op, challenge),
      scopes,
      token,
      expiresIn,
      Number.isNaN(issued) ? undefined : issued,
    );
    return token;
  }
}

// ---- helpers ----

function parseMirror(mirror: string): Endpoint {
  const explicit = /^[a-z][a-z0-9+.-]*:\/\//i.test(mirror);
  let url: URL;
  try {
    url = new URL(explicit ? mirror : `https://${mirror}`);
  } catch {
    throw new InvalidParameterError(`invalid registry mirror: "${mirror}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidParameterError(`invalid registry mirror: "${mirror}": unsupported scheme`);
  }
  return {
    name: url.host,
    authority: url.host,
    prefix: url.pathname.replace(/\/+$/, ''),
    scheme: explicit ? (url.protocol === 'http:' ? 'http' : 'https') : undefined,
    mirror: true,
  };
}

function scopesFor(op: Operation, challenge: Challenge): string[] {
  if (op.scopes.length > 0) return op.scopes;
  const scope = challenge.params['scope'];
  return scope ? scope.split(' ').filter(Boolean) : [];
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function baseType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

export function isDigest(s: string): boolean {
  const m = DIGEST_RE.exec(s);
  return m !== null && m[2]?.length === DIGEST_HEX_LENGTH[m[1] ?? ''];
}

function algorithmOf(digest: string): string {
  return digest.slice(0, digest.indexOf(':'));
}

function checkDigest(digest: string): void {
  if (!isDigest(digest)) throw new InvalidParameterError(`invalid digest: "${digest}"`);
}

function checkReference(reference: string): void {
  if (!isDigest(reference) && !TAG_RE.test(reference)) {
    throw new InvalidParameterError(`invalid reference: "${reference}"`);
  }
}

/** `<algorithm>:<hex>` of bytes. */
export function digestOf(bytes: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** The media type of a fetched manifest: a known Content-Type, else what the JSON says. */
function manifestMediaType(contentType: string | undefined, bytes: Buffer): string {
  const ct = baseType(contentType);
  if (KNOWN_MANIFEST_TYPES.has(ct)) return ct;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as {
      mediaType?: unknown;
      schemaVersion?: unknown;
      manifests?: unknown;
      config?: unknown;
    };
    if (typeof doc.mediaType === 'string' && doc.mediaType !== '') return doc.mediaType;
    if (doc.schemaVersion === 1) return 'application/vnd.docker.distribution.manifest.v1+json';
    if (Array.isArray(doc.manifests)) return MANIFEST_MEDIA_TYPES.ociIndex;
    if (doc.config !== undefined) return MANIFEST_MEDIA_TYPES.ociManifest;
  } catch {
    // not JSON: keep the content type
  }
  return ct || 'application/octet-stream';
}

function parseContentRange(
  value: string | undefined,
): { start: number; total: number | undefined } | undefined {
  const m = value === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function uploadLocation(res: IncomingMessage, base: URL): URL {
  const location = headerValue(res.headers['location']);
  if (location === undefined || location === '') {
    throw new SystemError(`registry answered ${res.statusCode} to ${redact(base)} without a Location header`);
  }
  return new URL(location, base);
}

/** The upload URL with `digest=` added, its own query (`_state`, ...) kept byte for byte. */
function withDigest(location: URL, digest: string): URL {
  const url = new URL(location.href);
  const param = `digest=${encodeURIComponent(digest)}`;
  url.search = url.search.length > 1 ? `${url.search}&${param}` : `?${param}`;
  return url;
}

function sizeMismatch(digest: string, expected: number, got: number): InvalidParameterError {
  return new InvalidParameterError(`blob ${digest}: expected ${expected} bytes, the source gave ${got}`);
}

/** Passes a blob through, counting bytes for progress and checking the size. */
function counted(
  source: Readable,
  size: number,
  digest: string,
  onProgress?: (bytes: number) => void,
): Readable {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      n += chunk.length;
      if (n > size) {
        callback(sizeMismatch(digest, size, n));
        return;
      }
      onProgress?.(n);
      callback(null, chunk);
    },
    flush(callback: TransformCallback): void {
      callback(n === size ? null : sizeMismatch(digest, size, n));
    },
  });
  source.once('error', (err) => t.destroy(err));
  t.once('close', () => source.destroy());
  return source.pipe(t);
}

/** Cuts a stream into chunks of exactly `size` bytes (the last one shorter). */
async function* chunksOf(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const data of stream) {
    let buf = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
    while (length + buf.length >= size) {
      const take = size - length;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      length = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      parts.push(buf);
      length += buf.length;
    }
  }
  if (length > 0) yield Buffer.concat(parts);
}

function combineSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a && b) return AbortSignal.any([a, b]);
  return a ?? b;
}

/** Errors of reading a response body: limits stay as they are, broken connections are the registry's. */
function bodyError(err: unknown, method: string, url: URL): Error {
  if (isAbortError(err) || err instanceof BerthError) return err as Error;
  return new UnavailableError(`${goMethod(method)} "${redact(url)}": ${errorMessage(err)}`, { cause: err });
}

function asBerthError(err: unknown): Error {
  if (isAbortError(err) || err instanceof BerthError) return err as Error;
  return new SystemError(errorMessage(err), { cause: err });
}

/** Tag list pages followed at most (a registry pages by 100 or more: 100k tags). */
const MAX_TAG_PAGES = 1000;

/**
 * The path and query of the next page named by a `Link: <url>; rel="next"`
 * header (relative to the page's URL, on the same host), or undefined.
 */
export function nextPage(link: string | undefined, current: URL): string | undefined {
  if (link === undefined) return undefined;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m === null || !/(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/.test(m[2] ?? '')) continue;
    const next = new URL(m[1] ?? '', current);
    if (next.host !== current.host) return undefined;
    return next.pathname + next.search;
  }
  return undefined;
}
