/**
 * `berth stats` in process against a daemon of fixtures: the API server
 * with the stats routes over a StatsService reading the recorded v1 cgroup
 * (test/fixtures/cgroups/v1). Needs no root, no runtime.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { Command } from 'commander';

import { sendJson, sendText } from '../../../src/api/respond.js';
import { statsRoutes } from '../../../src/api/routes/stats.js';
import type { Route } from '../../../src/api/router.js';
import { ApiServer } from '../../../src/api/server.js';
import { registerStats } from '../../../src/cli/commands/stats.js';
import type { CliContext } from '../../../src/cli/context.js';
import { BerthClient } from '../../../src/client/client.js';
import { StatsService, type StatsTarget } from '../../../src/engine/stats/sampler.js';
import { NotFoundError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/util/log.js';

const ID = '4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70a';
const FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/cgroups/v1', import.meta.url));

/** Collects what a command writes. */
class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('berth stats against a daemon', () => {
  let dir = '';
  let socket = '';
  let server: ApiServer;
  let stats: StatsService;
  const target: StatsTarget = { id: ID, name: '/web', running: true, pid: 22534, cgroupPath: `/berth/${ID}` };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-stats-cli-'));
    await cp(FIXTURE, join(dir, 'host'), { recursive: true });
    socket = join(dir, 'api.sock');
    stats = new StatsService({
      listRunning: () => [target],
      lookup: (id) => (id === ID ? target : undefined),
      cgroupRoot: join(dir, 'host/cgroup'),
      procRoot: join(dir, 'host/proc'),
      warmupMs: 5,
    });
    await stats.sampleBackground();
    const lookup = (ref: string): { id: string } => {
      if (ref === 'web' || ID.startsWith(ref)) return { id: ID };
      throw new NotFoundError(`No such container: ${ref}`);
    };
    const routes: Route[] = [
      { method: 'GET', path: '/_ping', handler: (ctx) => sendText(ctx.res, 200, 'OK') },
      { method: 'GET', path: '/containers/json', handler: (ctx) => sendJson(ctx.res, 200, [{ Id: ID }]) },
      ...statsRoutes(stats, lookup),
    ];
    server = new ApiServer({
      routes,
      logger: silentLogger(),
      serverHeader: 'berth/test',
      experimental: false,
    });
    await server.listen({ kind: 'unix', path: socket });
  });

  after(async () => {
    stats.close();
    await server.close(1000);
    await rm(dir, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<{ out: string; err: unknown }> {
    const out = new Sink();
    const client = new BerthClient(`unix://${socket}`);
    const ctx: CliContext = { client: () => client, out, err: new Sink() };
    const program = new Command('berth').exitOverride();
    registerStats(program, ctx);
    try {
      await program.parseAsync(['node', 'berth', ...args]);
      return { out: out.text, err: undefined };
    } catch (err) {
      return { out: out.text, err };
    }
  }

  it('--no-stream prints one table of the running containers', async () => {
    const { out, err } = await run(['stats', '--no-stream']);
    assert.equal(err, undefined);
    const lines = out.split('\n');
    assert.match(lines[0] ?? '', /^CONTAINER ID {3}NAME {6}CPU % {5}MEM USAGE \/ LIMIT {3}MEM % {5}NET I\/O/);
    assert.match(
      lines[1] ?? '',
      /^4f1c2b3a5d6e {3}web {7}\d+\.\d\d% {3,}16\.39MiB \/ 256MiB {3}6\.40% {5}9\.34kB \/ 1\.79kB/,
    );
    assert.equal(lines.length, 3);
  });

  it('takes container names and --format', async () => {
    const { out, err } = await run(['stats', '--no-stream', '--format', '{{json .}}', 'web']);
    assert.equal(err, undefined);
    const row = JSON.parse(out) as Record<string, string>;
    assert.equal(row['Container'], 'web');
    assert.equal(row['Name'], 'web');
    assert.equal(row['PIDs'], '3');
  });

  it("fails with the daemon's message for an unknown container", async () => {
    const { err } = await run(['stats', '--no-stream', 'web', 'nope']);
    assert.match((err as Error).message, /^Error response from daemon: No such container: nope$/);
  });

  it('--history draws sparklines from the history endpoint', async () => {
    await stats.sampleBackground();
    const { out, err } = await run(['stats', '--history', 'web']);
    assert.equal(err, undefined);
    assert.match(out, /^web \(4f1c2b3a5d6e\): \d+ samples over \d+s\nCPU % {3}[▁-█]+ {2}/);
  });
});
