// Networking with the official docker CLI against a real berthd: user
// networks (names, aliases and short IDs through the embedded DNS,
// isolation between networks), the default bridge, published ports, network
// connect/disconnect, events, removal and prune, the `none`, `host` and
// `container:` modes, a daemon restart, and that nothing of the daemon's
// links is left behind.
//
// Traffic goes only to 127.0.0.1 and to the containers these tests start.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import { dockerOk, inspectContainer, startContainerDaemon, teardown } from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { busyboxImage, dockerSaveTarball } from '../../helpers/images.js';
import { waitFor } from '../../helpers/poll.js';
import { deleteLink, freePort, hostLinks, type Link } from './net-helpers.js';

/** `GET http://127.0.0.1:<port><path>` from the host, its body (throws on failure). */
async function fetchLocal(port: number | string, path = '/index.html'): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return res.text();
}

/** A shell command that serves `text` at /index.html with busybox httpd on port 80. */
function httpd(text: string): string[] {
  return ['sh', '-c', `mkdir -p /srv && echo ${text} > /srv/index.html && exec httpd -f -p 80 -h /srv`];
}

interface NetworkJSON {
  Name: string;
  Id: string;
  Driver: string;
  Scope: string;
  Internal: boolean;
  Attachable: boolean;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  IPAM: { Driver: string; Config: { Subnet: string; Gateway?: string; IPRange?: string }[] };
  Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string; EndpointID: string }>;
}

interface EndpointJSON {
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Aliases: string[] | null;
  DNSNames: string[] | null;
}

interface NetworkSettingsJSON {
  IPAddress: string;
  Gateway: string;
  MacAddress: string;
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  Networks: Record<string, EndpointJSON>;
}

