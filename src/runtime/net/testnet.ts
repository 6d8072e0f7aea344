/**
 * Fixtures for the tests of src/runtime/net (not used by the daemon): random
 * test-unique names, free subnets in 10.231.0.0/16, network namespaces (by
 * path and by pid), processes inside them, and one `cleanup()` that removes
 * everything a test created, whatever state it failed in.
 *
 * Names: bridges and veths `bthT<id>…` (≤ 15 bytes), namespaces
 * `berthtest-<id>-…`, iptables prefix `BTHT<ID>` (comment `berth:BTHT<ID>`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';

import { deleteLink, listLinks, netnsExec, overlappingRoutes, type NetnsRef } from './ip.js';
import { cleanup as cleanupFirewall } from './iptables.js';
import { runCommand } from './exec.js';

export const BUSYBOX = '/bin/busybox';

/** Whether this process can create namespaces, links and rules (root with the tools installed). */
export async function canManageNetwork(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await runCommand('ip', ['-V']);
    await runCommand('iptables', ['-V']);
    await runCommand('nsenter', ['--version']);
    await runCommand(BUSYBOX, ['true']);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class TestNet {
  /** 4 hex digits, unique per fixture. */
  readonly id: string;
  /** Prefix of every link name: `bthT<id>`. */
  readonly linkPrefix: string;
  /** The iptables prefix: `BTHT<ID>`. */
  readonly fwPrefix: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly subnets: string[] = [];

  constructor() {
    this.id = randomBytes(2).toString('hex');
    this.linkPrefix = `bthT${this.id}`;
    this.fwPrefix = `BTHT${this.id.toUpperCase()}`;
  }

  /** A link name `bthT<id><suffix>`. */
  link(suffix: string): string {
    return `${this.linkPrefix}${suffix}`;
  }

  /** A free /24 in 10.231.0.0/16: no host route overlaps it, and no earlier call returned it. */
  async subnet(): Promise<{ cidr: string; base: string; gateway: string; host: (n: number) => string }> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const base = `10.231.${randomInt(0, 256)}`;
      const cidr = `${base}.0/24`;
      if (this.subnets.includes(cidr)) continue;
      if ((await overlappingRoutes(cidr)).length > 0) continue;
      this.subnets.push(cidr);
      return { cidr, base, gateway: `${base}.1`, host: (n) => `${base}.${n}` };
    }
    throw new Error('no free /24 in 10.231.0.0/16');
  }

  /** `ip netns add berthtest-<id>-<suffix>`: a namespace named by path. */
  async addNetns(suffix: string): Promise<{ name: string; path: string }> {
    const name = `berthtest-${this.id}-${suffix}`;
    await runCommand('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    return { name, path: `/run/netns/${name}` };
  }

  /**
   * A process in a fresh network namespace (as a runtime-created container
   * netns): `unshare -n sleep`, which execs, so the pid is inside it.
   */
  async netnsHolder(): Promise<{ pid: number }> {
    const child = this.track(spawn('unshare', ['-n', 'sleep', '600'], { stdio: 'ignore' }));
    const pid = child.pid;
    if (pid === undefined) throw new Error('unshare did not start');
    // Wait until the namespace differs from ours (unshare has run).
    for (let i = 0; i < 100; i++) {
      try {
        const [mine, theirs] = await Promise.all([
          runCommand('readlink', ['/proc/self/ns/net']),
          runCommand('readlink', [`/proc/${pid}/ns/net`]),
        ]);
        if (mine.stdout !== theirs.stdout && theirs.stdout.trim() !== '') return { pid };
      } catch {
        // not yet
      }
      await sleep(10);
    }
    throw new Error('unshare -n did not create a namespace');
  }

  /**
   * Runs a node script inside a namespace, resolving once it prints a line
   * (its "ready" signal). Killed by cleanup.
   */
  async nodeInNetns(netns: NetnsRef, script: string): Promise<ChildProcess> {
    const target = 'pid' in netns ? ['-t', String(netns.pid), '-n'] : [`--net=${netns.path}`];
    const child = this.track(
      spawn('nsenter', [...target, '--', process.execPath, '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`node in netns exited (${code}): ${stderr}`)));
    });
    await ready;
    return child;
  }

  /** Pings once from inside a namespace; true on a reply. */
  async ping(netns: NetnsRef, address: string): Promise<boolean> {
    try {
      await netnsExec(netns, [BUSYBOX, 'ping', '-c', '1', '-W', '1', address], { timeoutMs: 5000 });
      return true;
    } catch {
      return false;
    }
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.push(child);
    child.on('error', () => undefined);
    return child;
  }

  /**
   * Removes everything: processes (by pid), namespaces, links with this
   * fixture's prefix, and iptables rules and chains of its prefix.
   */
  async cleanup(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await Promise.race([once(child, 'exit'), sleep(2000)]);
      }
    }
    for (const name of this.namespaces) {
      await runCommand('ip', ['netns', 'del', name]).catch(() => undefined);
    }
    for (const link of await listLinks(this.linkPrefix).catch(() => [])) {
      await deleteLink(link.name).catch(() => undefined);
    }
    await cleanupFirewall(this.fwPrefix);
  }
}

/** A free TCP/UDP port on 127.0.0.1 right now (nothing listens on it afterwards). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The node source of a TCP+UDP echo server on `port` that prints "ready" once listening. */
export function echoServerScript(port: number): string {
  return `
const net = require('node:net');
const dgram = require('node:dgram');
const server = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  s.on('data', (d) => s.write(d));
  s.on('end', () => s.end());
});
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => udp.send(m, r.port, r.address));
let n = 0;
const ready = () => { if (++n === 2) process.stdout.write('ready\\n'); };
server.listen(${port}, '0.0.0.0', ready);
udp.bind(${port}, '0.0.0.0', ready);
`;
}
