/**
 * Readers for one container's cgroup, on cgroup v1 (and the hybrid layout:
 * v1 controllers plus a mostly empty unified mount) and on cgroup v2, giving
 * the pieces of Docker's stats JSON as moby builds them from containerd's
 * cgroup metrics (daemon/stats_unix.go statsV1/statsV2).
 *
 * | Docker field | cgroup v1 | cgroup v2 |
 * |---|---|---|
 * | cpu_usage.total_usage | cpuacct.usage | cpu.stat usage_usec × 1000 |
 * | cpu_usage.percpu_usage | cpuacct.usage_percpu | (null) |
 * | usage_in_user/kernelmode | cpuacct.stat user/system × 10⁷ (USER_HZ 100) | cpu.stat user_usec/system_usec × 1000 |
 * | throttling_data | cpu.stat nr_periods, nr_throttled, throttled_time | cpu.stat nr_periods, nr_throttled, throttled_usec × 1000 |
 * | memory usage / max_usage / failcnt | memory.usage_in_bytes / max_usage_in_bytes / failcnt | memory.current / – / memory.events oom |
 * | memory limit | memory.limit_in_bytes | memory.max |
 * | memory stats | memory.stat (Docker's 32 keys) | memory.stat (Docker's 31 keys) |
 * | blkio | blkio.throttle.io_service_bytes_recursive, io_serviced_recursive | io.stat rbytes/wbytes |
 * | pids | pids.current, pids.max | pids.current, pids.max |
 *
 * A limit larger than the machine's memory (no limit) is reported as the
 * machine's memory, as Docker does. `system_cpu_usage` is the sum of the
 * first seven fields of /proc/stat's `cpu` line × 10⁷, and `online_cpus` the
 * number of `cpuN` lines. Files that cannot be read count as zero; a cgroup
 * whose CPU accounting file is gone (the container exited) reads as
 * undefined.
 *
 * The files are small in-kernel pseudo-files, so they are read synchronously:
 * a whole sample is well under a millisecond and cheaper than a round of
 * thread-pool reads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type {
  BlkioStatEntry,
  BlkioStats,
  CgroupStats,
  MemoryStats,
  NetworkStats,
  PidsStats,
} from './types.js';

export type CgroupLayout = 'v1' | 'v2';

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';
export const DEFAULT_PROC_ROOT = '/proc';

/** Nanoseconds per USER_HZ tick (100 on Linux), for cpuacct.stat and /proc/stat. */
const NS_PER_TICK = 10_000_000n;
const U64_MAX = (1n << 64n) - 1n;

/** The v1 controllers stats are read from. */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'blkio'] as const;
type V1Controller = (typeof V1_CONTROLLERS)[number];

/** memory.stat keys Docker reports on cgroup v1, each 0 when the kernel lacks it. */
export const V1_MEMORY_STAT_KEYS: readonly string[] = [
  'cache',
  'rss',
  'rss_huge',
  'mapped_file',
  'dirty',
  'writeback',
  'pgpgin',
  'pgpgout',
  'pgfault',
  'pgmajfault',
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
  'hierarchical_memory_limit',
  'hierarchical_memsw_limit',
  'total_cache',
  'total_rss',
  'total_rss_huge',
  'total_mapped_file',
  'total_dirty',
  'total_writeback',
  'total_pgpgin',
  'total_pgpgout',
  'total_pgfault',
  'total_pgmajfault',
  'total_inactive_anon',
  'total_active_anon',
  'total_inactive_file',
  'total_active_file',
  'total_unevictable',
];

/** memory.stat keys Docker reports on cgroup v2, each 0 when the kernel lacks it. */
export const V2_MEMORY_STAT_KEYS: readonly string[] = [
  'anon',
  'file',
  'kernel_stack',
  'slab',
  'sock',
  'shmem',
  'file_mapped',
  'file_dirty',
  'file_writeback',
  'anon_thp',
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
  'slab_reclaimable',
  'slab_unreclaimable',
  'pgfault',
  'pgmajfault',
  'workingset_refault',
  'workingset_activate',
  'workingset_nodereclaim',
  'pgrefill',
  'pgscan',
  'pgsteal',
  'pgactivate',
  'pgdeactivate',
  'pglazyfree',
  'pglazyfreed',
  'thp_fault_alloc',
  'thp_collapse_alloc',
];

/** Where one container's cgroup files are: a directory per v1 controller, or the one v2 directory. */
export type CgroupPaths =
  { layout: 'v1'; dirs: Readonly<Record<V1Controller, string>> } | { layout: 'v2'; dir: string };

/**
 * The host's layout: `v2` when the cgroup root is the unified hierarchy,
 * `v1` when it holds per-controller hierarchies (including the hybrid layout,
 * whose unified mount has no controllers stats could come from).
 */
