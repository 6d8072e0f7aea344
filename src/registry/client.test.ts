import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';

import {
  ForbiddenError,
  InvalidParameterError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '../errors.js';
import {
  startRegistry,
  startTokenAuthProxy,
  type TestRegistry,
  type TokenAuthProxy,
} from '../../test/helpers/registry.js';
import {
  MANIFEST_MEDIA_TYPES,
  RegistryClient,
  nextPage,
  type AuthConfig,
  type RegistryClientOptions,
} from './client.js';

// ---- a tiny image, built by hand ----

function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => {
    header.write(value, offset, length, 'ascii');
  };
  field(0, 100, name);
  field(100, 8, '0000644\0');
  field(108, 8, '0000000\0');
  field(116, 8, '0000000\0');
  field(124, 12, content.length.toString(8).padStart(11, '0') + '\0');
  field(136, 12, '00000000000\0');
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 8, 'ustar\x0000');
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

const layerTar = tarOf('hello.bin', randomBytes(5000));
const layer = gzipSync(layerTar);
const config = Buffer.from(
  JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/hello.bin'] },
    rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
  }),
);
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPES.dockerManifest,
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      size: config.length,
      digest: sha256(config),
    },
    layers: [
      {
        mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        size: layer.length,
        digest: sha256(layer),
      },
    ],
  }),
);
const ociManifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPES.ociManifest,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      size: config.length,
      digest: sha256(config),
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: layer.length, digest: sha256(layer) },
    ],
  }),
);
const ociIndex = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPES.ociIndex,
    manifests: [
      {
        mediaType: MANIFEST_MEDIA_TYPES.ociManifest,
        size: ociManifest.length,
        digest: sha256(ociManifest),
        platform: { architecture: 'amd64', os: 'linux' },
      },
    ],
  }),
);

const CHUNK_THRESHOLD = 1024;
const CHUNK_SIZE = 1500;
const alice = { username: 'alice', password: 's3cret' };

async function readAllOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const clients: RegistryClient[] = [];
function newClient(options: Partial<RegistryClientOptions> = {}): RegistryClient {
  const client = new RegistryClient({
    insecureRegistries: [],
    mirrors: [],
    userAgent: 'berth-test/1.0',
    chunkThreshold: CHUNK_THRESHOLD,
    chunkSize: CHUNK_SIZE,
    retryDelayMs: 5,
    ...options,
  });
  clients.push(client);
  return client;
}
function withCredentials(
  auth: AuthConfig | undefined,
  options: Partial<RegistryClientOptions> = {},
): RegistryClient {
  return newClient({ credentials: () => auth, ...options });
}

/** Pushes the test image (blobs + schema2 manifest) to `repo:tag`. */
async function pushImage(client: RegistryClient, host: string, repo: string, tag: string): Promise<string> {
  await client.pushBlob(host, repo, sha256(config), config.length, () => Readable.from([config]));
  await client.pushBlob(host, repo, sha256(layer), layer.length, () => Readable.from([layer]));
  return client.putManifest(host, repo, tag, MANIFEST_MEDIA_TYPES.dockerManifest, manifest);
}

/** A loopback HTTP server for fault injection. */
async function fakeServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{
  host: string;
  server: Server;
  close(): Promise<void>;
}> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let reg: TestRegistry;

before(async () => {
  reg = await startRegistry();
});

after(async () => {
  for (const c of clients) c.close();
  await reg?.stop();
});

