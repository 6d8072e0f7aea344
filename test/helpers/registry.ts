/**
 * Test registries: the reference distribution registry (Debian's
 * `docker-registry`) on a loopback port with its storage in a temporary
 * directory, and a token-auth proxy that makes any registry speak Docker
 * Hub's bearer-token protocol.
 *
 * Every registry started must be stopped (`stop()` kills it by its PID and
 * removes its directory); tests do that in `after`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  request,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { hashSync } from 'bcryptjs';

import { waitFor } from './poll.js';

export const REGISTRY_BINARY = process.env['BERTH_TEST_REGISTRY'] ?? '/usr/bin/docker-registry';

export interface Credentials {
  username: string;
  password: string;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  /** The temporary directory holding config, htpasswd and storage. */
  dir: string;
  pid: number;
  /** What the registry wrote to stdout/stderr (the tail). */
  logs(): string;
  /** Kills the registry by its PID and removes its directory. */
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** An htpasswd line as the registry's htpasswd auth reads it (bcrypt, `$2y$`). */
export function htpasswdLine(username: string, password: string): string {
  const hash = hashSync(password, 5).replace(/^\$2[ab]\$/, '$2y$');
  return `${username}:${hash}\n`;
}

function registryConfig(dir: string, port: number, auth: boolean): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  if (auth) {
    lines.push('auth:', '  htpasswd:', '    realm: basic-realm', `    path: ${join(dir, 'htpasswd')}`);
  }
  return lines.join('\n') + '\n';
}

