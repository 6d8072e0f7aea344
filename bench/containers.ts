/**
 * Container benchmarks: `run --rm <busybox> true` latency through the
 * official docker CLI and through the raw API, 20 concurrent runs, daemon
 * and conmon memory, and the floor on the same machine (`runc run` of the
 * same bundle, with and without the overlay mount). Prints medians, p90s,
 * the issue's targets and whether they are met; asserts nothing.
 *
 * It starts its own berthd (TestDaemon) on temp dirs with a cgroup parent of
 * its own (`/berthbench-<random>`), and removes everything it made:
 * containers, mounts, cgroups (in every hierarchy), and the processes it
 * started (by PID). Then, unless `--no-breakdown`, it runs the same
 * `run --rm true` against an instrumented in-process engine and prints where
 * the time of one run goes, phase by phase.
 *
 * Run as root:
 *   npm run bench:containers
 *   node dist/bench/containers.js --runs 20 --concurrency 20 --floor-runs 10 --log-level debug
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { ApiServer } from '../src/api/server.js';
import { allRoutes } from '../src/api/routes/index.js';
import { mergeSettings } from '../src/daemon/config.js';
import { Engine } from '../src/engine/engine.js';
import { ConmonDriver } from '../src/engine/containers/runtime-driver.js';
import { findExecutable } from '../src/engine/containers/setup.js';
import { Conmon } from '../src/runtime/conmon.js';
import { silentLogger } from '../src/util/log.js';
import { docker } from '../test/helpers/cli.js';
import { TestDaemon } from '../test/helpers/daemon.js';
import { busyboxImage, dockerSaveTarball } from '../test/helpers/images.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '20' },
    batches: { type: 'string', default: '3' },
    'floor-runs': { type: 'string', default: '10' },
    'log-level': { type: 'string', default: 'debug' },
    'no-breakdown': { type: 'boolean', default: false },
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

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};
/** Wall-clock milliseconds with sub-millisecond resolution (comparable with file mtimes). */
const clock = (): number => performance.timeOrigin + performance.now();
const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : 'n/a');
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));
const stats = (xs: readonly number[]): string =>
  `median ${ms(median(xs)).padStart(9)}  p90 ${ms(pct(xs, 0.9)).padStart(9)}  min ${ms(Math.min(...xs)).padStart(9)}  (n=${xs.length})`;

// ---------------------------------------------------------------------------
// A small API client over the unix socket

interface HttpResult {
  status: number;
  body: string;
}

class Api {
  readonly socket: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });

  constructor(socket: string) {
    this.socket = socket;
  }

  request(
    method: string,
    path: string,
    body?: Buffer | string,
    headers: Record<string, string> = {},
  ): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, path, method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A JSON request; rejects unless the status is 2xx. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.request(
      method,
      path,
      payload,
      payload === undefined ? {} : { 'Content-Type': 'application/json' },
    );
    if (res.status < 200 || res.status > 299) {
      throw new Error(`${method} ${path}: ${res.status} ${res.body.trim()}`);
    }
    return (res.body.trim() === '' ? undefined : JSON.parse(res.body)) as T;
  }

  /**
   * `POST /containers/{id}/wait`: `headers` resolves once the daemon answered
   * (berth flushes the headers when the wait is registered), `result` with
   * the exit code.
   */
  wait(id: string, condition: string): { headers: Promise<void>; result: Promise<number> } {
    let onHeaders: () => void = () => undefined;
    const headers = new Promise<void>((resolve) => (onHeaders = resolve));
    const result = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          path: `/containers/${id}/wait?condition=${condition}`,
          method: 'POST',
          agent: this.agent,
        },
        (res) => {
          onHeaders();
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            try {
              const body = JSON.parse(text) as { StatusCode?: number; Error?: { Message?: string } | null };
              if (res.statusCode !== 200 || body.Error) {
                reject(new Error(`wait ${id}: ${res.statusCode} ${text.trim()}`));
              } else resolve(body.StatusCode ?? -1);
            } catch {
              reject(new Error(`wait ${id}: ${res.statusCode} ${text.trim()}`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    result.catch(() => onHeaders());
    return { headers, result };
  }

  /** Polls until the container is gone (404), up to `timeoutMs`. */
  async gone(id: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const res = await this.request('GET', `/containers/${id}/json`);
      if (res.status === 404) return;
      await sleep(5);
    }
    throw new Error(`container ${id} was not removed within ${timeoutMs} ms`);
  }

  async containerIds(): Promise<string[]> {
    const list = await this.json<{ Id: string }[]>('GET', '/containers/json?all=1');
    return list.map((c) => c.Id);
  }

  close(): void {
    this.agent.destroy();
  }
}

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
async function apiRun(api: Api, cmd: string[], condition: 'next-exit' | 'removed'): Promise<ApiRun> {
  const t0 = clock();
  const { Id: id } = await api.json<{ Id: string }>('POST', '/containers/create', {
    Image: IMAGE,
    Cmd: cmd,
    HostConfig: { AutoRemove: true },
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

async function loadBusybox(api: Api): Promise<void> {
  const tarball = await dockerSaveTarball([{ image: await busyboxImage(), repoTags: [`${IMAGE}:latest`] }]);
  const res = await api.request('POST', '/images/load?quiet=1', tarball, {
    'Content-Type': 'application/x-tar',
  });
  if (res.status !== 200 || /"error/.test(res.body)) throw new Error(`image load: ${res.status} ${res.body}`);
}

// ---------------------------------------------------------------------------
// Processes, mounts, cgroups

/** Runs a command; rejects with its stderr when it fails. */
function runCmd(command: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(cwd ? { cwd } : {}) });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')}: ${signal ?? code} ${stderr.trim()}`));
    });
  });
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : NaN;
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

