/**
 * Container stats against a real berthd with real containers (runc, cgroup
 * v1): a CPU burner, a container holding 64 MiB in a tmpfs, one writing
 * 32 MiB with O_DIRECT, checked through the API, the docker CLI and the
 * berth CLI. The one-shot latencies are printed, not asserted.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { StatsHistoryResponse, StatsResponse } from '../../../src/api/wire/stats.js';
import { blockIO, cpuPercent, memoryUsage } from '../../../src/engine/stats/formulas.js';
import { berth, docker } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';
import { api } from '../../helpers/http.js';
import { busyboxImage, dockerSaveTarball } from '../../helpers/images.js';
import { waitFor } from '../../helpers/poll.js';

const MiB = 1024 * 1024;

/** One `stream=false` stats object, and how long it took. */
async function statsOnce(
  socket: string,
  ref: string,
  query = 'stream=false',
): Promise<{ v: StatsResponse; ms: number }> {
  const started = performance.now();
  const res = await api(socket, 'GET', `/v1.47/containers/${ref}/stats?${query}`);
  const ms = performance.now() - started;
  assert.equal(res.status, 200, res.body);
  return { v: JSON.parse(res.body) as StatsResponse, ms };
}

/** The first `count` objects of a stats stream; then the connection is closed. */
function streamed(socket: string, ref: string, count: number): Promise<StatsResponse[]> {
  return new Promise((resolve, reject) => {
    const out: StatsResponse[] = [];
    const req = request(
      { socketPath: socket, method: 'GET', path: `/v1.47/containers/${ref}/stats` },
      (res) => {
        let buffered = '';
        res.on('data', (d: Buffer) => {
          buffered += d.toString();
          let nl: number;
          while ((nl = buffered.indexOf('\n')) !== -1 && out.length < count) {
            out.push(JSON.parse(buffered.slice(0, nl)) as StatsResponse);
            buffered = buffered.slice(nl + 1);
          }
          if (out.length >= count) {
            req.destroy();
            resolve(out);
          }
        });
        res.on('end', () => resolve(out));
      },
    );
    req.on('error', (err) => (out.length >= count ? undefined : reject(err)));
    req.end();
  });
}