describe('registry client: push and pull against docker-registry', () => {
  it('pushes a small blob with one PUT and reports progress', async () => {
    const client = newClient();
    assert.equal(await client.blobExists(reg.host, 'test/app', sha256(config)), undefined);
    const progress: number[] = [];
    await client.pushBlob(
      reg.host,
      'test/app',
      sha256(config),
      config.length,
      () => Readable.from([config]),
      (n) => progress.push(n),
    );
    assert.equal(progress.at(-1), config.length);
    assert.equal(await client.blobExists(reg.host, 'test/app', sha256(config)), config.length);
  });

  it('pushes a large blob in PATCH chunks', async () => {
    const client = newClient();
    assert.ok(layer.length > CHUNK_THRESHOLD);
    const progress: number[] = [];
    // Many small source chunks, re-cut into CHUNK_SIZE pieces.
    const pieces = Array.from({ length: Math.ceil(layer.length / 333) }, (_, i) =>
      layer.subarray(i * 333, (i + 1) * 333),
    );
    await client.pushBlob(
      reg.host,
      'test/app',
      sha256(layer),
      layer.length,
      () => Readable.from(pieces),
      (n) => progress.push(n),
    );
    const expected: number[] = [];
    for (let n = CHUNK_SIZE; n < layer.length; n += CHUNK_SIZE) expected.push(n);
    expected.push(layer.length);
    assert.deepEqual(progress, expected);
    const { stream, size, offset } = await client.getBlob(reg.host, 'test/app', sha256(layer));
    assert.equal(size, layer.length);
    assert.equal(offset, 0);
    assert.deepEqual(await readAllOf(stream), layer);
  });

  it('refuses a source shorter or longer than the declared size', async () => {
    const client = newClient();
    const blob = randomBytes(100);
    await assert.rejects(
      client.pushBlob(reg.host, 'test/short', sha256(blob), 120, () => Readable.from([blob])),
      (err: Error) => err instanceof InvalidParameterError && /expected 120 bytes/.test(err.message),
    );
    const big = randomBytes(3000);
    await assert.rejects(
      client.pushBlob(reg.host, 'test/short', sha256(big), 2000, () => Readable.from([big])),
      InvalidParameterError,
    );
    assert.equal(await client.blobExists(reg.host, 'test/short', sha256(blob)), undefined);
  });

  it('rejects a blob whose digest does not match', async () => {
    const client = newClient();
    const blob = randomBytes(64);
    const wrong = sha256(randomBytes(64));
    await assert.rejects(
      client.pushBlob(reg.host, 'test/app', wrong, blob.length, () => Readable.from([blob])),
      (err: Error) => err instanceof InvalidParameterError && /digest invalid/.test(err.message),
    );
  });

  it('mounts a blob from another repository', async () => {
    const client = newClient();
    assert.equal(await client.mountBlob(reg.host, 'other/app', 'test/app', sha256(layer)), true);
    assert.equal(await client.blobExists(reg.host, 'other/app', sha256(layer)), layer.length);
    // Unknown blob: the registry opens an upload session instead; we get false.
    assert.equal(await client.mountBlob(reg.host, 'other/app', 'test/app', sha256(randomBytes(8))), false);
  });

  it('pushes a schema2 manifest and pulls it by tag and by digest', async () => {
    const client = newClient();
    const digest = await client.putManifest(
      reg.host,
      'test/app',
      'v1',
      MANIFEST_MEDIA_TYPES.dockerManifest,
      manifest,
    );
    assert.equal(digest, sha256(manifest));

    const byTag = await client.getManifest(reg.host, 'test/app', 'v1');
    assert.equal(byTag.mediaType, MANIFEST_MEDIA_TYPES.dockerManifest);
    assert.equal(byTag.digest, digest);
    assert.equal(byTag.size, manifest.length);
    assert.deepEqual(byTag.bytes, manifest);

    const byDigest = await client.getManifest(reg.host, 'test/app', digest);
    assert.deepEqual(byDigest.bytes, manifest);
    assert.equal(byDigest.digest, digest);

    assert.deepEqual(await client.headManifest(reg.host, 'test/app', 'v1'), {
      mediaType: MANIFEST_MEDIA_TYPES.dockerManifest,
      digest,
      size: manifest.length,
    });
    assert.equal((await client.headManifest(reg.host, 'test/app', digest)).digest, digest);
  });

  it('lists every tag of a repository', async () => {
    const client = newClient();
    for (const tag of ['v2', 'v10'])
      await client.putManifest(reg.host, 'test/app', tag, MANIFEST_MEDIA_TYPES.dockerManifest, manifest);
    assert.deepEqual((await client.listTags(reg.host, 'test/app')).sort(), ['v1', 'v10', 'v2']);
    await assert.rejects(client.listTags(reg.host, 'test/none'), NotFoundError);
  });

  it('pushes an OCI manifest and an OCI index and pulls them back', async () => {
    const client = newClient();
    // Blobs belong to repositories: mount them into the new one first.
    assert.equal(await client.mountBlob(reg.host, 'test/multi', 'test/app', sha256(config)), true);
    assert.equal(await client.mountBlob(reg.host, 'test/multi', 'test/app', sha256(layer)), true);
    const mDigest = await client.putManifest(
      reg.host,
      'test/multi',
      sha256(ociManifest),
      MANIFEST_MEDIA_TYPES.ociManifest,
      ociManifest,
    );
    assert.equal(mDigest, sha256(ociManifest));
    const iDigest = await client.putManifest(
      reg.host,
      'test/multi',
      'latest',
      MANIFEST_MEDIA_TYPES.ociIndex,
      ociIndex,
    );
    assert.equal(iDigest, sha256(ociIndex));

    const index = await client.getManifest(reg.host, 'test/multi', 'latest');
    assert.equal(index.mediaType, MANIFEST_MEDIA_TYPES.ociIndex);
    assert.equal(index.digest, iDigest);
    const child = await client.getManifest(reg.host, 'test/multi', mDigest);
    assert.equal(child.mediaType, MANIFEST_MEDIA_TYPES.ociManifest);
    assert.deepEqual(child.bytes, ociManifest);
  });

  it('rejects a manifest whose digest reference does not match its bytes', async () => {
    const client = newClient();
    await assert.rejects(
      client.putManifest(reg.host, 'test/app', sha256(config), MANIFEST_MEDIA_TYPES.dockerManifest, manifest),
      InvalidParameterError,
    );
  });

  it('resumes a blob download from an offset', async () => {
    const client = newClient();
    const { stream, size, offset } = await client.getBlob(reg.host, 'test/app', sha256(layer), {
      offset: 1000,
    });
    assert.equal(offset, 1000);
    assert.equal(size, layer.length);
    assert.deepEqual(await readAllOf(stream), layer.subarray(1000));
  });

  it('maps unknown manifests, repositories and blobs to NotFoundError with Docker wording', async () => {
    const client = newClient();
    await assert.rejects(client.getManifest(reg.host, 'test/app', 'nope'), (err: Error) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(
        err.message,
        `manifest for ${reg.host}/test/app:nope not found: manifest unknown: manifest unknown`,
      );
      return true;
    });
    await assert.rejects(client.getManifest(reg.host, 'no/such-repo', 'latest'), (err: Error) => {
      assert.ok(err instanceof NotFoundError);
      assert.match(err.message, new RegExp(`${reg.host}/no/such-repo`));
      return true;
    });
    const missing = sha256(randomBytes(4));
    await assert.rejects(client.headManifest(reg.host, 'test/app', missing), (err: Error) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(
        err.message,
        `manifest for ${reg.host}/test/app@${missing} not found: manifest unknown: manifest unknown`,
      );
      return true;
    });
    await assert.rejects(client.getBlob(reg.host, 'test/app', missing), (err: Error) => {
      assert.ok(err instanceof NotFoundError);
      assert.match(err.message, /^blob unknown: /);
      return true;
    });
  });

  it('rejects invalid names, references and digests before asking', async () => {
    const client = newClient();
    await assert.rejects(client.getManifest(reg.host, 'Bad/Name', 'latest'), InvalidParameterError);
    await assert.rejects(client.getManifest(reg.host, '../etc', 'latest'), InvalidParameterError);
    await assert.rejects(client.getManifest(reg.host, 'test/app', 'bad tag'), InvalidParameterError);
    await assert.rejects(client.getBlob(reg.host, 'test/app', 'sha256:abc'), InvalidParameterError);
  });

  it('reports an unreachable registry as UnavailableError naming it', async () => {
    const dead = await fakeServer(() => undefined);
    const host = dead.host;
    await dead.close();
    const client = newClient();
    await assert.rejects(client.getManifest(host, 'test/app', 'v1'), (err: Error) => {
      assert.ok(err instanceof UnavailableError);
      assert.match(err.message, new RegExp(`http://${host}/v2/test/app/manifests/v1`));
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  });
});

