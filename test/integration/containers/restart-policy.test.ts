// Restart policies and --rm with the official CLI against a real berthd.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import {
  containerExists,
  dockerOk,
  inspectContainer,
  leakCheck,
  startContainerDaemon,
  teardown,
  waitForContainer,
} from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/poll.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('restart policies', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startContainerDaemon();
  });
  after(async () => {
    await teardown(daemon);
  });

  it('--restart on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
    const id = (
      await dockerOk(daemon, [
        'run',
        '-d',
        '--name',
        'rp-onfail',
        '--restart',
        'on-failure:2',
        'busybox',
        'sh',
        '-c',
        'echo run; exit 1',
      ])
    ).stdout.trim();
    let info = await inspectContainer(daemon, id);
    assert.deepEqual(info.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    info = await waitForContainer(daemon, id, (c) => c.RestartCount === 2 && c.State.Status === 'exited', {
      timeoutMs: 15_000,
      what: 'two restarts, then exited',
    });
    assert.equal(info.State.ExitCode, 1);
    // No third restart comes.
    await sleep(1500);
    info = await inspectContainer(daemon, id);
    assert.equal(info.RestartCount, 2);
    assert.equal(info.State.Status, 'exited');
    assert.equal(info.State.Restarting, false);
    const logs = await dockerOk(daemon, ['logs', id]);
    assert.equal(logs.stdout, 'run\nrun\nrun\n', 'the first run and two restarts');
    const ps = await dockerOk(daemon, ['ps', '-a', '--filter', 'name=rp-onfail', '--format', '{{.Status}}']);
    assert.match(ps.stdout.trim(), /^Exited \(1\) .* ago$/);
  });

  it('--restart on-failure does not restart a container that exits 0', async () => {
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'rp-onfail-ok',
      '--restart',
      'on-failure',
      'busybox',
      'true',
    ]);
    const info = await waitForContainer(daemon, 'rp-onfail-ok', (c) => c.State.Status === 'exited');
    await sleep(500);
    const again = await inspectContainer(daemon, 'rp-onfail-ok');
    assert.equal(again.RestartCount, 0);
    assert.equal(again.State.StartedAt, info.State.StartedAt);
  });

  it('--restart always restarts after an exit; docker stop stops it for good', async () => {
    const id = (
      await dockerOk(daemon, [
        'run',
        '-d',
        '--name',
        'rp-always',
        '--restart',
        'always',
        'busybox',
        'sh',
        '-c',
        'trap "exit 0" TERM; echo run; sleep 0.5; exit 0',
      ])
    ).stdout.trim();
    const first = await inspectContainer(daemon, id);
    const info = await waitForContainer(
      daemon,
      id,
      (c) =>
        c.RestartCount >= 1 && c.State.Status === 'running' && c.State.StartedAt !== first.State.StartedAt,
      { timeoutMs: 10_000, what: 'a restart' },
    );
    assert.notEqual(info.State.Pid, first.State.Pid);
    await waitFor(async () => (await docker(daemon.host, ['logs', id])).stdout.split('run\n').length >= 3, {
      what: 'two runs in the log',
    });

    // Stop while running (or between runs): it must end exited and stay so.
    await dockerOk(daemon, ['stop', '-t', '2', id]);
    const stopped = await inspectContainer(daemon, id);
    assert.equal(stopped.State.Status, 'exited');
    const count = stopped.RestartCount;
    await sleep(2000);
    const later = await inspectContainer(daemon, id);
    assert.equal(later.State.Status, 'exited', 'no restart after docker stop');
    assert.equal(later.RestartCount, count);
    assert.equal(later.State.StartedAt, stopped.State.StartedAt);
    const ps = await dockerOk(daemon, ['ps', '--format', '{{.Names}}']);
    assert.ok(!ps.stdout.includes('rp-always'));
  });

  it('--restart always: docker start after a stop brings the policy back', async () => {
    await dockerOk(daemon, ['start', 'rp-always']);
    const before = await inspectContainer(daemon, 'rp-always');
    await waitForContainer(
      daemon,
      'rp-always',
      (c) => c.State.Status === 'running' && c.State.StartedAt !== before.State.StartedAt,
      { timeoutMs: 10_000, what: 'a restart after docker start' },
    );
    await dockerOk(daemon, ['stop', '-t', '2', 'rp-always']);
  });

  it('--rm removes the container after it exits (run -d)', async () => {
    const id = (
      await dockerOk(daemon, [
        'run',
        '-d',
        '--rm',
        '--name',
        'rp-rm',
        'busybox',
        'sh',
        '-c',
        'sleep 0.5; exit 2',
      ])
    ).stdout.trim();
    const info = await inspectContainer(daemon, id);
    assert.equal(info.HostConfig.AutoRemove, true);
    await waitFor(async () => !(await containerExists(daemon, id)), { timeoutMs: 10_000, what: 'removal' });
    const gone = await docker(daemon.host, ['inspect', id]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, new RegExp(`No such object: ${id}`));
  });

  it('leaves nothing behind of the containers it removed', async () => {
    await dockerOk(daemon, ['rm', '-f', 'rp-onfail', 'rp-onfail-ok', 'rp-always']);
    await leakCheck(daemon);
  });
});
