import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FilterArgs } from '../util/filters.js';
import { ApiError, BerthClient } from './client.js';
import {
  FILE_MODE,
  createContainer,
  decodePathStat,
  hasModeBit,
  listContainers,
  normalizeCapabilities,
  removeContainer,
  statContainerPath,
  stopContainer,
  topContainer,
  trimId,
  waitContainer,
  containerLogs,
  execStartDetached,
  consoleSize,
} from './containers.js';

interface Seen {
  method: string;
  url: string;
  body: string;
}

describe('container endpoints', () => {
  let dir: string;
  let server: Server;
  let client: BerthClient;
  const seen: Seen[] = [];
  let release: (() => void) | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-containers-'));
    const socketPath = join(dir, 'd.sock');
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '';
        seen.push({ method: req.method ?? '', url, body: Buffer.concat(chunks).toString() });
        const json = (status: number, body: unknown): void => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (url.startsWith('/v1.47/containers/create')) return json(201, { Id: 'abc', Warnings: [] });
        if (url.startsWith('/v1.47/containers/json')) return json(200, [{ Id: 'abc' }]);
        if (url.startsWith('/v1.47/containers/gone/'))
          return json(404, { message: 'No such container: gone' });
        if (url.includes('/wait')) {
          // Headers first, the status once the "container" exits.
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.flushHeaders();
          release = () => res.end(JSON.stringify({ StatusCode: 3 }));
          return;
        }
        if (req.method === 'HEAD' && url.includes('/archive')) {
          const stat = {
            name: 'etc',
            size: 4096,
            mode: FILE_MODE.dir + 0o755,
            mtime: '2024-01-01T00:00:00Z',
            linkTarget: '',
          };
          res.writeHead(200, {
            'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64'),
          });
          res.end();
          return;
        }
        if (url.includes('/top')) return json(200, { Titles: ['PID'], Processes: [['1']] });
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    client = new BerthClient(`unix://${socketPath}`, '1.47');
  });

  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const last = (): Seen => seen[seen.length - 1] ?? { method: '', url: '', body: '' };

  it('creates with name and platform, capabilities normalized', async () => {
    const res = await createContainer(
      client,
      { Image: 'alpine', HostConfig: { CapAdd: ['net_admin', 'CAP_SYS_TIME', 'net_admin'] } },
      { name: 'web', platform: 'linux/amd64' },
    );
    assert.deepEqual(res, { Id: 'abc', Warnings: [] });
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/v1.47/containers/create?name=web&platform=linux%2Famd64');
    assert.deepEqual(JSON.parse(last().body), {
      Image: 'alpine',
      HostConfig: { CapAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'] },
    });
  });

  it('lists with all, limit, size and filters', async () => {
    const filters = FilterArgs.fromPairs(['status=exited']);
    await listContainers(client, { all: true, limit: 3, size: true, filters });
    assert.equal(
      last().url,
      '/v1.47/containers/json?all=1&limit=3&size=1&filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D',
    );
    await listContainers(client, { limit: -1 });
    assert.equal(last().url, '/v1.47/containers/json');
  });

  it('sends stop, remove, top and logs parameters as docker', async () => {
    await stopContainer(client, 'c1', { timeout: 0, signal: 'SIGINT' });
    assert.equal(last().url, '/v1.47/containers/c1/stop?t=0&signal=SIGINT');
    await removeContainer(client, 'c1', { force: true, volumes: true });
    assert.deepEqual([last().method, last().url], ['DELETE', '/v1.47/containers/c1?v=1&force=1']);
    assert.deepEqual(await topContainer(client, 'c1', ['-o', 'pid']), {
      Titles: ['PID'],
      Processes: [['1']],
    });
    assert.equal(last().url, '/v1.47/containers/c1/top?ps_args=-o+pid');
    (
      await containerLogs(client, 'c1', {
        stdout: true,
        stderr: true,
        follow: true,
        tail: 'all',
        since: '10',
      })
    ).resume();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(last().url, '/v1.47/containers/c1/logs?stdout=1&stderr=1&since=10&follow=1');
    await execStartDetached(client, 'e1', { tty: true, consoleSize: { height: 24, width: 80 } });
    assert.deepEqual(JSON.parse(last().body), { Detach: true, Tty: true, ConsoleSize: [24, 80] });
  });

  it('returns from wait once the daemon has accepted it, the status later', async () => {
    const wait = await waitContainer(client, 'c1', 'next-exit');
    assert.equal(last().url, '/v1.47/containers/c1/wait?condition=next-exit');
    release?.();
    assert.deepEqual(await wait.result, { StatusCode: 3 });
  });

  it('passes daemon errors through and refuses empty IDs before asking', async () => {
    await assert.rejects(stopContainer(client, 'gone'), (err: unknown) => {
      return err instanceof ApiError && err.status === 404 && err.message === 'No such container: gone';
    });
    const count = seen.length;
    await assert.rejects(stopContainer(client, '  '), {
      message: 'invalid container name or ID: value is empty',
    });
    assert.equal(seen.length, count);
  });

  it('stats paths from the archive header', async () => {
    const stat = await statContainerPath(client, 'c1', '/etc');
    assert.equal(last().url, '/v1.47/containers/c1/archive?path=%2Fetc');
    assert.equal(stat.name, 'etc');
    assert.equal(hasModeBit(stat.mode, FILE_MODE.dir), true);
    assert.equal(hasModeBit(stat.mode, FILE_MODE.symlink), false);
  });
});

describe('container client helpers', () => {
  it('normalizes capabilities and IDs', () => {
    assert.deepEqual(normalizeCapabilities(['sys_admin', 'ALL', 'cap_chown', 'SYS_ADMIN']), [
      'ALL',
      'CAP_CHOWN',
      'CAP_SYS_ADMIN',
    ]);
    assert.equal(trimId('container', ' abc '), 'abc');
    assert.throws(() => trimId('exec', ''), { message: 'invalid exec name or ID: value is empty' });
  });

  it('decodes path stats and console sizes', () => {
    const header = Buffer.from(
      JSON.stringify({ name: 'l', size: 3, mode: FILE_MODE.symlink + 0o777, mtime: 'x', linkTarget: '/t' }),
    ).toString('base64');
    const stat = decodePathStat(header);
    assert.equal(stat.linkTarget, '/t');
    assert.equal(hasModeBit(stat.mode, FILE_MODE.symlink), true);
    assert.equal(consoleSize(true, { height: 0, width: 0 }), undefined);
    assert.deepEqual(consoleSize(true, { height: 10, width: 20 }), [10, 20]);
    assert.throws(() => consoleSize(false, { height: 10, width: 20 }), {
      message: 'console size is only supported when TTY is enabled',
    });
  });
});
