/**
 * Network benchmarks against a real berthd:
 *
 * 1. Network set-up cost: `run --rm busybox true` through the raw API
 *    (create with AutoRemove, wait next-exit, start, the wait's result) on
 *    the default bridge and with `NetworkMode: none`, interleaved; medians,
 *    p90s and the difference, phase by phase, and the time from the exit to
 *    the container being gone (network teardown is in there).
 * 2. Published ports: one busybox container serving three `nc -ll` ports
 *    (9000 a sink, 9001 a 200 MiB source, 9002 an echo), published on
 *    127.0.0.1 (the daemon's userland proxy serves those), measured from
 *    this process: MiB/s up and down and connect + one-byte round trip,
 *    through the proxy and straight to the container's bridge IP; the
 *    proxy's overhead ratios, and berthd's CPU while it proxies.
 *
 * Prints medians; asserts nothing. Traffic goes to loopback and to the
 * bench's own containers only. It starts its own berthd (TestDaemon: its
 * own bridge, cgroup parent, `--no-ip-masq --no-ip-forward --dns 127.0.0.1`)
 * and removes everything it made (containers, daemon by PID, bridge and
 * iptables chains, mounts, cgroups, leftover processes by PID).
 *
 * Run as root:
 *   npm run bench:networks
 *   node dist/bench/networks.js --runs 20 --transfer-mib 200 --transfers 5 --pings 200
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile, readdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';

import { createVethIntoNetns, deleteLink, vethCommands, type VethOptions } from '../src/runtime/net/ip.js';
import { REPO_ROOT, TestDaemon } from '../test/helpers/daemon.js';
import {
  Api,
  clock,
  loadBusybox,
  median,
  mountsUnder,
  ms,
  pct,
  runCmd,
  sleep,
  stats,
  sweep,
} from './common.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    'transfer-mib': { type: 'string', default: '200' },
    transfers: { type: 'string', default: '5' },
    pings: { type: 'string', default: '200' },
  },
});

const RUNS = Math.max(15, Number(values.runs));
const TRANSFER_MIB = Math.max(1, Number(values['transfer-mib']));
const TRANSFERS = Math.max(3, Number(values.transfers));
const PINGS = Math.max(20, Number(values.pings));
const WARMUP = 2;
const IMAGE = 'busybox';
const MIB = 1024 * 1024;
/** Ports inside the port-test container. */
const SINK_PORT = 9000;
const SOURCE_PORT = 9001;
const ECHO_PORT = 9002;

// ---------------------------------------------------------------------------
// 1. run --rm true, bridge vs none

interface ApiRun {
  total: number;
  create: number;
  waitHeaders: number;
  start: number;
  exit: number;
  /** From the wait's result to the container being gone (AutoRemove, network teardown). */
  removed: number;
}

async function apiRun(api: Api, networkMode: 'default' | 'none'): Promise<ApiRun> {
  const t0 = clock();
  const { Id: id } = await api.json<{ Id: string }>('POST', '/containers/create', {
    Image: IMAGE,
    Cmd: ['true'],
    HostConfig: { AutoRemove: true, ...(networkMode === 'none' ? { NetworkMode: 'none' } : {}) },
  });
  const t1 = clock();
  const wait = api.wait(id, 'next-exit');
  await wait.headers;
  const t2 = clock();
  await api.json('POST', `/containers/${id}/start`);
  const t3 = clock();
  const code = await wait.result;
  const t4 = clock();
  if (code !== 0) throw new Error(`container ${id} exited with ${code}`);
  // Outside the timing: the next run starts on a quiet daemon.
  const removed = await api.gone(id);
  return { total: t4 - t0, create: t1 - t0, waitHeaders: t2 - t1, start: t3 - t2, exit: t4 - t3, removed };
}