describe('container stats on a real daemon', () => {
  let daemon: TestDaemon;
  const names = ['st-burn', 'st-mem', 'st-disk', 'st-idle', 'st-stopped'];

  const run = async (args: string[]): Promise<string> => {
    const res = await docker(daemon.host, ['run', '-d', ...args]);
    assert.equal(res.code, 0, res.stderr);
    return res.stdout.trim();
  };

  before(async () => {
    daemon = await TestDaemon.start();
    const tarPath = join(daemon.dir, 'busybox.tar');
    await writeFile(
      tarPath,
      await dockerSaveTarball([{ image: await busyboxImage(), repoTags: ['busybox:latest'] }]),
    );
    const load = await docker(daemon.host, ['load', '-i', tarPath]);
    assert.equal(load.code, 0, load.stderr);
    await run(['--name', 'st-burn', 'busybox', 'sh', '-c', 'while :; do :; done']);
    await run([
      '--name',
      'st-mem',
      '-m',
      '256m',
      '--shm-size',
      '128m',
      'busybox',
      'sh',
      '-c',
      'dd if=/dev/zero of=/dev/shm/x bs=1M count=64 && exec sleep 3600',
    ]);
    await run([
      '--name',
      'st-disk',
      'busybox',
      'sh',
      '-c',
      'dd if=/dev/zero of=/data bs=1M count=32 oflag=direct && exec sleep 3600',
    ]);
    await run(['--name', 'st-idle', 'busybox', 'sleep', '3600']);
    const created = await docker(daemon.host, ['create', '--name', 'st-stopped', 'busybox', 'true']);
    assert.equal(created.code, 0, created.stderr);
  });

  after(async () => {
    await docker(daemon.host, ['rm', '-f', ...names]);
    await daemon.cleanup();
  });

  it('the burner uses about one CPU (what the host leaves it)', async () => {
    await statsOnce(daemon.socket, 'st-burn'); // the sampler now follows it every second
    await new Promise((r) => setTimeout(r, 1200));
    const { v } = await statsOnce(daemon.socket, 'st-burn');
    const cpu = cpuPercent(v.precpu_stats, v.cpu_stats);
    // Its share of one CPU over the same window by the wall clock: the load of the host (other
    // tests) may leave a busy loop less than a whole CPU, but both numbers must agree.
    const wallNs = (Date.parse(v.read) - Date.parse(v.preread)) * 1e6;
    const share = ((v.cpu_stats.cpu_usage.total_usage - v.precpu_stats.cpu_usage.total_usage) / wallNs) * 100;
    console.log(
      `# st-burn CPU ${cpu.toFixed(2)}% over ${wallNs / 1e6} ms (wall-clock share ${share.toFixed(2)}%, load ${loadavg()[0]?.toFixed(2)})`,
    );
    assert.ok(cpu > 10 && cpu < 115, `CPU % of one busy loop: ${cpu}`);
    assert.ok(Math.abs(cpu - share) < 15, `CPU % ${cpu} agrees with the wall-clock share ${share}`);
    if ((loadavg()[0] ?? 0) < 1.5) assert.ok(cpu > 80, `an idle host gives the loop a whole CPU: ${cpu}`);
    assert.equal(v.name, '/st-burn');
    assert.equal(v.cpu_stats.online_cpus, v.cpu_stats.cpu_usage.percpu_usage?.length);
    assert.ok((v.pids_stats.current ?? 0) >= 1);
  });

  it('the tmpfs holds at least 64 MiB, under the 256 MiB limit', async () => {
    let used = 0;
    await waitFor(
      async () => {
        const { v } = await statsOnce(daemon.socket, 'st-mem', 'stream=false&one-shot=true');
        used = memoryUsage(v.memory_stats);
        return used >= 64 * MiB;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'st-mem to fill its tmpfs' },
    );
    const { v } = await statsOnce(daemon.socket, 'st-mem');
    assert.equal(v.memory_stats.limit, 256 * MiB);
    assert.ok((v.memory_stats.max_usage ?? 0) >= 64 * MiB);
    assert.ok(v.memory_stats.stats && 'total_inactive_file' in v.memory_stats.stats, 'v1 memory.stat keys');
    console.log(`# st-mem uses ${(used / MiB).toFixed(1)} MiB`);
  });

  it('block writes count what was written with O_DIRECT', async () => {
    let written = 0;
    await waitFor(
      async () => {
        const { v } = await statsOnce(daemon.socket, 'st-disk', 'stream=false&one-shot=true');
        written = blockIO(v.blkio_stats).write;
        return written >= 32 * MiB;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'st-disk to write 32 MiB' },
    );
    console.log(`# st-disk wrote ${(written / MiB).toFixed(1)} MiB`);
  });

  it('docker stats --no-stream --format json shows every running container', async () => {
    const started = performance.now();
    const res = await docker(daemon.host, ['stats', '--no-stream', '--format', '{{json .}}']);
    const ms = performance.now() - started;
    assert.equal(res.code, 0, res.stderr);
    const rows = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    const byName = new Map(rows.map((r) => [r['Name'], r]));
    assert.deepEqual([...byName.keys()].sort(), ['st-burn', 'st-disk', 'st-idle', 'st-mem']);
    for (const r of rows) {
      assert.deepEqual(Object.keys(r).sort(), [
        'BlockIO',
        'CPUPerc',
        'Container',
        'ID',
        'MemPerc',
        'MemUsage',
        'Name',
        'NetIO',
        'PIDs',
      ]);
      assert.match(r['CPUPerc'] ?? '', /^\d+\.\d\d%$/);
      assert.match(r['MemUsage'] ?? '', /^[\d.]+(B|KiB|MiB|GiB) \/ [\d.]+(B|KiB|MiB|GiB)$/);
      assert.match(r['ID'] ?? '', /^[0-9a-f]{12}$/);
    }
    assert.ok(Number.parseFloat(byName.get('st-burn')?.['CPUPerc'] ?? '') > 10);
    assert.match(byName.get('st-mem')?.['MemUsage'] ?? '', / \/ 256MiB$/);
    assert.match(byName.get('st-disk')?.['BlockIO'] ?? '', /^[\d.]+k?M?B \/ (3[3-9]|[4-9]\d)\.?\d*MB$/);
    const baseStart = performance.now();
    await docker(daemon.host, ['ps', '-q']);
    const base = performance.now() - baseStart;
    console.log(
      `# docker stats --no-stream over 4 containers: ${ms.toFixed(0)} ms; docker ps -q for comparison: ${base.toFixed(0)} ms`,
    );
  });

  it('docker stats --no-stream --all shows a stopped container with zeros', async () => {
    const res = await docker(daemon.host, [
      'stats',
      '--no-stream',
      '--all',
      '--format',
      '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^st-stopped 0\.00% 0B \/ 0B 0$/m);
  });

  it('a stopped container answers with Docker zero stats', async () => {
    const { v } = await statsOnce(daemon.socket, 'st-stopped');
    assert.equal(v.read, '0001-01-01T00:00:00Z');
    assert.deepEqual(v.memory_stats, {});
    assert.equal(v.name, '/st-stopped');
  });

  it('a stream sends one object a second, each with the one before', async () => {
    const objects = await streamed(daemon.socket, 'st-idle', 3);
    assert.equal(objects.length, 3);
    const gap = Date.parse(objects[2]?.read ?? '') - Date.parse(objects[1]?.read ?? '');
    assert.ok(gap > 700 && gap < 1500, `1 s apart: ${gap} ms`);
    assert.equal(objects[2]?.preread, objects[1]?.read);
  });

  it('one-shot latency (printed): a fresh container, then again', async () => {
    await run(['--name', 'st-fresh', 'busybox', 'sleep', '3600']);
    names.push('st-fresh');
    const first = await statsOnce(daemon.socket, 'st-fresh');
    const again = await statsOnce(daemon.socket, 'st-fresh');
    const oneShot = await statsOnce(daemon.socket, 'st-idle', 'stream=false&one-shot=true');
    console.log(
      `# stats stream=false: fresh container ${first.ms.toFixed(1)} ms, again ${again.ms.toFixed(1)} ms; one-shot=true ${oneShot.ms.toFixed(1)} ms`,
    );
    assert.notEqual(first.v.preread, '0001-01-01T00:00:00Z');
  });

  it('berth stats --no-stream and --history', async () => {
    const started = performance.now();
    const table = await berth(daemon.host, ['stats', '--no-stream']);
    console.log(
      `# berth stats --no-stream: ${(performance.now() - started).toFixed(0)} ms (CLI start included)`,
    );
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(
      lines[0] ?? '',
      /^CONTAINER ID {3}NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/,
    );
    assert.ok(lines.some((l) => / st-burn /.test(l)));

    const res = await api(daemon.socket, 'GET', '/berth/v1/containers/st-burn/stats/history?since=600');
    assert.equal(res.status, 200, res.body);
    const h = JSON.parse(res.body) as StatsHistoryResponse;
    assert.equal(h.name, 'st-burn');
    assert.ok(h.samples.length >= 2, `samples: ${h.samples.length}`);
    assert.ok(Math.max(...h.samples.map((s) => s.cpuPercent)) > 10);
    const history = await berth(daemon.host, ['stats', '--history', 'st-burn']);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /^st-burn \([0-9a-f]{12}\): \d+ samples over/);
    assert.match(history.stdout, /\nCPU % {3}[▁▂▃▄▅▆▇█]+ /);
  });

  it('a stream ends when its container is removed', async () => {
    const done = streamed(daemon.socket, 'st-idle', 1000);
    await new Promise((r) => setTimeout(r, 1500));
    const rm = await docker(daemon.host, ['rm', '-f', 'st-idle']);
    assert.equal(rm.code, 0, rm.stderr);
    const objects = await done;
    assert.ok(objects.length >= 1 && objects.length < 1000);
  });
});
