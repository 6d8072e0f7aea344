import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import {
  cgroupPaths,
  readCgroupStats,
  readMachineMemory,
  readNetworks,
  readSystemCpu,
} from '../../engine/stats/cgroup.js';
import type { StatsSample, StatsView } from '../../engine/stats/types.js';
import { goJsonString, goTimeJson, statsJson, statsLine, type StatsResponse } from './stats.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/cgroups/', import.meta.url));
const V1_ID = '4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70a';
const V2_ID = '9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877665544';

function fixtureSample(layout: 'v1' | 'v2', id: string, pid: number, read: bigint): StatsSample {
  const root = join(FIXTURES, layout);
  const proc = join(root, 'proc');
  const cg = readCgroupStats(
    cgroupPaths(layout, join(root, 'cgroup'), `/berth/${id}`),
    readMachineMemory(proc),
  );
  assert.ok(cg);
  const system = readSystemCpu(proc);
  return {
    read,
    pid,
    cpu_stats: {
      cpu_usage: cg.cpu_usage,
      system_cpu_usage: system.systemUsage,
      online_cpus: system.onlineCpus,
      throttling_data: cg.throttling_data,
    },
    memory_stats: cg.memory_stats,
    blkio_stats: cg.blkio_stats,
    pids_stats: cg.pids_stats,
    networks: readNetworks(proc, pid),
  };
}

const ZERO_CPU =
  '{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},' +
  '"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}}';

describe('stats wire form', () => {
  it("writes Go's time JSON: RFC 3339, nanoseconds without trailing zeros, zero time", () => {
    assert.equal(goTimeJson(undefined), '0001-01-01T00:00:00Z');
    assert.equal(goTimeJson(0n), '1970-01-01T00:00:00Z');
    assert.equal(goTimeJson(1_500_000_000n), '1970-01-01T00:00:01.5Z');
    assert.equal(goTimeJson(1_795_000_000_000_000_123n), '2026-11-18T11:06:40.000000123Z');
  });

  it('escapes strings as Go does', () => {
    assert.equal(goJsonString('<a&b>\u2028"'), '"\\u003ca\\u0026b\\u003e\\u2028\\""');
  });

  it("gives a stopped container Docker's zero stats, byte for byte", () => {
    const view: StatsView = { id: 'abc123', name: '/web', sample: undefined, previous: undefined };
    assert.equal(
      statsJson(view),
      '{"read":"0001-01-01T00:00:00Z","preread":"0001-01-01T00:00:00Z","pids_stats":{},' +
        '"blkio_stats":{"io_service_bytes_recursive":null,"io_serviced_recursive":null,' +
        '"io_queue_recursive":null,"io_service_time_recursive":null,"io_wait_time_recursive":null,' +
        '"io_merged_recursive":null,"io_time_recursive":null,"sectors_recursive":null},' +
        `"num_procs":0,"storage_stats":{},"cpu_stats":${ZERO_CPU},"precpu_stats":${ZERO_CPU},` +
        '"memory_stats":{},"name":"/web","id":"abc123"}',
    );
  });

  it("writes a v1 sample in moby's field order, with exact 64-bit counters", () => {
    const sample = fixtureSample('v1', V1_ID, 22534, 1_795_000_000_500_000_000n);
    const previous = { read: 1_795_000_000_000_000_000n, cpu_stats: sample.cpu_stats };
    const text = statsJson({ id: V1_ID, name: '/web', sample, previous });
    const keys = Object.keys(JSON.parse(text) as object);
    assert.deepEqual(keys, [
      'read',
      'preread',
      'pids_stats',
      'blkio_stats',
      'num_procs',
      'storage_stats',
      'cpu_stats',
      'precpu_stats',
      'memory_stats',
      'name',
      'id',
      'networks',
    ]);
    assert.ok(text.startsWith('{"read":"2026-11-18T11:06:40.5Z","preread":"2026-11-18T11:06:40Z"'));
    assert.ok(text.includes('"pids_stats":{"current":3,"limit":512}'));
    assert.ok(
      text.includes(
        '"cpu_stats":{"cpu_usage":{"total_usage":124371332,"percpu_usage":[106527650,17843682],' +
          '"usage_in_kernelmode":0,"usage_in_usermode":110000000},"system_cpu_usage":5817050000000,' +
          '"online_cpus":2,"throttling_data":{"periods":6,"throttled_periods":1,"throttled_time":44100690}}',
      ),
    );
    assert.ok(text.includes('"hierarchical_memsw_limit":9223372036854771712,'), 'printed exactly');
    assert.ok(text.includes('"io_queue_recursive":[],'));
    assert.ok(text.includes('{"major":254,"minor":0,"op":"Read","value":8388608}'));
    assert.ok(text.includes('"memory_stats":{"usage":17190912,"max_usage":18255872,"stats":{"active_anon":'));
    assert.ok(text.includes(',"limit":268435456},"name":"/web"'), 'failcnt 0 left out');
    assert.ok(
      text.endsWith(
        '"networks":{"eth0":{"rx_bytes":9342,"rx_packets":81,"rx_errors":0,"rx_dropped":2,' +
          '"tx_bytes":1786,"tx_packets":19,"tx_errors":0,"tx_dropped":0}}}',
      ),
    );
    const parsed = JSON.parse(text) as StatsResponse;
    const statKeys = Object.keys(parsed.memory_stats.stats ?? {});
    assert.deepEqual(statKeys, [...statKeys].sort(), 'map keys sorted as Go sorts them');
  });

  it('writes a v2 sample: no percpu, no max_usage, null blkio lists but the bytes, no pids limit', () => {
    const sample = fixtureSample('v2', V2_ID, 4242, 1_795_000_000_000_000_000n);
    const parsed = JSON.parse(
      statsJson({ id: V2_ID, name: '/db', sample, previous: undefined }),
    ) as StatsResponse;
    assert.equal(parsed.preread, '0001-01-01T00:00:00Z');
    assert.deepEqual(parsed.precpu_stats, JSON.parse(ZERO_CPU));
    assert.equal(parsed.cpu_stats.cpu_usage.percpu_usage, undefined);
    assert.equal(parsed.cpu_stats.online_cpus, 4);
    assert.deepEqual(parsed.pids_stats, { current: 5 });
    assert.equal(parsed.memory_stats.max_usage, undefined);
    assert.equal(parsed.memory_stats.failcnt, 1);
    assert.equal(parsed.memory_stats.limit, 8148280 * 1024);
    assert.equal(parsed.blkio_stats.io_serviced_recursive, null);
    assert.equal(parsed.blkio_stats.io_service_bytes_recursive?.length, 4);
    assert.deepEqual(Object.keys(parsed.networks ?? {}), ['eth0', 'eth1']);
  });

  it('leaves networks out for a container without any', () => {
    const sample = { ...fixtureSample('v2', V2_ID, 4242, 1n), networks: null };
    const parsed = JSON.parse(statsJson({ id: V2_ID, name: '/db', sample, previous: undefined })) as object;
    assert.equal('networks' in parsed, false);
  });

  it('encodes a streamed view once: the same line buffer for every stream', () => {
    const view = {
      id: V2_ID,
      name: '/db',
      sample: fixtureSample('v2', V2_ID, 4242, 1n),
      previous: undefined,
    };
    const line = statsLine(view);
    assert.equal(line.toString(), statsJson(view) + '\n');
    assert.equal(statsLine(view), line);
    assert.notEqual(statsLine({ ...view }), line);
  });
});
