import assert from 'node:assert/strict';
import {
  chown,
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { FilterArgs } from '../../util/filters.js';
import { silentLogger } from '../../util/log.js';
import { EventBus } from '../events/bus.js';
import type { EngineEvent } from '../events/types.js';
import { isMountPoint, mountPoints, mountsUnder, unmountAll } from './fs.js';
import { ANONYMOUS_LABEL, VolumeService } from './service.js';

const isRoot = process.getuid?.() === 0;

interface Fixture {
  dir: string;
  dataRoot: string;
  events: EngineEvent[];
  service: VolumeService;
}

async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-volumes-'));
  const dataRoot = join(dir, 'data');
  const bus = new EventBus(undefined, silentLogger());
  const events: EngineEvent[] = [];
  bus.subscribe((ev) => events.push(ev));
  const service = await VolumeService.open({ dataRoot, events: bus, logger: silentLogger() });
  return { dir, dataRoot, events, service };
}

/** Unmounts anything a failed test left under the fixture, then deletes it. */
async function cleanup(f: Fixture | undefined): Promise<void> {
  if (!f) return;
  for (const m of await mountsUnder(f.dir)) await unmountAll(m).catch(() => undefined);
  await rm(f.dir, { recursive: true, force: true });
}

const filters = (pairs: Record<string, string[]>): FilterArgs => new FilterArgs(Object.entries(pairs));
const names = (f: Fixture, args: FilterArgs = new FilterArgs()): string[] =>
  f.service.list(args).map((v) => v.name);
const actions = (f: Fixture): string[] => f.events.map((e) => `${e.Action} ${e.Actor.ID}`);

async function fsTypeOf(path: string): Promise<string | undefined> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  let found: string | undefined;
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left?.split(' ')[4] === path) found = right?.split(' ')[0];
  }
  return found;
}

