/**
 * The image endpoints of the Docker Engine API over a {@link BerthClient},
 * shaped as the docker client (moby/client image_*.go) calls them: the same
 * query parameters, the same `X-Registry-Auth` header, the same client-side
 * reference checks. Also the image-reference grammar those checks use
 * (distribution/reference: ParseNormalizedNamed, FamiliarName…).
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

import type {
  AuthConfig,
  HistoryResponseItem,
  ImageDeleteResponseItem,
  ImageInspect,
  ImagePruneResponse,
  ImageSummary,
  SystemAuthResponse,
} from '../api/types/index.js';
import type { FilterArgs } from '../util/filters.js';
import {
  DaemonUnreachableError,
  apiErrorFrom,
  isUnreachable,
  parseEndpoint,
  readBody,
  type BerthClient,
} from './client.js';

// ---------------------------------------------------------------------------
// References (distribution/reference)

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const DIGEST_RE = new RegExp(`^${DIGEST}$`);

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** A parsed, normalized image reference: `docker.io/library/alpine:3.20@sha256:…`. */
export interface ImageReference {
  /** `docker.io`, `localhost:5000`, `ghcr.io`… */
  domain: string;
  /** The repository path within the domain, `library/alpine`. */
  path: string;
  tag?: string;
  digest?: string;
}

/** An invalid reference; the messages are distribution/reference's. */
export class ReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReferenceError';
  }
}

/** go-digest's Parse: `algorithm:hex` with a known algorithm and the right length. */
function validateDigest(digest: string): void {
  const colon = digest.indexOf(':');
  if (colon <= 0 || colon + 1 === digest.length) throw new ReferenceError('invalid checksum digest format');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) throw new ReferenceError('unsupported digest algorithm');
  if (encoded.length !== length) throw new ReferenceError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(encoded)) throw new ReferenceError('invalid checksum digest format');
}

/** reference.Parse: a reference as written, not normalized. */
function parseReference(s: string): ImageReference {
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    if (s === '') throw new ReferenceError('repository name must have at least one component');
    if (REFERENCE_RE.test(s.toLowerCase())) throw new ReferenceError('repository name must be lowercase');
    throw new ReferenceError('invalid reference format');
  }
  const name = m[1] ?? '';
  const nameMatch = ANCHORED_NAME_RE.exec(name);
  const ref: ImageReference = nameMatch
    ? { domain: nameMatch[1] ?? '', path: nameMatch[2] ?? '' }
    : { domain: '', path: name };
  if (ref.path.length > NAME_TOTAL_LENGTH_MAX) {
    throw new ReferenceError(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  if (m[2] !== undefined && m[2] !== '') ref.tag = m[2];
  if (m[3] !== undefined && m[3] !== '') {
    validateDigest(m[3]);
    ref.digest = m[3];
  }
  return ref;
}

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const maybeDomain = name.slice(0, slash);
  const maybeRemainder = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost') [domain, remainder] = [maybeDomain, maybeRemainder];
  else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) [domain, remainder] = [DEFAULT_DOMAIN, maybeRemainder];
  else if (/[.:]/.test(maybeDomain)) [domain, remainder] = [maybeDomain, maybeRemainder];
  else if (maybeDomain.toLowerCase() !== maybeDomain) [domain, remainder] = [maybeDomain, maybeRemainder];
  else [domain, remainder] = [DEFAULT_DOMAIN, name];
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * reference.ParseNormalizedNamed: `alpine` is `docker.io/library/alpine`,
 * `me/app:1` is `docker.io/me/app:1`, `localhost:5000/a` keeps its domain.
 * @throws ReferenceError with distribution/reference's message.
 */