describe('networking with the docker CLI', () => {
  let daemon: TestDaemon;
  /** IDs of the user networks these tests made (their bridges are `bth-<id[0:11]>`). */
  const networkIds = new Set<string>();
  let tornDown = false;

  before(async () => {
    daemon = await startContainerDaemon();
  });
  after(async () => {
    if (!tornDown) await removeEverything();
  });

  const ok = (args: string[], input?: string): Promise<string> =>
    dockerOk(daemon, args, input !== undefined ? { input } : {}).then((r) => r.stdout);

  const createNetwork = async (args: string[]): Promise<string> => {
    const id = (await ok(['network', 'create', ...args])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    networkIds.add(id);
    return id;
  };

  const inspectNetwork = async (ref: string): Promise<NetworkJSON> => {
    const [net] = JSON.parse(await ok(['network', 'inspect', ref])) as NetworkJSON[];
    assert.ok(net);
    return net;
  };

  const settings = async (ref: string): Promise<NetworkSettingsJSON> =>
    JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings}}', ref])) as NetworkSettingsJSON;

  /** The bridges of this daemon: its default bridge and those of its user networks. */
  const ourBridges = (): Set<string> =>
    new Set([daemon.bridge, ...[...networkIds].map((id) => `bth-${id.slice(0, 11)}`)]);

  /** Containers, then user networks (before the daemon stops), then the daemon. */
  async function removeEverything(): Promise<void> {
    const ids = await docker(daemon.host, ['ps', '-aq']);
    const list = ids.stdout.split('\n').filter((l) => l !== '');
    if (list.length > 0) await docker(daemon.host, ['rm', '-f', ...list], { timeoutMs: 60_000 });
    const nets = await docker(daemon.host, ['network', 'ls', '-q', '--filter', 'type=custom', '--no-trunc']);
    for (const id of nets.stdout.split('\n').filter((l) => l !== '')) {
      networkIds.add(id);
      await docker(daemon.host, ['network', 'rm', id]);
    }
    await teardown(daemon);
    tornDown = true;
    // teardown() stops the daemon before TestDaemon.cleanup() asks it for its
    // networks, so a bridge left by a failed `network rm` is removed here.
    const left = new Set((await hostLinks()).map((l) => l.ifname));
    for (const name of ourBridges()) if (left.has(name)) await deleteLink(name);
  }

  it('docker network create makes a user network that ls and inspect show', async () => {
    const id = await createNetwork([
      '--subnet',
      '10.233.71.0/24',
      '--gateway',
      '10.233.71.1',
      '--ip-range',
      '10.233.71.128/25',
      '--label',
      'team=net',
      '-o',
      'com.example.opt=1',
      'n1',
    ]);
    const ls = await ok(['network', 'ls']);
    assert.match(ls, /^NETWORK ID {5}NAME {6}DRIVER {4}SCOPE\n/);
    assert.match(ls, new RegExp(`^${id.slice(0, 12)} {3}n1 {8}bridge {4}local$`, 'm'));
    assert.match(ls, /^[0-9a-f]{12} {3}bridge {4}bridge {4}local$/m);
    assert.match(ls, /^[0-9a-f]{12} {3}host {6}host {6}local$/m);
    assert.match(ls, /^[0-9a-f]{12} {3}none {6}null {6}local$/m);

    const net = await inspectNetwork(id.slice(0, 12));
    assert.equal(net.Id, id, 'a short ID finds the network');
    assert.equal(net.Name, 'n1');
    assert.equal(net.Driver, 'bridge');
    assert.equal(net.Scope, 'local');
    assert.deepEqual(net.Labels, { team: 'net' });
    assert.equal(net.Options['com.example.opt'], '1');
    assert.deepEqual(net.IPAM.Config, [
      { Subnet: '10.233.71.0/24', Gateway: '10.233.71.1', IPRange: '10.233.71.128/25' },
    ]);
    assert.deepEqual(net.Containers, {});
    assert.equal((await ok(['network', 'ls', '-q', '--filter', 'label=team=net', '--no-trunc'])).trim(), id);
    assert.equal(
      (await ok(['network', 'ls', '--format', '{{.Name}} {{.Labels}}', '--filter', 'name=n1'])).trim(),
      'n1 team=net',
    );

    const dup = await docker(daemon.host, ['network', 'create', 'n1']);
    assert.equal(dup.code, 1);
    assert.equal(dup.stderr.trim(), 'Error response from daemon: network with name n1 already exists');
    const predefined = await docker(daemon.host, ['network', 'create', 'host']);
    assert.equal(predefined.code, 1);
    assert.match(predefined.stderr, /host is a pre-defined network and cannot be created/);
  });

  it('containers on a user network reach each other by name, network alias and short ID', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'n1',
      '--network-alias',
      'www',
      'busybox',
      ...httpd('hello-web'),
    ]);
    const web = await inspectContainer(daemon, 'web');
    const ep = (await settings('web')).Networks['n1'];
    assert.ok(ep, 'web is on n1');
    assert.match(
      ep.IPAddress,
      /^10\.233\.71\.(12[89]|1[3-9]\d|2[0-4]\d|25[0-4])$/,
      'the address is in the --ip-range',
    );
    assert.equal(ep.Gateway, '10.233.71.1');
    assert.equal(ep.IPPrefixLen, 24);
    assert.deepEqual(ep.Aliases, ['www']);
    assert.deepEqual([...(ep.DNSNames ?? [])].sort(), ['web', 'www', web.Id.slice(0, 12)].sort());

    const ping = await ok(['run', '--rm', '--network', 'n1', 'busybox', 'ping', '-c', '1', '-W', '2', 'web']);
    assert.match(ping, new RegExp(`^PING web \\(${ep.IPAddress.replace(/\./g, '\\.')}\\)`, 'm'));
    assert.match(ping, /1 packets transmitted, 1 packets received/);
    for (const name of ['web', 'www', web.Id.slice(0, 12)]) {
      const body = await ok([
        'run',
        '--rm',
        '--network',
        'n1',
        'busybox',
        'wget',
        '-q',
        '-O',
        '-',
        `http://${name}/index.html`,
      ]);
      assert.equal(body, 'hello-web\n', `wget http://${name}/`);
    }
    const resolv = await ok(['run', '--rm', '--network', 'n1', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.match(resolv, /^nameserver 10\.233\.71\.1$/m, 'the embedded DNS server is on the gateway');
  });

  it('a container on another user network cannot reach the first network’s container by IP', async () => {
    await createNetwork(['n2']);
    const net2 = await inspectNetwork('n2');
    assert.match(net2.IPAM.Config[0]?.Subnet ?? '', /^10\.232\.\d+\.0\/24$/, 'from --default-address-pool');
    const webIp = (await settings('web')).Networks['n1']?.IPAddress ?? '';
    const started = Date.now();
    const res = await docker(daemon.host, [
      'run',
      '--rm',
      '--network',
      'n2',
      'busybox',
      'ping',
      '-c',
      '1',
      '-W',
      '1',
      webIp,
    ]);
    assert.notEqual(res.code, 0, `ping ${webIp} from n2 must fail:\n${res.stdout}`);
    assert.match(res.stdout, /1 packets transmitted, 0 packets received/);
    assert.ok(Date.now() - started < 15_000, 'it fails quickly');
    const byName = await docker(daemon.host, [
      'run',
      '--rm',
      '--network',
      'n2',
      'busybox',
      'ping',
      '-c',
      '1',
      '-W',
      '1',
      'web',
    ]);
    assert.notEqual(byName.code, 0);
    assert.match(byName.stderr, /bad address 'web'/, 'n2’s DNS does not know n1’s containers');
  });

  it('the default bridge: /etc/hosts has the container’s own address; other names do not resolve', async () => {
    await ok(['run', '-d', '--name', 'd1', 'busybox', 'sleep', '600']);
    const d1 = await inspectContainer(daemon, 'd1');
    const s = await settings('d1');
    const bridgeNet = await inspectNetwork('bridge');
    const subnet = bridgeNet.IPAM.Config[0]?.Subnet ?? '';
    assert.match(subnet, /^10\.231\.\d+\.0\/24$/, 'the test daemon’s --bip');
    const prefix = subnet.replace(/0\/24$/, '');
    assert.ok(s.IPAddress.startsWith(prefix), `${s.IPAddress} in ${subnet}`);
    assert.equal(s.Gateway, `${prefix}1`);
    assert.equal(s.Networks['bridge']?.IPAddress, s.IPAddress);
    assert.equal(s.Networks['bridge']?.DNSNames ?? null, null);
    const hosts = await ok(['exec', 'd1', 'cat', '/etc/hosts']);
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.ok(hosts.split('\n').includes(`${s.IPAddress}\t${d1.Id.slice(0, 12)}`), hosts);
    assert.equal((await ok(['exec', 'd1', 'hostname', '-i'])).trim(), s.IPAddress);

    const byName = await docker(daemon.host, ['run', '--rm', 'busybox', 'ping', '-c', '1', '-W', '1', 'd1']);
    assert.notEqual(byName.code, 0);
    assert.match(byName.stderr, /bad address 'd1'/);
    const byIp = await ok(['run', '--rm', 'busybox', 'ping', '-c', '1', '-W', '2', s.IPAddress]);
    assert.match(byIp, /1 packets received/, 'containers on the default bridge reach each other by address');
  });

  it('--add-host adds /etc/hosts lines', async () => {
    const hosts = await ok([
      'run',
      '--rm',
      '--add-host',
      'db.internal:10.9.8.7',
      '--add-host',
      'cache=10.9.8.6',
      'busybox',
      'cat',
      '/etc/hosts',
    ]);
    const lines = hosts.split('\n');
    assert.ok(lines.includes('10.9.8.7\tdb.internal'), hosts);
    assert.ok(lines.includes('10.9.8.6\tcache'), hosts);
  });

  it('-p 127.0.0.1:<port>:80 is reached from the host; docker port and inspect show it', async () => {
    const port = await freePort();
    await ok(['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('hello-pub')]);
    let body = '';
    await waitFor(
      async () => {
        body = await fetchLocal(port).catch(() => '');
        return body !== '';
      },
      { timeoutMs: 10_000, what: 'the published port' },
    );
    assert.equal(body, 'hello-pub\n');
    assert.equal(await ok(['port', 'pub']), `80/tcp -> 127.0.0.1:${port}\n`);
    assert.equal(await ok(['port', 'pub', '80']), `127.0.0.1:${port}\n`);
    assert.equal(await ok(['port', 'pub', '80/tcp']), `127.0.0.1:${port}\n`);
    const missing = await docker(daemon.host, ['port', 'pub', '81']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), "Error: No public port '81' published for pub");

    const s = await settings('pub');
    assert.deepEqual(s.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.match(s.IPAddress, /^10\.231\.\d+\.\d+$/);
    assert.deepEqual(Object.keys(s.Networks), ['bridge']);
    assert.equal(s.Networks['bridge']?.IPAddress, s.IPAddress);
    assert.match(s.Networks['bridge']?.MacAddress ?? '', /^02:42(:[0-9a-f]{2}){4}$/);
    assert.match(s.Networks['bridge']?.EndpointID ?? '', /^[0-9a-f]{64}$/);
    const ps = await ok(['ps', '--filter', 'name=pub', '--format', '{{.Ports}}']);
    assert.equal(ps, `127.0.0.1:${port}->80/tcp\n`);

    const taken = await docker(daemon.host, [
      'run',
      '-d',
      '--name',
      'pub2',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      'sleep',
      '5',
    ]);
    assert.notEqual(taken.code, 0, 'the same host port twice');
    assert.match(taken.stderr, /port is already allocated|address already in use/);
    await docker(daemon.host, ['rm', '-f', 'pub2']);
  });

  it('-P publishes an image’s EXPOSEd ports on random host ports', async () => {
    const image = await busyboxImage({ config: { ExposedPorts: { '80/tcp': {} } } });
    const tarPath = join(daemon.dir, 'expose.tar');
    await writeFile(tarPath, await dockerSaveTarball([{ image, repoTags: ['busybox-expose:latest'] }]));
    await ok(['load', '-i', tarPath]);
    await rm(tarPath, { force: true });

    await ok(['run', '-d', '--name', 'exposed', '-P', 'busybox-expose', ...httpd('hello-exposed')]);
    const mapping = (await ok(['port', 'exposed', '80'])).trim().split('\n');
    const v4 = mapping.find((l) => l.startsWith('0.0.0.0:'));
    assert.ok(v4, `docker port: ${mapping.join(', ')}`);
    const hostPort = Number(v4.slice('0.0.0.0:'.length));
    assert.ok(hostPort >= 1024 && hostPort <= 65535, v4);
    let body = '';
    await waitFor(
      async () => {
        body = await fetchLocal(hostPort).catch(() => '');
        return body !== '';
      },
      { timeoutMs: 10_000, what: 'the -P port' },
    );
    assert.equal(body, 'hello-exposed\n');
    const s = await settings('exposed');
    assert.equal(s.Ports['80/tcp']?.[0]?.HostPort, String(hostPort));
    const plain = await settings('d1');
    assert.deepEqual(plain.Ports, {}, 'no ports for a container without any');
  });

  it('docker network inspect lists the running containers on a network', async () => {
    const net = await inspectNetwork('n1');
    const web = await inspectContainer(daemon, 'web');
    const ep = (await settings('web')).Networks['n1'];
    assert.deepEqual(Object.keys(net.Containers), [web.Id]);
    assert.deepEqual(net.Containers[web.Id], {
      Name: 'web',
      EndpointID: ep?.EndpointID,
      MacAddress: ep?.MacAddress,
      IPv4Address: `${ep?.IPAddress}/24`,
      IPv6Address: '',
    });
    const bridge = await inspectNetwork('bridge');
    const names = Object.values(bridge.Containers)
      .map((c) => c.Name)
      .sort();
    assert.deepEqual(names, ['d1', 'exposed', 'pub']);
    const fmt = await ok([
      'network',
      'inspect',
      '-f',
      '{{range .Containers}}{{.Name}} {{end}}|{{.Name}}',
      'n1',
    ]);
    assert.equal(fmt, 'web |n1\n');
  });

  it('network connect adds an interface to a running container; disconnect takes it away', async () => {
    await ok(['network', 'connect', '--alias', 'dee', '--ip', '10.233.71.200', 'n1', 'd1']);
    const addrs = await ok(['exec', 'd1', 'busybox', 'ip', '-o', '-4', 'addr']);
    assert.match(addrs, /^\d+: eth1 +inet 10\.233\.71\.200\/24 /m, addrs);
    assert.match(addrs, /^\d+: eth0 +inet 10\.231\./m, 'eth0 stays');
    const ep = (await settings('d1')).Networks['n1'];
    assert.equal(ep?.IPAddress, '10.233.71.200');
    assert.deepEqual(ep?.Aliases, ['dee']);
    const ping = await ok(['run', '--rm', '--network', 'n1', 'busybox', 'ping', '-c', '1', '-W', '2', 'dee']);
    assert.match(ping, /^PING dee \(10\.233\.71\.200\)/m);
    const again = await docker(daemon.host, ['network', 'connect', 'n1', 'd1']);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr.trim(),
      'Error response from daemon: endpoint with name d1 already exists in network n1',
    );

    await ok(['network', 'disconnect', 'n1', 'd1']);
    const after = await ok(['exec', 'd1', 'busybox', 'ip', '-o', 'link']);
    assert.doesNotMatch(after, /eth1/);
    assert.deepEqual(Object.keys((await settings('d1')).Networks), ['bridge']);
    const gone = await docker(daemon.host, [
      'run',
      '--rm',
      '--network',
      'n1',
      'busybox',
      'ping',
      '-c',
      '1',
      '-W',
      '1',
      'dee',
    ]);
    assert.notEqual(gone.code, 0, 'the alias is gone with the endpoint');
    const notConnected = await docker(daemon.host, ['network', 'disconnect', 'n1', 'd1']);
    assert.equal(notConnected.code, 1);
    const d1 = await inspectContainer(daemon, 'd1');
    assert.equal(
      notConnected.stderr.trim(),
      `Error response from daemon: container ${d1.Id} is not connected to network n1`,
    );
    const forced = await docker(daemon.host, ['network', 'disconnect', '-f', 'n1', 'nosuchcontainer']);
    assert.equal(forced.code, 0, forced.stderr);
  });

  it('network connect and disconnect on a stopped container take effect at its start', async () => {
    await ok(['create', '--name', 'cold', 'busybox', 'sleep', '600']);
    await ok(['network', 'connect', '--alias', 'chilly', 'n2', 'cold']);
    const s = await settings('cold');
    assert.deepEqual(Object.keys(s.Networks).sort(), ['bridge', 'n2']);
    assert.equal(s.Networks['n2']?.IPAddress, '', 'no address before it runs');
    assert.deepEqual(s.Networks['n2']?.Aliases, ['chilly']);
    await ok(['start', 'cold']);
    const addrs = await ok(['exec', 'cold', 'busybox', 'ip', '-o', '-4', 'addr']);
    assert.match(addrs, /^\d+: eth0 +inet 10\.231\./m, addrs);
    assert.match(addrs, /^\d+: eth1 +inet 10\.232\./m, addrs);
    const ping = await ok([
      'run',
      '--rm',
      '--network',
      'n2',
      'busybox',
      'ping',
      '-c',
      '1',
      '-W',
      '2',
      'chilly',
    ]);
    assert.match(ping, /1 packets received/);
    await ok(['stop', '-t', '1', 'cold']);
    await ok(['network', 'disconnect', 'n2', 'cold']);
    assert.deepEqual(Object.keys((await settings('cold')).Networks), ['bridge']);
    await ok(['start', 'cold']);
    const after = await ok(['exec', 'cold', 'busybox', 'ip', '-o', 'link']);
    assert.doesNotMatch(after, /eth1/);
    await ok(['rm', '-f', 'cold']);
  });

  it('a stopped container connected to a network shows its interfaces on each `docker start -a`', async () => {
    await ok(['create', '--name', 'cold2', 'busybox', 'busybox', 'ip', '-o', '-4', 'addr']);
    try {
      await ok(['network', 'connect', 'n2', 'cold2']);
      assert.match(await ok(['start', '-a', 'cold2']), /^\d+: eth1 +inet 10\.232\./m);
      await ok(['network', 'disconnect', 'n2', 'cold2']);
      assert.doesNotMatch(await ok(['start', '-a', 'cold2']), /eth1/);
    } finally {
      await docker(daemon.host, ['rm', '-f', 'cold2']);
    }
  });

  it('network events: create, connect, disconnect and destroy, with container, name and type', async () => {
    const since = (Date.now() / 1000 - 0.5).toFixed(3);
    const id = await createNetwork(['evnet']);
    await ok(['network', 'connect', 'evnet', 'd1']);
    const d1 = await inspectContainer(daemon, 'd1');
    await ok(['network', 'disconnect', 'evnet', 'd1']);
    await ok(['network', 'rm', 'evnet']);
    const until = (Date.now() / 1000 + 0.5).toFixed(3);
    const events = await ok([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'type=network',
      '--filter',
      `network=${id}`,
      '--format',
      '{{.Type}} {{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}',
    ]);
    assert.deepEqual(events.trim().split('\n'), [
      `network create ${id} {"name":"evnet","type":"bridge"}`,
      `network connect ${id} {"container":"${d1.Id}","name":"evnet","type":"bridge"}`,
      `network disconnect ${id} {"container":"${d1.Id}","name":"evnet","type":"bridge"}`,
      `network destroy ${id} {"name":"evnet","type":"bridge"}`,
    ]);
  });

  it('docker network rm of a network with a running container fails as Docker’s does', async () => {
    const res = await docker(daemon.host, ['network', 'rm', 'n1']);
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      /^Error response from daemon: error while removing network: network n1 has active endpoints \(/,
    );
    assert.equal((await inspectNetwork('n1')).Name, 'n1', 'still there');
  });

  it('the active endpoints error names each endpoint as Docker’s does', async () => {
    const res = await docker(daemon.host, ['network', 'rm', 'n1']);
    const ep = (await settings('web')).Networks['n1'];
    assert.equal(
      res.stderr.trim(),
      `Error response from daemon: error while removing network: network n1 has active endpoints (name:"web" id:"${ep?.EndpointID.slice(0, 12)}")\nexit status 1`,
    );
  });

  it('networks report EnableIPv4 as Docker 28 does', async () => {
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}}', 'n1'])).trim(), 'true');
    assert.equal(
      (await ok(['network', 'ls', '--filter', 'name=n1', '--format', '{{.IPv4}}'])).trim(),
      'true',
    );
  });

  it('docker network rm removes several, reports missing ones, and -f passes over them', async () => {
    await createNetwork(['rm1']);
    await createNetwork(['rm2']);
    const res = await docker(daemon.host, ['network', 'rm', 'rm1', 'nosuchnet', 'rm2']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, 'rm1\nrm2\n');
    assert.equal(res.stderr, 'Error response from daemon: network nosuchnet not found\nexit status 1\n');
    const forced = await docker(daemon.host, ['network', 'rm', '-f', 'nosuchnet']);
    assert.equal(forced.code, 0, forced.stderr);
    const builtin = await docker(daemon.host, ['network', 'rm', 'bridge']);
    assert.equal(builtin.code, 1);
    assert.match(builtin.stderr, /bridge is a pre-defined network and cannot be removed/);
  });

  it('docker network prune removes unused user networks only', async () => {
    await createNetwork(['unused1']);
    await createNetwork(['unused2', '--label', 'keep=yes']);
    const declined = await docker(daemon.host, ['network', 'prune'], { input: 'n\n' });
    assert.equal(declined.code, 0);
    assert.match(
      declined.stdout,
      /^WARNING! This will remove all custom networks not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] /,
    );
    assert.equal((await inspectNetwork('unused1')).Name, 'unused1', 'declining keeps them');
    const filtered = await ok(['network', 'prune', '-f', '--filter', 'label=keep=yes']);
    assert.equal(filtered, 'Deleted Networks:\nunused2\n\n');
    const all = await ok(['network', 'prune', '-f']);
    const lines = all.split('\n');
    assert.equal(lines[0], 'Deleted Networks:');
    assert.deepEqual(lines.slice(1).sort(), ['', '', 'n2', 'unused1'], all);
    assert.equal(await ok(['network', 'prune', '-f']), '');
    const names = (await ok(['network', 'ls', '--format', '{{.Name}}'])).trim().split('\n');
    assert.deepEqual(names, ['bridge', 'host', 'n1', 'none'], 'n1 has web on it');
  });

  it('docker network prune honours label! and until filters', async () => {
    await createNetwork(['keepme', '--label', 'keep=yes']);
    await createNetwork(['dropme']);
    try {
      const until = await ok(['network', 'prune', '-f', '--filter', 'until=2000-01-01T00:00:00Z']);
      assert.equal(until, '', 'nothing was made before 2000');
      const res = await ok(['network', 'prune', '-f', '--filter', 'label!=keep']);
      assert.equal(res, 'Deleted Networks:\ndropme\n\n');
    } finally {
      await docker(daemon.host, ['network', 'rm', 'keepme', 'dropme']);
    }
  });

  it('--network none has only the loopback interface', async () => {
    const links = await ok(['run', '--rm', '--network', 'none', 'busybox', 'busybox', 'ip', '-o', 'link']);
    const names = links
      .trim()
      .split('\n')
      .map((l) => l.split(':')[1]?.trim());
    assert.deepEqual(names, ['lo']);
    const id = (await ok(['create', '--network', 'none', 'busybox', 'true'])).trim();
    const s = await settings(id);
    assert.deepEqual(Object.keys(s.Networks), ['none']);
    assert.equal(s.IPAddress, '');
    await ok(['rm', id]);
  });

  it('--network host shares the host’s hostname and interfaces', async () => {
    assert.equal((await ok(['run', '--rm', '--network', 'host', 'busybox', 'hostname'])).trim(), hostname());
    const links = await ok(['run', '--rm', '--network', 'host', 'busybox', 'busybox', 'ip', '-o', 'link']);
    assert.ok(
      links.includes(`: ${daemon.bridge}:`),
      'the daemon’s bridge is visible from the host namespace',
    );
  });

  it('--network container:<id> shares the other container’s interfaces', async () => {
    const d1 = await inspectContainer(daemon, 'd1');
    const own = await ok(['exec', 'd1', 'busybox', 'ip', '-o', '-4', 'addr']);
    const shared = await ok([
      'run',
      '--rm',
      '--network',
      `container:${d1.Id.slice(0, 12)}`,
      'busybox',
      'busybox',
      'ip',
      '-o',
      '-4',
      'addr',
    ]);
    const addrs = (text: string): string[] =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.replace(/\\.*$/, '').trim());
    assert.deepEqual(addrs(shared), addrs(own));
  });

  it('--network container:<id> takes the other container’s hostname, /etc/hosts and resolv.conf', async () => {
    const d1 = await inspectContainer(daemon, 'd1');
    const out = await ok([
      'run',
      '--rm',
      '--network',
      'container:d1',
      'busybox',
      'sh',
      '-c',
      'hostname; hostname -i',
    ]);
    assert.equal(out, `${d1.Id.slice(0, 12)}\n${(await settings('d1')).IPAddress}\n`);
    assert.equal(
      await ok(['run', '--rm', '--network', 'container:d1', 'busybox', 'cat', '/etc/hosts']),
      await ok(['exec', 'd1', 'cat', '/etc/hosts']),
    );
  });

  it('a daemon restart keeps a running container reachable on its published port and by name', async () => {
    const port = Number((await ok(['port', 'pub', '80'])).trim().split(':')[1]);
    const webIp = (await settings('web')).Networks['n1']?.IPAddress;
    assert.equal(await daemon.stop('SIGTERM'), 0);
    await daemon.launch();
    assert.equal((await inspectContainer(daemon, 'web')).State.Status, 'running');
    assert.equal((await settings('web')).Networks['n1']?.IPAddress, webIp, 'the address is kept');
    let body = '';
    await waitFor(
      async () => {
        body = await fetchLocal(port).catch(() => '');
        return body !== '';
      },
      { timeoutMs: 10_000, what: 'the published port after the restart' },
    );
    assert.equal(body, 'hello-pub\n');
    const byName = await ok([
      'run',
      '--rm',
      '--network',
      'n1',
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      'http://web/index.html',
    ]);
    assert.equal(byName, 'hello-web\n');
    const alias = await ok([
      'run',
      '--rm',
      '--network',
      'n1',
      'busybox',
      'ping',
      '-c',
      '1',
      '-W',
      '2',
      'www',
    ]);
    assert.match(alias, /1 packets received/);
    // A new container gets a new address, not web's.
    const fresh = await ok(['run', '--rm', '--network', 'n1', 'busybox', 'hostname', '-i']);
    assert.notEqual(fresh.trim(), webIp);
  });

  it('after the containers and networks are gone, only the daemon’s default bridge is left', async () => {
    const ids = (await ok(['ps', '-aq'])).split('\n').filter((l) => l !== '');
    if (ids.length > 0) await ok(['rm', '-f', ...ids]);
    await ok(['network', 'rm', 'n1']);
    const bridges = ourBridges();
    let links: Link[] = [];
    await waitFor(
      async () => {
        links = await hostLinks();
        return !links.some((l) => l.master !== undefined && bridges.has(l.master));
      },
      { timeoutMs: 5000, what: 'the veths to go' },
    ).catch(() => undefined);
    const ours = links.filter(
      (l) => bridges.has(l.ifname) || (l.master !== undefined && bridges.has(l.master)),
    );
    assert.deepEqual(
      ours.map((l) => l.ifname),
      [daemon.bridge],
      'no veth on the daemon’s bridges and no user network bridge',
    );
  });

  it('after cleanup none of the daemon’s links remain', async () => {
    const bridges = ourBridges();
    await teardown(daemon);
    tornDown = true;
    const ours = (await hostLinks()).filter(
      (l) => bridges.has(l.ifname) || (l.master !== undefined && bridges.has(l.master)),
    );
    assert.deepEqual(
      ours.map((l) => l.ifname),
      [],
    );
  });
});