async function setupCost(api: Api): Promise<void> {
  const bridge: ApiRun[] = [];
  const none: ApiRun[] = [];
  for (let i = 0; i < RUNS + WARMUP; i++) {
    // Alternate which goes first, so neither always runs right after a removal.
    const order: ('default' | 'none')[] = i % 2 === 0 ? ['default', 'none'] : ['none', 'default'];
    for (const mode of order) {
      const r = await apiRun(api, mode);
      if (i >= WARMUP) (mode === 'none' ? none : bridge).push(r);
    }
  }
  console.log(
    `\n== 1. run --rm ${IMAGE} true via the raw API: default bridge vs --network none (${RUNS} each after ${WARMUP} warm-up, interleaved) ==`,
  );
  const rows: [string, (r: ApiRun) => number][] = [
    ['total: create+wait+start+result', (r) => r.total],
    ['  create', (r) => r.create],
    ['  wait registered', (r) => r.waitHeaders],
    ['  start', (r) => r.start],
    ['  start answered → wait result', (r) => r.exit],
    ['after: wait result → gone (AutoRemove)', (r) => r.removed],
  ];
  for (const [name, f] of rows) {
    const b = bridge.map(f);
    const n = none.map(f);
    console.log(`  ${name}`);
    console.log(`    bridge  ${stats(b)}`);
    console.log(`    none    ${stats(n)}`);
    const d = median(b) - median(n);
    console.log(
      `    bridge − none: median ${d >= 0 ? '+' : ''}${d.toFixed(1)} ms, p90 ${(pct(b, 0.9) - pct(n, 0.9) >= 0 ? '+' : '') + (pct(b, 0.9) - pct(n, 0.9)).toFixed(1)} ms`,
    );
  }
}

// ---------------------------------------------------------------------------
// 1b. where the bridge's cost goes: berth's wiring, step by step

/** Milliseconds of one command (rejects when it fails). */
async function timed(file: string, args: string[], input?: string): Promise<number> {
  const t0 = clock();
  await new Promise<void>((resolve, reject) => {
    const child = execFile(file, args, (err) =>
      err ? reject(new Error(err.message, { cause: err })) : resolve(),
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
  return clock() - t0;
}

/**
 * The commands `createVethIntoNetns` and `deleteLink` run (src/runtime/net/ip.ts),
 * one at a time, into the namespace of a `--network none` container, on the
 * daemon's bridge; then the library calls themselves. Addresses .250 of the
 * bridge's subnet (the pool hands out from .2 up).
 */
async function wiringSteps(api: Api, bridge: string, made: string[]): Promise<void> {
  const net = await api.json<{ IPAM: { Config: { Subnet: string; Gateway?: string }[] } }>(
    'GET',
    '/networks/bridge',
  );
  const subnet = net.IPAM.Config[0]?.Subnet ?? '';
  const gateway = net.IPAM.Config[0]?.Gateway ?? '';
  const [base = '', prefix = '24'] = subnet.split('/');
  const address = `${base.split('.').slice(0, 3).join('.')}.250/${prefix}`;
  const { Id: id } = await api.json<{ Id: string }>('POST', '/containers/create', {
    Image: IMAGE,
    Cmd: ['sleep', '600'],
    HostConfig: { NetworkMode: 'none' },
  });
  await api.json('POST', `/containers/${id}/start`);
  const { State } = await api.json<{ State: { Pid: number } }>('GET', `/containers/${id}/json`);
  const pid = String(State.Pid);
  const mac = '02:42:0a:e7:ff:fa';
  const steps: [string, number[]][] = [
    ['ip link add <h> master <bridge> up type veth peer name eth0 … netns <ns>', []],
    ['nsenter -t <pid> -n -- ip -batch -  (addr, up, lo, route)', []],
    ['ip link del dev <h>                       (unwire, in the background)', []],
  ];
  const spawnOnly: number[] = [];
  const library: number[] = [];
  const libraryDel: number[] = [];
  /** The same veth, named `hostName`, for the spawned commands and for the library calls. */
  const veth = (hostName: string): VethOptions => ({
    hostName,
    bridge,
    netns: { pid: State.Pid },
    ifname: 'eth0',
    address,
    gateway,
    mac,
  });
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const host = `bvz${randomBytes(5).toString('hex')}`;
    made.push(host);
    const commands = vethCommands(veth(host));
    const t = [
      await timed('ip', commands.host),
      await timed('nsenter', ['-t', pid, '-n', '--', 'ip', '-batch', '-'], commands.batch),
      await timed('ip', ['link', 'del', 'dev', host]),
    ];
    const s0 = await timed('ip', ['-V']);
    // The library calls, as berth makes them.
    const host2 = `bvz${randomBytes(5).toString('hex')}`;
    made.push(host2);
    let t0 = clock();
    await createVethIntoNetns(veth(host2));
    const lib = clock() - t0;
    t0 = clock();
    await deleteLink(host2);
    const libDel = clock() - t0;
    if (i < WARMUP) continue;
    t.forEach((x, k) => steps[k]?.[1].push(x));
    spawnOnly.push(s0);
    library.push(lib);
    libraryDel.push(libDel);
  }
  await api.json('DELETE', `/containers/${id}?force=1`);
  console.log(
    `\n== 1b. where the bridge's cost goes: berth's veth wiring, replayed from this process into a --network none container (${RUNS} each) ==`,
  );
  for (const [name, xs] of steps) console.log(`  ${name.padEnd(76)} ${stats(xs)}`);
  const sum = steps.slice(0, 2).reduce((acc, [, xs]) => acc + median(xs), 0);
  console.log(`  sum of the 2 set-up medians                                                  ${ms(sum)}`);
  console.log(
    `  \`ip -V\` (a bare spawn of ip, for scale)                                      ${stats(spawnOnly)}`,
  );
  console.log(
    `  createVethIntoNetns() (src/runtime/net/ip.ts), called here                   ${stats(library)}`,
  );
  console.log(
    `  deleteLink() (src/runtime/net/ip.ts), called here                            ${stats(libraryDel)}`,
  );
}

// ---------------------------------------------------------------------------
// 2. published ports: proxy vs direct

interface Endpoint {
  host: string;
  sink: number;
  source: number;
  echo: number;
}

function connectTo(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads the source until it closes; bytes and milliseconds from connect() to the end. */
function download(host: string, port: number): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = clock();
    let bytes = 0;
    const s = connect({ host, port });
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.once('end', () => resolve({ bytes, ms: clock() - t0 }));
    s.once('error', reject);
  });
}

