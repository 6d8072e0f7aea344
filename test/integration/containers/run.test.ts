// `docker run` with the official CLI against a real berthd: output, exit
// codes, events, detached runs with logs, stdin, the common flags, resource
// limits as the container's cgroups show them, mounts, --init, --read-only,
// docker wait and name conflicts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import { layerTar } from '../../helpers/images.js';
import {
  containerExists,
  dockerOk,
  inspectContainer,
  leakCheck,
  teardown,
  startContainerDaemon,
} from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/poll.js';

describe('docker run', () => {
  let daemon: TestDaemon;
  let hostDir = '';
  before(async () => {
    daemon = await startContainerDaemon();
    hostDir = await mkdtemp(join(tmpdir(), 'berth-run-bind-'));
  });
  after(async () => {
    await teardown(daemon);
    await rm(hostDir, { recursive: true, force: true });
  });

  it('run --rm prints the output, exits 0, removes the container, and emits create/attach/start/die/destroy', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const res = await docker(daemon.host, ['run', '--rm', '--name', 'run-hello', 'busybox', 'echo', 'hello']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'hello\n');
    assert.equal(res.stderr, '');
    assert.equal(await containerExists(daemon, 'run-hello'), false, '--rm removed the container');

    // The CLI sends --until in whole seconds: one a little in the future takes in everything so far.
    const until = Math.floor(Date.now() / 1000) + 1;
    const events = await docker(daemon.host, [
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'container=run-hello',
      '--format',
      '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
    ]);
    assert.equal(events.code, 0, events.stderr);
    assert.deepEqual(events.stdout.trim().split('\n'), [
      'container create run-hello',
      'container attach run-hello',
      'container start run-hello',
      'container die run-hello',
      'container destroy run-hello',
    ]);
  });

  it('the exit code of the command is the exit code of docker run', async () => {
    const res = await docker(daemon.host, [
      'run',
      '--rm',
      'busybox',
      'sh',
      '-c',
      'echo to-stderr >&2; exit 3',
    ]);
    assert.equal(res.code, 3);
    assert.equal(res.stderr, 'to-stderr\n', 'the container stderr arrives on the CLI stderr');
  });

  it('a missing binary exits 127 with Docker’s error and leaves a Created container', async () => {
    const res = await docker(daemon.host, ['run', '--name', 'run-missing', 'busybox', 'nosuchbinary']);
    assert.equal(res.code, 127, res.stderr);
    assert.match(res.stderr, /^docker: Error response from daemon: failed to create task for container: /m);
    assert.match(res.stderr, /exec: "nosuchbinary": executable file not found in \$PATH/);
    const info = await inspectContainer(daemon, 'run-missing');
    assert.equal(info.State.Status, 'created');
    assert.equal(info.State.ExitCode, 127);
    assert.match(info.State.Error, /executable file not found/);
    await dockerOk(daemon, ['rm', 'run-missing']);
  });

  it('run --rm with a missing binary exits 127 and removes the container', async () => {
    const res = await docker(
      daemon.host,
      ['run', '--rm', '--name', 'run-missing-rm', 'busybox', 'nosuchbinary'],
      {
        timeoutMs: 5000,
      },
    );
    try {
      assert.equal(
        res.code,
        127,
        `docker run hung or failed: code ${String(res.code)}, stderr ${res.stderr}`,
      );
      assert.match(res.stderr, /exec: "nosuchbinary": executable file not found in \$PATH/);
      assert.equal(await containerExists(daemon, 'run-missing-rm'), false);
    } finally {
      await docker(daemon.host, ['rm', '-f', 'run-missing-rm']);
    }
  });

  it('run -d with logs -f: follow sees later lines and ends when stop -t 1 stops the container', async () => {
    const name = 'run-logs';
    const run = await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      name,
      'busybox',
      'sh',
      '-c',
      'echo first; sleep 1; echo second; while true; do sleep 0.2; done',
    ]);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const follow = docker(daemon.host, ['logs', '-f', name], { timeoutMs: 20_000 });
    let followEnded = 0;
    void follow.then(() => (followEnded = Date.now()));
    await waitFor(async () => (await docker(daemon.host, ['logs', name])).stdout.includes('second'), {
      timeoutMs: 10_000,
      what: 'the second line',
    });
    assert.equal(followEnded, 0, 'logs -f keeps following a running container');

    const stopStarted = Date.now();
    const stop = await dockerOk(daemon, ['stop', '-t', '1', name]);
    assert.equal(stop.stdout.trim(), name);
    assert.ok(Date.now() - stopStarted < 6000, 'stop -t 1 kills after a second');
    const logs = await follow;
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'first\nsecond\n', 'follow saw the line written after it started');
    assert.ok(followEnded - stopStarted < 5000, 'logs -f ended when the container stopped');

    const info = await inspectContainer(daemon, name);
    assert.equal(info.State.Status, 'exited');
    assert.ok([137, 143].includes(info.State.ExitCode), `exit code ${info.State.ExitCode}`);
    const ps = await dockerOk(daemon, ['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Status}}']);
    assert.match(ps.stdout.trim(), /^Exited \((137|143)\) .* ago$/);
    await dockerOk(daemon, ['rm', name]);
  });

  it('run -i passes piped stdin to the container', async () => {
    const res = await docker(daemon.host, ['run', '-i', '--rm', 'busybox', 'cat'], { input: 'hi\nthere\n' });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'hi\nthere\n');
  });

  it('-e, -w, -u, --hostname and --label are reflected inside and in inspect', async () => {
    const name = 'run-flags';
    const res = await docker(daemon.host, [
      'run',
      '--name',
      name,
      '-e',
      'FOO=bar baz',
      '-w',
      '/tmp',
      '-u',
      '1000',
      '--hostname',
      'myhost',
      '--label',
      'team=blue',
      'busybox',
      'sh',
      '-c',
      'echo "$FOO"; pwd; id -u; id -g; hostname; echo "$HOME"',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'bar baz\n/tmp\n1000\n1000\nmyhost\n/home/app\n');
    const info = await inspectContainer(daemon, name);
    assert.ok(info.Config.Env.includes('FOO=bar baz'));
    assert.equal(info.Config.WorkingDir, '/tmp');
    assert.equal(info.Config.User, '1000');
    assert.equal(info.Config.Hostname, 'myhost');
    assert.deepEqual(info.Config.Labels, { team: 'blue' });
    await dockerOk(daemon, ['rm', name]);
  });

  it('a non-root user can read the image’s world-readable files: / is 0755 as in the image', async () => {
    const res = await docker(daemon.host, [
      'run',
      '--rm',
      '-u',
      '1000',
      'busybox',
      'sh',
      '-c',
      'stat -c %a /; id -un; head -1 /etc/passwd',
    ]);
    assert.equal(res.stdout, '755\napp\nroot:x:0:0:root:/root:/bin/sh\n', res.stderr);
    assert.equal(res.code, 0);
  });

  it('--entrypoint replaces the entrypoint; the arguments follow it', async () => {
    const name = 'run-entrypoint';
    const res = await docker(daemon.host, [
      'run',
      '--name',
      name,
      '--entrypoint',
      '/bin/echo',
      'busybox',
      'hello',
      'world',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'hello world\n');
    const info = await inspectContainer(daemon, name);
    assert.deepEqual(info.Config.Entrypoint, ['/bin/echo']);
    assert.deepEqual(info.Config.Cmd, ['hello', 'world']);
    assert.equal(info.Path, '/bin/echo');
    assert.deepEqual(info.Args, ['hello', 'world']);
    await dockerOk(daemon, ['rm', name]);
  });

  it('--memory, --cpus and --pids-limit are in HostConfig and in the container’s own cgroup files', async () => {
    const name = 'run-limits';
    const res = await docker(daemon.host, [
      'run',
      '--name',
      name,
      '--memory',
      '64m',
      '--cpus',
      '0.5',
      '--pids-limit',
      '50',
      'busybox',
      'sh',
      '-c',
      [
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
        'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
        'cat /sys/fs/cgroup/cpu/cpu.cfs_period_us',
        'cat /sys/fs/cgroup/pids/pids.max',
      ].join('; '),
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${64 * 1024 * 1024}\n50000\n100000\n50\n`);
    const info = await inspectContainer(daemon, name);
    assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(info.HostConfig.PidsLimit, 50);
    await dockerOk(daemon, ['rm', name]);
  });

  it('--tmpfs mounts a writable tmpfs', async () => {
    const res = await docker(daemon.host, [
      'run',
      '--rm',
      '--tmpfs',
      '/scratch',
      'busybox',
      'sh',
      '-c',
      'grep " /scratch " /proc/mounts | cut -d" " -f1-3; echo data > /scratch/f && cat /scratch/f',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'tmpfs /scratch tmpfs\ndata\n');
  });

  it('-v binds a host directory read-write, and :ro refuses writes', async () => {
    await writeFile(join(hostDir, 'from-host'), 'host says hi\n');
    const rw = await docker(daemon.host, [
      'run',
      '--rm',
      '-v',
      `${hostDir}:/data`,
      'busybox',
      'sh',
      '-c',
      'cat /data/from-host; echo container says hi > /data/from-container',
    ]);
    assert.equal(rw.code, 0, rw.stderr);
    assert.equal(rw.stdout, 'host says hi\n');
    assert.equal(await readFile(join(hostDir, 'from-container'), 'utf8'), 'container says hi\n');

    const ro = await docker(daemon.host, [
      'run',
      '--rm',
      '-v',
      `${hostDir}:/data:ro`,
      'busybox',
      'sh',
      '-c',
      'cat /data/from-host; echo nope > /data/ro-write',
    ]);
    assert.notEqual(ro.code, 0);
    assert.equal(ro.stdout, 'host says hi\n');
    assert.match(ro.stderr, /Read-only file system/);
    await assert.rejects(readFile(join(hostDir, 'ro-write')), { code: 'ENOENT' });
  });

  it('--init runs docker-init as PID 1 with the command under it', async () => {
    const res = await docker(daemon.host, ['run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,args']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^\s*1\s+\/sbin\/docker-init -- ps -o pid,args$/m);
    assert.doesNotMatch(res.stdout, /^\s*1\s+ps /m);
    const plain = await docker(daemon.host, ['run', '--rm', 'busybox', 'ps', '-o', 'pid,args']);
    assert.match(plain.stdout, /^\s*1\s+ps -o pid,args$/m, 'without --init the command is PID 1');
  });

  it('--read-only refuses writes to / while a --tmpfs /tmp stays writable', async () => {
    const res = await docker(daemon.host, [
      'run',
      '--rm',
      '--read-only',
      '--tmpfs',
      '/tmp',
      'busybox',
      'sh',
      '-c',
      'touch /rootfile; echo "root write: $?"; touch /tmp/ok && echo "tmp write: $?"',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'root write: 1\ntmp write: 0\n');
    assert.match(res.stderr, /touch: \/rootfile: Read-only file system/);
  });

  it('docker wait prints each container’s exit code', async () => {
    const a = (
      await dockerOk(daemon, ['run', '-d', '--name', 'wait-7', 'busybox', 'sh', '-c', 'sleep 0.5; exit 7'])
    ).stdout.trim();
    const b = (
      await dockerOk(daemon, ['run', '-d', '--name', 'wait-0', 'busybox', 'sh', '-c', 'sleep 0.2'])
    ).stdout.trim();
    const res = await dockerOk(daemon, ['wait', 'wait-7', 'wait-0']);
    assert.equal(res.stdout, '7\n0\n');
    const again = await dockerOk(daemon, ['wait', a.slice(0, 12)]);
    assert.equal(again.stdout, '7\n', 'waiting on an exited container answers at once');
    await dockerOk(daemon, ['rm', a, b]);
  });

  it('docker run --name twice fails with Docker’s name conflict', async () => {
    const first = await dockerOk(daemon, ['run', '--name', 'run-dup', 'busybox', 'true']);
    assert.equal(first.stdout, '');
    const id = (await inspectContainer(daemon, 'run-dup')).Id;
    const second = await docker(daemon.host, ['run', '--name', 'run-dup', 'busybox', 'true']);
    assert.equal(second.code, 125);
    assert.ok(
      second.stderr.includes(
        `docker: Error response from daemon: Conflict. The container name "/run-dup" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
      ),
      second.stderr,
    );
    await dockerOk(daemon, ['rm', 'run-dup']);
  });

  it('runs an image without /etc/passwd (FROM scratch style) as root when no user is asked for', async () => {
    const rootfs = await layerTar({
      'bin/busybox': { type: 'file', content: await readFile('/bin/busybox'), mode: 0o755 },
      'bin/sh': { type: 'symlink', target: 'busybox' },
    });
    const imported = await docker(daemon.host, ['import', '-', 'nopasswd:1'], { input: rootfs });
    assert.equal(imported.code, 0, imported.stderr);
    const res = await docker(daemon.host, [
      'run',
      '--rm',
      'nopasswd:1',
      'sh',
      '-c',
      'busybox id -u; echo $HOME',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, '0\n/\n');
    const named = await docker(daemon.host, [
      'run',
      '--rm',
      '--user',
      'root',
      'nopasswd:1',
      'sh',
      '-c',
      'true',
    ]);
    assert.notEqual(named.code, 0, 'a user name needs a passwd entry, as with Docker');
    assert.match(named.stderr, /unable to find user root/);
    assert.equal((await docker(daemon.host, ['rmi', 'nopasswd:1'])).code, 0);
  });

  it('leaves nothing behind of the containers it removed', async () => {
    await leakCheck(daemon);
  });
});
