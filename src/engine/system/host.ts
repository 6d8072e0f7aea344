import { execFile } from 'node:child_process';
import { access, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';

import { goArch } from '../../util/platform.js';

const run = promisify(execFile);

/** cgroup v2 magic number (statfs f_type), as in linux/magic.h. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** What the host offers for containers, probed once at start and on reload. */
export interface HostFacts {
  hostname: string;
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  /** `uname -m`, e.g. x86_64. */
  machine: string;
  /** Go-style architecture name, e.g. amd64. */
  arch: string;
  ncpu: number;
  memTotal: number;
  cgroup: CgroupFacts;
  ipv4Forwarding: boolean;
  bridgeNfIptables: boolean;
  bridgeNfIp6tables: boolean;
}

export interface CgroupFacts {
  /** '2' on a unified host; '1' on legacy and hybrid hosts. */
  version: '1' | '2';
  /** v1 controllers mounted alongside a cgroup2 mount that has controllers of its own (crun refuses this). */
  hybrid: boolean;
  memoryLimit: boolean;
  swapLimit: boolean;
  cpuCfsQuota: boolean;
  cpuCfsPeriod: boolean;
  cpuShares: boolean;
  cpuSet: boolean;
  pidsLimit: boolean;
  oomKillDisable: boolean;
}

/** A helper program berth runs (OCI runtime, conmon), as found on this host. */
export interface ToolVersion {
  name: string;
  path: string;
  version: string | undefined;
  commit: string | undefined;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export async function probeHost(): Promise<HostFacts> {
  const [osRelease, cgroup, ipv4Forwarding, nf4, nf6] = await Promise.all([
    readFile('/etc/os-release', 'utf8').catch(() => ''),
    probeCgroups(),
    readTrimmed('/proc/sys/net/ipv4/ip_forward'),
    readTrimmed('/proc/sys/net/bridge/bridge-nf-call-iptables'),
    readTrimmed('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
  ]);
  const release = parseOsRelease(osRelease);
  return {
    hostname: os.hostname(),
    kernelVersion: os.release(),
    operatingSystem: release['PRETTY_NAME'] ?? 'Linux',
    osVersion: release['VERSION_ID'] ?? '',
    machine: os.machine(),
    arch: goArch(process.arch),
    ncpu: os.availableParallelism(),
    memTotal: os.totalmem(),
    cgroup,
    ipv4Forwarding: ipv4Forwarding === '1',
    bridgeNfIptables: nf4 === '1',
    bridgeNfIp6tables: nf6 === '1',
  };
}

/** Parses /etc/os-release (KEY="value" lines). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    out[m[1] ?? ''] = (m[2] ?? '').replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return out;
}

async function probeCgroups(root = '/sys/fs/cgroup'): Promise<CgroupFacts> {
  const rootFs = await statfs(root).catch(() => undefined);
  if (rootFs?.type === CGROUP2_SUPER_MAGIC) {
    const controllers = ((await readTrimmed(`${root}/cgroup.controllers`)) ?? '').split(/\s+/);
    const has = (c: string): boolean => controllers.includes(c);
    return {
      version: '2',
      hybrid: false,
      memoryLimit: has('memory'),
      swapLimit: has('memory') && (await exists(`${root}/init.scope/memory.swap.max`).catch(() => false)),
      cpuCfsQuota: has('cpu'),
      cpuCfsPeriod: has('cpu'),
      cpuShares: has('cpu'),
      cpuSet: has('cpuset'),
      pidsLimit: has('pids'),
      oomKillDisable: false,
    };
  }
  const unifiedControllers = (await readTrimmed(`${root}/unified/cgroup.controllers`)) ?? '';
  const [memoryLimit, swapLimit, cpuCfsQuota, cpuCfsPeriod, cpuShares, cpuSet, pidsLimit, oomKillDisable] =
    await Promise.all([
      exists(`${root}/memory/memory.limit_in_bytes`),
      exists(`${root}/memory/memory.memsw.limit_in_bytes`),
      exists(`${root}/cpu/cpu.cfs_quota_us`),
      exists(`${root}/cpu/cpu.cfs_period_us`),
      exists(`${root}/cpu/cpu.shares`),
      exists(`${root}/cpuset/cpuset.cpus`),
      exists(`${root}/pids/pids.max`),
      exists(`${root}/memory/memory.oom_control`),
    ]);
  return {
    version: '1',
    hybrid: unifiedControllers !== '',
    memoryLimit,
    swapLimit,
    cpuCfsQuota,
    cpuCfsPeriod,
    cpuShares,
    cpuSet,
    pidsLimit,
    oomKillDisable,
  };
}

/**
 * Runs `<path> --version` and reads the version and commit lines that runc,
 * crun and conmon print (`runc version 1.1.5+ds1`, `commit: v1.1.5-0-g…`).
 * A missing program gives undefined fields, not an error.
 */
export async function probeTool(name: string, path: string): Promise<ToolVersion> {
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 5000 });
    return { name, path, ...parseToolVersion(stdout) };
  } catch {
    return { name, path, version: undefined, commit: undefined };
  }
}

export function parseToolVersion(text: string): { version: string | undefined; commit: string | undefined } {
  const version = /version:?\s+(\S+)/i.exec(text)?.[1];
  const commit = /^commit:\s*(\S+)/im.exec(text)?.[1];
  return { version, commit };
}
