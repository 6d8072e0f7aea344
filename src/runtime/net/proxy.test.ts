import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

import { createBridge, createVethIntoNetns } from './ip.js';
import { ensureChains } from './iptables.js';
import { startProxy, type Proxy } from './proxy.js';
import { canManageNetwork, closedPort, echoServerScript, TestNet } from './testnet.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Connects, writes `payload`, half-closes, and collects everything until the peer closes. */
function roundTrip(port: number, payload: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, allowHalfOpen: true });
    let got = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('connect', () => s.end(payload));
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}

function udpRoundTrip(port: number, payload: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('udp timeout'));
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m.toString());
    });
    s.send(payload, port, host);
  });
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('userland proxy on loopback', () => {
  const servers: Server[] = [];
  const proxies: Proxy[] = [];
  let echoPort: number;

  before(async () => {
    // Echoes, and after the client's FIN sends one more line before its own FIN.
    const echo = createServer({ allowHalfOpen: true }, (s: Socket) => {
      s.on('data', (d) => s.write(d));
      s.on('end', () => setTimeout(() => s.end('|after-fin'), 50));
      s.on('error', () => undefined);
    });
    servers.push(echo);
    echoPort = await listen(echo);
  });

  after(async () => {
    for (const p of proxies) await p.close();
    for (const s of servers) s.close();
  });

  it('pipes TCP both ways and passes half-close on', async () => {
    const proxy = await startProxy({
      proto: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 0,
      containerIp: '127.0.0.1',
      containerPort: echoPort,
    });
    proxies.push(proxy);
    assert.ok(proxy.port > 0);
    assert.equal(await roundTrip(proxy.port, 'hello'), 'hello|after-fin');
    const big = 'x'.repeat(1_000_000);
    assert.equal(await roundTrip(proxy.port, big), `${big}|after-fin`);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => roundTrip(proxy.port, `c${i}`)));
    assert.deepEqual(
      many,
      Array.from({ length: 20 }, (_, i) => `c${i}|after-fin`),
    );
    for (let i = 0; i < 50 && proxy.active() > 0; i++) await sleep(10);
    assert.equal(proxy.active(), 0);
  });

  it('resets the client when the container refuses', async () => {
    const proxy = await startProxy({
      proto: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 0,
      containerIp: '127.0.0.1',
      containerPort: await closedPort(),
    });
    proxies.push(proxy);
    await assert.rejects(roundTrip(proxy.port, 'x'), { code: 'ECONNRESET' });
  });

  it('reports a taken port as a conflict, in Docker words', async () => {
    const taken = await startProxy({
      proto: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 0,
      containerIp: '127.0.0.1',
      containerPort: echoPort,
    });
    proxies.push(taken);
    await assert.rejects(
      startProxy({
        proto: 'tcp',
        hostIp: '127.0.0.1',
        hostPort: taken.port,
        containerIp: '127.0.0.1',
        containerPort: 1,
      }),
      { kind: 'conflict', message: `Bind for 127.0.0.1:${taken.port} failed: port is already allocated` },
    );
    await assert.rejects(
      startProxy({
        proto: 'tcp',
        hostIp: '127.0.0.1',
        hostPort: 70000,
        containerIp: '127.0.0.1',
        containerPort: 1,
      }),
      { kind: 'invalid-parameter' },
    );
  });

  it('drops open connections on close', async () => {
    const proxy = await startProxy({
      proto: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 0,
      containerIp: '127.0.0.1',
      containerPort: echoPort,
    });
    const s = connect(proxy.port, '127.0.0.1');
    await once(s, 'connect');
    s.write('ping');
    await once(s, 'data');
    assert.equal(proxy.active(), 1);
    const closed = once(s, 'close');
    await proxy.close();
    await proxy.close();
    await closed;
    await assert.rejects(roundTrip(proxy.port, 'x'), { code: 'ECONNREFUSED' });
  });

  it('relays UDP per client and expires idle sessions', async () => {
    const echo = createSocket('udp4');
    echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
    echo.bind(0, '127.0.0.1');
    await once(echo, 'listening');
    try {
      const proxy = await startProxy({
        proto: 'udp',
        hostIp: '127.0.0.1',
        hostPort: 0,
        containerIp: '127.0.0.1',
        containerPort: echo.address().port,
        udpIdleTimeoutMs: 200,
      });
      proxies.push(proxy);
      const replies = await Promise.all([
        udpRoundTrip(proxy.port, 'one'),
        udpRoundTrip(proxy.port, 'two'),
        udpRoundTrip(proxy.port, 'three'),
      ]);
      assert.deepEqual(replies, ['echo:one', 'echo:two', 'echo:three']);
      assert.equal(proxy.active(), 3);
      for (let i = 0; i < 100 && proxy.active() > 0; i++) await sleep(20);
      assert.equal(proxy.active(), 0, 'sessions expired');
      assert.equal(await udpRoundTrip(proxy.port, 'again'), 'echo:again');
    } finally {
      echo.close();
    }
  });
});

describe('userland proxy into a network namespace', async () => {
  const skip = !(await canManageNetwork()) && 'needs root with iproute2, iptables, nsenter and busybox';
  const net = new TestNet();
  const bridge = net.link('b0');
  let containerIp: string;
  const proxies: Proxy[] = [];

  before(async () => {
    if (skip !== false) return;
    const subnet = await net.subnet();
    await createBridge(bridge, { cidr: `${subnet.gateway}/24` });
    const fw = await ensureChains(net.fwPrefix);
    await fw.allowBridge(bridge);
    const ns = await net.netnsHolder();
    containerIp = subnet.host(2);
    await createVethIntoNetns({
      hostName: net.link('h1'),
      bridge,
      netns: ns,
      address: `${containerIp}/24`,
      gateway: subnet.gateway,
    });
    await net.nodeInNetns(ns, echoServerScript(8080));
  });

  after(async () => {
    for (const p of proxies) await p.close();
    if (skip === false) await net.cleanup();
  });

  it('makes 127.0.0.1:<port> reach a TCP server in the namespace', { skip }, async () => {
    const proxy = await startProxy({
      proto: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 0,
      containerIp,
      containerPort: 8080,
    });
    proxies.push(proxy);
    assert.equal(await roundTrip(proxy.port, 'through the proxy'), 'through the proxy');
    const big = 'y'.repeat(2_000_000);
    assert.equal((await roundTrip(proxy.port, big)).length, big.length);
  });

  it('makes 127.0.0.1:<port>/udp reach a UDP server in the namespace', { skip }, async () => {
    const proxy = await startProxy({
      proto: 'udp',
      hostIp: '127.0.0.1',
      hostPort: 0,
      containerIp,
      containerPort: 8080,
    });
    proxies.push(proxy);
    assert.equal(await udpRoundTrip(proxy.port, 'datagram'), 'datagram');
  });
});
