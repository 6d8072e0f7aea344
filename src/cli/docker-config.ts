/**
 * The docker CLI's config file, where `docker login` keeps credentials:
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. Each registry
 * has an entry `auths[<server>] = { "auth": base64("user:password") }`,
 * keyed `https://index.docker.io/v1/` for Docker Hub and by host (as given to
 * `login`) for other registries. berth reads and writes the same file, so
 * `berth login` and `docker login` share credentials.
 *
 * Writes keep every other key of the file as it was, and replace the file
 * atomically (temp file, then rename) with mode 0600.
 *
 * Credential helpers are run as docker runs them: when `credHelpers` names
 * one for the server, else when `credsStore` is set, the credentials live in
 * `docker-credential-<name>` (`get`, `store` and `erase`, the server URL or
 * a JSON `{ServerURL, Username, Secret}` on stdin, `<token>` as the user
 * name of an identity token), and the file keeps only an empty entry.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';

import { parseNormalizedNamed, type RegistryAuth } from '../client/images.js';

/** Docker Hub's key in `auths` (docker's registry.IndexServer). */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

/** The config directory: `$DOCKER_CONFIG`, else `~/.docker`. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['DOCKER_CONFIG'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.docker');
}

/** The config file, `<dir>/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dockerConfigDir(env), 'config.json');
}

/** The `auths` key for a registry domain: Docker Hub's is {@link INDEX_SERVER}. */
export function authConfigKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? INDEX_SERVER : domain;
}

/**
 * The `auths` key whose credentials docker sends when pulling or pushing
 * `image`: `https://index.docker.io/v1/` for Docker Hub images (`alpine`,
 * `me/app`, `docker.io/x/y`), the registry host for others
 * (`localhost:5000/a` → `localhost:5000`).
 * @throws ReferenceError when `image` is not a valid reference.
 */
export function registryKeyForImage(image: string): string {
  return authConfigKey(parseNormalizedNamed(image).domain);
}

function isPort(s: string): boolean {
  return /^[0-9]+$/.test(s);
}

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * docker's credentials.ConvertToHostname: the `host[:port]` of a server
 * address that may be a URL (`https://r.example.com:5000/v2/` →
 * `r.example.com:5000`) or a bare `host/path`.
 */
export function convertToHostname(maybeURL: string): string {
  const scheme = maybeURL.indexOf('://');
  if (scheme !== -1) {
    let authority = maybeURL.slice(scheme + 3).split(/[/?#]/)[0] ?? '';
    const at = authority.lastIndexOf('@');
    if (at !== -1) authority = authority.slice(at + 1);
    if (authority.startsWith('[')) {
      const end = authority.indexOf(']');
      if (end > 1) {
        const host = authority.slice(1, end);
        const rest = authority.slice(end + 1);
        return rest.startsWith(':') && isPort(rest.slice(1)) ? joinHostPort(host, rest.slice(1)) : host;
      }
    } else if (authority !== '') {
      const colons = authority.split(':').length - 1;
      const last = authority.lastIndexOf(':');
      const host = authority.slice(0, last);
      const port = authority.slice(last + 1);
      if (colons === 0) return authority;
      if (colons === 1 && port === '') return host;
      if (host !== '' && isPort(port)) return joinHostPort(host, port);
      return authority;
    }
  }
  return maybeURL.split('/')[0] ?? '';
}

/** A credential entry as docker holds it after loading (user and password decoded). */
export interface StoredAuth {
  username: string;
  password: string;
  /** The `auths` key the entry was found under. */
  serveraddress: string;
  email?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The config file is not valid JSON (or its `auths` cannot be decoded). */
export class DockerConfigError extends Error {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
    this.name = 'DockerConfigError';
  }
}

/** A credential helper failed (or is not installed); `message` is what it said. */
export class CredentialHelperError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialHelperError';
  }
}

/** What a helper answers when it has nothing for a server (docker-credential-helpers' ErrCredentialsNotFound). */
const NOT_FOUND = 'credentials not found in native keychain';
/** The user name under which helpers keep an identity token. */
const TOKEN_USER = '<token>';

/** Runs `program action` with `input` on stdin; its stdout, or a CredentialHelperError with what it printed. */
function runHelper(program: string, action: 'get' | 'store' | 'erase', input: string): string {
  try {
    return execFileSync(program, [action], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new CredentialHelperError(`exec: "${program}": executable file not found in $PATH`, {
        cause: err,
      });
    }
    // Helpers print their error on stdout (docker-credential-helpers' protocol), some on stderr.
    const said = `${e.stdout ?? ''}`.trim() || `${e.stderr ?? ''}`.trim();
    throw new CredentialHelperError(said || (err as Error).message, { cause: err });
  }
}

