// What the container, network and stats benchmarks share: statistics, a
// small Docker API client over the unix socket, the busybox image, and the
// sweep of processes, mounts and cgroups a benchmark's daemon may leave.

import { spawn } from 'node:child_process';
import { readFile, readdir, rmdir, stat } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { busyboxImage, dockerSaveTarball } from '../test/helpers/images.js';

// ---------------------------------------------------------------------------
// Statistics and time

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};
export const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};
export const clock = (): number => performance.now();
export const ms = (x: number, digits = 1): string => (Number.isFinite(x) ? `${x.toFixed(digits)} ms` : 'n/a');
export const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));
export const stats = (xs: readonly number[], digits = 1): string =>
  `median ${ms(median(xs), digits).padStart(10)}  p90 ${ms(pct(xs, 0.9), digits).padStart(10)}  min ${ms(Math.min(...xs), digits).padStart(10)}  (n=${xs.length})`;

// ---------------------------------------------------------------------------
// A small API client over the unix socket

export interface HttpResult {
  status: number;
  body: string;
}

export class Api {
  readonly socket: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });

  constructor(socket: string) {
    this.socket = socket;
  }

  request(
    method: string,
    path: string,
    body?: Buffer | string,
    headers: Record<string, string> = {},
  ): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, path, method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A JSON request; rejects unless the status is 2xx. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.request(
      method,
      path,
      payload,
      payload === undefined ? {} : { 'Content-Type': 'application/json' },
    );
    if (res.status < 200 || res.status > 299) {
      throw new Error(`${method} ${path}: ${res.status} ${res.body.trim()}`);
    }
    return (res.body.trim() === '' ? undefined : JSON.parse(res.body)) as T;
  }

  /**
   * `POST /containers/{id}/wait`: `headers` resolves once the daemon answered
   * (berth flushes the headers when the wait is registered), `result` with
   * the exit code.
   */
  wait(id: string, condition: string): { headers: Promise<void>; result: Promise<number> } {
    let onHeaders: () => void = () => undefined;
    const headers = new Promise<void>((resolve) => (onHeaders = resolve));
    const result = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          path: `/containers/${id}/wait?condition=${condition}`,
          method: 'POST',
          agent: this.agent,
        },
        (res) => {
          onHeaders();
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            try {
              const body = JSON.parse(text) as { StatusCode?: number; Error?: { Message?: string } | null };
              if (res.statusCode !== 200 || body.Error) {
                reject(new Error(`wait ${id}: ${res.statusCode} ${text.trim()}`));
              } else resolve(body.StatusCode ?? -1);
            } catch {
              reject(new Error(`wait ${id}: ${res.statusCode} ${text.trim()}`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    result.catch(() => onHeaders());
    return { headers, result };
  }

  /** Polls every `pollMs` until the container is gone (404); resolves with the time it took. */
  async gone(id: string, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<number> {
    const { timeoutMs = 30_000, pollMs = 2 } = options;
    const t0 = performance.now();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const res = await this.request('GET', `/containers/${id}/json`);
      if (res.status === 404) return performance.now() - t0;
      await sleep(pollMs);
    }
    throw new Error(`container ${id} was not removed within ${timeoutMs} ms`);
  }

  async containerIds(): Promise<string[]> {
    const list = await this.json<{ Id: string }[]>('GET', '/containers/json?all=1');
    return list.map((c) => c.Id);
  }

  close(): void {
    this.agent.destroy();
  }
}

export async function loadBusybox(api: Api, image = 'busybox'): Promise<void> {
  const tarball = await dockerSaveTarball([{ image: await busyboxImage(), repoTags: [`${image}:latest`] }]);
  const res = await api.request('POST', '/images/load?quiet=1', tarball, {
    'Content-Type': 'application/x-tar',
  });
  if (res.status !== 200 || /"error/.test(res.body)) throw new Error(`image load: ${res.status} ${res.body}`);
}

// ---------------------------------------------------------------------------
// Processes, mounts, cgroups

/**
 * Runs a command; rejects with its stderr when it fails. With `quiet`, no
 * pipes at all and it resolves on exit: `runc create` hands its stdio to the
 * container's init, which would keep a stderr pipe open until it ran.
 */
export function runCmd(command: string, args: string[], options: { quiet?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', options.quiet ? 'ignore' : 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once(options.quiet ? 'exit' : 'close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')}: ${signal ?? code} ${stderr.trim()}`));
    });
  });
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string): string =>
    s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** rmdir of a cgroup dir and every cgroup below it (cgroup dirs hold only control files). */
export async function rmdirTree(path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined) return;
  for (const e of entries) if (e.isDirectory()) await rmdirTree(join(path, e.name));
  await rmdir(path).catch(() => undefined);
}

/** rmdir of `parent`'s cgroup in every hierarchy; the paths that stay. */
export async function removeCgroupParent(parent: string): Promise<string[]> {
  const left: string[] = [];
  const rel = parent.replace(/^\/+/, '');
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const path = join('/sys/fs/cgroup', hierarchy, rel);
    await rmdirTree(path);
    if (
      await stat(path)
        .then(() => true)
        .catch(() => false)
    )
      left.push(path);
  }
  return left;
}

/** Kills (by PID) conmon/runc naming the daemon's dir and processes in its cgroups; removes the cgroups. */
export async function sweep(dir: string, cgroupParent: string): Promise<void> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const cgroups = await readFile(`/proc/${name}/cgroup`, 'utf8').catch(() => '');
    if (
      (['conmon', 'runc'].includes(basename(argv[0] ?? '')) && argv.some((a) => a.includes(dir))) ||
      cgroups.split('\n').some((l) => l.includes(`:${cgroupParent}/`))
    )
      pids.push(Number(name));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (pids.length > 0) console.log(`  cleanup: killed ${pids.length} leftover processes: ${pids.join(' ')}`);
  await sleep(200);
  for (const target of await mountsUnder(dir)) await runCmd('umount', ['-l', target]).catch(() => undefined);
  const left = await removeCgroupParent(cgroupParent);
  if (left.length > 0) console.log(`  cleanup: cgroups left: ${left.join(', ')}`);
}
