/**
 * Container benchmarks: `run --rm <busybox> true` latency through the
 * official docker CLI and through the raw API, 20 concurrent runs, daemon
 * and conmon memory, and the floor on the same machine (`runc run` of the
 * same bundle, with and without the overlay mount). Prints medians, p90s,
 * the issue's targets and whether they are met; asserts nothing.
 *
 * It starts its own berthd (TestDaemon) on temp dirs with a cgroup parent of
 * its own (`/berthbench-<random>`) and a bridge of its own, and removes
 * everything it made: containers, mounts, cgroups (in every hierarchy),
 * bridges and their iptables chains, and the processes it started (by PID). Then, unless `--no-breakdown`, it runs the same
 * `run --rm true` against an instrumented in-process engine and prints where
 * the time of one run goes, phase by phase.
 *
 * Run as root:
 *   npm run bench:containers
 *   node dist/bench/containers.js --runs 20 --concurrency 20 --batches 3 --floor-runs 10 --log-level debug
 *   node dist/bench/containers.js --no-breakdown | --breakdown-only
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';

import { ApiServer } from '../src/api/server.js';
import { allRoutes } from '../src/api/routes/index.js';
import { mergeSettings } from '../src/daemon/config.js';
import { Engine } from '../src/engine/engine.js';
import { ConmonDriver } from '../src/engine/containers/runtime-driver.js';
import { findExecutable } from '../src/engine/containers/setup.js';
import { Conmon } from '../src/runtime/conmon.js';
import { cleanup as cleanupFirewall } from '../src/runtime/net/iptables.js';
import { silentLogger } from '../src/util/log.js';
import { docker } from '../test/helpers/cli.js';
import { TestDaemon } from '../test/helpers/daemon.js';
import {
  Api,
  loadBusybox,
  median,
  mountsUnder,
  ms,
  pct,
  removeCgroupParent,
  runCmd,
  sleep,
} from './common.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '20' },
    batches: { type: 'string', default: '3' },
    'floor-runs': { type: 'string', default: '10' },
    'log-level': { type: 'string', default: 'debug' },
    'no-breakdown': { type: 'boolean', default: false },
    'breakdown-only': { type: 'boolean', default: false },
  },
});

const RUNS = Math.max(10, Number(values.runs));
const CONCURRENCY = Math.max(1, Number(values.concurrency));
const BATCHES = Math.max(1, Number(values.batches));
const FLOOR_RUNS = Math.max(10, Number(values['floor-runs']));
const WARMUP = 2;
const IMAGE = 'busybox';
/** Debian's Docker on these machines, per `docker run --rm true` (from the issue; not measured here). */
const DOCKER_REFERENCE_MS = 420;
const TARGET_MS = DOCKER_REFERENCE_MS / 2;
const FLOOR_MARGIN_MS = 60;

// ---------------------------------------------------------------------------
// Statistics and time

const clock = (): number => performance.timeOrigin + performance.now();
const stats = (xs: readonly number[]): string =>
  `median ${ms(median(xs)).padStart(9)}  p90 ${ms(pct(xs, 0.9)).padStart(9)}  min ${ms(Math.min(...xs)).padStart(9)}  (n=${xs.length})`;

interface ApiRun {
  id: string;
  code: number;
  total: number;
  create: number;
  waitHeaders: number;
  start: number;
  /** From start's response to the wait's result. */
  exit: number;
}

/**
 * `docker run --rm` without the CLI: create (AutoRemove), wait (no attach),
 * start, then the wait's result. Wall time in this process.
 */
async function apiRun(
  api: Api,
  cmd: string[],
  condition: 'next-exit' | 'removed',
  networkMode?: string,
): Promise<ApiRun> {
  const t0 = clock();
  const { Id: id } = await api.json<{ Id: string }>('POST', '/containers/create', {
    Image: IMAGE,
    Cmd: cmd,
    HostConfig: { AutoRemove: true, ...(networkMode ? { NetworkMode: networkMode } : {}) },
  });
  const t1 = clock();
  const wait = api.wait(id, condition);
  await wait.headers;
  const t2 = clock();
  await api.json('POST', `/containers/${id}/start`);
  const t3 = clock();
  const code = await wait.result;
  const t4 = clock();
  if (code !== 0) throw new Error(`container ${id} exited with ${code}`);
  return { id, code, total: t4 - t0, create: t1 - t0, waitHeaders: t2 - t1, start: t3 - t2, exit: t4 - t3 };
}

// ---------------------------------------------------------------------------
// Processes, mounts, cgroups

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : NaN;
}

const execFileAsync = promisify(execFile);

/** Bridges the bench's daemons made; the final cleanup makes sure they are gone. */
const bridgesMade: string[] = [];

/** A 10.231.N.0/24 no route on this host uses yet (the test daemons' range). */
async function freeSubnet(): Promise<string> {
  const { stdout } = await execFileAsync('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (let i = 0; i < 200; i++) {
    const n = 1 + Math.floor(Math.random() * 250);
    if (!stdout.includes(`10.231.${n}.`)) return `10.231.${n}.1/24`;
  }
  throw new Error('no free 10.231.N.0/24 subnet');
}

/** Removes a bridge and the iptables chains an engine made for it (prefix as engine.ts derives it). */
async function removeBridge(bridge: string): Promise<void> {
  await execFileAsync('ip', ['link', 'del', bridge]).catch(() => undefined);
  await cleanupFirewall(
    bridge
      .replace(/[^A-Za-z0-9_]/g, '_')
      .toUpperCase()
      .slice(0, 16),
  ).catch(() => undefined);
}

const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;

