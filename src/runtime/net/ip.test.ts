import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  cidrContains,
  cidrOverlaps,
  createBridge,
  createVethIntoNetns,
  deleteLink,
  getLink,
  interfaceStats,
  linkAddresses,
  linkExists,
  listLinks,
  netnsExec,
  parseCidr,
  parseNetDev,
  removeVeth,
  validateIfname,
  vethCommands,
} from './ip.js';
import { ensureChains } from './iptables.js';
import { canManageNetwork, TestNet } from './testnet.js';

describe('ip helpers', () => {
  it('parses CIDRs and tests overlap and containment', () => {
    assert.deepEqual(parseCidr('10.231.5.1/24'), {
      address: '10.231.5.1',
      prefix: 24,
      network: '10.231.5.0',
    });
    assert.deepEqual(parseCidr('10.0.0.7'), { address: '10.0.0.7', prefix: 32, network: '10.0.0.7' });
    assert.equal(parseCidr('0.0.0.0/0').network, '0.0.0.0');
    for (const bad of ['10.0.0.1/33', '10.0.0/8', 'x/8', '10.0.0.1/', '10.0.0.1/8/1', '10.0.0.1/ 8']) {
      assert.throws(() => parseCidr(bad), { kind: 'invalid-parameter' }, bad);
    }
    assert.equal(cidrOverlaps('10.231.0.0/16', '10.231.7.0/24'), true);
    assert.equal(cidrOverlaps('10.231.7.0/24', '10.231.8.0/24'), false);
    assert.equal(cidrOverlaps('0.0.0.0/0', '192.0.2.0/24'), true);
    assert.equal(cidrContains('10.231.7.0/24', '10.231.7.254'), true);
    assert.equal(cidrContains('10.231.7.0/24', '10.231.8.1'), false);
  });

  it('rejects interface names the kernel would not take', () => {
    validateIfname('bthT1234567890a');
    for (const bad of ['', 'bthT1234567890ab', 'a/b', 'a b', 'eth0:1', '.hidden']) {
      assert.throws(() => validateIfname(bad), { kind: 'invalid-parameter' }, bad);
    }
  });

  it('builds the two commands that wire a namespace', () => {
    const c = vethCommands({
      hostName: 'bv0123456789',
      bridge: 'berth0',
      netns: { pid: 4242 },
      address: '10.231.5.2/24',
      gateway: '10.231.5.1',
      mac: '02:42:0A:E7:05:02',
      mtu: 1400,
    });
    assert.deepEqual(c.host, [
      'link',
      'add',
      'bv0123456789',
      'mtu',
      '1400',
      'master',
      'berth0',
      'up',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'mtu',
      '1400',
      'address',
      '02:42:0a:e7:05:02',
      'netns',
      '/proc/4242/ns/net',
    ]);
    assert.equal(
      c.batch,
      [
        'addr add 10.231.5.2/24 dev eth0',
        'link set dev eth0 up',
        'link set dev lo up',
        'route replace default via 10.231.5.1 dev eth0',
        '',
      ].join('\n'),
    );
    assert.equal(c.mac, '02:42:0a:e7:05:02');

    // A second interface: no gateway, no MTU, a namespace by path, a MAC made up.
    const d = vethCommands(
      {
        hostName: 'bvb',
        bridge: 'br1',
        netns: { path: '/run/netns/x' },
        ifname: 'eth1',
        address: '10.0.0.9/8',
      },
      () => '02:00:00:00:00:09',
    );
    assert.deepEqual(d.host.slice(3), [
      'master',
      'br1',
      'up',
      'type',
      'veth',
      'peer',
      'name',
      'eth1',
      'address',
      '02:00:00:00:00:09',
      'netns',
      '/run/netns/x',
    ]);
    assert.equal(d.batch, 'addr add 10.0.0.9/8 dev eth1\nlink set dev eth1 up\nlink set dev lo up\n');
    assert.equal(d.mac, '02:00:00:00:00:09');
  });

  it('refuses wiring it cannot express safely', () => {
    const base = { hostName: 'bvx', bridge: 'br0', netns: { pid: 1 }, address: '10.0.0.2/24' };
    for (const bad of [
      { ...base, hostName: 'a b' },
      { ...base, bridge: 'br0;rm' },
      { ...base, ifname: 'eth0 up' },
      { ...base, address: '10.0.0.2/24 dev lo' },
      { ...base, gateway: '10.0.1.1' },
      { ...base, gateway: 'x' },
      { ...base, mac: '02:42' },
      { ...base, mtu: 10 },
      { ...base, netns: { pid: 0 } },
      { ...base, netns: { path: 'relative' } },
      { ...base, hostName: 'eth0' },
    ]) {
      assert.throws(() => vethCommands(bad), { kind: 'invalid-parameter' }, JSON.stringify(bad));
    }
  });

  it('parses /proc/<pid>/net/dev', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     196       2    0    0    0     0          0         0      196       2    0    0    0     0       0          0',
      '  eth0: 1234567     890    1    2    0     0          0         3  7654321     654    4    5    0     0       0          0',
      '',
    ].join('\n');
    assert.deepEqual(parseNetDev(text), {
      lo: {
        rxBytes: 196,
        rxPackets: 2,
        rxErrors: 0,
        rxDropped: 0,
        txBytes: 196,
        txPackets: 2,
        txErrors: 0,
        txDropped: 0,
      },
      eth0: {
        rxBytes: 1234567,
        rxPackets: 890,
        rxErrors: 1,
        rxDropped: 2,
        txBytes: 7654321,
        txPackets: 654,
        txErrors: 4,
        txDropped: 5,
      },
    });
  });

  it('reports a missing process as not found', async () => {
    await assert.rejects(interfaceStats(2 ** 22 + 4321), { kind: 'not-found' });
    await assert.rejects(interfaceStats(0), { kind: 'invalid-parameter' });
  });
});

