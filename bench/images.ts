/**
 * Image benchmarks: throughput of pull (from a local `docker-registry`), load
 * and save of a ~200 MB multi-layer image against a real berthd, each next to
 * the physical floor measured on the same machine with standard tools:
 *
 * - pull floor: fetching the blobs from the registry into /dev/null (Node
 *   fetch, all layers at once) + `gzip -dc` of the same blobs (from the
 *   registry's storage) into /dev/null + `tar -xf` of the uncompressed layers
 *   into a temp dir followed by `sync -f` (berth makes layers durable before
 *   committing them, so the floor pays for that too);
 * - load floor: `cat` of the docker-save tarball into /dev/null + the same
 *   `tar -xf` + `sync -f`;
 * - save floor: `tar -cf -` of the unpacked layer dirs, piped into /dev/null.
 *
 * The archive of load and save travels through `curl` (`--client curl`, the
 * default when it is installed): the client shares the two cores with
 * berthd, and the leanest standard client takes the least from them (a Node
 * client costs berth about 60 ms of a 200 MB load here). `--client node`
 * sends it from this process. The same load and save through the docker CLI
 * (`docker load -q -i`, `docker save`, start-up included) are printed
 * beside them for reference.
 *
 * Every berth figure is the median of `--runs` runs (the tools' of at least
 * 5, as they are quick and noisy); pull and load start from a fresh data
 * root (a new berthd) each time. Throughput is in MB (10^6 bytes) of what
 * goes over the wire: compressed blobs for pull, the archive for load and
 * save. Prints `berth / floor` and whether it is within the issue's target
 * of 1.5x. Asserts nothing.
 *
 *   npm run bench:images
 *   node dist/bench/images.js --runs 3 --layers 4 --layer-mb 50 [--client node]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { TestDaemon } from '../test/helpers/daemon.js';
import {
  bigLayer,
  buildImage,
  busyboxRootfsLayer,
  digestHex,
  dockerSaveTarball,
  type FixtureImage,
} from '../test/helpers/images.js';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { pushFixture } from '../test/helpers/registry-push.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    layers: { type: 'string', default: '4' },
    'layer-mb': { type: 'string', default: '50' },
    client: { type: 'string' },
  },
});

const RUNS = Math.max(1, Number(values.runs));
const LAYERS = Math.max(1, Number(values.layers));
const LAYER_BYTES = Math.round(Number(values['layer-mb']) * 1e6);
/** The tools are cheap to time and noisy on a shared machine: a few more runs. */
const FLOOR_RUNS = Math.max(RUNS, 5);
const TARGET = 1.5;
const CLIENT = values.client ?? (hasTool('curl') ? 'curl' : 'node');
if (CLIENT !== 'curl' && CLIENT !== 'node') throw new Error(`--client: curl or node, not ${CLIENT}`);

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const REPO = 'bench/big';
const TAG = 'v1';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};
const secs = (ns: bigint): number => Number(ns) / 1e9;
const mbps = (bytes: number, seconds: number): string => `${(bytes / 1e6 / seconds).toFixed(1)} MB/s`;
const fmt = (s: number): string => `${s.toFixed(2)} s`;

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return secs(process.hrtime.bigint() - start);
}

/** Runs a shell command line with positional arguments; rejects on failure. */
function sh(script: string, args: string[] = []): Promise<void> {
  return run('sh', ['-c', script, 'sh', ...args]).then(() => undefined);
}

interface Response {
  status: number;
  /** The body as text (`keepBody`), else empty. */
  body: string;
  bytes: number;
}

/** One request over the daemon socket, the body optionally streamed from a file; reads the response to the end. */
function call(
  socketPath: string,
  method: string,
  path: string,
  options: { file?: string; keepBody?: boolean } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        // A sized body read in 1 MiB pieces, as an efficient client sends it: the client shares
        // the two cores with berthd, and chunked 64 KiB pieces cost it (not berth) CPU.
        headers: options.file
          ? { 'content-type': 'application/x-tar', 'content-length': String(statSync(options.file).size) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          bytes += d.length;
          if (options.keepBody) chunks.push(d);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), bytes }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.file)
      createReadStream(options.file, { highWaterMark: 1 << 20 })
        .on('error', reject)
        .pipe(req);
    else req.end();
  });
}