/** PIDs of processes whose command line matches. */
async function findProcesses(match: (argv: string[]) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
      if (argv.length > 0 && match(argv)) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The daemon's debug request log

interface RequestLine {
  method: string;
  url: string;
  status: number;
  ms: number;
  /** When the daemon logged the answer (epoch ms, pino's `time`); NaN if absent. */
  time: number;
}

function requestLines(log: string): RequestLine[] {
  const out: RequestLine[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('"request"')) continue;
    try {
      const v = JSON.parse(line) as Partial<RequestLine> & { msg?: string };
      if (v.msg === 'request' && typeof v.url === 'string' && typeof v.ms === 'number') {
        out.push({
          method: v.method ?? '?',
          url: v.url,
          status: v.status ?? 0,
          ms: v.ms,
          time: typeof v.time === 'number' ? v.time : NaN,
        });
      }
    } catch {
      // not JSON
    }
  }
  return out;
}

function endpointOf(r: RequestLine): string {
  const [rawPath = '', query = ''] = r.url.split('?');
  const path = rawPath.replace(/^\/v\d+\.\d+/, '').replace(/[0-9a-f]{64}/g, '{id}');
  const condition = new URLSearchParams(query).get('condition');
  return `${r.method} ${path}${condition ? `?condition=${condition}` : ''}`;
}

function printEndpoints(title: string, log: string): void {
  const groups = new Map<string, number[]>();
  for (const r of requestLines(log)) {
    const key = endpointOf(r);
    groups.set(key, [...(groups.get(key) ?? []), r.ms]);
  }
  console.log(`  ${title}`);
  if (groups.size === 0) {
    console.log('    (no request lines: run with --log-level debug)');
    return;
  }
  for (const [key, xs] of [...groups.entries()].sort((a, b) => median(b[1]) - median(a[1]))) {
    console.log(
      `    ${key.padEnd(48)} n=${String(xs.length).padStart(3)}  median ${ms(median(xs)).padStart(9)}  p90 ${ms(pct(xs, 0.9)).padStart(9)}`,
    );
  }
}

/** One docker CLI run: when the bench spawned it, when it exited, and the daemon's log of its requests. */
interface CliRun {
  t0: number;
  t1: number;
  log: string;
}

/**
 * Where the docker CLI's time goes: for each endpoint, when its request
 * arrived and when it was answered, as offsets from the CLI's spawn (median
 * over the runs; the daemon logs answers with a 1 ms clock), and the CLI's exit.
 */
function printCliTimeline(runs: CliRun[]): void {
  const rows = new Map<string, { arrive: number[]; answer: number[] }>();
  for (const run of runs) {
    const seen = new Map<string, number>();
    for (const r of requestLines(run.log)) {
      if (!Number.isFinite(r.time)) continue;
      const base = endpointOf(r);
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      const key = n === 1 ? base : `${base} #${n}`;
      const row = rows.get(key) ?? { arrive: [], answer: [] };
      row.arrive.push(r.time - r.ms - run.t0);
      row.answer.push(r.time - run.t0);
      rows.set(key, row);
    }
  }
  console.log('  docker CLI runs: request arrived → answered, ms after the CLI was spawned (medians)');
  if (rows.size === 0) {
    console.log('    (no request lines: run with --log-level debug)');
    return;
  }
  const sorted = [...rows.entries()].sort((a, b) => median(a[1].arrive) - median(b[1].arrive));
  for (const [key, row] of sorted) {
    console.log(
      `    ${key.padEnd(48)} n=${String(row.arrive.length).padStart(3)}  ${ms(median(row.arrive)).padStart(9)} → ${ms(median(row.answer)).padStart(9)}`,
    );
  }
  console.log(
    `    ${'CLI exited'.padEnd(48)} n=${String(runs.length).padStart(3)}  ${''.padStart(9)}   ${ms(median(runs.map((r) => r.t1 - r.t0))).padStart(9)}`,
  );
}

// ---------------------------------------------------------------------------
// The floor: runc run of the same bundle

interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

interface OciConfig {
  process?: { args?: string[]; terminal?: boolean };
  root?: { path: string; readonly?: boolean };
  mounts?: OciMount[];
  hooks?: unknown;
  linux?: { cgroupsPath?: string; namespaces?: { type: string; path?: string }[] };
  [key: string]: unknown;
}

interface FloorInput {
  /** A berth container's config.json, read while it ran. */
  config: OciConfig;
  /** Copies of that container's init layer and bind-mounted files, under `dir`. */
  dir: string;
  /** Overlay lowerdir option value (init copy, then the image's layers, topmost first). */
  lowerdir: string;
}

/**
 * Copies what a running berth container's bundle refers to (its init layer
 * and the bind-mounted hosts/hostname/resolv.conf) so that the floor can run
 * the same config after that container is gone.
 */
async function prepareFloor(
  execRoot: string,
  id: string,
  graph: { UpperDir?: string; LowerDir?: string },
  dir: string,
): Promise<FloorInput> {
  const config = JSON.parse(
    await readFile(join(execRoot, 'b', id.slice(0, 12), 'config.json'), 'utf8'),
  ) as OciConfig;
  const containerDir = dirname(config.root?.path ?? '');
  await mkdir(join(dir, 'files'), { recursive: true });
  await cp(join(containerDir, 'init'), join(dir, 'init'), { recursive: true, preserveTimestamps: true });
  for (const m of config.mounts ?? []) {
    if (m.type === 'bind' && m.source !== undefined && m.source.startsWith(`${containerDir}/`)) {
      const copy = join(dir, 'files', basename(m.source));
      await cp(m.source, copy, { recursive: true });
      m.source = copy;
    }
  }
  const layers = [graph.UpperDir, ...(graph.LowerDir ? graph.LowerDir.split(':') : [])].filter(
    (l): l is string => l !== undefined && l !== '',
  );
  if (layers.length === 0) throw new Error('image inspect gave no GraphDriver layer dirs');
  delete config.hooks;
  // berth joins a namespace it made and wired beforehand; the floor makes its own, as runc does alone.
  const namespaces = config.linux?.namespaces;
  if (namespaces) config.linux = { ...config.linux, namespaces: namespaces.map(({ type }) => ({ type })) };
  config.process = { ...config.process, args: ['true'], terminal: false };
  return { config, dir, lowerdir: [join(dir, 'init'), ...layers].join(':') };
}

