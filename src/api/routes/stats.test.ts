import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { StatsService, type StatsTarget } from '../../engine/stats/sampler.js';
import { NotFoundError } from '../../errors.js';
import { silentLogger } from '../../util/log.js';
import { ApiServer } from '../server.js';
import type { StatsHistoryResponse, StatsResponse } from '../wire/stats.js';
import { statsRoutes } from './stats.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/cgroups/', import.meta.url));
const ID = '4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70a';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(socketPath: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The first `count` lines of a streamed response, then the connection is dropped. */
function firstLines(
  socketPath: string,
  path: string,
  count: number,
): Promise<{ headers: Reply['headers']; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path }, (res) => {
      let buffered = '';
      res.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n').filter((l) => l !== '');
        if (lines.length >= count) {
          req.destroy();
          resolve({ headers: res.headers, lines: lines.slice(0, count) });
        }
      });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}

describe('stats routes', () => {
  let dir = '';
  let socket = '';
  let server: ApiServer;
  let stats: StatsService;
  const target: StatsTarget = { id: ID, name: '/web', running: true, pid: 22534, cgroupPath: `/berth/${ID}` };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-stats-routes-'));
    await cp(join(FIXTURES, 'v1'), join(dir, 'host'), { recursive: true });
    socket = join(dir, 'api.sock');
    stats = new StatsService({
      listRunning: () => [target],
      lookup: (id) => (id === ID ? target : undefined),
      cgroupRoot: join(dir, 'host/cgroup'),
      procRoot: join(dir, 'host/proc'),
      intervalMs: 50,
      warmupMs: 5,
    });
    const lookup = (ref: string): { id: string } => {
      if (ref === 'web' || ref === ID) return { id: ID };
      throw new NotFoundError(`No such container: ${ref}`);
    };
    server = new ApiServer({
      routes: statsRoutes(stats, lookup),
      logger: silentLogger(),
      serverHeader: 'berth/test',
      experimental: false,
    });
    await server.listen({ kind: 'unix', path: socket });
  });

  after(async () => {
    stats.close();
    await server.close(1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('stream=false answers one object with a previous sample', async () => {
    const res = await get(socket, '/v1.47/containers/web/stats?stream=false');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.ok(res.body.endsWith('}\n'));
    const v = JSON.parse(res.body) as StatsResponse;
    assert.equal(v.id, ID);
    assert.equal(v.name, '/web');
    assert.notEqual(v.preread, '0001-01-01T00:00:00Z');
    assert.ok(v.precpu_stats.system_cpu_usage !== undefined && v.precpu_stats.system_cpu_usage > 0);
    assert.equal(v.memory_stats.usage, 17190912);
  });

  it('one-shot=true gives one sample without a previous one, from API 1.41 on', async () => {
    const oneShot = JSON.parse(
      (await get(socket, '/containers/web/stats?stream=0&one-shot=1')).body,
    ) as StatsResponse;
    assert.equal(oneShot.preread, '0001-01-01T00:00:00Z');
    assert.equal(oneShot.precpu_stats.cpu_usage.total_usage, 0);
    const old = JSON.parse(
      (await get(socket, '/v1.40/containers/web/stats?stream=0&one-shot=1')).body,
    ) as StatsResponse;
    assert.notEqual(old.preread, '0001-01-01T00:00:00Z', 'one-shot does not exist before 1.41');
  });

  it('refuses stream=true with one-shot=true, as Docker before 29', async () => {
    const res = await get(socket, '/containers/web/stats?one-shot=true');
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { message: 'cannot have stream=true and one-shot=true' });
  });

  it('answers 404 for an unknown container', async () => {
    const res = await get(socket, '/containers/nope/stats?stream=false');
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.body), { message: 'No such container: nope' });
  });

  it('streams by default, one object per line', async () => {
    const { headers, lines } = await firstLines(socket, '/containers/web/stats', 3);
    assert.equal(headers['content-type'], 'text/plain; charset=utf-8');
    const views = lines.map((l) => JSON.parse(l) as StatsResponse);
    for (const v of views) assert.equal(v.id, ID);
    assert.equal(views[2]?.preread, views[1]?.read, 'each object carries the one before as precpu');
  });

  it('serves the history extension under /berth/v1', async () => {
    await stats.sampleBackground();
    const res = await get(socket, `/berth/v1/containers/web/stats/history?since=60`);
    assert.equal(res.status, 200);
    const h = JSON.parse(res.body) as StatsHistoryResponse;
    assert.equal(h.id, ID);
    assert.equal(h.name, 'web');
    assert.equal(h.intervalMs, 50);
    assert.ok(h.samples.length > 0);
    assert.deepEqual(Object.keys(h.samples[0] ?? {}), [
      'time',
      'cpuPercent',
      'memoryUsage',
      'memoryLimit',
      'netRx',
      'netTx',
      'blockRead',
      'blockWrite',
      'pids',
    ]);
    assert.equal((await get(socket, '/v1.47/berth/v1/containers/web/stats/history')).status, 200);
  });

  it('refuses a bad `since` and an unknown container in the history', async () => {
    assert.equal((await get(socket, '/berth/v1/containers/web/stats/history?since=-1')).status, 400);
    assert.equal((await get(socket, '/berth/v1/containers/web/stats/history?since=1m')).status, 400);
    const res = await get(socket, '/berth/v1/containers/nope/stats/history');
    assert.equal(res.status, 404);
  });
});
