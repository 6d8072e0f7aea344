// Container lifecycle with the official CLI against a real berthd: create,
// start, restart, pause/unpause, rename, kill with a signal, rm -f, prune;
// docker ps formats and filters; inspect fields; top, diff, export, update.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import {
  ZERO_TIME,
  containerExists,
  dockerOk,
  hostCgroupFile,
  inspectContainer,
  leakCheck,
  pidAlive,
  processState,
  startContainerDaemon,
  teardown,
  waitForContainer,
} from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { readTarMap } from '../../helpers/images.js';
import { waitFor } from '../../helpers/poll.js';

/** A long-running command that exits promptly on SIGTERM (sh as PID 1 ignores it otherwise). */
const SLEEPER = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'];

describe('container lifecycle', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startContainerDaemon();
  });
  after(async () => {
    await teardown(daemon);
  });

  it('create, start, restart: states, pids and times in inspect and ps', async () => {
    const created = await dockerOk(daemon, [
      'create',
      '--name',
      'lc-main',
      '--label',
      'tier=web',
      'busybox',
      ...SLEEPER,
    ]);
    const id = created.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    let info = await inspectContainer(daemon, 'lc-main');
    assert.equal(info.Id, id);
    assert.equal(info.Name, '/lc-main');
    assert.equal(info.State.Status, 'created');
    assert.equal(info.State.Running, false);
    assert.equal(info.State.Pid, 0);
    assert.equal(info.State.StartedAt, ZERO_TIME);
    assert.equal(info.State.FinishedAt, ZERO_TIME);
    assert.deepEqual(info.Config.Cmd, SLEEPER);
    assert.equal(info.GraphDriver.Name, 'overlay2');
    assert.equal(info.Driver, 'overlay2');
    const psCreated = await dockerOk(daemon, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    assert.ok(psCreated.stdout.split('\n').includes('lc-main Created'), psCreated.stdout);
    const psRunning = await dockerOk(daemon, ['ps', '--format', '{{.Names}}']);
    assert.ok(
      !psRunning.stdout.split('\n').includes('lc-main'),
      'ps without -a lists running containers only',
    );

    assert.equal((await dockerOk(daemon, ['start', 'lc-main'])).stdout.trim(), 'lc-main');
    info = await inspectContainer(daemon, 'lc-main');
    assert.equal(info.State.Status, 'running');
    assert.equal(info.State.Running, true);
    assert.ok(info.State.Pid > 0 && pidAlive(info.State.Pid), `pid ${info.State.Pid}`);
    assert.ok(Date.parse(info.State.StartedAt) > Date.parse(info.Created));
    const firstPid = info.State.Pid;
    const firstStart = info.State.StartedAt;
    const ps = await dockerOk(daemon, ['ps', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps.stdout, /^lc-main Up (Less than a second|\d+ seconds?)$/m);

    assert.equal((await dockerOk(daemon, ['restart', '-t', '5', 'lc-main'])).stdout.trim(), 'lc-main');
    info = await inspectContainer(daemon, 'lc-main');
    assert.equal(info.State.Status, 'running');
    assert.notEqual(info.State.Pid, firstPid, 'restart runs a new process');
    assert.equal(pidAlive(firstPid), false);
    assert.ok(Date.parse(info.State.StartedAt) > Date.parse(firstStart));
    assert.ok(
      Date.parse(info.State.FinishedAt) >= Date.parse(firstStart),
      'FinishedAt of the stop before the restart',
    );
    assert.equal(info.State.ExitCode, 0);
  });

  it('pause freezes the processes and ps shows (Paused); unpause thaws them', async () => {
    const before = await inspectContainer(daemon, 'lc-main');
    assert.equal((await dockerOk(daemon, ['pause', 'lc-main'])).stdout.trim(), 'lc-main');
    const info = await inspectContainer(daemon, 'lc-main');
    assert.equal(info.State.Status, 'paused');
    assert.equal(info.State.Paused, true);
    assert.equal(info.State.Running, true, 'a paused container is still running');
    // A frozen task shows as D (cgroup v1 freezer) or T.
    await waitFor(async () => ['D', 'T'].includes(await processState(before.State.Pid)), {
      timeoutMs: 3000,
      what: 'the process to be frozen',
    });
    assert.equal(
      (await readFile(hostCgroupFile(daemon, 'freezer', before.Id, 'freezer.state'), 'utf8')).trim(),
      'FROZEN',
    );
    const ps = await dockerOk(daemon, ['ps', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps.stdout, /^lc-main Up .* \(Paused\)$/m);
    const filtered = await dockerOk(daemon, ['ps', '--filter', 'status=paused', '--format', '{{.Names}}']);
    assert.equal(filtered.stdout, 'lc-main\n');

    const again = await docker(daemon.host, ['pause', 'lc-main']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, new RegExp(`Container ${before.Id} is already paused`));

    assert.equal((await dockerOk(daemon, ['unpause', 'lc-main'])).stdout.trim(), 'lc-main');
    assert.equal((await inspectContainer(daemon, 'lc-main')).State.Status, 'running');
    await waitFor(async () => ['S', 'R'].includes(await processState(before.State.Pid)), {
      timeoutMs: 3000,
      what: 'the process to thaw',
    });
    const ps2 = await dockerOk(daemon, ['ps', '--format', '{{.Names}} {{.Status}}']);
    assert.doesNotMatch(ps2.stdout, /Paused/);
  });

  it('rename changes the name (with its slash in inspect) and frees the old one', async () => {
    await dockerOk(daemon, ['rename', 'lc-main', 'lc-renamed']);
    const info = await inspectContainer(daemon, 'lc-renamed');
    assert.equal(info.Name, '/lc-renamed');
    assert.equal(await containerExists(daemon, 'lc-main'), false);
    const taken = await docker(daemon.host, ['rename', 'lc-renamed', 'lc-renamed']);
    assert.notEqual(taken.code, 0);
  });

  it('docker top lists the container’s processes', async () => {
    const info = await inspectContainer(daemon, 'lc-renamed');
    const res = await dockerOk(daemon, ['top', 'lc-renamed']);
    const [header, ...rows] = res.stdout.trim().split('\n');
    assert.deepEqual(header?.trim().split(/\s+/), ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    const init = rows.find((r) => r.trim().split(/\s+/)[1] === String(info.State.Pid));
    assert.ok(init, `PID ${info.State.Pid} in:\n${res.stdout}`);
    assert.match(init, /^root\s/);
    assert.match(init, /sh -c trap "exit 0" TERM; while true; do sleep 0.1; done$/);
  });

  it('kill -s USR1 reaches a trap and the container keeps running; kill without -s kills it', async () => {
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'lc-trap',
      'busybox',
      'sh',
      '-c',
      'trap "echo got-usr1" USR1; echo ready; while true; do sleep 0.1; done',
    ]);
    await waitFor(async () => (await docker(daemon.host, ['logs', 'lc-trap'])).stdout.includes('ready'), {
      what: 'the trap to be set',
    });
    assert.equal((await dockerOk(daemon, ['kill', '-s', 'USR1', 'lc-trap'])).stdout.trim(), 'lc-trap');
    await waitFor(async () => (await docker(daemon.host, ['logs', 'lc-trap'])).stdout.includes('got-usr1'), {
      what: 'the trap to run',
    });
    assert.equal((await inspectContainer(daemon, 'lc-trap')).State.Status, 'running');

    await dockerOk(daemon, ['kill', 'lc-trap']);
    const info = await waitForContainer(daemon, 'lc-trap', (c) => c.State.Status === 'exited');
    assert.equal(info.State.ExitCode, 137);
    const notRunning = await docker(daemon.host, ['kill', 'lc-trap']);
    assert.notEqual(notRunning.code, 0);
    assert.match(notRunning.stderr, /is not running/);
  });

  it('inspect of an exited container: ExitCode, FinishedAt, HostConfig', async () => {
    const run = await docker(daemon.host, [
      'run',
      '--name',
      'lc-exit3',
      '--memory',
      '32m',
      '--restart',
      'no',
      'busybox',
      'sh',
      '-c',
      'sleep 0.2; exit 3',
    ]);
    assert.equal(run.code, 3, run.stderr);
    const info = await waitForContainer(daemon, 'lc-exit3', (c) => c.State.Status === 'exited');
    assert.equal(info.State.Running, false);
    assert.equal(info.State.ExitCode, 3);
    assert.equal(info.State.Pid, 0);
    assert.ok(Date.parse(info.State.FinishedAt) >= Date.parse(info.State.StartedAt) + 150);
    assert.deepEqual(info.Config.Cmd, ['sh', '-c', 'sleep 0.2; exit 3']);
    assert.equal(info.Config.Image, 'busybox');
    assert.match(info.Image, /^sha256:[0-9a-f]{64}$/);
    assert.equal(info.HostConfig.Memory, 32 * 1024 * 1024);
    assert.deepEqual(info.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
    assert.equal(info.GraphDriver.Name, 'overlay2');
    const ps = await dockerOk(daemon, ['ps', '-a', '--filter', 'name=lc-exit3', '--format', '{{.Status}}']);
    assert.match(ps.stdout.trim(), /^Exited \(3\) .* ago$/);
  });

  it('docker ps: -q, --filter status=exited, --filter label=, --no-trunc', async () => {
    const running = await inspectContainer(daemon, 'lc-renamed');
    const q = await dockerOk(daemon, ['ps', '-q']);
    assert.deepEqual(q.stdout.trim().split('\n'), [running.Id.slice(0, 12)]);

    const exited = await dockerOk(daemon, [
      'ps',
      '-a',
      '--filter',
      'status=exited',
      '--format',
      '{{.Names}}',
    ]);
    assert.deepEqual(exited.stdout.trim().split('\n').sort(), ['lc-exit3', 'lc-trap']);

    const label = await dockerOk(daemon, [
      'ps',
      '-a',
      '--filter',
      'label=tier=web',
      '--format',
      '{{.Names}}',
    ]);
    assert.equal(label.stdout, 'lc-renamed\n');
    const labelKey = await dockerOk(daemon, ['ps', '-a', '--filter', 'label=tier', '--format', '{{.Names}}']);
    assert.equal(labelKey.stdout, 'lc-renamed\n');
    const noLabel = await dockerOk(daemon, [
      'ps',
      '-a',
      '--filter',
      'label=tier=db',
      '--format',
      '{{.Names}}',
    ]);
    assert.equal(noLabel.stdout, '');

    const full = await dockerOk(daemon, ['ps', '--no-trunc', '--format', '{{.ID}} {{.Command}}']);
    // Path and Args joined with spaces, quoted by the CLI (Go's strconv.Quote, as JSON for ASCII).
    assert.equal(
      full.stdout.trim(),
      `${running.Id} ${JSON.stringify(['sh', ...SLEEPER.slice(1)].join(' '))}`,
    );
    const short = await dockerOk(daemon, ['ps', '--format', '{{.ID}} {{.Command}}']);
    assert.match(short.stdout.trim(), new RegExp(`^${running.Id.slice(0, 12)} "sh -c trap .*…"$`));
  });

  it('docker ps --filter name=^exact$ matches the name without its slash, as Docker does', async () => {
    const res = await dockerOk(daemon, [
      'ps',
      '-a',
      '--filter',
      'name=^lc-renamed$',
      '--format',
      '{{.Names}}',
    ]);
    assert.equal(res.stdout, 'lc-renamed\n');
  });

  it('docker diff shows added, changed and deleted paths', async () => {
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'lc-diff',
      'busybox',
      'sh',
      '-c',
      'touch /newfile; mkdir /tmp/newdir; rm /bin/whoami; echo extra >> /etc/group; echo done; exec sleep 1000',
    ]);
    await waitFor(async () => (await docker(daemon.host, ['logs', 'lc-diff'])).stdout.includes('done'), {
      what: 'the changes',
    });
    const res = await dockerOk(daemon, ['diff', 'lc-diff']);
    assert.deepEqual(res.stdout.trim().split('\n').sort(), [
      'A /newfile',
      'A /tmp/newdir',
      'C /bin',
      'C /etc',
      'C /etc/group',
      'C /tmp',
      'D /bin/whoami',
    ]);
  });

  it('docker export writes the container’s filesystem as a tar', async () => {
    const out = join(daemon.dir, 'export.tar');
    await dockerOk(daemon, ['export', '-o', out, 'lc-diff']);
    const entries = await readTarMap(await readFile(out));
    await rm(out, { force: true });
    assert.ok(entries.has('bin/busybox'), 'bin/busybox is in the export');
    assert.ok(entries.has('newfile'), 'the container’s new file is in the export');
    assert.ok(!entries.has('bin/whoami'), 'the deleted file is not');
    assert.equal(entries.get('bin/busybox')?.data.length, (await readFile('/bin/busybox')).length);
  });

  it('docker update --memory changes the running container’s cgroup', async () => {
    const id = (
      await dockerOk(daemon, ['run', '-d', '--name', 'lc-update', '--memory', '64m', 'busybox', ...SLEEPER])
    ).stdout.trim();
    const limitFile = hostCgroupFile(daemon, 'memory', id, 'memory.limit_in_bytes');
    assert.equal((await readFile(limitFile, 'utf8')).trim(), String(64 * 1024 * 1024));
    assert.equal(
      (
        await dockerOk(daemon, ['update', '--memory', '128m', '--memory-swap', '256m', 'lc-update'])
      ).stdout.trim(),
      'lc-update',
    );
    assert.equal((await readFile(limitFile, 'utf8')).trim(), String(128 * 1024 * 1024));
    const info = await inspectContainer(daemon, 'lc-update');
    assert.equal(info.HostConfig.Memory, 128 * 1024 * 1024);
    assert.equal(info.HostConfig.MemorySwap, 256 * 1024 * 1024);
  });

  it('rm refuses a running container; rm -f kills and removes it', async () => {
    const info = await inspectContainer(daemon, 'lc-update');
    const refused = await docker(daemon.host, ['rm', 'lc-update']);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /cannot remove container "\/lc-update": container is running: stop the container before removing or force remove/,
    );
    assert.equal((await dockerOk(daemon, ['rm', '-f', 'lc-update'])).stdout.trim(), 'lc-update');
    assert.equal(await containerExists(daemon, 'lc-update'), false);
    assert.equal(pidAlive(info.State.Pid), false, 'the container process is gone');
  });

  it('container prune removes stopped containers only', async () => {
    const running = await inspectContainer(daemon, 'lc-renamed');
    await dockerOk(daemon, ['create', '--name', 'lc-created', 'busybox', 'true']);
    const exited = ['lc-exit3', 'lc-trap'];
    const exitedIds = await Promise.all(exited.map(async (n) => (await inspectContainer(daemon, n)).Id));
    const createdId = (await inspectContainer(daemon, 'lc-created')).Id;
    await dockerOk(daemon, ['stop', 'lc-diff']);
    const diffId = (await inspectContainer(daemon, 'lc-diff')).Id;
    const res = await dockerOk(daemon, ['container', 'prune', '-f']);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines[0], 'Deleted Containers:');
    assert.deepEqual(
      lines.filter((l) => /^[0-9a-f]{64}$/.test(l)).sort(),
      [...exitedIds, createdId, diffId].sort(),
    );
    assert.match(res.stdout, /^Total reclaimed space: /m);
    const left = await dockerOk(daemon, ['ps', '-aq', '--no-trunc']);
    assert.equal(left.stdout, `${running.Id}\n`);
  });

  it('leaves nothing behind of the containers it removed', async () => {
    await dockerOk(daemon, ['rm', '-f', 'lc-renamed']);
    await leakCheck(daemon);
  });
});