/**
 * The floor, one run at a time (so that the bench can interleave it with
 * berth's runs): `runc run` of the bundle, with the overlay mount and
 * umount around it (as berth must do) or on a rootfs mounted once, and
 * berth's own lifecycle without conmon (`runc create`, `runc start`, wait,
 * `runc delete`).
 */
class Floor {
  readonly input: FloorInput;
  readonly runc: string;
  readonly cgroupParent: string;
  private readonly root: string;
  private readonly tag = randomBytes(3).toString('hex');
  private readonly shared: string;
  private seq = 0;

  constructor(input: FloorInput, runc: string, cgroupParent: string) {
    this.input = input;
    this.runc = runc;
    this.cgroupParent = cgroupParent;
    this.root = join(input.dir, 'runc-root');
    this.shared = join(input.dir, 'shared');
  }

  private nextId(kind: string): string {
    return `berthbench-floor-${this.tag}-${kind}${this.seq++}`;
  }

  private async mountRootfs(dir: string): Promise<void> {
    await runCmd('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${this.input.lowerdir},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`,
      join(dir, 'merged'),
    ]);
  }

  private async writeBundle(bundle: string, rootfs: string, id: string): Promise<void> {
    await mkdir(bundle, { recursive: true });
    const config: OciConfig = {
      ...this.input.config,
      root: { path: rootfs, readonly: this.input.config.root?.readonly ?? false },
      linux: { ...this.input.config.linux, cgroupsPath: `${this.cgroupParent}/${id}` },
    };
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
  }

  private runc_(args: string[], quiet = false): Promise<void> {
    return runCmd(this.runc, ['--root', this.root, ...args], { quiet });
  }

  async open(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const d of ['upper', 'work', 'merged'])
      await mkdir(join(this.shared, d), { recursive: true, mode: 0o700 });
    await this.mountRootfs(this.shared);
  }

  async close(): Promise<void> {
    await runCmd('umount', [join(this.shared, 'merged')]).catch(() => undefined);
  }

  /** mkdir fresh upper/work/merged, mount(8), write config.json, runc run, umount(8). */
  async withMount(): Promise<{ total: number; mount: number; run: number; umount: number }> {
    const id = this.nextId('m');
    const dir = join(this.input.dir, id);
    const t0 = clock();
    for (const d of ['upper', 'work', 'merged']) await mkdir(join(dir, d), { recursive: true, mode: 0o700 });
    const tm0 = clock();
    await this.mountRootfs(dir);
    const tm1 = clock();
    const run = { t0: NaN, t1: NaN };
    try {
      await this.writeBundle(join(dir, 'bundle'), join(dir, 'merged'), id);
      run.t0 = clock();
      await this.runc_(['run', '--bundle', join(dir, 'bundle'), id]);
      run.t1 = clock();
    } finally {
      await runCmd('umount', [join(dir, 'merged')]);
    }
    const t1 = clock();
    await rm(dir, { recursive: true, force: true });
    return { total: t1 - t0, mount: tm1 - tm0, run: run.t1 - run.t0, umount: t1 - run.t1 };
  }

  /** runc run on the rootfs mounted once (config written before the clock starts). */
  async runOnly(): Promise<number> {
    const id = this.nextId('r');
    const bundle = join(this.input.dir, id);
    await this.writeBundle(bundle, join(this.shared, 'merged'), id);
    const t0 = clock();
    await this.runc_(['run', '--bundle', bundle, id]);
    const t = clock() - t0;
    await rm(bundle, { recursive: true, force: true });
    return t;
  }

  /**
   * berth's lifecycle without conmon, on the rootfs mounted once:
   * `runc create`, `runc start`, wait for the init to exit (polling its
   * /proc entry; PID 1 reaps late, so a zombie counts as exited), `runc delete`.
   */
  async lifecycle(): Promise<{ total: number; create: number; start: number; exit: number; del: number }> {
    const id = this.nextId('l');
    const bundle = join(this.input.dir, id);
    await this.writeBundle(bundle, join(this.shared, 'merged'), id);
    const pidFile = join(bundle, 'pid');
    const t0 = clock();
    await this.runc_(['create', '--bundle', bundle, '--pid-file', pidFile, id], true);
    const t1 = clock();
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    await this.runc_(['start', id]);
    const t2 = clock();
    for (;;) {
      const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
      if (st === '' || state === 'Z' || state === 'X') break;
      await sleep(1);
    }
    const t3 = clock();
    await this.runc_(['delete', id]);
    const t4 = clock();
    await rm(bundle, { recursive: true, force: true });
    return { total: t4 - t0, create: t1 - t0, start: t2 - t1, exit: t3 - t2, del: t4 - t3 };
  }
}

// ---------------------------------------------------------------------------
// Breakdown: the same run against an instrumented in-process engine

interface Mark {
  label: string;
  t: number;
}

let marks: Mark[] = [];
const mark = (label: string): void => {
  marks.push({ label, t: clock() });
};

function timeAsync<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  label: string,
): (...args: A) => Promise<R> {
  return async (...args: A): Promise<R> => {
    mark(`${label}>`);
    try {
      return await fn(...args);
    } finally {
      mark(`${label}<`);
    }
  };
}

/** First mark with `label` at or after `after`. */
function at(run: Mark[], label: string, after = -Infinity): number {
  let best = Infinity;
  for (const m of run) if (m.label === label && m.t >= after && m.t < best) best = m.t;
  return best;
}