/** Runs a program to its end; resolves with its stdout, rejects on failure. */
function run(program: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${program} ${args.join(' ')}: exit ${code}: ${stderr}`)),
    );
  });
}

/**
 * The request of {@link call} made by curl: the body uploaded from `file`,
 * the response body kept (`keepBody`) or sent to /dev/null and counted.
 */
async function curlCall(
  socketPath: string,
  method: string,
  path: string,
  options: { file?: string; keepBody?: boolean } = {},
): Promise<Response> {
  const args = ['-sS', '--unix-socket', socketPath, '-X', method, '-w', '\n%{http_code} %{size_download}'];
  if (options.file) args.push('-H', 'Content-Type: application/x-tar', '-T', options.file);
  if (!options.keepBody) args.push('-o', '/dev/null');
  const out = await run('curl', [...args, `http://localhost${path}`]);
  const cut = out.lastIndexOf('\n');
  const [status, bytes] = out
    .slice(cut + 1)
    .split(' ')
    .map(Number);
  return { status: status ?? 0, body: options.keepBody ? out.slice(0, cut) : '', bytes: bytes ?? 0 };
}

/** Load and save requests go through the chosen client; the rest through {@link call}. */
const transfer = (...a: Parameters<typeof call>): Promise<Response> =>
  CLIENT === 'curl' ? curlCall(...a) : call(...a);

function startDaemon(): Promise<TestDaemon> {
  return TestDaemon.start({ args: ['--log-level', 'warn'] });
}

interface Figure {
  name: string;
  bytes: number;
  berth: number[];
  floorParts: [string, number][];
}

const floorOf = (parts: [string, number][]): number => parts.reduce((n, [, s]) => n + s, 0);

