import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { TestDaemon } from '../../helpers/daemon.js';
import { api, errorMessageOf } from '../../helpers/http.js';
import { waitFor } from '../../helpers/poll.js';

describe('API basics against a real berthd', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await TestDaemon.start();
  });
  after(async () => {
    await daemon.cleanup();
  });

  it('answers GET /_ping with OK and Docker headers', async () => {
    const res = await api(daemon.socket, 'GET', '/_ping');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'OK');
    assert.equal(res.headers['api-version'], '1.47');
    assert.equal(res.headers['ostype'], 'linux');
    assert.equal(res.headers['docker-experimental'], 'false');
    assert.match(String(res.headers['server']), /^berth\/\d+\.\d+\.\d+.* \(linux\)$/);
    assert.equal(res.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(res.headers['pragma'], 'no-cache');
    assert.equal(res.headers['swarm'], 'inactive');
    assert.equal(res.headers['builder-version'], '1');
  });

  it('answers HEAD /_ping with headers and no body', async () => {
    const res = await api(daemon.socket, 'HEAD', '/_ping');
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.headers['api-version'], '1.47');
  });

  it('serves paths with and without a version prefix', async () => {
    for (const path of ['/version', '/v1.47/version', '/v1.24/version', '/v1.40/version']) {
      const res = await api(daemon.socket, 'GET', path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-type'], 'application/json');
    }
  });

  it('describes itself in GET /version', async () => {
    const body = JSON.parse((await api(daemon.socket, 'GET', '/version')).body) as Record<string, unknown>;
    assert.equal(body['ApiVersion'], '1.47');
    assert.equal(body['MinAPIVersion'], '1.24');
    assert.equal(body['Os'], 'linux');
    for (const key of ['Version', 'GitCommit', 'GoVersion', 'Arch', 'KernelVersion', 'BuildTime']) {
      assert.equal(typeof body[key], 'string', key);
      assert.notEqual(body[key], '', key);
    }
    const components = body['Components'] as {
      Name: string;
      Version: string;
      Details: Record<string, string>;
    }[];
    assert.deepEqual(
      components.map((c) => c.Name),
      ['Engine', 'runc', 'conmon'],
    );
    const engine = components[0];
    assert.equal(engine?.Details['ApiVersion'], '1.47');
    assert.equal(engine?.Details['MinAPIVersion'], '1.24');
    assert.match(components[1]?.Version ?? '', /^\d+\.\d+/);
    assert.match(components[2]?.Version ?? '', /^\d+\.\d+/);
  });

  it('reports the host in GET /info', async () => {
    const info = JSON.parse((await api(daemon.socket, 'GET', '/info')).body) as Record<string, unknown>;
    assert.equal(info['DockerRootDir'], daemon.dataRoot);
    assert.equal(info['Driver'], 'overlay2');
    assert.equal(info['CgroupDriver'], 'cgroupfs');
    assert.ok(['1', '2'].includes(info['CgroupVersion'] as string));
    assert.equal(info['OSType'], 'linux');
    assert.ok((info['NCPU'] as number) >= 1);
    assert.ok((info['MemTotal'] as number) > 0);
    assert.equal(info['Containers'], 0);
    assert.equal(info['Images'], 0);
    assert.equal(info['DefaultRuntime'], 'runc');
    assert.deepEqual(Object.keys(info['Runtimes'] as object).sort(), ['crun', 'runc']);
    assert.match(info['ID'] as string, /^[0-9a-f-]{36}$/);
    assert.equal((info['Swarm'] as { LocalNodeState: string }).LocalNodeState, 'inactive');
  });

  it('refuses versions outside 1.24..1.47 with Docker messages', async () => {
    const old = await api(daemon.socket, 'GET', '/v1.23/version');
    assert.equal(old.status, 400);
    assert.equal(
      errorMessageOf(old),
      'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
    );
    const tooNew = await api(daemon.socket, 'GET', '/v1.99/info');
    assert.equal(tooNew.status, 400);
    assert.equal(
      errorMessageOf(tooNew),
      'client version 1.99 is too new. Maximum supported API version is 1.47',
    );
    assert.equal(tooNew.headers['api-version'], '1.47');
  });

  it('answers unknown routes and wrong methods with 404 page not found', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/v1.47/nope'],
      ['POST', '/version'],
      ['DELETE', '/_ping'],
      ['PATCH', '/info'],
    ] as const) {
      const res = await api(daemon.socket, method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(errorMessageOf(res), 'page not found');
    }
  });

  it('refuses bad query values with 400', async () => {
    const badFilter = await api(daemon.socket, 'GET', '/events?filters=%7Bnot-json');
    assert.equal(badFilter.status, 400);
    assert.equal(errorMessageOf(badFilter), 'invalid filter');
    const unknownFilter = await api(
      daemon.socket,
      'GET',
      `/events?until=1&filters=${encodeURIComponent('{"bogus":["x"]}')}`,
    );
    assert.equal(unknownFilter.status, 400);
    assert.equal(errorMessageOf(unknownFilter), "invalid filter 'bogus'");
    const badSince = await api(daemon.socket, 'GET', '/events?since=yesterday');
    assert.equal(badSince.status, 400);
    assert.match(errorMessageOf(badSince), /^invalid value for 'since'/);
    const reversed = await api(daemon.socket, 'GET', '/events?since=200&until=100');
    assert.equal(reversed.status, 400);
    assert.equal(errorMessageOf(reversed), '`since` time (200) cannot be after `until` time (100)');
  });

  it('survives garbage on the socket and keeps serving', async () => {
    await new Promise<void>((resolve) => {
      const sock = connect(daemon.socket);
      sock.on('error', () => resolve());
      sock.on('close', () => resolve());
      sock.write('\x00\x01GARBAGE / NOT-HTTP\r\n\r\n\xff\xfe');
      sock.on('data', (d: Buffer) => assert.match(d.toString(), /^HTTP\/1\.1 400/));
      setTimeout(() => sock.destroy(), 500);
    });
    await new Promise<void>((resolve) => {
      const sock = connect(daemon.socket, () => {
        sock.write('GET /_ping HTTP/1.1\r\nHost: x\r\n');
        sock.destroy();
        resolve();
      });
    });
    assert.equal((await api(daemon.socket, 'GET', '/_ping')).status, 200);
  });

  it('keeps serving when a client disconnects mid-stream', async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: daemon.socket, path: '/events?since=0' }, (res) => {
          assert.equal(res.statusCode, 200);
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err: NodeJS.ErrnoException) =>
          err.code === 'ECONNRESET' ? resolve() : reject(err),
        );
        req.end();
      });
    }
    assert.equal((await api(daemon.socket, 'GET', '/_ping')).status, 200);
    await waitFor(
      async () =>
        (JSON.parse((await api(daemon.socket, 'GET', '/info')).body) as { NEventsListener: number })
          .NEventsListener === 0,
      { what: 'event listeners to be released' },
    );
  });

  it('serves many requests on one keep-alive connection and in parallel', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => api(daemon.socket, 'GET', '/_ping')));
    assert.ok(results.every((r) => r.status === 200));
  });

  it('makes the socket 0660', async () => {
    const { stat } = await import('node:fs/promises');
    const st = await stat(daemon.socket);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.uid, 0);
  });
});
