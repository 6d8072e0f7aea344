/**
 * Container stats benchmarks against a real berthd with 10 running `sleep`
 * containers:
 *
 * 1. `docker stats --no-stream` (the official CLI) and `berth stats
 *    --no-stream`, with `docker ps -q` / `berth ps -q` as each CLI's fixed
 *    cost (process start, connection, one list), interleaved; then the raw
 *    API: `GET /containers/{id}/stats?stream=false` for one container and
 *    for all 10 in parallel, and the same with `one-shot=true`.
 * 2. berthd's CPU (utime+stime from /proc/<pid>/stat, and per thread) over
 *    a window of `--seconds` with 0 (idle, before any stats request), 1, 10
 *    and 50 concurrent watchers, each watcher one `stats?stream=true` per
 *    container (10 streams), read and discarded; then idle again while the
 *    containers linger hot.
 *
 * The docker CLI's `--no-stream` waits for its first 500 ms render tick
 * after the first answers arrive (cli/command/container/stats.go), so its
 * time is ≥ 500 ms whatever the daemon does; the API numbers are what the
 * daemon costs. Prints medians; asserts nothing. Traffic stays on the
 * daemon's unix socket. It starts its own berthd (TestDaemon) and removes
 * everything it made (containers, daemon by PID, bridge and iptables
 * chains, mounts, cgroups, leftover processes by PID).
 *
 * Run as root:
 *   npm run bench:stats
 *   node dist/bench/stats.js --containers 10 --runs 12 --api-runs 50 --watchers 1,10,50 --seconds 10
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { loadavg } from 'node:os';
import { parseArgs, promisify } from 'node:util';

import {
  cgroupPaths,
  detectLayout,
  readCgroupStats,
  readMachineMemory,
  readNetworks,
  readSystemCpu,
} from '../src/engine/stats/cgroup.js';
import { StatsService } from '../src/engine/stats/sampler.js';
import { statsJson } from '../src/api/wire/stats.js';
import { berth, docker, run } from '../test/helpers/cli.js';
import { TestDaemon } from '../test/helpers/daemon.js';
import { Api, clock, loadBusybox, median, mountsUnder, ms, runCmd, sleep, stats, sweep } from './common.js';

const { values } = parseArgs({
  options: {
    containers: { type: 'string', default: '10' },
    runs: { type: 'string', default: '12' },
    'api-runs': { type: 'string', default: '50' },
    watchers: { type: 'string', default: '1,10,50' },
    seconds: { type: 'string', default: '10' },
  },
});

const CONTAINERS = Math.max(1, Number(values.containers));
const RUNS = Math.max(10, Number(values.runs));
const API_RUNS = Math.max(10, Number(values['api-runs']));
const WATCHERS = (values.watchers ?? '1,10,50')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const WINDOW_S = Math.max(2, Number(values.seconds));
const IMAGE = 'busybox';
/** The docker CLI's render tick, which `--no-stream` waits for once. */
const CLI_TICK_MS = 500;
/** The issue's claim for `stats --no-stream` with 10 containers. */
const CLAIM_MS = 200;

// ---------------------------------------------------------------------------
// CPU of a process from /proc

const execFileAsync = promisify(execFile);

/** utime + stime from a stat file, in clock ticks. */
async function statTicks(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the comm: state is [0], utime is field 14 overall → [11], stime [12].
  return (Number(fields[11]) || 0) + (Number(fields[12]) || 0);
}

interface Ticks {
  /** The whole process (/proc/<pid>/stat). */
  total: number;
  /** Its main thread: node's event loop. */
  main: number;
}

async function ticksOf(pid: number): Promise<Ticks> {
  return {
    total: await statTicks(`/proc/${pid}/stat`),
    main: await statTicks(`/proc/${pid}/task/${pid}/stat`),
  };
}

