import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { waitFor } from './poll.js';

/** The repository root (tests run from dist/test/helpers). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BERTHD = join(REPO_ROOT, 'bin/berthd');
export const BERTH = join(REPO_ROOT, 'bin/berth');
/** Test programs: `docker-credential-berthtest`, a credential helper keeping files under $BERTH_TEST_CREDS. */
export const TEST_BIN = join(REPO_ROOT, 'test/helpers/bin');

/**
 * The node flags of bin/berthd's `#!/usr/bin/env -S node <flags> --` line,
 * so that a daemon started as `node <flags> bin/berthd` (to pick this very
 * node, or add profiling flags) runs as it does from PATH.
 */
export function daemonNodeFlags(): string[] {
  const shebang = readFileSync(BERTHD, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node((?: --?[a-z][a-z0-9-]*(?:=\S+)?)*) --$/.exec(shebang);
  if (m === null) throw new Error(`unexpected first line in ${BERTHD}: ${shebang}`);
  return (m[1] ?? '').split(' ').filter(Boolean);
}

export interface DaemonOptions {
  /** Extra berthd flags. */
  args?: string[];
  /** Reuse a directory (for restarts against the same data root). */
  dir?: string;
}

/**
 * A real berthd on a private socket, data root, exec root and pid file under
 * a temporary directory. Tests must `cleanup()` it: the process is stopped by
 * its PID and the directory removed.
 */
export class TestDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly pidfile: string;
  readonly extraArgs: string[];
  /** A cgroup parent of this daemon's own, removed by cleanup(). */
  readonly cgroupParent: string;
  /** The default bridge's device name, unique to this daemon (also its iptables chain prefix). */
  readonly bridge: string;
  /** The default bridge's subnet third octet in 10.231.0.0/16. */
  private subnetOctet = -1;
  private child: ChildProcess | undefined;
  private output = '';
  private exited: Promise<number | null> = Promise.resolve(null);

  private constructor(dir: string, extraArgs: string[]) {
    this.dir = dir;
    this.socket = join(dir, 'berth.sock');
    this.dataRoot = join(dir, 'data');
    this.execRoot = join(dir, 'exec');
    this.pidfile = join(dir, 'berthd.pid');
    this.extraArgs = extraArgs;
    this.cgroupParent = `/berthtest-${basename(dir).replace(/^berth-it-/, '')}`;
    // Derived from the directory, so every TestDaemon on one directory (restarts) shares one bridge,
    // and the last cleanup() removes it with its iptables chains.
    this.bridge = `btt${createHash('sha256').update(dir).digest('hex').slice(0, 8)}0`;
  }

  static async start(options: DaemonOptions = {}): Promise<TestDaemon> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'berth-it-')));
    const daemon = new TestDaemon(dir, options.args ?? []);
    await daemon.launch();
    return daemon;
  }

  get host(): string {
    return `unix://${this.socket}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Everything the daemon wrote to stdout and stderr so far. */
  get logs(): string {
    return this.output;
  }

  args(): string[] {
    return [
      '-H',
      this.host,
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--pidfile',
      this.pidfile,
      '--config-file',
      join(this.dir, 'daemon.json'),
      ...(this.extraArgs.includes('--cgroup-parent') ? [] : ['--cgroup-parent', this.cgroupParent]),
      '--bridge',
      this.bridge,
      '--bip',
      `10.231.${this.subnetOctet}.1/24`,
      '--default-address-pool',
      'base=10.232.0.0/16,size=24',
      '--no-ip-masq',
      '--no-ip-forward',
      // Names the embedded DNS does not know are forwarded here: loopback, so never off the machine.
      '--dns',
      '127.0.0.1',
      ...this.extraArgs,
    ];
  }

  /** Starts the daemon process and waits until it answers `/_ping`. */
  async launch(): Promise<void> {
    const { writeFile, access, readFile } = await import('node:fs/promises');
    await access(join(this.dir, 'daemon.json')).catch(() => writeFile(join(this.dir, 'daemon.json'), '{}\n'));
    if (this.subnetOctet < 0) {
      // The same subnet for every daemon on this directory (its default network record keeps it).
      const saved = Number.parseInt(
        await readFile(join(this.dir, 'subnet-octet'), 'utf8').catch(() => ''),
        10,
      );
      this.subnetOctet = Number.isInteger(saved) && saved > 0 ? saved : await freeSubnetOctet();
      await writeFile(join(this.dir, 'subnet-octet'), String(this.subnetOctet));
    }
    // BERTH_TEST_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the daemons of a test or bench.
    const nodeArgs = (process.env.BERTH_TEST_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...daemonNodeFlags(), ...nodeArgs, BERTHD, ...this.args()], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let exitedEarly = false;
    void this.exited.then(() => (exitedEarly = true));
    await waitFor(
      async () => {
        if (exitedEarly) throw new Error(`berthd exited during start:\n${this.output}`);
        return (await ping(this.socket)) === 200;
      },
      { timeoutMs: 20_000, what: 'berthd to answer /_ping' },
    );
  }

  /** Sends a signal to the daemon (by PID) and waits for it to exit; returns the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    child.kill(signal);
    return this.exited;
  }

  /** Sends a signal without waiting (SIGHUP). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Stops the daemon if it runs and removes its directory. */
  async cleanup(): Promise<void> {
    const bridges = [...new Set([...(await this.networkBridges()), ...(await this.recordedBridges())])];
    await this.stop('SIGTERM');
    for (const name of [this.bridge, ...bridges])
      await run('ip', ['link', 'del', name]).catch(() => undefined);
    await cleanupFirewall(this.bridge.toUpperCase()).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
    const { readdir, rmdir } = await import('node:fs/promises');
    for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await rmdir(join('/sys/fs/cgroup', hierarchy, this.cgroupParent)).catch(() => undefined);
    }
  }

  /** Bridges named in the daemon's network records on disk (works when the daemon is already stopped). */
  private async recordedBridges(): Promise<string[]> {
    const { readdir, readFile } = await import('node:fs/promises');
    const dir = join(this.dataRoot, 'networks');
    const out: string[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const rec = JSON.parse(await readFile(join(dir, name), 'utf8').catch(() => '{}')) as {
        bridge?: string;
      };
      if (rec.bridge) out.push(rec.bridge);
    }
    return out;
  }

  /** Bridges of the user networks this daemon made (for cleanup). */
  private async networkBridges(): Promise<string[]> {
    return new Promise((resolve) => {
      const req = request(
        { socketPath: this.socket, path: '/networks', method: 'GET', timeout: 2000 },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            try {
              const nets = JSON.parse(body) as {
                Options?: Record<string, string>;
                Id: string;
                Name: string;
              }[];
              resolve(
                nets
                  .filter((n) => !['bridge', 'host', 'none'].includes(n.Name))
                  .map((n) => n.Options?.['com.docker.network.bridge.name'] ?? `bth-${n.Id.slice(0, 11)}`),
              );
            } catch {
              resolve([]);
            }
          });
        },
      );
      req.on('error', () => resolve([]));
      req.end();
    });
  }
}

const run = promisify(execFile);

/** A 10.231.N.0/24 that no route on this host uses yet. */
async function freeSubnetOctet(): Promise<number> {
  const { stdout } = await run('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (let i = 0; i < 200; i++) {
    const n = 1 + Math.floor(Math.random() * 250);
    if (!stdout.includes(`10.231.${n}.`)) return n;
  }
  throw new Error('no free 10.231.N.0/24 subnet for a test daemon');
}

/** Removes a test daemon's iptables chains and jump rules. */
async function cleanupFirewall(prefix: string): Promise<void> {
  const { cleanup } = await import('../../src/runtime/net/iptables.js');
  await cleanup(prefix);
}

/** Status of `GET /_ping` on a socket, or 0 when nothing answers. */
export function ping(socketPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
    req.end();
  });
}
