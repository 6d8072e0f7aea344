/**
 * API benchmarks: round-trip latency of `/_ping` and `/version` against a real
 * berthd, and events fan-out (N subscribers over HTTP, M events/s published
 * into the engine's bus) with delivery latency. Prints medians; asserts
 * nothing (timings belong here, not in tests).
 *
 *   npm run bench                      # starts its own berthd (TestDaemon) on a temp socket
 *   node dist/bench/api.js --requests 2000 --subscribers 1,10,50 --rate 200
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';

import { ApiServer } from '../src/api/server.js';
import { allRoutes } from '../src/api/routes/index.js';
import { Engine } from '../src/engine/engine.js';
import { TestDaemon } from '../test/helpers/daemon.js';
import { silentLogger } from '../src/util/log.js';

const execFileAsync = promisify(execFile);
/** The bridge of the in-process engine of the fan-out part (removed after it, as TestDaemon removes its own). */
const FANOUT_BRIDGE = 'bthbench0';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    subscribers: { type: 'string', default: '1,10,50' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '3' },
  },
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

function get(socketPath: string, path: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

async function roundTrips(socketPath: string, n: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (const path of ['/_ping', '/version', '/info']) {
    for (let i = 0; i < 50; i++) await get(socketPath, path, agent);
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      await get(socketPath, path, agent);
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    console.log(
      `round-trip ${path.padEnd(9)} n=${n}  median ${median(samples).toFixed(3)} ms  p90 ${pct(samples, 0.9).toFixed(3)} ms`,
    );
  }
  agent.destroy();
}

/** N HTTP subscribers, events published at `rate`/s for `seconds`; measures publish→receive latency. */
async function fanOut(dir: string, subscribers: number, rate: number, seconds: number): Promise<void> {
  const root = join(dir, `fanout-${subscribers}`);
  const engine = await Engine.start(
    {
      dataRoot: join(root, 'data'),
      execRoot: join(root, 'exec'),
      runtimes: {},
      defaultRuntime: undefined,
      conmonPath: 'conmon',
      cgroupParent: '/berthbench',
      network: {
        bridgeName: FANOUT_BRIDGE,
        bip: undefined,
        pools: [],
        iptables: false,
        ipMasq: false,
        ipForward: false,
        dns: ['127.0.0.1'],
      },
      logLevel: 'warn',
      labels: [],
      experimental: false,
      debug: false,
      liveRestore: true,
      insecureRegistries: [],
      registryMirrors: [],
      eventsRetentionAgeMs: 3_600_000,
      eventsRetentionBytes: 64 * 1024 * 1024,
    },
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

  const latencies: number[] = [];
  let received = 0;
  const sentAt = new Map<string, bigint>();
  const clients = await Promise.all(
    Array.from(
      { length: subscribers },
      () =>
        new Promise<() => void>((resolve) => {
          const req = request(
            { socketPath: socket, path: `/events?filters=${encodeURIComponent('{"type":["container"]}')}` },
            (res) => {
              let buf = '';
              res.on('data', (d: Buffer) => {
                const now = process.hrtime.bigint();
                buf += d.toString();
                let nl: number;
                while ((nl = buf.indexOf('\n')) !== -1) {
                  const line = buf.slice(0, nl);
                  buf = buf.slice(nl + 1);
                  const id = /"id":"([^"]+)"/.exec(line)?.[1];
                  const t = id === undefined ? undefined : sentAt.get(id);
                  if (t !== undefined) latencies.push(Number(now - t) / 1e6);
                  received++;
                }
              });
              resolve(() => req.destroy());
            },
          );
          req.on('error', () => undefined);
          req.end();
        }),
    ),
  );
  while (engine.events.subscriberCount < subscribers) await new Promise((r) => setTimeout(r, 10));

  const total = rate * seconds;
  const cpuBefore = process.cpuUsage();
  const started = Date.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `bench-${i}`;
    sentAt.set(id, process.hrtime.bigint());
    engine.events.publish({
      Type: 'container',
      Action: 'start',
      Actor: { ID: id, Attributes: { name: id, image: 'bench' } },
    });
  }
  const deadline = Date.now() + 5000;
  while (received < total * subscribers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const cpu = process.cpuUsage(cpuBefore);
  const wall = (Date.now() - started) / 1000;
  console.log(
    `fan-out subscribers=${String(subscribers).padStart(3)} rate=${rate}/s  delivered ${received}/${total * subscribers}` +
      `  latency median ${median(latencies).toFixed(3)} ms p90 ${pct(latencies, 0.9).toFixed(3)} ms` +
      `  process CPU ${(((cpu.user + cpu.system) / 1e6 / wall) * 100).toFixed(1)}% (daemon and clients share it)`,
  );
  for (const close of clients) close();
  await server.close(1000);
  await engine.stop();
  await execFileAsync('ip', ['link', 'del', FANOUT_BRIDGE]).catch(() => undefined);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  try {
    console.log(`berth API bench — node ${process.version}`);
    // A private bridge, no NAT, no ip_forward, and everything removed after (TestDaemon's settings).
    const daemon = await TestDaemon.start({ args: ['--log-level', 'warn'] });
    try {
      await roundTrips(daemon.socket, Number(values.requests));
    } finally {
      await daemon.cleanup();
    }
    for (const n of (values.subscribers ?? '1').split(',').map(Number)) {
      await fanOut(dir, n, Number(values.rate), Number(values.seconds));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
