import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, describe, it } from 'node:test';

import { cpuPercent } from './formulas.js';
import { StatsService, type StatsServiceOptions, type StatsTarget } from './sampler.js';
import type { StatsView } from './types.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/cgroups/', import.meta.url));
const ID = '4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70a';
const PID = 22534;

/** A writable copy of the recorded v1 host, whose CPU counters a test can move on. */
class FakeHost {
  readonly dir: string;
  private usage = 124371332n;
  private userTicks = 197859n;

  constructor(dir: string) {
    this.dir = dir;
  }

  get cgroupRoot(): string {
    return join(this.dir, 'cgroup');
  }

  get procRoot(): string {
    return join(this.dir, 'proc');
  }

  /** The container uses `cpuNs` of CPU while the host's CPUs pass `ticks` ticks. */
  async advance(cpuNs: bigint, ticks: bigint): Promise<void> {
    this.usage += cpuNs;
    this.userTicks += ticks;
    // Replaced atomically, as the kernel's files never read half-written: a sampler may be reading.
    await replaceFile(join(this.cgroupRoot, 'cpuacct/berth', ID, 'cpuacct.usage'), `${this.usage}\n`);
    const statPath = join(this.procRoot, 'stat');
    const lines = (await readFile(statPath, 'utf8')).split('\n');
    lines[0] = `cpu  ${this.userTicks} 0 41263 339538 2308 0 737 51 0 0`;
    await replaceFile(statPath, lines.join('\n'));
  }
}

