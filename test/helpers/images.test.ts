// Self-tests of the image fixtures: digests match content, archives hold what
// they reference, busybox runs, and a real registry (when installed) accepts
// what pushFixture uploads.
import assert from 'node:assert/strict';
import { execFile as execFileCallback, spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';

import bcrypt from 'bcryptjs';

import {
  BUSYBOX_APPLETS,
  BUSYBOX_PATH,
  DEFAULT_PATH_ENV,
  HELLO_GREETING,
  MEDIA_TYPES,
  bigLayer,
  buildImage,
  buildIndex,
  busyboxBytes,
  busyboxRootfsLayer,
  digestHex,
  dockerSaveTarball,
  helloWorldImage,
  layerTar,
  legacyDockerSaveTarball,
  ociLayoutTarball,
  readTarEntries,
  readTarMap,
  rootfsTarball,
  sha256Digest,
  type FixtureImage,
  type ImageConfigJSON,
  type IndexDescriptor,
  type TarEntryRead,
} from './images.js';
import { waitFor } from './poll.js';
import { pushFixture } from './registry-push.js';

interface ManifestJSON {
  mediaType: string;
  config: { mediaType: string; digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number }[];
}

interface SaveManifestItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

const execFile = promisify(execFileCallback);

const parse = <T>(data: Buffer): T => JSON.parse(data.toString()) as T;

function entryOf(map: Map<string, TarEntryRead>, name: string): TarEntryRead {
  const entry = map.get(name);
  assert.ok(entry, `archive has ${name}`);
  return entry;
}

/** Every blobs/sha256/<hex> in an archive hashes to its name. */
function assertBlobsVerify(map: Map<string, TarEntryRead>): void {
  for (const [name, entry] of map) {
    if (!name.startsWith('blobs/sha256/') || entry.header.type !== 'file') continue;
    assert.equal(sha256Digest(entry.data), `sha256:${name.slice('blobs/sha256/'.length)}`, name);
  }
}

function assertValidImage(image: FixtureImage): void {
  assert.equal(image.configDigest, sha256Digest(image.config));
  assert.equal(image.manifestDigest, sha256Digest(image.manifest));
  assert.equal(image.ociManifestDigest, sha256Digest(image.ociManifest));
  const config = parse<ImageConfigJSON>(image.config);
  assert.equal(config.rootfs.type, 'layers');
  assert.deepEqual(
    config.rootfs.diff_ids,
    image.layers.map((l) => sha256Digest(l.uncompressed)),
  );
  assert.equal(config.history.filter((h) => !h.empty_layer).length, image.layers.length);
  for (const layer of image.layers) {
    assert.equal(layer.diffId, sha256Digest(layer.uncompressed));
    assert.equal(layer.digest, sha256Digest(layer.gzip));
    assert.equal(layer.size, layer.gzip.length);
    assert.ok(gunzipSync(layer.gzip).equals(layer.uncompressed));
  }
  for (const [bytes, mediaTypes] of [
    [image.manifest, [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerConfig, MEDIA_TYPES.dockerLayerGzip]],
    [image.ociManifest, [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociConfig, MEDIA_TYPES.ociLayerGzip]],
  ] as const) {
    const manifest = parse<ManifestJSON & { schemaVersion: number }>(bytes);
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, mediaTypes[0]);
    assert.deepEqual(manifest.config, {
      mediaType: mediaTypes[1],
      digest: image.configDigest,
      size: image.config.length,
    });
    assert.deepEqual(
      manifest.layers.map((l) => [l.mediaType, l.digest, l.size]),
      image.layers.map((l) => [mediaTypes[2], l.digest, l.gzip.length]),
    );
  }
}

