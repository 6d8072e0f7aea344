import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth, docker } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';
import { api, errorMessageOf } from '../../helpers/http.js';

interface VolumeJson {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: string;
}

/**
 * Volumes through the real API with the official docker CLI (and berth's):
 * create, ls, inspect, rm, prune, their errors, events, and persistence
 * across a daemon restart.
 */
describe('volumes: docker volume create/ls/inspect/rm/prune', () => {
  let daemon: TestDaemon;
  let anonymous = '';
  const since = String(Math.floor(Date.now() / 1000) - 1);

  before(async () => {
    daemon = await TestDaemon.start();
  });
  after(async () => {
    await daemon.cleanup();
  });

  const dockerOk = async (args: string[], input?: string): Promise<string> => {
    const res = await docker(daemon.host, args, input !== undefined ? { input } : {});
    assert.equal(res.code, 0, `docker ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };

  it('docker volume create makes named, labelled, optioned and anonymous volumes', async () => {
    assert.equal(await dockerOk(['volume', 'create', 'data1']), 'data1\n');
    assert.equal(
      await dockerOk(['volume', 'create', '--label', 'env=test', '--label', 'team', 'labelled']),
      'labelled\n',
    );
    assert.equal(
      await dockerOk([
        'volume',
        'create',
        '--driver',
        'local',
        '--opt',
        'type=tmpfs',
        '--opt',
        'device=tmpfs',
        '--opt',
        'o=size=1m',
        'scratch',
      ]),
      'scratch\n',
    );
    anonymous = (await dockerOk(['volume', 'create'])).trim();
    assert.match(anonymous, /^[0-9a-f]{64}$/);
    // Creating an existing name returns it.
    assert.equal(await dockerOk(['volume', 'create', 'data1']), 'data1\n');
    const meta = JSON.parse(
      await readFile(join(daemon.dataRoot, 'volumes', 'labelled', 'meta.json'), 'utf8'),
    ) as Record<string, unknown>;
    assert.deepEqual(meta['Labels'], { env: 'test', team: '' });
    assert.equal((await stat(join(daemon.dataRoot, 'volumes', 'data1', '_data'))).isDirectory(), true);
  });

  it('docker volume create reports Docker’s errors', async () => {
    const plugin = await docker(daemon.host, ['volume', 'create', '-d', 'nosuch', 'p1']);
    assert.equal(plugin.code, 1);
    assert.equal(
      plugin.stderr.trim(),
      'Error response from daemon: create p1: error looking up volume plugin nosuch: plugin "nosuch" not found',
    );
    const short = await docker(daemon.host, ['volume', 'create', 'a']);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /create a: volume name is too short/);
    const nfs = await docker(daemon.host, [
      'volume',
      'create',
      '-o',
      'type=nfs',
      '-o',
      'device=:/export',
      '-o',
      'o=addr=10.0.0.1',
      'n1',
    ]);
    assert.equal(nfs.code, 1);
    assert.match(nfs.stderr, /create n1: volume option type="nfs" is not supported/);
    const missing = await docker(daemon.host, ['volume', 'create', '-o', 'type=tmpfs', 't1']);
    assert.match(missing.stderr, /create t1: missing required option: "device"/);
  });

  it('docker volume ls prints the table, names, filters and templates', async () => {
    const table = await dockerOk(['volume', 'ls']);
    const [header, ...rows] = table.trimEnd().split('\n');
    assert.equal(header, 'DRIVER    VOLUME NAME');
    assert.deepEqual(
      [...rows].sort(),
      ['data1', 'labelled', 'scratch', anonymous].map((n) => `local     ${n}`).sort(),
    );
    // Sorted naturally by name (where the random anonymous name falls depends on its first digits).
    const named = rows.filter((r) => !r.includes(anonymous));
    assert.deepEqual(named, ['local     data1', 'local     labelled', 'local     scratch']);
    assert.equal(await dockerOk(['volume', 'ls', '-q', '--filter', 'label=env=test']), 'labelled\n');
    assert.equal(await dockerOk(['volume', 'ls', '-q', '--filter', 'name=scr']), 'scratch\n');
    assert.equal(
      await dockerOk(['volume', 'ls', '-q', '--filter', 'dangling=true', '--filter', 'label=team']),
      'labelled\n',
    );
    assert.equal(await dockerOk(['volume', 'ls', '-q', '--filter', 'driver=other']), '');
    assert.equal(
      await dockerOk([
        'volume',
        'ls',
        '--filter',
        'name=data1',
        '--format',
        '{{.Name}} {{.Driver}} {{.Scope}}',
      ]),
      'data1 local local\n',
    );
    const json = JSON.parse(
      await dockerOk(['volume', 'ls', '--filter', 'name=labelled', '--format', 'json']),
    ) as {
      Labels: string;
      Mountpoint: string;
    };
    // docker 28.2 joins the labels in Go map order (later CLIs sort them).
    assert.deepEqual(String(json.Labels).split(',').sort(), ['env=test', 'team=']);
    assert.equal(json.Mountpoint, join(daemon.dataRoot, 'volumes', 'labelled', '_data'));

    const bad = await docker(daemon.host, ['volume', 'ls', '--filter', 'until=1h']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'until'/);

    assert.equal(await berth(daemon.host, ['volume', 'ls']).then((r) => r.stdout), table);
  });

  it('docker volume inspect shows Docker’s Volume', async () => {
    const [v] = JSON.parse(await dockerOk(['volume', 'inspect', 'scratch'])) as VolumeJson[];
    assert.ok(v);
    assert.equal(v.Name, 'scratch');
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.deepEqual(v.Options, { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' });
    assert.equal(v.Labels, null);
    assert.equal(v.Mountpoint, join(daemon.dataRoot, 'volumes', 'scratch', '_data'));
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    assert.ok(Math.abs(Date.parse(v.CreatedAt) - Date.now()) < 120_000);

    assert.equal(
      await dockerOk(['volume', 'inspect', '--format', '{{.Name}} {{index .Labels "env"}}', 'labelled']),
      'labelled test\n',
    );
    const missing = await docker(daemon.host, ['volume', 'inspect', 'data1', 'nope']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'Error response from daemon: get nope: no such volume');
    assert.equal((JSON.parse(missing.stdout) as VolumeJson[])[0]?.Name, 'data1');

    const berthInspect = await berth(daemon.host, ['volume', 'inspect', 'scratch']);
    assert.equal(berthInspect.code, 0, berthInspect.stderr);
    assert.deepEqual(JSON.parse(berthInspect.stdout), [v]);

    const raw = await api(daemon.socket, 'GET', '/v1.47/volumes/nope');
    assert.equal(raw.status, 404);
    assert.equal(errorMessageOf(raw), 'get nope: no such volume');
  });

  it('docker volume rm removes volumes and reports the missing ones', async () => {
    await writeFile(join(daemon.dataRoot, 'volumes', 'data1', '_data', 'f'), 'content');
    const res = await docker(daemon.host, ['volume', 'rm', 'data1', 'nope']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, 'data1\n');
    assert.equal(res.stderr.trim(), 'Error response from daemon: get nope: no such volume');
    await assert.rejects(stat(join(daemon.dataRoot, 'volumes', 'data1')), { code: 'ENOENT' });
    assert.equal(await dockerOk(['volume', 'rm', '-f', 'nope']), 'nope\n');
  });

  it('docker volume prune asks, then takes anonymous volumes, and all unused ones with -a', async () => {
    const declined = await docker(daemon.host, ['volume', 'prune'], { input: 'n\n' });
    assert.equal(declined.code, 0, declined.stderr);
    assert.match(
      declined.stdout,
      /WARNING! This will remove anonymous local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] /,
    );
    assert.match(await dockerOk(['volume', 'ls', '-q']), new RegExp(anonymous));

    await writeFile(join(daemon.dataRoot, 'volumes', anonymous, '_data', 'blob'), Buffer.alloc(2000));
    const pruned = await dockerOk(['volume', 'prune', '-f']);
    assert.equal(pruned, `Deleted Volumes:\n${anonymous}\n\nTotal reclaimed space: 2kB\n`);

    const all = await dockerOk(['volume', 'prune', '--all', '--force', '--filter', 'label=env=test']);
    assert.equal(all, 'Deleted Volumes:\nlabelled\n\nTotal reclaimed space: 0B\n');
    // Volumes with driver options (the tmpfs) are never pruned.
    assert.equal(await dockerOk(['volume', 'prune', '-a', '-f']), 'Total reclaimed space: 0B\n');
    assert.equal(await dockerOk(['volume', 'ls', '-q']), 'scratch\n');
  });

  it('docker events shows the volume events', async () => {
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const res = await dockerOk([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'type=volume',
      '--format',
      '{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "driver"}}{{index .Actor.Attributes "reclaimed"}}',
    ]);
    const lines = res.trim().split('\n');
    for (const expected of [
      'create data1 local',
      'create labelled local',
      'create scratch local',
      `create ${anonymous} local`,
      'destroy data1 local',
      `destroy ${anonymous} local`,
      'destroy labelled local',
      'prune 2000',
    ]) {
      assert.ok(
        lines.some((l) => l.replace(/\s+/g, ' ').trim() === expected),
        `${expected} in\n${res}`,
      );
    }
    assert.equal(
      lines.filter((l) => l.startsWith('create data1')).length,
      1,
      'no event for an existing name',
    );
    const named = await dockerOk([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'volume=scratch',
      '--format',
      '{{.Type}} {{.Action}}',
    ]);
    assert.equal(named, 'volume create\n');
  });

  it('volumes survive a daemon restart', async () => {
    await daemon.stop();
    await daemon.launch();
    assert.equal(await dockerOk(['volume', 'ls', '-q']), 'scratch\n');
    const [v] = JSON.parse(await dockerOk(['volume', 'inspect', 'scratch'])) as VolumeJson[];
    assert.deepEqual(v?.Options, { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' });
    assert.equal(await dockerOk(['volume', 'rm', 'scratch']), 'scratch\n');
    assert.equal(await dockerOk(['volume', 'ls', '-q']), '');
  });
});
