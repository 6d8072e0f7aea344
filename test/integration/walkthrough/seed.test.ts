import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { BERTH, TestDaemon } from '../../helpers/daemon.js';
import { berth, docker, DOCKER } from '../../helpers/cli.js';
import { busyboxImage, HELLO_GREETING, helloWorldImage } from '../../helpers/images.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { pushFixture } from '../../helpers/registry-push.js';
import { waitFor } from '../../helpers/poll.js';

/** A background `events` watcher whose output is collected until it is stopped by PID. */
class Watcher {
  readonly child: ChildProcess;
  output = '';
  constructor(command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
  }
  lines(): string[] {
    return this.output.split('\n').filter((l) => l.trim() !== '');
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Type+action of each watched event line in docker's default format. */
function actions(lines: string[]): string[] {
  return lines.map((l) => l.split(' ').slice(1, 3).join(' '));
}

const SEED_ORDER = [
  'image pull',
  'container create',
  'container attach',
  'network connect',
  'container start',
  'container die',
  'network disconnect',
];

describe("the seed's walk-through: docker version, events, run hello-world, stats", () => {
  let registry: TestRegistry;
  let daemon: TestDaemon;

  before(async () => {
    registry = await startRegistry();
    await pushFixture(registry.host, 'library/hello-world', 'latest', await helloWorldImage());
    await pushFixture(registry.host, 'library/busybox', 'latest', await busyboxImage());
    // docker.io pulls go to the local registry, as to any mirror.
    daemon = await TestDaemon.start({ args: ['--registry-mirror', `http://${registry.host}`] });
  });
  after(async () => {
    for (const name of ['hello-seed', 'sleeper-seed', 'hello-berth']) {
      await docker(daemon.host, ['rm', '-f', name]).catch(() => undefined);
    }
    await daemon?.cleanup();
    await registry?.stop();
  });

  for (const client of ['docker', 'berth'] as const) {
    it(`follows the seed with the ${client} CLI`, async () => {
      const run = client === 'docker' ? docker : berth;
      const env =
        client === 'docker' ? { DOCKER_HOST: daemon.host } : { BERTH_HOST: daemon.host, DOCKER_HOST: '' };
      const command = client === 'docker' ? DOCKER : process.execPath;
      const prefix = client === 'docker' ? [] : [BERTH];
      const name = client === 'docker' ? 'hello-seed' : 'hello-berth';

      const version = await run(daemon.host, ['version']);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^Server: berth Engine$/m);

      if (client === 'berth') await docker(daemon.host, ['rmi', '-f', 'hello-world']);
      const imageEvents = new Watcher(command, [...prefix, 'events', '--filter', 'type=image'], env);
      const allEvents = new Watcher(command, [...prefix, 'events'], env);
      await waitFor(async () => {
        const info = await docker(daemon.host, ['info', '--format', '{{.NEventsListener}}']);
        return info.stdout.trim() === '2';
      });
      try {
        const hello = await run(daemon.host, ['run', '--name', name, 'hello-world']);
        assert.equal(hello.code, 0, hello.stderr);
        assert.ok(hello.stdout.includes(HELLO_GREETING), hello.stdout);

        await waitFor(() => allEvents.lines().some((l) => / network disconnect /.test(l)), {
          what: 'network disconnect',
        });
        await waitFor(() => imageEvents.lines().some((l) => / image pull /.test(l)), {
          what: 'the image pull event',
        });
      } finally {
        await imageEvents.stop();
        await allEvents.stop();
      }

      assert.deepEqual(actions(imageEvents.lines()), ['image pull']);
      assert.match(imageEvents.lines()[0] ?? '', / image pull hello-world:latest \(name=hello-world\)$/);

      const seen = actions(allEvents.lines()).filter((a) => SEED_ORDER.includes(a));
      assert.deepEqual(seen, SEED_ORDER, allEvents.output);
      const line = (what: string): string => allEvents.lines().find((l) => l.includes(` ${what} `)) ?? '';
      assert.match(line('container create'), new RegExp(`\\(image=hello-world, name=${name}\\)$`));
      assert.match(line('container die'), /exitCode=0/);
      assert.match(line('container die'), /image=hello-world/);
      assert.match(line('network connect'), /\(container=[0-9a-f]{64}, name=bridge, type=bridge\)$/);
      assert.match(line('network disconnect'), /\(container=[0-9a-f]{64}, name=bridge, type=bridge\)$/);

      const sleeper = await run(daemon.host, [
        'run',
        '-d',
        '--name',
        `sleeper-${client === 'docker' ? 'seed' : 'berth'}`,
        'busybox',
        'sleep',
        '600',
      ]);
      assert.equal(sleeper.code, 0, sleeper.stderr);
      const stats = await run(daemon.host, ['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}']);
      assert.equal(stats.code, 0, stats.stderr);
      const row = stats.stdout.split('\n').find((l) => l.startsWith('sleeper-'));
      assert.ok(row, stats.stdout);
      assert.doesNotMatch(row, / 0B \/ /, 'memory usage is not zero');
      await run(daemon.host, ['rm', '-f', `sleeper-${client === 'docker' ? 'seed' : 'berth'}`]);
    });
  }
});