describe('registry client: retries, ranges and mirrors', () => {
  it('retries GETs answered with 5xx, with backoff', async () => {
    let calls = 0;
    const fake = await fakeServer((req, res) => {
      calls++;
      if (calls < 3) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': MANIFEST_MEDIA_TYPES.dockerManifest });
      res.end(req.method === 'HEAD' ? undefined : manifest);
    });
    try {
      const client = newClient();
      const m = await client.getManifest(fake.host, 'test/app', 'v1');
      assert.equal(m.digest, sha256(manifest));
      assert.equal(calls, 3);

      calls = -10; // always 503 now
      await assert.rejects(client.getManifest(fake.host, 'test/app', 'v1'), UnavailableError);
      assert.equal(calls, -7);
    } finally {
      await fake.close();
    }
  });

  it('falls back to the whole blob when the registry ignores Range', async () => {
    const blob = randomBytes(2048);
    const fake = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
      res.end(blob);
    });
    try {
      const client = newClient();
      const { stream, size, offset } = await client.getBlob(fake.host, 'test/app', sha256(blob), {
        offset: 100,
      });
      assert.equal(offset, 0);
      assert.equal(size, blob.length);
      assert.deepEqual(await readAllOf(stream), blob);
    } finally {
      await fake.close();
    }
  });

  it('follows redirects for blobs, without the registry credentials on other hosts', async () => {
    const blob = randomBytes(512);
    let storageAuth: string | undefined = 'unset';
    const storage = await fakeServer((req, res) => {
      storageAuth = req.headers.authorization;
      res.writeHead(200, { 'content-length': blob.length });
      res.end(blob);
    });
    const front = await fakeServer((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"', 'content-length': 0 });
        res.end();
        return;
      }
      res.writeHead(307, { location: `http://${storage.host}/blob?sig=1`, 'content-length': 0 });
      res.end();
    });
    try {
      const client = withCredentials(alice);
      const { stream } = await client.getBlob(front.host, 'test/app', sha256(blob));
      assert.deepEqual(await readAllOf(stream), blob);
      assert.equal(storageAuth, undefined);
    } finally {
      await front.close();
      await storage.close();
    }
  });

  it('reads Docker Hub through a mirror, asking credentials for the mirror host', async () => {
    const asked: string[] = [];
    const client = newClient({
      mirrors: [`http://${reg.host}`],
      credentials: (host) => {
        asked.push(host);
        return undefined;
      },
    });
    await pushImage(newClient(), reg.host, 'mirrored/app', 'v1');
    const m = await client.getManifest('docker.io', 'mirrored/app', 'v1');
    assert.equal(m.digest, sha256(manifest));
    const { stream } = await client.getBlob('docker.io', 'mirrored/app', sha256(config));
    assert.deepEqual(await readAllOf(stream), config);
    assert.deepEqual([...new Set(asked)], [reg.host]);
  });

  it('falls back from a failing mirror to registry-1.docker.io', async () => {
    let mirrorCalls = 0;
    const mirror = await fakeServer((_req, res) => {
      mirrorCalls++;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
    });
    try {
      const client = newClient({ mirrors: [`http://${mirror.host}`] });
      // No internet here: Docker Hub itself is unreachable, which proves the fallback.
      await assert.rejects(client.getManifest('docker.io', 'busybox', 'latest'), (err: Error) => {
        assert.ok(err instanceof UnavailableError, err.message);
        assert.match(
          err.message,
          /https:\/\/registry-1\.docker\.io\/v2\/library\/busybox\/manifests\/latest/,
        );
        return true;
      });
      assert.equal(mirrorCalls, 1);
    } finally {
      await mirror.close();
    }
  });
});