/** Mount points at or below `dir` in this mount namespace, deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string): string =>
    s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** rmdir of a cgroup dir and every cgroup below it (cgroup dirs hold only control files). */
async function rmdirTree(path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined) return;
  for (const e of entries) if (e.isDirectory()) await rmdirTree(join(path, e.name));
  await rmdir(path).catch(() => undefined);
}

async function removeCgroupParent(parent: string): Promise<string[]> {
  const left: string[] = [];
  const rel = parent.replace(/^\/+/, '');
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const path = join('/sys/fs/cgroup', hierarchy, rel);
    await rmdirTree(path);
    if (
      await stat(path)
        .then(() => true)
        .catch(() => false)
    )
      left.push(path);
  }
  return left;
}

// ---------------------------------------------------------------------------
// The daemon's debug request log

interface RequestLine {
  method: string;
  url: string;
  status: number;
  ms: number;
}

function requestLines(log: string): RequestLine[] {
  const out: RequestLine[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('"request"')) continue;
    try {
      const v = JSON.parse(line) as Partial<RequestLine> & { msg?: string };
      if (v.msg === 'request' && typeof v.url === 'string' && typeof v.ms === 'number') {
        out.push({ method: v.method ?? '?', url: v.url, status: v.status ?? 0, ms: v.ms });
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
  linux?: { cgroupsPath?: string };
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
  config.process = { ...config.process, args: ['true'], terminal: false };
  return { config, dir, lowerdir: [join(dir, 'init'), ...layers].join(':') };
}

interface FloorResult {
  withMount: number[];
  mount: number[];
  umount: number[];
  runcRunInMountCycle: number[];
  runcRun: number[];
}

async function floorBench(
  input: FloorInput,
  runc: string,
  cgroupParent: string,
  runs: number,
): Promise<FloorResult> {
  const runcRoot = join(input.dir, 'runc-root');
  await mkdir(runcRoot, { recursive: true });
  const tag = randomBytes(3).toString('hex');
  const result: FloorResult = { withMount: [], mount: [], umount: [], runcRunInMountCycle: [], runcRun: [] };
  const writeBundle = async (bundle: string, rootfs: string, id: string): Promise<void> => {
    await mkdir(bundle, { recursive: true });
    const config: OciConfig = {
      ...input.config,
      root: { path: rootfs, readonly: input.config.root?.readonly ?? false },
      linux: { ...input.config.linux, cgroupsPath: `${cgroupParent}/${id}` },
    };
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
  };
  const runcRun = (bundle: string, id: string): Promise<void> =>
    runCmd(runc, ['--root', runcRoot, 'run', '--bundle', bundle, id]);

  // (a) overlay mount (fresh upper/work, as berth does) + config + runc run + umount
  for (let i = 0; i < runs + WARMUP; i++) {
    const id = `berthbench-floor-${tag}-m${i}`;
    const run = join(input.dir, `m${i}`);
    const t0 = clock();
    for (const d of ['upper', 'work', 'merged']) await mkdir(join(run, d), { recursive: true, mode: 0o700 });
    const tm0 = clock();
    await runCmd('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${input.lowerdir},upperdir=${join(run, 'upper')},workdir=${join(run, 'work')}`,
      join(run, 'merged'),
    ]);
    const tm1 = clock();
    await writeBundle(join(run, 'bundle'), join(run, 'merged'), id);
    const tr0 = clock();
    try {
      await runcRun(join(run, 'bundle'), id);
    } finally {
      const tr1 = clock();
      await runCmd('umount', [join(run, 'merged')]);
      const t1 = clock();
      if (i >= WARMUP) {
        result.withMount.push(t1 - t0);
        result.mount.push(tm1 - tm0);
        result.umount.push(t1 - tr1);
        result.runcRunInMountCycle.push(tr1 - tr0);
      }
    }
    await rm(run, { recursive: true, force: true });
  }

  // (b) runc run only, on a rootfs mounted once
  const shared = join(input.dir, 'shared');
  for (const d of ['upper', 'work', 'merged']) await mkdir(join(shared, d), { recursive: true, mode: 0o700 });
  await runCmd('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${input.lowerdir},upperdir=${join(shared, 'upper')},workdir=${join(shared, 'work')}`,
    join(shared, 'merged'),
  ]);
  try {
    for (let i = 0; i < runs + WARMUP; i++) {
      const id = `berthbench-floor-${tag}-r${i}`;
      const bundle = join(input.dir, `r${i}`);
      await writeBundle(bundle, join(shared, 'merged'), id);
      const t0 = clock();
      await runcRun(bundle, id);
      if (i >= WARMUP) result.runcRun.push(clock() - t0);
      await rm(bundle, { recursive: true, force: true });
    }
  } finally {
    await runCmd('umount', [join(shared, 'merged')]);
  }
  return result;
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
  svc.hooks.beforeStart.push(() => Promise.resolve(mark('hook.beforeStart')));
  svc.hooks.afterCreate.push(() => Promise.resolve(mark('hook.afterCreate')));
  svc.hooks.afterExit.push(() => Promise.resolve(mark('hook.afterExit')));
  svc.hooks.beforeRemove.push(() => Promise.resolve(mark('hook.beforeRemove')));
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

/** Phases of one run, in order; each spans from the first `from` mark to the first `to` mark after it. */
function phases(run: Mark[]): { name: string; ms: number }[] {
  const out: { name: string; ms: number }[] = [];
  const t = (label: string, after = -Infinity): number => at(run, label, after);
  const add = (name: string, a: number, b: number): void => {
    out.push({ name, ms: Number.isFinite(a) && Number.isFinite(b) ? b - a : NaN });
  };
  const c0 = t('c.create>');
  const svcCreate0 = t('svc.create>');
  const svcCreate1 = t('svc.create<');
  const c1 = t('c.create<');
  add('create: HTTP in (client → handler)', c0, svcCreate0);
  add('create: service (validate, dirs, init layer, 2 fsync’d saves)', svcCreate0, svcCreate1);
  {
    const saves = run.filter((m) => m.t >= svcCreate0 && m.t <= svcCreate1);
    const s = pairSum(saves, 'saveState') + pairSum(saves, 'saveRecord');
    add('  of which saveState+saveRecord (write+fsync+rename+fsync dir)', 0, s);
  }
  add('create: HTTP out', svcCreate1, c1);
  add('wait registered (headers back)', c1, t('c.wait.hdr'));
  const s0 = t('c.start>');
  const svcStart0 = t('svc.start>', s0);
  add('start: HTTP in', s0, svcStart0);
  const clear1 = t('clearExit<', svcStart0);
  add('start: rm+mkdir bundle dir, clear exit file', svcStart0, clear1);
  const lower = t('mountLowerSpec', clear1);
  add('start: rm+mkdir persist dir, isMounted (mountinfo)', clear1, lower);
  const hookStart = t('hook.beforeStart', lower);
  add('start: rm+mkdir work, mount(8) overlay, hosts/hostname/resolv.conf', lower, hookStart);
  const dc0 = t('driver.create>', hookStart);
  add('start: build OCI spec', hookStart, dc0);
  const cc0 = t('conmon.create>', dc0);
  add('start: mkdir bundle, write config.json', dc0, cc0);
  const cc1 = t('conmon.create<', cc0);
  add('start: conmon spawn → runc create → sync msg → pidfile', cc0, cc1);
  const rs0 = t('runc.start>', cc1);
  add('start: afterCreate hooks, pending attaches', cc1, rs0);
  const rs1 = t('runc.start<', rs0);
  add('start: `runc start`', rs0, rs1);
  const started = t('started', rs1);
  add('start: save state (fsync) + start event', rs1, started);
  const svcStart1 = t('svc.start<', started);
  const c3 = t('c.start<', svcStart1);
  add('start: HTTP out', svcStart1, c3);
  const exitfile = t('exitfile');
  add('exit: runc start returned → exit file written (true runs, conmon reaps)', rs1, exitfile);
  const re = t('readExit>', exitfile);
  add('exit: exit file → daemon handles it (detection latency)', exitfile, re);
  const st0 = t('runc.state>', re);
  add('exit: read exit/oom files', re, st0);
  const st1 = t('runc.state<', st0);
  add('exit: `runc state`', st0, st1);
  const del0 = t('runc.delete>', st1);
  const del1 = t('runc.delete<', del0);
  add('exit: `runc delete --force`', del0, del1);
  const afterExit = t('hook.afterExit', del1);
  const save0 = t('saveState>', afterExit);
  add('exit: unmount (isMounted + umount(8))', afterExit, save0);
  const save1 = t('saveState<', save0);
  add('exit: save state (fsync)', save0, save1);
  const die = t('event.die', save1);
  const cExit = t('c.exit');
  add('exit: die event → wait answered at client', die, cExit);
  const removing = t('hook.beforeRemove', die);
  add('cleanup: save "removing" state (fsync)', die, removing);
  const ddel1 = t('driver.delete<', removing);
  add('cleanup: `runc state` again (already deleted)', removing, ddel1);
  const rem0 = t('store.remove>', ddel1);
  add('cleanup: isMounted, rm bundle dir, clear exit file', ddel1, rem0);
  const rem1 = t('store.remove<', rem0);
  add('cleanup: rm container dir', rem0, rem1);
  add('cleanup: destroy event → removed-wait answered', rem1, t('c.removed'));
  add('TOTAL create → wait(next-exit) result', c0, cExit);
  add('TOTAL create → removed', c0, t('c.removed'));
  return out;
}

/** Sum of durations of the `label>`…`label<` pairs among `run`. */
function pairSum(run: Mark[], label: string): number {
  let sum = 0;
  let open: number | undefined;
  for (const m of [...run].sort((a, b) => a.t - b.t)) {
    if (m.label === `${label}>`) open = m.t;
    else if (m.label === `${label}<` && open !== undefined) {
      sum += m.t - open;
      open = undefined;
    }
  }
  return sum;
}

async function breakdown(base: string, cgroupParent: string, runs: number): Promise<void> {
  const root = join(base, 'inproc');
  const config = mergeSettings(
    {
      'data-root': join(root, 'data'),
      'exec-root': join(root, 'exec'),
      'cgroup-parent': cgroupParent,
      'log-level': 'warn',
    },
    {},
    join(root, 'daemon.json'),
  ).engine;
  const engine = await Engine.start(
    config,
    { version: 'bench', gitCommit: 'bench', buildTime: '' },
    silentLogger(),
  );
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
    const all: { name: string; ms: number }[][] = [];
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
      if (i >= WARMUP) all.push(phases(run));
    }
    console.log(
      `\n== Breakdown: one \`run --rm true\`, instrumented in-process engine (median of ${runs}) ==`,
    );
    console.log(
      '   (same code as berthd, same machine; the client shares the process, so HTTP legs are optimistic)',
    );
    const names = all[0]?.map((p) => p.name) ?? [];
    for (const [i, name] of names.entries()) {
      const xs = all.map((r) => r[i]?.ms ?? NaN).filter((x) => Number.isFinite(x));
      const line = `${name.padEnd(76)} ${ms(median(xs)).padStart(9)}  p90 ${ms(pct(xs, 0.9)).padStart(9)}`;
      console.log(name.startsWith('TOTAL') ? `  ${'-'.repeat(100)}\n  ${line}` : `  ${line}`);
    }
    const runcCalls = (r: Mark[]): number => r.filter((m) => /^runc\.\w+>$/.test(m.label)).length;
    console.log(
      `  runtime invocations per run besides conmon's create: ${runcCalls(marks)} (start, state, delete, state)`,
    );
  } finally {
    for (const id of await api.containerIds().catch(() => [] as string[])) {
      await api.request('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
    }
    api.close();
    await server.close(1000);
    await engine.stop();
  }
}

