import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { blockIO, cpuPercent, memoryPercent, memoryUsage, networkIO } from './formulas.js';

describe('docker CLI stats formulas', () => {
  it('CPU %: the container delta over the system delta, times the online CPUs', () => {
    const previous = { cpu_usage: { total_usage: 1_000_000_000 }, system_cpu_usage: 10_000_000_000 };
    // 0.5 s of CPU while the 2-CPU host ran 1 s of CPU time: one CPU's worth
    const current = {
      cpu_usage: { total_usage: 1_500_000_000 },
      system_cpu_usage: 11_000_000_000,
      online_cpus: 2,
    };
    assert.equal(cpuPercent(previous, current), 100);
    assert.equal(
      cpuPercent(previous, { ...current, cpu_usage: { total_usage: 1_125_000_000 }, online_cpus: 4 }),
      50,
    );
  });

  it('CPU %: bigint counters give the same numbers', () => {
    assert.equal(
      cpuPercent(
        { cpu_usage: { total_usage: 124371332n }, system_cpu_usage: 5_817_050_000_000n },
        { cpu_usage: { total_usage: 174371332n }, system_cpu_usage: 5_817_150_000_000n, online_cpus: 2 },
      ),
      100,
    );
  });

  it('CPU %: without online_cpus, the number of per-CPU values', () => {
    const current = {
      cpu_usage: { total_usage: 300, percpu_usage: [100, 100, 50, 50] },
      system_cpu_usage: 1200,
    };
    assert.equal(cpuPercent({ cpu_usage: { total_usage: 0 }, system_cpu_usage: 0 }, current), 100);
  });

  it('CPU %: 0 unless both deltas are positive', () => {
    const a = { cpu_usage: { total_usage: 100 }, system_cpu_usage: 1000, online_cpus: 2 };
    assert.equal(cpuPercent(a, a), 0);
    assert.equal(cpuPercent(a, { ...a, cpu_usage: { total_usage: 50 }, system_cpu_usage: 2000 }), 0);
    assert.equal(cpuPercent(a, { ...a, cpu_usage: { total_usage: 200 } }), 0);
    // no previous sample at all: deltas from zero, as the CLI computes a first streamed object from Docker
    assert.equal(cpuPercent(undefined, { ...a, system_cpu_usage: 400 }), 50);
  });

  it('memory: usage less total_inactive_file on v1', () => {
    assert.equal(memoryUsage({ usage: 100, stats: { total_inactive_file: 30, inactive_file: 10 } }), 70);
    assert.equal(
      memoryUsage({ usage: 17190912n, stats: { total_inactive_file: 4096n, inactive_file: 0n } }),
      17186816,
    );
  });

  it('memory: falls back to inactive_file when total_inactive_file is not smaller', () => {
    assert.equal(memoryUsage({ usage: 100, stats: { total_inactive_file: 100, inactive_file: 10 } }), 90);
  });

  it('memory: usage less inactive_file on v2', () => {
    assert.equal(memoryUsage({ usage: 63963136, stats: { inactive_file: 8388608 } }), 55574528);
  });

  it('memory: plain usage when the cache is not smaller, or unknown', () => {
    assert.equal(memoryUsage({ usage: 100, stats: { inactive_file: 100 } }), 100);
    assert.equal(memoryUsage({ usage: 100 }), 100);
    assert.equal(memoryUsage({}), 0);
  });

  it('memory %: used over the limit, 0 without a limit', () => {
    assert.equal(memoryPercent(268435456, 67108864), 25);
    assert.equal(memoryPercent(0, 1000), 0);
  });

  it('block I/O: Read and Write entries of io_service_bytes_recursive, any case', () => {
    assert.deepEqual(
      blockIO({
        io_service_bytes_recursive: [
          { op: 'Read', value: 8388608 },
          { op: 'Write', value: 4096 },
          { op: 'Sync', value: 8392704 },
          { op: 'Total', value: 8392704 },
          { op: 'read', value: 1 },
          { op: 'write', value: 2n },
          { op: '', value: 7 },
        ],
      }),
      { read: 8388609, write: 4098 },
    );
    assert.deepEqual(blockIO({ io_service_bytes_recursive: null }), { read: 0, write: 0 });
    assert.deepEqual(blockIO(undefined), { read: 0, write: 0 });
  });

  it('network: received and sent bytes over all interfaces', () => {
    assert.deepEqual(
      networkIO({
        eth0: { rx_bytes: 5242880, tx_bytes: 131072 },
        eth1: { rx_bytes: 1000n, tx_bytes: 2000n },
      }),
      { rx: 5243880, tx: 133072 },
    );
    assert.deepEqual(networkIO(undefined), { rx: 0, tx: 0 });
  });
});