/** Wraps the engine's services so that each step of a run leaves a mark. Test-only monkey patching. */
function instrument(engine: Engine, execRoot: string): void {
  const svc = engine.containers;
  svc.create = timeAsync(svc.create.bind(svc), 'svc.create');
  svc.start = timeAsync(svc.start.bind(svc), 'svc.start');
  const { driver, store } = svc.deps;
  driver.create = timeAsync(driver.create.bind(driver), 'driver.create');
  driver.clearExit = timeAsync(driver.clearExit.bind(driver), 'clearExit');
  driver.delete = timeAsync(driver.delete.bind(driver), 'driver.delete');
  const readExit = driver.readExit.bind(driver);
  driver.readExit = async (id: string): Promise<number | undefined> => {
    mark('readExit>');
    if (!marks.some((m) => m.label === 'exitfile')) {
      const st = await stat(join(execRoot, 'exits', id)).catch(() => undefined);
      if (st) marks.push({ label: 'exitfile', t: st.mtimeMs });
    }
    return readExit(id);
  };
  store.saveState = timeAsync(store.saveState.bind(store), 'saveState');
  store.saveRecord = timeAsync(store.saveRecord.bind(store), 'saveRecord');
  store.remove = timeAsync(store.remove.bind(store), 'store.remove');
  const layers = engine.images.service.layers;
  const lowerSpec = layers.mountLowerSpec.bind(layers);
  layers.mountLowerSpec = (chainId: string) => {
    mark('mountLowerSpec');
    return lowerSpec(chainId);
  };
  // A mark before and after the hooks other services registered (networks: resolv.conf, veths, unwire).
  for (const name of ['beforeStart', 'afterCreate', 'afterExit', 'beforeRemove'] as const) {
    const hooks: ((...args: never[]) => Promise<void>)[] = svc.hooks[name];
    hooks.unshift(() => Promise.resolve(mark(`hook.${name}.first`)));
    hooks.push(() => Promise.resolve(mark(`hook.${name}.last`)));
  }
  svc.startListeners.push(() => mark('started'));
  const publish = engine.events.publish.bind(engine.events);
  engine.events.publish = (input) => {
    const ev = publish(input);
    if (input.Type === 'container') mark(`event.${input.Action}`);
    return ev;
  };
  if (driver instanceof ConmonDriver) {
    // The driver's conmon launcher is private; reach it structurally for timing only.
    const inner = (driver as unknown as { conmon?: unknown }).conmon;
    if (inner instanceof Conmon) inner.create = timeAsync(inner.create.bind(inner), 'conmon.create');
    for (const name of driver.runtimes()) {
      const rt = driver.runtime(name);
      rt.start = timeAsync(rt.start.bind(rt), 'runc.start');
      rt.state = timeAsync(rt.state.bind(rt), 'runc.state');
      rt.delete = timeAsync(rt.delete.bind(rt), 'runc.delete');
    }
  }
}

/** What runs between two consecutive marks, where the bench knows it (labels without occurrence numbers). */
const STEPS: Record<string, string> = {
  'c.create> → svc.create>': 'HTTP in, body parse',
  'svc.create> → saveState>': 'create: validate, merge config, dirs, init layer',
  'saveState> → saveState<': 'save state.json (write, fsync, rename, fsync dir)',
  'saveRecord> → saveRecord<': 'save record.json (write, fsync, rename, fsync dir)',
  'svc.create< → event.create': 'publish create event',
  'c.start> → svc.start>': 'HTTP in',
  'svc.start> → clearExit>': 'rm + mkdir bundle dir',
  'clearExit< → mountLowerSpec': 'rm + mkdir persist dir, isMounted (reads mountinfo)',
  'mountLowerSpec → hook.beforeStart.first':
    'rm + mkdir work, mount(8) overlay, alongside: write hosts/hostname/resolv.conf',
  'mountLowerSpec → saveRecord>':
    'rm + mkdir work, mount(8) overlay; then mountVolumes saves the record (no volumes)',
  'saveRecord< → hook.beforeStart.first': 'write hosts, hostname, resolv.conf',
  'hook.afterCreate.first → hook.afterCreate.last':
    'networks: wait for the veth wiring begun while conmon created it (ip link add, nsenter ip -batch), hosts file',
  'hook.afterExit.first → hook.afterExit.last':
    'networks: addresses back, disconnect events (veths and netns file go in the background)',
  'runc.start> → exitfile': '`runc start` … (`true` exits, conmon writes the exit file)',
  'exitfile → runc.start<': '… `runc start` returns',
  'svc.start< → readExit>': 'exit handling was queued behind the start op',
  'driver.delete< → clearExit>': 'isMounted, rm bundle dir',
  'hook.afterExit.last → saveState>': 'resolve next-exit waiters; destroy: save "removing"',
  'event.destroy → c.removed': 'answer removed waiters (cleanup follows in the background)',
  'hook.beforeStart.first → hook.beforeStart.last':
    'beforeStart hooks (networks: resolv.conf, addresses, a spare netns or unshare --net=<file>; alongside the mount)',
  'hook.beforeStart.last → driver.create>': 'build the OCI spec',
  'driver.create> → conmon.create>': 'mkdir bundle, write config.json',
  'conmon.create> → conmon.create<': 'conmon: rm stale files, spawn, runc create, sync message, pid file',

  'runc.start> → runc.start<': '`runc start`',
  'runc.state> → runc.state<': '`runc state`',
  'runc.delete> → runc.delete<': '`runc delete --force`',
  'exitfile → readExit>': 'exit detection: fs.watch event, stat+read, queued behind the start op',
  'readExit> → driver.delete>': 'read exit code, OOM check',
  'driver.delete< → saveState>': 'unmount volumes, isMounted + umount(8) rootfs',

  'hook.beforeRemove.first → hook.beforeRemove.last': 'beforeRemove hooks',
  'store.remove> → store.remove<': 'rm -r container dir',
};

interface Segment {
  key: string;
  /** Start, from the run's first mark. */
  offset: number;
  ms: number;
}

/** A run as consecutive segments between its marks (sorted by time; repeated labels numbered). */
function segments(run: Mark[]): Segment[] {
  const sorted = [...run].sort((x, y) => x.t - y.t);
  const seen = new Map<string, number>();
  const named = sorted.map((m) => {
    const n = (seen.get(m.label) ?? 0) + 1;
    seen.set(m.label, n);
    return { ...m, key: n === 1 ? m.label : `${m.label}#${n}` };
  });
  const t0 = named[0]?.t ?? 0;
  const out: Segment[] = [];
  for (let i = 0; i + 1 < named.length; i++) {
    const a = named[i];
    const b = named[i + 1];
    if (a && b) out.push({ key: `${a.key} → ${b.key}`, offset: a.t - t0, ms: b.t - a.t });
  }
  return out;
}

