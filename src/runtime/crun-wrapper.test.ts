import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupLayout, crunWrapperScript, writeCrunWrapper } from './crun-wrapper.js';

const HYBRID = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
25 22 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 25 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V2 = `22 1 0:21 / /sys rw - sysfs sysfs rw
25 22 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
`;
const V1 = `25 22 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
`;

describe('crun wrapper', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-crunw-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the cgroup layout from mountinfo', async () => {
    const mi = join(dir, 'mountinfo');
    await writeFile(mi, HYBRID);
    assert.equal((await cgroupLayout(mi)).mode, 'hybrid');
    await writeFile(mi, V2);
    assert.equal((await cgroupLayout(mi)).mode, 'v2');
    await writeFile(mi, V1);
    assert.deepEqual(await cgroupLayout(mi), { mode: 'v1', unifiedControllers: [] });
  });

  it('writes an executable script that unmounts unified and execs crun', async () => {
    const path = await writeCrunWrapper(join(dir, 'bin'), { crunPath: '/usr/bin/crun' });
    assert.equal(path, join(dir, 'bin', 'crun-hybrid'));
    assert.equal((await stat(path)).mode & 0o777, 0o755);
    const text = await readFile(path, 'utf8');
    assert.equal(text, crunWrapperScript('/usr/bin/crun'));
    assert.ok(text.startsWith('#!/bin/sh\n'));
    assert.match(
      text,
      /exec unshare --mount --propagation private sh -c 'umount \/sys\/fs\/cgroup\/unified && exec "\$0" "\$@"' \/usr\/bin\/crun "\$@"/,
    );
    // Rewriting is atomic and idempotent.
    assert.equal(await writeCrunWrapper(join(dir, 'bin'), { crunPath: '/usr/bin/crun' }), path);
  });

  it('quotes odd crun paths', () => {
    assert.match(crunWrapperScript("/opt/my crun/it's"), /'\/opt\/my crun\/it'\\''s' "\$@"/);
  });

  it(
    'runs crun through the wrapper on a hybrid host',
    { skip: process.getuid?.() !== 0 || !existsSync('/usr/bin/crun') ? 'needs root and crun' : false },
    async (t) => {
      const layout = await cgroupLayout();
      if (layout.mode !== 'hybrid') {
        t.skip('not a hybrid host');
        return;
      }
      const path = await writeCrunWrapper(join(dir, 'bin2'));
      const out = await new Promise<string>((resolve, reject) => {
        execFile(path, ['--version'], (err, stdout) =>
          err ? reject(new Error(err.message)) : resolve(stdout),
        );
      });
      assert.match(out, /^crun version /);
    },
  );
});