async function rssMiB(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---------------------------------------------------------------------------
// 1. one-off stats: the CLIs and the raw API

async function timedCli(
  what: string,
  f: () => Promise<{ code: number | null; stdout: string; stderr: string }>,
): Promise<{ ms: number; rows: number }> {
  const t0 = clock();
  const r = await f();
  const t = clock() - t0;
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr.trim()}`);
  return { ms: t, rows: r.stdout.split('\n').filter((l) => l.trim() !== '').length };
}

async function oneOff(api: Api, host: string, ids: string[], cgroupParent: string): Promise<void> {
  const runs: Record<string, number[]> = {
    'docker ps -q': [],
    'docker stats --no-stream': [],
    'berth ps -q': [],
    'berth stats --no-stream': [],
    'berth ps --help (no daemon)': [],
    'node -e 0': [],
  };
  const rows: Record<string, number> = {};
  const commands: [string, () => Promise<{ code: number | null; stdout: string; stderr: string }>][] = [
    ['docker ps -q', () => docker(host, ['ps', '-q'])],
    ['docker stats --no-stream', () => docker(host, ['stats', '--no-stream'])],
    ['berth ps -q', () => berth(host, ['ps', '-q'])],
    ['berth stats --no-stream', () => berth(host, ['stats', '--no-stream'])],
    ['berth ps --help (no daemon)', () => berth(host, ['ps', '--help'])],
    ['node -e 0', () => run(process.execPath, ['-e', '0'])],
  ];
  for (let i = 0; i < RUNS + 1; i++) {
    // Rotate the order so that none always runs right after another.
    for (let k = 0; k < commands.length; k++) {
      const [name, f] = commands[(i + k) % commands.length] ?? commands[0];
      const r = await timedCli(name, f);
      rows[name] = r.rows;
      if (i > 0) runs[name]?.push(r.ms);
    }
  }
  const out = await docker(host, ['stats', '--no-stream']);
  const sample = out.stdout.split('\n').slice(0, 3).join('\n');

  // The raw API, on a keep-alive connection per request in flight.
  const get = async (path: string): Promise<{ ms: number; body: string }> => {
    const t0 = clock();
    const r = await api.request('GET', path);
    const t = clock() - t0;
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
    return { ms: t, body: r.body };
  };
  const one = ids[0] ?? '';
  const apiRows: [string, number[]][] = [];
  const variants: [string, string][] = [
    ['stream=false', 'stream=false'],
    ['stream=false&one-shot=true', 'stream=false&one-shot=true'],
  ];
  let oneShotHasPrevious = false;
  let defaultHasPrevious = false;
  for (const [label, query] of variants) {
    for (let i = 0; i < 5; i++) await get(`/v1.47/containers/${one}/stats?${query}`);
    const single: number[] = [];
    for (let i = 0; i < API_RUNS; i++) {
      const r = await get(`/v1.47/containers/${one}/stats?${query}`);
      single.push(r.ms);
      const v = JSON.parse(r.body) as { precpu_stats?: { system_cpu_usage?: number } };
      const hasPrev = (v.precpu_stats?.system_cpu_usage ?? 0) > 0;
      if (query.includes('one-shot')) oneShotHasPrevious ||= hasPrev;
      else defaultHasPrevious ||= hasPrev;
    }
    const parallel: number[] = [];
    const each: number[] = [];
    for (let i = 0; i < Math.ceil(API_RUNS / 2); i++) {
      const t0 = clock();
      const rs = await Promise.all(ids.map((id) => get(`/v1.47/containers/${id}/stats?${query}`)));
      parallel.push(clock() - t0);
      each.push(...rs.map((r) => r.ms));
    }
    apiRows.push([`GET …/stats?${label}, one container`, single]);
    apiRows.push([`GET …/stats?${label}, all ${ids.length} in parallel (wall)`, parallel]);
    apiRows.push([`  each request of those`, each]);
  }

  console.log(
    `\n== 1. stats --no-stream with ${ids.length} running containers (${RUNS} runs after 1 warm-up, interleaved) ==`,
  );
  for (const [name, xs] of Object.entries(runs)) {
    console.log(`  ${name.padEnd(28)} ${stats(xs)}  (${rows[name] ?? 0} lines of output)`);
  }
  const dStats = median(runs['docker stats --no-stream'] ?? []);
  const dPs = median(runs['docker ps -q'] ?? []);
  const bStats = median(runs['berth stats --no-stream'] ?? []);
  const bPs = median(runs['berth ps -q'] ?? []);
  console.log(
    `  docker stats − docker ps = ${ms(dStats - dPs)}, of which the CLI's ${CLI_TICK_MS} ms render tick; leaves ${ms(dStats - dPs - CLI_TICK_MS)} for the stats requests`,
  );
  console.log(`  berth stats − berth ps   = ${ms(bStats - bPs)} (berth's CLI does not wait for a tick)`);
  const nodeFloor = median(runs['node -e 0'] ?? []);
  // The CLI loads the modules of the command it runs (src/cli/commands/lazy.ts): `ps --help` loads ps's and stops.
  const berthHelp = median(runs['berth ps --help (no daemon)'] ?? []);
  console.log(
    `  berth's fixed cost: node start ${ms(nodeFloor)} + loading ps's modules ${ms(berthHelp - nodeFloor)} (berth ps --help − node -e 0) + the requests (berth ps − berth ps --help ${ms(bPs - berthHelp)})`,
  );
  console.log(`  docker stats output, first lines:\n${sample.replace(/^/gm, '    ')}`);
  console.log(
    `\n  raw API (${API_RUNS} single requests / ${Math.ceil(API_RUNS / 2)} parallel rounds after 5 warm-up):`,
  );
  for (const [name, xs] of apiRows) console.log(`  ${name.padEnd(58)} ${stats(xs, 2)}`);
  await sampleCost(api, ids, cgroupParent);
  console.log(
    `  precpu_stats filled: stream=false ${defaultHasPrevious ? 'yes' : 'no'}, one-shot=true ${oneShotHasPrevious ? 'yes' : 'no (as Docker)'}`,
  );
  const parallelMedian = median(apiRows[1]?.[1] ?? []);
  console.log(
    `  claim "stats --no-stream with ${ids.length} containers well under ${CLAIM_MS} ms": daemon part (API, ${ids.length} in parallel) ${ms(parallelMedian)}; berth CLI end to end ${ms(bStats)}; docker CLI end to end ${ms(dStats)} (≥ ${CLI_TICK_MS} ms by its own tick)`,
  );
}

