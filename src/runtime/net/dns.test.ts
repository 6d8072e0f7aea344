import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  decodeMessage,
  DnsType,
  encodeMessage,
  encodeQuery,
  hostNameservers,
  parseUpstream,
  Rcode,
  readName,
  startDnsServer,
  type DnsMessage,
  type DnsServer,
} from './dns.js';
import { CommandError } from './exec.js';
import { createBridge, createVethIntoNetns, netnsExec } from './ip.js';
import { BUSYBOX, canManageNetwork, closedPort, TestNet } from './testnet.js';

function udpQuery(port: number, query: Buffer, host = '127.0.0.1'): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('dns timeout'));
    }, 5000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(decodeMessage(m));
    });
    s.send(query, port, host);
  });
}

function tcpQuery(port: number, query: Buffer, host = '127.0.0.1'): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    let buf = Buffer.alloc(0);
    s.setTimeout(5000, () => s.destroy(new Error('dns timeout')));
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      s.write(Buffer.concat([len, query]));
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.end();
        resolve(decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
    s.on('error', reject);
  });
}

const KNOWN: Record<string, string[]> = {
  web: ['10.231.9.2'],
  'web.alias': ['10.231.9.2'],
  db: ['10.231.9.3', '10.231.9.4'],
  v6: ['10.231.9.5', 'fd00::5'],
  big: Array.from({ length: 60 }, (_, i) => `10.231.9.${i + 10}`),
};

