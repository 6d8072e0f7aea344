// Pulling an image whose layers are zstd-compressed
// (`application/vnd.oci.image.layer.v1.tar+zstd`). Node 20 has no zstd
// compressor, so the layers are compressed with the `zstd` binary (Debian's
// `zstd` package); without it the suite is skipped. The OCI manifest is built
// by hand and pushed with plain fetch calls to a `docker-registry`.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { docker } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';
import { api } from '../../helpers/http.js';
import {
  BUSYBOX_PATH,
  MEDIA_TYPES,
  bigLayer,
  buildImage,
  busyboxRootfsLayer,
  layerTar,
  readTarMap,
  sha256Digest,
  type FixtureImage,
} from '../../helpers/images.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';

const execFileAsync = promisify(execFile);

const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

const ZSTD = ((): string | undefined => {
  const found = spawnSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : undefined;
})();

interface Blob {
  mediaType: string;
  bytes: Buffer;
  digest: string;
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, bytes, digest: sha256Digest(bytes) };
}

/** Compresses with the zstd binary (through files: the output is binary). */
async function zstdCompress(dir: string, data: Buffer, args: string[] = []): Promise<Buffer> {
  const input = join(dir, `in-${Math.random().toString(36).slice(2)}`);
  await writeFile(input, data);
  try {
    await execFileAsync(ZSTD ?? 'zstd', ['-q', '-f', ...args, input, '-o', `${input}.zst`]);
    return await readFile(`${input}.zst`);
  } finally {
    await rm(input, { force: true });
    await rm(`${input}.zst`, { force: true });
  }
}

/** Monolithic blob upload: POST, then PUT with ?digest=. */
async function pushBlob(
  host: string,
  repo: string,
  b: Blob | { bytes: Buffer; digest: string },
): Promise<void> {
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202, await start.text());
  const url = new URL(start.headers.get('location') ?? '', `http://${host}`);
  url.searchParams.set('digest', b.digest);
  const put = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: b.bytes,
  });
  assert.equal(put.status, 201, await put.text());
}

/** Pushes the config and layer blobs and an OCI manifest over them; returns the manifest digest. */
async function pushOciImage(
  host: string,
  repo: string,
  tag: string,
  image: FixtureImage,
  layers: Blob[],
): Promise<string> {
  for (const layer of layers) await pushBlob(host, repo, layer);
  await pushBlob(host, repo, { bytes: image.config, digest: image.configDigest });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: image.configDigest, size: image.config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.bytes.length })),
    }),
  );
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': MEDIA_TYPES.ociManifest },
    body: manifest,
  });
  assert.equal(res.status, 201, await res.text());
  return sha256Digest(manifest);
}

