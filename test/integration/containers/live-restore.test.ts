// Live restore with the official CLI against a real berthd: containers keep
// running while the daemon is down (SIGTERM or SIGKILL), and a new daemon
// re-adopts them, records exits that happened meanwhile, and applies
// restart policies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import {
  dockerOk,
  inspectContainer,
  leakCheck,
  pidAlive,
  startContainerDaemon,
  teardown,
  waitForContainer,
} from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { ping } from '../../helpers/daemon.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('live restore', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startContainerDaemon();
  });
  after(async () => {
    await teardown(daemon);
  });

  it('a clean SIGTERM of the daemon leaves containers running; the next daemon re-adopts them', async () => {
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'lr-term',
      'busybox',
      'sh',
      '-c',
      'trap "exit 0" TERM; echo up; while true; do sleep 0.1; done',
    ]);
    const before = await inspectContainer(daemon, 'lr-term');
    assert.ok(pidAlive(before.State.Pid));

    assert.equal(await daemon.stop('SIGTERM'), 0, 'berthd exits 0 on SIGTERM');
    assert.equal(await ping(daemon.socket), 0, 'the daemon is gone');
    assert.ok(pidAlive(before.State.Pid), 'the container process outlives the daemon');

    await daemon.launch();
    const after = await inspectContainer(daemon, 'lr-term');
    assert.equal(after.State.Status, 'running');
    assert.equal(after.State.Pid, before.State.Pid, 're-adopted, not restarted');
    assert.equal(after.State.StartedAt, before.State.StartedAt);
    const ps = await dockerOk(daemon, ['ps', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps.stdout, /^lr-term Up /m);

    await dockerOk(daemon, ['stop', '-t', '5', 'lr-term']);
    const stopped = await inspectContainer(daemon, 'lr-term');
    assert.equal(stopped.State.Status, 'exited');
    assert.equal(stopped.State.ExitCode, 0, 'the trap ran: the re-adopted container got the stop signal');
    assert.equal(pidAlive(before.State.Pid), false);
    await dockerOk(daemon, ['rm', 'lr-term']);
  });

  it('after a SIGKILL of the daemon: running containers are re-adopted, exits while down are recorded, restart policies apply', async () => {
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'lr-sleep',
      'busybox',
      'sh',
      '-c',
      'echo started; exec sleep 1000',
    ]);
    await dockerOk(daemon, ['run', '-d', '--name', 'lr-exit5', 'busybox', 'sh', '-c', 'sleep 3; exit 5']);
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'lr-always',
      '--restart',
      'always',
      'busybox',
      'sh',
      '-c',
      'echo run; sleep 2',
    ]);
    const sleepBefore = await inspectContainer(daemon, 'lr-sleep');
    const alwaysBefore = await inspectContainer(daemon, 'lr-always');
    assert.equal((await inspectContainer(daemon, 'lr-exit5')).State.Status, 'running');

    await daemon.stop('SIGKILL');
    const killedAt = Date.now();
    assert.ok(pidAlive(sleepBefore.State.Pid), 'containers outlive a killed daemon');
    await sleep(4000);
    assert.ok(pidAlive(sleepBefore.State.Pid));
    const relaunchedAt = Date.now();
    await daemon.launch();

    // The sleep container: the same process, and logs, exec and stop work on it.
    const sleepAfter = await inspectContainer(daemon, 'lr-sleep');
    assert.equal(sleepAfter.State.Status, 'running');
    assert.equal(sleepAfter.State.Pid, sleepBefore.State.Pid);
    assert.equal((await dockerOk(daemon, ['logs', 'lr-sleep'])).stdout, 'started\n');
    assert.equal((await dockerOk(daemon, ['exec', 'lr-sleep', 'echo', 'exec-ok'])).stdout, 'exec-ok\n');

    // The container that exited while the daemon was down.
    const exited = await waitForContainer(daemon, 'lr-exit5', (c) => c.State.Status === 'exited');
    assert.equal(exited.State.ExitCode, 5);
    assert.equal(exited.State.Pid, 0);
    const finished = Date.parse(exited.State.FinishedAt);
    assert.ok(
      finished > killedAt && finished < relaunchedAt,
      `FinishedAt ${exited.State.FinishedAt} falls while the daemon was down (${new Date(killedAt).toISOString()} .. ${new Date(relaunchedAt).toISOString()})`,
    );
    const ps = await dockerOk(daemon, ['ps', '-a', '--filter', 'name=lr-exit5', '--format', '{{.Status}}']);
    assert.match(ps.stdout.trim(), /^Exited \(5\) .* ago$/);

    // The restart-always container exited while the daemon was down and runs again.
    const always = await waitForContainer(
      daemon,
      'lr-always',
      (c) => c.State.Status === 'running' && c.State.StartedAt !== alwaysBefore.State.StartedAt,
      { timeoutMs: 10_000, what: 'the restart-always container to run again' },
    );
    assert.ok(Date.parse(always.State.StartedAt) >= relaunchedAt - 1000);
    assert.notEqual(always.State.Pid, alwaysBefore.State.Pid);
    assert.match((await dockerOk(daemon, ['logs', 'lr-always'])).stdout, /^run\nrun\n/);

    // docker stop on the re-adopted container.
    const stop = await docker(daemon.host, ['stop', '-t', '1', 'lr-sleep']);
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = await inspectContainer(daemon, 'lr-sleep');
    assert.equal(stopped.State.Status, 'exited');
    assert.equal(stopped.State.ExitCode, 137, 'sleep as PID 1 ignores SIGTERM: killed after the timeout');
    assert.equal(pidAlive(sleepBefore.State.Pid), false);
    await dockerOk(daemon, ['stop', '-t', '1', 'lr-always']);
  });

  it('leaves nothing behind of the containers it removed', async () => {
    await dockerOk(daemon, ['rm', '-f', 'lr-sleep', 'lr-exit5', 'lr-always']);
    await leakCheck(daemon);
  });
});
