import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { asGoMap } from '../../output/template.js';
import { parseTemplate } from '../../output/template.js';
import { checkAttachable } from './attach.js';
import { runError } from './common.js';
import { copySummary } from './cp.js';
import { usageError, validatePullOpt } from './create.js';
import { renderChanges } from './diff.js';
import { execConfigFromFlags } from './exec.js';
import { executeInspect, typedInspectView } from './inspect.js';
import { logsTimestamp } from './logs.js';
import { naturalLess, portLines } from './port.js';
import { renderContainerPrune } from './prune.js';
import { renderTop } from './top.js';
import { updateRequest } from './update.js';
import { ApiError } from '../../../client/client.js';
import { CliError } from '../../context.js';

describe('container command output', () => {
  it('prints diff lines', () => {
    assert.equal(
      renderChanges([
        { Path: '/etc', Kind: 0 },
        { Path: '/etc/new', Kind: 1 },
        { Path: '/tmp/old', Kind: 2 },
      ]),
      'C /etc\nA /etc/new\nD /tmp/old\n',
    );
  });

  it('prints top as docker (tabwriter minwidth 20, padding 3)', () => {
    assert.equal(
      renderTop({ Titles: ['UID', 'PID', 'CMD'], Processes: [['root', '1', 'sleep 1000']] }),
      'UID                 PID                 CMD\nroot                1                   sleep 1000\n',
    );
  });

  it('prints port mappings sorted naturally', () => {
    const ports = {
      '443/tcp': [{ HostIp: '0.0.0.0', HostPort: '8443' }],
      '80/tcp': [
        { HostIp: '0.0.0.0', HostPort: '8080' },
        { HostIp: '::', HostPort: '8080' },
      ],
      '53/udp': null,
    };
    assert.deepEqual(portLines(ports, 'web'), [
      '80/tcp -> 0.0.0.0:8080',
      '80/tcp -> [::]:8080',
      '443/tcp -> 0.0.0.0:8443',
    ]);
    assert.deepEqual(portLines(ports, 'web', '80'), ['0.0.0.0:8080', '[::]:8080']);
    assert.throws(() => portLines(ports, 'web', '53/udp'), {
      message: "Error: No public port '53/udp' published for web",
    });
    assert.equal(naturalLess('a9', 'a10'), true);
    assert.equal(naturalLess('a10', 'a9'), false);
  });

  it('prints the prune report', () => {
    assert.equal(
      renderContainerPrune({ ContainersDeleted: ['a', 'b'], SpaceReclaimed: 2048 }),
      'Deleted Containers:\na\nb\n\nTotal reclaimed space: 2.048kB\n',
    );
    assert.equal(renderContainerPrune({ SpaceReclaimed: 10 }), 'Total reclaimed space: 0B\n');
  });

  it('prints the cp summary', () => {
    assert.equal(copySummary(1234, 1234, '/tmp/x'), 'Successfully copied 1.23kB to /tmp/x\n');
    assert.equal(
      copySummary(4, 2048, 'web:/etc/x'),
      'Successfully copied 4B (transferred 2.05kB) to web:/etc/x\n',
    );
  });
});

describe('container command requests and errors', () => {
  it('builds the update request', () => {
    assert.deepEqual(updateRequest({ memory: 1024, cpus: 500_000_000, restart: 'on-failure:3' }), {
      Memory: 1024,
      NanoCpus: 500_000_000,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
    });
    assert.throws(() => updateRequest({}), {
      message: 'you must provide one or more flags when using this command',
    });
  });

  it('builds the exec configuration', () => {
    assert.deepEqual(
      execConfigFromFlags({ interactive: true, tty: true, env: ['A=1'], user: 'me' }, ['sh']),
      {
        User: 'me',
        Privileged: false,
        Tty: true,
        Cmd: ['sh'],
        WorkingDir: '',
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Env: ['A=1'],
      },
    );
    const detached = execConfigFromFlags({ detach: true, interactive: true }, ['ls'], 'ctrl-x');
    assert.equal(detached.AttachStdin, false);
    assert.equal(detached.AttachStdout, false);
    assert.equal(detached.DetachKeys, 'ctrl-x');
    assert.equal(execConfigFromFlags({ detachKeys: 'bogus' }, ['ls']).DetachKeys, 'bogus');
  });

  it('words run failures as docker, with its exit statuses', () => {
    const check = (err: unknown, code: number, text: string): void => {
      const e = runError(err, 'run');
      assert.equal(e.exitCode, code);
      assert.equal(e.message, `berth: ${text}\n\nRun 'berth run --help' for more information`);
    };
    check(
      new ApiError(404, 'No such image: x:latest'),
      125,
      'Error response from daemon: No such image: x:latest',
    );
    check(
      new ApiError(400, 'exec: "nope": executable file not found in $PATH'),
      127,
      'Error response from daemon: exec: "nope": executable file not found in $PATH',
    );
    check(
      new ApiError(400, 'exec /bin/x: permission denied'),
      126,
      'Error response from daemon: exec /bin/x: permission denied',
    );
    assert.equal(
      usageError('bad', 'create').message,
      "berth: bad\n\nRun 'berth create --help' for more information",
    );
    validatePullOpt('never');
    assert.throws(() => validatePullOpt('sometimes'), {
      message: 'invalid pull option: \'sometimes\': must be one of "always", "missing" or "never"',
    });
  });

  it('refuses to attach to containers that are not running', () => {
    checkAttachable({ State: { Running: true } });
    assert.throws(
      () => checkAttachable({ State: { Running: false } }),
      (err: unknown) => {
        return (
          err instanceof CliError &&
          err.message === 'You cannot attach to a stopped container, start it first'
        );
      },
    );
    assert.throws(() => checkAttachable({ State: { Running: true, Paused: true } }), {
      message: 'You cannot attach to a paused container, unpause it first',
    });
  });

  it('turns --since into timestamps or docker errors', () => {
    assert.equal(logsTimestamp('since', undefined), undefined);
    assert.equal(logsTimestamp('since', '1m', 1_000_000_000_000), '999999940');
    assert.throws(() => logsTimestamp('until', 'soon'), {
      message: 'invalid value for "until": failed to parse value as time or duration: "soon"',
    });
  });

  it('runs inspect templates over typed and raw views', () => {
    const c = {
      Name: '/web',
      State: { Status: 'running' },
      Config: { Labels: { a: 'b' } },
      NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
    };
    const view = typedInspectView(c) as { Config: { Labels: unknown } };
    assert.deepEqual(view.Config.Labels, asGoMap({ a: 'b' }));
    const run = (src: string): string => executeInspect(parseTemplate(src), c);
    assert.equal(run('{{.Name}} {{.State.Status}}'), '/web running');
    assert.equal(run('{{.Config.Labels.missing}}'), '<no value>');
    assert.equal(
      run('{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}{{end}}'),
      'bridge=172.17.0.2',
    );
    assert.equal(run('{{json .Config}}'), '{"Labels":{"a":"b"}}');
    assert.throws(
      () => run('{{.Nope.Deeper}}'),
      (err: unknown) => err instanceof CliError,
    );
  });
});