describe('registry client: basic auth (htpasswd)', () => {
  let secured: TestRegistry;
  before(async () => {
    secured = await startRegistry({ auth: alice });
  });
  after(async () => {
    await secured?.stop();
  });

  it('pushes and pulls with good credentials', async () => {
    const client = withCredentials(alice);
    const digest = await pushImage(client, secured.host, 'private/app', 'v1');
    const m = await client.getManifest(secured.host, 'private/app', 'v1');
    assert.equal(m.digest, digest);
    // `auth` (base64 user:pass) works as well
    const viaAuth = withCredentials({ auth: Buffer.from('alice:s3cret').toString('base64') });
    assert.equal((await viaAuth.headManifest(secured.host, 'private/app', 'v1')).digest, digest);
  });

  it('refuses anonymous and wrong credentials with UnauthorizedError', async () => {
    await assert.rejects(newClient().getManifest(secured.host, 'private/app', 'v1'), (err: Error) => {
      assert.ok(err instanceof UnauthorizedError);
      assert.equal(err.message, 'unauthorized: authentication required');
      return true;
    });
    await assert.rejects(
      withCredentials({ username: 'alice', password: 'wrong' }).getManifest(
        secured.host,
        'private/app',
        'v1',
      ),
      UnauthorizedError,
    );
    await assert.rejects(
      withCredentials({ username: 'alice', password: 'wrong' }).pushBlob(
        secured.host,
        'private/app',
        sha256(config),
        config.length,
        () => Readable.from([config]),
      ),
      UnauthorizedError,
    );
  });

  it('logs in', async () => {
    const client = newClient();
    assert.deepEqual(await client.login(secured.host, alice), { status: 'Login Succeeded' });
    await assert.rejects(
      client.login(secured.host, { username: 'alice', password: 'nope' }),
      (err: Error) => {
        assert.ok(err instanceof UnauthorizedError);
        assert.equal(
          err.message,
          `login attempt to http://${secured.host}/v2/ failed with status: 401 Unauthorized`,
        );
        return true;
      },
    );
    await assert.rejects(client.login(secured.host, {}), UnauthorizedError);
    // A registry without auth accepts any login
    assert.deepEqual(await client.login(reg.host, { username: 'x', password: 'y' }), {
      status: 'Login Succeeded',
    });
  });
});

