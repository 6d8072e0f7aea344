import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth, docker } from '../../helpers/cli.js';
import { TEST_BIN, TestDaemon } from '../../helpers/daemon.js';
import { api, errorMessageOf } from '../../helpers/http.js';
import {
  buildImage,
  buildIndex,
  busyboxImage,
  busyboxRootfsLayer,
  layerTar,
  readTarMap,
  type FixtureImage,
} from '../../helpers/images.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { pushFixture } from '../../helpers/registry-push.js';

describe('pull and push with a real registry', () => {
  let daemon: TestDaemon;
  let registry: TestRegistry;
  let image: FixtureImage;
  let home = '';

  before(async () => {
    registry = await startRegistry();
    daemon = await TestDaemon.start();
    home = await mkdtemp(join(tmpdir(), 'berth-home-'));
    image = await buildImage({
      layers: [
        await busyboxRootfsLayer(),
        await layerTar({ 'etc/app.conf': 'a=1\n' }),
        await layerTar({ 'srv/data': 'x'.repeat(4096) }),
      ],
      config: { Cmd: ['sh'], Labels: { 'org.test.pull': 'yes' } },
    });
    await pushFixture(registry.host, 'team/app', 'v1', image);
  });
  after(async () => {
    await daemon?.cleanup();
    await registry?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('docker pull brings a multi-layer image with Docker progress lines', async () => {
    const res = await docker(daemon.host, ['pull', `${registry.host}/team/app:v1`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^v1: Pulling from team\/app$/m);
    for (const layer of image.layers)
      assert.match(res.stdout, new RegExp(`^${layer.digest.slice(7, 19)}: Pull complete$`, 'm'));
    assert.match(res.stdout, /^Digest: sha256:[0-9a-f]{64}$/m);
    assert.match(
      res.stdout,
      new RegExp(
        `^Status: Downloaded newer image for ${registry.host.replace(/\./g, '\\.')}/team/app:v1$`,
        'm',
      ),
    );
    const inspect = await docker(daemon.host, [
      'image',
      'inspect',
      '--format',
      '{{.Id}} {{len .RootFS.Layers}} {{index .RepoDigests 0}}',
      `${registry.host}/team/app:v1`,
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const [id, layers, digest] = inspect.stdout.trim().split(' ');
    assert.equal(id, image.configDigest);
    assert.equal(layers, '3');
    assert.equal(digest, `${registry.host}/team/app@${image.manifestDigest}`);
  });

  it('a second pull is up to date and reuses every layer', async () => {
    const res = await docker(daemon.host, ['pull', `${registry.host}/team/app:v1`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Status: Image is up to date for/);
    assert.doesNotMatch(res.stdout, /Downloading/);
  });

  it('docker save of a pulled image rebuilds each layer tar exactly from the unpacked layer', async () => {
    const out = join(home, 'pulled.tar');
    const saved = await docker(daemon.host, ['save', '-o', out, `${registry.host}/team/app:v1`]);
    assert.equal(saved.code, 0, saved.stderr);
    const entries = await readTarMap(await readFile(out));
    const manifest = JSON.parse(entries.get('manifest.json')?.data?.toString() ?? '[]') as {
      Layers: string[];
    }[];
    assert.equal(manifest[0]?.Layers.length, image.layers.length);
    for (const [i, layer] of image.layers.entries()) {
      const data = entries.get(manifest[0]?.Layers[i] ?? '')?.data;
      assert.ok(data?.equals(layer.uncompressed), `layer ${i} is the original uncompressed tar`);
      assert.equal(
        `sha256:${createHash('sha256')
          .update(data ?? '')
          .digest('hex')}`,
        layer.diffId,
      );
    }
  });

  it('pulls by digest', async () => {
    const res = await docker(daemon.host, ['pull', `${registry.host}/team/app@${image.manifestDigest}`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`Digest: ${image.manifestDigest}`));
  });

  it('docker pull --all-tags pulls every tag of the repository, with one status line', async () => {
    const other = await busyboxImage({ config: { Cmd: ['echo', 'v3'] } });
    await pushFixture(registry.host, 'team/all', 'v2', image);
    await pushFixture(registry.host, 'team/all', 'v3', other);
    const res = await docker(daemon.host, ['pull', '--all-tags', `${registry.host}/team/all`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^v2: Pulling from team\/all$/m);
    assert.match(res.stdout, /^v3: Pulling from team\/all$/m);
    const status = res.stdout.split('\n').filter((l) => l.startsWith('Status: '));
    assert.deepEqual(status, [`Status: Downloaded newer image for ${registry.host}/team/all`]);
    for (const [tag, id] of [
      ['v2', image.configDigest],
      ['v3', other.configDigest],
    ] as const) {
      const inspect = await docker(daemon.host, [
        'image',
        'inspect',
        '--format',
        '{{.Id}}',
        `${registry.host}/team/all:${tag}`,
      ]);
      assert.equal(inspect.stdout.trim(), id, tag);
    }
    // Again with berth's CLI: nothing new.
    const again = await berth(daemon.host, ['pull', '-a', `${registry.host}/team/all`]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      new RegExp(`^Status: Image is up to date for ${registry.host.replace(/\./g, '\\.')}/team/all$`, 'm'),
    );
    // A bare name without --all-tags is still just :latest, which this repository lacks.
    const latest = await docker(daemon.host, ['pull', `${registry.host}/team/all`]);
    assert.notEqual(latest.code, 0);
    assert.match(latest.stderr, /manifest unknown|not found/);
  });

  it('pulls a single-platform image whatever --platform asks, with a warning as Docker', async () => {
    const res = await docker(daemon.host, [
      'pull',
      '--platform',
      'linux/s390x',
      `${registry.host}/team/app:v1`,
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /^WARNING: image with reference \S+\/team\/app was found but does not match the specified platform: wanted linux\/s390x, actual: linux\/\w+$/m,
    );
    const plain = await docker(daemon.host, ['pull', `${registry.host}/team/app:v1`]);
    assert.doesNotMatch(plain.stdout, /WARNING/);
  });

  it('picks the host platform from a multi-platform index', async () => {
    const amd = await busyboxImage({ config: { Cmd: ['echo', 'amd64'] } });
    const arm = await buildImage({
      layers: [await busyboxRootfsLayer()],
      architecture: 'arm64',
      variant: 'v8',
      config: { Cmd: ['echo', 'arm64'] },
    });
    const index = buildIndex([
      { image: arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { image: amd, platform: { os: 'linux', architecture: 'amd64' } },
    ]);
    await pushFixture(registry.host, 'multi/arch', 'latest', { index, images: [arm, amd] });
    const res = await docker(daemon.host, ['pull', `${registry.host}/multi/arch`]);
    assert.equal(res.code, 0, res.stderr);
    const cmd = await docker(daemon.host, [
      'image',
      'inspect',
      '--format',
      '{{json .Config.Cmd}} {{.Architecture}}',
      `${registry.host}/multi/arch`,
    ]);
    assert.equal(cmd.stdout.trim(), '["echo","amd64"] amd64');
    const arm64 = await api(
      daemon.socket,
      'POST',
      `/images/create?fromImage=${registry.host}/multi/arch&tag=latest&platform=linux/arm64`,
    );
    assert.equal(arm64.status, 200);
    const dist = JSON.parse(
      (await api(daemon.socket, 'GET', `/distribution/${registry.host}/multi/arch:latest/json`)).body,
    ) as {
      Descriptor: { digest: string };
      Platforms: { architecture: string }[];
    };
    assert.equal(dist.Descriptor.digest, index.digest);
    assert.deepEqual(dist.Platforms.map((p) => p.architecture).sort(), ['amd64', 'arm64']);
  });

  it('reports a missing image as Docker does', async () => {
    const res = await docker(daemon.host, ['pull', `${registry.host}/nope/missing:v9`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /not found|does not exist|manifest unknown/);
    const raw = await api(
      daemon.socket,
      'POST',
      `/images/create?fromImage=${registry.host}/nope/missing&tag=v9`,
    );
    assert.equal(raw.status, 404, 'nothing streamed yet: the status says it');
    assert.match(errorMessageOf(raw), /^manifest for .*nope\/missing:v9 not found: manifest unknown/);
  });

  it('docker tag + docker push to another repository, then pull it back into a fresh daemon', async () => {
    assert.equal(
      (await docker(daemon.host, ['tag', `${registry.host}/team/app:v1`, `${registry.host}/copies/app:c1`]))
        .code,
      0,
    );
    const push = await docker(daemon.host, ['push', `${registry.host}/copies/app:c1`]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(
      push.stdout,
      new RegExp(`The push refers to repository \\[${registry.host.replace(/\./g, '\\.')}/copies/app\\]`),
    );
    assert.match(push.stdout, /Mounted from team\/app|Layer already exists|Pushed/);
    assert.match(push.stdout, /^c1: digest: sha256:[0-9a-f]{64} size: \d+$/m);

    const fresh = await TestDaemon.start();
    try {
      const pulled = await docker(fresh.host, ['pull', `${registry.host}/copies/app:c1`]);
      assert.equal(pulled.code, 0, pulled.stderr);
      const id = await docker(fresh.host, [
        'image',
        'inspect',
        '--format',
        '{{.Id}}',
        `${registry.host}/copies/app:c1`,
      ]);
      assert.equal(id.stdout.trim(), image.configDigest, 'the pushed image is the same image');
    } finally {
      await fresh.cleanup();
    }
  });

  it('pushes a loaded (uncompressed) image, compressing its layers', async () => {
    const local = await busyboxImage({ config: { Cmd: ['echo', 'local'] } });
    const { dockerSaveTarball } = await import('../../helpers/images.js');
    const { writeFile } = await import('node:fs/promises');
    const tarPath = join(daemon.dir, 'local.tar');
    await writeFile(
      tarPath,
      await dockerSaveTarball([{ image: local, repoTags: [`${registry.host}/local/img:1`] }]),
    );
    assert.equal((await docker(daemon.host, ['load', '-i', tarPath])).code, 0);
    const push = await berth(daemon.host, ['push', `${registry.host}/local/img:1`]);
    assert.equal(push.code, 0, push.stderr);
    const manifest = await fetch(`http://${registry.host}/v2/local/img/manifests/1`, {
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    const body = (await manifest.json()) as { layers: { mediaType: string }[]; config: { digest: string } };
    assert.equal(body.config.digest, local.configDigest);
    assert.deepEqual(
      body.layers.map((l) => l.mediaType),
      ['application/vnd.docker.image.rootfs.diff.tar.gzip'],
    );
  });

  it('publishes pull and push events', async () => {
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
      '{{.Action}} {{.Actor.ID}}',
    ]);
    assert.match(res.stdout, new RegExp(`^pull ${registry.host.replace(/\./g, '\\.')}/team/app:v1$`, 'm'));
    assert.match(res.stdout, new RegExp(`^push ${registry.host.replace(/\./g, '\\.')}/copies/app:c1$`, 'm'));
  });

  it('refuses bad pull input with 400', async () => {
    const bad = await api(daemon.socket, 'POST', '/images/create?fromImage=bad/Upper');
    assert.equal(bad.status, 400);
    assert.match(errorMessageOf(bad), /invalid reference format/);
    const none = await api(daemon.socket, 'POST', '/images/create');
    assert.equal(none.status, 400);
    const badAuth = await api(
      daemon.socket,
      'POST',
      `/images/create?fromImage=${registry.host}/team/app&tag=v1`,
      {
        headers: { 'X-Registry-Auth': '!!!not-base64-json' },
      },
    );
    assert.equal(badAuth.status, 400);
  });
});

describe('registry authentication', () => {
  let daemon: TestDaemon;
  let registry: TestRegistry;
  let dockerConfig = '';

  before(async () => {
    registry = await startRegistry({ auth: { username: 'tester', password: 's3cret' } });
    daemon = await TestDaemon.start();
    dockerConfig = await mkdtemp(join(tmpdir(), 'berth-docker-auth-'));
    await pushFixture(registry.host, 'private/app', 'v1', await busyboxImage(), {
      username: 'tester',
      password: 's3cret',
    });
  });
  after(async () => {
    await daemon?.cleanup();
    await registry?.stop();
    await rm(dockerConfig, { recursive: true, force: true });
  });

  it('refuses anonymous pulls from a basic-auth registry with 401', async () => {
    // The docker CLI answers a 401 by prompting for a login, so the refusal is checked on the API and with berth.
    const raw = await api(
      daemon.socket,
      'POST',
      `/images/create?fromImage=${registry.host}/private/app&tag=v1`,
    );
    assert.equal(raw.status, 401);
    assert.match(errorMessageOf(raw), /unauthorized: authentication required/);
    const res = await berth(daemon.host, ['pull', `${registry.host}/private/app:v1`], {
      env: { DOCKER_CONFIG: dockerConfig },
    });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /unauthorized: authentication required/);
  });

  it('docker login checks credentials through POST /auth; pull and push then work', async () => {
    const env = { DOCKER_CONFIG: dockerConfig };
    const bad = await docker(daemon.host, ['login', '-u', 'tester', '--password-stdin', registry.host], {
      env,
      input: 'wrong\n',
    });
    assert.notEqual(bad.code, 0);
    const good = await docker(daemon.host, ['login', '-u', 'tester', '--password-stdin', registry.host], {
      env,
      input: 's3cret\n',
    });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Login Succeeded/);
    const pull = await docker(daemon.host, ['pull', `${registry.host}/private/app:v1`], { env });
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(
      (
        await docker(
          daemon.host,
          ['tag', `${registry.host}/private/app:v1`, `${registry.host}/private/copy:v1`],
          { env },
        )
      ).code,
      0,
    );
    const push = await docker(daemon.host, ['push', `${registry.host}/private/copy:v1`], { env });
    assert.equal(push.code, 0, push.stderr);
  });

  it('berth login stores credentials where docker keeps them, and berth pull uses them', async () => {
    const env = { DOCKER_CONFIG: dockerConfig };
    await rm(join(dockerConfig, 'config.json'), { force: true });
    const login = await berth(daemon.host, ['login', '-u', 'tester', '--password-stdin', registry.host], {
      env,
      input: 's3cret\n',
    });
    assert.equal(login.code, 0, login.stderr);
    const { readFile } = await import('node:fs/promises');
    const config = JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    assert.equal(Buffer.from(config.auths[registry.host]?.auth ?? '', 'base64').toString(), 'tester:s3cret');
    assert.equal((await docker(daemon.host, ['rmi', `${registry.host}/private/app:v1`], { env })).code, 0);
    const pull = await berth(daemon.host, ['pull', `${registry.host}/private/app:v1`], { env });
    assert.equal(pull.code, 0, pull.stderr);
    const logout = await berth(daemon.host, ['logout', registry.host], { env });
    assert.equal(logout.code, 0, logout.stderr);
  });
  it('shares credentials with the docker CLI through a credential helper (credsStore)', async () => {
    const creds = await mkdtemp(join(tmpdir(), 'berth-creds-'));
    const helperConfig = await mkdtemp(join(tmpdir(), 'berth-docker-helper-'));
    try {
      const { writeFile, readFile, readdir } = await import('node:fs/promises');
      await writeFile(join(helperConfig, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
      const env = {
        DOCKER_CONFIG: helperConfig,
        BERTH_TEST_CREDS: creds,
        PATH: `${TEST_BIN}:${process.env['PATH'] ?? ''}`,
      };
      const image = `${registry.host}/private/app:v1`;
      // docker login keeps them in the helper; berth pull finds them there.
      const login = await docker(daemon.host, ['login', '-u', 'tester', '--password-stdin', registry.host], {
        env,
        input: 's3cret\n',
      });
      assert.equal(login.code, 0, login.stderr);
      assert.equal((await readdir(creds)).length, 1, 'the helper holds them');
      const file = JSON.parse(await readFile(join(helperConfig, 'config.json'), 'utf8')) as {
        auths: Record<string, unknown>;
      };
      assert.deepEqual(file.auths[registry.host], {}, 'the file holds no secret');
      await docker(daemon.host, ['rmi', image], { env });
      const pull = await berth(daemon.host, ['pull', image], { env });
      assert.equal(pull.code, 0, pull.stderr);
      // berth logout erases them from the helper; berth login stores them there again, without the warning.
      assert.equal((await berth(daemon.host, ['logout', registry.host], { env })).code, 0);
      assert.deepEqual(await readdir(creds), []);
      const again = await berth(daemon.host, ['login', '-u', 'tester', '--password-stdin', registry.host], {
        env,
        input: 's3cret\n',
      });
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stderr, /stored unencrypted/);
      await docker(daemon.host, ['rmi', image], { env });
      const dockerPull = await docker(daemon.host, ['pull', image], { env });
      assert.equal(dockerPull.code, 0, dockerPull.stderr);
    } finally {
      await rm(creds, { recursive: true, force: true });
      await rm(helperConfig, { recursive: true, force: true });
    }
  });
});
