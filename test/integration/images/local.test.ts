import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { berth, docker } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';
import { api, errorMessageOf } from '../../helpers/http.js';
import {
  busyboxImage,
  busyboxRootfsLayer,
  buildImage,
  dockerSaveTarball,
  layerTar,
  legacyDockerSaveTarball,
  ociLayoutTarball,
  readTarMap,
  rootfsTarball,
  sha256Digest,
} from '../../helpers/images.js';

const execFileAsync = promisify(execFile);

interface Summary {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Size: number;
  Labels: Record<string, string> | null;
}

describe('images without a registry: load, save, import, tag, remove, prune', () => {
  let daemon: TestDaemon;
  let busyboxId = '';
  before(async () => {
    daemon = await TestDaemon.start();
  });
  after(async () => {
    await daemon.cleanup();
  });

  const list = async (): Promise<Summary[]> =>
    JSON.parse((await api(daemon.socket, 'GET', '/images/json')).body) as Summary[];

  it('docker load takes a docker-save tarball and docker images lists it', async () => {
    const image = await busyboxImage({ config: { Labels: { 'org.test': 'yes' } } });
    busyboxId = image.configDigest;
    const tarball = await dockerSaveTarball([{ image, repoTags: ['busybox:latest', 'busybox:1.36'] }]);
    const tarPath = join(daemon.dir, 'busybox.tar');
    await writeFile(tarPath, tarball);
    const res = await docker(daemon.host, ['load', '-i', tarPath]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Loaded image: busybox:latest/);
    assert.match(res.stdout, /Loaded image: busybox:1\.36/);

    const images = await docker(daemon.host, ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.equal(images.code, 0, images.stderr);
    const lines = images.stdout.trim().split('\n').sort();
    assert.deepEqual(lines, [
      `busybox:1.36 ${busyboxId.slice(7, 19)}`,
      `busybox:latest ${busyboxId.slice(7, 19)}`,
    ]);
    const summary = (await list()).find((s) => s.Id === busyboxId);
    assert.ok(summary);
    assert.deepEqual(summary.Labels, { 'org.test': 'yes' });
    assert.ok(summary.Size > 500_000, 'size counts the unpacked busybox binary');
  });

  it('image inspect shows config, rootfs and layer dirs', async () => {
    const res = await docker(daemon.host, ['image', 'inspect', 'busybox']);
    assert.equal(res.code, 0, res.stderr);
    const [info] = JSON.parse(res.stdout) as {
      Id: string;
      RepoTags: string[];
      Config: { Cmd: string[]; Env: string[] };
      Os: string;
      RootFS: { Type: string; Layers: string[] };
      GraphDriver: { Name: string; Data: { UpperDir: string } };
    }[];
    assert.equal(info?.Id, busyboxId);
    assert.deepEqual(info?.RepoTags.sort(), ['busybox:1.36', 'busybox:latest']);
    assert.deepEqual(info?.Config.Cmd, ['sh']);
    assert.equal(info?.Os, 'linux');
    assert.equal(info?.RootFS.Type, 'layers');
    assert.equal(info?.GraphDriver.Name, 'overlay2');
    const busybox = await readFile(join(info?.GraphDriver.Data.UpperDir ?? '', 'bin/busybox'));
    assert.deepEqual(busybox, await readFile('/bin/busybox'), 'the layer is unpacked where inspect says');
    const byId = await docker(daemon.host, [
      'image',
      'inspect',
      '--format',
      '{{.Id}}',
      busyboxId.slice(7, 19),
    ]);
    assert.equal(byId.stdout.trim(), busyboxId);
  });

  it('refuses unknown and malformed names with Docker messages', async () => {
    const missing = await api(daemon.socket, 'GET', '/images/nosuch:latest/json');
    assert.equal(missing.status, 404);
    assert.equal(errorMessageOf(missing), 'No such image: nosuch:latest');
    const bad = await api(daemon.socket, 'POST', '/images/busybox/tag?repo=Bad_Name&tag=x');
    assert.equal(bad.status, 400);
    const viaCli = await docker(daemon.host, ['image', 'inspect', 'nosuch']);
    assert.notEqual(viaCli.code, 0);
    assert.match(viaCli.stderr, /No such image: nosuch:latest/);
    const rmi = await docker(daemon.host, ['rmi', 'nosuch']);
    assert.match(rmi.stderr, /Error response from daemon: No such image: nosuch:latest/);
    // Pushing what is not here fails before any registry is asked, in moby's words.
    const push = await docker(daemon.host, ['push', 'nosuch:v1']);
    assert.notEqual(push.code, 0);
    assert.match(push.stdout, /^The push refers to repository \[docker\.io\/library\/nosuch\]$/m);
    assert.match(push.stderr, /tag does not exist: nosuch:v1/);
    const pushAll = await docker(daemon.host, ['push', '--all-tags', 'nosuch']);
    assert.notEqual(pushAll.code, 0);
    assert.match(pushAll.stderr, /no tags to push for nosuch/);
  });

  it('docker tag, history and rmi behave as Docker', async () => {
    assert.equal((await docker(daemon.host, ['tag', 'busybox', 'example.com/team/tool:v1'])).code, 0);
    const history = await docker(daemon.host, ['history', '--format', '{{.ID}} {{.Size}}', 'busybox']);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout.split('\n')[0] ?? '', new RegExp(`^${busyboxId.slice(7, 19)} `));

    const untag = await docker(daemon.host, ['rmi', 'example.com/team/tool:v1']);
    assert.equal(untag.code, 0, untag.stderr);
    assert.equal(untag.stdout.trim(), 'Untagged: example.com/team/tool:v1');

    const twoTags = await api(daemon.socket, 'DELETE', `/images/${busyboxId.slice(7, 19)}`);
    assert.equal(twoTags.status, 409, 'two tags: deleting by ID must be forced, as in moby');
    assert.equal((await docker(daemon.host, ['rmi', 'busybox:1.36'])).code, 0);
    const byId = await api(daemon.socket, 'DELETE', `/images/${busyboxId.slice(7, 19)}`);
    assert.equal(byId.status, 200, 'one tag left: deleting by ID untags and deletes');
    const records = JSON.parse(byId.body) as { Untagged?: string; Deleted?: string }[];
    assert.ok(records.some((r) => r.Untagged === 'busybox:latest'));
    assert.ok(records.some((r) => r.Deleted === busyboxId));
    assert.equal((await list()).length, 0);
  });

  it('deleting by ID an image tagged in two repositories needs force', async () => {
    const image = await busyboxImage();
    const tarPath = join(daemon.dir, 'two.tar');
    await writeFile(tarPath, await dockerSaveTarball([{ image, repoTags: ['one:latest', 'two:latest'] }]));
    assert.equal((await docker(daemon.host, ['load', '-q', '-i', tarPath])).code, 0);
    const refused = await api(daemon.socket, 'DELETE', `/images/${image.configDigest}`);
    assert.equal(refused.status, 409);
    assert.match(
      errorMessageOf(refused),
      /^conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories$/,
    );
    const forced = await docker(daemon.host, ['rmi', '-f', image.configDigest.slice(7)]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /Untagged: one:latest/);
    assert.match(forced.stdout, /Untagged: two:latest/);
    assert.match(forced.stdout, new RegExp(`Deleted: ${image.configDigest}`));
  });

  it('docker save writes a tarball docker load reads back, and the layers match', async () => {
    const image = await buildImage({
      layers: [
        await busyboxRootfsLayer(),
        await layerTar({ 'etc/motd': 'hello\n', 'bin/cat': { type: 'whiteout' } }),
      ],
      config: { Cmd: ['cat', '/etc/motd'] },
    });
    const tarPath = join(daemon.dir, 'two-layer.tar');
    await writeFile(tarPath, await dockerSaveTarball([{ image, repoTags: ['layered:1'] }]));
    assert.equal((await docker(daemon.host, ['load', '-i', tarPath])).code, 0);

    const out = join(daemon.dir, 'saved.tar');
    const saved = await docker(daemon.host, ['save', '-o', out, 'layered:1']);
    assert.equal(saved.code, 0, saved.stderr);
    const entries = await readTarMap(await readFile(out));
    const manifest = JSON.parse(entries.get('manifest.json')?.data?.toString() ?? '[]') as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    assert.deepEqual(manifest[0]?.RepoTags, ['layered:1']);
    assert.equal(manifest[0]?.Config, `blobs/sha256/${image.configDigest.slice(7)}`);
    assert.deepEqual(
      manifest[0]?.Layers,
      image.layers.map((l) => `blobs/sha256/${l.diffId.slice(7)}`),
    );
    for (const [i, layer] of image.layers.entries()) {
      assert.deepEqual(
        entries.get(manifest[0]?.Layers[i] ?? '')?.data,
        layer.uncompressed,
        'layer bytes are exact',
      );
    }
    assert.ok(entries.has('index.json'));
    assert.ok(entries.has('oci-layout'));

    assert.equal((await docker(daemon.host, ['rmi', 'layered:1'])).code, 0);
    const reload = await docker(daemon.host, ['load', '-i', out]);
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, /Loaded image: layered:1/);
  });

  it('docker save of a layer modified on disk fails instead of writing a wrong tarball', async () => {
    const image = await buildImage({
      layers: [await busyboxRootfsLayer(), await layerTar({ 'etc/motd': 'original text\n' })],
    });
    const tarPath = join(daemon.dir, 'tamper.tar');
    await writeFile(tarPath, await dockerSaveTarball([{ image, repoTags: ['tamper:1'] }]));
    assert.equal((await docker(daemon.host, ['load', '-i', tarPath])).code, 0);
    const out = join(daemon.dir, 'tamper-saved.tar');
    assert.equal((await docker(daemon.host, ['save', '-o', out, 'tamper:1'])).code, 0, 'untouched: saves');

    const inspect = JSON.parse((await api(daemon.socket, 'GET', '/images/tamper:1/json')).body) as {
      GraphDriver: { Data: { UpperDir: string } };
    };
    await writeFile(join(inspect.GraphDriver.Data.UpperDir, 'etc/motd'), 'ORIGINAL TEXT\n'); // same size
    const saved = await docker(daemon.host, ['save', '-o', out, 'tamper:1']);
    assert.notEqual(saved.code, 0, 'the modified layer is caught by its digest');
    assert.equal((await docker(daemon.host, ['rmi', 'tamper:1'])).code, 0);
  });

  it('loads legacy docker-save tarballs and OCI layouts', async () => {
    const image = await busyboxImage({ config: { Cmd: ['echo', 'legacy'] } });
    const legacy = join(daemon.dir, 'legacy.tar');
    await writeFile(legacy, await legacyDockerSaveTarball([{ image, repoTags: ['legacy:old'] }]));
    const a = await docker(daemon.host, ['load', '-i', legacy]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /Loaded image: legacy:old/);

    const oci = await busyboxImage({ config: { Cmd: ['echo', 'oci'] } });
    const layout = join(daemon.dir, 'oci.tar');
    await writeFile(layout, await ociLayoutTarball([{ image: oci, refName: 'docker.io/library/ocimg:v2' }]));
    const b = await berth(daemon.host, ['load', '-i', layout]);
    assert.equal(b.code, 0, b.stderr);
    const inspected = await docker(daemon.host, [
      'image',
      'inspect',
      '--format',
      '{{json .Config.Cmd}}',
      'ocimg:v2',
    ]);
    assert.equal(inspected.stdout.trim(), '["echo","oci"]');
  });

  it('docker load reads archives compressed with gzip, zstd, xz and bzip2', async () => {
    const image = await busyboxImage({ config: { Cmd: ['echo', 'compressed'] } });
    const plain = join(daemon.dir, 'compressed.tar');
    await writeFile(plain, await dockerSaveTarball([{ image, repoTags: ['packed:plain'] }]));
    for (const [tool, suffix] of [
      ['gzip', 'gz'],
      ['zstd', 'zst'],
      ['xz', 'xz'],
      ['bzip2', 'bz2'],
    ] as const) {
      const packed = `${plain}.${suffix}`;
      await execFileAsync('sh', ['-c', `${tool} -c "$1" > "$2"`, 'sh', plain, packed]);
      const res = await docker(daemon.host, ['load', '-i', packed]);
      assert.equal(res.code, 0, `${tool}: ${res.stderr}`);
      assert.match(res.stdout, /Loaded image: packed:plain/, tool);
      assert.equal((await docker(daemon.host, ['rmi', 'packed:plain'])).code, 0);
    }
    // A damaged compressed archive is refused as bad input, and leaves nothing behind.
    const good = await readFile(`${plain}.gz`);
    const broken = Buffer.concat([good.subarray(0, 20), Buffer.alloc(4096, 0x55), good.subarray(4116)]);
    const res = await api(daemon.socket, 'POST', '/images/load', { body: broken });
    assert.equal(res.status, 400, res.body);
    assert.match(errorMessageOf(res), /^invalid archive: /);
    const xzBroken = Buffer.concat([(await readFile(`${plain}.xz`)).subarray(0, 64), Buffer.alloc(64, 1)]);
    const res2 = await api(daemon.socket, 'POST', '/images/load', { body: xzBroken });
    assert.equal(res2.status, 400, res2.body);
    assert.match(errorMessageOf(res2), /^invalid archive: xz: /);
    assert.equal((await docker(daemon.host, ['image', 'inspect', 'packed:plain'])).code, 1);
  });

  it('docker import makes a one-layer image from a rootfs tarball, with changes', async () => {
    const tarPath = join(daemon.dir, 'rootfs.tar.gz');
    await writeFile(tarPath, await rootfsTarball({ gzip: true }));
    const res = await docker(daemon.host, [
      'import',
      '-c',
      'CMD ["sh"]',
      '-c',
      'ENV HELLO=world',
      '-m',
      'imported',
      tarPath,
      'imported:v1',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    const inspect = await docker(daemon.host, [
      'image',
      'inspect',
      '--format',
      '{{json .Config.Cmd}} {{json .Config.Env}} {{.Comment}} {{len .RootFS.Layers}}',
      'imported:v1',
    ]);
    assert.equal(inspect.stdout.trim(), '["sh"] ["HELLO=world"] imported 1');
  });

  it('docker import reads rootfs tarballs compressed with xz and bzip2 too', async () => {
    const plain = join(daemon.dir, 'rootfs-plain.tar');
    await writeFile(plain, await rootfsTarball());
    const ids = new Set<string>();
    for (const [tool, suffix] of [
      ['xz', 'xz'],
      ['bzip2', 'bz2'],
    ] as const) {
      const packed = `${plain}.${suffix}`;
      await execFileAsync('sh', ['-c', `${tool} -c "$1" > "$2"`, 'sh', plain, packed]);
      const res = await docker(daemon.host, ['import', packed, `imported:${tool}`]);
      assert.equal(res.code, 0, `${tool}: ${res.stderr}`);
      const diff = await docker(daemon.host, [
        'image',
        'inspect',
        '--format',
        '{{index .RootFS.Layers 0}}',
        `imported:${tool}`,
      ]);
      ids.add(diff.stdout.trim());
      assert.equal((await docker(daemon.host, ['rmi', `imported:${tool}`])).code, 0);
    }
    // Both decompress to the same tar: one diff ID, that of the plain tarball.
    assert.deepEqual([...ids], [sha256Digest(await readFile(plain))]);
  });

  it('docker image prune removes dangling images; -a removes unused ones', async () => {
    const image = await busyboxImage({ config: { Cmd: ['echo', 'dangling'] } });
    const tarPath = join(daemon.dir, 'dangling.tar');
    await writeFile(tarPath, await dockerSaveTarball([{ image, repoTags: [] }]));
    const loaded = await docker(daemon.host, ['load', '-i', tarPath]);
    assert.match(loaded.stdout, /Loaded image ID: sha256:/);
    const dangling = await docker(daemon.host, ['images', '--filter', 'dangling=true', '-q', '--no-trunc']);
    assert.equal(dangling.stdout.trim(), image.configDigest);
    const pruned = await docker(daemon.host, ['image', 'prune', '-f']);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, new RegExp(`deleted: ${image.configDigest}`));
    assert.match(pruned.stdout, /Total reclaimed space: /);
    const all = await docker(daemon.host, ['image', 'prune', '-a', '-f']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal((await list()).length, 0);
    const df = JSON.parse((await api(daemon.socket, 'GET', '/system/df')).body) as {
      Images: unknown[];
      LayersSize: number;
    };
    assert.deepEqual(df.Images, []);
  });

  it('publishes image events with Docker attributes', async () => {
    // The docker CLI sends --until in whole seconds: end the window just after now.
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const res = await docker(daemon.host, [
      'events',
      '--since',
      '10m',
      '--until',
      until,
      '--filter',
      'type=image',
      '--format',
      '{{.Action}}',
    ]);
    const actions = new Set(res.stdout.trim().split('\n'));
    for (const a of ['load', 'tag', 'untag', 'delete', 'import', 'save', 'prune'])
      assert.ok(actions.has(a), `image ${a} event`);
  });

  it('refuses a hostile layer with a clear error and leaves the host untouched', async () => {
    const evil = await buildImage({
      layers: [await layerTar({ '../../../../tmp/berth-evil': 'x' }, { parents: false })],
    });
    const tarPath = join(daemon.dir, 'evil.tar');
    await writeFile(tarPath, await dockerSaveTarball([{ image: evil, repoTags: ['evil:1'] }]));
    const res = await docker(daemon.host, ['load', '-i', tarPath]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /evil|outside|path/i);
    await assert.rejects(readFile('/tmp/berth-evil'), { code: 'ENOENT' });
    assert.equal((await api(daemon.socket, 'GET', '/images/evil:1/json')).status, 404);
  });
});