/**
 * Where one `stream=false` answer's time goes: the HTTP round trip of
 * `/_ping` on the same keep-alive connection, and the sampler's reads
 * (src/engine/stats/cgroup.ts, synchronous, as berthd makes them) timed
 * here in this process on the same container.
 */
async function sampleCost(api: Api, ids: string[], cgroupParent: string): Promise<void> {
  const id = ids[0] ?? '';
  const info = await api.json<{ State: { Pid: number } }>('GET', `/containers/${id}/json`);
  const layout = detectLayout();
  if (layout === undefined) return;
  const paths = cgroupPaths(layout, '/sys/fs/cgroup', `${cgroupParent}/${id}`);
  const memory = readMachineMemory();
  const time = (f: () => unknown): number[] => {
    for (let i = 0; i < 20; i++) f();
    const xs: number[] = [];
    for (let i = 0; i < API_RUNS * 2; i++) {
      const t0 = clock();
      f();
      xs.push(clock() - t0);
    }
    return xs;
  };
  const ping: number[] = [];
  for (let i = 0; i < API_RUNS; i++) {
    const t0 = clock();
    await api.request('GET', '/_ping');
    ping.push(clock() - t0);
  }
  const sys = time(() => readSystemCpu());
  const cg = time(() => readCgroupStats(paths, memory));
  const net = time(() => readNetworks('/proc', info.State.Pid));
  // The sampler and the wire encoder themselves, in this process, on the same container.
  const target = {
    id,
    name: '/bstat-0',
    running: true,
    pid: info.State.Pid,
    cgroupPath: `${cgroupParent}/${id}`,
  };
  const sampler = new StatsService({
    listRunning: () => [target],
    lookup: (x) => (x === id ? target : undefined),
    backgroundIntervalMs: 0,
  });
  sampler.noteStarted(id);
  await sleep(150);
  const snap: number[] = [];
  let view = await sampler.snapshot(id);
  for (let i = 0; i < API_RUNS * 2; i++) {
    const t0 = clock();
    view = await sampler.snapshot(id);
    snap.push(clock() - t0);
  }
  sampler.close();
  const last = view;
  const encode = last ? time(() => statsJson(last)) : [];
  const size = last ? statsJson(last).length : 0;
  console.log(`  where one answer's time goes (cgroup ${layout}):`);
  console.log(`    GET /_ping on the same kind of connection (HTTP floor)     ${stats(ping, 3)}`);
  console.log(`    readSystemCpu()   /proc/stat                            ${stats(sys, 3)}`);
  console.log(`    readCgroupStats() the container's cgroup files           ${stats(cg, 3)}`);
  console.log(`    readNetworks()    /proc/<pid>/net/dev                    ${stats(net, 3)}`);
  console.log(
    `    sum of the three reads (synchronous in berthd: ${ids.length} parallel requests queue behind each other) ${ms(median(sys) + median(cg) + median(net), 3)}`,
  );
  console.log(`    StatsService.snapshot() (the three reads + bookkeeping)  ${stats(snap, 3)}`);
  console.log(`    statsJson() (the wire encoder, ${size} bytes)             ${stats(encode, 3)}`);
}

