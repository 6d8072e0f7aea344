// Pull and push through a registry that speaks Docker Hub's bearer-token
// protocol: a token-auth proxy (`startTokenAuthProxy`) in front of a plain
// `docker-registry`. Anonymous access is refused; `docker login` goes through
// the daemon's `POST /auth`; the token endpoint must be asked for exactly the
// scopes each operation needs.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';
import { api, errorMessageOf } from '../../helpers/http.js';
import { buildImage, busyboxRootfsLayer, layerTar, type FixtureImage } from '../../helpers/images.js';
import {
  startRegistry,
  startTokenAuthProxy,
  type TestRegistry,
  type TokenAuthProxy,
  type TokenRequest,
} from '../../helpers/registry.js';
import { pushFixture } from '../../helpers/registry-push.js';

const CREDS = { username: 'tokenuser', password: 't0ken-s3cret' };

describe('a bearer-token registry', () => {
  let registry: TestRegistry;
  let proxy: TokenAuthProxy;
  let daemon: TestDaemon;
  let image: FixtureImage;
  let dockerConfig = '';
  let env: Record<string, string> = {};
  let host = '';

  /** Token requests made since `mark` (an index into proxy.tokenRequests). */
  const since = (mark: number): TokenRequest[] => proxy.tokenRequests.slice(mark);

  before(async () => {
    registry = await startRegistry();
    proxy = await startTokenAuthProxy(registry.host, CREDS);
    host = proxy.host;
    daemon = await TestDaemon.start();
    dockerConfig = await mkdtemp(join(tmpdir(), 'berth-docker-token-'));
    env = { DOCKER_CONFIG: dockerConfig };
    image = await buildImage({
      layers: [await busyboxRootfsLayer(), await layerTar({ 'etc/token.conf': 'private=1\n' })],
      config: { Labels: { 'org.test.token': 'yes' } },
    });
    // Straight into the upstream registry: the proxy's logs then hold only what berth did.
    await pushFixture(registry.host, 'private/app', 'v1', image);
  });
  after(async () => {
    await daemon?.cleanup();
    await proxy?.stop();
    await registry?.stop();
    if (dockerConfig) await rm(dockerConfig, { recursive: true, force: true });
  });

  it('refuses an anonymous pull as dockerd does, having asked for a pull token', async () => {
    const mark = proxy.tokenRequests.length;
    const res = await api(daemon.socket, 'POST', `/images/create?fromImage=${host}/private/app&tag=v1`);
    // The anonymous token grants nothing and the registry answers 401 with
    // error="insufficient_scope", which moby maps to errcode DENIED and then
    // to its notFoundError: a 404 "pull access denied", not a 401.
    assert.equal(res.status, 404, res.body);
    assert.equal(
      errorMessageOf(res),
      `pull access denied for ${host}/private/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
    );
    const asked = since(mark);
    assert.ok(asked.length > 0, 'berth asked the token endpoint');
    for (const r of asked) {
      assert.equal(r.authenticated, false, 'anonymously');
      assert.equal(r.service, proxy.service);
      assert.deepEqual(r.scopes, ['repository:private/app:pull']);
    }
    assert.equal((await api(daemon.socket, 'GET', `/images/${host}/private/app:v1/json`)).status, 404);
  });

  it('refuses a pull with wrong credentials with 401', async () => {
    const auth = Buffer.from(
      JSON.stringify({ username: CREDS.username, password: 'wrong', serveraddress: host }),
    ).toString('base64url');
    const res = await api(daemon.socket, 'POST', `/images/create?fromImage=${host}/private/app&tag=v1`, {
      headers: { 'X-Registry-Auth': auth },
    });
    assert.equal(res.status, 401, res.body);
    assert.match(errorMessageOf(res), /unauthorized: incorrect username or password/);
  });

  it('docker login with a wrong password fails', async () => {
    const res = await docker(daemon.host, ['login', '-u', CREDS.username, '--password-stdin', host], {
      env,
      input: 'wrong\n',
    });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /401|unauthorized|incorrect/i);
  });

  it('docker login --password-stdin succeeds through POST /auth', async () => {
    const mark = proxy.tokenRequests.length;
    const res = await docker(daemon.host, ['login', '-u', CREDS.username, '--password-stdin', host], {
      env,
      input: `${CREDS.password}\n`,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Login Succeeded/);
    const asked = since(mark);
    assert.ok(
      asked.some((r) => r.authenticated && r.account === CREDS.username && r.offline),
      `an authenticated offline token request: ${JSON.stringify(asked)}`,
    );
    const config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8')) as {
      auths: Record<string, { auth?: string; identitytoken?: string }>;
    };
    assert.ok(
      config.auths[host]?.identitytoken,
      'docker stored the identity token (refresh token) berth returned',
    );
    assert.ok(proxy.refreshTokens.has(config.auths[host]?.identitytoken ?? ''));
  });

  it('docker login asks the token endpoint once', async () => {
    const mark = proxy.tokenRequests.length;
    const res = await docker(daemon.host, ['login', '-u', CREDS.username, '--password-stdin', host], {
      env,
      input: `${CREDS.password}\n`,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(since(mark).length, 1, JSON.stringify(since(mark)));
  });

  it('docker pull works with the stored login and asks only for pull scope', async () => {
    const mark = proxy.tokenRequests.length;
    const res = await docker(daemon.host, ['pull', `${host}/private/app:v1`], { env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Status: Downloaded newer image/);
    const asked = since(mark);
    assert.ok(asked.length > 0);
    for (const r of asked) {
      assert.ok(r.authenticated, `authenticated token request: ${JSON.stringify(r)}`);
      assert.equal(r.grantType, 'refresh_token', 'with the identity token from the login');
      assert.deepEqual(r.scopes, ['repository:private/app:pull']);
    }
    const inspect = await docker(daemon.host, [
      'image',
      'inspect',
      '--format',
      '{{.Id}}',
      `${host}/private/app:v1`,
    ]);
    assert.equal(inspect.stdout.trim(), image.configDigest);
    assert.ok(
      proxy.requests.some((r) => r.path.startsWith('/v2/private/app/blobs/') && r.status === 200),
      'the blobs came through the proxy',
    );
  });

  it('docker push works and asks for pull,push on the target repository', async (t) => {
    const target = `${host}/private/copy:v2`;
    assert.equal((await docker(daemon.host, ['tag', `${host}/private/app:v1`, target], { env })).code, 0);
    const mark = proxy.tokenRequests.length;
    const res = await docker(daemon.host, ['push', target], { env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^v2: digest: sha256:[0-9a-f]{64} size: \d+$/m);
    const asked = since(mark);
    assert.ok(asked.length > 0);
    for (const r of asked) assert.ok(r.authenticated, `authenticated token request: ${JSON.stringify(r)}`);
    const scopes = new Set(asked.flatMap((r) => r.scopes));
    t.diagnostic(
      `push token requests: ${asked.map((r) => `${r.grantType ?? r.method} [${r.scopes.join(' ')}]`).join(', ')}`,
    );
    assert.ok(scopes.has('repository:private/copy:pull,push'), `scopes asked: ${[...scopes].join(' ')}`);
    for (const s of scopes) {
      // pull,push on the target; at most pull on the source (cross-repository mount).
      assert.ok(
        s === 'repository:private/copy:pull,push' || s === 'repository:private/app:pull',
        `unexpected scope ${s}`,
      );
    }
    const manifest = await fetch(`http://${registry.host}/v2/private/copy/manifests/v2`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.status, 200);
    const body = (await manifest.json()) as { config: { digest: string } };
    assert.equal(body.config.digest, image.configDigest, 'the upstream registry has the pushed image');
  });

  it('docker logout forgets the login; the next pull is anonymous and refused again', async () => {
    assert.equal((await docker(daemon.host, ['logout', host], { env })).code, 0);
    const config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8')) as {
      auths: Record<string, unknown>;
    };
    assert.equal(config.auths[host], undefined);
    assert.equal((await docker(daemon.host, ['rmi', `${host}/private/app:v1`], { env })).code, 0);
    const mark = proxy.tokenRequests.length;
    const res = await docker(daemon.host, ['pull', `${host}/private/app:v1`], { env });
    assert.notEqual(res.code, 0);
    assert.match(
      res.stderr,
      /pull access denied for .*private\/app, repository does not exist or may require 'docker login'/,
    );
    assert.ok(since(mark).every((r) => !r.authenticated));
  });
});
