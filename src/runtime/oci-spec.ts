/**
 * OCI runtime-spec (config.json) generation for runc and crun.
 *
 * buildOciSpec turns a container description that the engine has already
 * resolved (user, env, mounts, limits) into the config.json a runtime runs.
 * It follows Docker's Linux defaults (capabilities, mounts, device rules,
 * masked paths, resource semantics) and the facts verified on these hosts
 * (shared/reference/runtime-stack.md §0, §2, §5): rlimits clamped to the
 * daemon's hard limits, always a mount namespace, exact integers only.
 *
 * Seccomp: `linux.seccomp` is left out on purpose. berth ships no seccomp
 * profile yet, and a hand-written partial one would be worse than none: it
 * would block syscalls Docker's profile allows and still not match Docker's
 * behaviour. Containers therefore run unconfined by seccomp, as Docker's
 * `--security-opt seccomp=unconfined` does, with capabilities, masked and
 * read-only paths and the device cgroup still in force.
 *
 * The function is pure except for two Docker behaviours that need the host:
 * `devices` mappings (and privileged mode, unless `hostDevices` is given)
 * stat device nodes, and the default masked paths include the per-CPU
 * thermal_throttle dirs that exist on the host.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { posix } from 'node:path';

import { InvalidParameterError, SystemError } from '../errors.js';
import { resolveCapabilities } from './capabilities.js';
import type { HostLimits, Ulimit } from './host-limits.js';
import { clampRlimits, rlimitType } from './host-limits.js';

/** The runtime-spec version written to config.json (runc 1.1 and crun 1.8 accept it). */
export const OCI_VERSION = '1.0.2';

/** Docker's default /dev/shm size: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where the init binary (`--init`) appears in the container. */
export const CONTAINER_INIT_PATH = '/sbin/docker-init';

/**
 * The no-op throttle rate put on every disk so v1 blkio statistics work on
 * these kernels (runtime-stack.md §5). An exact integer well below 2^53.
 */
export const BLKIO_NOOP_RATE = 1_099_511_627_776_000;

/** Docker's masked paths (privileged containers get none). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

/** Docker's read-only paths (privileged containers get none). */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

const MIN_MEMORY = 6 * 1024 * 1024;

// --- the parts of the OCI runtime spec berth writes --------------------------

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
  umask?: number;
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface OciRlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface OciProcess {
  terminal: boolean;
  user: OciUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj: number;
}