async function replaceFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.new`, text);
  await rename(`${path}.new`, path);
}

describe('StatsService', () => {
  let host: FakeHost;
  let target: StatsTarget | undefined;
  let services: StatsService[] = [];

  const running = (): StatsTarget => ({
    id: ID,
    name: '/web',
    running: true,
    pid: PID,
    cgroupPath: `/berth/${ID}`,
  });

  function service(options: Partial<StatsServiceOptions> = {}): StatsService {
    const s = new StatsService({
      listRunning: () => (target?.running ? [target] : []),
      lookup: (id) => (target && id === target.id ? target : undefined),
      cgroupRoot: host.cgroupRoot,
      procRoot: host.procRoot,
      backgroundIntervalMs: 0,
      ...options,
    });
    services.push(s);
    return s;
  }

  before(async () => {
    host = new FakeHost(await mkdtemp(join(tmpdir(), 'berth-stats-')));
  });

  beforeEach(async () => {
    for (const s of services) s.close();
    services = [];
    await rm(host.dir, { recursive: true, force: true });
    await cp(join(FIXTURES, 'v1'), host.dir, { recursive: true });
    host = new FakeHost(host.dir);
    target = running();
  });

  after(async () => {
    for (const s of services) s.close();
    await rm(host.dir, { recursive: true, force: true });
  });

  it('answers a first request with two samples warmupMs apart', async () => {
    const sleeps: number[] = [];
    const stats = service({
      sleep: async (ms) => {
        sleeps.push(ms);
        await host.advance(50_000_000n, 10n); // half of one CPU over 100 ms of the 2-CPU host's time
      },
    });
    const view = await stats.snapshot(ID);
    assert.deepEqual(sleeps, [100]);
    assert.ok(view?.sample && view.previous);
    assert.equal(view.name, '/web');
    assert.equal(view.previous.cpu_stats.cpu_usage.total_usage, 124371332n);
    assert.equal(view.sample.cpu_stats.cpu_usage.total_usage, 174371332n);
    assert.equal(cpuPercent(view.previous.cpu_stats, view.sample.cpu_stats), 100);
    assert.equal(view.sample.memory_stats.usage, 17190912n);
    assert.equal(view.sample.networks?.['eth0']?.rx_bytes, 9342n);
  });

  it('then answers at once from the samples it keeps', async () => {
    let sleeps = 0;
    const stats = service({ warmupMs: 5, sleep: (ms) => (sleeps++, delay(ms)) });
    const first = await stats.snapshot(ID);
    await delay(10);
    await host.advance(20_000_000n, 4n);
    const second = await stats.snapshot(ID, { previous: true });
    assert.equal(sleeps, 1, 'no warm-up the second time');
    assert.ok(first?.sample && second?.sample && second.previous);
    assert.equal(second.previous.read, first.sample.read, 'the newest stored sample is the previous one');
    assert.equal(cpuPercent(second.previous.cpu_stats, second.sample.cpu_stats), 100);
  });

  it('has a previous sample for any container the background sampling saw', async () => {
    const stats = service({ warmupMs: 5, sleep: () => Promise.reject(new Error('should not wait')) });
    await stats.sampleBackground();
    await delay(10);
    await host.advance(10_000_000n, 4n);
    const view = await stats.snapshot(ID);
    assert.ok(view?.previous && view.sample);
    assert.equal(cpuPercent(view.previous.cpu_stats, view.sample.cpu_stats), 50);
    assert.deepEqual(stats.counts(), { tracked: 1, hot: 1 }, 'asked once: now sampled every interval');
  });

  it('answers one-shot requests with one sample and no previous', async () => {
    const stats = service({ sleep: () => Promise.reject(new Error('should not wait')) });
    const view = await stats.snapshot(ID, { previous: false });
    assert.ok(view?.sample);
    assert.equal(view.previous, undefined);
  });

  it('a first request right after start need not wait (noteStarted)', async () => {
    const stats = service({ warmupMs: 5, sleep: () => Promise.reject(new Error('should not wait')) });
    stats.noteStarted(ID);
    await delay(10);
    assert.ok((await stats.snapshot(ID))?.previous);
  });

  it('answers zeros for a stopped container and nothing for an unknown one', async () => {
    const stats = service();
    target = { ...running(), running: false, pid: 0 };
    assert.deepEqual(await stats.snapshot(ID), {
      id: ID,
      name: '/web',
      sample: undefined,
      previous: undefined,
    });
    assert.equal(await stats.snapshot('nope'), undefined);
    target = undefined;
    assert.equal(await stats.snapshot(ID), undefined);
  });

  it('reads a container whose cgroup is gone as stopped', async () => {
    const stats = service();
    await rm(join(host.cgroupRoot, 'cpuacct/berth', ID), { recursive: true });
    const view = await stats.snapshot(ID);
    assert.equal(view?.sample, undefined);
  });

  it('finds the cgroup through /proc/<pid>/cgroup when it is not where the spec put it', async () => {
    const stats = service({ sleep: () => host.advance(1n, 1n) });
    target = { ...running(), cgroupPath: '/elsewhere/x' };
    assert.equal((await stats.snapshot(ID))?.sample?.memory_stats.usage, 17190912n);
  });

  it('streams one view per interval, each with the sample before, until the container is removed', async () => {
    const stats = service({ intervalMs: 20, warmupMs: 5, sleep: (ms) => delay(ms) });
    const views: StatsView[] = [];
    for await (const view of stats.watch(ID)) {
      views.push(view);
      await host.advance(1_000_000n, 1n);
      if (views.length === 4) target = undefined;
    }
    // a view sampled before the removal may still be waiting for the reader
    assert.ok(views.length === 4 || views.length === 5, 'the stream ends once the container is gone');
    for (let i = 1; i < views.length; i++) {
      const [prev, cur] = [views[i - 1], views[i]];
      assert.ok(prev?.sample && cur?.sample && cur.previous);
      // the sample before (or a later one, when the reader was too slow for a view)
      assert.ok(cur.previous.read >= prev.sample.read);
      assert.ok(cur.sample.read > cur.previous.read);
    }
    assert.equal(stats.counts().tracked, 0);
  });

  it('shares one sampler between streams and stops a stream on abort', async () => {
    const stats = service({ intervalMs: 20, lingerMs: 0, warmupMs: 5, sleep: (ms) => delay(ms) });
    const controller = new AbortController();
    const a = stats.watch(ID, controller.signal);
    const b = stats.watch(ID);
    await a.next();
    await b.next();
    const [va, vb] = await Promise.all([a.next(), b.next()]);
    assert.ok(va.value && vb.value);
    assert.equal(va.value.sample, vb.value.sample, 'the same sample object');
    assert.equal(stats.counts().hot, 1);
    controller.abort();
    assert.equal((await a.next()).done, true);
    await b.return(undefined);
    await delay(60);
    assert.equal(stats.counts().hot, 0, 'nobody left and no linger: sampling stops');
  });

  it('hands every stream of a container the same view objects from one tick, until the container is removed', async () => {
    const stats = service({ intervalMs: 20, lingerMs: 0, warmupMs: 5, sleep: (ms) => delay(ms) });
    const a: StatsView[] = [];
    const b: StatsView[] = [];
    const controller = new AbortController();
    const streamA = stats.stream(ID, (v) => a.push(v), controller.signal);
    const streamB = stats.stream(ID, (v) => {
      b.push(v);
      if (b.length === 4) target = undefined;
    });
    await streamB;
    assert.ok(b.length >= 4, 'first view, then one per interval');
    for (let i = 1; i < b.length; i++) {
      const [prev, cur] = [b[i - 1], b[i]];
      assert.ok(prev?.sample && cur?.sample && cur.previous);
      assert.ok(cur.sample.read > cur.previous.read);
      // From tick to tick, the sample before; the first view is a snapshot of its own.
      if (i >= 2) assert.equal(cur.previous.read, prev.sample.read);
    }
    // Past their (separate) first views, both streams got the very same tick views.
    const ticksA = new Set(a.slice(1));
    assert.ok(b.slice(1).filter((v) => ticksA.has(v)).length >= 2);
    await streamA;
    assert.equal(stats.counts().tracked, 0);
  });

  it('ends a stream on abort, and only the stream whose callback throws', async () => {
    const stats = service({ intervalMs: 15, lingerMs: 0, warmupMs: 5, sleep: (ms) => delay(ms) });
    const controller = new AbortController();
    let aborted = 0;
    let kept = 0;
    const failing = stats.stream(ID, () => {
      throw new Error('client gone');
    });
    const stopped = stats.stream(
      ID,
      () => {
        if (++aborted === 2) controller.abort();
      },
      controller.signal,
    );
    const survivor = stats.stream(ID, () => void kept++);
    await assert.rejects(failing, { message: 'client gone' });
    await stopped;
    assert.equal(aborted, 2);
    const before = kept;
    await delay(60);
    assert.ok(kept > before, 'the other stream goes on');
    assert.equal(stats.counts().hot, 1);
    target = undefined;
    await survivor;
    assert.equal(await stats.stream(ID, () => assert.fail('no such container')), undefined);
  });

  it('streams zeros while the container is stopped and real numbers once it runs again', async () => {
    const stats = service({ intervalMs: 15, warmupMs: 5, sleep: (ms) => delay(ms) });
    target = { ...running(), running: false, pid: 0 };
    const seen: boolean[] = [];
    for await (const view of stats.watch(ID)) {
      seen.push(view.sample !== undefined);
      if (seen.length === 2) target = running();
      if (seen.length === 5) break;
    }
    assert.deepEqual(seen.slice(0, 2), [false, false]);
    assert.equal(seen.at(-1), true);
  });

  it('keeps sampling for the linger time after a request, then stops', async () => {
    const stats = service({ intervalMs: 10, lingerMs: 40, warmupMs: 1, sleep: (ms) => delay(ms) });
    await stats.snapshot(ID);
    assert.equal(stats.counts().hot, 1);
    await delay(150);
    assert.equal(stats.counts().hot, 0);
  });

  it('keeps a history with the docker CLI numbers, bounded by `since`', async () => {
    const stats = service();
    await stats.sampleBackground();
    await host.advance(50_000_000n, 10n);
    await delay(5);
    await stats.sampleBackground();
    const h = stats.history(ID);
    assert.ok(h);
    assert.equal(h.name, 'web');
    assert.equal(h.intervalMs, 1000);
    assert.equal(h.samples.length, 1, 'a point needs a sample before it');
    const { time, ...point } = h.samples[0] ?? { time: '' };
    assert.ok(Math.abs(Date.parse(time) - Date.now()) < 5000);
    assert.deepEqual(point, {
      cpuPercent: 100,
      memoryUsage: 17190912,
      memoryLimit: 268435456,
      netRx: 9342,
      netTx: 1786,
      blockRead: 8388608,
      blockWrite: 8388608,
      pids: 3,
    });
    await delay(20);
    assert.equal(stats.history(ID, 10)?.samples.length, 0);
    assert.equal(stats.history('nope'), undefined);
  });

  it('forgets the samples of a process that was replaced (restart)', async () => {
    let waited = false;
    const stats = service({
      warmupMs: 5,
      sleep: (ms) => {
        waited = true;
        return delay(ms);
      },
    });
    await stats.sampleBackground();
    await delay(10);
    target = { ...running(), pid: PID + 1 };
    await stats.snapshot(ID);
    assert.equal(waited, true, "the old process's sample is no previous sample");
  });

  it('drops removed containers in the background pass', async () => {
    const stats = service();
    await stats.sampleBackground();
    assert.equal(stats.counts().tracked, 1);
    target = undefined;
    await stats.sampleBackground();
    assert.equal(stats.counts().tracked, 0);
  });
});
