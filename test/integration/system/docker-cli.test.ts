import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';

describe('the official docker CLI against berthd', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await TestDaemon.start();
    // The docker CLI sends `--until 0s` as whole seconds: let the start event fall in a past second.
    await new Promise((r) => setTimeout(r, 1100));
  });
  after(async () => {
    await daemon.cleanup();
  });

  it('docker version shows the Server section and negotiates API 1.47', async () => {
    const res = await docker(daemon.host, ['version']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^Server: berth Engine$/m);
    assert.match(res.stdout, /^ Engine:$/m);
    assert.match(res.stdout, /^ {2}API version:\s+1\.47 \(minimum version 1\.24\)$/m);
    assert.match(res.stdout, /^ runc:\n {2}Version:\s+\d+\.\d+/m);
    assert.match(res.stdout, /^ conmon:\n {2}Version:\s+\d+\.\d+/m);
    const negotiated = await docker(daemon.host, [
      'version',
      '--format',
      '{{.Client.APIVersion}} {{.Server.APIVersion}}',
    ]);
    assert.equal(negotiated.stdout.trim(), '1.47 1.47');
  });

  it('docker version --format json carries the server components', async () => {
    const res = await docker(daemon.host, ['version', '--format', '{{json .Server}}']);
    assert.equal(res.code, 0, res.stderr);
    const server = JSON.parse(res.stdout) as { Components: { Name: string }[]; Os: string };
    assert.equal(server.Os, 'linux');
    assert.deepEqual(
      server.Components.map((c) => c.Name),
      ['Engine', 'runc', 'conmon'],
    );
  });

  it('docker info prints the server facts', async () => {
    const res = await docker(daemon.host, ['info']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^ Server Version: \d+\.\d+\.\d+/m);
    assert.match(res.stdout, /^ Storage Driver: overlay2$/m);
    assert.match(res.stdout, /^ Cgroup Driver: cgroupfs$/m);
    assert.match(res.stdout, /^ Default Runtime: runc$/m);
    assert.ok(res.stdout.includes(` Docker Root Dir: ${daemon.dataRoot}\n`));
    const cpus = await docker(daemon.host, [
      'info',
      '--format',
      '{{.NCPU}} {{.OSType}} {{.Swarm.LocalNodeState}}',
    ]);
    assert.match(cpus.stdout.trim(), /^\d+ linux inactive$/);
  });

  it('docker events replays daemon events with --since and --until', async () => {
    const res = await docker(daemon.host, [
      'events',
      '--filter',
      'type=daemon',
      '--since',
      '10m',
      '--until',
      '0s',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) daemon start [0-9a-f-]{36} \(name=.+\)$/m,
    );
  });

  it('docker events --format renders templates', async () => {
    const res = await docker(daemon.host, [
      'events',
      '--since',
      '10m',
      '--until',
      '0s',
      '--format',
      '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^daemon start \S+$/m);
    const json = await docker(daemon.host, [
      'events',
      '--since',
      '10m',
      '--until',
      '0s',
      '--format',
      '{{json .}}',
    ]);
    const first = JSON.parse(json.stdout.split('\n')[0] ?? '') as { Type: string; timeNano: number };
    assert.equal(first.Type, 'daemon');
  });

  it('docker reports daemon errors in its usual shape', async () => {
    const res = await docker(daemon.host, ['events', '--filter', 'bogus=1', '--until', '0s']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /invalid filter 'bogus'/);
  });
});
