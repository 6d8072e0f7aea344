import { setImmediate as yieldToLoop, setTimeout as delay } from 'node:timers/promises';

import { nowNano } from '../../util/time.js';
import {
  DEFAULT_CGROUP_ROOT,
  DEFAULT_PROC_ROOT,
  cgroupExists,
  cgroupPaths,
  detectLayout,
  readCgroupStats,
  readMachineMemory,
  readNetworks,
  readProcCgroupPaths,
  readSystemCpu,
  type CgroupLayout,
  type CgroupPaths,
} from './cgroup.js';
import { blockIO, cpuPercent, memoryUsage, networkIO } from './formulas.js';
import type { StatsSample, StatsView } from './types.js';

/** What the sampler needs to know about a container; the engine supplies it. */
export interface StatsTarget {
  /** Full container ID. */
  id: string;
  /** Docker's name, with the leading slash. */
  name: string;
  /** Running or paused (a paused container's cgroup is still read, as Docker does). */
  running: boolean;
  /** The container's init pid (0 when it does not run). */
  pid: number;
  /** The cgroup as the OCI spec's cgroupsPath gives it, e.g. `/berth/<id>`. */
  cgroupPath: string;
  /** Host networking: Docker reports no `networks` then. */
  hostNetwork?: boolean;
}

export interface StatsServiceOptions {
  /** The running containers. */
  listRunning: () => readonly StatsTarget[];
  /** A container by full ID, running or not; undefined once it is removed. */
  lookup: (id: string) => StatsTarget | undefined;
  cgroupRoot?: string;
  procRoot?: string;
  /** Forced layout (tests); detected from `cgroupRoot` otherwise. */
  layout?: CgroupLayout;
  /** Sampling interval of watched containers (Docker's: 1 s). */
  intervalMs?: number;
  /** How long a container keeps being sampled after its last watcher left. */
  lingerMs?: number;
  /** Sampling interval of every other running container; 0 turns that off. */
  backgroundIntervalMs?: number;
  /** The gap between the two samples of a first request, and the shortest CPU window answered. */
  warmupMs?: number;
  /** How far back the history goes. */
  historyMs?: number;
  /** Waits `ms` (tests replace it to change the cgroup files between two samples). */
  sleep?: (ms: number) => Promise<void>;
}

/** One point of a container's history (the berth extension endpoint). */
export interface HistoryPoint {
  /** RFC 3339 time of the sample. */
  time: string;
  /** The docker CLI's CPU % against the sample before. */
  cpuPercent: number;
  /** The docker CLI's memory usage: usage less inactive page cache, bytes. */
  memoryUsage: number;
  memoryLimit: number;
  /** Bytes received and sent since the container started, all interfaces. */
  netRx: number;
  netTx: number;
  /** Bytes read from and written to block devices since the container started. */
  blockRead: number;
  blockWrite: number;
  pids: number;
}

export interface StatsHistory {
  id: string;
  /** The container's name, without Docker's leading slash. */
  name: string;
  /** The interval of samples while the container is watched; unwatched ones are `backgroundIntervalMs` apart. */
  intervalMs: number;
  samples: HistoryPoint[];
}

const NS_PER_MS = 1_000_000n;

interface StoredPoint extends Omit<HistoryPoint, 'time'> {
  timeMs: number;
}

