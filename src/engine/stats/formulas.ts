/**
 * The docker CLI's stats formulas (cli/command/container/stats_helpers.go),
 * over Docker's stats JSON shape. They take counters as numbers (JSON parsed
 * by a client) or bigints (the daemon's own samples) and compute in float64
 * as the CLI does. Pure and dependency-free: the daemon uses them for its
 * history, the CLI (through api/wire/stats.ts) for its table.
 */

/** A counter as a client parsed it (number) or as the daemon read it (bigint). */
export type Counter = number | bigint;

export interface CpuStatsLike {
  cpu_usage: { total_usage: Counter; percpu_usage?: readonly Counter[] | null | undefined };
  system_cpu_usage?: Counter | undefined;
  online_cpus?: number | undefined;
}

export interface MemoryStatsLike {
  usage?: Counter | undefined;
  limit?: Counter | undefined;
  stats?: Readonly<Record<string, Counter>> | null | undefined;
}

export interface BlkioStatsLike {
  io_service_bytes_recursive?: readonly { op: string; value: Counter }[] | null | undefined;
}

export type NetworksLike =
  Readonly<Record<string, { rx_bytes: Counter; tx_bytes: Counter }>> | null | undefined;

function f64(v: Counter | undefined | null): number {
  return v === undefined || v === null ? 0 : Number(v);
}

/** a − b for unsigned counters known to satisfy a > b, exact for bigints. */
function difference(a: Counter, b: Counter): number {
  return typeof a === 'bigint' && typeof b === 'bigint' ? Number(a - b) : Number(a) - Number(b);
}

/**
 * CPU %: (Δ total_usage / Δ system_cpu_usage) × online CPUs × 100, where the
 * deltas run from `previous` (precpu_stats) to `current`; 0 unless both
 * deltas are positive. Without `online_cpus` the number of per-CPU values
 * stands in.
 */
export function cpuPercent(previous: CpuStatsLike | undefined, current: CpuStatsLike): number {
  const cpuDelta = f64(current.cpu_usage.total_usage) - f64(previous?.cpu_usage.total_usage);
  const systemDelta = f64(current.system_cpu_usage) - f64(previous?.system_cpu_usage);
  let onlineCpus = current.online_cpus ?? 0;
  if (onlineCpus === 0) onlineCpus = current.cpu_usage.percpu_usage?.length ?? 0;
  if (systemDelta > 0 && cpuDelta > 0) return (cpuDelta / systemDelta) * onlineCpus * 100;
  return 0;
}

/**
 * Memory in use without the page cache that can be dropped: usage −
 * `total_inactive_file` on cgroup v1, usage − `inactive_file` on v2 (the
 * first of them smaller than usage); plain usage when neither is.
 */
export function memoryUsage(mem: MemoryStatsLike): number {
  const usage = mem.usage ?? 0;
  const v1 = mem.stats?.['total_inactive_file'];
  if (v1 !== undefined && v1 < usage) return difference(usage, v1);
  const v2 = mem.stats?.['inactive_file'] ?? 0;
  if (v2 < usage) return difference(usage, v2);
  return Number(usage);
}

/** used / limit × 100; 0 without a limit (a container that does not run). */
export function memoryPercent(limit: number, used: number): number {
  return limit !== 0 ? (used / limit) * 100 : 0;
}

/** Bytes read and written: the `Read`/`read` and `Write`/`write` entries of io_service_bytes_recursive. */
export function blockIO(blkio: BlkioStatsLike | undefined): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const entry of blkio?.io_service_bytes_recursive ?? []) {
    const c = entry.op.charAt(0);
    if (c === 'r' || c === 'R') read += Number(entry.value);
    else if (c === 'w' || c === 'W') write += Number(entry.value);
  }
  return { read, write };
}

/** Bytes received and sent over all interfaces. */
export function networkIO(networks: NetworksLike): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(networks ?? {})) {
    rx += Number(n.rx_bytes);
    tx += Number(n.tx_bytes);
  }
  return { rx, tx };
}