export interface OciRoot {
  path: string;
  readonly: boolean;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export type OciNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface OciNamespace {
  type: OciNamespaceType;
  path?: string;
}

/** A device cgroup rule; no major/minor means "any". */
export interface OciDeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

/** A device node the runtime creates in the container's /dev. */
export interface OciDevice {
  type: 'c' | 'b' | 'p';
  path: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
}

export interface OciCpu {
  shares?: number;
  quota?: number;
  period?: number;
  cpus?: string;
  mems?: string;
}

export interface OciThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface OciBlockIO {
  weight?: number;
  throttleReadBpsDevice?: OciThrottleDevice[];
  throttleWriteBpsDevice?: OciThrottleDevice[];
}

export interface OciResources {
  devices: OciDeviceRule[];
  memory?: OciMemory;
  cpu?: OciCpu;
  pids?: { limit: number };
  blockIO?: OciBlockIO;
}

export interface OciLinux {
  namespaces: OciNamespace[];
  cgroupsPath: string;
  resources: OciResources;
  devices: OciDevice[];
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: OciRoot;
  hostname?: string;
  domainname?: string;
  mounts: OciMount[];
  linux: OciLinux;
}

// --- input -----------------------------------------------------------------

export interface OciProcessInput {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[]; umask?: number };
  terminal: boolean;
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export type MountPropagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

/** A user bind or tmpfs mount, or one of the engine's /etc/hosts-style file binds. */
export interface MountInput {
  destination: string;
  type: 'bind' | 'tmpfs';
  /** Absolute host path for binds; ignored for tmpfs. */
  source: string;
  readonly: boolean;
  /** Extra options. For a bind, `bind` makes it non-recursive; for tmpfs, data such as `size=64m`. */
  options?: string[];
  propagation?: string;
}

export interface ResourcesInput {
  memory?: number;
  /** Docker semantics: -1 unlimited swap, 0 (or unset) = twice `memory` when memory is set. */
  memorySwap?: number;
  memoryReservation?: number;
  /** 0-100; -1 or unset leaves the kernel default. */
  memorySwappiness?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  /** CPUs in billionths: becomes quota/period with a 100000 µs period. */
  nanoCpus?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** 0 or -1 = unlimited. */
  pidsLimit?: number;
  blkioWeight?: number;
  oomKillDisable?: boolean;
}

export type NetworkNamespaceInput =
  | { kind: 'new' }
  /** `joined` marks another container's namespace (no default net sysctls are applied). */
  | { kind: 'path'; path: string; joined?: boolean }
  | { kind: 'host' };

export interface NamespacesInput {
  network: NetworkNamespaceInput;
  pid: 'new' | 'host' | { path: string };
  /** 'none' is a private IPC namespace without /dev/shm (Docker's --ipc=none). */
  ipc: 'new' | 'host' | 'none' | { path: string };
  uts: 'new' | 'host';
}

export interface DeviceMapping {
  pathOnHost: string;
  pathInContainer: string;
  /** Cgroup permissions: any of r, w, m. */
  permissions: string;
}

export interface OciSpecInput {
  id: string;
  /** Absolute path of the merged rootfs. */
  rootfsPath: string;
  readonlyRootfs: boolean;
  hostname: string;
  domainname?: string;
  process: OciProcessInput;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** Capabilities the daemon holds (readAvailableCapabilities); default: all known. */
  availableCapabilities?: readonly string[];
  /** Docker ulimit names; clamped to hostLimits. */
  ulimits?: Ulimit[];
  hostLimits: HostLimits;
  mounts?: MountInput[];
  /** Bytes; default 64 MiB. */
  shmSize?: number;
  /** Docker's --tmpfs: destination -> "rw,size=64m,mode=1777". */
  tmpfs?: Record<string, string>;
  cgroupsPath: string;
  resources?: ResourcesInput;
  /** Disks (major:minor) that get a no-op throttle rule so blkio stats work. */
  blockDevices?: { major: number; minor: number }[];
  sysctls?: Record<string, string>;
  namespaces: NamespacesInput;
  init?: { hostPath: string };
  devices?: DeviceMapping[];
  /** Devices given to a privileged container; default: listHostDevices(). */
  hostDevices?: OciDevice[];
  /** Override Docker's default masked / read-only paths. */
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

// --- helpers -----------------------------------------------------------------

function int(value: number, what: string): number {
  if (!Number.isSafeInteger(value))
    throw new InvalidParameterError(`invalid ${what}: ${value} is not an integer`);
  return value;
}

function optInt(value: number | undefined, what: string): number | undefined {
  return value === undefined ? undefined : int(value, what);
}

function cleanDestination(dest: string, kind: string): string {
  if (!dest.startsWith('/')) {
    throw new InvalidParameterError(
      `invalid mount config for type "${kind}": invalid mount path: '${dest}' mount path must be absolute`,
    );
  }
  const clean = posix.normalize(dest).replace(/(.)\/+$/, '$1');
  if (clean === '/') {
    throw new InvalidParameterError(
      `invalid mount config for type "${kind}": invalid specification: destination can't be '/'`,
    );
  }
  return clean;
}

function depth(dest: string): number {
  return dest.split('/').filter((part) => part !== '').length;
}

const PROPAGATIONS: ReadonlySet<string> = new Set([
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
]);
const BIND_MODES: ReadonlySet<string> = new Set(['bind', 'rbind']);

/**
 * Mount flags and the group each belongs to: within a group the last option
 * wins (`noexec` then `exec` means exec). Propagation and bind modes share a
 * group. Mirrors how Docker merges tmpfs options.
 */
const FLAG_GROUPS: ReadonlyMap<string, string> = new Map([
  ['ro', 'rdonly'],
  ['rw', 'rdonly'],
  ['suid', 'nosuid'],
  ['nosuid', 'nosuid'],
  ['dev', 'nodev'],
  ['nodev', 'nodev'],
  ['exec', 'noexec'],
  ['noexec', 'noexec'],
  ['sync', 'sync'],
  ['async', 'sync'],
  ['dirsync', 'dirsync'],
  ['mand', 'mand'],
  ['nomand', 'mand'],
  ['atime', 'noatime'],
  ['noatime', 'noatime'],
  ['diratime', 'nodiratime'],
  ['nodiratime', 'nodiratime'],
  ['relatime', 'relatime'],
  ['norelatime', 'relatime'],
  ['strictatime', 'strictatime'],
  ['nostrictatime', 'strictatime'],
  ...[...PROPAGATIONS, ...BIND_MODES, 'unbindable', 'runbindable'].map((p): [string, string] => [
    p,
    'propagation',
  ]),
]);

const TMPFS_DATA_KEYS: ReadonlySet<string> = new Set([
  'size',
  'mode',
  'uid',
  'gid',
  'nr_inodes',
  'nr_blocks',
  'mpol',
]);

/** Merges tmpfs options so each flag group and data key appears once, the last one winning. */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const option = (options[i] ?? '').trim();
    if (option === '' || option === 'defaults') continue;
    const group = FLAG_GROUPS.get(option);
    let key: string;
    if (group !== undefined) {
      key = `flag:${group}`;
    } else {
      const name = option.split('=', 1)[0] ?? '';
      if (!option.includes('=') || !TMPFS_DATA_KEYS.has(name)) {
        throw new InvalidParameterError(`invalid tmpfs option "${name}"`);
      }
      key = `data:${name}`;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    out.unshift(option);
  }
  return out;
}

function tmpfsMount(dest: string, extra: readonly string[], readonly: boolean): OciMount {
  const options = mergeTmpfsOptions([
    'noexec',
    'nosuid',
    'nodev',
    'rprivate',
    ...extra,
    ...(readonly ? ['ro'] : []),
  ]);
  return { destination: dest, type: 'tmpfs', source: 'tmpfs', options };
}

interface UserMounts {
  mounts: OciMount[];
  rootfsPropagation: string | undefined;
}

function userMounts(input: OciSpecInput): UserMounts {
  const mounts: OciMount[] = [];
  const seen = new Set<string>();
  let rootfsPropagation: string | undefined;
  const claim = (dest: string): void => {
    if (seen.has(dest)) throw new InvalidParameterError(`Duplicate mount point: ${dest}`);
    seen.add(dest);
  };

  for (const m of input.mounts ?? []) {
    const dest = cleanDestination(m.destination, m.type);
    claim(dest);
    const extra = m.options ?? [];
    if (m.type === 'tmpfs') {
      mounts.push(tmpfsMount(dest, extra, m.readonly));
      continue;
    }
    if (m.type !== 'bind') throw new InvalidParameterError(`invalid mount type: ${String(m.type)}`);
    if (!m.source.startsWith('/')) {
      throw new InvalidParameterError(
        `invalid mount config for type "bind": invalid mount path: '${m.source}' mount path must be absolute`,
      );
    }
    const propagation = m.propagation === undefined || m.propagation === '' ? 'rprivate' : m.propagation;
    if (!PROPAGATIONS.has(propagation)) {
      throw new InvalidParameterError(`invalid mount config: invalid propagation mode: ${propagation}`);
    }
    if (propagation === 'shared' || propagation === 'rshared') {
      rootfsPropagation = 'shared';
    } else if ((propagation === 'slave' || propagation === 'rslave') && rootfsPropagation === undefined) {
      rootfsPropagation = 'rslave';
    }
    const options = [extra.includes('bind') ? 'bind' : 'rbind', propagation];
    if (m.readonly) options.push('ro');
    for (const o of extra) {
      if (BIND_MODES.has(o) || PROPAGATIONS.has(o) || o === 'ro' || o === 'rw' || options.includes(o))
        continue;
      options.push(o);
    }
    mounts.push({ destination: dest, type: 'bind', source: m.source, options });
  }

  for (const [rawDest, data] of Object.entries(input.tmpfs ?? {})) {
    const dest = cleanDestination(rawDest, 'tmpfs');
    claim(dest);
    mounts.push(tmpfsMount(dest, data === '' ? [] : data.split(','), false));
  }

  // Parents before children, so a child is not hidden by its parent's mount.
  // Array.prototype.sort is stable: equal depths keep their given order.
  mounts.sort((a, b) => depth(a.destination) - depth(b.destination));
  return { mounts, rootfsPropagation };
}

function defaultMounts(shmSize: number): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['ro', 'nosuid', 'noexec', 'nodev'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
}

/** Mounts that stay writable on a read-only rootfs (Docker's list). */
const WRITABLE_ON_RO_ROOTFS: ReadonlySet<string> = new Set([
  '/proc',
  '/dev/pts',
  '/dev/shm',
  '/dev/mqueue',
  '/dev',
]);

function buildMounts(
  input: OciSpecInput,
  privileged: boolean,
): { mounts: OciMount[]; rootfsPropagation?: string } {
  const shmSize = int(input.shmSize ?? DEFAULT_SHM_SIZE, 'shm size');
  if (shmSize < 0) throw new InvalidParameterError('SHM size can not be less than 0');
  const user = userMounts(input);
  const userDests = new Set(user.mounts.map((m) => m.destination));
  const userDev = userDests.has('/dev');

  const mounts: OciMount[] = [];
  for (const m of defaultMounts(shmSize === 0 ? DEFAULT_SHM_SIZE : shmSize)) {
    if (userDests.has(m.destination)) continue;
    if (userDev && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm' && input.namespaces.ipc === 'none') continue;
    mounts.push(m);
  }
  if (input.init !== undefined && input.namespaces.pid === 'new') {
    if (!input.init.hostPath.startsWith('/')) {
      throw new InvalidParameterError(`init path must be absolute: ${input.init.hostPath}`);
    }
    mounts.push({
      destination: CONTAINER_INIT_PATH,
      type: 'bind',
      source: input.init.hostPath,
      options: ['bind', 'ro'],
    });
  }
  for (const m of mounts) {
    const options = m.options ?? [];
    if (input.readonlyRootfs && !WRITABLE_ON_RO_ROOTFS.has(m.destination) && !options.includes('ro')) {
      options.push('ro');
    }
    // Privileged containers get a writable /sys and cgroup tree.
    if (privileged && (m.destination === '/sys' || m.type === 'cgroup')) {
      m.options = options.filter((o) => o !== 'ro');
    } else {
      m.options = options;
    }
  }
  mounts.push(...user.mounts);
  return user.rootfsPropagation === undefined
    ? { mounts }
    : { mounts, rootfsPropagation: user.rootfsPropagation };
}

function buildNamespaces(ns: NamespacesInput): OciNamespace[] {
  const out: OciNamespace[] = [];
  if (ns.pid === 'new') out.push({ type: 'pid' });
  else if (ns.pid !== 'host') out.push({ type: 'pid', path: ns.pid.path });
  if (ns.network.kind === 'new') out.push({ type: 'network' });
  else if (ns.network.kind === 'path') out.push({ type: 'network', path: ns.network.path });
  if (ns.ipc === 'new' || ns.ipc === 'none') out.push({ type: 'ipc' });
  else if (ns.ipc !== 'host') out.push({ type: 'ipc', path: ns.ipc.path });
  if (ns.uts === 'new') out.push({ type: 'uts' });
  // Always: without a mount namespace the runtimes mount in the caller's namespace.
  out.push({ type: 'mount' });
  out.push({ type: 'cgroup' });
  return out;
}

/** IPC sysctls that are namespaced (runc's list). */
const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/**
 * Checks sysctls the way runc does before Docker starts a container: only
 * namespaced ones, and only when the container has that namespace.
 */
export function validateSysctls(sysctls: Record<string, string>, ns: NamespacesInput): void {
  for (const key of Object.keys(sysctls)) {
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
      if (ns.ipc === 'host')
        throw new InvalidParameterError(`sysctl "${key}" is not allowed in the hosts ipc namespace`);
      continue;
    }
    if (key.startsWith('net.')) {
      if (ns.network.kind === 'host') {
        throw new InvalidParameterError(`sysctl "${key}" is not allowed in the hosts network namespace`);
      }
      continue;
    }
    if (ns.uts === 'new' && key === 'kernel.domainname') continue;
    if (ns.uts === 'new' && key === 'kernel.hostname') {
      throw new InvalidParameterError(
        `sysctl "${key}" is not allowed as it conflicts with the OCI "hostname" field`,
      );
    }
    throw new InvalidParameterError(`sysctl "${key}" is not in a separate kernel namespace`);
  }
}

function buildSysctls(input: OciSpecInput): Record<string, string> {
  const requested = input.sysctls ?? {};
  validateSysctls(requested, input.namespaces);
  const out: Record<string, string> = {};
  const net = input.namespaces.network;
  // Docker's defaults for a container that owns its network namespace:
  // unprivileged ICMP echo sockets and binding ports below 1024 without caps.
  if (net.kind === 'new' || (net.kind === 'path' && net.joined !== true)) {
    out['net.ipv4.ping_group_range'] = '0 2147483647';
    out['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  // runc 1.1 ignores the spec's `domainname` field; Docker sets the
  // (UTS-namespaced) sysctl instead, which both runtimes honour.
  if (input.namespaces.uts === 'new' && input.domainname !== undefined && input.domainname !== '') {
    out['kernel.domainname'] = input.domainname;
  }
  for (const [k, v] of Object.entries(requested)) out[k] = String(v);
  return out;
}

const CPUSET = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

function validateCpuset(value: string, what: string): string {
  const bad = (): InvalidParameterError =>
    new InvalidParameterError(`Invalid value ${value} for cpuset ${what}: invalid format: ${value}`);
  if (!CPUSET.test(value)) throw bad();
  for (const part of value.split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    if (lo !== undefined && hi !== undefined && hi < lo) throw bad();
  }
  return value;
}

function buildMemory(r: ResourcesInput): OciMemory | undefined {
  const memory = optInt(r.memory, 'memory') ?? 0;
  let swap = optInt(r.memorySwap, 'memory swap') ?? 0;
  const reservation = optInt(r.memoryReservation, 'memory reservation') ?? 0;
  const swappiness = optInt(r.memorySwappiness, 'memory swappiness');
  if (memory !== 0 && memory < MIN_MEMORY)
    throw new InvalidParameterError('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap === 0) swap = memory * 2;
  if (memory > 0 && swap > 0 && swap < memory) {
    throw new InvalidParameterError('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (memory <= 0 && swap > 0) {
    throw new InvalidParameterError(
      'You should always set the Memory limit when using Memoryswap limit, see usage',
    );
  }
  if (reservation > 0 && reservation < MIN_MEMORY) {
    throw new InvalidParameterError('Minimum memory reservation allowed is 6MB');
  }
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw new InvalidParameterError(
      'Minimum memory limit can not be less than memory reservation limit, see usage',
    );
  }
  if (swappiness !== undefined && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new InvalidParameterError(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const out: OciMemory = {};
  if (memory > 0) out.limit = memory;
  if (reservation > 0) out.reservation = reservation;
  if (swap > 0) out.swap = swap;
  if (swappiness !== undefined && swappiness >= 0) out.swappiness = swappiness;
  if (r.oomKillDisable !== undefined) out.disableOOMKiller = r.oomKillDisable;
  return Object.keys(out).length > 0 ? out : undefined;
}

function buildCpu(r: ResourcesInput): OciCpu | undefined {
  const shares = optInt(r.cpuShares, 'CPU shares') ?? 0;
  const quota = optInt(r.cpuQuota, 'CPU quota') ?? 0;
  const period = optInt(r.cpuPeriod, 'CPU period') ?? 0;
  const nano = optInt(r.nanoCpus, 'NanoCPUs') ?? 0;
  if (nano > 0 && period > 0) {
    throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (nano > 0 && quota > 0) {
    throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  }
  if (nano !== 0) {
    const cpus = availableParallelism();
    if (nano < 0 || nano > cpus * 1e9) {
      throw new InvalidParameterError(
        `range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`,
      );
    }
  }
  if (shares < 0) {
    throw new InvalidParameterError(`invalid CPU shares (${shares}): value must be a positive integer`);
  }
  if (period !== 0 && (period < 1000 || period > 1_000_000)) {
    throw new InvalidParameterError(
      'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
    );
  }
  if (quota > 0 && quota < 1000)
    throw new InvalidParameterError('CPU cfs quota can not be less than 1ms (i.e. 1000)');

  const out: OciCpu = {};
  if (shares > 0) out.shares = shares;
  if (r.cpusetCpus !== undefined && r.cpusetCpus !== '') out.cpus = validateCpuset(r.cpusetCpus, 'cpus');
  if (r.cpusetMems !== undefined && r.cpusetMems !== '') out.mems = validateCpuset(r.cpusetMems, 'mems');
  if (nano > 0) {
    // A 100 ms period; the quota is that share of it (integer division, as Docker).
    out.period = 100_000;
    out.quota = Math.trunc(nano / 10_000);
  }
  if (period !== 0) out.period = period;
  if (quota !== 0) out.quota = quota;
  return Object.keys(out).length > 0 ? out : undefined;
}

function buildBlockIO(
  r: ResourcesInput,
  disks: readonly { major: number; minor: number }[],
): OciBlockIO | undefined {
  const out: OciBlockIO = {};
  const weight = optInt(r.blkioWeight, 'blkio weight') ?? 0;
  if (weight > 0) {
    if (weight < 10 || weight > 1000)
      throw new InvalidParameterError('Range of blkio weight is from 10 to 1000');
    out.weight = weight;
  }
  const seen = new Set<string>();
  const rules: OciThrottleDevice[] = [];
  for (const d of disks) {
    const major = int(d.major, 'block device major');
    const minor = int(d.minor, 'block device minor');
    const key = `${major}:${minor}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rules.push({ major, minor, rate: BLKIO_NOOP_RATE });
  }
  if (rules.length > 0) {
    out.throttleReadBpsDevice = rules;
    out.throttleWriteBpsDevice = rules.map((rule) => ({ ...rule }));
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The device cgroup rules every unprivileged container gets: deny all, then
 * mknod of any node, the standard character devices and the pty devices.
 * (The runtimes add the same list themselves; it is spelled out here so the
 * config does not depend on that.)
 */
function defaultDeviceRules(): OciDeviceRule[] {
  const dev = (major: number, minor: number | undefined): OciDeviceRule =>
    minor === undefined
      ? { allow: true, type: 'c', major, access: 'rwm' }
      : { allow: true, type: 'c', major, minor, access: 'rwm' };
  return [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', access: 'm' }, // mknod c *:*
    { allow: true, type: 'b', access: 'm' }, // mknod b *:*
    dev(1, 3), // null
    dev(1, 5), // zero
    dev(1, 7), // full
    dev(1, 8), // random
    dev(1, 9), // urandom
    dev(5, 0), // tty
    dev(5, 1), // console
    dev(5, 2), // ptmx
    dev(136, undefined), // pts/*
  ];
}

// --- host devices ------------------------------------------------------------

function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

function deviceFromStat(st: BigIntStats, path: string): OciDevice | undefined {
  let type: OciDevice['type'];
  if (st.isCharacterDevice()) type = 'c';
  else if (st.isBlockDevice()) type = 'b';
  else return undefined;
  const { major, minor } = deviceNumbers(st.rdev);
  return {
    type,
    path,
    major,
    minor,
    fileMode: Number(st.mode & 0o777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

function walkDevices(
  dir: string,
  visit: (device: OciDevice, hostPath: string) => void,
  skip?: ReadonlySet<string>,
): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = posix.join(dir, e.name);
    if (e.isDirectory()) {
      if (skip?.has(e.name) !== true) walkDevices(p, visit);
      continue;
    }
    if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
    try {
      const device = deviceFromStat(statSync(p, { bigint: true }), p);
      if (device !== undefined) visit(device, p);
    } catch {
      // vanished or unreadable: skip it, as Docker does
    }
  }
}

const HOST_DEV_SKIP: ReadonlySet<string> = new Set([
  'pts',
  'shm',
  'fd',
  'mqueue',
  '.lxc',
  '.lxd-mounts',
  '.udev',
]);

/** Every device node under the host's /dev (what a privileged container gets), except /dev/console. */
export function listHostDevices(root = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  walkDevices(
    root,
    (device) => {
      if (device.path !== posix.join(root, 'console')) out.push(device);
    },
    HOST_DEV_SKIP,
  );
  return out;
}

const DEVICE_ACCESS = /^[rwm]{1,3}$/;

/**
 * Resolves `--device` mappings: a device node, or a directory of them
 * (mapped recursively), following symlinks on the host.
 */
export function resolveDeviceMappings(mappings: readonly DeviceMapping[]): {
  devices: OciDevice[];
  rules: OciDeviceRule[];
} {
  const devices: OciDevice[] = [];
  const rules: OciDeviceRule[] = [];
  for (const m of mappings) {
    if (!DEVICE_ACCESS.test(m.permissions) || new Set(m.permissions).size !== m.permissions.length) {
      throw new InvalidParameterError(`invalid device mode: ${m.permissions}`);
    }
    const target = m.pathInContainer === '' ? m.pathOnHost : m.pathInContainer;
    if (!target.startsWith('/')) throw new InvalidParameterError(`${target} is not an absolute path`);
    const fail = (why: string): InvalidParameterError =>
      new InvalidParameterError(
        `error gathering device information while adding custom device "${m.pathOnHost}": ${why}`,
      );
    let hostPath: string;
    let st: BigIntStats;
    try {
      hostPath = realpathSync(m.pathOnHost);
      st = statSync(hostPath, { bigint: true });
    } catch {
      throw fail('no such file or directory');
    }
    const add = (device: OciDevice): void => {
      devices.push(device);
      rules.push({
        allow: true,
        type: device.type === 'b' ? 'b' : 'c',
        major: device.major,
        minor: device.minor,
        access: m.permissions,
      });
    };
    const single = deviceFromStat(st, target);
    if (single !== undefined) {
      add(single);
      continue;
    }
    if (!st.isDirectory()) throw fail('not a device node');
    let found = 0;
    walkDevices(hostPath, (device, p) => {
      found++;
      add({ ...device, path: posix.join(target, posix.relative(hostPath, p)) });
    });
    if (found === 0) throw fail('not a device node');
  }
  return { devices, rules };
}

// --- masked paths ------------------------------------------------------------

let hostMaskedPaths: string[] | undefined;

/** Docker's masked paths plus the thermal_throttle dir of each possible CPU that has one on this host. */
export function defaultMaskedPaths(): string[] {
  if (hostMaskedPaths === undefined) {
    const paths = [...DEFAULT_MASKED_PATHS];
    let possible = '';
    try {
      possible = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    } catch {
      // no sysfs: nothing more to mask
    }
    for (const part of possible === '' ? [] : possible.split(',')) {
      const [lo = NaN, hi = lo] = part.split('-').map(Number);
      for (let cpu = lo; Number.isInteger(cpu) && cpu <= hi; cpu++) {
        const p = `/sys/devices/system/cpu/cpu${cpu}/thermal_throttle`;
        try {
          statSync(p);
          paths.push(p);
        } catch {
          // absent on this host
        }
      }
    }
    hostMaskedPaths = paths;
  }
  return [...hostMaskedPaths];
}

// --- the spec ----------------------------------------------------------------

/** Throws if any number in the spec is not a safe integer (runc and crun reject `1e+21` and floats). */
function assertIntegers(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new SystemError(`OCI spec ${path} is not an integer: ${value}`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => assertIntegers(v, `${path}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) assertIntegers(v, `${path}.${k}`);
  }
}

/** Builds the config.json for one container. Throws InvalidParameterError for settings Docker refuses. */
export function buildOciSpec(input: OciSpecInput): OciSpec {
  const privileged = input.privileged === true;
  if (!input.rootfsPath.startsWith('/')) {
    throw new InvalidParameterError(`rootfs path must be absolute: ${input.rootfsPath}`);
  }
  if (input.cgroupsPath === '') throw new InvalidParameterError('cgroups path must not be empty');

  // process
  const p = input.process;
  if (p.args.length === 0) throw new InvalidParameterError('No command specified');
  if (!p.cwd.startsWith('/')) {
    throw new InvalidParameterError(
      `the working directory '${p.cwd}' is invalid, it needs to be an absolute path`,
    );
  }
  const oomScoreAdj = int(p.oomScoreAdj ?? 0, 'oom score adj');
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) {
    throw new InvalidParameterError(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  const user: OciUser = {
    uid: int(p.user.uid, 'uid'),
    gid: int(p.user.gid, 'gid'),
    additionalGids: p.user.additionalGids.map((g) => int(g, 'gid')),
  };
  if (p.user.umask !== undefined) user.umask = int(p.user.umask, 'umask');

  let args = [...p.args];
  if (input.init !== undefined && input.namespaces.pid === 'new') args = [CONTAINER_INIT_PATH, '--', ...args];

  const caps = resolveCapabilities(input.capAdd, input.capDrop, privileged, input.availableCapabilities);

  const ulimits = clampRlimits(input.ulimits ?? [], input.hostLimits);
  if (!ulimits.some((u) => u.name === 'nofile')) {
    // No --ulimit nofile: the daemon's own hard limit (Docker's 1048576 would fail here).
    const nofile = input.hostLimits.nofile;
    if (nofile !== undefined) ulimits.unshift({ name: 'nofile', soft: nofile.hard, hard: nofile.hard });
  }
  const rlimits = ulimits.map((u) => ({ type: rlimitType(u.name), soft: u.soft, hard: u.hard }));

  const process: OciProcess = {
    terminal: p.terminal,
    user,
    args,
    env: [...p.env],
    cwd: p.cwd,
    capabilities: {
      bounding: caps,
      effective: [...caps],
      permitted: [...caps],
      inheritable: [],
      ambient: [],
    },
    rlimits,
    noNewPrivileges: p.noNewPrivileges === true,
    oomScoreAdj,
  };

  // mounts
  const { mounts, rootfsPropagation } = buildMounts(input, privileged);

  // devices
  const deviceRules: OciDeviceRule[] = privileged ? [{ allow: true, access: 'rwm' }] : defaultDeviceRules();
  const devices: OciDevice[] = [];
  if (privileged) devices.push(...(input.hostDevices ?? listHostDevices()));
  const mappings = (input.devices ?? []).filter((d) => !privileged || d.pathOnHost !== d.pathInContainer);
  if (mappings.length > 0) {
    const resolved = resolveDeviceMappings(
      privileged ? mappings.map((d) => ({ ...d, permissions: 'rwm' })) : mappings,
    );
    devices.push(...resolved.devices);
    if (!privileged) deviceRules.push(...resolved.rules);
  }

  // resources
  const r = input.resources ?? {};
  const resources: OciResources = { devices: deviceRules };
  const memory = buildMemory(r);
  if (memory !== undefined) resources.memory = memory;
  const cpu = buildCpu(r);
  if (cpu !== undefined) resources.cpu = cpu;
  const pidsLimit = optInt(r.pidsLimit, 'pids limit');
  if (pidsLimit !== undefined) resources.pids = { limit: pidsLimit <= 0 ? -1 : pidsLimit };
  const blockIO = buildBlockIO(r, input.blockDevices ?? []);
  if (blockIO !== undefined) resources.blockIO = blockIO;

  const linux: OciLinux = {
    namespaces: buildNamespaces(input.namespaces),
    cgroupsPath: input.cgroupsPath,
    resources,
    devices,
  };
  const sysctl = buildSysctls(input);
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;
  if (!privileged) {
    linux.maskedPaths = input.maskedPaths !== undefined ? [...input.maskedPaths] : defaultMaskedPaths();
    linux.readonlyPaths =
      input.readonlyPaths !== undefined ? [...input.readonlyPaths] : [...DEFAULT_READONLY_PATHS];
  }
  if (rootfsPropagation !== undefined) linux.rootfsPropagation = rootfsPropagation;

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfsPath, readonly: input.readonlyRootfs },
    mounts,
    linux,
  };
  // A runtime refuses a hostname without a UTS namespace of its own.
  if (input.namespaces.uts === 'new') {
    if (Buffer.byteLength(input.hostname) > 64) {
      throw new InvalidParameterError(`hostname "${input.hostname}" is too long (maximum 64 bytes)`);
    }
    if (input.hostname !== '') spec.hostname = input.hostname;
    if (input.domainname !== undefined && input.domainname !== '') spec.domainname = input.domainname;
  }
  assertIntegers(spec, 'config');
  return spec;
}