describe('bridge and veth into namespaces', async () => {
  const skip = !(await canManageNetwork()) && 'needs root with iproute2, iptables, nsenter and busybox';
  const net = new TestNet();
  const bridge = net.link('b0');
  let subnet: Awaited<ReturnType<TestNet['subnet']>>;
  let nsA: { path: string };
  let nsB: { pid: number };

  before(async () => {
    if (skip !== false) return;
    subnet = await net.subnet();
    await createBridge(bridge, { cidr: `${subnet.gateway}/24` });
    // br_netfilter sends bridged frames through FORWARD; its policy may be DROP.
    const fw = await ensureChains(net.fwPrefix);
    await fw.allowBridge(bridge);
    nsA = await net.addNetns('a');
    nsB = await net.netnsHolder();
  });

  after(async () => {
    if (skip === false) await net.cleanup();
  });

  it('creates the bridge once, up, with its gateway address', { skip }, async () => {
    const again = await createBridge(bridge, { cidr: `${subnet.gateway}/24`, mtu: 1500 });
    assert.equal(again.kind, 'bridge');
    assert.equal(again.up, true);
    assert.deepEqual(await linkAddresses(bridge), [`${subnet.gateway}/24`]);
    assert.equal(await linkExists(bridge), true);
    assert.equal(await linkExists(net.link('nope')), false);
  });

  it('wires a namespace by path and one by pid, which ping each other', { skip }, async () => {
    const a = await createVethIntoNetns({
      hostName: net.link('h1'),
      bridge,
      netns: nsA,
      address: `${subnet.host(2)}/24`,
      gateway: subnet.gateway,
      mac: '02:42:0A:E7:00:02',
    });
    assert.deepEqual(a, { hostName: net.link('h1'), ifname: 'eth0', mac: '02:42:0a:e7:00:02' });
    const b = await createVethIntoNetns({
      hostName: net.link('h2'),
      bridge,
      netns: nsB,
      address: `${subnet.host(3)}/24`,
      gateway: subnet.gateway,
      mtu: 1400,
    });
    assert.match(b.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);

    const hostEnd = await getLink(net.link('h1'));
    assert.equal(hostEnd?.master, bridge);
    assert.equal(hostEnd?.kind, 'veth');
    const routes = await netnsExec(nsB, ['ip', '-j', 'route']);
    assert.match(
      routes.stdout,
      new RegExp(`"dst":"default","gateway":"${subnet.gateway.replace(/\./g, '\\.')}"`),
    );
    const inside = await netnsExec(nsB, ['ip', '-j', 'link', 'show', 'dev', 'eth0']);
    assert.match(inside.stdout, /"mtu":1400/);

    assert.equal(await net.ping(nsA, subnet.host(3)), true, 'A -> B');
    assert.equal(await net.ping(nsB, subnet.host(2)), true, 'B -> A');
    assert.equal(await net.ping(nsA, subnet.gateway), true, 'A -> gateway');
    assert.equal(await net.ping(nsB, '127.0.0.1'), true, 'lo is up');
  });

  it('counts the traffic of a namespace by pid', { skip }, async () => {
    const before = await interfaceStats(nsB.pid);
    assert.ok(before.eth0 !== undefined && before.lo !== undefined);
    assert.equal(await net.ping(nsA, subnet.host(3)), true);
    const later = await interfaceStats(nsB.pid);
    assert.ok(later.eth0 !== undefined);
    assert.ok(later.eth0.rxBytes >= before.eth0.rxBytes + 84, 'an ICMP echo request is 84 bytes of IP');
    assert.ok(later.eth0.txPackets > before.eth0.txPackets);
    assert.ok(later.eth0.rxPackets > before.eth0.rxPackets);
  });

  it('lists its links by prefix for reconciliation', { skip }, async () => {
    const links = await listLinks(net.linkPrefix);
    const byName = new Map(links.map((l) => [l.name, l]));
    assert.equal(byName.get(bridge)?.kind, 'bridge');
    assert.equal(byName.get(net.link('h1'))?.master, bridge);
    assert.equal(byName.get(net.link('h2'))?.master, bridge);
    assert.equal(byName.has(net.link('p1')), false, 'peers live in the namespaces');
    assert.ok(links.every((l) => l.name.startsWith(net.linkPrefix)));
  });

  it('refuses conflicts and missing targets, leaving nothing behind', { skip }, async () => {
    const base = {
      bridge,
      netns: nsA,
      address: `${subnet.host(9)}/24`,
    };
    await assert.rejects(createVethIntoNetns({ ...base, hostName: net.link('h1') }), { kind: 'conflict' });
    await assert.rejects(createVethIntoNetns({ ...base, hostName: net.link('h9'), bridge: net.link('zz') }), {
      kind: 'not-found',
    });
    await assert.rejects(
      createVethIntoNetns({
        ...base,
        hostName: net.link('h9'),
        netns: { path: '/run/netns/berthtest-none' },
      }),
      { kind: 'not-found' },
    );
    // eth0 already exists in A: the pair cannot be made, and nothing is left behind.
    await assert.rejects(createVethIntoNetns({ ...base, hostName: net.link('h9') }));
    assert.equal(await linkExists(net.link('h9')), false);
    await assert.rejects(createVethIntoNetns({ ...base, hostName: net.link('h9'), gateway: '10.0.0.1' }), {
      kind: 'invalid-parameter',
    });
    await assert.rejects(createBridge(net.link('h1'), { cidr: '10.231.0.1/24' }), { kind: 'conflict' });
  });

  it('adds a second interface and removes it again', { skip }, async () => {
    await createVethIntoNetns({
      hostName: net.link('h3'),
      bridge,
      netns: nsA,
      ifname: 'eth1',
      address: `${subnet.host(4)}/24`,
    });
    assert.match(
      (await netnsExec(nsA, ['ip', '-br', 'addr', 'show', 'dev', 'eth1'])).stdout,
      /10\.231\.\d+\.4\/24/,
    );
    assert.equal(await removeVeth(net.link('h3')), true);
    assert.equal(await removeVeth(net.link('h3')), false);
    await assert.rejects(netnsExec(nsA, ['ip', 'link', 'show', 'dev', 'eth1']));
  });

  it('deletes the bridge idempotently', { skip }, async () => {
    const extra = net.link('b9');
    const other = await net.subnet();
    await createBridge(extra, { cidr: `${other.gateway}/24` });
    assert.equal(await deleteLink(extra), true);
    assert.equal(await deleteLink(extra), false);
  });
});
