import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';

import { runCommand } from './exec.js';
import { createBridge, createVethIntoNetns, setForwarding, type NetnsRef } from './ip.js';
import { chainNames, cleanup, ensureChains, Firewall, listPrefixes, splitRuleLine } from './iptables.js';
import { canManageNetwork, closedPort, echoServerScript, TestNet } from './testnet.js';

async function save(): Promise<string> {
  return (await runCommand('iptables-save', [])).stdout;
}

function rulesWith(text: string, needle: string): string[] {
  return text.split('\n').filter((l) => l.includes(needle));
}

/** Sends `payload` over TCP from inside a namespace (node client) and returns what came back. */
async function tcpFromNetns(netns: NetnsRef, host: string, port: number, payload: string): Promise<string> {
  const script = `
const s = require('node:net').connect(${port}, ${JSON.stringify(host)});
let got = '';
s.setTimeout(3000, () => { process.stdout.write('TIMEOUT\\n'); process.exit(0); });
s.on('connect', () => s.end(${JSON.stringify(payload)}));
s.on('data', (d) => (got += d));
s.on('error', (e) => { process.stdout.write('ERROR ' + e.code + '\\n'); process.exit(0); });
s.on('close', () => { process.stdout.write('GOT ' + got + '\\n'); process.exit(0); });
`;
  const target = 'pid' in netns ? ['-t', String(netns.pid), '-n'] : [`--net=${netns.path}`];
  const { stdout } = await runCommand('nsenter', [...target, '--', process.execPath, '-e', script], {
    timeoutMs: 10_000,
  });
  return stdout.trim();
}

function tcpFromHost(host: string, port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    let got = '';
    s.setTimeout(3000, () => {
      s.destroy();
      resolve('TIMEOUT');
    });
    s.on('connect', () => s.end(payload));
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`ERROR ${e.code}`));
    s.on('close', () => resolve(`GOT ${got}`));
  });
}

describe('iptables helpers', () => {
  it('names chains after the prefix and rejects unusable prefixes', () => {
    assert.deepEqual(chainNames('BERTH'), {
      forward: 'BERTH-FORWARD',
      isolation: 'BERTH-ISOLATION',
      isolation2: 'BERTH-ISOLATION2',
      ports: 'BERTH-PORTS',
      bridges: 'BERTH-BRIDGES',
      dnat: 'BERTH-DNAT',
      postrouting: 'BERTH-POSTROUTING',
    });
    for (const bad of ['', 'A-B', 'x'.repeat(17), 'a b']) {
      assert.throws(() => chainNames(bad), { kind: 'invalid-parameter' }, bad);
    }
  });

  it('splits iptables -S lines, undoing quotes', () => {
    assert.deepEqual(splitRuleLine('-A FORWARD -i br0 -m comment --comment "berth:X" -j BERTH-FORWARD'), [
      '-A',
      'FORWARD',
      '-i',
      'br0',
      '-m',
      'comment',
      '--comment',
      'berth:X',
      '-j',
      'BERTH-FORWARD',
    ]);
    assert.deepEqual(splitRuleLine('-A X -m comment --comment "a \\"b\\" c" -j DROP'), [
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'a "b" c',
      '-j',
      'DROP',
    ]);
  });

  it('validates port mappings before touching iptables', async () => {
    const fw = new Firewall('BTHTVALID');
    const good = {
      hostIp: '0.0.0.0',
      hostPort: 8080,
      proto: 'tcp' as const,
      containerIp: '10.231.1.2',
      containerPort: 80,
      bridge: 'bthTvalid',
    };
    await assert.rejects(fw.addPortMapping({ ...good, hostPort: 0 }), { kind: 'invalid-parameter' });
    await assert.rejects(fw.addPortMapping({ ...good, containerIp: 'x' }), { kind: 'invalid-parameter' });
    await assert.rejects(fw.addPortMapping({ ...good, bridge: 'a/b' }), { kind: 'invalid-parameter' });
    await assert.rejects(fw.enableMasquerade('10.0.0.0/33', 'bthTvalid'), { kind: 'invalid-parameter' });
  });
});

