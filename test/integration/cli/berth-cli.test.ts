import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';

describe('the berth CLI', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await TestDaemon.start();
  });
  after(async () => {
    await daemon.cleanup();
  });

  it('berth version shows Client and Server in docker version layout', async () => {
    const res = await berth(daemon.host, ['version']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.split('\n');
    assert.equal(lines[0], 'Client: berth');
    assert.match(res.stdout, /^ Version: {11}\d+\.\d+\.\d+/m);
    assert.match(res.stdout, /^ API version: {7}1\.47$/m);
    assert.match(res.stdout, /^ OS\/Arch: {11}linux\/\w+$/m);
    assert.match(res.stdout, /^Server: berth Engine$/m);
    assert.match(res.stdout, /^ {2}API version: {6}1\.47 \(minimum version 1\.24\)$/m);
    assert.match(res.stdout, /^ {2}Built: {12}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/m);
    assert.match(res.stdout, /^ runc:\n {2}Version: {10}\d/m);
    assert.match(res.stdout, /^ conmon:\n {2}Version: {10}\d/m);
  });

  it('berth version --format renders templates', async () => {
    const res = await berth(daemon.host, [
      'version',
      '--format',
      '{{.Server.ApiVersion}}|{{.Client.Platform.Name}}',
    ]);
    assert.equal(res.stdout, '1.47|berth\n');
    const json = await berth(daemon.host, ['version', '--format', 'json']);
    const parsed = JSON.parse(json.stdout) as { Client: { Version: string }; Server: { ApiVersion: string } };
    assert.equal(parsed.Server.ApiVersion, '1.47');
  });

  it('berth info prints the server section', async () => {
    const res = await berth(daemon.host, ['info']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^Server:$/m);
    assert.match(res.stdout, /^ Storage Driver: overlay2$/m);
    assert.ok(res.stdout.includes(` Docker Root Dir: ${daemon.dataRoot}\n`));
    const fmt = await berth(daemon.host, ['info', '--format', '{{.DockerRootDir}}']);
    assert.equal(fmt.stdout, `${daemon.dataRoot}\n`);
  });

  it('berth events prints docker-style lines and honours --format', async () => {
    const res = await berth(daemon.host, ['events', '--since', '1h', '--until', '0s']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) daemon start [0-9a-f-]{36} \(name=\S+\)$/m,
    );
    const fmt = await berth(daemon.host, [
      'events',
      '--since',
      '1h',
      '--until',
      '0s',
      '--format',
      '{{.Type}} {{.Action}}',
    ]);
    assert.equal(fmt.stdout.split('\n')[0], 'daemon start');
    const json = await berth(daemon.host, [
      'events',
      '--since',
      '1h',
      '--until',
      '0s',
      '--format',
      '{{json .}}',
    ]);
    const line = json.stdout.split('\n')[0] ?? '';
    assert.match(
      line,
      /^\{"Type":"daemon","Action":"start","Actor":\{"ID":"[0-9a-f-]{36}","Attributes":\{"name":"[^"]+"\}\},"scope":"local","time":\d+,"timeNano":\d{19}\}$/,
    );
  });

  it('berth events filters by type', async () => {
    const res = await berth(daemon.host, [
      'events',
      '--since',
      '1h',
      '--until',
      '0s',
      '--filter',
      'type=image',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, '');
  });

  it('refuses a bad template with exit code 64', async () => {
    const res = await berth(daemon.host, ['events', '--until', '0s', '--format', '{{.Nope']);
    assert.equal(res.code, 64);
    assert.match(res.stderr, /^Error parsing format: /);
  });

  it('refuses a bad --since clearly', async () => {
    const res = await berth(daemon.host, ['events', '--since', 'last tuesday']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /invalid value for --since/);
  });

  it('shows the daemon error message', async () => {
    const res = await berth(daemon.host, ['events', '--until', '0s', '--filter', 'nonsense=1']);
    assert.equal(res.code, 1);
    assert.equal(res.stderr, "Error response from daemon: invalid filter 'nonsense'\n");
  });

  it('says plainly when the daemon is not reachable', async () => {
    const missing = `unix://${join(daemon.dir, 'nobody.sock')}`;
    const res = await berth(missing, ['version']);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^Client: berth$/m, 'the client section still prints');
    assert.match(
      res.stderr,
      new RegExp(`Cannot connect to the berth daemon at ${missing}\\. Is berthd running\\?`),
    );
  });

  it('reads -H over BERTH_HOST over DOCKER_HOST', async () => {
    const viaFlag = await berth('unix:///nonexistent.sock', [
      '-H',
      daemon.host,
      'info',
      '--format',
      '{{.OSType}}',
    ]);
    assert.equal(viaFlag.stdout, 'linux\n');
    const viaDockerHost = await berth('', ['info', '--format', '{{.OSType}}'], {
      env: { DOCKER_HOST: daemon.host },
    });
    assert.equal(viaDockerHost.stdout, 'linux\n');
  });

  it('has --help everywhere', async () => {
    for (const args of [
      ['--help'],
      ['events', '--help'],
      ['version', '--help'],
      ['info', '--help'],
      ['system', '--help'],
    ]) {
      const res = await berth(daemon.host, args);
      assert.equal(res.code, 0, args.join(' '));
      assert.match(res.stdout, /Usage: berth/);
    }
  });
});