/** Writes `total` bytes to the sink, half-closes, waits for its close; from connect() to the close. */
async function upload(host: string, port: number, total: number): Promise<{ bytes: number; ms: number }> {
  const chunk = Buffer.alloc(MIB);
  const t0 = clock();
  const s = await connectTo(host, port);
  let failed: Error | undefined;
  s.on('error', (err) => (failed = err));
  const closed = once(s, 'close');
  let sent = 0;
  while (sent < total) {
    if (failed) throw failed;
    const n = Math.min(MIB, total - sent);
    sent += n;
    if (!s.write(n === MIB ? chunk : chunk.subarray(0, n))) await once(s, 'drain');
  }
  s.end();
  await closed;
  if (failed) throw failed;
  return { bytes: sent, ms: clock() - t0 };
}

/** connect() + one byte to the echo server and back, in milliseconds. */
function pingPong(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = clock();
    const s = connect({ host, port });
    s.setNoDelay(true);
    s.once('connect', () => s.write('x'));
    s.once('data', () => {
      const t = clock() - t0;
      s.destroy();
      resolve(t);
    });
    s.once('error', (err) => {
      s.destroy();
      reject(err);
    });
    s.once('end', () => reject(new Error(`${host}:${port} closed before echoing`)));
  });
}

const clockTicks = async (): Promise<number> => {
  const { stdout } = await promisify(execFile)('getconf', ['CLK_TCK']);
  return Number(stdout.trim()) || 100;
};

/** utime + stime of a process or thread from its stat file, in clock ticks. */
async function statTicks(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the comm: state is [0], utime is field 14 overall → [11], stime [12].
  return (Number(fields[11]) || 0) + (Number(fields[12]) || 0);
}

/**
 * A process's CPU ticks split into its main thread (the JS event loop) and
 * its other threads (in node: V8's GC and compiler workers, libuv's pool).
 */
async function threadTicks(pid: number): Promise<{ main: number; others: number }> {
  let others = 0;
  let main = 0;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const t = await statTicks(`/proc/${pid}/task/${tid}/stat`);
    if (Number(tid) === pid) main = t;
    else others += t;
  }
  return { main, others };
}