// ---------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('run as root: containers need mounts, cgroups and namespaces');
  const runc = await findExecutable('runc');
  if (!runc) throw new Error('runc is not installed');
  const base = await mkdtemp(join(tmpdir(), 'berthbench-'));
  const cgroupParent = `/berthbench-${randomBytes(4).toString('hex')}`;
  const daemonDir = join(base, 'd');
  await mkdir(daemonDir);
  let daemon: TestDaemon | undefined;
  let api: Api | undefined;

  console.log(
    `berth containers bench — node ${process.version}, ${runc}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(`  dir ${base}, cgroup parent ${cgroupParent}, berthd --log-level ${values['log-level']}`);

  try {
    daemon = await TestDaemon.start({
      dir: daemonDir,
      args: ['--cgroup-parent', cgroupParent, '--log-level', values['log-level'] ?? 'debug'],
    });
    api = new Api(daemon.socket);
    await sleep(1000);
    const rssIdle = await rssKb(daemon.pid);
    await loadBusybox(api);

    // 1a. official docker CLI
    const cliVersion: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = clock();
      const r = await docker(daemon.host, ['version', '--format', '{{.Server.Version}}']);
      if (r.code !== 0) throw new Error(`docker version: ${r.stderr}`);
      cliVersion.push(clock() - t0);
    }
    let logMark = daemon.logs.length;
    const cli: number[] = [];
    for (let i = 0; i < RUNS + WARMUP; i++) {
      const t0 = clock();
      const r = await docker(daemon.host, ['run', '--rm', IMAGE, 'true']);
      const t = clock() - t0;
      if (r.code !== 0) throw new Error(`docker run --rm ${IMAGE} true: exit ${r.code}: ${r.stderr}`);
      if (i >= WARMUP) cli.push(t);
    }
    const cliLog = daemon.logs.slice(logMark);

    // 1b. raw API, wait(next-exit)
    logMark = daemon.logs.length;
    const apiRuns: ApiRun[] = [];
    for (let i = 0; i < RUNS + WARMUP; i++) {
      const r = await apiRun(api, ['true'], 'next-exit');
      await api.gone(r.id); // outside the timing: the next run starts on a quiet daemon
      if (i >= WARMUP) apiRuns.push(r);
    }
    const apiLog = daemon.logs.slice(logMark);
    const apiRemoved: number[] = [];
    for (let i = 0; i < RUNS; i++) apiRemoved.push((await apiRun(api, ['true'], 'removed')).total);

    // 2. concurrent runs
    logMark = daemon.logs.length;
    const batchWall: number[] = [];
    const batchEach: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const t0 = clock();
      const runs = await Promise.all(
        Array.from({ length: CONCURRENCY }, () => apiRun(api!, ['true'], 'next-exit')),
      );
      batchWall.push(clock() - t0);
      batchEach.push(...runs.map((r) => r.total));
      for (const r of runs) await api.gone(r.id);
    }
    const concurrentLog = daemon.logs.slice(logMark);
    const rssAfterRuns = await rssKb(daemon.pid);

    // 3. 20 running containers: daemon and conmon memory
    const sleepers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const { Id } = await api!.json<{ Id: string }>('POST', '/containers/create', {
          Image: IMAGE,
          Cmd: ['sleep', '600'],
        });
        await api!.json('POST', `/containers/${Id}/start`);
        return Id;
      }),
    );
    await sleep(1000);
    const rssWith20 = await rssKb(daemon.pid);
    const ids = new Set(sleepers);
    const conmons = await findProcesses(
      (argv) =>
        basename(argv[0] ?? '') === 'conmon' && argv.some((a, i) => a === '-c' && ids.has(argv[i + 1] ?? '')),
    );
    const conmonRss = await Promise.all(conmons.map((p) => rssKb(p).catch(() => NaN)));

    // 4 (prep). a running container's bundle, for the floor
    const imageInfo = await api.json<{ GraphDriver?: { Data?: { UpperDir?: string; LowerDir?: string } } }>(
      'GET',
      `/images/${IMAGE}/json`,
    );
    const floorInput = await prepareFloor(
      daemon.execRoot,
      sleepers[0] ?? '',
      imageInfo.GraphDriver?.Data ?? {},
      join(base, 'floor'),
    );

    const tRemove = clock();
    await Promise.all(sleepers.map((id) => api!.json('DELETE', `/containers/${id}?force=1`)));
    const removeAll = clock() - tRemove;
    await sleep(1000);
    const rssAfterRemove = await rssKb(daemon.pid);

    // 4. the floor
    const floor = await floorBench(floorInput, runc, cgroupParent, FLOOR_RUNS);

    // ---- report --------------------------------------------------------------
    console.log(`\n== 1. run --rm ${IMAGE} true, sequential (${RUNS} runs after ${WARMUP} warm-up) ==`);
    console.log(`  docker CLI  \`docker run --rm ${IMAGE} true\`        ${stats(cli)}`);
    console.log(`  raw API     create+wait(next-exit)+start+result   ${stats(apiRuns.map((r) => r.total))}`);
    console.log(`    create                                        ${stats(apiRuns.map((r) => r.create))}`);
    console.log(
      `    wait registered                               ${stats(apiRuns.map((r) => r.waitHeaders))}`,
    );
    console.log(`    start                                         ${stats(apiRuns.map((r) => r.start))}`);
    console.log(`    start answered → wait result                  ${stats(apiRuns.map((r) => r.exit))}`);
    console.log(`  raw API     same, wait(removed) as docker run --rm does  ${stats(apiRemoved)}`);
    console.log(`  (CLI fixed cost: \`docker version\` against berthd  ${stats(cliVersion)})`);

    console.log(`\n== 2. ${CONCURRENCY} concurrent run --rm true (API, all at once; ${BATCHES} batches) ==`);
    console.log(
      `  wall time per batch: ${batchWall.map((x) => ms(x)).join(', ')}  → median ${ms(median(batchWall))}`,
    );
    console.log(`  per-container latency inside the batches        ${stats(batchEach)}`);
    console.log(`  throughput ${(CONCURRENCY / (median(batchWall) / 1000)).toFixed(1)} containers/s`);

    console.log('\n== 3. memory ==');
    console.log(`  berthd VmRSS idle after start            ${mb(rssIdle)}`);
    console.log(`  berthd VmRSS after the runs above         ${mb(rssAfterRuns)}`);
    console.log(`  berthd VmRSS with 20 running containers   ${mb(rssWith20)}`);
    console.log(
      `  conmon VmRSS, ${conmons.length} processes: total ${mb(conmonRss.reduce((a, b) => a + b, 0))}, each ~${mb(median(conmonRss))}`,
    );
    console.log(
      `  berthd VmRSS after removing them          ${mb(rssAfterRemove)}  (force-removing 20 took ${ms(removeAll)})`,
    );

    console.log(`\n== 4. floor: runc run of the same bundle (${FLOOR_RUNS} runs after ${WARMUP} warm-up) ==`);
    console.log(`  mount overlay + runc run + umount         ${stats(floor.withMount)}`);
    console.log(`    mount(8)                                ${stats(floor.mount)}`);
    console.log(`    runc run                                ${stats(floor.runcRunInMountCycle)}`);
    console.log(`    umount(8)                               ${stats(floor.umount)}`);
    console.log(`  runc run only (rootfs mounted once)       ${stats(floor.runcRun)}`);

    console.log("\n== Per endpoint, from berthd's debug request log (handler time, ms) ==");
    printEndpoints('docker CLI runs', cliLog);
    printEndpoints('raw API runs', apiLog);
    printEndpoints(`${CONCURRENCY} concurrent`, concurrentLog);

    const floorMs = median(floor.withMount);
    const rows: [string, number, number][] = [
      ['berth, docker CLI path', median(cli), pct(cli, 0.9)],
      [
        'berth, raw API path (wait next-exit)',
        median(apiRuns.map((r) => r.total)),
        pct(
          apiRuns.map((r) => r.total),
          0.9,
        ),
      ],
      ['berth, raw API path (wait removed)', median(apiRemoved), pct(apiRemoved, 0.9)],
      ['floor: mount + runc run + umount', floorMs, pct(floor.withMount, 0.9)],
      ['floor: runc run only', median(floor.runcRun), pct(floor.runcRun, 0.9)],
    ];
    console.log('\n== Summary: run --rm true ==');
    console.log(
      `  ${'path'.padEnd(40)} ${'median'.padStart(10)} ${'p90'.padStart(10)} ${'vs floor'.padStart(10)}`,
    );
    for (const [name, med, p90] of rows) {
      console.log(
        `  ${name.padEnd(40)} ${ms(med).padStart(10)} ${ms(p90).padStart(10)} ${`${med - floorMs >= 0 ? '+' : ''}${(med - floorMs).toFixed(1)}`.padStart(10)}`,
      );
    }
    console.log(
      `  ${'Debian Docker (from the issue)'.padEnd(40)} ${`~${DOCKER_REFERENCE_MS} ms`.padStart(10)}`,
    );
    console.log(
      `\n  targets: < ${TARGET_MS} ms (half of Docker's ~${DOCKER_REFERENCE_MS} ms) and within ${FLOOR_MARGIN_MS} ms of the floor (${ms(floorMs)}, mount included)`,
    );
    for (const [name, med] of rows.slice(0, 2)) {
      const a = med < TARGET_MS;
      const b = med - floorMs <= FLOOR_MARGIN_MS;
      console.log(
        `  ${name.padEnd(40)} < ${TARGET_MS} ms: ${a ? 'MET' : 'MISSED'} (${ms(med)});  floor + ${FLOOR_MARGIN_MS} ms: ${b ? 'MET' : 'MISSED'} (+${(med - floorMs).toFixed(1)} ms)`,
      );
    }
    console.log(
      `  load average now ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    if (api) {
      for (const id of await api.containerIds().catch(() => [] as string[])) {
        await api.request('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
      }
      api.close();
    }
    await daemon?.stop();
  }

  try {
    if (!values['no-breakdown']) await breakdown(base, cgroupParent, RUNS);
  } finally {
    await cleanup(base, cgroupParent);
  }
}

/**
 * Removes what the bench left: conmon/runc processes of its own (their
 * command lines name its unique temp dir; killed by PID), mounts under the
 * temp dir, the temp dir, and the cgroup parent in every hierarchy. berthd
 * itself was stopped (by PID) before this.
 */
async function cleanup(base: string, cgroupParent: string): Promise<void> {
  const leftovers = await findProcesses(
    (argv) => ['conmon', 'runc'].includes(basename(argv[0] ?? '')) && argv.some((a) => a.includes(base)),
  );
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (leftovers.length > 0)
    console.log(`  cleanup: killed ${leftovers.length} leftover conmon/runc processes`);
  await sleep(200);
  for (const target of await mountsUnder(base)) {
    await runCmd('umount', [target]).catch(() => runCmd('umount', ['-l', target]).catch(() => undefined));
  }
  const mounted = await mountsUnder(base);
  if (mounted.length === 0) await rm(base, { recursive: true, force: true });
  else console.log(`  cleanup: still mounted, ${base} kept: ${mounted.join(', ')}`);
  const left = await removeCgroupParent(cgroupParent);
  if (left.length > 0) console.log(`  cleanup: cgroups left: ${left.join(', ')}`);
}

await main();
