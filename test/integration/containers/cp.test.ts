// `docker cp` with the official CLI against a real berthd: files and
// directories both ways, into running, created and exited containers, and
// Docker's errors for paths and containers that do not exist.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import { dockerOk, leakCheck, startContainerDaemon, teardown } from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { FIXTURE_PASSWD } from '../../helpers/images.js';

describe('docker cp', () => {
  let daemon: TestDaemon;
  let host = '';
  before(async () => {
    daemon = await startContainerDaemon();
    host = await mkdtemp(join(tmpdir(), 'berth-cp-'));
    await writeFile(join(host, 'file.txt'), 'one\n');
    await mkdir(join(host, 'tree/sub'), { recursive: true });
    await writeFile(join(host, 'tree/top.txt'), 'top\n');
    await writeFile(join(host, 'tree/sub/deep.txt'), 'deep\n', { mode: 0o600 });
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'cp-running',
      'busybox',
      'sh',
      '-c',
      'trap "exit 0" TERM; mkdir -p /srv/out/inner; echo made > /srv/out/inner/made.txt; while true; do sleep 0.1; done',
    ]);
  });
  after(async () => {
    await teardown(daemon);
    await rm(host, { recursive: true, force: true });
  });

  const catIn = async (container: string, path: string): Promise<string> =>
    (await dockerOk(daemon, ['exec', container, 'cat', path])).stdout;

  it('copies a host file into a running container (into a directory, and to a new name)', async () => {
    await dockerOk(daemon, ['cp', join(host, 'file.txt'), 'cp-running:/tmp/']);
    assert.equal(await catIn('cp-running', '/tmp/file.txt'), 'one\n');
    await dockerOk(daemon, ['cp', join(host, 'file.txt'), 'cp-running:/tmp/renamed.txt']);
    assert.equal(await catIn('cp-running', '/tmp/renamed.txt'), 'one\n');
  });

  it('copies a host directory into a running container, recursively, keeping modes', async () => {
    await dockerOk(daemon, ['cp', join(host, 'tree'), 'cp-running:/tmp/tree']);
    assert.equal(await catIn('cp-running', '/tmp/tree/top.txt'), 'top\n');
    assert.equal(await catIn('cp-running', '/tmp/tree/sub/deep.txt'), 'deep\n');
    const mode = await dockerOk(daemon, ['exec', 'cp-running', 'stat', '-c', '%a', '/tmp/tree/sub/deep.txt']);
    assert.equal(mode.stdout, '600\n');
    // Into an existing directory the source directory is copied under it.
    await dockerOk(daemon, ['cp', join(host, 'tree'), 'cp-running:/tmp/tree']);
    assert.equal(await catIn('cp-running', '/tmp/tree/tree/top.txt'), 'top\n');
  });

  it('copies a file and a directory out of a running container', async () => {
    const out = join(host, 'out-running');
    await mkdir(out);
    await dockerOk(daemon, ['cp', 'cp-running:/etc/passwd', join(out, 'passwd')]);
    assert.equal(await readFile(join(out, 'passwd'), 'utf8'), FIXTURE_PASSWD);
    await dockerOk(daemon, ['cp', 'cp-running:/srv/out', join(out, 'dir')]);
    assert.equal(await readFile(join(out, 'dir/inner/made.txt'), 'utf8'), 'made\n');
    await dockerOk(daemon, ['cp', 'cp-running:/srv/out/inner/made.txt', out]);
    assert.equal(await readFile(join(out, 'made.txt'), 'utf8'), 'made\n');
  });

  it('copies into and out of a created (never started) container', async () => {
    await dockerOk(daemon, [
      'create',
      '--name',
      'cp-created',
      'busybox',
      'sh',
      '-c',
      'cat /in/file.txt /in/sub/deep.txt',
    ]);
    // `/in/` does not exist: the CLI refuses a trailing slash for a directory that is not there.
    const toMissingDir = await docker(daemon.host, ['cp', join(host, 'file.txt'), 'cp-created:/in/']);
    assert.notEqual(toMissingDir.code, 0);
    assert.match(toMissingDir.stderr, /no such directory/);
    await dockerOk(daemon, ['cp', join(host, 'tree'), 'cp-created:/in']);
    await dockerOk(daemon, ['cp', join(host, 'file.txt'), 'cp-created:/in/file.txt']);
    const out = join(host, 'out-created');
    await dockerOk(daemon, ['cp', 'cp-created:/in', out]);
    assert.deepEqual((await readdir(out)).sort(), ['file.txt', 'sub', 'top.txt']);
    const started = await dockerOk(daemon, ['start', '-a', 'cp-created']);
    assert.equal(started.stdout, 'one\ndeep\n', 'the started container sees what was copied in');
  });

  it('copies into and out of an exited container', async () => {
    const run = await docker(daemon.host, [
      'run',
      '--name',
      'cp-exited',
      'busybox',
      'sh',
      '-c',
      'echo left-behind > /result.txt',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = join(host, 'out-exited');
    await mkdir(out);
    await dockerOk(daemon, ['cp', 'cp-exited:/result.txt', out]);
    assert.equal(await readFile(join(out, 'result.txt'), 'utf8'), 'left-behind\n');
    await dockerOk(daemon, ['cp', join(host, 'tree'), 'cp-exited:/copied']);
    await dockerOk(daemon, ['cp', 'cp-exited:/copied/sub/deep.txt', join(out, 'deep.txt')]);
    assert.equal(await readFile(join(out, 'deep.txt'), 'utf8'), 'deep\n');
    assert.equal((await stat(join(out, 'deep.txt'))).mode & 0o777, 0o600);
  });

  it('a path or container that does not exist gives Docker’s errors', async () => {
    const fromMissing = await docker(daemon.host, ['cp', 'cp-running:/nope', join(host, 'x')]);
    assert.equal(fromMissing.code, 1);
    assert.match(
      fromMissing.stderr,
      /^Error response from daemon: Could not find the file \/nope in container cp-running$/m,
    );

    const fromExitedMissing = await docker(daemon.host, ['cp', 'cp-exited:/nope/deeper', join(host, 'x')]);
    assert.equal(fromExitedMissing.code, 1);
    assert.match(fromExitedMissing.stderr, /Could not find the file \/nope\/deeper in container cp-exited/);

    const hostMissing = await docker(daemon.host, ['cp', join(host, 'nope'), 'cp-running:/tmp/']);
    assert.equal(hostMissing.code, 1);
    assert.match(hostMissing.stderr, new RegExp(`lstat ${join(host, 'nope')}: no such file or directory`));

    const noContainer = await docker(daemon.host, ['cp', 'cp-nosuch:/etc/passwd', join(host, 'x')]);
    assert.equal(noContainer.code, 1);
    assert.match(noContainer.stderr, /No such container:.*cp-nosuch/);
    await assert.rejects(stat(join(host, 'x')), { code: 'ENOENT' });
  });

  it('leaves nothing behind of the containers it removed', async () => {
    await dockerOk(daemon, ['rm', 'cp-created', 'cp-exited']);
    await leakCheck(daemon);
  });
});