describe('image fixtures', () => {
  it('busyboxRootfsLayer is a deterministic, sorted tar of a minimal rootfs', async () => {
    const layer = await busyboxRootfsLayer();
    assert.ok(layer.equals(await busyboxRootfsLayer()), 'same bytes twice');
    const entries = await readTarEntries(layer);
    const names = entries.map((e) => e.header.name.replace(/\/$/, ''));
    assert.deepEqual(names, [...names].sort());
    for (const e of entries) {
      assert.equal(e.header.mtime.getTime(), Date.parse('2024-01-01T00:00:00Z'), e.header.name);
      if (e.header.name !== 'home/app/')
        assert.deepEqual([e.header.uid, e.header.gid], [0, 0], e.header.name);
    }
    const map = await readTarMap(layer);
    const busybox = entryOf(map, 'bin/busybox');
    assert.equal(busybox.header.type, 'file');
    assert.equal(busybox.header.mode, 0o755);
    assert.ok(busybox.data.equals(await busyboxBytes()), 'busybox is byte-identical to the host one');
    for (const applet of BUSYBOX_APPLETS) {
      const link = entryOf(map, `bin/${applet}`);
      assert.equal(link.header.type, 'symlink');
      assert.equal(link.header.linkname, 'busybox');
    }
    for (const dir of ['etc', 'root', 'var', 'dev', 'proc', 'sys', 'usr', 'usr/bin', 'home/app']) {
      assert.equal(entryOf(map, `${dir}/`).header.type, 'directory');
    }
    assert.equal(entryOf(map, 'tmp/').header.mode, 0o1777);
    const passwd = entryOf(map, 'etc/passwd').data.toString();
    assert.match(passwd, /^root:x:0:0:/m);
    assert.match(passwd, /^nobody:x:65534:65534:/m);
    assert.match(passwd, /^app:x:1000:1000:/m);
    assert.match(entryOf(map, 'etc/group').data.toString(), /^app:x:1000:$/m);
    assert.match(entryOf(map, 'etc/hosts').data.toString(), /^127\.0\.0\.1\tlocalhost$/m);
  });

  it('the rootfs busybox is executable', async () => {
    const map = await readTarMap(await busyboxRootfsLayer());
    const busybox = entryOf(map, 'bin/busybox');
    const dir = await mkdtemp(join(tmpdir(), 'berth-fixture-'));
    try {
      const path = join(dir, 'busybox');
      await writeFile(path, busybox.data);
      await chmod(path, busybox.header.mode);
      const { stdout } = await execFile(path, ['echo', 'fixture ok']);
      assert.equal(stdout, 'fixture ok\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('busyboxRootfsLayer takes extra files and an mtime', async () => {
    const mtime = new Date('2020-02-02T00:00:00Z');
    const map = await readTarMap(
      await busyboxRootfsLayer({ extraFiles: { '/srv/www/index.html': '<h1>hi</h1>' }, mtime }),
    );
    assert.equal(entryOf(map, 'srv/www/index.html').data.toString(), '<h1>hi</h1>');
    assert.equal(entryOf(map, 'srv/www/').header.type, 'directory');
    assert.equal(entryOf(map, 'bin/busybox').header.mtime.getTime(), mtime.getTime());
  });

  it('layerTar writes files, links, whiteouts and opaque markers with their parents', async () => {
    const map = await readTarMap(
      await layerTar({
        'app/run.sh': '#!/bin/sh\necho run\n',
        'app/data.txt': 'data',
        'app/link': { type: 'symlink', target: '/app/data.txt' },
        'app/hard': { type: 'hardlink', target: 'app/data.txt' },
        'opt/empty': { type: 'dir', mode: 0o700 },
        'home/app/owned': { type: 'file', content: 'mine', uid: 1000, gid: 1000, mode: 0o600 },
        'etc/hosts': { type: 'whiteout' },
        gone: { type: 'whiteout' },
        'var/cache': { type: 'opaque' },
      }),
    );
    assert.deepEqual(
      [...map.keys()],
      [
        '.wh.gone',
        'app/',
        'app/data.txt',
        'app/hard',
        'app/link',
        'app/run.sh',
        'etc/',
        'etc/.wh.hosts',
        'home/',
        'home/app/',
        'home/app/owned',
        'opt/',
        'opt/empty/',
        'var/',
        'var/cache/',
        'var/cache/.wh..wh..opq',
      ],
    );
    assert.equal(entryOf(map, 'app/run.sh').header.mode, 0o755);
    assert.equal(entryOf(map, 'app/data.txt').header.mode, 0o644);
    assert.equal(entryOf(map, 'app/link').header.linkname, '/app/data.txt');
    assert.equal(entryOf(map, 'app/hard').header.type, 'link');
    assert.equal(entryOf(map, 'opt/empty/').header.mode, 0o700);
    const owned = entryOf(map, 'home/app/owned').header;
    assert.deepEqual([owned.uid, owned.gid, owned.mode], [1000, 1000, 0o600]);
  });

  it('buildImage makes a valid config, gzip layers and Docker and OCI manifests', async () => {
    const image = await buildImage({
      layers: [await busyboxRootfsLayer(), await layerTar({ 'etc/motd': 'hi' })],
      config: {
        Entrypoint: ['/bin/sh', '-c'],
        Cmd: ['echo hi'],
        WorkingDir: '/tmp',
        User: 'app',
        Labels: { 'com.example': 'yes' },
        ExposedPorts: { '80/tcp': {} },
        Volumes: { '/data': {} },
        StopSignal: 'SIGINT',
        Healthcheck: { Test: ['CMD', 'true'], Interval: 1_000_000_000 },
      },
      architecture: 'arm64',
      variant: 'v8',
    });
    assertValidImage(image);
    const config = parse<ImageConfigJSON>(image.config);
    assert.equal(config.architecture, 'arm64');
    assert.equal(config.variant, 'v8');
    assert.equal(config.os, 'linux');
    assert.deepEqual(config.config.Env, [DEFAULT_PATH_ENV]);
    assert.deepEqual(config.config.Cmd, ['echo hi']);
    assert.equal(config.config.User, 'app');
    assert.deepEqual(config.config.ExposedPorts, { '80/tcp': {} });
    assert.equal(config.history.length, 2);
    assert.ok(config.history.every((h) => typeof h.created_by === 'string'));
    assert.deepEqual(image.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });

    const plain = await buildImage({ layers: [await busyboxRootfsLayer()] });
    const plainConfig = parse<ImageConfigJSON>(plain.config);
    assert.equal(plainConfig.architecture, 'amd64');
    assert.deepEqual(plainConfig.config, { Env: [DEFAULT_PATH_ENV], Cmd: ['sh'] });
    assert.equal(
      plain.configDigest,
      (await buildImage({ layers: [await busyboxRootfsLayer()] })).configDigest,
    );
  });

  it('buildIndex makes Docker manifest lists and OCI indexes', async () => {
    const amd64 = await helloWorldImage();
    const arm64 = await buildImage({
      layers: [await busyboxRootfsLayer()],
      architecture: 'arm64',
      variant: 'v8',
    });
    const list = buildIndex([{ image: amd64 }, { image: arm64 }]);
    assert.equal(list.mediaType, MEDIA_TYPES.dockerManifestList);
    assert.equal(list.digest, sha256Digest(list.bytes));
    const listJSON = parse<{ mediaType: string; manifests: IndexDescriptor[] }>(list.bytes);
    assert.equal(listJSON.mediaType, MEDIA_TYPES.dockerManifestList);
    assert.deepEqual(listJSON.manifests, [
      {
        mediaType: MEDIA_TYPES.dockerManifest,
        digest: amd64.manifestDigest,
        size: amd64.manifest.length,
        platform: { architecture: 'amd64', os: 'linux' },
      },
      {
        mediaType: MEDIA_TYPES.dockerManifest,
        digest: arm64.manifestDigest,
        size: arm64.manifest.length,
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
      },
    ]);
    const index = buildIndex([
      { image: amd64, oci: true },
      { image: arm64, oci: true, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ]);
    assert.equal(index.mediaType, MEDIA_TYPES.ociIndex);
    const indexJSON = parse<{ manifests: IndexDescriptor[] }>(index.bytes);
    assert.deepEqual(
      indexJSON.manifests.map((m) => [m.mediaType, m.digest]),
      [
        [MEDIA_TYPES.ociManifest, amd64.ociManifestDigest],
        [MEDIA_TYPES.ociManifest, arm64.ociManifestDigest],
      ],
    );
  });

  it('helloWorldImage runs /hello, a script printing the greeting', async () => {
    const image = await helloWorldImage();
    assertValidImage(image);
    assert.equal(image.layers.length, 2);
    assert.deepEqual(parse<ImageConfigJSON>(image.config).config.Cmd, ['/hello']);
    const hello = entryOf(await readTarMap(image.layers[1]?.uncompressed ?? Buffer.alloc(0)), 'hello');
    assert.equal(hello.header.mode, 0o755);
    assert.match(hello.data.toString(), /^#!\/bin\/sh\n/);
    const { stdout } = await execFile(BUSYBOX_PATH, ['sh', '-c', hello.data.toString()]);
    assert.equal(stdout.split('\n')[0], HELLO_GREETING);
  });

  it('dockerSaveTarball writes manifest.json, repositories and an OCI layout (Docker 25+)', async () => {
    const hello = await helloWorldImage();
    const other = await buildImage({ layers: [await busyboxRootfsLayer()], config: { Cmd: ['true'] } });
    const map = await readTarMap(
      await dockerSaveTarball([
        { image: hello, repoTags: ['hello-world:latest', 'localhost:5000/hello:v1'] },
        { image: other, repoTags: [] },
      ]),
    );
    assert.deepEqual(parse<unknown>(entryOf(map, 'oci-layout').data), { imageLayoutVersion: '1.0.0' });
    assert.equal(entryOf(map, 'blobs/').header.type, 'directory');
    assertBlobsVerify(map);

    const manifest = parse<SaveManifestItem[]>(entryOf(map, 'manifest.json').data);
    assert.equal(manifest.length, 2);
    assert.deepEqual(manifest[0], {
      Config: `blobs/sha256/${digestHex(hello.configDigest)}`,
      RepoTags: ['hello-world:latest', 'localhost:5000/hello:v1'],
      Layers: hello.layers.map((l) => `blobs/sha256/${digestHex(l.diffId)}`),
    });
    assert.deepEqual(manifest[1]?.RepoTags, []);
    for (const item of manifest) {
      const config = parse<ImageConfigJSON>(entryOf(map, item.Config).data);
      assert.deepEqual(
        item.Layers.map((path) => sha256Digest(entryOf(map, path).data)),
        config.rootfs.diff_ids,
      );
    }

    const index = parse<{ mediaType: string; manifests: IndexDescriptor[] }>(entryOf(map, 'index.json').data);
    assert.equal(index.mediaType, MEDIA_TYPES.ociIndex);
    assert.deepEqual(
      index.manifests.map((m) => m.annotations),
      [
        {
          'io.containerd.image.name': 'docker.io/library/hello-world:latest',
          'org.opencontainers.image.ref.name': 'latest',
        },
        { 'io.containerd.image.name': 'localhost:5000/hello:v1', 'org.opencontainers.image.ref.name': 'v1' },
        undefined,
      ],
    );
    for (const descriptor of index.manifests) {
      const blob = entryOf(map, `blobs/sha256/${digestHex(descriptor.digest)}`).data;
      assert.equal(blob.length, descriptor.size);
      const m = parse<ManifestJSON>(blob);
      assert.equal(m.mediaType, MEDIA_TYPES.ociManifest);
      for (const ref of [m.config, ...m.layers]) {
        assert.equal(entryOf(map, `blobs/sha256/${digestHex(ref.digest)}`).data.length, ref.size);
      }
      assert.ok(m.layers.every((l) => l.mediaType === MEDIA_TYPES.ociLayer));
    }
    const top = hello.layers.at(-1)?.diffId ?? '';
    assert.deepEqual(parse<unknown>(entryOf(map, 'repositories').data), {
      'hello-world': { latest: digestHex(top) },
      'localhost:5000/hello': { v1: digestHex(top) },
    });
  });

  it('dockerSaveTarball can write the containerd image store layout', async () => {
    const hello = await helloWorldImage();
    const map = await readTarMap(
      await dockerSaveTarball([{ image: hello, repoTags: ['hello-world'] }], { store: 'containerd' }),
    );
    assertBlobsVerify(map);
    assert.equal(map.has('repositories'), false);
    const [item] = parse<SaveManifestItem[]>(entryOf(map, 'manifest.json').data);
    assert.deepEqual(item?.RepoTags, ['hello-world:latest']);
    assert.deepEqual(
      item?.Layers,
      hello.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
    );
    const [descriptor] = parse<{ manifests: IndexDescriptor[] }>(entryOf(map, 'index.json').data).manifests;
    assert.equal(descriptor?.digest, hello.manifestDigest);
    assert.equal(descriptor?.mediaType, MEDIA_TYPES.dockerManifest);
  });

  it('legacyDockerSaveTarball writes the pre-25 layout', async () => {
    const hello = await helloWorldImage();
    const map = await readTarMap(
      await legacyDockerSaveTarball([{ image: hello, repoTags: ['hello-world:latest'] }]),
    );
    assert.equal(map.has('index.json'), false);
    const [item] = parse<SaveManifestItem[]>(entryOf(map, 'manifest.json').data);
    assert.ok(item);
    assert.equal(item.Config, `${digestHex(hello.configDigest)}.json`);
    assert.ok(entryOf(map, item.Config).data.equals(hello.config));
    assert.equal(item.Layers.length, 2);
    item.Layers.forEach((path, i) => {
      assert.match(path, /^[0-9a-f]{64}\/layer\.tar$/);
      assert.equal(sha256Digest(entryOf(map, path).data), hello.layers[i]?.diffId);
      const dir = path.slice(0, 64);
      assert.equal(entryOf(map, `${dir}/VERSION`).data.toString(), '1.0');
      const v1 = parse<{ id: string; parent?: string }>(entryOf(map, `${dir}/json`).data);
      assert.equal(v1.id, dir);
      assert.equal(v1.parent, i === 0 ? undefined : item.Layers[i - 1]?.slice(0, 64));
    });
    assert.deepEqual(parse<unknown>(entryOf(map, 'repositories').data), {
      'hello-world': { latest: item.Layers[1]?.slice(0, 64) },
    });
  });

  it('ociLayoutTarball writes an OCI layout with gzip layers and ref names', async () => {
    const hello = await helloWorldImage();
    const arm64 = await buildImage({ layers: [await busyboxRootfsLayer()], architecture: 'arm64' });
    const multi = buildIndex([
      { image: hello, oci: true },
      { image: arm64, oci: true },
    ]);
    const map = await readTarMap(
      await ociLayoutTarball([
        { image: hello, refName: 'v1' },
        { index: multi, images: [hello, arm64], refName: 'multi' },
      ]),
    );
    assertBlobsVerify(map);
    assert.deepEqual(parse<unknown>(entryOf(map, 'oci-layout').data), { imageLayoutVersion: '1.0.0' });
    const index = parse<{ manifests: IndexDescriptor[] }>(entryOf(map, 'index.json').data);
    assert.deepEqual(
      index.manifests.map((m) => [
        m.mediaType,
        m.digest,
        m.annotations?.['org.opencontainers.image.ref.name'],
      ]),
      [
        [MEDIA_TYPES.ociManifest, hello.ociManifestDigest, 'v1'],
        [MEDIA_TYPES.ociIndex, multi.digest, 'multi'],
      ],
    );
    for (const image of [hello, arm64]) {
      for (const layer of image.layers) assert.ok(map.has(`blobs/sha256/${digestHex(layer.digest)}`));
      assert.ok(map.has(`blobs/sha256/${digestHex(image.ociManifestDigest)}`));
    }
  });

  it('rootfsTarball is the busybox rootfs, gzip on request', async () => {
    const plain = await rootfsTarball();
    assert.ok(plain.equals(await busyboxRootfsLayer()));
    const gz = await rootfsTarball({ gzip: true });
    assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
    assert.ok(gunzipSync(gz).equals(plain));
    assert.ok((await readTarMap(gz)).has('bin/busybox'));
  });

  it('bigLayer is deterministic, about the size asked for, and incompressible', async () => {
    const size = 8 * 1024 * 1024 + 123;
    const started = Date.now();
    const a = await bigLayer(size, 1, { fileSize: 3 * 1024 * 1024 });
    assert.ok(Date.now() - started < 5000, 'generated quickly');
    assert.ok(a.length >= size && a.length < size + 64 * 1024, `size ${a.length}`);
    assert.ok(a.equals(await bigLayer(size, 1, { fileSize: 3 * 1024 * 1024 })));
    assert.ok(!a.equals(await bigLayer(size, 2, { fileSize: 3 * 1024 * 1024 })));
    assert.ok(gzipSync(a, { level: 1 }).length > size * 0.99, 'incompressible');
    const entries = await readTarEntries(a);
    assert.deepEqual(
      entries.map((e) => [e.header.name, e.data.length]),
      [
        ['data/', 0],
        ['data/blob-000000', 3 * 1024 * 1024],
        ['data/blob-000001', 3 * 1024 * 1024],
        ['data/blob-000002', 2 * 1024 * 1024 + 123],
      ],
    );
  });
});

// ---------------------------------------------------------------------------
// pushFixture against a real registry, and against a small fake for bearer auth

const REGISTRY_BINARY = '/usr/bin/docker-registry';
const hasRegistry = await access(REGISTRY_BINARY).then(
  () => true,
  () => false,
);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface RunningRegistry {
  host: string;
  child: ChildProcess;
  exited: Promise<void>;
  logs: () => string;
}

async function startRegistry(dir: string, htpasswd?: string): Promise<RunningRegistry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const storage = join(dir, 'storage');
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    'http:',
    `  addr: ${host}`,
  ];
  if (htpasswd !== undefined) {
    await writeFile(join(dir, 'htpasswd'), htpasswd);
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, `${lines.join('\n')}\n`);
  const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    async () => {
      if (gone) throw new Error(`docker-registry exited:\n${output}`);
      const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
      await res?.body?.cancel();
      return res !== undefined && (res.status === 200 || res.status === 401);
    },
    { timeoutMs: 15_000, what: 'docker-registry to answer /v2/' },
  );
  return { host, child, exited, logs: () => output };
}