function report(f: Figure): boolean {
  const berth = median(f.berth);
  const floor = floorOf(f.floorParts);
  const ratio = berth / floor;
  const ok = ratio <= TARGET;
  console.log(
    `${f.name.padEnd(5)} berth ${mbps(f.bytes, berth).padStart(11)}  median ${fmt(berth)} of ${f.berth.map(fmt).join(', ')}`,
  );
  console.log(
    `      floor ${mbps(f.bytes, floor).padStart(11)}  ${f.floorParts.map(([what, s]) => `${what} ${fmt(s)}`).join(' + ')} = ${fmt(floor)}`,
  );
  console.log(
    `      berth / floor = ${ratio.toFixed(2)}  ${ok ? 'meets' : 'MISSES'} the target (within ${TARGET}x of the floor)`,
  );
  return ok;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-images-'));
  let registry: TestRegistry | undefined;
  const daemons = new Set<TestDaemon>();
  const fresh = async (): Promise<TestDaemon> => {
    const d = await startDaemon();
    daemons.add(d);
    return d;
  };
  const drop = async (d: TestDaemon): Promise<void> => {
    daemons.delete(d);
    await d.cleanup();
  };
  try {
    // ---- fixture: busybox + LAYERS random layers, gzip'ed; pushed to a local registry
    const started = process.hrtime.bigint();
    const layers = [await busyboxRootfsLayer()];
    for (let i = 0; i < LAYERS; i++) layers.push(await bigLayer(LAYER_BYTES, `bench-${i}`));
    const image: FixtureImage = await buildImage({ layers });
    const compressed = image.layers.reduce((n, l) => n + l.size, 0) + image.config.length;
    const uncompressed = image.layers.reduce((n, l) => n + l.uncompressed.length, 0);
    registry = await startRegistry();
    await pushFixture(registry.host, REPO, TAG, image);
    const tarball = join(work, 'image.tar');
    await writeFile(tarball, await dockerSaveTarball([{ image, repoTags: [`${REPO}:${TAG}`] }]));
    const tarballBytes = (await stat(tarball)).size;
    const layerTars: string[] = [];
    for (const [i, l] of image.layers.entries()) {
      const p = join(work, `layer-${i}.tar`);
      await writeFile(p, l.uncompressed);
      layerTars.push(p);
    }
    const blobPaths = image.layers.map((l) => {
      const hex = digestHex(l.digest);
      return join(registry?.dir ?? '', 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    });
    for (const p of blobPaths) await stat(p); // the registry's storage layout is what we think
    // The fixture's ~600 MB of fresh files would otherwise be written back during the first runs.
    await sh('sync');
    console.log(
      `berth image bench — node ${process.version}, ${availableParallelism()} CPUs; ` +
        `medians of ${RUNS} runs for berth, of ${FLOOR_RUNS} for the tools; load and save through ${CLIENT}; ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}` +
        `\nimage: busybox + ${LAYERS} x ${(LAYER_BYTES / 1e6).toFixed(0)} MB random layers; ` +
        `blobs ${(compressed / 1e6).toFixed(1)} MB gzip, layers ${(uncompressed / 1e6).toFixed(1)} MB tar, ` +
        `docker-save tarball ${(tarballBytes / 1e6).toFixed(1)} MB (fixture ready in ${fmt(secs(process.hrtime.bigint() - started))})\n`,
    );

    // ---- berth: pull, fresh data root each run
    const pullRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const daemon = await fresh();
      let res: Response | undefined;
      const path = `/images/create?fromImage=${encodeURIComponent(`${registry.host}/${REPO}`)}&tag=${TAG}`;
      pullRuns.push(
        await timed(async () => {
          res = await call(daemon.socket, 'POST', path, { keepBody: true });
        }),
      );
      if (
        res?.status !== 200 ||
        !res.body.includes('Status: Downloaded newer image') ||
        res.body.includes('"error"')
      )
        throw new Error(`pull failed: ${res?.status} ${res?.body.slice(-500)}`);
      await drop(daemon);
    }

    // ---- berth: load, fresh data root each run; save from the last one
    const loadRuns: number[] = [];
    let loaded: TestDaemon | undefined;
    for (let i = 0; i < RUNS; i++) {
      const daemon = await fresh();
      let res: Response | undefined;
      loadRuns.push(
        await timed(async () => {
          res = await transfer(daemon.socket, 'POST', '/images/load?quiet=1', {
            file: tarball,
            keepBody: true,
          });
        }),
      );
      if (res?.status !== 200 || !res.body.includes(`Loaded image: ${REPO}:${TAG}`))
        throw new Error(`load failed: ${res?.status} ${res?.body.slice(-500)}`);
      if (i < RUNS - 1) await drop(daemon);
      else loaded = daemon;
    }
    const saveRuns: number[] = [];
    let saveBytes = 0;
    for (let i = 0; i < RUNS && loaded; i++) {
      let res: Response | undefined;
      const daemon = loaded;
      saveRuns.push(
        await timed(async () => {
          res = await transfer(daemon.socket, 'GET', `/images/${REPO}:${TAG}/get`);
        }),
      );
      if (res?.status !== 200 || res.bytes < uncompressed) throw new Error(`save failed: ${res?.status}`);
      saveBytes = res.bytes;
    }
    if (loaded) await drop(loaded);

    // ---- the same load and save through the docker CLI (its start-up included), for reference
    const dockerLoadRuns: number[] = [];
    const dockerSaveRuns: number[] = [];
    const withDocker = hasTool('docker');
    for (let i = 0; i < RUNS && withDocker; i++) {
      const daemon = await fresh();
      const host = `unix://${daemon.socket}`;
      let out = '';
      dockerLoadRuns.push(
        await timed(async () => {
          out = await run('docker', ['-H', host, 'load', '-q', '-i', tarball]);
        }),
      );
      if (!out.includes(`Loaded image: ${REPO}:${TAG}`)) throw new Error(`docker load: ${out}`);
      // To /dev/null through the shell: `docker save -o` would rename a temp file over it.
      dockerSaveRuns.push(
        await timed(() => sh('docker -H "$1" save "$2" > /dev/null', [host, `${REPO}:${TAG}`])),
      );
      await drop(daemon);
    }

    // ---- floors, with standard tools (median of RUNS each)
    const fetchRuns: number[] = [];
    const gunzipRuns: number[] = [];
    const untarRuns: number[] = [];
    const syncRuns: number[] = [];
    const catRuns: number[] = [];
    const tarCreateRuns: number[] = [];
    const hashBlobRuns: number[] = [];
    const hashLayerRuns: number[] = [];
    for (let i = 0; i < FLOOR_RUNS; i++) {
      const host = registry.host;
      fetchRuns.push(
        await timed(async () => {
          await Promise.all(
            image.layers.map(async (l) => {
              const res = await fetch(`http://${host}/v2/${REPO}/blobs/${l.digest}`);
              if (!res.ok || !res.body) throw new Error(`fetch ${l.digest}: ${res.status}`);
              let n = 0;
              for await (const chunk of res.body) n += (chunk as Uint8Array).byteLength;
              if (n !== l.size) throw new Error(`fetch ${l.digest}: ${n} bytes, expected ${l.size}`);
            }),
          );
        }),
      );
      gunzipRuns.push(
        await timed(async () => {
          for (const p of blobPaths) await sh('gzip -dc "$1" > /dev/null', [p]);
        }),
      );
      const dest = join(work, `untar-${i}`);
      const dirs = layerTars.map((_, j) => join(dest, String(j)));
      for (const d of dirs) await mkdir(d, { recursive: true });
      untarRuns.push(
        await timed(async () => {
          for (const [j, p] of layerTars.entries()) await sh('tar -xf "$1" -C "$2"', [p, dirs[j] ?? '']);
        }),
      );
      syncRuns.push(await timed(() => sh('sync -f "$1"', [dest])));
      catRuns.push(await timed(() => sh('cat "$1" > /dev/null', [tarball])));
      tarCreateRuns.push(
        await timed(async () => {
          for (const d of dirs) await sh('tar -cf - -C "$1" . | cat > /dev/null', [d]);
        }),
      );
      hashBlobRuns.push(await timed(() => sh('sha256sum "$@" > /dev/null', blobPaths)));
      hashLayerRuns.push(await timed(() => sh('sha256sum "$@" > /dev/null', layerTars)));
      await rm(dest, { recursive: true, force: true });
    }
    const untar = median(untarRuns);
    const sync = median(syncRuns);
    const loadFloor: [string, number][] = [
      ['cat', median(catRuns)],
      ['tar -xf', untar],
      ['sync -f', sync],
    ];
    const saveFloor: [string, number][] = [['tar -cf', median(tarCreateRuns)]];

    const results = [
      report({
        name: 'pull',
        bytes: compressed,
        berth: pullRuns,
        floorParts: [
          ['fetch', median(fetchRuns)],
          ['gzip -dc', median(gunzipRuns)],
          ['tar -xf', untar],
          ['sync -f', sync],
        ],
      }),
      report({
        name: 'load',
        bytes: tarballBytes,
        berth: loadRuns,
        floorParts: loadFloor,
      }),
      report({
        name: 'save',
        bytes: saveBytes,
        berth: saveRuns,
        floorParts: saveFloor,
      }),
    ];
    if (dockerLoadRuns.length > 0) {
      const [l, s] = [median(dockerLoadRuns), median(dockerSaveRuns)];
      console.log(
        `\nthrough the docker CLI (start-up included): load median ${fmt(l)} (${(l / floorOf(loadFloor)).toFixed(2)}x the floor), ` +
          `save median ${fmt(s)} (${(s / floorOf(saveFloor)).toFixed(2)}x)`,
      );
    }
    console.log(
      `${dockerLoadRuns.length > 0 ? '' : '\n'}not in the floors: sha256sum of the blobs ${fmt(median(hashBlobRuns))}, of the layer tars ` +
        `${fmt(median(hashLayerRuns))} (berth verifies blob digests and diff IDs; the tools do not)`,
    );
    console.log(
      `${results.filter(Boolean).length} of ${results.length} figures within ${TARGET}x of the floor` +
        ` (total ${fmt(secs(process.hrtime.bigint() - started))})`,
    );
  } finally {
    for (const d of daemons) await d.cleanup().catch(() => undefined);
    await registry?.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