/** GET /v2/ status, or 0 when nothing answers. */
function probe(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Starts `docker-registry serve` on a free loopback port; waits until `GET /v2/` answers. */
export async function startRegistry(options: { auth?: Credentials } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
  let lastError: unknown;
  try {
    if (options.auth) {
      await writeFile(join(dir, 'htpasswd'), htpasswdLine(options.auth.username, options.auth.password));
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const config = join(dir, 'config.yml');
      await writeFile(config, registryConfig(dir, port, options.auth !== undefined));
      try {
        return await launch(dir, port, config);
      } catch (err) {
        lastError = err; // most likely the port was taken meanwhile: try another
      }
    }
  } catch (err) {
    lastError = err;
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function launch(dir: string, port: number, config: string): Promise<TestRegistry> {
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir },
  });
  let output = '';
  const collect = (d: Buffer): void => {
    output = (output + d.toString()).slice(-64 * 1024);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      output += `\nspawn error: ${err.message}`;
      exited = true;
      resolve();
    });
  });
  const pid = child.pid ?? -1;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited && pid > 0) {
      process.kill(pid, 'SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(5000).then(() => false)]);
      if (!killed && !exited) {
        process.kill(pid, 'SIGKILL');
        await exit;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => exited || (await probe(port)) !== 0, {
      timeoutMs: 15_000,
      what: `registry on 127.0.0.1:${port}`,
    });
    if (exited) throw new Error(`docker-registry exited during startup:\n${output}`);
  } catch (err) {
    if (!exited && pid > 0) {
      process.kill(pid, 'SIGKILL');
      await exit;
    }
    throw err;
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    pid,
    logs: () => output,
    stop,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// ---- token auth proxy ----

/** One request to the proxy's token endpoint. */
export interface TokenRequest {
  method: string;
  service: string | undefined;
  /** Requested scopes, in order. */
  scopes: string[];
  account: string | undefined;
  /** Basic credentials (or a refresh token) were presented and accepted. */
  authenticated: boolean;
  offline: boolean;
  grantType: string | undefined;
}

/** One request the proxy handled on /v2/. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** The status the proxy answered with (401 when it refused). */
  status: number;
}

export interface TokenAuthProxy {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  service: string;
  tokenRequests: TokenRequest[];
  requests: ProxiedRequest[];
  /** The refresh tokens issued (offline logins). */
  refreshTokens: Set<string>;
  stop(): Promise<void>;
}

interface IssuedToken {
  access: Set<string>;
  expires: number;
}

const SERVICE = 'test-registry';

/**
 * Fronts a plain registry (`upstream` = `host:port`) with bearer-token auth
 * the way Docker Hub does: `/v2/*` needs `Authorization: Bearer <token>` with
 * the repository access the request implies; `/token` issues tokens for the
 * requested scopes — all of them with good basic credentials (or a refresh
 * token), none anonymously (when `credentials` are set; all when not), 401
 * for wrong credentials.
 */
export async function startTokenAuthProxy(
  upstream: string,
  credentials?: Credentials,
  options: { expiresIn?: number } = {},
): Promise<TokenAuthProxy> {
  const tokens = new Map<string, IssuedToken>();
  const tokenRequests: TokenRequest[] = [];
  const requests: ProxiedRequest[] = [];
  const refreshTokens = new Set<string>();
  const [upstreamHost = '127.0.0.1', upstreamPort = '80'] = upstream.split(':');
  let origin = '';

  const json = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: OutgoingHttpHeaders = {},
  ): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const checkBasic = (header: string | undefined): 'none' | 'ok' | 'bad' => {
    if (!header?.startsWith('Basic ')) return 'none';
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (!credentials) return 'ok';
    return decoded.slice(0, colon) === credentials.username &&
      decoded.slice(colon + 1) === credentials.password
      ? 'ok'
      : 'bad';
  };

  const issue = (res: ServerResponse, scopes: string[], grant: boolean, refresh?: string): void => {
    const token = randomBytes(16).toString('hex');
    const access = new Set<string>();
    if (grant) {
      for (const scope of scopes) {
        const parts = scope.split(':');
        if (parts[0] !== 'repository' || parts.length < 3) continue;
        const actions = parts.pop() ?? '';
        const name = parts.slice(1).join(':');
        for (const action of actions.split(',')) access.add(`${name}:${action}`);
      }
    }
    const expiresIn = options.expiresIn ?? 300;
    tokens.set(token, { access, expires: Date.now() + expiresIn * 1000 });
    json(res, 200, {
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date().toISOString(),
      ...(refresh !== undefined ? { refresh_token: refresh } : {}),
    });
  };

  const handleToken = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const grantType = form.get('grant_type') ?? undefined;
      const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      let ok = false;
      if (grantType === 'refresh_token') ok = refreshTokens.has(form.get('refresh_token') ?? '');
      else if (grantType === 'password')
        ok =
          !credentials ||
          (form.get('username') === credentials.username && form.get('password') === credentials.password);
      tokenRequests.push({
        method: 'POST',
        service: form.get('service') ?? undefined,
        scopes,
        account: form.get('username') ?? undefined,
        authenticated: ok,
        offline: form.get('access_type') === 'offline',
        grantType,
      });
      if (!ok) {
        json(res, 401, { details: 'invalid refresh token' });
        return;
      }
      issue(res, scopes, true);
      return;
    }
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ').filter(Boolean));
    const basic = checkBasic(req.headers.authorization);
    const offline = url.searchParams.get('offline_token') === 'true';
    tokenRequests.push({
      method: 'GET',
      service: url.searchParams.get('service') ?? undefined,
      scopes,
      account: url.searchParams.get('account') ?? undefined,
      authenticated: basic === 'ok',
      offline,
      grantType: undefined,
    });
    if (basic === 'bad') {
      json(res, 401, { details: 'incorrect username or password' });
      return;
    }
    let refresh: string | undefined;
    if (offline && basic === 'ok') {
      refresh = `refresh-${randomBytes(8).toString('hex')}`;
      refreshTokens.add(refresh);
    }
    issue(res, scopes, basic === 'ok' || !credentials, refresh);
  };

  /** The repository access a /v2/ request needs (empty: any valid token). */
  const needed = (method: string, url: URL): string[] => {
    const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname);
    if (!m?.[1]) return [];
    const repo = m[1];
    const out = method === 'GET' || method === 'HEAD' ? [`${repo}:pull`] : [`${repo}:pull`, `${repo}:push`];
    const from = url.searchParams.get('from');
    if (method === 'POST' && url.searchParams.has('mount') && from) out.push(`${from}:pull`);
    return out;
  };

  const challenge = (access: string[], error?: string): string => {
    const byRepo = new Map<string, string[]>();
    for (const a of access) {
      const colon = a.lastIndexOf(':');
      const repo = a.slice(0, colon);
      byRepo.set(repo, [...(byRepo.get(repo) ?? []), a.slice(colon + 1)]);
    }
    const scope = [...byRepo].map(([repo, actions]) => `repository:${repo}:${actions.join(',')}`).join(' ');
    let value = `Bearer realm="${origin}/token",service="${SERVICE}"`;
    if (scope) value += `,scope="${scope}"`;
    if (error) value += `,error="${error}"`;
    return value;
  };

  const handleV2 = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const method = req.method ?? 'GET';
    const access = needed(method, url);
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? tokens.get(auth.slice(7)) : undefined;
    const refuse = (error?: string): void => {
      requests.push({ method, path: url.pathname + url.search, status: 401 });
      req.resume();
      const headers = {
        'www-authenticate': challenge(access, error),
        'docker-distribution-api-version': 'registry/2.0',
      };
      const body = { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] };
      if (method === 'HEAD') {
        res.writeHead(401, headers);
        res.end();
      } else {
        json(res, 401, body, headers);
      }
    };
    if (!token || token.expires < Date.now()) {
      refuse(token ? 'invalid_token' : undefined);
      return;
    }
    if (!access.every((a) => token.access.has(a))) {
      refuse('insufficient_scope');
      return;
    }
    const headers: OutgoingHttpHeaders = { ...req.headers, host: upstream };
    delete headers['authorization'];
    const forward = request(
      { host: upstreamHost, port: Number(upstreamPort), method, path: url.pathname + url.search, headers },
      (up) => {
        requests.push({ method, path: url.pathname + url.search, status: up.statusCode ?? 0 });
        const out: OutgoingHttpHeaders = { ...up.headers };
        const location = up.headers.location;
        if (location) {
          const target = new URL(location, `http://${upstream}`);
          out['location'] =
            target.host === upstream ? `${origin}${target.pathname}${target.search}` : location;
        }
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
      },
    );
    forward.on('error', (err) => {
      if (!res.headersSent) json(res, 502, { errors: [{ code: 'UNAVAILABLE', message: err.message }] });
      else res.destroy();
    });
    req.pipe(forward);
  };

  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/token') {
      handleToken(req, res, url).catch(() => res.destroy());
    } else if (url.pathname.startsWith('/v2/') || url.pathname === '/v2') {
      handleV2(req, res, url);
    } else {
      json(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    port,
    service: SERVICE,
    tokenRequests,
    requests,
    refreshTokens,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