export function detectLayout(cgroupRoot: string = DEFAULT_CGROUP_ROOT): CgroupLayout | undefined {
  if (existsSync(join(cgroupRoot, 'cgroup.controllers'))) return 'v2';
  if (V1_CONTROLLERS.some((c) => existsSync(join(cgroupRoot, c)))) return 'v1';
  return undefined;
}

/** The directories of the cgroup `cgroupPath` (as in the OCI spec's cgroupsPath, e.g. `/berth/<id>`). */
export function cgroupPaths(layout: CgroupLayout, cgroupRoot: string, cgroupPath: string): CgroupPaths {
  const rel = cgroupPath.replace(/^\/+/, '');
  if (layout === 'v2') return { layout, dir: join(cgroupRoot, rel) };
  const dirs = Object.fromEntries(V1_CONTROLLERS.map((c) => [c, join(cgroupRoot, c, rel)]));
  return { layout, dirs: dirs as Record<V1Controller, string> };
}

/**
 * The directories a process's cgroups are in, from its /proc/<pid>/cgroup
 * (`4:memory:/berth/<id>`, `0::/berth/<id>`); undefined when the text does
 * not name them.
 */
export function cgroupPathsFromProc(
  layout: CgroupLayout,
  cgroupRoot: string,
  procCgroup: string,
): CgroupPaths | undefined {
  const byController = new Map<string, string>();
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, controllers = '', path = ''] = m;
    if (controllers === '') byController.set('', path);
    for (const c of controllers.split(',')) if (c !== '') byController.set(c, path);
  }
  if (layout === 'v2') {
    const path = byController.get('');
    return path === undefined ? undefined : { layout, dir: join(cgroupRoot, path) };
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const c of V1_CONTROLLERS) {
    const path = byController.get(c);
    if (path === undefined) return undefined;
    dirs[c] = join(cgroupRoot, c, path);
  }
  return { layout, dirs: dirs as Record<V1Controller, string> };
}

/** The cgroup directories of a process, from /proc/<pid>/cgroup; undefined when it is gone. */
export function readProcCgroupPaths(
  layout: CgroupLayout,
  cgroupRoot: string,
  procRoot: string,
  pid: number,
): CgroupPaths | undefined {
  const text = readText(join(procRoot, String(pid), 'cgroup'));
  return text === undefined ? undefined : cgroupPathsFromProc(layout, cgroupRoot, text);
}

/** True when the container's cgroup directory exists (the CPU accounting one on v1). */
export function cgroupExists(paths: CgroupPaths): boolean {
  return existsSync(paths.layout === 'v2' ? paths.dir : paths.dirs.cpuacct);
}

// ---- parsing --------------------------------------------------------------

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** An unsigned decimal, or undefined (`max`, empty, missing, garbage). */
export function parseU64(text: string | undefined): bigint | undefined {
  const t = text?.trim();
  if (t === undefined || !/^\d+$/.test(t)) return undefined;
  return BigInt(t);
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat, memory.events). */
export function parseFlatKeyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    const n = parseU64(value);
    if (key !== undefined && key !== '' && n !== undefined) out.set(key, n);
  }
  return out;
}

/** v1 blkio lines `254:0 Read 4096` (the closing `Total N` line is skipped). */
export function parseBlkioV1(text: string | undefined): BlkioStatEntry[] {
  const out: BlkioStatEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(?:(\S+)\s+)?(\d+)$/.exec(line.trim());
    if (!m) continue;
    out.push({
      major: BigInt(m[1] ?? 0),
      minor: BigInt(m[2] ?? 0),
      op: m[3] ?? '',
      value: BigInt(m[4] ?? 0),
    });
  }
  return out;
}

/** v2 io.stat (`254:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`) as Docker's read/write byte entries. */
export function parseIoStatV2(text: string | undefined): BlkioStatEntry[] | null {
  const out: BlkioStatEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const fields = new Map<string, bigint>();
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      const n = parseU64(pair.slice(eq + 1));
      if (eq > 0 && n !== undefined) fields.set(pair.slice(0, eq), n);
    }
    const major = BigInt(m[1] ?? 0);
    const minor = BigInt(m[2] ?? 0);
    out.push({ major, minor, op: 'read', value: fields.get('rbytes') ?? 0n });
    out.push({ major, minor, op: 'write', value: fields.get('wbytes') ?? 0n });
  }
  return out.length === 0 ? null : out;
}

/**
 * The system CPU time as Docker defines it (first seven fields of the `cpu`
 * line, user to softirq, in ticks × 10⁷ ns) and the number of CPUs listed.
 */
export function parseProcStat(text: string): { systemUsage: bigint; onlineCpus: number } {
  let systemUsage = 0n;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) break;
    if (line.startsWith('cpu ')) {
      const fields = line.trim().split(/\s+/).slice(1, 8);
      let ticks = 0n;
      for (const f of fields) ticks += parseU64(f) ?? 0n;
      systemUsage = ticks * NS_PER_TICK;
    } else if (/^cpu\d/.test(line)) {
      onlineCpus++;
    }
  }
  return { systemUsage, onlineCpus };
}