/** Sum of durations of the `label>`…`label<` pairs among `run`, and how many there were. */
function pairSum(run: Mark[], label: string): { ms: number; count: number } {
  let sum = 0;
  let count = 0;
  let open: number | undefined;
  for (const m of [...run].sort((a, b) => a.t - b.t)) {
    if (m.label === `${label}>`) open = m.t;
    else if (m.label === `${label}<` && open !== undefined) {
      sum += m.t - open;
      count++;
      open = undefined;
    }
  }
  return { ms: sum, count };
}

/** Time from the first `from` mark to the first `to` mark after it. */
function span(run: Mark[], from: string, to: string): number {
  const a = at(run, from);
  return at(run, to, a) - a;
}

function printBreakdown(runs: Mark[][]): void {
  const line = (name: string, xs: number[], extra = ''): void => {
    const ok = xs.filter((x) => Number.isFinite(x));
    console.log(
      `  ${name.padEnd(72)} ${ms(median(ok)).padStart(9)}  p90 ${ms(pct(ok, 0.9)).padStart(9)}${extra}`,
    );
  };
  console.log('  -- as the client sees it');
  line(
    'create request',
    runs.map((r) => span(r, 'c.create>', 'c.create<')),
  );
  line(
    'wait registered',
    runs.map((r) => span(r, 'c.create<', 'c.wait.hdr')),
  );
  line(
    'start request',
    runs.map((r) => span(r, 'c.start>', 'c.start<')),
  );
  line(
    'start answered → wait(next-exit) answered',
    runs.map((r) => span(r, 'c.start<', 'c.exit')),
  );
  line(
    'wait(next-exit) answered → wait(removed) answered',
    runs.map((r) => span(r, 'c.exit', 'c.removed')),
  );
  line(
    'TOTAL create → exited (next-exit)',
    runs.map((r) => span(r, 'c.create>', 'c.exit')),
  );
  line(
    'TOTAL create → removed',
    runs.map((r) => span(r, 'c.create>', 'c.removed')),
  );

  console.log('  -- where the daemon spends it, per run (sum of every call of the kind)');
  const kinds: [string, string][] = [
    ['conmon.create', 'conmon (spawn → runc create → sync message), the create half of the runtime'],
    ['runc.start', '`runc start`'],
    ['runc.state', '`runc state` (before delete, and again at removal)'],
    ['runc.delete', '`runc delete --force`'],
    ['saveState', 'state.json saves (each: write, fsync, rename, fsync dir)'],
    ['saveRecord', 'record.json saves (same)'],
    ['store.remove', 'rm -r of the container dir'],
  ];
  for (const [label, what] of kinds) {
    const sums = runs.map((r) => pairSum(r, label));
    line(
      what,
      sums.map((x) => x.ms),
      `  ×${median(sums.map((x) => x.count))}`,
    );
  }
  line(
    'mount: rm+mkdir work, mount(8), (record save,) hosts/hostname/resolv.conf',
    runs.map((r) => span(r, 'mountLowerSpec', 'hook.beforeStart.first')),
  );
  for (const hook of ['beforeStart', 'afterCreate', 'afterExit', 'beforeRemove']) {
    line(
      `${hook} hooks (other services)`,
      runs.map((r) => span(r, `hook.${hook}.first`, `hook.${hook}.last`)),
    );
  }
  line(
    'exit detection: exit file mtime → daemon reads it',
    runs.map((r) => span(r, 'exitfile', 'readExit>')),
  );
  line(
    'runc start returned → exit file mtime (< 0: true exited first)',
    runs.map((r) => at(r, 'exitfile') - at(r, 'runc.start<')),
  );
  const runtimeCalls = runs.map((r) => r.filter((m) => /^runc\.\w+>$/.test(m.label)).length);
  console.log(`  runtime invocations per run besides conmon's create: ${median(runtimeCalls)}`);

  console.log('  -- timeline (consecutive marks; median offset from the create request, median duration)');
  const bySegment = new Map<string, { offsets: number[]; durations: number[] }>();
  for (const r of runs) {
    for (const seg of segments(r)) {
      const entry = bySegment.get(seg.key) ?? { offsets: [], durations: [] };
      entry.offsets.push(seg.offset);
      entry.durations.push(seg.ms);
      bySegment.set(seg.key, entry);
    }
  }
  const rows = [...bySegment.entries()]
    .filter(([, v]) => v.durations.length >= runs.length / 2)
    .sort((x, y) => median(x[1].offsets) - median(y[1].offsets));
  for (const [key, v] of rows) {
    const plain = key.replace(/#\d+/g, '');
    const what = STEPS[plain];
    console.log(
      `  @${ms(median(v.offsets)).padStart(9)} ${ms(median(v.durations)).padStart(9)}  ${key}${what ? `  [${what}]` : ''}`,
    );
  }
}

async function breakdown(base: string, cgroupParent: string, runs: number): Promise<void> {
  const root = join(base, 'inproc');
  // Networking as the test daemons have it: a bridge of its own, no masquerade or forwarding, DNS on loopback.
  const bridge = `btb${randomBytes(4).toString('hex')}0`;
  bridgesMade.push(bridge);
  const config = mergeSettings(
    {
      'data-root': join(root, 'data'),
      'exec-root': join(root, 'exec'),
      'cgroup-parent': cgroupParent,
      'log-level': 'warn',
      bridge,
      bip: await freeSubnet(),
      'default-address-pools': [{ base: '10.232.0.0/16', size: 24 }],
      'ip-masq': false,
      'ip-forward': false,
      dns: ['127.0.0.1'],
    },
    {},
    join(root, 'daemon.json'),
  ).engine;
  let engine: Engine;
  try {
    engine = await Engine.start(
      config,
      { version: 'bench', gitCommit: 'bench', buildTime: '' },
      silentLogger(),
    );
  } catch (err) {
    await removeBridge(bridge);
    throw err;
  }
  const server = new ApiServer({
    routes: allRoutes(engine),
    logger: silentLogger(),
    serverHeader: 'berth/bench',
    experimental: false,
  });
  const socket = join(root, 's.sock');
  await server.listen({ kind: 'unix', path: socket });
  const api = new Api(socket);
  try {
    await loadBusybox(api);
    instrument(engine, config.execRoot);
    const all: Mark[][] = [];
    for (let i = 0; i < runs + WARMUP; i++) {
      marks = [];
      mark('c.create>');
      const { Id: id } = await api.json<{ Id: string }>('POST', '/containers/create', {
        Image: IMAGE,
        Cmd: ['true'],
        HostConfig: { AutoRemove: true },
      });
      mark('c.create<');
      const next = api.wait(id, 'next-exit');
      const removed = api.wait(id, 'removed');
      await Promise.all([next.headers, removed.headers]);
      mark('c.wait.hdr');
      mark('c.start>');
      await api.json('POST', `/containers/${id}/start`);
      mark('c.start<');
      await next.result;
      mark('c.exit');
      await removed.result.catch(() => undefined);
      mark('c.removed');
      const run = marks;
      await sleep(20); // let late marks (destroy's tail) land
      if (i >= WARMUP) all.push(run);
    }
    console.log(
      `\n== Breakdown: one \`run --rm true\`, instrumented in-process engine (median of ${runs}) ==`,
    );
    console.log(
      '   (same code as berthd, same machine; the client shares the process, so HTTP legs are optimistic)',
    );
    printBreakdown(all);
  } finally {
    for (const id of await api.containerIds().catch(() => [] as string[])) {
      await api.request('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
    }
    api.close();
    await server.close(1000);
    await engine.stop();
    await removeBridge(bridge);
  }
}

// ---------------------------------------------------------------------------
// Main

/** What the daemon logged since `from` (an offset into its accumulated output). */
function logSince(daemon: TestDaemon, from: number): string {
  return daemon.logs.slice(from);
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'berthbench-'));
  const cgroupParent = `/berthbench-${randomBytes(4).toString('hex')}`;
  try {
    if (!values['breakdown-only']) await benchmarks(base, cgroupParent);
    if (!values['no-breakdown']) await breakdown(base, cgroupParent, RUNS);
  } finally {
    await cleanup(base, cgroupParent);
  }
}

