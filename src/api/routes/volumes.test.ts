import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ApiError, BerthClient } from '../../client/client.js';
import {
  createVolume,
  inspectVolume,
  inspectVolumeRaw,
  listVolumes,
  pruneVolumes,
  removeVolume,
} from '../../client/volumes.js';
import { EventBus } from '../../engine/events/bus.js';
import type { EngineEvent } from '../../engine/events/types.js';
import { VolumeService } from '../../engine/volumes/service.js';
import { FilterArgs } from '../../util/filters.js';
import { silentLogger } from '../../util/log.js';
import { ApiServer } from '../server.js';
import { rfc3339Local } from '../wire/volumes.js';
import { volumeRoutes } from './volumes.js';

interface Reply {
  status: number;
  body: string;
}

function call(socketPath: string, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body !== undefined ? { 'Content-Type': 'application/json' } : {};
    const req = request({ socketPath, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const message = (r: Reply): string => (JSON.parse(r.body) as { message: string }).message;

describe('volume routes and client', () => {
  let dir = '';
  let socket = '';
  let server: ApiServer;
  let service: VolumeService;
  let client: BerthClient;
  const events: EngineEvent[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-volume-routes-'));
    socket = join(dir, 'api.sock');
    const bus = new EventBus(undefined, silentLogger());
    bus.subscribe((ev) => events.push(ev));
    service = await VolumeService.open({ dataRoot: join(dir, 'data'), events: bus, logger: silentLogger() });
    server = new ApiServer({
      routes: volumeRoutes(service),
      logger: silentLogger(),
      serverHeader: 'berth/test (linux)',
      experimental: false,
    });
    await server.listen({ kind: 'unix', path: socket });
    client = new BerthClient(`unix://${socket}`, '1.47');
  });
  after(async () => {
    await server.close(1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('POST /volumes/create answers 201 with the Volume in moby field order', async () => {
    const r = await call(
      socket,
      'POST',
      '/v1.47/volumes/create',
      JSON.stringify({ Name: 'web', Driver: 'local', Labels: { app: 'web' } }),
    );
    assert.equal(r.status, 201, r.body);
    const v = JSON.parse(r.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), [
      'CreatedAt',
      'Driver',
      'Labels',
      'Mountpoint',
      'Name',
      'Options',
      'Scope',
    ]);
    assert.equal(v['Name'], 'web');
    assert.equal(v['Driver'], 'local');
    assert.deepEqual(v['Labels'], { app: 'web' });
    assert.equal(v['Options'], null);
    assert.equal(v['Scope'], 'local');
    assert.equal(v['Mountpoint'], join(dir, 'data', 'volumes', 'web', '_data'));
    assert.match(String(v['CreatedAt']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  });

  it('an empty create body makes an anonymous volume', async () => {
    const r = await call(socket, 'POST', '/volumes/create');
    assert.equal(r.status, 201, r.body);
    const v = JSON.parse(r.body) as { Name: string; Labels: Record<string, string> };
    assert.match(v.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(v.Labels, { 'com.docker.volume.anonymous': '' });
  });

  it('create errors carry Docker statuses and messages', async () => {
    const bad = await call(socket, 'POST', '/volumes/create', JSON.stringify({ Name: 'x' }));
    assert.equal(bad.status, 400);
    assert.match(message(bad), /^create x: volume name is too short/);
    const plugin = await call(
      socket,
      'POST',
      '/volumes/create',
      JSON.stringify({ Name: 'p1', Driver: 'rexray' }),
    );
    assert.equal(plugin.status, 404);
    assert.equal(
      message(plugin),
      'create p1: error looking up volume plugin rexray: plugin "rexray" not found',
    );
    const nfs = await call(
      socket,
      'POST',
      '/volumes/create',
      JSON.stringify({ Name: 'n1', DriverOpts: { type: 'nfs', device: ':/x', o: 'addr=10.0.0.1' } }),
    );
    assert.equal(nfs.status, 400);
    assert.match(message(nfs), /not supported by berth's local driver/);
    const types = await call(socket, 'POST', '/volumes/create', JSON.stringify({ Name: 5 }));
    assert.equal(types.status, 400);
    assert.match(
      message(types),
      /cannot unmarshal number into Go struct field CreateOptions\.Name of type string/,
    );
  });

  it('GET /volumes lists with filters and Warnings null', async () => {
    const r = await call(socket, 'GET', `/volumes?filters=${encodeURIComponent('{"name":{"web":true}}')}`);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { Volumes: { Name: string }[]; Warnings: unknown };
    assert.deepEqual(
      body.Volumes.map((v) => v.Name),
      ['web'],
    );
    assert.equal(body.Warnings, null);
    const bad = await call(socket, 'GET', `/volumes?filters=${encodeURIComponent('{"until":["1h"]}')}`);
    assert.equal(bad.status, 400);
    assert.equal(message(bad), "invalid filter 'until'");
  });

  it('GET and DELETE /volumes/{name}', async () => {
    const got = await call(socket, 'GET', '/volumes/web');
    assert.equal(got.status, 200);
    assert.equal((JSON.parse(got.body) as { Name: string }).Name, 'web');
    const missing = await call(socket, 'GET', '/volumes/nope');
    assert.equal(missing.status, 404);
    assert.equal(message(missing), 'get nope: no such volume');
    assert.equal((await call(socket, 'DELETE', '/volumes/nope')).status, 404);
    const update = await call(socket, 'PUT', '/volumes/nope?version=1', '{}');
    assert.equal(update.status, 503);
    assert.equal(message(update), 'volume update only valid for cluster volumes, but swarm is unavailable');
    assert.equal((await call(socket, 'DELETE', '/volumes/nope?force=1')).status, 204);

    service.reference('web', 'c0ffee');
    const busy = await call(socket, 'DELETE', '/volumes/web?force=true');
    assert.equal(busy.status, 409);
    assert.equal(message(busy), 'remove web: volume is in use - [c0ffee]');
    service.release('web', 'c0ffee');
    const gone = await call(socket, 'DELETE', '/volumes/web');
    assert.equal(gone.status, 204);
    assert.equal(gone.body, '');
  });

  it('POST /volumes/prune takes anonymous volumes, and all unused ones before API 1.42', async () => {
    await service.create({ Name: 'named' });
    const r = await call(socket, 'POST', '/v1.47/volumes/prune');
    assert.equal(r.status, 200);
    const report = JSON.parse(r.body) as { VolumesDeleted: string[]; SpaceReclaimed: number };
    assert.equal(report.VolumesDeleted.length, 1);
    assert.match(report.VolumesDeleted[0] ?? '', /^[0-9a-f]{64}$/);
    assert.equal(report.SpaceReclaimed, 0);
    const none = JSON.parse((await call(socket, 'POST', '/v1.47/volumes/prune')).body) as unknown;
    assert.deepEqual(none, { VolumesDeleted: [], SpaceReclaimed: 0 });
    const old = JSON.parse((await call(socket, 'POST', '/v1.41/volumes/prune')).body) as unknown;
    assert.deepEqual(old, { VolumesDeleted: ['named'], SpaceReclaimed: 0 });
    assert.equal((await call(socket, 'POST', '/v1.24/volumes/prune')).status, 404);
  });

  it('the client speaks the same API', async () => {
    const created = await createVolume(client, {
      Name: 'cv',
      Driver: 'local',
      Labels: { a: 'b' },
      DriverOpts: {},
    });
    assert.equal(created.Name, 'cv');
    assert.equal(created.Options, null, 'empty options are left out, as Go omitempty');
    await writeFile(join(created.Mountpoint, 'f'), Buffer.alloc(10));
    const list = await listVolumes(client, new FilterArgs([['label', ['a=b']]]));
    assert.deepEqual(
      list.Volumes?.map((v) => v.Name),
      ['cv'],
    );
    const { raw } = await inspectVolumeRaw(client, 'cv');
    assert.ok(raw.endsWith('\n'));
    assert.equal((await inspectVolume(client, 'cv')).CreatedAt, rfc3339Local(service.get('cv').createdAt));
    await assert.rejects(inspectVolume(client, '  '), {
      message: 'invalid volume name or ID: value is empty',
    });
    await assert.rejects(removeVolume(client, 'zz'), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 404);
      return true;
    });
    await removeVolume(client, 'zz', { force: true });
    const pruned = await pruneVolumes(client, new FilterArgs([['all', ['true']]]));
    assert.deepEqual(pruned, { VolumesDeleted: ['cv'], SpaceReclaimed: 10 });
    assert.deepEqual(events.at(-1)?.Actor, { ID: '', Attributes: { reclaimed: '10' } });
  });
});