/** MemTotal of /proc/meminfo in bytes (0 when unknown). */
export function parseMemTotal(text: string | undefined): bigint {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text ?? '');
  return m ? BigInt(m[1] ?? 0) * 1024n : 0n;
}

/**
 * Kernel fallback tunnel devices, present in every network namespace when
 * their modules are loaded; Docker (which lists only the interfaces it made)
 * never shows them.
 */
const IGNORED_INTERFACES = new Set([
  'lo',
  'tunl0',
  'sit0',
  'ip6tnl0',
  'ip6gre0',
  'gre0',
  'gretap0',
  'erspan0',
  'ip_vti0',
  'ip6_vti0',
]);

/** /proc/<pid>/net/dev as Docker's `networks` map, loopback and fallback tunnels left out. */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    if (name === '' || IGNORED_INTERFACES.has(name)) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map((v) => parseU64(v) ?? 0n);
    if (f.length < 16) continue;
    out[name] = {
      rx_bytes: f[0] ?? 0n,
      rx_packets: f[1] ?? 0n,
      rx_errors: f[2] ?? 0n,
      rx_dropped: f[3] ?? 0n,
      tx_bytes: f[8] ?? 0n,
      tx_packets: f[9] ?? 0n,
      tx_errors: f[10] ?? 0n,
      tx_dropped: f[11] ?? 0n,
    };
  }
  return out;
}

// ---- host-wide --------------------------------------------------------------

export function readSystemCpu(procRoot: string = DEFAULT_PROC_ROOT): {
  systemUsage: bigint;
  onlineCpus: number;
} {
  return parseProcStat(readText(join(procRoot, 'stat')) ?? '');
}

export function readMachineMemory(procRoot: string = DEFAULT_PROC_ROOT): bigint {
  return parseMemTotal(readText(join(procRoot, 'meminfo')));
}

/**
 * The interfaces of the network namespace `pid` is in (read from the host:
 * no nsenter needed). `null` when none are left (no network) or the process
 * is gone, as Docker omits `networks` then.
 */
export function readNetworks(procRoot: string, pid: number): Record<string, NetworkStats> | null {
  if (pid <= 0) return null;
  const text = readText(join(procRoot, String(pid), 'net', 'dev'));
  if (text === undefined) return null;
  const nets = parseNetDev(text);
  return Object.keys(nets).length === 0 ? null : nets;
}

// ---- one cgroup -------------------------------------------------------------

function pick(values: Map<string, bigint>, keys: readonly string[]): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const key of keys) out[key] = values.get(key) ?? 0n;
  return out;
}

function clampLimit(limit: bigint, machineMemory: bigint): bigint {
  return machineMemory > 0n && limit > machineMemory ? machineMemory : limit;
}

function pidsFrom(dir: string): PidsStats {
  return {
    current: parseU64(readText(join(dir, 'pids.current'))) ?? 0n,
    limit: parseU64(readText(join(dir, 'pids.max'))) ?? 0n,
  };
}

const CFQ_FILES: readonly [keyof BlkioStats, string][] = [
  ['sectors_recursive', 'blkio.sectors_recursive'],
  ['io_service_bytes_recursive', 'blkio.io_service_bytes_recursive'],
  ['io_serviced_recursive', 'blkio.io_serviced_recursive'],
  ['io_queue_recursive', 'blkio.io_queued_recursive'],
  ['io_service_time_recursive', 'blkio.io_service_time_recursive'],
  ['io_wait_time_recursive', 'blkio.io_wait_time_recursive'],
  ['io_merged_recursive', 'blkio.io_merged_recursive'],
  ['io_time_recursive', 'blkio.time_recursive'],
];

/**
 * v1 block I/O as containerd reads it: the legacy CFQ files when the kernel
 * has them and they hold entries, else the throttle files (the only ones
 * kernels since 5.0 keep; they count only devices with a throttle rule).
 */
function blkioV1(dir: string): BlkioStats {
  const stats: BlkioStats = {
    io_service_bytes_recursive: [],
    io_serviced_recursive: [],
    io_queue_recursive: [],
    io_service_time_recursive: [],
    io_wait_time_recursive: [],
    io_merged_recursive: [],
    io_time_recursive: [],
    sectors_recursive: [],
  };
  if (existsSync(join(dir, 'blkio.io_serviced_recursive'))) {
    let entries = 0;
    for (const [field, file] of CFQ_FILES) {
      const list = parseBlkioV1(readText(join(dir, file)));
      stats[field] = list;
      entries += list.length;
    }
    if (entries > 0) return stats;
    for (const [field] of CFQ_FILES) stats[field] = [];
  }
  const throttle = (name: string): BlkioStatEntry[] =>
    parseBlkioV1(
      readText(join(dir, `blkio.throttle.${name}_recursive`)) ??
        readText(join(dir, `blkio.throttle.${name}`)),
    );
  stats.io_service_bytes_recursive = throttle('io_service_bytes');
  stats.io_serviced_recursive = throttle('io_serviced');
  return stats;
}

