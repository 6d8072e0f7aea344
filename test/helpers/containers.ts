// Shared setup for the container integration tests: a berthd of the test's
// own (its own cgroup parent), the busybox fixture loaded into it, a check
// that nothing of removed containers is left behind (overlay mounts, conmon
// processes, cgroup directories), and a teardown that removes every
// container, the daemon and its cgroup directories.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink, realpath, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { docker, type RunOptions, type RunResult } from './cli.js';
import { TestDaemon } from './daemon.js';
import { busyboxImage, dockerSaveTarball } from './images.js';
import { waitFor } from './poll.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** What `docker inspect` says about a container (the fields the tests read). */
export interface ContainerJSON {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
  };
  Image: string;
  RestartCount: number;
  Driver: string;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  HostConfig: {
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    PidsLimit: number | null;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    AutoRemove: boolean;
    ReadonlyRootfs: boolean;
    Init: boolean | null;
    Binds: string[] | null;
    Tmpfs?: Record<string, string> | null;
  };
  Config: {
    Hostname: string;
    User: string;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    WorkingDir: string;
    Labels: Record<string, string> | null;
    Image: string;
    Tty: boolean;
    OpenStdin: boolean;
  };
  Mounts: { Type: string; Source: string; Destination: string; RW: boolean }[];
}

/** The zero time Docker shows for StartedAt/FinishedAt that never happened. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

let busyboxTarball: Promise<Buffer> | undefined;

/** `docker save` of the busybox fixture as `busybox:latest` (built once per process). */
function busyboxSave(): Promise<Buffer> {
  busyboxTarball ??= (async () =>
    dockerSaveTarball([{ image: await busyboxImage(), repoTags: ['busybox:latest'] }]))();
  return busyboxTarball;
}

/** A cgroup parent of the test's own, `/berthtest-<random>`. */
export function randomCgroupParent(): string {
  return `/berthtest-${randomBytes(6).toString('hex')}`;
}

/** The `--cgroup-parent` a daemon runs with. */
export function cgroupParentOf(daemon: TestDaemon): string {
  const args = daemon.args();
  let parent: string | undefined;
  for (let i = 0; i < args.length - 1; i++) if (args[i] === '--cgroup-parent') parent = args[i + 1];
  if (parent === undefined) throw new Error('the test daemon runs without --cgroup-parent');
  return parent;
}

/**
 * A berthd with a cgroup parent of its own and busybox:latest loaded. The
 * shutdown timeout is short so a connection the daemon keeps open (see
 * leaks.test.ts) does not hold every file's teardown for 15 s.
 */
export async function startContainerDaemon(options: { args?: string[] } = {}): Promise<TestDaemon> {
  const daemon = await TestDaemon.start({
    args: ['--cgroup-parent', randomCgroupParent(), '--shutdown-timeout', '3', ...(options.args ?? [])],
  });
  try {
    await loadBusybox(daemon);
  } catch (err) {
    await teardown(daemon);
    throw err;
  }
  return daemon;
}

/** `docker load` of the busybox fixture. */
export async function loadBusybox(daemon: TestDaemon): Promise<void> {
  const tarPath = join(daemon.dir, 'busybox.tar');
  await writeFile(tarPath, await busyboxSave());
  const res = await docker(daemon.host, ['load', '-i', tarPath]);
  await rm(tarPath, { force: true });
  assert.equal(res.code, 0, `docker load: ${res.stderr}`);
  assert.match(res.stdout, /Loaded image: busybox:latest/);
}

/** `docker ...` that must succeed; returns its result. */
export async function dockerOk(
  daemon: TestDaemon,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const res = await docker(daemon.host, args, options);
  assert.equal(
    res.code,
    0,
    `docker ${args.join(' ')} exited ${String(res.code)}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`,
  );
  return res;
}

/** `docker inspect` of one container. */
export async function inspectContainer(daemon: TestDaemon, ref: string): Promise<ContainerJSON> {
  const res = await dockerOk(daemon, ['container', 'inspect', ref]);
  const [info] = JSON.parse(res.stdout) as ContainerJSON[];
  assert.ok(info, `docker inspect ${ref} returned nothing`);
  return info;
}