async function stopRegistry(registry: RunningRegistry | undefined): Promise<void> {
  if (!registry) return;
  const { child } = registry;
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGKILL');
      }
    }, 5000);
    await registry.exited;
    clearTimeout(timer);
  }
}

async function getManifest(
  host: string,
  reference: string,
  accept: string[],
  headers: Record<string, string> = {},
): Promise<{ status: number; digest: string | null; contentType: string | null; body: Buffer }> {
  const res = await fetch(`http://${host}/v2/${reference}`, {
    headers: { accept: accept.join(', '), ...headers },
  });
  return {
    status: res.status,
    digest: res.headers.get('docker-content-digest'),
    contentType: res.headers.get('content-type'),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

const ALL_MANIFESTS = [
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
];

describe(
  'pushFixture against docker-registry',
  { skip: !hasRegistry && `${REGISTRY_BINARY} is not installed` },
  () => {
    let dir: string;
    let open: RunningRegistry | undefined;
    let authed: RunningRegistry | undefined;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
      await Promise.all([
        (async () => {
          const d = join(dir, 'open');
          await mkdir(d);
          open = await startRegistry(d);
        })(),
        (async () => {
          const d = join(dir, 'authed');
          await mkdir(d);
          authed = await startRegistry(d, `tester:${bcrypt.hashSync('s3cret', 4)}\n`);
        })(),
      ]);
    });

    after(async () => {
      await Promise.all([stopRegistry(open), stopRegistry(authed)]);
      await rm(dir, { recursive: true, force: true });
    });

    it('pushes an image whose manifest and blobs come back unchanged', async () => {
      assert.ok(open);
      const image = await helloWorldImage();
      const pushed = await pushFixture(open.host, 'library/hello', 'latest', image);
      assert.deepEqual(pushed, {
        digest: image.manifestDigest,
        mediaType: MEDIA_TYPES.dockerManifest,
        size: image.manifest.length,
      });
      const got = await getManifest(open.host, 'library/hello/manifests/latest', ALL_MANIFESTS);
      assert.equal(got.status, 200, got.body.toString());
      assert.equal(got.digest, image.manifestDigest);
      assert.equal(got.contentType, MEDIA_TYPES.dockerManifest);
      assert.equal(sha256Digest(got.body), image.manifestDigest);
      const config = await fetch(`http://${open.host}/v2/library/hello/blobs/${image.configDigest}`);
      assert.equal(sha256Digest(Buffer.from(await config.arrayBuffer())), image.configDigest);
      const layer = image.layers[1];
      assert.ok(layer);
      const blob = await fetch(`http://${open.host}/v2/library/hello/blobs/${layer.digest}`);
      assert.equal(sha256Digest(Buffer.from(await blob.arrayBuffer())), layer.digest);

      // Again (blobs exist now), and as OCI, and by digest.
      const oci = await pushFixture(open.host, 'library/hello', 'oci', image, undefined, { oci: true });
      assert.equal(oci.digest, image.ociManifestDigest);
      const gotOci = await getManifest(open.host, 'library/hello/manifests/oci', ALL_MANIFESTS);
      assert.equal(gotOci.digest, image.ociManifestDigest);
      assert.equal(gotOci.contentType, MEDIA_TYPES.ociManifest);
      await pushFixture(open.host, 'other/hello', '', image);
      const byDigest = await getManifest(
        open.host,
        `other/hello/manifests/${image.manifestDigest}`,
        ALL_MANIFESTS,
      );
      assert.equal(byDigest.status, 200);
    });

    it('pushes manifest lists and OCI indexes with their images', async () => {
      assert.ok(open);
      const amd64 = await helloWorldImage();
      const arm64 = await buildImage({
        layers: [await busyboxRootfsLayer(), await layerTar({ arch: 'arm64' })],
        architecture: 'arm64',
        variant: 'v8',
      });
      for (const [tag, oci] of [
        ['list', false],
        ['index', true],
      ] as const) {
        const index = buildIndex([
          { image: amd64, oci },
          { image: arm64, oci },
        ]);
        const pushed = await pushFixture(open.host, 'multi/arch', tag, { index, images: [amd64, arm64] });
        assert.equal(pushed.digest, index.digest);
        const got = await getManifest(open.host, `multi/arch/manifests/${tag}`, ALL_MANIFESTS);
        assert.equal(got.digest, index.digest);
        assert.equal(got.contentType, index.mediaType);
        assert.ok(got.body.equals(index.bytes));
        const child = await getManifest(
          open.host,
          `multi/arch/manifests/${oci ? arm64.ociManifestDigest : arm64.manifestDigest}`,
          ALL_MANIFESTS,
        );
        assert.equal(child.status, 200);
      }
    });

    it('uses basic auth, and fails clearly without it', async () => {
      assert.ok(authed);
      const image = await helloWorldImage();
      await assert.rejects(pushFixture(authed.host, 'private/hello', 'latest', image), /HTTP 401/);
      await assert.rejects(
        pushFixture(authed.host, 'private/hello', 'latest', image, { username: 'tester', password: 'wrong' }),
        /HTTP 401/,
      );
      const pushed = await pushFixture(authed.host, 'private/hello', 'latest', image, {
        username: 'tester',
        password: 's3cret',
      });
      assert.equal(pushed.digest, image.manifestDigest);
      const basic = `Basic ${Buffer.from('tester:s3cret').toString('base64')}`;
      const got = await getManifest(authed.host, 'private/hello/manifests/latest', ALL_MANIFESTS, {
        authorization: basic,
      });
      assert.equal(got.digest, image.manifestDigest);
    });
  },
);