function readV1(
  dirs: Readonly<Record<V1Controller, string>>,
  machineMemory: bigint,
): CgroupStats | undefined {
  const total = parseU64(readText(join(dirs.cpuacct, 'cpuacct.usage')));
  if (total === undefined) return undefined;
  const percpu = (readText(join(dirs.cpuacct, 'cpuacct.usage_percpu')) ?? '')
    .trim()
    .split(/\s+/)
    .flatMap((v) => {
      const n = parseU64(v);
      return n === undefined ? [] : [n];
    });
  const ticks = parseFlatKeyed(readText(join(dirs.cpuacct, 'cpuacct.stat')));
  const cpuStat = parseFlatKeyed(readText(join(dirs.cpu, 'cpu.stat')));
  const memStat = parseFlatKeyed(readText(join(dirs.memory, 'memory.stat')));
  const memUsage = parseU64(readText(join(dirs.memory, 'memory.usage_in_bytes')));
  const memory: MemoryStats = {
    usage: memUsage ?? 0n,
    max_usage: parseU64(readText(join(dirs.memory, 'memory.max_usage_in_bytes'))) ?? 0n,
    stats: memStat.size > 0 || memUsage !== undefined ? pick(memStat, V1_MEMORY_STAT_KEYS) : null,
    failcnt: parseU64(readText(join(dirs.memory, 'memory.failcnt'))) ?? 0n,
    limit: clampLimit(parseU64(readText(join(dirs.memory, 'memory.limit_in_bytes'))) ?? 0n, machineMemory),
  };
  return {
    cpu_usage: {
      total_usage: total,
      percpu_usage: percpu,
      usage_in_kernelmode: (ticks.get('system') ?? 0n) * NS_PER_TICK,
      usage_in_usermode: (ticks.get('user') ?? 0n) * NS_PER_TICK,
    },
    throttling_data: {
      periods: cpuStat.get('nr_periods') ?? 0n,
      throttled_periods: cpuStat.get('nr_throttled') ?? 0n,
      throttled_time: cpuStat.get('throttled_time') ?? 0n,
    },
    memory_stats: memory,
    blkio_stats: blkioV1(dirs.blkio),
    pids_stats: pidsFrom(dirs.pids),
  };
}

function readV2(dir: string, machineMemory: bigint): CgroupStats | undefined {
  const cpu = readText(join(dir, 'cpu.stat'));
  if (cpu === undefined) return undefined;
  const cpuStat = parseFlatKeyed(cpu);
  const usec = (key: string): bigint => (cpuStat.get(key) ?? 0n) * 1000n;
  const current = parseU64(readText(join(dir, 'memory.current')));
  const maxText = readText(join(dir, 'memory.max'))?.trim();
  const limit = maxText === 'max' ? U64_MAX : (parseU64(maxText) ?? 0n);
  const memStat = readText(join(dir, 'memory.stat'));
  const memory: MemoryStats = {
    usage: current ?? 0n,
    max_usage: 0n,
    stats: memStat === undefined ? null : pick(parseFlatKeyed(memStat), V2_MEMORY_STAT_KEYS),
    failcnt: parseFlatKeyed(readText(join(dir, 'memory.events'))).get('oom') ?? 0n,
    limit: clampLimit(limit, machineMemory),
  };
  return {
    cpu_usage: {
      total_usage: usec('usage_usec'),
      percpu_usage: null,
      usage_in_kernelmode: usec('system_usec'),
      usage_in_usermode: usec('user_usec'),
    },
    throttling_data: {
      periods: cpuStat.get('nr_periods') ?? 0n,
      throttled_periods: cpuStat.get('nr_throttled') ?? 0n,
      throttled_time: usec('throttled_usec'),
    },
    memory_stats: memory,
    blkio_stats: {
      io_service_bytes_recursive: parseIoStatV2(readText(join(dir, 'io.stat'))),
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    pids_stats: pidsFrom(dir),
  };
}

/**
 * Everything the container's cgroup says, or undefined when its CPU
 * accounting cannot be read (the cgroup is gone).
 * @param machineMemory MemTotal in bytes, the cap for "no limit".
 */
export function readCgroupStats(paths: CgroupPaths, machineMemory: bigint): CgroupStats | undefined {
  return paths.layout === 'v2' ? readV2(paths.dir, machineMemory) : readV1(paths.dirs, machineMemory);
}