// ---------------------------------------------------------------------------
// 2. daemon CPU with concurrent watchers

interface Watchers {
  /** Stats objects (lines) received so far. */
  objects: () => number;
  bytes: () => number;
  errors: () => number;
  close: () => void;
}

/** `n` watchers × one `stats?stream=true` per container, each on its own connection; bodies counted and dropped. */
function openWatchers(socket: string, ids: string[], n: number): Watchers {
  let objects = 0;
  let bytes = 0;
  let errors = 0;
  const reqs: ClientRequest[] = [];
  for (let w = 0; w < n; w++) {
    for (const id of ids) {
      const req = request(
        { socketPath: socket, path: `/containers/${id}/stats?stream=true`, agent: false },
        (res) => {
          if (res.statusCode !== 200) errors++;
          res.on('data', (d: Buffer) => {
            bytes += d.length;
            for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) objects++;
          });
          res.on('error', () => undefined);
        },
      );
      req.on('error', () => errors++);
      req.end();
      reqs.push(req);
    }
  }
  return {
    objects: () => objects,
    bytes: () => bytes,
    errors: () => errors,
    close: () => {
      for (const r of reqs) r.destroy();
    },
  };
}

interface Level {
  label: string;
  watchers: number;
  streams: number;
  cpu: number;
  main: number;
  others: number;
  objectsPerS: number;
  expectedPerS: number;
  kibPerS: number;
  clientCpu: number;
  rss: number;
  errors: number;
}

async function measureWindow(
  pid: number,
  hz: number,
  label: string,
  watchers: number,
  streams: number,
  w: Watchers | undefined,
): Promise<Level> {
  const t0 = clock();
  const ticks0 = await ticksOf(pid);
  const cpu0 = process.cpuUsage();
  const objects0 = w?.objects() ?? 0;
  const bytes0 = w?.bytes() ?? 0;
  await sleep(WINDOW_S * 1000);
  const ticks1 = await ticksOf(pid);
  const cpu = process.cpuUsage(cpu0);
  const wall = (clock() - t0) / 1000;
  const pctOf = (t: number): number => (t / hz / wall) * 100;
  return {
    label,
    watchers,
    streams,
    cpu: pctOf(ticks1.total - ticks0.total),
    main: pctOf(ticks1.main - ticks0.main),
    others: pctOf(ticks1.total - ticks0.total - (ticks1.main - ticks0.main)),
    objectsPerS: ((w?.objects() ?? 0) - objects0) / wall,
    expectedPerS: streams,
    kibPerS: ((w?.bytes() ?? 0) - bytes0) / 1024 / wall,
    clientCpu: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
    rss: await rssMiB(pid),
    errors: w?.errors() ?? 0,
  };
}