/** A bounded ring of history points, oldest first. */
class History {
  private readonly items: StoredPoint[] = [];
  private start = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  push(point: StoredPoint): void {
    if (this.items.length < this.capacity) this.items.push(point);
    else {
      this.items[this.start] = point;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  newestMs(): number {
    if (this.items.length === 0) return 0;
    return this.items[(this.start + this.items.length - 1) % this.items.length]?.timeMs ?? 0;
  }

  since(cutoffMs: number): StoredPoint[] {
    const ordered = [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
    return ordered.filter((p) => p.timeMs >= cutoffMs);
  }
}

/** What a tick hands its view to: one per open stream of the container. */
interface Subscriber {
  push(view: StatsView): void;
  end(): void;
}

/** A stream's mailbox: only the newest view is kept, so a slow reader skips samples instead of queueing them. */
class Subscription implements Subscriber {
  private pending: StatsView | undefined;
  private ended = false;
  private wake: (() => void) | undefined;

  push(view: StatsView): void {
    this.pending = view;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** The next view; undefined once the stream ended or `signal` aborted. */
  async next(signal?: AbortSignal): Promise<StatsView | undefined> {
    while (this.pending === undefined && !this.ended && signal?.aborted !== true) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.wake = undefined;
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    const view = this.pending;
    this.pending = undefined;
    return this.ended || signal?.aborted === true ? undefined : view;
  }
}

/**
 * A stream handed to a callback ({@link StatsService.stream}): each view is
 * passed on in the tick that sampled it, with no promise or queue per view.
 * Views sampled before the first one was passed on are held back (the
 * newest only) until then.
 */
class Listener implements Subscriber {
  /** Settles when the stream ends. */
  readonly ended: Promise<void>;
  /** What `onView` threw, which ended the stream. */
  failure: { error: unknown } | undefined;
  private readonly onView: (view: StatsView) => void;
  private live = false;
  private done = false;
  private held: StatsView | undefined;
  private resolveEnded: () => void = () => undefined;

  constructor(onView: (view: StatsView) => void) {
    this.onView = onView;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get isEnded(): boolean {
    return this.done;
  }

  /** Passes on the first view, then any held back, and every later one as it comes. */
  start(first: StatsView): void {
    this.deliver(first);
    this.live = true;
    const held = this.held;
    this.held = undefined;
    if (held) this.deliver(held);
  }

  push(view: StatsView): void {
    if (this.live) this.deliver(view);
    else this.held = view;
  }

  end(): void {
    this.done = true;
    this.live = false;
    this.resolveEnded();
  }

  private deliver(view: StatsView): void {
    if (this.done) return;
    try {
      this.onView(view);
    } catch (error) {
      // One failing stream must not stop the tick that feeds the others.
      this.failure = { error };
      this.end();
    }
  }
}

/** What the sampler holds for one container. */
class Tracked {
  readonly id: string;
  name: string;
  pid = 0;
  hostNetwork = false;
  paths: CgroupPaths | undefined;
  /** The newest stored sample and the one before it (same pid). */
  last: StatsSample | undefined;
  prev: StatsSample | undefined;
  readonly history: History;
  watchers = 0;
  lingerUntil = 0;
  /** Set while the container is sampled every interval (watched or lingering). */
  timer: NodeJS.Timeout | undefined;
  readonly subscribers = new Set<Subscriber>();

  constructor(target: StatsTarget, historyCapacity: number) {
    this.id = target.id;
    this.name = target.name;
    this.history = new History(historyCapacity);
  }
}

/**
 * Container statistics as Docker serves them, sampled once per container
 * however many clients ask.
 *
 * - **Watched containers** (a stats stream is open, or a request came in the
 *   last `lingerMs`, 30 s) are sampled every `intervalMs` (1 s) by one timer
 *   per container; every stream of that container gets the same sample,
 *   with the sample before as `precpu_stats`. Repeated `--no-stream` calls
 *   inside the linger window are answered from these samples.
 * - **All other running containers** are sampled every
 *   `backgroundIntervalMs` (10 s): cheap (a sample is a dozen pseudo-file
 *   reads, well under a millisecond), and it is what makes both of these
 *   work for any container, watched before or not: the history endpoint has
 *   the last `historyMs` (10 min) to show, and a one-shot request finds a
 *   previous sample to compute CPU % from.
 * - **A one-shot request** (`stream=false`) reads a fresh sample and answers
 *   at once, with a stored sample as `precpu_stats`: the newest at least
 *   half an interval old (so a watched container's CPU % covers about a
 *   second, as Docker's; an unwatched one's up to the 10 s since its last
 *   background sample), else the newest at least `warmupMs` old. Only when
 *   there is none (a container started a moment ago, or background
 *   sampling is off) does it take two samples `warmupMs` (100 ms) apart;
 *   dockerd always waits for two samples a second apart. So `docker stats
 *   --no-stream` over ten containers, whose requests the CLI sends in
 *   parallel, answers in about 100 ms at worst, with a CPU % that is
 *   correct for the window it covers (over 100 ms the host's USER_HZ clock
 *   gives it a resolution of a few percent).
 * - **Stopped containers** answer with Docker's zero stats; a stream of one
 *   goes on (zeros each interval, real numbers again once it restarts) and
 *   ends when the container is removed, as Docker's does.
 *
 * The engine supplies the containers through the two callbacks, so this
 * depends on nothing of the container service.
 */
export class StatsService {
  private readonly listRunning: () => readonly StatsTarget[];
  private readonly lookup: (id: string) => StatsTarget | undefined;
  private readonly cgroupRoot: string;
  private readonly procRoot: string;
  private readonly layout: CgroupLayout | undefined;
  private readonly machineMemory: bigint;
  readonly intervalMs: number;
  private readonly lingerMs: number;
  private readonly backgroundIntervalMs: number;
  private readonly warmupMs: number;
  private readonly historyMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly entries = new Map<string, Tracked>();
  private backgroundTimer: NodeJS.Timeout | undefined;
  private backgroundBusy = false;
  private closed = false;

  constructor(options: StatsServiceOptions) {
    this.listRunning = options.listRunning;
    this.lookup = options.lookup;
    this.cgroupRoot = options.cgroupRoot ?? DEFAULT_CGROUP_ROOT;
    this.procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
    this.layout = options.layout ?? detectLayout(this.cgroupRoot);
    this.machineMemory = readMachineMemory(this.procRoot);
    this.intervalMs = options.intervalMs ?? 1000;
    this.lingerMs = options.lingerMs ?? 30_000;
    this.backgroundIntervalMs = options.backgroundIntervalMs ?? 10_000;
    this.warmupMs = options.warmupMs ?? 100;
    this.historyMs = options.historyMs ?? 600_000;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
  }

  /** Starts background sampling, with a first pass now. */
  start(): void {
    if (this.backgroundIntervalMs <= 0 || this.backgroundTimer || this.closed) return;
    this.backgroundTimer = setInterval(() => void this.sampleBackground(), this.backgroundIntervalMs);
    this.backgroundTimer.unref();
    void this.sampleBackground();
  }

  /** Stops every timer and ends every stream. */
  close(): void {
    this.closed = true;
    clearInterval(this.backgroundTimer);
    this.backgroundTimer = undefined;
    for (const entry of this.entries.values()) this.drop(entry);
  }

  /** Takes a baseline sample of a container that just started, so its first request need not wait. */
  noteStarted(id: string): void {
    const target = this.lookup(id);
    if (!target?.running || this.closed) return;
    const entry = this.track(target);
    if (entry.timer) return;
    const sample = this.read(entry, target);
    if (sample) this.store(entry, sample);
  }

  /**
   * One stats answer (`stream=false`). With `previous` (Docker's default,
   * `one-shot=false`) it carries a previous sample for CPU %; without it
   * (`one-shot=true`) it is one fresh sample, as Docker's. Undefined when no
   * such container exists.
   */
  async snapshot(
    id: string,
    options: { previous: boolean } = { previous: true },
  ): Promise<StatsView | undefined> {
    const target = this.lookup(id);
    if (!target) return undefined;
    if (!target.running) return this.stoppedView(target);
    const entry = this.track(target);
    let current = this.read(entry, target);
    if (!current) return this.stoppedView(target);
    if (!options.previous) {
      if (!entry.last) this.store(entry, current);
      return { id: entry.id, name: entry.name, sample: current, previous: undefined };
    }
    let previous = this.previousFor(entry, current);
    if (!previous) {
      await this.sleep(this.warmupMs);
      const next = this.read(entry, target);
      if (!next || next.pid !== current.pid) return this.view(entry, current, undefined);
      previous = current;
      current = next;
    }
    this.keepHot(entry, previous, current);
    return this.view(entry, current, previous);
  }

  /**
   * A stats stream (`stream=true`): a first view at once (as
   * {@link snapshot}), then one per interval until the container is removed,
   * `signal` aborts or the service closes.
   */
  async *watch(id: string, signal?: AbortSignal): AsyncGenerator<StatsView, void, undefined> {
    const target = this.lookup(id);
    if (!target || this.closed) return;
    const entry = this.track(target);
    const sub = new Subscription();
    entry.watchers++;
    entry.subscribers.add(sub);
    try {
      const first = await this.snapshot(id);
      if (!first) return;
      this.ensureTimer(entry);
      // A stream waiting for its next sample keeps the process alive; a lingering sampler does not.
      entry.timer?.ref();
      yield first;
      for (;;) {
        const view = await sub.next(signal);
        if (view === undefined) return;
        yield view;
      }
    } finally {
      entry.watchers--;
      entry.subscribers.delete(sub);
      entry.lingerUntil = Date.now() + this.lingerMs;
      if (entry.watchers === 0) entry.timer?.unref();
    }
  }

  /**
   * A stats stream (`stream=true`) handed to `onView`: a first view at once
   * (as {@link snapshot}), then one per interval, passed on synchronously by
   * the tick that sampled it. Every stream of a container gets the same view
   * object, so what a caller derives from it (its encoding) can be computed
   * once per view. Resolves when the container is removed, `signal` aborts or
   * the service closes; rejects with what `onView` threw, if it threw.
   * {@link watch} is the same as an async iterator; this costs no promise per
   * view, which matters with many streams.
   */
  async stream(id: string, onView: (view: StatsView) => void, signal?: AbortSignal): Promise<void> {
    const target = this.lookup(id);
    if (!target || this.closed || signal?.aborted === true) return;
    const entry = this.track(target);
    const listener = new Listener(onView);
    const onAbort = (): void => listener.end();
    signal?.addEventListener('abort', onAbort, { once: true });
    entry.watchers++;
    entry.subscribers.add(listener);
    try {
      const first = await this.snapshot(id);
      if (!first || listener.isEnded) return;
      this.ensureTimer(entry);
      // A stream waiting for its next sample keeps the process alive; a lingering sampler does not.
      entry.timer?.ref();
      listener.start(first);
      await listener.ended;
      if (listener.failure) throw listener.failure.error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      entry.watchers--;
      entry.subscribers.delete(listener);
      entry.lingerUntil = Date.now() + this.lingerMs;
      if (entry.watchers === 0) entry.timer?.unref();
    }
  }

  /**
   * The stored history of a container, the last `sinceMs` of it (all of it
   * when absent); undefined when no such container exists.
   */
  history(id: string, sinceMs?: number): StatsHistory | undefined {
    const target = this.lookup(id);
    if (!target) return undefined;
    const span = sinceMs === undefined || sinceMs <= 0 ? this.historyMs : Math.min(sinceMs, this.historyMs);
    const points = this.entries.get(id)?.history.since(Date.now() - span) ?? [];
    return {
      id: target.id,
      name: target.name.replace(/^\//, ''),
      intervalMs: this.intervalMs,
      samples: points.map(({ timeMs, ...rest }) => ({ time: new Date(timeMs).toISOString(), ...rest })),
    };
  }

  /** Samples every running container nobody watches; drops what is gone. Runs on the background timer. */
  async sampleBackground(): Promise<void> {
    if (this.backgroundBusy || this.closed) return;
    this.backgroundBusy = true;
    try {
      const seen = new Set<string>();
      let n = 0;
      for (const target of this.listRunning()) {
        seen.add(target.id);
        const entry = this.track(target);
        if (entry.timer) continue;
        const sample = this.read(entry, target);
        if (sample) this.store(entry, sample);
        if (++n % 16 === 0) await yieldToLoop();
      }
      const staleBefore = Date.now() - this.historyMs;
      for (const entry of [...this.entries.values()]) {
        if (seen.has(entry.id) || entry.timer || entry.watchers > 0) continue;
        if (!this.lookup(entry.id) || entry.history.newestMs() < staleBefore) this.entries.delete(entry.id);
      }
    } finally {
      this.backgroundBusy = false;
    }
  }

  /** How many containers are tracked, and how many of them are sampled every interval. */
  counts(): { tracked: number; hot: number } {
    let hot = 0;
    for (const e of this.entries.values()) if (e.timer) hot++;
    return { tracked: this.entries.size, hot };
  }

  // ---- internals ------------------------------------------------------------

  private track(target: StatsTarget): Tracked {
    let entry = this.entries.get(target.id);
    if (!entry) {
      entry = new Tracked(target, Math.ceil(this.historyMs / Math.max(this.intervalMs, 1)) + 1);
      this.entries.set(target.id, entry);
    }
    entry.name = target.name;
    entry.hostNetwork = target.hostNetwork === true;
    if (target.pid !== entry.pid) {
      // A new process (restart): a new cgroup, and counters that start again.
      entry.pid = target.pid;
      entry.paths = undefined;
      entry.last = undefined;
      entry.prev = undefined;
    }
    return entry;
  }

  private pathsFor(entry: Tracked, target: StatsTarget): CgroupPaths | undefined {
    if (entry.paths || this.layout === undefined) return entry.paths;
    let paths = cgroupPaths(this.layout, this.cgroupRoot, target.cgroupPath);
    if (!cgroupExists(paths) && target.pid > 0) {
      // Not where the spec put it (another cgroup driver placed it): ask the process.
      paths = readProcCgroupPaths(this.layout, this.cgroupRoot, this.procRoot, target.pid) ?? paths;
    }
    entry.paths = paths;
    return paths;
  }

  /** One sample now; undefined when the cgroup cannot be read (the container exited). */
  private read(entry: Tracked, target: StatsTarget): StatsSample | undefined {
    const paths = this.pathsFor(entry, target);
    if (!paths) return undefined;
    const read = nowNano();
    // /proc/stat right before the cgroup's CPU counter, so both cover the same moment.
    const system = readSystemCpu(this.procRoot);
    const cg = readCgroupStats(paths, this.machineMemory);
    if (!cg) {
      entry.paths = undefined;
      return undefined;
    }
    return {
      read,
      pid: target.pid,
      cpu_stats: {
        cpu_usage: cg.cpu_usage,
        system_cpu_usage: system.systemUsage,
        online_cpus: system.onlineCpus,
        throttling_data: cg.throttling_data,
      },
      memory_stats: cg.memory_stats,
      blkio_stats: cg.blkio_stats,
      pids_stats: cg.pids_stats,
      networks: entry.hostNetwork ? null : readNetworks(this.procRoot, target.pid),
    };
  }

  /** Stores a sample as the newest and adds a history point against the one before. */
  private store(entry: Tracked, sample: StatsSample): void {
    const before = entry.last;
    if (before && before.pid === sample.pid && sample.read > before.read) {
      entry.history.push(historyPoint(sample, before));
    }
    entry.prev = before;
    entry.last = sample;
  }

  /**
   * The sample to compute CPU % against: the newest stored one at least half
   * an interval older than `current` (a window near Docker's second), else
   * the newest at least `warmupMs` older.
   */
  private previousFor(entry: Tracked, current: StatsSample): StatsSample | undefined {
    const candidates = [entry.last, entry.prev];
    for (const ms of [Math.max(this.warmupMs, this.intervalMs / 2), this.warmupMs]) {
      const minGap = BigInt(Math.round(ms)) * NS_PER_MS;
      for (const s of candidates) {
        if (s && s.pid === current.pid && current.read - s.read >= minGap) return s;
      }
    }
    return undefined;
  }

  /** Keeps a container sampled every interval for the linger time; a container turning hot takes these samples as its phase. */
  private keepHot(entry: Tracked, previous: StatsSample, current: StatsSample): void {
    entry.lingerUntil = Date.now() + this.lingerMs;
    if (entry.timer || this.closed) return;
    if (entry.last !== previous) {
      entry.last = undefined;
      this.store(entry, previous);
    }
    this.store(entry, current);
    this.ensureTimer(entry);
  }

  private ensureTimer(entry: Tracked): void {
    if (entry.timer || this.closed) return;
    entry.timer = setInterval(() => this.tick(entry), this.intervalMs);
    entry.timer.unref();
  }

  /** One interval of a watched container: sample, tell the streams, cool down when nobody is left. */
  private tick(entry: Tracked): void {
    const target = this.lookup(entry.id);
    if (!target) {
      this.drop(entry);
      return;
    }
    this.track(target);
    let view: StatsView;
    if (!target.running) {
      view = this.stoppedView(target);
    } else {
      const before = entry.last;
      const sample = this.read(entry, target);
      if (sample) {
        this.store(entry, sample);
        view = this.view(entry, sample, before && before.pid === sample.pid ? before : undefined);
      } else {
        view = this.stoppedView(target);
      }
    }
    for (const sub of entry.subscribers) sub.push(view);
    if (entry.watchers === 0 && Date.now() >= entry.lingerUntil) {
      clearInterval(entry.timer);
      entry.timer = undefined;
    }
  }

  /** Forgets a container: stops its timer and ends its streams. */
  private drop(entry: Tracked): void {
    clearInterval(entry.timer);
    entry.timer = undefined;
    for (const sub of entry.subscribers) sub.end();
    if (this.entries.get(entry.id) === entry) this.entries.delete(entry.id);
  }

  private view(entry: Tracked, sample: StatsSample, previous: StatsSample | undefined): StatsView {
    return {
      id: entry.id,
      name: entry.name,
      sample,
      previous: previous ? { read: previous.read, cpu_stats: previous.cpu_stats } : undefined,
    };
  }

  private stoppedView(target: StatsTarget): StatsView {
    return { id: target.id, name: target.name, sample: undefined, previous: undefined };
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function historyPoint(sample: StatsSample, before: StatsSample): StoredPoint {
  const block = blockIO(sample.blkio_stats);
  const net = networkIO(sample.networks);
  return {
    timeMs: Number(sample.read / NS_PER_MS),
    cpuPercent: round2(cpuPercent(before.cpu_stats, sample.cpu_stats)),
    memoryUsage: memoryUsage(sample.memory_stats),
    memoryLimit: Number(sample.memory_stats.limit),
    netRx: net.rx,
    netTx: net.tx,
    blockRead: block.read,
    blockWrite: block.write,
    pids: Number(sample.pids_stats.current),
  };
}