export function parseNormalizedNamed(s: string): ImageReference {
  if (IDENTIFIER_RE.test(s)) {
    throw new ReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new ReferenceError(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseReference(`${domain}/${remainder}`);
}

/**
 * reference.ParseAnyReference: a full image ID (with or without `sha256:`)
 * is a digest reference, anything else a normalized name.
 */
export function parseAnyReference(s: string): ImageReference | { digest: string } {
  if (IDENTIFIER_RE.test(s)) return { digest: `sha256:${s}` };
  if (DIGEST_RE.test(s)) {
    try {
      validateDigest(s);
      return { digest: s };
    } catch {
      // not a digest after all: parse as a name
    }
  }
  return parseNormalizedNamed(s);
}

/** The repository name, `docker.io/library/alpine`. */
export function referenceName(ref: ImageReference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** The full reference, `docker.io/library/alpine:latest`. */
export function referenceString(ref: ImageReference): string {
  return (
    referenceName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '')
  );
}

function familiarize(ref: ImageReference): ImageReference {
  if (ref.domain !== DEFAULT_DOMAIN) return ref;
  let path = ref.path;
  if (path.startsWith(OFFICIAL_REPO_PREFIX) && !path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    path = path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return { ...ref, domain: '', path };
}

/** reference.FamiliarName: `alpine`, `me/app`, `localhost:5000/a`. */
export function familiarName(ref: ImageReference): string {
  return referenceName(familiarize(ref));
}

/** reference.FamiliarString: `alpine:latest`, `me/app@sha256:…`. */
export function familiarString(ref: ImageReference): string {
  return referenceString(familiarize(ref));
}

/** reference.IsNameOnly: neither tag nor digest. */
export function isNameOnly(ref: ImageReference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}

/** reference.TagNameOnly: adds `:latest` to a bare name. */
export function tagNameOnly(ref: ImageReference): ImageReference {
  return isNameOnly(ref) ? { ...ref, tag: DEFAULT_TAG } : ref;
}

// ---------------------------------------------------------------------------
// Requests

/**
 * The path of an image endpoint with the image name escaped as Go's
 * url.URL escapes a path: each `/`-separated segment percent-encoded except
 * for the characters a path may hold (`:`, `@`, `+`, `=`…), so
 * `localhost:5000/a/b:1` stays readable and the daemon matches the rest.
 */
export function imagePath(name: string, suffix = ''): string {
  return `/images/${name.split('/').map(escapePathSegment).join('/')}${suffix}`;
}

function escapePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(24|26|2B|2C|3A|3B|3D|40)/g, (escaped) =>
    decodeURIComponent(escaped),
  );
}

type QueryValue = string | number | boolean | undefined | readonly string[];

/** A query string with repeated keys for arrays (`names=a&names=b`), `?`-prefixed when not empty. */
export function queryString(query: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value as readonly string[]) params.append(key, v);
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return qs === '' ? '' : `?${qs}`;
}

function filtersParam(filters: FilterArgs | undefined): string | undefined {
  return filters && filters.size > 0 ? JSON.stringify(filters) : undefined;
}

/**
 * The `X-Registry-Auth` value: base64url (with padding) of the JSON of an
 * auth config, as moby's authconfig.Encode. An empty config is `e30=`.
 */