interface RawAuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  email?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Decodes an `auth` value, `base64("user:password")`, as docker's decodeAuth. */
export function decodeAuth(auth: string): { username: string; password: string } {
  if (auth === '') return { username: '', password: '' };
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(auth) || auth.length % 4 !== 0) {
    throw new Error('illegal base64 data in auth configuration');
  }
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new Error('invalid auth configuration file');
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/^\0+|\0+$/g, '') };
}

/** Encodes a user and password as an `auth` value; empty when both are empty. */
export function encodeAuth(username: string, password: string): string {
  if (username === '' && password === '') return '';
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** The docker config file, loaded (see the module comment). */
export class DockerConfigFile {
  readonly path: string;
  private readonly data: Record<string, unknown>;

  private constructor(path: string, data: Record<string, unknown>) {
    this.path = path;
    this.data = data;
  }

  /**
   * Loads the file; a missing file is an empty config.
   * @throws DockerConfigError when the file is not a JSON object.
   */
  static load(path: string = dockerConfigPath()): DockerConfigFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new DockerConfigFile(path, {});
      throw new DockerConfigError(path, (err as Error).message, { cause: err });
    }
    if (text.trim() === '') return new DockerConfigFile(path, {});
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new DockerConfigError(path, (err as Error).message, { cause: err });
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new DockerConfigError(path, 'json: cannot unmarshal config file: not an object');
    }
    return new DockerConfigFile(path, data as Record<string, unknown>);
  }

  /**
   * Loads the file as docker does for commands that only read it: when it is
   * malformed, `warn` is told and an empty config is used.
   */
  static loadOrWarn(warn: (message: string) => void, path: string = dockerConfigPath()): DockerConfigFile {
    try {
      return DockerConfigFile.load(path);
    } catch (err) {
      warn(`WARNING: Error parsing config file (${path}): ${(err as Error).message}`);
      return new DockerConfigFile(path, {});
    }
  }

  private rawAuths(): Record<string, RawAuthEntry> {
    const auths = this.data['auths'];
    return typeof auths === 'object' && auths !== null && !Array.isArray(auths)
      ? (auths as Record<string, RawAuthEntry>)
      : {};
  }

  /** The servers that have an entry in `auths`. */
  servers(): string[] {
    return Object.keys(this.rawAuths());
  }

  /** `imagesFormat`: the default `--format` of `docker images`. */
  get imagesFormat(): string {
    return str(this.data['imagesFormat']);
  }

  /** `pruneFilters`: default `--filter`s of the prune commands. */
  get pruneFilters(): string[] {
    const v = this.data['pruneFilters'];
    return Array.isArray(v) ? v.filter((f): f is string => typeof f === 'string') : [];
  }

  private entry(key: string): StoredAuth | undefined {
    const raw = this.rawAuths()[key];
    if (raw === undefined || typeof raw !== 'object' || raw === null) return undefined;
    let username = str(raw.username);
    let password = str(raw.password);
    const auth = str(raw.auth);
    if (auth !== '') {
      try {
        ({ username, password } = decodeAuth(auth));
      } catch (err) {
        throw new DockerConfigError(this.path, (err as Error).message, { cause: err });
      }
    }
    const out: StoredAuth = { username, password, serveraddress: key };
    if (str(raw.email) !== '') out.email = str(raw.email);
    if (str(raw.identitytoken) !== '') out.identitytoken = str(raw.identitytoken);
    if (str(raw.registrytoken) !== '') out.registrytoken = str(raw.registrytoken);
    return out;
  }

  /**
   * The credential helper program for a server, as docker's
   * GetCredentialsStore picks it: `credHelpers[server]`, else `credsStore`;
   * undefined when the file itself keeps the credentials.
   */
  helperFor(server: string): string | undefined {
    const helpers = this.data['credHelpers'];
    const own =
      typeof helpers === 'object' && helpers !== null && !Array.isArray(helpers)
        ? str((helpers as Record<string, unknown>)[server])
        : '';
    const name = own !== '' ? own : str(this.data['credsStore']);
    return name === '' ? undefined : `docker-credential-${name}`;
  }

  /**
   * The credentials for a server: from its credential helper when one is
   * configured ({@link helperFor}), else as docker's file store finds them:
   * the entry with exactly that key, else one whose key has that host
   * (`localhost:5000` finds `https://localhost:5000/v2/`).
   * @throws CredentialHelperError when the helper fails.
   */
  getAuth(server: string): StoredAuth | undefined {
    const helper = this.helperFor(server);
    if (helper !== undefined) return this.helperAuth(helper, server);
    const exact = this.entry(server);
    if (exact) return exact;
    for (const key of Object.keys(this.rawAuths())) {
      if (convertToHostname(key) === server) return this.entry(key);
    }
    return undefined;
  }

  /** The credentials docker sends to pull or push `image` (see {@link registryKeyForImage}). */
  authForImage(image: string): StoredAuth | undefined {
    return this.getAuth(registryKeyForImage(image));
  }

  private helperAuth(helper: string, server: string): StoredAuth | undefined {
    let out: string;
    try {
      out = runHelper(helper, 'get', server);
    } catch (err) {
      if (err instanceof CredentialHelperError && err.message === NOT_FOUND) return undefined;
      throw err;
    }
    let creds: { Username?: unknown; Secret?: unknown };
    try {
      creds = JSON.parse(out) as { Username?: unknown; Secret?: unknown };
    } catch (err) {
      throw new CredentialHelperError(`${helper} get: not JSON: ${out.slice(0, 200)}`, { cause: err });
    }
    const username = str(creds.Username);
    const secret = str(creds.Secret);
    const auth: StoredAuth =
      username === TOKEN_USER
        ? { username: '', password: '', serveraddress: server, identitytoken: secret }
        : { username, password: secret, serveraddress: server };
    const email = str(this.rawAuths()[server]?.email);
    if (email !== '') auth.email = email;
    return auth;
  }

  /**
   * Stores credentials under `auth.serveraddress`, as docker does: in its
   * credential helper when one is configured, the file then keeping an
   * entry without them; else in the file, `{"auth": base64(user:password)}`
   * plus any email or tokens. Returns false when the file entry was already
   * identical (the file is then untouched).
   * @throws CredentialHelperError when the helper fails.
   */
  storeAuth(auth: StoredAuth): boolean {
    const entry: Record<string, string> = {};
    const helper = this.helperFor(auth.serveraddress);
    if (helper !== undefined) {
      const token = auth.identitytoken !== undefined && auth.identitytoken !== '';
      runHelper(
        helper,
        'store',
        JSON.stringify({
          ServerURL: auth.serveraddress,
          Username: token ? TOKEN_USER : auth.username,
          Secret: token ? auth.identitytoken : auth.password,
        }),
      );
    } else {
      const encoded = encodeAuth(auth.username, auth.password);
      if (encoded !== '') entry['auth'] = encoded;
      if (auth.identitytoken) entry['identitytoken'] = auth.identitytoken;
      if (auth.registrytoken) entry['registrytoken'] = auth.registrytoken;
    }
    if (auth.email) entry['email'] = auth.email;
    const auths = this.rawAuths();
    const old = auths[auth.serveraddress];
    if (old !== undefined && JSON.stringify(old) === JSON.stringify(entry)) return false;
    this.data['auths'] = { ...auths, [auth.serveraddress]: entry };
    return true;
  }

  /**
   * Removes a server's credentials: from its helper when one is configured
   * (nothing there is no error), and its file entry. False when the file
   * had no entry.
   * @throws CredentialHelperError when the helper fails.
   */
  eraseAuth(server: string): boolean {
    const helper = this.helperFor(server);
    if (helper !== undefined) {
      try {
        runHelper(helper, 'erase', server);
      } catch (err) {
        if (!(err instanceof CredentialHelperError && err.message === NOT_FOUND)) throw err;
      }
    }
    const auths = this.rawAuths();
    if (!Object.prototype.hasOwnProperty.call(auths, server)) return false;
    const rest = { ...auths };
    delete rest[server];
    this.data['auths'] = rest;
    return true;
  }

  /**
   * The file's content as docker writes it: tab-indented JSON with `auths`
   * first (always present, servers sorted), then the other keys as they were.
   */
  serialize(): string {
    const auths = this.rawAuths();
    const sorted: Record<string, RawAuthEntry> = {};
    for (const key of Object.keys(auths).sort()) sorted[key] = auths[key];
    const rest = { ...this.data };
    delete rest['auths'];
    return JSON.stringify({ auths: sorted, ...rest }, null, '\t');
  }

  /**
   * Writes the file atomically with mode 0600: a temp file beside it, then a
   * rename over it (over the target when the file is a symlink).
   */
  save(): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    let target = this.path;
    try {
      target = realpathSync(this.path);
    } catch {
      // not there yet
    }
    const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, this.serialize());
      fsyncSync(fd);
      closeSync(fd);
      renameSync(temp, target);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      rmSync(temp, { force: true });
      throw err;
    }
  }
}

/** The `X-Registry-Auth` config for stored credentials (`{}` when there are none). */
export function registryAuthOf(stored: StoredAuth | undefined): RegistryAuth {
  if (!stored) return {};
  const auth: RegistryAuth = {
    username: stored.username,
    password: stored.password,
    serveraddress: stored.serveraddress,
  };
  if (stored.identitytoken) auth.identitytoken = stored.identitytoken;
  if (stored.registrytoken) auth.registrytoken = stored.registrytoken;
  return auth;
}
