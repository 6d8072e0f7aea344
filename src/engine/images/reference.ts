/**
 * Docker image references: parsing, normalization and the familiar/full
 * string forms, following the rules of github.com/distribution/reference
 * (v0.6, as vendored by moby) and digest validation as
 * github.com/opencontainers/go-digest does it.
 *
 * Grammar (distribution/reference):
 *
 *   reference      := name [ ":" tag ] [ "@" digest ]
 *   name           := [domain "/"] path
 *   domain         := host [":" port]          host: DNS-ish name, IPv4, or [IPv6]
 *   path           := component ["/" component]*
 *   component      := [a-z0-9]+ (separator [a-z0-9]+)*    separator: "." | "_" | "__" | "-"+
 *   tag            := [\w][\w.-]{0,127}
 *   digest         := algorithm ":" hex{32,}
 *
 * Normalization ("familiar" → canonical): `busybox` → `docker.io/library/busybox`,
 * `index.docker.io/x` → `docker.io/library/x`. The first path element is a
 * domain when it contains "." or ":", is `localhost`, or has uppercase
 * letters (a namespace never has them); otherwise the name lives on Docker Hub.
 */
import { InvalidParameterError } from '../../errors.js';

/** A parsed, normalized image reference. `domain` is `docker.io` for Docker Hub names. */
export interface ImageReference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** The longest repository path (without domain) a reference may have. */
export const REPOSITORY_NAME_MAX_LENGTH = 255;

const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const LOCALHOST = 'localhost';

// ---- the grammar, as regular expression sources -------------------------------------------

/** One path component: lowercase alphanumerics joined by ".", "_", "__" or runs of "-". */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
/** A DNS label: alphanumerics, with inner dashes. Uppercase is allowed in domains. */
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
/** Bracketed IPv6 address (no zone identifiers, no IPv4-mapped form). */
const IPV6_HOST = '\\[[a-fA-F0-9:]+\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|${IPV6_HOST})(?::[0-9]+)?`;
const TAG = '\\w[\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

/** Whole reference; groups: 1 name, 2 tag, 3 digest. */
const REFERENCE_RE = new RegExp(`^((?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
/** A name alone; groups: 1 domain (may be absent), 2 path. */
const NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const TAG_RE = new RegExp(`^${TAG}$`);
/** A bare 64-hex image ID, which may not be used as a repository name. */
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
/** An image ID or ID prefix, with or without the sha256: algorithm. */
const ID_PREFIX_RE = /^(?:sha256:)?[a-f0-9]{1,64}$/;

// ---- digests (go-digest) -------------------------------------------------------------------

/** Hex length of each digest algorithm go-digest can verify. */
const DIGEST_HEX_LENGTH: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);
/** go-digest's general shape of a digest, used to tell "unsupported" from "malformed". */
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const LOWER_HEX_RE = /^[a-f0-9]+$/;

const ERR_DIGEST_FORMAT = 'invalid checksum digest format';
const ERR_DIGEST_LENGTH = 'invalid checksum digest length';
const ERR_DIGEST_UNSUPPORTED = 'unsupported digest algorithm';

/** go-digest's Validate: the error message for an invalid digest, or undefined when it is valid. */
function digestProblem(text: string): string | undefined {
  const sep = text.indexOf(':');
  if (sep <= 0 || sep + 1 === text.length) return ERR_DIGEST_FORMAT;
  const algorithm = text.slice(0, sep);
  const encoded = text.slice(sep + 1);
  const length = DIGEST_HEX_LENGTH.get(algorithm);
  if (length === undefined) return ANY_DIGEST_RE.test(text) ? ERR_DIGEST_UNSUPPORTED : ERR_DIGEST_FORMAT;
  if (encoded.length !== length) return ERR_DIGEST_LENGTH;
  if (!LOWER_HEX_RE.test(encoded)) return ERR_DIGEST_FORMAT;
  return undefined;
}

/** True for a valid content digest: `sha256:` + 64, `sha384:` + 96 or `sha512:` + 128 lowercase hex digits. */
export function isDigest(text: string): boolean {
  return digestProblem(text) === undefined;
}

/**
 * Validates a content digest and returns it. Errors carry go-digest's messages:
 * `invalid checksum digest format`, `invalid checksum digest length`,
 * `unsupported digest algorithm`.
 */
export function parseDigest(text: string): string {
  const problem = digestProblem(text);
  if (problem !== undefined) throw new InvalidParameterError(problem);
  return text;
}

/**
 * Whether `text` could name an image by ID: a full `sha256:<64 hex>` ID, or a
 * (possibly `sha256:`-prefixed) lowercase hex prefix of one, at least one
 * digit long, as moby's lookup by ID prefix accepts. A name such as `abc` is
 * both a valid repository name and an ID prefix; callers try the name first.
 */
export function isImageIdLike(text: string): boolean {
  return ID_PREFIX_RE.test(text);
}

// ---- parsing -------------------------------------------------------------------------------

/** True when `tag` is a valid tag (`[\w][\w.-]{0,127}`). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/**
 * distribution/reference's Parse on an already-normalized string: grammar
 * check, domain/path split, length limit, digest validation.
 */
function parseCanonical(text: string): ImageReference {
  const match = REFERENCE_RE.exec(text);
  if (match === null) {
    if (text === '') throw new InvalidParameterError('repository name must have at least one component');
    if (REFERENCE_RE.test(text.toLowerCase()))
      throw new InvalidParameterError('repository name must be lowercase');
    throw new InvalidParameterError('invalid reference format');
  }
  const name = match[1] ?? '';
  const tag = match[2];
  const digest = match[3];

  const split = NAME_RE.exec(name);
  const domain = split?.[1] ?? '';
  const path = split?.[2] ?? name;
  if (path.length > REPOSITORY_NAME_MAX_LENGTH) {
    throw new InvalidParameterError(
      `repository name must not be more than ${REPOSITORY_NAME_MAX_LENGTH} characters`,
    );
  }

  const ref: ImageReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = parseDigest(digest);
  return ref;
}

/** Splits a familiar name into a domain and the rest, defaulting to Docker Hub (`library/` for single names). */
function splitDockerDomain(name: string): [domain: string, remainder: string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];

  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === LOCALHOST) {
    [domain, remainder] = [first, rest];
  } else if (first === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, rest];
  } else if (first.includes('.') || first.includes(':')) {
    [domain, remainder] = [first, rest];
  } else if (first.toLowerCase() !== first) {
    // Namespaces are lowercase, so an uppercase first element can only be a host name.
    [domain, remainder] = [first, rest];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/**
 * Parses an image reference as the docker CLI and daemon do
 * (`ParseNormalizedNamed`): `busybox`, `busybox:1.36`, `ghcr.io/a/b@sha256:…`,
 * `localhost:5000/a/b:1`. The result is normalized (`docker.io/library/busybox`)
 * and gets no default tag (see {@link withDefaultTag}). A reference may carry
 * both a tag and a digest.
 *
 * Throws InvalidParameterError with Docker's messages, e.g. `invalid reference format`,
 * `invalid reference format: repository name (library/Busybox) must be lowercase`.
 */
export function parseReference(text: string): ImageReference {
  if (IDENTIFIER_RE.test(text)) {
    throw new InvalidParameterError(
      `invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const [domain, remainder] = splitDockerDomain(text);
  const colon = remainder.indexOf(':');
  const remote = colon < 0 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) {
    throw new InvalidParameterError(
      `invalid reference format: repository name (${remote}) must be lowercase`,
    );
  }
  return parseCanonical(`${domain}/${remainder}`);
}

