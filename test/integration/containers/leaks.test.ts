// Repeated container cycles on a daemon of this file's own, then a check
// that nothing of the removed containers is left: overlay mounts, conmon
// processes, cgroup directories; and that the daemon does not keep
// connections of finished execs open.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { docker } from '../../helpers/cli.js';
import {
  containerIds,
  dockerOk,
  findLeaks,
  leakCheck,
  socketFds,
  startContainerDaemon,
  teardown,
} from '../../helpers/containers.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/poll.js';

const CYCLES = 10;

describe('no leaks after container cycles', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startContainerDaemon();
  });
  after(async () => {
    await teardown(daemon);
  });

  it(`${CYCLES} cycles of run -d sleep + rm -f`, async () => {
    for (let i = 0; i < CYCLES; i++) {
      const id = (await dockerOk(daemon, ['run', '-d', 'busybox', 'sleep', '1000'])).stdout.trim();
      // While it runs, its mount, conmon and cgroups exist and are not reported.
      assert.deepEqual(await findLeaks(daemon, [id]), []);
      if (i === 0) {
        // The check sees a running container's mount, conmon and cgroups when it is not told about it.
        const seen = await findLeaks(daemon, []);
        assert.ok(
          seen.some((l) => l.startsWith('overlay mount ') && l.includes(id)),
          seen.join('\n'),
        );
        assert.ok(
          seen.some((l) => l.startsWith('conmon pid ') && l.includes(id)),
          seen.join('\n'),
        );
        for (const hierarchy of ['memory', 'pids', 'freezer', 'unified']) {
          assert.ok(
            seen.some((l) => l.startsWith(`cgroup dir /sys/fs/cgroup/${hierarchy}/`) && l.endsWith(id)),
            `${hierarchy}: ${seen.join('\n')}`,
          );
        }
      }
      assert.equal((await dockerOk(daemon, ['rm', '-f', id])).stdout.trim(), id);
    }
    assert.deepEqual(await containerIds(daemon), []);
    await leakCheck(daemon);
  });

  it(`${CYCLES} cycles of run --rm true`, async () => {
    for (let i = 0; i < CYCLES; i++) {
      const res = await docker(daemon.host, ['run', '--rm', 'busybox', 'true']);
      assert.equal(res.code, 0, res.stderr);
    }
    assert.deepEqual(await containerIds(daemon), []);
    await leakCheck(daemon);
  });

  it('a failed start and a removed created container leave nothing', async () => {
    const failed = await docker(daemon.host, ['run', '--name', 'leak-failed', 'busybox', 'nosuchbinary']);
    assert.equal(failed.code, 127, failed.stderr);
    await dockerOk(daemon, ['create', '--name', 'leak-created', 'busybox', 'true']);
    await dockerOk(daemon, ['rm', 'leak-failed', 'leak-created']);
    await leakCheck(daemon);
  });

  it('the daemon keeps no connection open after docker exec ends', async () => {
    await dockerOk(daemon, ['run', '-d', '--name', 'leak-exec', 'busybox', 'sleep', '1000']);
    const baseline = (await socketFds(daemon.pid)).length;
    for (let i = 0; i < 5; i++) await dockerOk(daemon, ['exec', 'leak-exec', 'true']);
    let now = 0;
    await waitFor(
      async () => {
        now = (await socketFds(daemon.pid)).length;
        return now <= baseline;
      },
      { timeoutMs: 3000, what: 'exec connections to close' },
    ).catch(() => undefined);
    await dockerOk(daemon, ['rm', '-f', 'leak-exec']);
    assert.ok(now <= baseline, `the daemon had ${baseline} sockets before 5 execs and ${now} after`);
  });

  it('nothing is left after all of the above', async () => {
    await leakCheck(daemon);
  });
});
