import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BERTHD, TestDaemon } from '../../helpers/daemon.js';
import { api } from '../../helpers/http.js';
import { run } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/poll.js';

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** Daemons these tests start by hand must not set up host networking (they are refused before it anyway). */
const SAFE_NETWORK_FLAGS = ['--no-iptables', '--no-ip-forward', '--no-ip-masq', '--dns', '127.0.0.1'];

describe('daemon lifecycle', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await TestDaemon.start();
  });
  after(async () => {
    await daemon.cleanup();
  });

  it('writes its pid file and holds the data-root lock', async () => {
    assert.equal((await readFile(daemon.pidfile, 'utf8')).trim(), String(daemon.pid));
    const lock = await readFile(join(daemon.dataRoot, 'berthd.lock'), 'utf8');
    assert.match(lock, new RegExp(`^${daemon.pid} \\d+\\n$`));
  });

  it('refuses a second daemon on the same data root with a clear message', async () => {
    const res = await run(process.execPath, [
      BERTHD,
      '-H',
      `unix://${join(daemon.dir, 'second.sock')}`,
      '--data-root',
      daemon.dataRoot,
      '--exec-root',
      join(daemon.dir, 'exec2'),
      '--pidfile',
      join(daemon.dir, 'second.pid'),
      '--config-file',
      join(daemon.dir, 'daemon.json'),
      ...SAFE_NETWORK_FLAGS,
    ]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`data root .* is in use by another berthd \\(pid ${daemon.pid}\\)`));
    assert.equal((await api(daemon.socket, 'GET', '/_ping')).status, 200, 'the first daemon is untouched');
  });

  it('refuses a second daemon on the same socket', async () => {
    const res = await run(process.execPath, [
      BERTHD,
      '-H',
      daemon.host,
      '--data-root',
      join(daemon.dir, 'data2'),
      '--exec-root',
      join(daemon.dir, 'exec2'),
      '--pidfile',
      join(daemon.dir, 'second.pid'),
      '--config-file',
      join(daemon.dir, 'daemon.json'),
      ...SAFE_NETWORK_FLAGS,
    ]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /another daemon is already listening on/);
    assert.equal((await api(daemon.socket, 'GET', '/_ping')).status, 200);
  });

  it('refuses bad configuration before touching anything', async () => {
    const bad = join(daemon.dir, 'bad.json');
    await writeFile(bad, '{"data-root": "/elsewhere", "no-such-option": 1}');
    const res = await run(process.execPath, [
      BERTHD,
      '--config-file',
      bad,
      '-H',
      `unix://${join(daemon.dir, 'x.sock')}`,
    ]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /don't match any configuration option: no-such-option/);
    const both = join(daemon.dir, 'both.json');
    await writeFile(both, '{"data-root": "/a"}');
    const conflict = await run(process.execPath, [
      BERTHD,
      '--config-file',
      both,
      '--data-root',
      '/b',
      ...SAFE_NETWORK_FLAGS,
    ]);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /specified both as a flag and in the configuration file: data-root/);
  });

  it('listens on several sockets', async () => {
    const extra = join(daemon.dir, 'extra.sock');
    await daemon.stop('SIGTERM');
    const multi = await TestDaemon.start({ dir: daemon.dir, args: ['-H', `unix://${extra}`] });
    daemon = multi;
    // start() waits for the first socket; the others are bound right after it.
    await waitFor(async () => (await api(extra, 'GET', '/_ping').catch(() => undefined))?.status === 200, {
      timeoutMs: 10_000,
      what: 'the extra socket to answer',
    });
    assert.equal((await api(daemon.socket, 'GET', '/_ping')).status, 200);
  });

  it('shuts down gracefully on SIGTERM: open streams end, sockets, pid file and lock go', async () => {
    const { connected, ended } = awaitRequest(daemon.socket, '/events');
    await connected;
    const started = Date.now();
    assert.equal(await daemon.stop('SIGTERM'), 0);
    assert.ok(Date.now() - started < 10_000);
    await ended;
    assert.equal(await exists(daemon.socket), false);
    assert.equal(await exists(daemon.pidfile), false);
    assert.equal(await exists(join(daemon.dataRoot, 'berthd.lock')), false);
    await daemon.launch();
  });

  it('starts again after kill -9 (stale lock, pid file and socket)', async () => {
    const old = daemon.pid;
    await daemon.stop('SIGKILL');
    assert.equal(await exists(daemon.socket), true, 'a killed daemon leaves its socket');
    await daemon.launch();
    assert.notEqual(daemon.pid, old);
    assert.equal((await readFile(daemon.pidfile, 'utf8')).trim(), String(daemon.pid));
  });

  it('reloads its configuration file on SIGHUP', async () => {
    await writeFile(join(daemon.dir, 'daemon.json'), '{"labels": ["tier=test"]}');
    daemon.signal('SIGHUP');
    await waitFor(async () => {
      const info = JSON.parse((await api(daemon.socket, 'GET', '/info')).body) as { Labels: string[] };
      return info.Labels.includes('tier=test');
    });
    await writeFile(join(daemon.dir, 'daemon.json'), '{}\n');
  });
});

/**
 * A streaming GET from another process: `connected` once the response has
 * started (the daemon holds the stream), `ended` when the server ends it.
 */
function awaitRequest(socketPath: string, path: string): { connected: Promise<void>; ended: Promise<void> } {
  const child = spawn(process.execPath, [
    '-e',
    `require('http').get({socketPath:${JSON.stringify(socketPath)},path:${JSON.stringify(path)}},r=>{process.stdout.write('connected\\n');r.on('data',()=>{});r.on('end',()=>process.exit(0))}).on('error',()=>process.exit(3))`,
  ]);
  const ended = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`stream client exited ${code}`)),
    ),
  );
  const connected = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('connected')) resolve();
    });
    ended.then(() => reject(new Error('stream ended before it started')), reject);
  });
  return { connected, ended };
}