describe('VolumeService', () => {
  let f: Fixture | undefined;
  const fx = (): Fixture => {
    assert.ok(f);
    return f;
  };
  beforeEach(async () => {
    f = await fixture();
  });
  afterEach(async () => {
    await cleanup(f);
    f = undefined;
  });

  describe('create and get', () => {
    it('creates a named volume with its layout, metadata and event', async () => {
      const { service, dataRoot } = fx();
      const v = await service.create({ Name: 'data', Labels: { a: 'b' } });
      assert.equal(v.name, 'data');
      assert.equal(v.driver, 'local');
      assert.equal(v.mountpoint, join(dataRoot, 'volumes', 'data', '_data'));
      assert.deepEqual(v.labels, { a: 'b' });
      assert.equal(v.options, null);
      assert.equal(v.anonymous, false);
      assert.ok(Math.abs(Date.parse(v.createdAt) - Date.now()) < 60_000);

      assert.equal((await stat(join(dataRoot, 'volumes'))).mode & 0o777, 0o701);
      assert.equal((await stat(join(dataRoot, 'volumes', 'data'))).mode & 0o777, 0o701);
      assert.equal((await stat(v.mountpoint)).mode & 0o777, 0o755);
      const meta = JSON.parse(
        await readFile(join(dataRoot, 'volumes', 'data', 'meta.json'), 'utf8'),
      ) as Record<string, unknown>;
      assert.deepEqual(meta, {
        Name: 'data',
        Driver: 'local',
        Labels: { a: 'b' },
        Options: null,
        CreatedAt: v.createdAt,
      });
      assert.deepEqual(await readdir(join(dataRoot, 'volumes')), ['data']);
      const [ev] = fx().events;
      assert.equal(ev?.Type, 'volume');
      assert.equal(ev?.Action, 'create');
      assert.deepEqual(ev?.Actor, { ID: 'data', Attributes: { driver: 'local' } });
      assert.deepEqual(service.get('data'), v);
    });

    it('creating an existing name returns it unchanged, without an event', async () => {
      const { service } = fx();
      const first = await service.create({ Name: 'same', Labels: { x: '1' } });
      const again = await service.create({ Name: 'same', Labels: { x: '2' }, Driver: 'local' });
      assert.deepEqual(again, first);
      assert.deepEqual(actions(fx()), ['create same']);
    });

    it('creates an anonymous volume without a name', async () => {
      const { service } = fx();
      const v = await service.create({ Labels: { keep: 'me' } });
      assert.match(v.name, /^[0-9a-f]{64}$/);
      assert.equal(v.anonymous, true);
      assert.deepEqual(v.labels, { keep: 'me', [ANONYMOUS_LABEL]: '' });
      const empty = await service.create({ Name: '' });
      assert.notEqual(empty.name, v.name);
      assert.equal(empty.anonymous, true);
    });

    it('refuses bad names and unknown drivers with Docker messages', async () => {
      const { service } = fx();
      await assert.rejects(service.create({ Name: 'a' }), {
        kind: 'invalid-parameter',
        message: 'create a: volume name is too short, names should be at least two alphanumeric characters',
      });
      await assert.rejects(service.create({ Name: 'a/b' }), {
        kind: 'invalid-parameter',
        message:
          'create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
      });
      await assert.rejects(service.create({ Name: '.hidden' }), { kind: 'invalid-parameter' });
      await assert.rejects(service.create({ Name: 'vol', Driver: 'nfsplugin' }), {
        kind: 'not-found',
        message: 'create vol: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found',
      });
      assert.deepEqual(names(fx()), []);
      assert.deepEqual(await readdir(service.root), []);
    });

    it('checks driver options as the local driver does and refuses mounts berth does not make', async () => {
      const { service } = fx();
      const refused: [Record<string, string>, RegExp][] = [
        [{ foo: 'bar' }, /^create v1: invalid option: "foo"$/],
        [{ type: 'tmpfs' }, /^create v1: missing required option: "device"$/],
        [{ device: '/x' }, /^create v1: missing required option: "type"$/],
        [{ o: 'bind' }, /^create v1: missing required option: "device"$/],
        [{ type: 'nfs', device: ':/export', o: 'addr=1.2.3.4' }, /type="nfs" is not supported/],
        [{ type: 'ext4', device: '/dev/sdz1' }, /type="ext4" is not supported/],
        [{ type: 'none', device: '/srv' }, /only with o=bind/],
        [{ type: 'none', device: 'relative', o: 'bind' }, /absolute host path/],
        [{ size: '10m' }, /quota size requested but no quota support/],
      ];
      for (const [opts, message] of refused) {
        await assert.rejects(service.create({ Name: 'v1', DriverOpts: opts }), (err: Error) => {
          assert.equal((err as { kind?: string }).kind, 'invalid-parameter', err.message);
          assert.match(err.message, message);
          return true;
        });
      }
      const tmpfs = await service.create({
        Name: 'v1',
        DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
      });
      assert.deepEqual(tmpfs.options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
      await service.create({ Name: 'v2', DriverOpts: { type: 'none', device: '/srv', o: 'bind,ro' } });
    });
  });

  describe('list', () => {
    it('filters by name, label, driver and dangling, sorted by name', async () => {
      const { service } = fx();
      await service.create({ Name: 'web-data', Labels: { app: 'web', tier: 'front' } });
      await service.create({ Name: 'db-data', Labels: { app: 'db' } });
      await service.create({ Name: 'cache' });
      service.reference('db-data', 'c1');
      const f0 = fx();
      assert.deepEqual(names(f0), ['cache', 'db-data', 'web-data']);
      assert.deepEqual(names(f0, filters({ name: ['cache'] })), ['cache']);
      assert.deepEqual(names(f0, filters({ name: ['data$'] })), ['db-data', 'web-data']);
      assert.deepEqual(names(f0, filters({ name: ['ca', 'web'] })), ['cache', 'web-data']);
      assert.deepEqual(names(f0, filters({ label: ['app'] })), ['db-data', 'web-data']);
      assert.deepEqual(names(f0, filters({ label: ['app=web'] })), ['web-data']);
      assert.deepEqual(names(f0, filters({ label: ['app', 'tier=front'] })), ['web-data']);
      assert.deepEqual(names(f0, filters({ driver: ['local'] })), ['cache', 'db-data', 'web-data']);
      assert.deepEqual(names(f0, filters({ driver: ['other'] })), []);
      assert.deepEqual(names(f0, filters({ dangling: ['true'] })), ['cache', 'web-data']);
      assert.deepEqual(names(f0, filters({ dangling: ['0'] })), ['db-data']);
    });

    it('refuses unknown filters and bad dangling values', () => {
      const { service } = fx();
      assert.throws(() => service.list(filters({ until: ['1h'] })), {
        kind: 'invalid-parameter',
        message: "invalid filter 'until'",
      });
      assert.throws(() => service.list(filters({ 'label!': ['a'] })), { message: "invalid filter 'label!'" });
      assert.throws(() => service.list(filters({ dangling: ['maybe'] })), {
        kind: 'invalid-parameter',
        message: "invalid filter 'dangling=[maybe]'",
      });
      assert.throws(() => service.list(filters({ dangling: ['true', 'false'] })), {
        message: "invalid filter 'dangling=[true false]'",
      });
    });
  });

  describe('get and remove', () => {
    it('reports a missing volume as Docker does', async () => {
      const { service } = fx();
      assert.throws(() => service.get('nope'), { kind: 'not-found', message: 'get nope: no such volume' });
      await assert.rejects(service.remove('nope'), {
        kind: 'not-found',
        message: 'get nope: no such volume',
      });
      await service.remove('nope', true);
    });

    it('refuses to remove a volume in use, listing its users, even with force', async () => {
      const { service } = fx();
      const v = await service.create({ Name: 'shared' });
      await writeFile(join(v.mountpoint, 'f'), 'x');
      service.reference('shared', 'bbbb');
      service.reference('shared', 'aaaa');
      assert.deepEqual(service.users('shared'), ['aaaa', 'bbbb']);
      await assert.rejects(service.remove('shared'), {
        kind: 'conflict',
        message: 'remove shared: volume is in use - [aaaa, bbbb]',
      });
      await assert.rejects(service.remove('shared', true), { kind: 'conflict' });
      service.release('shared', 'aaaa');
      service.release('shared', 'bbbb');
      assert.deepEqual(service.users('shared'), []);
      await service.remove('shared');
      assert.throws(() => service.get('shared'), { kind: 'not-found' });
      assert.deepEqual(await readdir(service.root), []);
      const last = fx().events.at(-1);
      assert.equal(last?.Action, 'destroy');
      assert.deepEqual(last?.Actor, { ID: 'shared', Attributes: { driver: 'local' } });
    });

    it('a container that mounts a volume is its user until released', async () => {
      const { service } = fx();
      await service.create({ Name: 'vv' });
      await service.mount('vv', 'c1');
      await service.unmount('vv', 'c1');
      assert.deepEqual(service.users('vv'), ['c1']);
      await assert.rejects(service.remove('vv'), { kind: 'conflict' });
      service.release('vv', 'c1');
      await service.remove('vv');
    });
  });

  describe('prune', () => {
    it('takes only unused anonymous volumes unless all=true, and reports the space', async () => {
      const { service } = fx();
      const anon = await service.create({});
      await writeFile(join(anon.mountpoint, 'blob'), Buffer.alloc(1000));
      const used = await service.create({}, { reference: 'c1' });
      await service.create({ Name: 'named' });
      await service.create({ Name: 'tmp', DriverOpts: { type: 'tmpfs', device: 'tmpfs' } });

      const first = await service.prune(new FilterArgs());
      assert.deepEqual(first, { deleted: [anon.name], reclaimed: 1000 });
      const prune = fx().events.at(-1);
      assert.equal(prune?.Action, 'prune');
      assert.deepEqual(prune?.Actor, { ID: '', Attributes: { reclaimed: '1000' } });
      assert.ok(actions(fx()).includes(`destroy ${anon.name}`));

      const second = await service.prune(filters({ all: ['true'] }));
      assert.deepEqual(second.deleted, ['named']);
      assert.deepEqual(names(fx()).sort(), [used.name, 'tmp'].sort());
    });

    it('applies label and label! filters and checks the all filter', async () => {
      const { service } = fx();
      await service.create({ Name: 'keep', Labels: { keep: 'yes' } });
      await service.create({ Name: 'drop', Labels: { env: 'test' } });
      await service.create({ Name: 'other', Labels: { env: 'prod' } });
      assert.deepEqual((await service.prune(filters({ all: ['1'], label: ['env=test'] }))).deleted, ['drop']);
      assert.deepEqual((await service.prune(filters({ all: ['true'], 'label!': ['keep'] }))).deleted, [
        'other',
      ]);
      assert.deepEqual(names(fx()), ['keep']);
      await assert.rejects(service.prune(filters({ all: ['yes'] })), {
        kind: 'invalid-parameter',
        message: `invalid filter 'all': strconv.ParseBool: parsing "yes": invalid syntax`,
      });
      await assert.rejects(service.prune(filters({ all: ['true', 'false'] })), {
        message: "invalid filter 'all=[true false]': only one value is expected",
      });
      await assert.rejects(service.prune(filters({ dangling: ['true'] })), {
        message: "invalid filter 'dangling'",
      });
    });
  });

  describe('usage', () => {
    it('sizes _data as moby does (hard links once) and counts users', async () => {
      const { service } = fx();
      const v = await service.create({ Name: 'sized' });
      await writeFile(join(v.mountpoint, 'a'), Buffer.alloc(300));
      await mkdir(join(v.mountpoint, 'sub'));
      await writeFile(join(v.mountpoint, 'sub', 'b'), Buffer.alloc(200));
      await link(join(v.mountpoint, 'a'), join(v.mountpoint, 'sub', 'a-again'));
      await writeFile(join(v.mountpoint, 'empty'), '');
      service.reference('sized', 'c1');
      assert.deepEqual(await service.usage('sized'), { size: 500, refCount: 1 });
      await service.create({ Name: 'opts', DriverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      const df = await service.diskUsage();
      assert.deepEqual(
        df.map((d) => [d.view.name, d.usage.size]),
        [['sized', 500]],
      );
    });
  });

  describe('copyUp', () => {
    it('fills an empty volume keeping ownership, modes and symlinks', { skip: !isRoot }, async () => {
      const { service, dir } = fx();
      const src = join(dir, 'image-etc');
      await mkdir(join(src, 'sub'), { recursive: true });
      await chown(src, 1234, 5678);
      await chmod(src, 0o750);
      await writeFile(join(src, 'owned'), 'data');
      await chown(join(src, 'owned'), 42, 43);
      await chmod(join(src, 'owned'), 0o640);
      await writeFile(join(src, 'sub', 'exec'), '#!/bin/sh\n');
      await chmod(join(src, 'sub', 'exec'), 0o4755);
      await symlink('/etc/passwd', join(src, 'link'));

      const v = await service.create({ Name: 'cu' });
      assert.equal(await service.copyUp('cu', src), true);
      const root = await stat(v.mountpoint);
      assert.deepEqual([root.uid, root.gid, root.mode & 0o7777], [1234, 5678, 0o750]);
      const owned = await stat(join(v.mountpoint, 'owned'));
      assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [42, 43, 0o640]);
      assert.equal(await readFile(join(v.mountpoint, 'owned'), 'utf8'), 'data');
      assert.equal((await stat(join(v.mountpoint, 'sub', 'exec'))).mode & 0o7777, 0o4755);
      assert.ok((await lstat(join(v.mountpoint, 'link'))).isSymbolicLink());
      assert.equal(await readlink(join(v.mountpoint, 'link')), '/etc/passwd');

      // A volume with content is left alone.
      await writeFile(join(src, 'later'), 'x');
      assert.equal(await service.copyUp('cu', src), false);
      await assert.rejects(stat(join(v.mountpoint, 'later')), { code: 'ENOENT' });
    });

    it('copies nothing from a missing directory or a symlink', async () => {
      const { service, dir } = fx();
      const v = await service.create({ Name: 'cu2' });
      assert.equal(await service.copyUp('cu2', join(dir, 'missing')), false);
      await mkdir(join(dir, 'real'));
      await writeFile(join(dir, 'real', 'f'), 'x');
      await symlink(join(dir, 'real'), join(dir, 'alias'));
      assert.equal(await service.copyUp('cu2', join(dir, 'alias')), false);
      assert.deepEqual(await readdir(v.mountpoint), []);
      await assert.rejects(service.copyUp('nope', join(dir, 'real')), { kind: 'not-found' });
    });
  });

  describe('mounts', { skip: !isRoot }, () => {
    it('mounts a tmpfs volume at first use and unmounts it with the last user', async () => {
      const { service } = fx();
      const v = await service.create({
        Name: 'scratch',
        DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,mode=1777' },
      });
      try {
        assert.equal(await isMountPoint(v.mountpoint), false, 'not mounted before use');
        const path = await service.mount('scratch', 'c1', {
          destination: '/scratch',
          readWrite: false,
          propagation: 'rprivate',
        });
        assert.equal(path, v.mountpoint);
        assert.equal(await fsTypeOf(v.mountpoint), 'tmpfs');
        assert.equal((await stat(v.mountpoint)).mode & 0o7777, 0o1777);
        await writeFile(join(v.mountpoint, 'f'), 'in tmpfs');

        await service.mount('scratch', 'c2');
        await service.unmount('scratch', 'c1');
        assert.equal(await isMountPoint(v.mountpoint), true, 'still held by c2');
        await service.unmount('scratch', 'c2');
        assert.equal(await isMountPoint(v.mountpoint), false);
        assert.deepEqual(await readdir(v.mountpoint), [], 'tmpfs content went with the mount');

        const mount = fx().events.find((e) => e.Action === 'mount');
        assert.deepEqual(mount?.Actor, {
          ID: 'scratch',
          Attributes: {
            container: 'c1',
            destination: '/scratch',
            driver: 'local',
            propagation: 'rprivate',
            'read/write': 'false',
          },
        });
        const unmount = fx().events.find((e) => e.Action === 'unmount');
        assert.deepEqual(unmount?.Actor, { ID: 'scratch', Attributes: { container: 'c1', driver: 'local' } });
        assert.deepEqual(
          actions(fx()).filter((a) => /mount/.test(a)),
          ['mount scratch', 'mount scratch', 'unmount scratch', 'unmount scratch'],
        );
      } finally {
        await unmountAll(v.mountpoint);
      }
    });

    it('binds a host directory, unmounts it, and never deletes the host data', async () => {
      const { service, dir } = fx();
      const host = join(dir, 'host-data');
      await mkdir(host);
      await writeFile(join(host, 'keep.txt'), 'precious');
      const v = await service.create({
        Name: 'bound',
        DriverOpts: { type: 'none', device: host, o: 'bind' },
      });
      try {
        await service.mount('bound', 'c1');
        assert.equal(await readFile(join(v.mountpoint, 'keep.txt'), 'utf8'), 'precious');
        await writeFile(join(v.mountpoint, 'new.txt'), 'from container');
        await service.unmount('bound', 'c1');
        assert.equal(await isMountPoint(v.mountpoint), false);
        assert.deepEqual(await readdir(v.mountpoint), []);
        assert.equal(await readFile(join(host, 'new.txt'), 'utf8'), 'from container');

        // Mounted again (as after a daemon restart), then removed: the bind goes, the host data stays.
        await service.mount('bound', 'c2');
        await service.unmount('bound', 'c2');
        await service.mount('bound', 'c2');
        service.rebuildUsers([]);
        await service.remove('bound');
        assert.deepEqual((await readdir(host)).sort(), ['keep.txt', 'new.txt']);
        assert.equal(await isMountPoint(v.mountpoint), false);
      } finally {
        await unmountAll(v.mountpoint).catch(() => undefined);
      }
    });

    it('copies up into a bind volume through a temporary mount', async () => {
      const { service, dir } = fx();
      const src = join(dir, 'src');
      await mkdir(src);
      await writeFile(join(src, 'f'), 'x');
      const host = join(dir, 'bind-target');
      await mkdir(host);
      const v = await service.create({ Name: 'cb', DriverOpts: { type: 'none', device: host, o: 'bind' } });
      try {
        assert.equal(await service.copyUp('cb', src), true);
        assert.equal(await isMountPoint(v.mountpoint), false, 'the temporary mount is gone');
        assert.equal(await readFile(join(host, 'f'), 'utf8'), 'x');
      } finally {
        await unmountAll(v.mountpoint).catch(() => undefined);
      }
    });

    it('a reopened service finds mounted volumes and rebuilt users', async () => {
      const { service, dataRoot } = fx();
      const v = await service.create({ Name: 'live', DriverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      try {
        await service.mount('live', 'c1');
        const reopened = await VolumeService.open({
          dataRoot,
          events: new EventBus(undefined, silentLogger()),
          logger: silentLogger(),
        });
        reopened.rebuildUsers([
          { name: 'live', containerId: 'c1', mounted: true },
          { name: 'gone', containerId: 'c9' },
        ]);
        assert.deepEqual(reopened.users('live'), ['c1']);
        await reopened.mount('live', 'c2');
        await reopened.unmount('live', 'c2');
        assert.equal(await isMountPoint(v.mountpoint), true, 'c1 still holds it');
        await reopened.unmount('live', 'c1');
        assert.equal(await isMountPoint(v.mountpoint), false);
      } finally {
        await unmountAll(v.mountpoint).catch(() => undefined);
      }
    });
  });

  describe('on-disk state', () => {
    it('reloads volumes and deletes interrupted creations and removals', async () => {
      const { service, dataRoot } = fx();
      await service.create({ Name: 'persisted', Labels: { a: '1' } });
      await service.create({});
      await mkdir(join(service.root, '.half.creating-abc', '_data'), { recursive: true });
      await mkdir(join(service.root, '.old.removing-def', '_data'), { recursive: true });
      await mkdir(join(service.root, 'not-a-volume'));
      const reopened = await VolumeService.open({
        dataRoot,
        events: new EventBus(undefined, silentLogger()),
        logger: silentLogger(),
      });
      assert.deepEqual(
        reopened.list(new FilterArgs()).map((v) => [v.name, v.anonymous]),
        service.list(new FilterArgs()).map((v) => [v.name, v.anonymous]),
      );
      assert.deepEqual(reopened.get('persisted').labels, { a: '1' });
      const left = (await readdir(service.root)).filter((n) => n.startsWith('.'));
      assert.deepEqual(left, []);
      assert.ok((await readdir(service.root)).includes('not-a-volume'), 'unknown directories are kept');
      assert.equal((await mountPoints()).filter((m) => m.startsWith(dataRoot)).length, 0);
    });
  });
});