describe('berth chains on the host', async () => {
  const skip = !(await canManageNetwork()) && 'needs root with iproute2, iptables, nsenter and busybox';
  const net = new TestNet();
  const b1 = net.link('b1');
  const b2 = net.link('b2');
  let fw: Firewall;
  let s1: Awaited<ReturnType<TestNet['subnet']>>;
  let s2: Awaited<ReturnType<TestNet['subnet']>>;
  let a1: NetnsRef; // on b1, runs the echo server
  let c1: NetnsRef; // on b1
  let a2: NetnsRef; // on b2

  before(async () => {
    if (skip !== false) return;
    s1 = await net.subnet();
    s2 = await net.subnet();
    await createBridge(b1, { cidr: `${s1.gateway}/24` });
    await createBridge(b2, { cidr: `${s2.gateway}/24` });
    fw = await ensureChains(net.fwPrefix);
    a1 = await net.addNetns('a1');
    c1 = await net.netnsHolder();
    a2 = await net.addNetns('a2');
    const wire = (n: string, ns: NetnsRef, bridge: string, s: typeof s1, host: number) =>
      createVethIntoNetns({
        hostName: net.link(`h${n}`),
        bridge,
        netns: ns,
        address: `${s.host(host)}/24`,
        gateway: s.gateway,
      });
    await wire('1', a1, b1, s1, 2);
    await wire('2', c1, b1, s1, 3);
    await wire('3', a2, b2, s2, 2);
    await net.nodeInNetns(a1, echoServerScript(8080));
  });

  after(async () => {
    if (skip === false) await net.cleanup();
  });

  it('creates its chains idempotently, with the FORWARD jump first', { skip }, async () => {
    const first = await save();
    await ensureChains(net.fwPrefix);
    assert.deepEqual(rulesWith(await save(), net.fwPrefix), rulesWith(first, net.fwPrefix));
    const forward = rulesWith(first, '-A FORWARD ');
    assert.match(forward[0] ?? '', new RegExp(`-j ${net.fwPrefix}-FORWARD$`));
    assert.equal(rulesWith(first, `-j ${net.fwPrefix}-FORWARD`).length, 1);
    assert.equal(rulesWith(first, `-j ${net.fwPrefix}-DNAT`).length, 2, 'PREROUTING and OUTPUT');
    assert.equal(
      rulesWith(first, `${net.fwPrefix}-POSTROUTING`).length,
      0,
      'no masquerade chain unless enabled',
    );
    assert.ok((await listPrefixes()).includes(net.fwPrefix));
  });

  it('lets a bridge talk to itself', { skip }, async () => {
    await fw.allowBridge(b1, { dropUnsolicited: false });
    await fw.allowBridge(b2, { dropUnsolicited: false });
    await fw.allowBridge(b1, { dropUnsolicited: false });
    assert.equal(rulesWith(await save(), `-i ${b1} -o ${b1} `).length, 1, 'added once');
    assert.equal(await net.ping(a1, s1.host(3)), true);
    assert.equal(await net.ping(c1, s1.host(2)), true);
  });

  it('isolates bridges from each other', { skip }, async () => {
    // Route between the two test bridges only: forwarding on just these
    // interfaces, and a guard that drops anything from them that would leave
    // for any other interface (nothing may be routed off the machine).
    const guard = ['-i', `${net.linkPrefix}+`, '!', '-o', `${net.linkPrefix}+`];
    await runCommand('iptables', [
      '-w',
      '-I',
      'FORWARD',
      '2',
      ...guard,
      '-m',
      'comment',
      '--comment',
      `berth:${net.fwPrefix}`,
      '-j',
      'DROP',
    ]);
    // And let the test bridges reach each other even where FORWARD's policy is DROP.
    await runCommand('iptables', [
      '-w',
      '-I',
      'FORWARD',
      '3',
      '-i',
      `${net.linkPrefix}+`,
      '-o',
      `${net.linkPrefix}+`,
      '-m',
      'comment',
      '--comment',
      `berth:${net.fwPrefix}`,
      '-j',
      'ACCEPT',
    ]);
    await setForwarding(b1, true);
    await setForwarding(b2, true);
    assert.equal(await net.ping(a2, s1.host(2)), true, 'routed between bridges before isolation');

    await fw.isolateBridges([b1, b2]);
    assert.equal(await net.ping(a2, s1.host(2)), false, 'b2 -> b1 dropped');
    assert.equal(await net.ping(a1, s2.host(2)), false, 'b1 -> b2 dropped');
    assert.equal(await net.ping(a1, s1.host(3)), true, 'within b1 still fine');

    await fw.unisolateBridges([b1, b2]);
    assert.equal(await net.ping(a2, s1.host(2)), true, 'routed again after unisolate');
  });

  it('drops unsolicited traffic into a protected bridge', { skip }, async () => {
    await fw.allowBridge(b1); // dropUnsolicited defaults to true
    assert.equal(await net.ping(a2, s1.host(2)), false, 'b2 -> b1 dropped');
    assert.equal(await net.ping(a1, s2.host(2)), true, 'b1 -> b2 allowed, replies come back');
    assert.equal(await net.ping(a1, s1.host(3)), true, 'within b1 still fine');
  });

  it('publishes a port with DNAT, reachable from another bridge and from the host', { skip }, async () => {
    const hostPort = await closedPort();
    const mapping = {
      hostIp: '0.0.0.0',
      hostPort,
      proto: 'tcp' as const,
      containerIp: s1.host(2),
      containerPort: 8080,
      bridge: b1,
    };
    assert.equal(
      await tcpFromNetns(a2, s2.gateway, hostPort, 'x'),
      'ERROR ECONNREFUSED',
      'not yet published',
    );
    // The container's port is closed to b2 (dropped by the b1 protection) until published.
    assert.equal(await tcpFromNetns(a2, s1.host(2), 8080, 'direct'), 'TIMEOUT');
    await fw.addPortMapping(mapping);
    await fw.addPortMapping(mapping);
    assert.equal(rulesWith(await save(), `--to-destination ${s1.host(2)}:8080`).length, 1, 'added once');

    // From a namespace on b2 to b2's gateway: PREROUTING DNAT, forwarded into b1.
    assert.equal(await tcpFromNetns(a2, s2.gateway, hostPort, 'via-dnat'), 'GOT via-dnat');
    // From the host to a local non-loopback address: OUTPUT DNAT.
    assert.equal(await tcpFromHost(s1.gateway, hostPort, 'from-host'), 'GOT from-host');
    // As with Docker, the published container port is then open to routed traffic too.
    assert.equal(await tcpFromNetns(a2, s1.host(2), 8080, 'direct'), 'GOT direct');

    await fw.removePortMapping(mapping);
    await fw.removePortMapping(mapping);
    assert.equal(rulesWith(await save(), `--to-destination ${s1.host(2)}:8080`).length, 0);
    assert.equal(await tcpFromHost(s1.gateway, hostPort, 'gone'), 'ERROR ECONNREFUSED');
  });

  it('adds no DNAT rule for a loopback host address', { skip }, async () => {
    const mapping = {
      hostIp: '127.0.0.1',
      hostPort: 18080,
      proto: 'udp' as const,
      containerIp: s1.host(2),
      containerPort: 8080,
      bridge: b1,
    };
    await fw.addPortMapping(mapping);
    const text = await save();
    assert.equal(rulesWith(text, '--dport 18080').length, 0);
    assert.equal(
      rulesWith(text, `-d ${s1.host(2)}/32 ! -i ${b1} -o ${b1} -p udp -m udp --dport 8080`).length,
      1,
    );
    await fw.removePortMapping(mapping);
    assert.equal(rulesWith(await save(), `-p udp -m udp --dport 8080`).length, 0);
  });

  it('removes what disallowBridge covers', { skip }, async () => {
    await fw.disallowBridge(b2);
    await fw.disallowBridge(b2);
    assert.equal(rulesWith(await save(), ` ${b2} `).length, 0);
  });

  it('cleans up every chain and rule of its prefix, and only those', { skip }, async () => {
    const other = new TestNet();
    const otherFw = await ensureChains(other.fwPrefix);
    try {
      await cleanup(net.fwPrefix);
      await cleanup(net.fwPrefix);
      const text = await save();
      assert.deepEqual(rulesWith(text, net.fwPrefix), []);
      assert.ok(!(await listPrefixes()).includes(net.fwPrefix));
      assert.ok(rulesWith(text, `${other.fwPrefix}-FORWARD`).length > 0, 'another prefix is untouched');
    } finally {
      await otherFw.cleanup();
    }
    assert.deepEqual(rulesWith(await save(), other.fwPrefix), []);
  });
});