describe(
  'zstd-compressed layers',
  {
    skip:
      ZSTD === undefined
        ? 'no zstd binary on PATH (install Debian package "zstd" to run these tests)'
        : false,
  },
  () => {
    let registry: TestRegistry;
    let daemon: TestDaemon;
    let work = '';
    let image: FixtureImage;
    let layers: Blob[] = [];
    let manifestDigest = '';
    let ref = '';
    let pushedManifestType = '';
    let pushedLayerTypes: string[] = [];

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'berth-zstd-'));
      registry = await startRegistry();
      daemon = await TestDaemon.start();
      const busybox = await busyboxRootfsLayer();
      const extra = await layerTar({
        'etc/zstd.conf': 'compressed=zstd\n',
        'srv/big.txt': Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join(''),
      });
      const top = await layerTar({ 'etc/top.conf': 'compressed=gzip\n' });
      // buildImage gives the config (diff_ids are digests of the uncompressed tars) and the gzip of `top`.
      image = await buildImage({ layers: [busybox, extra, top], config: { Cmd: ['cat', '/etc/zstd.conf'] } });
      // Layer 2 is two zstd frames back to back (as pzstd or an appending writer make them).
      const half = Math.floor(extra.length / 2);
      const twoFrames = Buffer.concat([
        await zstdCompress(work, extra.subarray(0, half)),
        await zstdCompress(work, extra.subarray(half), ['-19']),
      ]);
      const gzipTop = image.layers[2];
      assert.ok(gzipTop);
      layers = [
        blob(OCI_LAYER_ZSTD, await zstdCompress(work, busybox)),
        blob(OCI_LAYER_ZSTD, twoFrames),
        blob(MEDIA_TYPES.ociLayerGzip, gzipTop.gzip),
      ];
      assert.deepEqual([...(layers[0]?.bytes.subarray(0, 4) ?? [])], [0x28, 0xb5, 0x2f, 0xfd], 'zstd magic');
      manifestDigest = await pushOciImage(registry.host, 'zstd/app', 'v1', image, layers);
      ref = `${registry.host}/zstd/app:v1`;
    });
    after(async () => {
      await daemon?.cleanup();
      await registry?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('docker pull unpacks zstd layers', async () => {
      const res = await docker(daemon.host, ['pull', ref]);
      assert.equal(res.code, 0, res.stderr);
      for (const layer of layers)
        assert.match(res.stdout, new RegExp(`^${layer.digest.slice(7, 19)}: Pull complete$`, 'm'));
      assert.match(res.stdout, new RegExp(`^Digest: ${manifestDigest}$`, 'm'));
      assert.match(res.stdout, /^Status: Downloaded newer image for /m);
    });

    it('docker image inspect shows the config, the diff IDs and the unpacked files', async () => {
      const res = await docker(daemon.host, ['image', 'inspect', ref]);
      assert.equal(res.code, 0, res.stderr);
      const [info] = JSON.parse(res.stdout) as {
        Id: string;
        RepoDigests: string[];
        Config: { Cmd: string[] };
        RootFS: { Type: string; Layers: string[] };
        GraphDriver: { Data: { UpperDir: string; LowerDir: string } };
      }[];
      assert.ok(info);
      assert.equal(info.Id, image.configDigest);
      assert.deepEqual(info.RepoDigests, [`${registry.host}/zstd/app@${manifestDigest}`]);
      assert.deepEqual(info.Config.Cmd, ['cat', '/etc/zstd.conf']);
      assert.deepEqual(
        info.RootFS.Layers,
        image.layers.map((l) => l.diffId),
      );
      // LowerDir lists the layers below the top one, topmost first.
      const [extraDir, busyboxDir] = info.GraphDriver.Data.LowerDir.split(':');
      assert.deepEqual(await readFile(join(busyboxDir ?? '', 'bin/busybox')), await readFile(BUSYBOX_PATH));
      assert.equal(await readFile(join(extraDir ?? '', 'etc/zstd.conf'), 'utf8'), 'compressed=zstd\n');
      assert.equal(
        await readFile(join(info.GraphDriver.Data.UpperDir, 'etc/top.conf'), 'utf8'),
        'compressed=gzip\n',
      );
    });

    it('docker save gives back the exact uncompressed layers', async () => {
      const out = join(work, 'saved.tar');
      const res = await docker(daemon.host, ['save', '-o', out, ref]);
      assert.equal(res.code, 0, res.stderr);
      const entries = await readTarMap(await readFile(out));
      for (const layer of image.layers) {
        const saved = entries.get(`blobs/sha256/${layer.diffId.slice(7)}`);
        assert.ok(saved, `layer ${layer.diffId} is in the archive`);
        assert.ok(saved.data.equals(layer.uncompressed));
      }
    });

    it('docker push of the pulled image keeps each layer blob with a matching media type', async (t) => {
      const copy = `${registry.host}/zstd/copy:v1`;
      assert.equal((await docker(daemon.host, ['tag', ref, copy])).code, 0);
      const res = await docker(daemon.host, ['push', copy]);
      assert.equal(res.code, 0, res.stderr);
      const got = await fetch(`http://${registry.host}/v2/zstd/copy/manifests/v1`, {
        headers: { accept: `${MEDIA_TYPES.ociManifest}, ${MEDIA_TYPES.dockerManifest}` },
      });
      assert.equal(got.status, 200);
      const manifest = (await got.json()) as {
        config: { digest: string };
        layers: { mediaType: string; digest: string; size: number }[];
      };
      t.diagnostic(
        `pushed layers: ${manifest.layers.map((l) => `${l.mediaType} ${l.digest.slice(7, 19)}`).join(', ')}`,
      );
      assert.equal(manifest.config.digest, image.configDigest);
      assert.equal(manifest.layers.length, 3);
      pushedManifestType = got.headers.get('content-type') ?? '';
      pushedLayerTypes = manifest.layers.map((l) => l.mediaType);
      for (const layer of manifest.layers) {
        const blobRes = await fetch(`http://${registry.host}/v2/zstd/copy/blobs/${layer.digest}`);
        const bytes = Buffer.from(await blobRes.arrayBuffer());
        assert.equal(bytes.length, layer.size);
        const zstd = bytes.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
        const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
        if (zstd) assert.match(layer.mediaType, /\+zstd$/, `${layer.digest} is zstd`);
        else if (gzip) assert.match(layer.mediaType, /(\+gzip|\.tar\.gzip)$/, `${layer.digest} is gzip`);
        else assert.match(layer.mediaType, /tar$/, `${layer.digest} is a plain tar`);
      }
    });

    it('the pushed manifest is an OCI manifest (Docker schema 2 cannot carry zstd layers)', () => {
      assert.ok(pushedLayerTypes.some((t) => t.endsWith('+zstd')));
      assert.equal(pushedManifestType, MEDIA_TYPES.ociManifest);
    });

    it('a truncated zstd layer fails the pull and leaves no image and no temp dirs', async (t) => {
      // A layer no image has yet (a present chain would not be downloaded at all).
      const tar = await bigLayer(256 * 1024, 'zstd-broken');
      const broken = await buildImage({ layers: [tar], config: { Cmd: ['echo', 'broken'] } });
      const full = await zstdCompress(work, tar);
      assert.ok(full.length > 8192);
      const truncated = blob(OCI_LAYER_ZSTD, full.subarray(0, full.length - 1024));
      await pushOciImage(registry.host, 'zstd/broken', 'v1', broken, [truncated]);
      const res = await api(
        daemon.socket,
        'POST',
        `/images/create?fromImage=${registry.host}/zstd/broken&tag=v1`,
      );
      assert.equal(res.status, 200, 'the error comes in the stream, after progress');
      const messages = res.body
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { error?: string; status?: string });
      const error = messages.find((m) => m.error !== undefined)?.error ?? '';
      t.diagnostic(`pull error: ${error}`);
      assert.match(error, /zstd|unexpected end|diff ID|EOF/i);
      assert.ok(!messages.some((m) => m.status?.startsWith('Status:')));
      assert.equal(
        (await api(daemon.socket, 'GET', `/images/${registry.host}/zstd/broken:v1/json`)).status,
        404,
      );
      const layerDirs = await readdir(join(daemon.dataRoot, 'image/layers/layers'));
      assert.deepEqual(
        layerDirs.filter((d) => d.startsWith('tmp-')),
        [],
      );
    });
  },
);