describe('registry client: bearer token auth', () => {
  let proxy: TokenAuthProxy;
  before(async () => {
    await pushImage(newClient(), reg.host, 'test/app', 'v1');
    proxy = await startTokenAuthProxy(reg.host, alice);
  });
  after(async () => {
    await proxy?.stop();
  });

  it('pulls with a token for repository:<repo>:pull and caches it', async () => {
    const client = withCredentials(alice);
    const before = proxy.tokenRequests.length;
    const m = await client.getManifest(proxy.host, 'test/app', 'v1');
    assert.equal(m.digest, sha256(manifest));
    await client.headManifest(proxy.host, 'test/app', 'v1');
    const { stream } = await client.getBlob(proxy.host, 'test/app', sha256(layer), { offset: 10 });
    assert.deepEqual(await readAllOf(stream), layer.subarray(10));
    const requests = proxy.tokenRequests.slice(before);
    assert.equal(requests.length, 1);
    assert.deepEqual(requests[0], {
      method: 'GET',
      service: 'test-registry',
      scopes: ['repository:test/app:pull'],
      account: 'alice',
      authenticated: true,
      offline: false,
      grantType: undefined,
    });
  });

  it('pushes with mount, asking pull,push for the target and pull for the source', async () => {
    const client = withCredentials(alice);
    const before = proxy.tokenRequests.length;
    assert.equal(await client.blobExists(proxy.host, 'mounted/app', sha256(layer)), undefined);
    assert.equal(await client.mountBlob(proxy.host, 'mounted/app', 'test/app', sha256(layer)), true);
    await client.pushBlob(proxy.host, 'mounted/app', sha256(config), config.length, () =>
      Readable.from([config]),
    );
    const big = randomBytes(4000);
    await client.pushBlob(proxy.host, 'mounted/app', sha256(big), big.length, () => Readable.from([big]));
    const digest = await client.putManifest(
      proxy.host,
      'mounted/app',
      'v1',
      MANIFEST_MEDIA_TYPES.dockerManifest,
      manifest,
    );
    assert.equal(digest, sha256(manifest));

    const scopes = proxy.tokenRequests.slice(before).map((r) => r.scopes);
    assert.deepEqual(scopes, [
      ['repository:mounted/app:pull,push'],
      ['repository:mounted/app:pull,push', 'repository:test/app:pull'],
    ]);
    const mounted = proxy.requests.filter((r) => r.path.startsWith('/v2/mounted/app/blobs/uploads/'));
    assert.equal(
      mounted.filter((r) => r.method === 'PATCH').length,
      Math.ceil(big.length / CHUNK_SIZE),
      'the large blob goes up in chunks',
    );
    assert.ok(mounted.some((r) => r.method === 'POST' && r.path.includes('mount=') && r.status === 201));

    // and it can be pulled back from the plain registry behind the proxy
    assert.equal((await newClient().getManifest(reg.host, 'mounted/app', 'v1')).digest, digest);
  });

  it('reports an anonymous pull as Docker does: pull access denied', async () => {
    await assert.rejects(newClient().getManifest(proxy.host, 'test/app', 'v1'), (err: Error) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(
        err.message,
        `pull access denied for ${proxy.host}/test/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
      );
      return true;
    });
    await assert.rejects(
      newClient().pushBlob(proxy.host, 'test/app', sha256(config), config.length, () =>
        Readable.from([config]),
      ),
      (err: Error) => {
        assert.ok(err instanceof ForbiddenError);
        assert.equal(err.message, 'denied: requested access to the resource is denied');
        return true;
      },
    );
  });

  it('reports wrong credentials as UnauthorizedError', async () => {
    const client = withCredentials({ username: 'alice', password: 'wrong' });
    await assert.rejects(client.getManifest(proxy.host, 'test/app', 'v1'), (err: Error) => {
      assert.ok(err instanceof UnauthorizedError);
      assert.equal(
        err.message,
        `Get "http://${proxy.host}/v2/test/app/manifests/v1": unauthorized: incorrect username or password`,
      );
      return true;
    });
  });

  it('logs in, gets an identity token, and pulls with it', async () => {
    const client = newClient();
    const result = await client.login(proxy.host, alice);
    assert.equal(result.status, 'Login Succeeded');
    assert.ok(result.identityToken && proxy.refreshTokens.has(result.identityToken));
    const login = proxy.tokenRequests.at(-1);
    assert.equal(login?.offline, true);
    assert.equal(login?.authenticated, true);

    await assert.rejects(client.login(proxy.host, { username: 'alice', password: 'bad' }), (err: Error) => {
      assert.ok(err instanceof UnauthorizedError);
      assert.equal(
        err.message,
        `Get "http://${proxy.host}/v2/": unauthorized: incorrect username or password`,
      );
      return true;
    });

    const withToken = withCredentials({ identitytoken: result.identityToken });
    assert.equal((await withToken.getManifest(proxy.host, 'test/app', 'v1')).digest, sha256(manifest));
    const refresh = proxy.tokenRequests.at(-1);
    assert.equal(refresh?.method, 'POST');
    assert.equal(refresh?.grantType, 'refresh_token');
    assert.deepEqual(refresh?.scopes, ['repository:test/app:pull']);

    await assert.rejects(
      withCredentials({ identitytoken: 'refresh-bogus' }).getManifest(proxy.host, 'test/app', 'v1'),
      UnauthorizedError,
    );
  });

  it('fetches a new token when the registry refuses a cached one', async () => {
    const shortLived = await startTokenAuthProxy(reg.host, alice, { expiresIn: 1 });
    try {
      const client = withCredentials(alice);
      await client.headManifest(shortLived.host, 'test/app', 'v1');
      await new Promise((r) => setTimeout(r, 1100));
      await client.headManifest(shortLived.host, 'test/app', 'v1');
      assert.equal(shortLived.tokenRequests.length, 2);
    } finally {
      await shortLived.stop();
    }
  });
});

describe('registry client: tag list pages', () => {
  it('follows a Link rel="next" on the same host, relative or absolute', () => {
    const here = new URL('http://127.0.0.1:5000/v2/a/tags/list');
    assert.equal(nextPage('</v2/a/tags/list?last=b&n=2>; rel="next"', here), '/v2/a/tags/list?last=b&n=2');
    assert.equal(
      nextPage('<http://127.0.0.1:5000/v2/a/tags/list?last=c>; rel=next', here),
      '/v2/a/tags/list?last=c',
    );
    assert.equal(
      nextPage('</x>; rel="prev", </v2/a/tags/list?last=d>; rel="next"', here),
      '/v2/a/tags/list?last=d',
    );
    assert.equal(nextPage(undefined, here), undefined);
    assert.equal(nextPage('</v2/a/tags/list?last=e>; rel="prev"', here), undefined);
    assert.equal(nextPage('<http://elsewhere.example/v2/a/tags/list>; rel="next"', here), undefined);
  });
});