describe('pushFixture bearer auth (fake registry)', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];

  before(async () => {
    const uploads = new Map<string, Buffer>();
    const blobs = new Set<string>();
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const url = new URL(req.url ?? '/', base);
      const auth = req.headers.authorization ?? '';
      seen.push(`${req.method} ${url.pathname} ${auth}`);
      if (url.pathname === '/token') {
        const ok = auth === `Basic ${Buffer.from('u:p').toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(ok ? JSON.stringify({ token: `issued:${url.searchParams.get('scope')}` }) : '{}');
        return;
      }
      if (auth !== 'Bearer static-token' && !auth.startsWith('Bearer issued:repository:r/x:')) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${base}/token",service="fake",scope="repository:r/x:push,pull"`,
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const blob = /^\/v2\/r\/x\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
      if (req.method === 'HEAD' && blob) {
        res.writeHead(blobs.has(blob[1] ?? '') ? 200 : 404).end();
      } else if (req.method === 'POST' && url.pathname === '/v2/r/x/blobs/uploads/') {
        const id = String(uploads.size + 1);
        uploads.set(id, Buffer.alloc(0));
        res.writeHead(202, { location: `/v2/r/x/blobs/uploads/${id}?state=abc` }).end();
      } else if (req.method === 'PUT' && url.pathname.startsWith('/v2/r/x/blobs/uploads/')) {
        const digest = url.searchParams.get('digest') ?? '';
        const ok = url.searchParams.get('state') === 'abc' && sha256Digest(Buffer.concat(chunks)) === digest;
        if (ok) blobs.add(digest);
        res.writeHead(ok ? 201 : 400).end();
      } else if (req.method === 'PUT' && url.pathname.startsWith('/v2/r/x/manifests/')) {
        res.writeHead(201, { 'docker-content-digest': sha256Digest(Buffer.concat(chunks)) }).end();
      } else {
        res.writeHead(404).end();
      }
    };
    server = createServer((req, res) => {
      handle(req, res).catch(() => res.writeHead(500).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends a given bearer token', async () => {
    seen.length = 0;
    const image = await helloWorldImage();
    const pushed = await pushFixture(base.replace('http://', ''), 'r/x', 'latest', image, {
      bearer: 'static-token',
    });
    assert.equal(pushed.digest, image.manifestDigest);
    assert.ok(
      seen.length > 0 && seen.every((line) => line.endsWith(' Bearer static-token')),
      seen.join('\n'),
    );
  });

  it('follows a Bearer challenge to the token service with basic credentials', async () => {
    seen.length = 0;
    const image = await buildImage({ layers: [await layerTar({ f: 'x' })] });
    const pushed = await pushFixture(base, 'r/x', 'latest', image, { username: 'u', password: 'p' });
    assert.equal(pushed.digest, image.manifestDigest);
    assert.ok(seen.some((line) => line.startsWith('GET /token Basic ')));
    assert.ok(seen.some((line) => line.includes('Bearer issued:repository:r/x:push,pull')));
  });
});