/** The reference with tag `latest` when it has neither tag nor digest (`TagNameOnly`). */
export function withDefaultTag(ref: ImageReference): ImageReference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return { ...ref, tag: DEFAULT_TAG };
}

/** The reference with its tag replaced by `tag` (a digest, if any, is kept). Bad tags: `invalid tag format`. */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  if (!TAG_RE.test(tag)) throw new InvalidParameterError('invalid tag format');
  return { ...ref, tag };
}

/** The bare name of the reference pinned to `digest`, without any tag. */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  return { domain: ref.domain, path: ref.path, digest: parseDigest(digest) };
}

/**
 * The reference named by an API call that passes the repository and tag
 * separately (`POST /images/create?fromImage=…&tag=…`). As moby does: one
 * trailing ":" on the name is ignored (old `pull -a` clients send it); a `tag`
 * that is a valid digest pins the bare name to that digest; any other `tag`
 * must be a valid tag and replaces one given in the name. No default tag.
 */
export function parseRepositoryAndTag(repository: string, tag?: string): ImageReference {
  const name = repository.endsWith(':') ? repository.slice(0, -1) : repository;
  const ref = parseReference(name);
  if (tag === undefined || tag === '') return ref;
  if (isDigest(tag)) return withDigest(ref, tag);
  return withTag(ref, tag);
}

// ---- formatting ----------------------------------------------------------------------------

/** `docker.io/library/busybox`, `localhost:5000/a/b`. */
export function fullName(ref: ImageReference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** The full name with `:tag` and/or `@digest`: `docker.io/library/busybox:latest`. */
export function referenceString(ref: ImageReference): string {
  return fullName(ref) + suffix(ref);
}

/**
 * The name as Docker shows it: Docker Hub's domain dropped, and the `library/`
 * namespace of official images too (`busybox`, `user/app`, `localhost:5000/a/b`).
 */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return fullName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** The familiar name with `:tag` and/or `@digest`: `busybox:latest`, `busybox@sha256:…`. */
export function familiarString(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref);
}

function suffix(ref: ImageReference): string {
  let out = '';
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}