describe('DNS wire format', () => {
  it('round-trips a message with compressed names', () => {
    const msg: DnsMessage = {
      id: 0x1234,
      flags: { qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, rcode: Rcode.NOERROR },
      questions: [{ name: 'Web.Example.com', type: DnsType.A, class: 1 }],
      answers: [
        {
          name: 'web.example.com',
          type: DnsType.A,
          class: 1,
          ttl: 60,
          value: '10.0.0.1',
          rdata: Buffer.alloc(0),
        },
        {
          name: 'web.example.com',
          type: DnsType.AAAA,
          class: 1,
          ttl: 60,
          value: 'fd00::1:2',
          rdata: Buffer.alloc(0),
        },
        {
          name: 'x.example.com',
          type: DnsType.CNAME,
          class: 1,
          ttl: 5,
          value: 'web.example.com',
          rdata: Buffer.alloc(0),
        },
      ],
      authorities: [],
      additionals: [{ name: '', type: DnsType.OPT, class: 1232, ttl: 0, rdata: Buffer.alloc(0) }],
    };
    const wire = encodeMessage(msg);
    // The second and later names are pointers into the first.
    assert.ok(wire.length < 120, `compressed: ${wire.length} bytes`);
    const back = decodeMessage(wire);
    assert.equal(back.id, 0x1234);
    assert.deepEqual(back.flags, msg.flags);
    assert.deepEqual(back.questions, msg.questions);
    assert.deepEqual(
      back.answers.map((r) => [r.name, r.type, r.ttl, r.value]),
      [
        ['Web.Example.com', DnsType.A, 60, '10.0.0.1'],
        ['Web.Example.com', DnsType.AAAA, 60, 'fd00::1:2'],
        ['x.Example.com', DnsType.CNAME, 5, 'Web.Example.com'],
      ],
    );
    assert.equal(back.additionals[0]?.class, 1232);
  });

  it('reads pointers and rejects loops and overruns', () => {
    // "a.b" at 12, then a pointer to it at 17.
    const buf = Buffer.concat([
      Buffer.alloc(12),
      Buffer.from([1, 0x61, 1, 0x62, 0]),
      Buffer.from([1, 0x63, 0xc0, 12]),
    ]);
    assert.deepEqual(readName(buf, 12), { name: 'a.b', next: 17 });
    assert.deepEqual(readName(buf, 17), { name: 'c.a.b', next: 21 });
    const loop = Buffer.concat([Buffer.alloc(12), Buffer.from([0xc0, 12])]);
    assert.throws(() => readName(loop, 12), /loop/);
    assert.throws(() => readName(Buffer.from([5, 0x61]), 0), /past the end/);
    assert.throws(() => decodeMessage(Buffer.alloc(5)), /shorter/);
  });

  it('parses upstream specs and resolv.conf', async () => {
    assert.deepEqual(parseUpstream('192.0.2.53'), { host: '192.0.2.53', port: 53 });
    assert.deepEqual(parseUpstream('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseUpstream('fd00::53'), { host: 'fd00::53', port: 53 });
    assert.deepEqual(parseUpstream('[fd00::53]:54'), { host: 'fd00::53', port: 54 });
    assert.throws(() => parseUpstream('dns.example:53'), { kind: 'invalid-parameter' });
    const dir = await mkdtemp(join(tmpdir(), 'berth-dns-'));
    try {
      const path = join(dir, 'resolv.conf');
      await writeFile(
        path,
        '# c\nsearch example.com\nnameserver 192.0.2.1\nnameserver fe80::1%eth0 # x\noptions ndots:1\n',
      );
      assert.deepEqual(await hostNameservers(path), ['192.0.2.1', 'fe80::1']);
      assert.deepEqual(await hostNameservers(join(dir, 'missing')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('DNS server on loopback', () => {
  let server: DnsServer;
  let upstream: DnsServer;
  let deadPort: number;
  let refusing: DnsServer;

  before(async () => {
    deadPort = await closedPort();
    // A stand-in for the host's resolver, itself with nothing further upstream.
    upstream = await startDnsServer({
      address: '127.0.0.1',
      port: 0,
      resolve: (name) => (name === 'example.test' ? ['192.0.2.10'] : undefined),
      upstream: [],
    });
    server = await startDnsServer({
      address: '127.0.0.1',
      port: 0,
      resolve: (name) => KNOWN[name],
      reverse: (address) => (address === '10.231.9.2' ? ['web'] : undefined),
      upstream: [`127.0.0.1:${deadPort}`, `127.0.0.1:${upstream.port}`],
    });
    refusing = await startDnsServer({
      address: '127.0.0.1',
      port: 0,
      resolve: () => undefined,
      upstream: [`127.0.0.1:${deadPort}`],
      upstreamTimeoutMs: 5000,
    });
  });

  after(async () => {
    await Promise.all([server?.close(), upstream?.close(), refusing?.close()]);
  });

  it('answers A for known names, case-insensitively, echoing the question', async () => {
    const reply = await udpQuery(server.port, encodeQuery(7, 'WeB.', DnsType.A));
    assert.equal(reply.id, 7);
    assert.equal(reply.flags.qr, true);
    assert.equal(reply.flags.rcode, Rcode.NOERROR);
    assert.equal(reply.flags.rd, true);
    assert.deepEqual(reply.questions, [{ name: 'WeB', type: DnsType.A, class: 1 }]);
    assert.deepEqual(
      reply.answers.map((r) => [r.name, r.value, r.ttl]),
      [['WeB', '10.231.9.2', 600]],
    );
    const two = await udpQuery(server.port, encodeQuery(8, 'db', DnsType.A));
    assert.deepEqual(
      two.answers.map((r) => r.value),
      ['10.231.9.3', '10.231.9.4'],
    );
  });

  it('answers AAAA for known names with their IPv6 addresses or no data', async () => {
    const none = await udpQuery(server.port, encodeQuery(9, 'web', DnsType.AAAA));
    assert.equal(none.flags.rcode, Rcode.NOERROR);
    assert.equal(none.answers.length, 0);
    const v6 = await udpQuery(server.port, encodeQuery(10, 'v6', DnsType.AAAA));
    assert.deepEqual(
      v6.answers.map((r) => r.value),
      ['fd00::5'],
    );
    const mx = await udpQuery(server.port, encodeQuery(11, 'web', DnsType.MX));
    assert.equal(mx.flags.rcode, Rcode.NOERROR);
    assert.equal(mx.answers.length, 0);
  });

  it('answers PTR from the reverse callback', async () => {
    const reply = await udpQuery(server.port, encodeQuery(12, '2.9.231.10.in-addr.arpa', DnsType.PTR));
    assert.deepEqual(
      reply.answers.map((r) => [r.type, r.value]),
      [[DnsType.PTR, 'web']],
    );
  });

  it('forwards unknown names, skipping a refusing upstream', async () => {
    const started = Date.now();
    const reply = await udpQuery(server.port, encodeQuery(13, 'example.test', DnsType.A));
    assert.equal(reply.id, 13);
    assert.deepEqual(
      reply.answers.map((r) => r.value),
      ['192.0.2.10'],
    );
    assert.ok(Date.now() - started < 1000, 'the refused upstream failed fast');
    const tcp = await tcpQuery(server.port, encodeQuery(14, 'example.test', DnsType.A));
    assert.deepEqual(
      tcp.answers.map((r) => r.value),
      ['192.0.2.10'],
    );
  });

  it('answers SERVFAIL, quickly, when no upstream answers', async () => {
    const started = Date.now();
    const reply = await udpQuery(refusing.port, encodeQuery(15, 'unknown.test', DnsType.A));
    assert.equal(reply.flags.rcode, Rcode.SERVFAIL);
    assert.deepEqual(reply.questions, [{ name: 'unknown.test', type: DnsType.A, class: 1 }]);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    // The stand-in upstream has no upstream of its own.
    const last = await udpQuery(upstream.port, encodeQuery(16, 'nowhere.test', DnsType.A));
    assert.equal(last.flags.rcode, Rcode.SERVFAIL);
  });

  it('truncates over UDP and answers in full over TCP', async () => {
    const udp = await udpQuery(server.port, encodeQuery(17, 'big', DnsType.A));
    assert.equal(udp.flags.tc, true);
    assert.ok(udp.answers.length > 0 && udp.answers.length < 60);
    const edns = await udpQuery(server.port, encodeQuery(18, 'big', DnsType.A, { ednsUdpSize: 4096 }));
    assert.equal(edns.flags.tc, false);
    assert.equal(edns.answers.length, 60);
    assert.equal(edns.additionals[0]?.type, DnsType.OPT);
    const tcp = await tcpQuery(server.port, encodeQuery(19, 'big', DnsType.A));
    assert.equal(tcp.flags.tc, false);
    assert.equal(tcp.answers.length, 60);
  });

  it('answers malformed queries with FORMERR and other opcodes with NOTIMP', async () => {
    const bad = encodeQuery(20, 'web', DnsType.A).subarray(0, 16);
    assert.equal((await udpQuery(server.port, bad)).flags.rcode, Rcode.FORMERR);
    const notify = encodeQuery(21, 'web', DnsType.A);
    notify.writeUInt16BE(notify.readUInt16BE(2) | (4 << 11), 2);
    assert.equal((await udpQuery(server.port, notify)).flags.rcode, Rcode.NOTIMP);
  });

  it('reports a taken address as a conflict', async () => {
    await assert.rejects(
      startDnsServer({ address: '127.0.0.1', port: server.port, resolve: () => undefined, upstream: [] }),
      { kind: 'conflict' },
    );
  });
});

describe('DNS server for a network namespace', async () => {
  const skip = !(await canManageNetwork()) && 'needs root with iproute2, iptables, nsenter and busybox';
  const net = new TestNet();
  const bridge = net.link('b0');
  let gateway: string;
  let ns: { path: string };
  let dns: DnsServer | undefined;

  before(async () => {
    if (skip !== false) return;
    const subnet = await net.subnet();
    gateway = subnet.gateway;
    await createBridge(bridge, { cidr: `${gateway}/24` });
    ns = await net.addNetns('a');
    await createVethIntoNetns({
      hostName: net.link('h1'),
      bridge,
      netns: ns,
      address: `${subnet.host(2)}/24`,
      gateway,
    });
    dns = await startDnsServer({
      address: gateway,
      port: 53,
      resolve: (name) => KNOWN[name],
      // Nothing listens there: forwarding fails at once.
      upstream: [`127.0.0.1:${await closedPort()}`],
    });
  });

  after(async () => {
    await dns?.close();
    if (skip === false) await net.cleanup();
  });

  it('answers busybox nslookup inside the namespace on the gateway address', { skip }, async () => {
    const { stdout } = await netnsExec(ns, [BUSYBOX, 'nslookup', 'web', gateway], { timeoutMs: 10_000 });
    assert.match(stdout, /Address:\s+10\.231\.9\.2/);
    const upper = await netnsExec(ns, [BUSYBOX, 'nslookup', 'DB', gateway], { timeoutMs: 10_000 });
    assert.match(upper.stdout, /10\.231\.9\.3/);
    assert.match(upper.stdout, /10\.231\.9\.4/);
  });

  it('returns SERVFAIL to the namespace when forwarding fails', { skip }, async () => {
    const started = Date.now();
    const err = await netnsExec(ns, [BUSYBOX, 'nslookup', 'unknown.test', gateway], {
      timeoutMs: 10_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof CommandError, 'nslookup fails');
    assert.match(err.stdout + err.stderr, /SERVFAIL/);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });
});
