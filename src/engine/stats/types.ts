/**
 * Container resource statistics in the shape of Docker's stats JSON
 * (moby api/types/container/stats.go), with Docker's field names so the wire
 * layer only has to encode them. Counters are bigints: cgroup files hold
 * unsigned 64-bit values (a v1 "unlimited" is 9223372036854771712), and
 * Docker prints them exactly.
 *
 * Every field is present here; which zero values Docker leaves out
 * (`omitempty`) is the wire layer's business. A `null` list is Go's nil
 * slice (`null` in JSON), an empty list is `[]`: Docker gives the extra v1
 * blkio lists as `[]` and the v2 ones as `null`.
 */

export interface ThrottlingData {
  periods: bigint;
  throttled_periods: bigint;
  /** Nanoseconds. */
  throttled_time: bigint;
}

export interface CpuUsage {
  /** Nanoseconds of CPU time since the cgroup was created. */
  total_usage: bigint;
  /** Per CPU, nanoseconds; cgroup v1 only (`null` on v2). */
  percpu_usage: bigint[] | null;
  usage_in_kernelmode: bigint;
  usage_in_usermode: bigint;
}

export interface CpuStats {
  cpu_usage: CpuUsage;
  /** The host's CPU time in nanoseconds, from /proc/stat, as Docker defines it. */
  system_cpu_usage: bigint;
  online_cpus: number;
  throttling_data: ThrottlingData;
}

export interface MemoryStats {
  usage: bigint;
  /** cgroup v1 only. */
  max_usage: bigint;
  /** Docker's selection of memory.stat; `null` when there is none (a stopped container). */
  stats: Record<string, bigint> | null;
  failcnt: bigint;
  /** The cgroup's limit, or the machine's memory when that is smaller (as Docker clamps it). */
  limit: bigint;
}

export interface BlkioStatEntry {
  major: bigint;
  minor: bigint;
  op: string;
  value: bigint;
}

export interface BlkioStats {
  io_service_bytes_recursive: BlkioStatEntry[] | null;
  io_serviced_recursive: BlkioStatEntry[] | null;
  io_queue_recursive: BlkioStatEntry[] | null;
  io_service_time_recursive: BlkioStatEntry[] | null;
  io_wait_time_recursive: BlkioStatEntry[] | null;
  io_merged_recursive: BlkioStatEntry[] | null;
  io_time_recursive: BlkioStatEntry[] | null;
  sectors_recursive: BlkioStatEntry[] | null;
}

export interface PidsStats {
  current: bigint;
  /** 0 when unlimited. */
  limit: bigint;
}

export interface NetworkStats {
  rx_bytes: bigint;
  rx_packets: bigint;
  rx_errors: bigint;
  rx_dropped: bigint;
  tx_bytes: bigint;
  tx_packets: bigint;
  tx_errors: bigint;
  tx_dropped: bigint;
}

/** What the cgroup files give for one container at one moment. */
export interface CgroupStats {
  cpu_usage: CpuUsage;
  throttling_data: ThrottlingData;
  memory_stats: MemoryStats;
  blkio_stats: BlkioStats;
  pids_stats: PidsStats;
}

/** One sample of a running container. */
export interface StatsSample {
  /** When it was read: Unix nanoseconds. */
  read: bigint;
  /** The init pid it was read for. */
  pid: number;
  cpu_stats: CpuStats;
  memory_stats: MemoryStats;
  blkio_stats: BlkioStats;
  pids_stats: PidsStats;
  /** By interface name; `null` when the container has no network of its own. */
  networks: Record<string, NetworkStats> | null;
}

/**
 * One stats answer for one container: the current sample and the CPU part of
 * the previous one. `sample` is undefined for a container that does not run
 * (Docker answers with zeros then); `previous` is undefined when there is none.
 */
export interface StatsView {
  id: string;
  /** Docker's name, with the leading slash. */
  name: string;
  sample: StatsSample | undefined;
  previous: { read: bigint; cpu_stats: CpuStats } | undefined;
}

export function zeroThrottling(): ThrottlingData {
  return { periods: 0n, throttled_periods: 0n, throttled_time: 0n };
}

/** The CPU stats of a container that does not run (Docker's zero value). */
export function zeroCpuStats(): CpuStats {
  return {
    cpu_usage: { total_usage: 0n, percpu_usage: null, usage_in_kernelmode: 0n, usage_in_usermode: 0n },
    system_cpu_usage: 0n,
    online_cpus: 0,
    throttling_data: zeroThrottling(),
  };
}

export function zeroMemoryStats(): MemoryStats {
  return { usage: 0n, max_usage: 0n, stats: null, failcnt: 0n, limit: 0n };
}

export function nullBlkioStats(): BlkioStats {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}
