import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { StatsResponse } from '../../client/stats.js';
import {
  bytesSize,
  emptyStatsEntry,
  formatPercentage,
  renderHistory,
  renderStats,
  statsEntryFrom,
  terminalFrame,
  truncateId,
} from './stats.js';

const ID = '4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70a';

/** A stats object as berthd sends it for the recorded v1 container, one CPU busy. */
function sample(): StatsResponse {
  const cpu = (total: number, system: number): StatsResponse['cpu_stats'] => ({
    cpu_usage: { total_usage: total, percpu_usage: [total, 0], usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: system,
    online_cpus: 2,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  const entry = (op: string, value: number): { major: number; minor: number; op: string; value: number } => ({
    major: 254,
    minor: 0,
    op,
    value,
  });
  return {
    read: '2026-11-27T10:00:01Z',
    preread: '2026-11-27T10:00:00Z',
    pids_stats: { current: 3, limit: 512 },
    blkio_stats: {
      io_service_bytes_recursive: [entry('Read', 8388608), entry('Write', 8388608), entry('Total', 16777216)],
      io_serviced_recursive: [],
      io_queue_recursive: [],
      io_service_time_recursive: [],
      io_wait_time_recursive: [],
      io_merged_recursive: [],
      io_time_recursive: [],
      sectors_recursive: [],
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu(174371332, 5817150000000),
    precpu_stats: cpu(124371332, 5817050000000),
    memory_stats: {
      usage: 17190912,
      max_usage: 18255872,
      stats: { total_inactive_file: 0, inactive_file: 0 },
      limit: 268435456,
    },
    name: '/web',
    id: ID,
    networks: {
      eth0: {
        rx_bytes: 9342,
        rx_packets: 81,
        rx_errors: 0,
        rx_dropped: 2,
        tx_bytes: 1786,
        tx_packets: 19,
        tx_errors: 0,
        tx_dropped: 0,
      },
    },
  };
}

describe('stats rendering', () => {
  it("formats sizes as go-units' BytesSize and percentages as docker", () => {
    assert.deepEqual([0, 1023, 1024, 17190912, 268435456, 25276502016].map(bytesSize), [
      '0B',
      '1023B',
      '1KiB',
      '16.39MiB',
      '256MiB',
      '23.54GiB',
    ]);
    assert.deepEqual([100, 6.40411376953125, 0.125, 0].map(formatPercentage), [
      '100.00%',
      '6.40%',
      '0.12%',
      '0.00%',
    ]);
    assert.equal(truncateId(`sha256:${ID}`), '4f1c2b3a5d6e');
  });

  it('computes the numbers the docker CLI shows', () => {
    assert.deepEqual(statsEntryFrom('web', sample()), {
      container: 'web',
      name: '/web',
      id: ID,
      cpuPercentage: 100,
      memory: 17190912,
      memoryLimit: 268435456,
      memoryPercentage: 6.40411376953125,
      networkRx: 9342,
      networkTx: 1786,
      blockRead: 8388608,
      blockWrite: 8388608,
      pidsCurrent: 3,
      isInvalid: false,
    });
  });

  it("draws docker's default table, `--` for a container without numbers", () => {
    const text = renderStats([statsEntryFrom(ID, sample()), emptyStatsEntry('db', true)], {
      format: 'table',
      trunc: true,
    });
    assert.equal(
      text,
      [
        'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O           BLOCK I/O         PIDS',
        '4f1c2b3a5d6e   web       100.00%   16.39MiB / 256MiB   6.40%     9.34kB / 1.79kB   8.39MB / 8.39MB   3',
        '               --        --        -- / --             --        --                --                --',
        '',
      ].join('\n'),
    );
  });

  it("gives `{{json .}}` docker's keys, and `--no-trunc` the full ID", () => {
    const line = renderStats([statsEntryFrom('web', sample())], { format: '{{json .}}', trunc: false });
    assert.equal(
      line,
      `{"BlockIO":"8.39MB / 8.39MB","CPUPerc":"100.00%","Container":"web","ID":"${ID}","MemPerc":"6.40%",` +
        '"MemUsage":"16.39MiB / 256MiB","Name":"web","NetIO":"9.34kB / 1.79kB","PIDs":"3"}\n',
    );
    assert.equal(
      renderStats([statsEntryFrom('web', sample())], { format: 'json', trunc: true }).includes(
        '"ID":"4f1c2b3a5d6e"',
      ),
      true,
    );
  });

  it('takes table templates and plain templates', () => {
    const entries = [statsEntryFrom('web', sample())];
    assert.equal(
      renderStats(entries, { format: 'table {{.Container}}\t{{.CPUPerc}}', trunc: true }),
      'CONTAINER   CPU %\nweb         100.00%\n',
    );
    assert.equal(renderStats(entries, { format: '{{.Name}}: {{.MemPerc}}', trunc: true }), 'web: 6.40%\n');
    assert.throws(() => renderStats(entries, { format: '{{.Nope', trunc: true }), /template parsing error/);
  });

  it('redraws a terminal frame in place, as docker', () => {
    assert.equal(terminalFrame('A\nB\n', false), '\x1b[HA\x1b[K\nB\x1b[K\n\x1b[K\n\x1b[J');
    assert.ok(terminalFrame('A\n', true).startsWith('\x1b[2J\x1b[H'));
  });

  it('draws the history as sparklines fitted to the width', () => {
    const samples = [0, 25, 50, 100].map((cpu, i) => ({
      time: new Date(Date.UTC(2026, 10, 27, 10, 0, i * 20)).toISOString(),
      cpuPercent: cpu,
      memoryUsage: (i + 1) * 16 * 1024 * 1024,
      memoryLimit: 256 * 1024 * 1024,
      netRx: 0,
      netTx: 0,
      blockRead: 0,
      blockWrite: 0,
      pids: 1,
    }));
    assert.equal(
      renderHistory({ id: ID, name: 'web', intervalMs: 1000, samples }, 80),
      'web (4f1c2b3a5d6e): 4 samples over 1m0s\n' +
        'CPU %   ▁▃▅█  100.00% now, 100.00% peak\n' +
        'MEM     ▃▅▆█  64MiB / 256MiB now, 64MiB peak\n',
    );
    assert.equal(
      renderHistory({ id: ID, name: 'web', intervalMs: 1000, samples: [] }, 80),
      'web (4f1c2b3a5d6e): no samples yet\n',
    );
  });
});
