// `docker exec` with the official CLI against a real berthd: output and
// exit codes, -e/-w/-u, -d, -i with piped stdin, and the errors Docker gives.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import {
  dockerOk,
  inspectContainer,
  leakCheck,
  startContainerDaemon,
  teardown,
} from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/poll.js';

describe('docker exec', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startContainerDaemon();
    await dockerOk(daemon, [
      'run',
      '-d',
      '--name',
      'ex-main',
      '-e',
      'FROM_RUN=1',
      'busybox',
      'sh',
      '-c',
      'trap "exit 0" TERM; while true; do sleep 0.1; done',
    ]);
  });
  after(async () => {
    await teardown(daemon);
  });

  it('prints stdout and stderr apart and exits with the command’s code', async () => {
    const res = await docker(daemon.host, ['exec', 'ex-main', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    assert.equal(res.code, 4);
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n');
    const ok = await dockerOk(daemon, ['exec', 'ex-main', 'echo', 'hello']);
    assert.equal(ok.stdout, 'hello\n');
  });

  it('runs in the container’s namespaces with its environment', async () => {
    const info = await inspectContainer(daemon, 'ex-main');
    const res = await dockerOk(daemon, [
      'exec',
      'ex-main',
      'sh',
      '-c',
      'hostname; echo "$FROM_RUN"; cat /proc/1/cmdline | tr "\\0" " "',
    ]);
    assert.equal(
      res.stdout,
      `${info.Config.Hostname}\n1\nsh -c trap "exit 0" TERM; while true; do sleep 0.1; done `,
    );
  });

  it('-e, -w and -u set the environment, directory and user of the exec only', async () => {
    const res = await dockerOk(daemon, [
      'exec',
      '-e',
      'A=one',
      '-e',
      'FROM_RUN=overridden',
      '-w',
      '/tmp',
      '-u',
      '1000',
      'ex-main',
      'sh',
      '-c',
      'echo "$A $FROM_RUN"; pwd; id -u; id -g',
    ]);
    assert.equal(res.stdout, 'one overridden\n/tmp\n1000\n1000\n');
    const byName = await dockerOk(daemon, ['exec', '-u', 'app', 'ex-main', 'sh', '-c', 'id -u; id -g']);
    assert.equal(byName.stdout, '1000\n1000\n', 'a user name is resolved from the container’s /etc/passwd');
    const plain = await dockerOk(daemon, ['exec', 'ex-main', 'sh', '-c', 'echo "[$A]"; pwd; id -u']);
    assert.equal(plain.stdout, '[]\n/\n0\n', 'the container’s own settings are unchanged');
  });

  it('-d returns at once and the command runs in the background', async () => {
    const started = Date.now();
    const res = await dockerOk(daemon, ['exec', '-d', 'ex-main', 'sh', '-c', 'sleep 1; touch /tmp/detached']);
    assert.equal(res.stdout, '');
    assert.ok(Date.now() - started < 1000, 'exec -d does not wait for the command');
    assert.notEqual(
      (await docker(daemon.host, ['exec', 'ex-main', 'sh', '-c', 'test -e /tmp/detached'])).code,
      0,
    );
    await waitFor(
      async () =>
        (await docker(daemon.host, ['exec', 'ex-main', 'sh', '-c', 'test -e /tmp/detached'])).code === 0,
      {
        timeoutMs: 5000,
        what: 'the detached exec to finish',
      },
    );
  });

  it('-i passes piped stdin to the command, and nothing else', async () => {
    const res = await docker(daemon.host, ['exec', '-i', 'ex-main', 'cat'], { input: 'piped\nlines\n' });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'piped\nlines\n');
  });

  it('-i sees end of input: a command reading stdin to the end finishes', async () => {
    const res = await docker(daemon.host, ['exec', '-i', 'ex-main', 'sh', '-c', 'cat >/dev/null; echo eof'], {
      input: 'x\n',
      timeoutMs: 10_000,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'eof\n');
  });

  it('a command that does not exist exits 127 with the runtime’s error, as Docker', async () => {
    const res = await docker(daemon.host, ['exec', 'ex-main', 'nosuchcommand']);
    assert.equal(res.code, 127);
    assert.match(`${res.stdout}${res.stderr}`, /exec: "nosuchcommand": executable file not found in \$PATH/);
  });

  it('exec into a stopped container fails with Docker’s message', async () => {
    await dockerOk(daemon, ['run', '--name', 'ex-stopped', 'busybox', 'true']);
    const id = (await inspectContainer(daemon, 'ex-stopped')).Id;
    const res = await docker(daemon.host, ['exec', 'ex-stopped', 'echo', 'hi']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.match(
      res.stderr,
      new RegExp(`^Error response from daemon: container ${id} is not running$`, 'im'),
    );
    const created = (
      await dockerOk(daemon, ['create', '--name', 'ex-created', 'busybox', 'true'])
    ).stdout.trim();
    const res2 = await docker(daemon.host, ['exec', 'ex-created', 'echo', 'hi']);
    assert.equal(res2.code, 1);
    assert.match(res2.stderr, new RegExp(`container ${created} is not running`, 'i'));
    const missing = await docker(daemon.host, ['exec', 'ex-nosuch', 'echo', 'hi']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error response from daemon: No such container: ex-nosuch$/m);
    await dockerOk(daemon, ['rm', 'ex-stopped', 'ex-created']);
  });

  it('no exec process is left running once the execs end', async () => {
    const info = await inspectContainer(daemon, 'ex-main');
    const top = await dockerOk(daemon, ['top', 'ex-main']);
    assert.doesNotMatch(top.stdout, /sleep 1; touch/, 'no exec process is left running');
    assert.ok(info.State.Running);
  });

  it('leaves nothing behind of the containers it removed', async () => {
    await leakCheck(daemon);
  });
});