/**
 * The same proxy code (dist/src/runtime/net/proxy.js) in a node process of
 * its own, to the same container: what a Node userland proxy costs without
 * the rest of the daemon around it. Stopped by PID (`stop`).
 */
async function referenceProxy(
  ip: string,
  ports: number[],
): Promise<{ pid: number; ports: number[]; stop: () => Promise<void> }> {
  const module = pathToFileURL(join(REPO_ROOT, 'dist/src/runtime/net/proxy.js')).href;
  const code = [
    `import { startProxy } from ${JSON.stringify(module)};`,
    `const ps = await Promise.all(${JSON.stringify(ports)}.map((p) => startProxy({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, containerIp: ${JSON.stringify(ip)}, containerPort: p })));`,
    `process.stdout.write(JSON.stringify(ps.map((p) => p.port)) + '\\n');`,
    `process.stdin.on('end', () => process.exit(0));`,
    `process.stdin.resume();`,
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.once('exit', (c) => reject(new Error(`reference proxy exited: ${c}`)));
  });
  return { pid: child.pid ?? -1, ports: JSON.parse(line) as number[], stop };
}

type PathName = 'proxy' | 'reference' | 'direct';
const PATH_NAMES: readonly PathName[] = ['proxy', 'reference', 'direct'];

async function publishedPorts(api: Api, daemonPid: number, stops: (() => Promise<void>)[]): Promise<void> {
  const hz = await clockTicks();
  const source = `dd if=/dev/zero bs=1M count=${TRANSFER_MIB} 2>/dev/null`;
  const script = [
    `nc -ll -p ${SINK_PORT} -e sh -c 'cat >/dev/null' &`,
    `nc -ll -p ${SOURCE_PORT} -e sh -c '${source}' &`,
    `nc -ll -p ${ECHO_PORT} -e cat &`,
    'wait',
  ].join('\n');
  const ports = [SINK_PORT, SOURCE_PORT, ECHO_PORT].map((p) => `${p}/tcp`);
  const { Id: id } = await api.json<{ Id: string }>('POST', '/containers/create', {
    Image: IMAGE,
    Cmd: ['sh', '-c', script],
    ExposedPorts: Object.fromEntries(ports.map((p) => [p, {}])),
    HostConfig: {
      PortBindings: Object.fromEntries(ports.map((p) => [p, [{ HostIp: '127.0.0.1', HostPort: '' }]])),
    },
  });
  const tStart = clock();
  await api.json('POST', `/containers/${id}/start`);
  const startMs = clock() - tStart;
  const info = await api.json<{
    NetworkSettings: {
      IPAddress?: string;
      Networks?: Record<string, { IPAddress?: string }>;
      Ports?: Record<string, { HostIp: string; HostPort: string }[] | null>;
    };
  }>('GET', `/containers/${id}/json`);
  const ns = info.NetworkSettings;
  const ip = ns.IPAddress || Object.values(ns.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress || '';
  const hostPort = (p: number): number => Number(ns.Ports?.[`${p}/tcp`]?.[0]?.HostPort ?? NaN);
  if (ip === '') throw new Error('the port-test container has no IP address');
  const ref = await referenceProxy(ip, [SINK_PORT, SOURCE_PORT, ECHO_PORT]);
  stops.push(ref.stop);
  const endpoints: Record<PathName, Endpoint> = {
    proxy: {
      host: '127.0.0.1',
      sink: hostPort(SINK_PORT),
      source: hostPort(SOURCE_PORT),
      echo: hostPort(ECHO_PORT),
    },
    reference: {
      host: '127.0.0.1',
      sink: ref.ports[0] ?? NaN,
      source: ref.ports[1] ?? NaN,
      echo: ref.ports[2] ?? NaN,
    },
    direct: { host: ip, sink: SINK_PORT, source: SOURCE_PORT, echo: ECHO_PORT },
  };
  const proxyPid: Record<PathName, number> = { proxy: daemonPid, reference: ref.pid, direct: -1 };
  for (const ep of Object.values(endpoints)) {
    if (![ep.sink, ep.source, ep.echo].every((p) => Number.isInteger(p) && p > 0)) {
      throw new Error(`published ports missing: ${JSON.stringify(ns.Ports)} / ${JSON.stringify(ref.ports)}`);
    }
  }

  // nc listens a moment after the start: poll the echo port directly, then through the proxies.
  const tReady = clock();
  for (const ep of [endpoints.direct, endpoints.proxy, endpoints.reference]) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await pingPong(ep.host, ep.echo);
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`echo at ${ep.host}:${ep.echo} never answered`, { cause: err });
        await sleep(20);
      }
    }
  }
  const readyMs = clock() - tReady;
  console.log(
    `\n== 2. published ports: busybox nc -ll, -p 127.0.0.1:<port>:900x (proxy in berthd) vs ${ip}:900x (direct) ==`,
  );
  console.log(
    `  container started in ${ms(startMs)} (3 ports published), nc answering ${ms(readyMs)} later; berthd's proxy ports ${[endpoints.proxy.sink, endpoints.proxy.source, endpoints.proxy.echo].join(', ')}`,
  );
  console.log(
    `  reference: the same proxy code (dist/src/runtime/net/proxy.js) alone in node pid ${ref.pid}, ports ${ref.ports.join(', ')}`,
  );

  const rss = async (pid: number): Promise<string> => {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
    return m ? `${(Number(m[1]) / 1024).toFixed(0)} MiB` : 'n/a';
  };
  console.log(
    `  VmRSS before the transfers: berthd ${await rss(daemonPid)}, the reference proxy ${await rss(ref.pid)}`,
  );

  // Throughput, interleaved (the order rotates): one warm-up of each, then TRANSFERS of each.
  type Kind = 'down' | 'up';
  const empty = (): Record<PathName, number[]> => ({ proxy: [], reference: [], direct: [] });
  const rate: Record<Kind, Record<PathName, number[]>> = { down: empty(), up: empty() };
  /** Proxy process CPU seconds per GiB moved: main thread, other threads. */
  const mainCpu: Record<Kind, Record<PathName, number[]>> = { down: empty(), up: empty() };
  const otherCpu: Record<Kind, Record<PathName, number[]>> = { down: empty(), up: empty() };
  const proxyCpu: Record<Kind, Record<PathName, number[]>> = { down: empty(), up: empty() };
  const clientCpu = empty();
  const total = TRANSFER_MIB * MIB;
  for (let i = 0; i < TRANSFERS + 1; i++) {
    const order = PATH_NAMES.map((_, k) => PATH_NAMES[(i + k) % PATH_NAMES.length] ?? 'direct');
    for (const kind of ['down', 'up'] as const) {
      for (const path of order) {
        const ep = endpoints[path];
        const pid = proxyPid[path];
        const ticks0 = pid > 0 ? await threadTicks(pid) : { main: 0, others: 0 };
        const cpu0 = process.cpuUsage();
        const t0 = clock();
        const r =
          kind === 'down' ? await download(ep.host, ep.source) : await upload(ep.host, ep.sink, total);
        const wall = (clock() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const ticks1 = pid > 0 ? await threadTicks(pid) : { main: 0, others: 0 };
        const mainTicks = ticks1.main - ticks0.main;
        const otherTicks = ticks1.others - ticks0.others;
        if (r.bytes !== total) throw new Error(`${path} ${kind}: ${r.bytes} bytes, expected ${total}`);
        if (i === 0) continue;
        rate[kind][path].push(r.bytes / MIB / (r.ms / 1000));
        clientCpu[path].push(((cpu.user + cpu.system) / 1e6 / wall) * 100);
        if (pid > 0) {
          const gib = r.bytes / (1024 * MIB);
          proxyCpu[kind][path].push(((mainTicks + otherTicks) / hz / wall) * 100);
          mainCpu[kind][path].push(mainTicks / hz / gib);
          otherCpu[kind][path].push(otherTicks / hz / gib);
        }
      }
    }
  }

  // Connection set-up: connect + 1 byte echoed, interleaved.
  const pings = empty();
  for (let i = 0; i < PINGS + 10; i++) {
    const order = PATH_NAMES.map((_, k) => PATH_NAMES[(i + k) % PATH_NAMES.length] ?? 'direct');
    for (const path of order) {
      const ep = endpoints[path];
      const t = await pingPong(ep.host, ep.echo);
      if (i >= 10) pings[path].push(t);
    }
  }
  await ref.stop();
  await api.json('DELETE', `/containers/${id}?force=1`);

  const mibs = (xs: number[]): string =>
    `median ${median(xs).toFixed(0).padStart(6)} MiB/s  min ${Math.min(...xs)
      .toFixed(0)
      .padStart(6)}  max ${Math.max(...xs)
      .toFixed(0)
      .padStart(6)}  (n=${xs.length})`;
  const label: Record<PathName, string> = {
    proxy: 'berthd proxy  127.0.0.1  ',
    reference: 'same code alone 127.0.0.1',
    direct: `direct ${ip.padEnd(18)}`,
  };
  console.log(`  throughput, ${TRANSFER_MIB} MiB per transfer (connect → last byte / close), interleaved:`);
  for (const [kind, title] of [
    ['down', 'download (container dd → host)'],
    ['up', 'upload (host → container cat >/dev/null)'],
  ] as const) {
    console.log(`    ${title}`);
    for (const path of PATH_NAMES) {
      const cpu = proxyCpu[kind][path];
      console.log(
        `      ${label[path]} ${mibs(rate[kind][path])}${cpu.length > 0 ? `   proxy CPU ${median(cpu).toFixed(0)}% of a core; per GiB: main thread ${median(mainCpu[kind][path]).toFixed(2)} s, other threads ${median(otherCpu[kind][path]).toFixed(2)} s` : ''}`,
      );
    }
    const p = median(rate[kind].proxy);
    const d = median(rate[kind].direct);
    const r = median(rate[kind].reference);
    console.log(
      `      berthd proxy / direct = ${(p / d).toFixed(2)} (${((d / p - 1) * 100).toFixed(0)}% more time per byte);  berthd proxy / same code alone = ${(p / r).toFixed(2)}`,
    );
  }
  console.log(
    `    this process (the client) CPU during transfers: ${PATH_NAMES.map((p) => `${p} ${median(clientCpu[p]).toFixed(0)}%`).join(', ')} of a core`,
  );
  console.log(
    `  connection set-up: connect + 1 byte echoed by \`nc -ll -e cat\` (a fork+exec of cat per connection), ${PINGS} each after 10 warm-up, interleaved:`,
  );
  for (const path of PATH_NAMES) console.log(`    ${label[path]} ${stats(pings[path], 3)}`);
  const pm = median(pings.proxy);
  const dm = median(pings.direct);
  console.log(
    `    berthd proxy − direct: +${(pm - dm).toFixed(3)} ms median, ratio ${(pm / dm).toFixed(2)};  same code alone − direct: +${(median(pings.reference) - dm).toFixed(3)} ms`,
  );
}

// ---------------------------------------------------------------------------
// Clean-up helpers

const execFileAsync = promisify(execFile);

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
  const stops: (() => Promise<void>)[] = [];
  const veths: string[] = [];
  let ok = false;
  try {
    console.log(`berth networks bench — node ${process.version}, load average ${load()}`);
    console.log(`  berthd pid ${daemon.pid}, bridge ${daemon.bridge}, dir ${daemon.dir}`);
    await loadBusybox(api);
    await setupCost(api);
    await wiringSteps(api, daemon.bridge, veths);
    await publishedPorts(api, daemon.pid, stops);
    console.log(`\n  load average now ${load()}`);
    ok = true;
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    for (const veth of veths) await execFileAsync('ip', ['link', 'del', 'dev', veth]).catch(() => undefined);
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
    const { stdout } = await execFileAsync('ip', ['-br', 'link', 'show', daemon.bridge]).catch(() => ({
      stdout: '',
    }));
    if (stdout.trim() !== '') console.log(`  cleanup: bridge ${daemon.bridge} still there`);
    if (!ok) console.log(`berthd log tail:\n${daemon.logs.slice(-4000)}`);
  }
}

await main();