/** Sections 1–4 and the summary, against a real berthd (stopped by PID at the end). */
async function benchmarks(base: string, cgroupParent: string): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('run as root: containers need mounts, cgroups and namespaces');
  const runc = await findExecutable('runc');
  if (!runc) throw new Error('runc is not installed');
  const daemonDir = join(base, 'd');
  await mkdir(daemonDir);
  let daemon: TestDaemon | undefined;
  let api: Api | undefined;
  let floor: Floor | undefined;
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');

  console.log(`berth containers bench — node ${process.version}, ${runc}, load average ${load()}`);
  console.log(`  dir ${base}, cgroup parent ${cgroupParent}, berthd --log-level ${values['log-level']}`);

  try {
    daemon = await TestDaemon.start({
      dir: daemonDir,
      args: ['--cgroup-parent', cgroupParent, '--log-level', values['log-level'] ?? 'debug'],
    });
    const d = daemon;
    bridgesMade.push(d.bridge);
    const a = (api = new Api(d.socket));
    const rss: [string, number][] = [];
    await sleep(1000);
    rss.push(['idle after start', await rssKb(d.pid)]);
    await loadBusybox(a);
    rss.push(['after loading busybox', await rssKb(d.pid)]);

    // The floor's bundle: a berth container's config.json, read while it runs.
    const imageInfo = await a.json<{ GraphDriver?: { Data?: { UpperDir?: string; LowerDir?: string } } }>(
      'GET',
      `/images/${IMAGE}/json`,
    );
    const { Id: probe } = await a.json<{ Id: string }>('POST', '/containers/create', {
      Image: IMAGE,
      Cmd: ['sleep', '600'],
    });
    await a.json('POST', `/containers/${probe}/start`);
    const floorInput = await prepareFloor(
      d.execRoot,
      probe,
      imageInfo.GraphDriver?.Data ?? {},
      join(base, 'floor'),
    );
    await a.json('DELETE', `/containers/${probe}?force=1`);
    const fl = (floor = new Floor(floorInput, runc, cgroupParent));
    await fl.open();

    // 1 and 4, interleaved so that load on the machine weighs on every path alike.
    const cliVersion: number[] = [];
    const cli: number[] = [];
    const apiRuns: ApiRun[] = [];
    const apiRemoved: number[] = [];
    const apiNone: number[] = [];
    const floorMount: Awaited<ReturnType<Floor['withMount']>>[] = [];
    const floorRun: number[] = [];
    const floorLife: Awaited<ReturnType<Floor['lifecycle']>>[] = [];
    let cliLog = '';
    const cliRuns: CliRun[] = [];
    let apiLog = '';
    const iterations = Math.max(RUNS, FLOOR_RUNS) + WARMUP;
    for (let i = 0; i < iterations; i++) {
      const keep = i >= WARMUP;
      if (i < RUNS + WARMUP) {
        let t0 = clock();
        const v = await docker(d.host, ['version', '--format', '{{.Server.Version}}']);
        if (v.code !== 0) throw new Error(`docker version: ${v.stderr}`);
        if (keep) cliVersion.push(clock() - t0);

        let from = d.logs.length;
        t0 = clock();
        const r = await docker(d.host, ['run', '--rm', IMAGE, 'true']);
        const t = clock() - t0;
        if (r.code !== 0) throw new Error(`docker run --rm ${IMAGE} true: exit ${r.code}: ${r.stderr}`);
        if (keep) {
          cli.push(t);
          // The answer to the last request may be logged just after the CLI saw it.
          await sleep(5);
          const log = logSince(d, from);
          cliLog += log;
          cliRuns.push({ t0, t1: t0 + t, log });
        }

        from = d.logs.length;
        const run = await apiRun(a, ['true'], 'next-exit');
        if (keep) {
          apiRuns.push(run);
          apiLog += logSince(d, from);
        }
        await a.gone(run.id, { pollMs: 5 }); // outside the timing: the next run starts on a quiet daemon

        const removed = await apiRun(a, ['true'], 'removed');
        if (keep) apiRemoved.push(removed.total);

        const none = await apiRun(a, ['true'], 'next-exit', 'none');
        if (keep) apiNone.push(none.total);
        await a.gone(none.id, { pollMs: 5 });
      }
      if (i < FLOOR_RUNS + WARMUP) {
        const m = await fl.withMount();
        const r = await fl.runOnly();
        const l = await fl.lifecycle();
        if (keep) {
          floorMount.push(m);
          floorRun.push(r);
          floorLife.push(l);
        }
      }
    }
    rss.push([`after ${(RUNS + WARMUP) * 4} sequential runs`, await rssKb(d.pid)]);

    // 2. concurrent runs, berth and the floor
    let from = d.logs.length;
    const batchWall: number[] = [];
    const batchEach: number[] = [];
    const floorBatchWall: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      let t0 = clock();
      const runs = await Promise.all(
        Array.from({ length: CONCURRENCY }, () => apiRun(a, ['true'], 'next-exit')),
      );
      batchWall.push(clock() - t0);
      batchEach.push(...runs.map((r) => r.total));
      for (const r of runs) await a.gone(r.id, { pollMs: 5 });
      t0 = clock();
      await Promise.all(Array.from({ length: CONCURRENCY }, () => fl.withMount()));
      floorBatchWall.push(clock() - t0);
    }
    const concurrentLog = logSince(d, from);
    rss.push([`after ${BATCHES}×${CONCURRENCY} concurrent runs`, await rssKb(d.pid)]);

    // 3. 20 running containers: daemon and conmon memory
    from = d.logs.length;
    const tStart20 = clock();
    const sleepers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const { Id } = await a.json<{ Id: string }>('POST', '/containers/create', {
          Image: IMAGE,
          Cmd: ['sleep', '600'],
        });
        await a.json('POST', `/containers/${Id}/start`);
        return Id;
      }),
    );
    const start20 = clock() - tStart20;
    await sleep(1000);
    rss.push(['with 20 running containers (sleep 600)', await rssKb(d.pid)]);
    const ids = new Set(sleepers);
    const conmons = await findProcesses(
      (argv) =>
        basename(argv[0] ?? '') === 'conmon' && argv.some((x, i) => x === '-c' && ids.has(argv[i + 1] ?? '')),
    );
    const conmonRss = await Promise.all(conmons.map((p) => rssKb(p).catch(() => NaN)));
    const tRemove = clock();
    await Promise.all(sleepers.map((id) => a.json('DELETE', `/containers/${id}?force=1`)));
    const removeAll = clock() - tRemove;
    const sleepersLog = logSince(d, from);
    await sleep(1000);
    rss.push(['after removing them', await rssKb(d.pid)]);

    // ---- report --------------------------------------------------------------
    console.log(
      `\n== 1. run --rm ${IMAGE} true, sequential (${RUNS} runs after ${WARMUP} warm-up, interleaved) ==`,
    );
    console.log(`  docker CLI  \`docker run --rm ${IMAGE} true\`          ${stats(cli)}`);
    console.log(
      `  raw API     create+wait(next-exit)+start+result     ${stats(apiRuns.map((r) => r.total))}`,
    );
    console.log(`    create                                          ${stats(apiRuns.map((r) => r.create))}`);
    console.log(
      `    wait registered                                 ${stats(apiRuns.map((r) => r.waitHeaders))}`,
    );
    console.log(`    start                                           ${stats(apiRuns.map((r) => r.start))}`);
    console.log(`    start answered → wait result                    ${stats(apiRuns.map((r) => r.exit))}`);
    console.log(`  raw API     same with wait(removed), as the CLI     ${stats(apiRemoved)}`);
    console.log(`  raw API     wait(next-exit), --network none         ${stats(apiNone)}`);
    console.log(`  CLI fixed cost: \`docker version\` against berthd   ${stats(cliVersion)}`);

    console.log(`\n== 2. ${CONCURRENCY} concurrent run --rm true (API, all at once; ${BATCHES} batches) ==`);
    console.log(
      `  berth wall time per batch: ${batchWall.map((x) => ms(x)).join(', ')}  → median ${ms(median(batchWall))}`,
    );
    console.log(`  berth per-container latency in the batches       ${stats(batchEach)}`);
    console.log(`  berth throughput ${(CONCURRENCY / (median(batchWall) / 1000)).toFixed(1)} containers/s`);
    console.log(
      `  floor (${CONCURRENCY} × mount + runc run + umount at once): ${floorBatchWall.map((x) => ms(x)).join(', ')}  → median ${ms(median(floorBatchWall))}`,
    );

    console.log('\n== 3. memory (VmRSS) ==');
    for (const [what, kb] of rss) console.log(`  berthd ${what.padEnd(42)} ${mb(kb)}`);
    console.log(
      `  conmon, ${conmons.length} processes: total ${mb(conmonRss.reduce((x, y) => x + y, 0))}, each ~${mb(median(conmonRss))}`,
    );
    console.log(`  (starting the 20 at once took ${ms(start20)}, force-removing them ${ms(removeAll)})`);

    console.log(`\n== 4. floor: the same bundle under runc (${FLOOR_RUNS} runs after ${WARMUP} warm-up) ==`);
    console.log(`  mount overlay + runc run + umount           ${stats(floorMount.map((f) => f.total))}`);
    console.log(`    mount(8)                                  ${stats(floorMount.map((f) => f.mount))}`);
    console.log(`    runc run                                  ${stats(floorMount.map((f) => f.run))}`);
    console.log(`    umount(8)                                 ${stats(floorMount.map((f) => f.umount))}`);
    console.log(`  runc run only (rootfs mounted once)         ${stats(floorRun)}`);
    console.log(`  runc create+start+wait+delete, no conmon    ${stats(floorLife.map((f) => f.total))}`);
    console.log(`    runc create                               ${stats(floorLife.map((f) => f.create))}`);
    console.log(`    runc start                                ${stats(floorLife.map((f) => f.start))}`);
    console.log(`    start returned → init exited              ${stats(floorLife.map((f) => f.exit))}`);
    console.log(`    runc delete                               ${stats(floorLife.map((f) => f.del))}`);

    console.log("\n== Per endpoint, from berthd's debug request log (handler time) ==");
    printEndpoints('docker CLI runs', cliLog);
    printCliTimeline(cliRuns);
    printEndpoints('raw API runs (wait next-exit)', apiLog);
    printEndpoints(`${CONCURRENCY} concurrent`, concurrentLog);
    printEndpoints('20 sleepers: create, start, force-remove', sleepersLog);

    const floorMs = median(floorMount.map((f) => f.total));
    const apiTotals = apiRuns.map((r) => r.total);
    const rows: [string, number, number][] = [
      ['berth, docker CLI path', median(cli), pct(cli, 0.9)],
      ['berth, raw API path (wait next-exit)', median(apiTotals), pct(apiTotals, 0.9)],
      ['berth, raw API path (wait removed)', median(apiRemoved), pct(apiRemoved, 0.9)],
      ['berth, raw API path, --network none', median(apiNone), pct(apiNone, 0.9)],
      [
        'floor: mount + runc run + umount',
        floorMs,
        pct(
          floorMount.map((f) => f.total),
          0.9,
        ),
      ],
      ['floor: runc run only', median(floorRun), pct(floorRun, 0.9)],
      [
        'floor: runc create/start/delete',
        median(floorLife.map((f) => f.total)),
        pct(
          floorLife.map((f) => f.total),
          0.9,
        ),
      ],
    ];
    console.log('\n== Summary: run --rm true ==');
    console.log(
      `  ${'path'.padEnd(40)} ${'median'.padStart(10)} ${'p90'.padStart(10)} ${'vs floor'.padStart(10)}`,
    );
    for (const [name, med, p90] of rows) {
      const diff = med - floorMs;
      console.log(
        `  ${name.padEnd(40)} ${ms(med).padStart(10)} ${ms(p90).padStart(10)} ${`${diff >= 0 ? '+' : ''}${diff.toFixed(1)}`.padStart(10)}`,
      );
    }
    console.log(
      `  ${'Debian Docker (from the issue)'.padEnd(40)} ${`~${DOCKER_REFERENCE_MS} ms`.padStart(10)}`,
    );
    console.log(
      `\n  targets: < ${TARGET_MS} ms (half of Docker's ~${DOCKER_REFERENCE_MS} ms), and within ${FLOOR_MARGIN_MS} ms of the floor (${ms(floorMs)}, mount included)`,
    );
    for (const [name, med] of rows.slice(0, 2)) {
      const underHalf = med < TARGET_MS;
      const nearFloor = med - floorMs <= FLOOR_MARGIN_MS;
      console.log(
        `  ${name.padEnd(40)} < ${TARGET_MS} ms: ${underHalf ? 'MET' : 'MISSED'} (${ms(med)});  floor + ${FLOOR_MARGIN_MS} ms: ${nearFloor ? 'MET' : 'MISSED'} (+${(med - floorMs).toFixed(1)} ms)`,
      );
    }
    console.log(`  load average now ${load()}`);
  } finally {
    await floor?.close();
    if (api) {
      for (const id of await api.containerIds().catch(() => [] as string[])) {
        await api.request('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
      }
      api.close();
    }
    if (daemon) {
      // TestDaemon.cleanup() stops it by PID and removes its bridge, iptables chains and dir;
      // unmount first whatever is still mounted below the dir (nothing, normally).
      if ((await mountsUnder(daemon.dir)).length > 0) {
        await daemon.stop();
        for (const target of await mountsUnder(daemon.dir))
          await runCmd('umount', ['-l', target]).catch(() => undefined);
      }
      await daemon.cleanup();
    }
  }
}

