/**
 * Container stats on the wire: Docker's stats JSON (`GET
 * /containers/{id}/stats`) written byte for byte as moby's encoder writes it
 * at API 1.47 — the field order of its StatsJSON struct, `omitempty` where
 * it has it, map keys sorted, Go's RFC 3339 time with nanoseconds, and
 * unsigned 64-bit counters printed exactly (JSON.stringify cannot) — and
 * the client-side types of that JSON and of berth's history extension.
 *
 * The docker CLI's formulas are re-exported for clients, which must not
 * import the engine themselves.
 */
import type { StatsHistory } from '../../engine/stats/sampler.js';
import {
  zeroCpuStats,
  type BlkioStatEntry,
  type BlkioStats,
  type CpuStats,
  type MemoryStats,
  type NetworkStats,
  type StatsView,
} from '../../engine/stats/types.js';

export { blockIO, cpuPercent, memoryPercent, memoryUsage, networkIO } from '../../engine/stats/formulas.js';
export type { HistoryPoint, StatsHistory } from '../../engine/stats/sampler.js';

// ---- the JSON as a client reads it ---------------------------------------------

export interface StatsBlkioEntryJson {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface StatsCpuJson {
  cpu_usage: {
    total_usage: number;
    percpu_usage?: number[];
    usage_in_kernelmode: number;
    usage_in_usermode: number;
  };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface StatsNetworkJson {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** One object of `GET /containers/{id}/stats` (moby's StatsJSON, Linux fields). */
export interface StatsResponse {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<keyof BlkioStats, StatsBlkioEntryJson[] | null>;
  num_procs: number;
  storage_stats: Record<string, number>;
  cpu_stats: StatsCpuJson;
  precpu_stats: StatsCpuJson;
  memory_stats: {
    usage?: number;
    max_usage?: number;
    stats?: Record<string, number>;
    failcnt?: number;
    limit?: number;
  };
  name?: string;
  id?: string;
  networks?: Record<string, StatsNetworkJson>;
}

/** `GET /berth/v1/containers/{id}/stats/history`. */
export type StatsHistoryResponse = StatsHistory;

// ---- encoding -------------------------------------------------------------------

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Go's time.Time JSON (RFC 3339, nanoseconds without trailing zeros) of Unix nanoseconds, in UTC. */
export function goTimeJson(unixNano: bigint | undefined): string {
  if (unixNano === undefined) return ZERO_TIME;
  const seconds = unixNano / 1_000_000_000n;
  const nanos = unixNano % 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const frac = nanos === 0n ? '' : '.' + nanos.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac}Z`;
}

/** A JSON string as Go's encoder writes it (HTML characters and U+2028/9 escaped). */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Writes a Go struct: fields in order, `undefined` ones left out (omitempty of a zero value). */
function struct(fields: [string, string | undefined][]): string {
  const parts: string[] = [];
  for (const [key, value] of fields) if (value !== undefined) parts.push(`"${key}":${value}`);
  return `{${parts.join(',')}}`;
}

/** An unsigned counter with `omitempty`. */
function omitZero(v: bigint): string | undefined {
  return v === 0n ? undefined : v.toString();
}

function sortedMap<T>(map: Readonly<Record<string, T>>, encode: (v: T) => string): string {
  const entries = Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${goJsonString(k)}:${encode(v)}`).join(',')}}`;
}

function cpuJson(cpu: CpuStats): string {
  const u = cpu.cpu_usage;
  const t = cpu.throttling_data;
  return struct([
    [
      'cpu_usage',
      struct([
        ['total_usage', u.total_usage.toString()],
        [
          'percpu_usage',
          u.percpu_usage && u.percpu_usage.length > 0
            ? `[${u.percpu_usage.map((v) => v.toString()).join(',')}]`
            : undefined,
        ],
        ['usage_in_kernelmode', u.usage_in_kernelmode.toString()],
        ['usage_in_usermode', u.usage_in_usermode.toString()],
      ]),
    ],
    ['system_cpu_usage', omitZero(cpu.system_cpu_usage)],
    ['online_cpus', cpu.online_cpus === 0 ? undefined : String(cpu.online_cpus)],
    [
      'throttling_data',
      struct([
        ['periods', t.periods.toString()],
        ['throttled_periods', t.throttled_periods.toString()],
        ['throttled_time', t.throttled_time.toString()],
      ]),
    ],
  ]);
}

function memoryJson(mem: MemoryStats): string {
  return struct([
    ['usage', omitZero(mem.usage)],
    ['max_usage', omitZero(mem.max_usage)],
    [
      'stats',
      mem.stats && Object.keys(mem.stats).length > 0 ? sortedMap(mem.stats, (v) => v.toString()) : undefined,
    ],
    ['failcnt', omitZero(mem.failcnt)],
    ['limit', omitZero(mem.limit)],
  ]);
}

function entriesJson(list: BlkioStatEntry[] | null): string {
  if (list === null) return 'null';
  const items = list.map((e) =>
    struct([
      ['major', e.major.toString()],
      ['minor', e.minor.toString()],
      ['op', goJsonString(e.op)],
      ['value', e.value.toString()],
    ]),
  );
  return `[${items.join(',')}]`;
}

const BLKIO_FIELDS: readonly (keyof BlkioStats)[] = [
  'io_service_bytes_recursive',
  'io_serviced_recursive',
  'io_queue_recursive',
  'io_service_time_recursive',
  'io_wait_time_recursive',
  'io_merged_recursive',
  'io_time_recursive',
  'sectors_recursive',
];

function blkioJson(blkio: BlkioStats | undefined): string {
  return struct(BLKIO_FIELDS.map((f) => [f, entriesJson(blkio ? blkio[f] : null)]));
}

function networkJson(n: NetworkStats): string {
  return struct([
    ['rx_bytes', n.rx_bytes.toString()],
    ['rx_packets', n.rx_packets.toString()],
    ['rx_errors', n.rx_errors.toString()],
    ['rx_dropped', n.rx_dropped.toString()],
    ['tx_bytes', n.tx_bytes.toString()],
    ['tx_packets', n.tx_packets.toString()],
    ['tx_errors', n.tx_errors.toString()],
    ['tx_dropped', n.tx_dropped.toString()],
  ]);
}

/** Encoded views: one sample goes to every stream watching the container, so it is encoded once. */
const lines = new WeakMap<StatsView, Buffer>();

/**
 * One streamed stats object as bytes: {@link statsJson} and the newline,
 * encoded once per view and the same Buffer for every stream of the
 * container (callers must not change it).
 */
export function statsLine(view: StatsView): Buffer {
  let line = lines.get(view);
  if (line === undefined) {
    line = Buffer.from(statsJson(view) + '\n');
    lines.set(view, line);
  }
  return line;
}

/**
 * One stats object as Docker's JSON text (without the trailing newline). A
 * view without a sample (the container does not run) gives Docker's zero
 * stats: zero times, zero counters, `null` blkio lists, and name and ID.
 */
export function statsJson(view: StatsView): string {
  const s = view.sample;
  const pids = s?.pids_stats;
  const networks = s?.networks;
  return struct([
    ['read', `"${goTimeJson(s?.read)}"`],
    ['preread', `"${goTimeJson(view.previous?.read)}"`],
    [
      'pids_stats',
      struct([
        ['current', pids ? omitZero(pids.current) : undefined],
        ['limit', pids ? omitZero(pids.limit) : undefined],
      ]),
    ],
    ['blkio_stats', blkioJson(s?.blkio_stats)],
    ['num_procs', '0'],
    ['storage_stats', '{}'],
    ['cpu_stats', cpuJson(s?.cpu_stats ?? zeroCpuStats())],
    ['precpu_stats', cpuJson(view.previous?.cpu_stats ?? zeroCpuStats())],
    ['memory_stats', s ? memoryJson(s.memory_stats) : '{}'],
    ['name', view.name === '' ? undefined : goJsonString(view.name)],
    ['id', view.id === '' ? undefined : goJsonString(view.id)],
    ['networks', networks && Object.keys(networks).length > 0 ? sortedMap(networks, networkJson) : undefined],
  ]);
}