async function watcherCpu(daemon: TestDaemon, ids: string[], idle: Level): Promise<void> {
  const hz = Number((await execFileAsync('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  const levels: Level[] = [idle];
  for (const n of WATCHERS) {
    const w = openWatchers(daemon.socket, ids, n);
    // Let every stream open and deliver its first objects before the window.
    const expected = n * ids.length;
    const deadline = Date.now() + 10_000;
    while (w.objects() < expected && Date.now() < deadline) await sleep(50);
    await sleep(1500);
    levels.push(await measureWindow(daemon.pid, hz, `${n} watcher${n === 1 ? '' : 's'}`, n, expected, w));
    w.close();
    await sleep(1000);
  }
  levels.push(await measureWindow(daemon.pid, hz, 'idle again (containers lingering hot)', 0, 0, undefined));

  console.log(
    `\n== 2. berthd CPU with concurrent stats watchers (${ids.length} containers; a watcher = ${ids.length} streams; ${WINDOW_S} s window each) ==`,
  );
  console.log(
    `  ${'level'.padEnd(38)} ${'streams'.padStart(7)} ${'CPU %'.padStart(7)} ${'main'.padStart(7)} ${'others'.padStart(7)} ${'objs/s'.padStart(8)} ${'(want)'.padStart(7)} ${'KiB/s'.padStart(8)} ${'RSS MiB'.padStart(8)} ${'client%'.padStart(8)}`,
  );
  for (const l of levels) {
    console.log(
      `  ${l.label.padEnd(38)} ${String(l.streams).padStart(7)} ${l.cpu.toFixed(1).padStart(7)} ${l.main.toFixed(1).padStart(7)} ${l.others.toFixed(1).padStart(7)} ${l.objectsPerS.toFixed(0).padStart(8)} ${String(l.expectedPerS).padStart(7)} ${l.kibPerS.toFixed(0).padStart(8)} ${l.rss.toFixed(0).padStart(8)} ${l.clientCpu.toFixed(1).padStart(8)}${l.errors > 0 ? `  ${l.errors} errors` : ''}`,
    );
  }
  const watched = levels.filter((l) => l.watchers > 0);
  const first = watched[0];
  if (first) {
    for (const l of watched.slice(1)) {
      const extraStreams = l.streams - first.streams;
      console.log(
        `  ${first.label} → ${l.label}: CPU ${first.cpu.toFixed(1)}% → ${l.cpu.toFixed(1)}% (×${(l.cpu / first.cpu).toFixed(1)}), +${((l.cpu - first.cpu) / (extraStreams || 1)).toFixed(3)}% of a core per extra stream, ${((((l.cpu - first.cpu) / 100) * 1000) / Math.max(1, l.objectsPerS - first.objectsPerS)).toFixed(3)} ms CPU per extra object`,
      );
    }
  }
  console.log(
    '  (CPU % is of one core: utime+stime of /proc/<berthd>/stat over the window; main = the event-loop thread, others = V8 GC/compiler and libuv threads; client% = this process reading the streams)',
  );
}

// ---------------------------------------------------------------------------
// Clean-up helpers

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('run as root: containers need mounts, cgroups and namespaces');
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const daemon = await TestDaemon.start();
  const api = new Api(daemon.socket);
  let ok = false;
  try {
    console.log(`berth stats bench — node ${process.version}, load average ${load()}`);
    console.log(`  berthd pid ${daemon.pid}, dir ${daemon.dir}`);
    await loadBusybox(api);
    const ids = await Promise.all(
      Array.from({ length: CONTAINERS }, async (_, i) => {
        const { Id } = await api.json<{ Id: string }>('POST', `/containers/create?name=bstat-${i}`, {
          Image: IMAGE,
          Cmd: ['sleep', '3600'],
        });
        await api.json('POST', `/containers/${Id}/start`);
        return Id;
      }),
    );
    await sleep(2000);
    // The idle baseline first, before any stats request makes the containers hot.
    const hz = Number((await execFileAsync('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
    const idle = await measureWindow(daemon.pid, hz, 'idle (no stats request yet)', 0, 0, undefined);
    await oneOff(api, daemon.host, ids, daemon.cgroupParent);
    await watcherCpu(daemon, ids, idle);
    console.log(`\n  load average now ${load()}`);
    ok = true;
  } finally {
    for (const id of await api.containerIds().catch(() => [] as string[])) {
      await api.request('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
    }
    api.close();
    const { dir, cgroupParent } = daemon;
    if ((await mountsUnder(dir)).length > 0) {
      await daemon.stop();
      for (const target of await mountsUnder(dir))
        await runCmd('umount', ['-l', target]).catch(() => undefined);
    }
    await daemon.cleanup();
    await sweep(dir, cgroupParent);
    if (!ok) console.log(`berthd log tail:\n${daemon.logs.slice(-4000)}`);
  }
}

await main();