/**
 * Removes what the bench left: conmon/runc processes of its own (their
 * command lines name its unique temp dir) and processes in cgroups below its
 * parent, killed by PID; mounts under the temp dir; the temp dir; the
 * bridges (and their iptables chains) of its daemons; and the cgroup parent
 * in every hierarchy. berthd itself was stopped (by PID) before.
 */
async function cleanup(base: string, cgroupParent: string): Promise<void> {
  const leftovers = await findProcesses(
    (argv) => ['conmon', 'runc'].includes(basename(argv[0] ?? '')) && argv.some((a) => a.includes(base)),
  );
  // Container processes (and a `runc init` left waiting) sit in cgroups below the bench's parent.
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid || leftovers.includes(Number(name))) continue;
    const cgroups = await readFile(`/proc/${name}/cgroup`, 'utf8').catch(() => '');
    if (cgroups.split('\n').some((l) => l.includes(`:${cgroupParent}/`))) leftovers.push(Number(name));
  }
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (leftovers.length > 0)
    console.log(`  cleanup: killed ${leftovers.length} leftover processes: ${leftovers.join(' ')}`);
  await sleep(200);
  for (const target of await mountsUnder(base)) {
    await runCmd('umount', [target]).catch(() => runCmd('umount', ['-l', target]).catch(() => undefined));
  }
  const mounted = await mountsUnder(base);
  if (mounted.length === 0) await rm(base, { recursive: true, force: true });
  else console.log(`  cleanup: still mounted, ${base} kept: ${mounted.join(', ')}`);
  for (const bridge of bridgesMade) await removeBridge(bridge);
  const left = await removeCgroupParent(cgroupParent);
  if (left.length > 0) console.log(`  cleanup: cgroups left: ${left.join(', ')}`);
}

await main();
