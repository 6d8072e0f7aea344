import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FilterArgs } from '../util/filters.js';
import { ApiError, BerthClient } from './client.js';
import { InvalidArgumentError } from './containers.js';
import {
  connectNetwork,
  createNetwork,
  disconnectNetwork,
  inspectNetworkRaw,
  listNetworks,
  networkCreateBody,
  pruneNetworks,
  removeNetwork,
} from './networks.js';
import { diskUsage } from './system.js';

interface Seen {
  method: string;
  url: string;
  body: string;
}

describe('network and system endpoints', () => {
  let dir: string;
  let server: Server;
  let client: BerthClient;
  const seen: Seen[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-networks-'));
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
        if (url === '/v1.47/networks/create') return json(201, { Id: 'f00d', Warning: '' });
        if (url.startsWith('/v1.47/networks/gone')) return json(404, { message: 'network gone not found' });
        if (url.startsWith('/v1.47/networks/prune')) return json(200, { NetworksDeleted: null });
        if (url.startsWith('/v1.47/networks?') || url === '/v1.47/networks')
          return json(200, [{ Name: 'bridge' }]);
        if (url.startsWith('/v1.47/networks/n1') && req.method === 'GET') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end('{"Name":"n1",  "Id":"abc"}\n');
          return;
        }
        if (url.startsWith('/v1.47/system/df')) return json(200, { LayersSize: 5, BuildCache: [] });
        if (req.method === 'DELETE') {
          res.writeHead(204);
          res.end();
          return;
        }
        res.writeHead(200, { 'Content-Length': 0 });
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

  it('creates a network with moby’s request body', async () => {
    const res = await createNetwork(client, 'n1', {
      Driver: 'bridge',
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/16' }], Options: {} },
      Options: {},
      Labels: { a: 'b' },
    });
    assert.deepEqual(res, { Id: 'f00d', Warning: '' });
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/v1.47/networks/create');
    assert.deepEqual(JSON.parse(last().body), {
      Name: 'n1',
      Driver: 'bridge',
      Scope: '',
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/16' }], Options: {} },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigOnly: false,
      ConfigFrom: null,
      Options: {},
      Labels: { a: 'b' },
    });
  });

  it('sends EnableIPv4/EnableIPv6 only when set', () => {
    assert.equal('EnableIPv4' in networkCreateBody('x'), false);
    assert.deepEqual(
      Object.keys(networkCreateBody('x', { EnableIPv4: false, EnableIPv6: true })).slice(0, 5),
      ['Name', 'Driver', 'Scope', 'EnableIPv4', 'EnableIPv6'],
    );
  });

  it('lists with filters, inspects raw (verbose), removes and prunes', async () => {
    const filters = new FilterArgs();
    filters.add('driver', 'bridge');
    assert.deepEqual(await listNetworks(client, filters), [{ Name: 'bridge' }]);
    assert.equal(last().url, '/v1.47/networks?filters=%7B%22driver%22%3A%7B%22bridge%22%3Atrue%7D%7D');
    await listNetworks(client);
    assert.equal(last().url, '/v1.47/networks');

    const { network, raw } = await inspectNetworkRaw(client, 'n1', { verbose: true });
    assert.equal(last().url, '/v1.47/networks/n1?verbose=true');
    assert.equal(raw, '{"Name":"n1",  "Id":"abc"}\n', 'the daemon’s text as it came');
    assert.equal(network.Id, 'abc');
    await inspectNetworkRaw(client, ' n1 ');
    assert.equal(last().url, '/v1.47/networks/n1');

    await removeNetwork(client, 'a b');
    assert.equal(last().method, 'DELETE');
    assert.equal(last().url, '/v1.47/networks/a%20b');
    await assert.rejects(removeNetwork(client, 'gone'), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 404);
      assert.equal(err.message, 'network gone not found');
      return true;
    });
    await assert.rejects(removeNetwork(client, '  '), InvalidArgumentError);

    assert.deepEqual(await pruneNetworks(client), { NetworksDeleted: null });
    assert.equal(last().url, '/v1.47/networks/prune');
  });

  it('connects and disconnects with the container and endpoint settings', async () => {
    await connectNetwork(client, 'n1', 'web', { Aliases: ['www'], IPAMConfig: { IPv4Address: '10.0.0.9' } });
    assert.equal(last().url, '/v1.47/networks/n1/connect');
    assert.deepEqual(JSON.parse(last().body), {
      Container: 'web',
      EndpointConfig: { Aliases: ['www'], IPAMConfig: { IPv4Address: '10.0.0.9' } },
    });
    await disconnectNetwork(client, 'n1', 'web', { force: true });
    assert.equal(last().url, '/v1.47/networks/n1/disconnect');
    assert.deepEqual(JSON.parse(last().body), { Container: 'web', Force: true });
    await assert.rejects(connectNetwork(client, 'n1', ' '), /invalid container name or ID: value is empty/);
  });

  it('asks for disk usage, of some kinds when given', async () => {
    assert.deepEqual(await diskUsage(client), { LayersSize: 5, BuildCache: [] });
    assert.equal(last().url, '/v1.47/system/df');
    await diskUsage(client, { types: ['image', 'volume'] });
    assert.equal(last().url, '/v1.47/system/df?type=image&type=volume');
  });
});