export function encodeRegistryAuth(auth: RegistryAuth): string {
  const ordered: Record<string, string> = {};
  for (const key of [
    'username',
    'password',
    'auth',
    'email',
    'serveraddress',
    'identitytoken',
    'registrytoken',
  ] as const) {
    const value = auth[key];
    if (value !== undefined && value !== '') ordered[key] = value;
  }
  const json = JSON.stringify(ordered).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return Buffer.from(json).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Docker's registry.AuthConfig as the header and `POST /auth` carry it. */
export interface RegistryAuth extends AuthConfig {
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface RawRequestOptions {
  headers?: OutgoingHttpHeaders;
  /** The request body, streamed as is (chunked when its length is unknown). */
  body?: Readable | Buffer;
  signal?: AbortSignal;
}

/**
 * A request with a raw (non-JSON) body, which BerthClient does not send: it
 * reaches the same daemon (`client.host`) with the negotiated API version.
 * Error statuses throw ApiError with the daemon's message.
 */
export async function requestRaw(
  client: BerthClient,
  method: string,
  pathAndQuery: string,
  options: RawRequestOptions = {},
): Promise<IncomingMessage> {
  const version = await client.apiVersion();
  const endpoint = parseEndpoint(client.host);
  const headers: OutgoingHttpHeaders = { 'User-Agent': 'berth-cli', ...options.headers };
  if (Buffer.isBuffer(options.body)) headers['Content-Length'] = options.body.length;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest({
      ...endpoint,
      method,
      path: `/v${version}${pathAndQuery}`,
      headers,
      signal: options.signal,
    });
    let answered = false;
    req.once('response', (response) => {
      answered = true;
      resolve(response);
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (answered) return;
      if (isUnreachable(err)) {
        reject(new DaemonUnreachableError(client.host, { cause: err }));
      } else reject(err);
    });
    const body = options.body;
    if (body === undefined || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      body.once('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
  const status = res.statusCode ?? 500;
  if (status >= 400) throw apiErrorFrom(status, await readBody(res));
  return res;
}

// ---------------------------------------------------------------------------
// Endpoints

export interface ImageListOptions {
  all?: boolean;
  digests?: boolean;
  sharedSize?: boolean;
  filters?: FilterArgs;
}

/** `GET /images/json`. */
export function listImages(client: BerthClient, options: ImageListOptions = {}): Promise<ImageSummary[]> {
  return client.json<ImageSummary[]>(
    'GET',
    '/images/json' +
      queryString({
        all: options.all ? '1' : undefined,
        digests: options.digests ? '1' : undefined,
        'shared-size': options.sharedSize ? '1' : undefined,
        filters: filtersParam(options.filters),
      }),
  );
}

/** `GET /images/{name}/json`, parsed and as the daemon's raw JSON text (docker prints the latter). */
export async function inspectImageRaw(
  client: BerthClient,
  name: string,
): Promise<{ image: ImageInspect; raw: string }> {
  const res = await client.stream('GET', imagePath(name, '/json'));
  const raw = await readBody(res);
  return { image: JSON.parse(raw) as ImageInspect, raw };
}

/** `GET /images/{name}/json`. */
export async function inspectImage(client: BerthClient, name: string): Promise<ImageInspect> {
  return (await inspectImageRaw(client, name)).image;
}

/** `GET /images/{name}/history`. */
export function imageHistory(client: BerthClient, name: string): Promise<HistoryResponseItem[]> {
  return client.json<HistoryResponseItem[]>('GET', imagePath(name, '/history'));
}

/**
 * `POST /images/{source}/tag?repo=&tag=`, after docker's client-side checks:
 * the source must be a reference or an ID, the target a name without digest;
 * `repo` is the target's normalized name and `tag` defaults to `latest`.
 */
export async function tagImage(client: BerthClient, source: string, target: string): Promise<void> {
  try {
    parseAnyReference(source);
  } catch (err) {
    throw new ReferenceError(
      `Error parsing reference: "${source}" is not a valid repository/tag: ${(err as Error).message}`,
    );
  }
  let ref: ImageReference;
  try {
    ref = parseNormalizedNamed(target);
  } catch (err) {
    throw new ReferenceError(
      `Error parsing reference: "${target}" is not a valid repository/tag: ${(err as Error).message}`,
    );
  }
  if (ref.digest !== undefined) throw new ReferenceError('refusing to create a tag with a digest reference');
  ref = tagNameOnly(ref);
  const res = await client.stream(
    'POST',
    imagePath(source, '/tag') + queryString({ repo: referenceName(ref), tag: ref.tag }),
  );
  res.resume();
}

export interface ImageRemoveOptions {
  force?: boolean;
  /** Keep untagged parents (`noprune=1`). */
  noPrune?: boolean;
}

/** `DELETE /images/{name}?force=1&noprune=1`. */
export async function removeImage(
  client: BerthClient,
  name: string,
  options: ImageRemoveOptions = {},
): Promise<ImageDeleteResponseItem[]> {
  const items = await client.json<ImageDeleteResponseItem[] | null>(
    'DELETE',
    imagePath(name) +
      queryString({ force: options.force ? '1' : undefined, noprune: options.noPrune ? '1' : undefined }),
  );
  return items ?? [];
}

/** `POST /images/prune?filters=`. */
export async function pruneImages(client: BerthClient, filters?: FilterArgs): Promise<ImagePruneResponse> {
  return (
    (await client.json<ImagePruneResponse | null>(
      'POST',
      '/images/prune' + queryString({ filters: filtersParam(filters) }),
    )) ?? {}
  );
}

export interface ImagePullOptions {
  /** `os[/arch[/variant]]`. */
  platform?: string;
  /** Pull every tag of the repository (no `tag` parameter). */
  allTags?: boolean;
  /** The encoded `X-Registry-Auth` value (see {@link encodeRegistryAuth}). */
  registryAuth?: string;
  signal?: AbortSignal;
}

/**
 * `POST /images/create?fromImage=&tag=&platform=`: starts a pull and returns
 * the JSON-message stream. `fromImage` is the normalized name; `tag` the tag
 * (default `latest`) or the digest.
 */
export async function pullImage(
  client: BerthClient,
  image: string,
  options: ImagePullOptions = {},
): Promise<IncomingMessage> {
  const ref = parseNormalizedNamed(image);
  let tag: string | undefined;
  if (!options.allTags) tag = ref.digest ?? tagNameOnly(ref).tag;
  return client.stream(
    'POST',
    '/images/create' +
      queryString({ fromImage: referenceName(ref), tag, platform: options.platform || undefined }),
    {
      headers: options.registryAuth ? { 'X-Registry-Auth': options.registryAuth } : {},
      signal: options.signal,
    },
  );
}

export interface ImagePushOptions {
  /** Push every tag of the repository (no `tag` parameter). */
  allTags?: boolean;
  registryAuth?: string;
  signal?: AbortSignal;
}

/** `POST /images/{name}/push?tag=`: returns the JSON-message stream. */
export async function pushImage(
  client: BerthClient,
  image: string,
  options: ImagePushOptions = {},
): Promise<IncomingMessage> {
  let ref = parseNormalizedNamed(image);
  if (ref.digest !== undefined) throw new ReferenceError('cannot push a digest reference');
  let tag: string | undefined;
  if (!options.allTags) {
    ref = tagNameOnly(ref);
    tag = ref.tag;
  }
  return client.stream('POST', imagePath(referenceName(ref), '/push') + queryString({ tag }), {
    headers: options.registryAuth ? { 'X-Registry-Auth': options.registryAuth } : {},
    signal: options.signal,
  });
}

export interface ImageImportOptions {
  /** A file or stdin as the tarball, or a URL (`fromSrc`) for the daemon to fetch. */
  source: { body: Readable | Buffer } | { url: string };
  /** `REPOSITORY[:TAG]` for the new image. */
  repository?: string;
  tag?: string;
  message?: string;
  /** Dockerfile instructions (`CMD ["sh"]`, `ENV A=b`…). */
  changes?: readonly string[];
  platform?: string;
  signal?: AbortSignal;
}

/** `POST /images/create?fromSrc=-&repo=&tag=&message=&changes=` with the tarball as the body. */
export async function importImage(
  client: BerthClient,
  options: ImageImportOptions,
): Promise<IncomingMessage> {
  if (options.repository) parseNormalizedNamed(options.repository);
  const source = options.source;
  const query = queryString({
    fromSrc: 'url' in source ? source.url : '-',
    repo: options.repository || undefined,
    tag: options.tag || undefined,
    message: options.message || undefined,
    platform: options.platform || undefined,
    changes: options.changes && options.changes.length > 0 ? options.changes : undefined,
  });
  return requestRaw(client, 'POST', '/images/create' + query, {
    body: 'body' in source ? source.body : undefined,
    headers: 'body' in source ? { 'Content-Type': 'text/plain' } : {},
    signal: options.signal,
  });
}

/** `GET /images/get?names=a&names=b`: the tar stream of `docker save`. */
export function saveImages(
  client: BerthClient,
  names: readonly string[],
  options: { signal?: AbortSignal } = {},
): Promise<IncomingMessage> {
  return client.stream('GET', '/images/get' + queryString({ names }), { signal: options.signal });
}

/** `POST /images/load?quiet=` with a tarball body: returns the JSON-message stream. */
export function loadImages(
  client: BerthClient,
  tarball: Readable | Buffer,
  options: { quiet?: boolean; signal?: AbortSignal } = {},
): Promise<IncomingMessage> {
  return requestRaw(client, 'POST', '/images/load' + queryString({ quiet: options.quiet ? '1' : '0' }), {
    body: tarball,
    headers: { 'Content-Type': 'application/x-tar' },
    signal: options.signal,
  });
}

/** `POST /auth`: checks credentials against a registry (`Login Succeeded`, maybe an identity token). */
export async function registryLogin(client: BerthClient, auth: RegistryAuth): Promise<SystemAuthResponse> {
  return client.json<SystemAuthResponse>('POST', '/auth', { body: auth });
}
