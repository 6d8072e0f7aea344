import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import {
  V1_MEMORY_STAT_KEYS,
  V2_MEMORY_STAT_KEYS,
  cgroupExists,
  cgroupPaths,
  cgroupPathsFromProc,
  detectLayout,
  parseBlkioV1,
  parseIoStatV2,
  parseNetDev,
  parseProcStat,
  parseU64,
  readCgroupStats,
  readMachineMemory,
  readNetworks,
  readProcCgroupPaths,
  readSystemCpu,
} from './cgroup.js';

/** test/fixtures/cgroups, from dist/src/engine/stats. */
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/cgroups/', import.meta.url));
const V1_ID = '4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70a';
const V1_PID = 22534;
const V2_ID = '9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877665544';
const V2_PID = 4242;

const v1 = { cgroup: join(FIXTURES, 'v1/cgroup'), proc: join(FIXTURES, 'v1/proc') };
const v2 = { cgroup: join(FIXTURES, 'v2/cgroup'), proc: join(FIXTURES, 'v2/proc') };

describe('cgroup layout and paths', () => {
  it('tells the hybrid v1 layout from the unified one', async () => {
    assert.equal(detectLayout(v1.cgroup), 'v1');
    assert.equal(detectLayout(v2.cgroup), 'v2');
    const empty = await mkdtemp(join(tmpdir(), 'berth-cgroup-'));
    try {
      assert.equal(detectLayout(empty), undefined);
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  it('places a container per controller on v1 and in one directory on v2', () => {
    const p1 = cgroupPaths('v1', '/sys/fs/cgroup', `/berth/${V1_ID}/`.slice(0, -1));
    assert.equal(p1.layout, 'v1');
    if (p1.layout === 'v1') {
      assert.equal(p1.dirs.memory, `/sys/fs/cgroup/memory/berth/${V1_ID}`);
      assert.equal(p1.dirs.cpuacct, `/sys/fs/cgroup/cpuacct/berth/${V1_ID}`);
    }
    assert.deepEqual(cgroupPaths('v2', '/sys/fs/cgroup', 'berth/x'), {
      layout: 'v2',
      dir: '/sys/fs/cgroup/berth/x',
    });
  });

  it('finds the same directories from /proc/<pid>/cgroup', () => {
    assert.deepEqual(
      readProcCgroupPaths('v1', v1.cgroup, v1.proc, V1_PID),
      cgroupPaths('v1', v1.cgroup, `/berth/${V1_ID}`),
    );
    assert.deepEqual(
      readProcCgroupPaths('v2', v2.cgroup, v2.proc, V2_PID),
      cgroupPaths('v2', v2.cgroup, `/berth/${V2_ID}`),
    );
    assert.equal(readProcCgroupPaths('v1', v1.cgroup, v1.proc, 1), undefined);
    // cpu and cpuacct co-mounted, as most v1 distributions have them
    const paths = cgroupPathsFromProc(
      'v1',
      '/sys/fs/cgroup',
      '5:cpu,cpuacct:/a\n4:memory:/a\n3:pids:/a\n2:blkio:/a\n1:name=systemd:/a\n',
    );
    assert.equal(paths?.layout === 'v1' && paths.dirs.cpuacct, '/sys/fs/cgroup/cpuacct/a');
    assert.equal(cgroupPathsFromProc('v1', '/sys/fs/cgroup', '0::/a\n'), undefined);
  });

  it('knows whether the cgroup is there', () => {
    assert.equal(cgroupExists(cgroupPaths('v1', v1.cgroup, `/berth/${V1_ID}`)), true);
    assert.equal(cgroupExists(cgroupPaths('v1', v1.cgroup, '/berth/gone')), false);
    assert.equal(cgroupExists(cgroupPaths('v2', v2.cgroup, `/berth/${V2_ID}`)), true);
  });
});

describe('cgroup v1 (recorded on a hybrid host)', () => {
  const paths = cgroupPaths('v1', v1.cgroup, `/berth/${V1_ID}`);
  const machine = readMachineMemory(v1.proc);

  it('reads MemTotal and the system CPU time as Docker does', () => {
    assert.equal(machine, 24684084n * 1024n);
    // (197859 + 0 + 41263 + 339538 + 2308 + 0 + 737) ticks × 10⁷ ns; steal and guest are left out
    assert.deepEqual(readSystemCpu(v1.proc), { systemUsage: 5_817_050_000_000n, onlineCpus: 2 });
  });

  it('gives Docker cpu_usage and throttling_data', () => {
    const s = readCgroupStats(paths, machine);
    assert.ok(s);
    assert.deepEqual(s.cpu_usage, {
      total_usage: 124371332n,
      percpu_usage: [106527650n, 17843682n],
      usage_in_kernelmode: 0n,
      usage_in_usermode: 110_000_000n,
    });
    assert.deepEqual(s.throttling_data, { periods: 6n, throttled_periods: 1n, throttled_time: 44100690n });
  });

  it('gives Docker memory_stats with its 32 memory.stat keys', () => {
    const m = readCgroupStats(paths, machine)?.memory_stats;
    assert.ok(m?.stats);
    assert.equal(m.usage, 17190912n);
    assert.equal(m.max_usage, 18255872n);
    assert.equal(m.limit, 268435456n);
    assert.equal(m.failcnt, 0n);
    assert.deepEqual(Object.keys(m.stats), V1_MEMORY_STAT_KEYS);
    assert.equal(m.stats['total_inactive_anon'], 16928768n);
    assert.equal(m.stats['total_inactive_file'], 0n);
    assert.equal(m.stats['cache'], 16777216n);
    assert.equal(m.stats['hierarchical_memsw_limit'], 9223372036854771712n);
    assert.equal(m.stats['shmem'], undefined, 'keys Docker does not report are left out');
  });

  it('caps a limit above the machine memory at the machine memory', () => {
    assert.equal(readCgroupStats(paths, 1024n)?.memory_stats.limit, 1024n);
    assert.equal(readCgroupStats(paths, 0n)?.memory_stats.limit, 268435456n);
  });

  it('gives blkio entries from the throttle files, other lists empty', () => {
    const b = readCgroupStats(paths, machine)?.blkio_stats;
    assert.ok(b);
    assert.deepEqual(b.io_service_bytes_recursive, [
      { major: 254n, minor: 0n, op: 'Read', value: 8388608n },
      { major: 254n, minor: 0n, op: 'Write', value: 8388608n },
      { major: 254n, minor: 0n, op: 'Sync', value: 16777216n },
      { major: 254n, minor: 0n, op: 'Async', value: 0n },
      { major: 254n, minor: 0n, op: 'Discard', value: 0n },
      { major: 254n, minor: 0n, op: 'Total', value: 16777216n },
    ]);
    assert.deepEqual(
      b.io_serviced_recursive?.map((e) => [e.op, e.value]),
      [
        ['Read', 16n],
        ['Write', 8n],
        ['Sync', 24n],
        ['Async', 0n],
        ['Discard', 0n],
        ['Total', 24n],
      ],
    );
    assert.deepEqual(b.io_queue_recursive, []);
    assert.deepEqual(b.sectors_recursive, []);
  });

  it('gives pids', () => {
    assert.deepEqual(readCgroupStats(paths, machine)?.pids_stats, { current: 3n, limit: 512n });
  });

  it('reads a missing cgroup as undefined', () => {
    assert.equal(readCgroupStats(cgroupPaths('v1', v1.cgroup, '/berth/gone'), machine), undefined);
  });

  it('reads the network namespace of the init pid, loopback left out', () => {
    assert.deepEqual(readNetworks(v1.proc, V1_PID), {
      eth0: {
        rx_bytes: 9342n,
        rx_packets: 81n,
        rx_errors: 0n,
        rx_dropped: 2n,
        tx_bytes: 1786n,
        tx_packets: 19n,
        tx_errors: 0n,
        tx_dropped: 0n,
      },
    });
    assert.equal(readNetworks(v1.proc, 1), null);
    assert.equal(readNetworks(v1.proc, 0), null);
  });
});

describe('cgroup v2 (written after the kernel documentation)', () => {
  const paths = cgroupPaths('v2', v2.cgroup, `/berth/${V2_ID}`);
  const machine = readMachineMemory(v2.proc);

  it('reads the system CPU time of four CPUs', () => {
    assert.deepEqual(readSystemCpu(v2.proc), { systemUsage: 109_002_410_000_000n, onlineCpus: 4 });
  });

  it('gives cpu_usage in nanoseconds from usage_usec, without per-CPU values', () => {
    const s = readCgroupStats(paths, machine);
    assert.ok(s);
    assert.deepEqual(s.cpu_usage, {
      total_usage: 2_514_372_000n,
      percpu_usage: null,
      usage_in_kernelmode: 513_272_000n,
      usage_in_usermode: 2_001_100_000n,
    });
    assert.deepEqual(s.throttling_data, {
      periods: 120n,
      throttled_periods: 7n,
      throttled_time: 350_123_000n,
    });
  });

  it('gives memory with v2 names, `max` as the machine memory, failcnt from oom events', () => {
    const m = readCgroupStats(paths, machine)?.memory_stats;
    assert.ok(m?.stats);
    assert.equal(m.usage, 63963136n);
    assert.equal(m.max_usage, 0n);
    assert.equal(m.limit, 8148280n * 1024n);
    assert.equal(m.failcnt, 1n);
    assert.deepEqual(Object.keys(m.stats), V2_MEMORY_STAT_KEYS);
    assert.equal(m.stats['inactive_file'], 8388608n);
    assert.equal(m.stats['anon'], 50331648n);
    assert.equal(
      m.stats['workingset_refault'],
      0n,
      'split into _anon/_file by newer kernels: 0 as in Docker',
    );
  });

  it('gives read and write bytes per device from io.stat, the other lists null', () => {
    const b = readCgroupStats(paths, machine)?.blkio_stats;
    assert.ok(b);
    assert.deepEqual(b.io_service_bytes_recursive, [
      { major: 254n, minor: 0n, op: 'read', value: 4136960n },
      { major: 254n, minor: 0n, op: 'write', value: 67108864n },
      { major: 253n, minor: 0n, op: 'read', value: 0n },
      { major: 253n, minor: 0n, op: 'write', value: 4096n },
    ]);
    assert.equal(b.io_serviced_recursive, null);
    assert.equal(b.sectors_recursive, null);
  });

  it('gives pids with `max` as no limit', () => {
    assert.deepEqual(readCgroupStats(paths, machine)?.pids_stats, { current: 5n, limit: 0n });
  });

  it('lists every interface but loopback and fallback tunnels', () => {
    const nets = readNetworks(v2.proc, V2_PID);
    assert.deepEqual(Object.keys(nets ?? {}), ['eth0', 'eth1']);
    assert.equal(nets?.['eth0']?.rx_bytes, 5242880n);
    assert.equal(nets?.['eth0']?.rx_errors, 1n);
    assert.equal(nets?.['eth0']?.rx_dropped, 4n);
    assert.equal(nets?.['eth1']?.tx_packets, 20n);
  });
});

describe('cgroup file parsing', () => {
  it('reads unsigned decimals and nothing else', () => {
    assert.equal(parseU64(' 18446744073709551615\n'), 18446744073709551615n);
    assert.equal(parseU64('max\n'), undefined);
    assert.equal(parseU64('-1'), undefined);
    assert.equal(parseU64(undefined), undefined);
  });

  it('parses blkio lines with and without an operation', () => {
    assert.deepEqual(parseBlkioV1('8:0 Read 1\n8:0 2\nTotal 3\n\n'), [
      { major: 8n, minor: 0n, op: 'Read', value: 1n },
      { major: 8n, minor: 0n, op: '', value: 2n },
    ]);
    assert.deepEqual(parseBlkioV1('Total 0\n'), []);
  });

  it('gives null for an empty io.stat, as Docker', () => {
    assert.equal(parseIoStatV2(''), null);
    assert.deepEqual(parseIoStatV2('8:16 rbytes=5\n'), [
      { major: 8n, minor: 16n, op: 'read', value: 5n },
      { major: 8n, minor: 16n, op: 'write', value: 0n },
    ]);
  });

  it('stops /proc/stat at the first line that is not a cpu line', () => {
    assert.deepEqual(parseProcStat('cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1\nintr 1\ncpu1 1\n'), {
      systemUsage: 28n * 10_000_000n,
      onlineCpus: 1,
    });
  });

  it('parses net/dev names glued to their numbers', () => {
    const text =
      'Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n' +
      'eth0:4294967296 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n';
    assert.equal(parseNetDev(text)['eth0']?.rx_bytes, 4294967296n);
  });
});