/** Whether a container exists (`docker inspect` finds it). */
export async function containerExists(daemon: TestDaemon, ref: string): Promise<boolean> {
  const res = await docker(daemon.host, ['container', 'inspect', '--format', '{{.Id}}', ref]);
  if (res.code === 0) return true;
  assert.match(res.stderr, /No such container/, res.stderr);
  return false;
}

/** Full IDs of every container the daemon knows. */
export async function containerIds(daemon: TestDaemon): Promise<string[]> {
  const res = await dockerOk(daemon, ['ps', '-aq', '--no-trunc']);
  return res.stdout.split('\n').filter((l) => l !== '');
}

/** The path of a container's cgroup file on the host (cgroup v1 hierarchy + the daemon's parent). */
export function hostCgroupFile(daemon: TestDaemon, controller: string, id: string, file: string): string {
  return join(CGROUP_ROOT, controller, cgroupParentOf(daemon), id, file);
}

/** Whether a process exists. */
export function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The `State:` letter of a process from /proc/<pid>/status (`S`, `R`, `D`, ...). */
export async function processState(pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return /^State:\s+(\S)/m.exec(status)?.[1] ?? '?';
}

/** Polls `docker inspect` until `check` accepts the container. */
export async function waitForContainer(
  daemon: TestDaemon,
  ref: string,
  check: (c: ContainerJSON) => boolean,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<ContainerJSON> {
  let last: ContainerJSON | undefined;
  await waitFor(
    async () => {
      last = await inspectContainer(daemon, ref);
      return check(last);
    },
    { timeoutMs: options.timeoutMs ?? 10_000, intervalMs: 100, what: options.what ?? `container ${ref}` },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last state: ${JSON.stringify(last?.State)}`, { cause: err });
  });
  return last as ContainerJSON;
}

// ---------------------------------------------------------------------------
// Leaks

/** The cgroup hierarchies on this host (one name per mount, `unified` included). */
async function cgroupHierarchies(): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of await readdir(CGROUP_ROOT).catch(() => [] as string[])) {
    const path = join(CGROUP_ROOT, name);
    const real = await realpath(path).catch(() => path);
    if (seen.has(real)) continue;
    seen.add(real);
    out.push(path);
  }
  // cgroup v2 alone: the root itself is the hierarchy.
  if (out.length === 0 || (await readFile(join(CGROUP_ROOT, 'cgroup.controllers')).catch(() => undefined))) {
    out.push(CGROUP_ROOT);
  }
  return out;
}

interface MountInfo {
  mountPoint: string;
  fsType: string;
}

function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

async function mountsUnder(dir: string): Promise<MountInfo[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountInfo[] = [];
  for (const line of info.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const mountPoint = unescapeMount(fields[4] ?? '');
    const dash = fields.indexOf('-');
    const fsType = dash >= 0 ? (fields[dash + 1] ?? '') : '';
    if (mountPoint.startsWith(`${dir}/`)) out.push({ mountPoint, fsType });
  }
  return out;
}

interface ProcessInfo {
  pid: number;
  comm: string;
  cmdline: string[];
}

async function processes(): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
    const raw = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (raw === '') continue;
    out.push({ pid: Number(entry), comm, cmdline: raw.split('\0').filter((a) => a !== '') });
  }
  return out;
}

/** conmon processes (container or exec) whose command line mentions the daemon's exec root. */
async function conmonsOf(daemon: TestDaemon): Promise<ProcessInfo[]> {
  return (await processes()).filter(
    (p) => p.comm === 'conmon' && p.cmdline.some((a) => a.includes(daemon.execRoot)),
  );
}

function conmonContainer(p: ProcessInfo): string {
  const i = p.cmdline.indexOf('-c');
  return i >= 0 ? (p.cmdline[i + 1] ?? '') : '';
}

/** Container cgroup directories under `<hierarchy>/<parent>/` in every hierarchy. */
async function containerCgroupDirs(parent: string): Promise<{ path: string; name: string }[]> {
  const out: { path: string; name: string }[] = [];
  for (const hierarchy of await cgroupHierarchies()) {
    const dir = join(hierarchy, parent);
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) out.push({ path: join(dir, e.name), name: e.name });
    }
  }
  return out;
}

/**
 * What is left of containers the daemon no longer has: overlay mounts under
 * the daemon's directory, conmon processes for its exec root, and cgroup
 * directories under its cgroup parent in any hierarchy.
 */
export async function findLeaks(daemon: TestDaemon, known?: string[]): Promise<string[]> {
  const ids = new Set(known ?? (await containerIds(daemon)));
  const isKnown = (text: string): boolean => [...ids].some((id) => text.includes(id));
  const leaks: string[] = [];
  for (const m of await mountsUnder(daemon.dir)) {
    if (m.fsType === 'overlay' && !isKnown(m.mountPoint)) leaks.push(`overlay mount ${m.mountPoint}`);
  }
  for (const p of await conmonsOf(daemon)) {
    if (!ids.has(conmonContainer(p))) leaks.push(`conmon pid ${p.pid}: ${p.cmdline.join(' ').slice(0, 300)}`);
  }
  for (const d of await containerCgroupDirs(cgroupParentOf(daemon))) {
    if (!ids.has(d.name)) leaks.push(`cgroup dir ${d.path}`);
  }
  return leaks;
}

/**
 * Asserts that nothing of removed containers is left: no overlay mounts
 * under the daemon's dir, no conmon processes for its exec root, no cgroup
 * dirs under `/sys/fs/cgroup/<hierarchy>/<parent>/` of containers that are
 * gone. Waits a little first (removal may still be finishing).
 */
export async function leakCheck(daemon: TestDaemon): Promise<void> {
  let leaks: string[] = [];
  await waitFor(
    async () => {
      leaks = await findLeaks(daemon);
      return leaks.length === 0;
    },
    { timeoutMs: 5000, intervalMs: 200, what: 'no leaks' },
  ).catch(() => undefined);
  assert.deepEqual(leaks, [], `left behind by removed containers:\n${leaks.join('\n')}`);
}

// ---------------------------------------------------------------------------
// Teardown

/** `docker rm -f` of every container the daemon has (if it still answers). */
export async function removeAllContainers(daemon: TestDaemon): Promise<void> {
  const list = await docker(daemon.host, ['ps', '-aq', '--no-trunc'], { timeoutMs: 10_000 });
  if (list.code !== 0) return;
  const ids = list.stdout.split('\n').filter((l) => l !== '');
  if (ids.length > 0) await docker(daemon.host, ['rm', '-f', ...ids], { timeoutMs: 60_000 });
}

/**
 * Ends what a test daemon left behind even when it misbehaved: every
 * container removed through the API, then (only if something is left)
 * conmon processes of this daemon's exec root and processes in this
 * daemon's cgroups killed by PID, overlay mounts under its dir detached, the
 * daemon stopped and its directory removed, and the cgroup parent (with any
 * empty leftover children) removed in every hierarchy, `unified` included.
 */
export async function teardown(daemon: TestDaemon): Promise<void> {
  const parent = cgroupParentOf(daemon);
  await removeAllContainers(daemon).catch(() => undefined);
  await daemon.stop('SIGTERM');

  // Processes our daemon started and left behind, by PID.
  for (const p of await conmonsOf(daemon)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const d of await containerCgroupDirs(parent)) {
    const procs = await readFile(join(d.path, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter((l) => /^\d+$/.test(l))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  const mounts = (await mountsUnder(daemon.dir)).map((m) => m.mountPoint).sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    await new Promise<void>((resolve) => execFile('umount', ['-l', m], () => resolve()));
  }
  await daemon.cleanup();
  await removeCgroupParent(parent);
}

/** Removes `<hierarchy>/<parent>` (and empty leftover children) in every hierarchy. */
export async function removeCgroupParent(parent: string): Promise<void> {
  for (const hierarchy of await cgroupHierarchies()) {
    const dir = join(hierarchy, parent);
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      // A cgroup dir with no processes can go; retry briefly while killed processes exit.
      for (let i = 0; i < 20; i++) {
        const ok = await rmdir(join(dir, e.name)).then(
          () => true,
          (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await rmdir(dir).catch(() => undefined);
  }
}

/** The target of a /proc/<pid>/fd link for each socket fd of a process. */
export async function socketFds(pid: number): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith('socket:')) out.push(target);
  }
  return out;
}
